# Which JVM runs nbdvault. Sourced (not run) by ./nbdvault and the benchmark scripts, so that what
# is measured is what a user runs.
#
# nbdvault_java sets
#   NBDVAULT_JAVA        the java command
#   NBDVAULT_JAVA_MAJOR  its feature release (25 for 25.0.3), 0 when unknown
# choosing, in order:
#   1. $JAVA_HOME/bin/java when JAVA_HOME is set: the user's choice, whatever its release;
#   2. otherwise the newest JDK of release 17 or later (the build's target) among `java` on PATH and
#      the JDKs installed under /usr/lib/jvm (or the colon-separated NBDVAULT_JVM_DIRS), `java` on
#      PATH winning a tie. Newer JDKs run AES-XTS faster: JDK 25 computes its tweak masks with the
#      Vector API and its AES intrinsics keep pace with OpenSSL, where JDK 17 reaches 0.8-0.9x;
#   3. `java` on PATH, when nothing above qualifies (it then fails or runs as it would without us).
# A JDK's release is read from its `release` file, which every OpenJDK build carries, rather than by
# starting each JVM.

# The feature release of the JDK whose java command is $1 (0 when it has no release file).
nbdvault_java_major() {
  local home release
  home=$(dirname "$(dirname "$(readlink -f "$1")")")
  release=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release" 2>/dev/null || true)
  echo "${release:-0}"
}

nbdvault_java() {
  if [ -n "${JAVA_HOME:-}" ]; then
    NBDVAULT_JAVA=$JAVA_HOME/bin/java
    NBDVAULT_JAVA_MAJOR=$(nbdvault_java_major "$NBDVAULT_JAVA")
    return
  fi
  local best="" best_major=0 candidate major dir
  local -a candidates=() dirs=()
  if candidate=$(command -v java); then candidates+=("$candidate"); fi
  IFS=: read -ra dirs <<< "${NBDVAULT_JVM_DIRS:-/usr/lib/jvm}"
  for dir in "${dirs[@]}"; do
    for candidate in "$dir"/*/bin/java; do
      if [ -x "$candidate" ]; then candidates+=("$candidate"); fi
    done
  done
  for candidate in "${candidates[@]}"; do
    major=$(nbdvault_java_major "$candidate")
    if [ "$major" -ge 17 ] && [ "$major" -gt "$best_major" ]; then
      best=$candidate best_major=$major
    fi
  done
  NBDVAULT_JAVA=${best:-java}
  NBDVAULT_JAVA_MAJOR=$best_major
  if [ -z "$best" ] && command -v java >/dev/null; then
    NBDVAULT_JAVA_MAJOR=$(nbdvault_java_major "$(command -v java)")
  fi
}
