# Helpers for the guest scripts (sourced; the test copies this file next to `nbdvault` in the share).
# The scripts run as root in a user-mode-linux guest started by scripts/kernel-run.sh.
set -euo pipefail
. ./env
NBDVAULT=$SHARE/nbdvault
export PATH=$SHARE:$PATH

# step NAME: a line in the log, so a failure shows where the script was.
step() { echo "=== $(cut -d' ' -f1 /proc/uptime)s: $*"; }

# result NAME VALUE: a file the Java test reads.
result() { printf '%s\n' "$2" > "$SHARE/$1"; }

# await_log FILE TEXT SECONDS [PID]: wait until FILE contains TEXT (fails early if PID dies).
await_log() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
      echo "process $4 exited before logging '$2':"; cat "$1"; return 1
    fi
    sleep 0.1
  done
  echo "no '$2' in $1 after $3 s:"; cat "$1"; return 1
}

# await_exit PID SECONDS: wait for a background job of this shell; its exit status goes to $status
# ("timeout" if it is still running).
await_exit() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if ! kill -0 "$1" 2>/dev/null || [ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" = Z ]; then
      status=0; wait "$1" || status=$?; return 0
    fi
    sleep 0.1
  done
  status=timeout
}

# tree_sums DIR: one checksum line per file, sorted, paths relative to DIR.
tree_sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

modprobe nbd nbds_max=4
