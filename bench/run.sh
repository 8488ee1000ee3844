#!/usr/bin/env bash
# nbdvault's benchmarks in one command: AES-XTS per core (JMH) beside the JDK's AES/ECB and
# `openssl speed -evp aes-256-xts`, then the fio comparisons (bench/fio/*.sh) against nbdkit and
# qemu-storage-daemon. Peers are measured in the same run, interleaved with ours, and every figure
# is the median over the repetitions. Writes
#   bench/results/<UTC date and time>/   raw JSON (JMH, fio), openssl.txt, env.txt, summary.md, *.png
#   bench/results/latest.md              the newest results of each part (this run's, and the others'
#                                        from the last run that had them), charts linked into their runs
# Charts are drawn by gnuplot (Debian package gnuplot-nox; scripts/install-test-deps.sh installs it).
#
# and the simulated founding lab at 10 GbE (bench/lab/run.sh: 15 rate-limited replicas, 5 groups ×
# 3 copies, every figure a % of the physical limit) and the scaling with copies and groups
# (bench/scaling/run.sh), each in a subdirectory (lab/, scaling/) with its own table and chart.
#
# usage: bench/run.sh [--quick] [--only xts|fio|lab|scaling[,...]] [--reps N] [--results DIR] [--no-build]
#   --quick      seconds instead of minutes: small sizes, short runs, one repetition (what CI runs)
#   --only       run only these sections (comma-separated): the XTS benchmark, the fio comparisons,
#                the lab, the scaling
#   --reps N     repetitions (default 3; 1 with --quick)
#   --results    where the dated directory and latest.md go (default bench/results)
#   --no-build   use the jars already built (cli/target/nbdvault.jar, bench/target/benchmarks.jar,
#                or the JMH classpath in $BENCH_CLASSPATH) instead of running Maven first
# Environment: JAVA is the JVM that runs JMH and nbdvault (default: the one ./nbdvault would choose,
# $JAVA_HOME's or the newest JDK 17+ installed; see scripts/java.sh); for example
#   JAVA=/usr/lib/jvm/java-17-openjdk-amd64/bin/java bench/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/.." && pwd)"

quick=0 only="" reps="" results="$here/results" build=1 args="$*"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --only) only=$2; shift ;;
    --reps) reps=$2; shift ;;
    --results) results=$2; shift ;;
    --no-build) build=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for part in ${only//,/ }; do
  case $part in xts|fio|lab|scaling) ;; *) echo "bench/run.sh: --only takes xts, fio, lab or scaling (or a comma list)" >&2; exit 2 ;; esac
done
runs() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
JAVA_SET=${JAVA:-}
source "$root/scripts/java.sh"
if [ -z "$JAVA_SET" ]; then
  nbdvault_java
  JAVA=$NBDVAULT_JAVA
fi

if [ $quick = 1 ]; then
  reps=${reps:-1}
  jmh_opts=(-f 1 -wi 1 -w 100ms -i 2 -r 100ms -p size=4096)
  ssl_sizes=(4096); ssl_seconds=1; cpu_rounds=3; cpu_millis=20
  fio_runtime=300ms; fio_size=32M; export FIO_RAMP=0 FIO_WARMUP=100ms    # fio takes time units
else
  reps=${reps:-3}
  jmh_opts=(-f 1 -wi 3 -w 1s -i 5 -r 1s -p size=4096,65536,1048576)
  ssl_sizes=(4096 65536 1048576); ssl_seconds=3; cpu_rounds=15; cpu_millis=100
  fio_runtime=6; fio_size=1G; export FIO_RAMP=1 FIO_WARMUP=${FIO_WARMUP:-5}
fi

stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out="$results/$stamp"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
step() { printf '[bench %3ds] %s\n' $((SECONDS - started)) "$*" >&2; }

# --- build -------------------------------------------------------------------------------------
if [ $build = 1 ]; then
  step "building the CLI and the JMH jar (mvn -pl bench -am package)"
  (cd "$root" && mvn -B -q -DskipTests -pl bench -am package >&2)
fi
bench_cp=${BENCH_CLASSPATH:-$here/target/benchmarks.jar}
# OpenSSL's AES (AesEngine) is reached through jnr-ffi, whose JNI stub JDK 22+ warns about unless
# native access is enabled, and whose use of sun.misc.Unsafe JDK 24+ warns about (JDK 23 is the
# first to take the option that allows it), as ./nbdvault does.
java_opts=(--enable-native-access=ALL-UNNAMED)
if [ "$(nbdvault_java_major "$(command -v "$JAVA")")" -ge 23 ]; then java_opts+=(--sun-misc-unsafe-memory-access=allow); fi
jmh=("$JAVA" "${java_opts[@]}" -cp "$bench_cp" org.openjdk.jmh.Main)
# nbdvault for the fio scripts: ./nbdvault on $JAVA's JDK (it decides the JVM's options, such as the
# Vector API module on JDK 25+), without its source check: the jars are the ones just built, or kept
# with --no-build. Both wrappers exec, so the scripts' cleanup reaches the JVM.
java_home=$(dirname "$(dirname "$(readlink -f "$(command -v "$JAVA")")")")
printf "#!/bin/sh\nexport JAVA_HOME='%s' NBDVAULT_NO_BUILD=1\nexec '%s' \"\$@\"\n" "$java_home" "$root/nbdvault" > "$work/nbdvault"
chmod +x "$work/nbdvault"
export NBDVAULT="$work/nbdvault"

# --- what ran where ----------------------------------------------------------------------------
{
  echo "date: $(date -u +'%F %T UTC')"
  echo "command: ${JAVA_SET:+JAVA=$JAVA }bench/run.sh${args:+ $args}"
  echo "mode: $([ $quick = 1 ] && echo 'quick (CI smoke run: the numbers mean little)' || echo full)"
  echo "repetitions: $reps"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "cores: $(nproc)"
  echo "jdk: $("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p') ($("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.vm.name = //p'))"
  echo "openssl: $(openssl version 2>/dev/null || echo missing)"
  echo "fio: $(fio --version 2>/dev/null || echo missing)"
  echo "kernel: $(uname -r)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
  echo "fio-size: $fio_size"
  echo "fio-runtime: $fio_runtime$([[ $fio_runtime =~ ^[0-9]+$ ]] && echo s)"
  echo "fio-warmup: ${FIO_WARMUP}$([[ $FIO_WARMUP =~ ^[0-9]+$ ]] && echo s)"
} > "$out/env.txt"
step "results go to $out ($(sed -n 's/^cpu: //p' "$out/env.txt"), $(nproc) cores)"

# --- AES-XTS: JMH forks and openssl interleaved ------------------------------------------------
# Twice over: wall-clock (JMH; openssl -elapsed) and per CPU-second of the working thread
# (XtsCpuTime; openssl's default), the second unmoved by other processes competing for the cores.
if runs xts; then
  : > "$out/openssl.txt"; : > "$out/openssl-cpu.txt"
  sizes_csv=$(IFS=,; echo "${ssl_sizes[*]}")
  for rep in $(seq "$reps"); do
    step "XTS repetition $rep/$reps: JMH XtsBenchmark (${jmh_opts[*]})"
    "${jmh[@]}" XtsBenchmark "${jmh_opts[@]}" -rf json -rff "$out/jmh-xts.rep$rep.json" > "$out/jmh-xts.rep$rep.log" 2>&1 \
      || { tail -30 "$out/jmh-xts.rep$rep.log" >&2; exit 1; }
    for n in "${ssl_sizes[@]}"; do
      step "XTS repetition $rep/$reps: openssl speed -evp aes-256-xts -elapsed -bytes $n"
      # -elapsed: wall-clock time, as JMH measures (by default openssl divides by its CPU time,
      # which flatters it on a busy machine). It prints 1000s of bytes per second.
      openssl speed -evp aes-256-xts -elapsed -bytes "$n" -seconds "$ssl_seconds" 2>/dev/null \
        | awk -v rep="$rep" -v n="$n" '/^AES-256-XTS/ {sub("k", "", $2); print rep, n, $2 * 1000}' >> "$out/openssl.txt"
    done
    step "XTS repetition $rep/$reps: per CPU-second: XtsCpuTime ($cpu_rounds rounds of $cpu_millis ms) and openssl speed"
    "$JAVA" --add-modules jdk.incubator.vector "${java_opts[@]}" -cp "$bench_cp" io.nbdvault.bench.XtsCpuTime "$sizes_csv" "$cpu_rounds" "$cpu_millis" > "$out/xts-cputime.rep$rep.json"
    for n in "${ssl_sizes[@]}"; do
      openssl speed -evp aes-256-xts -bytes "$n" -seconds "$ssl_seconds" 2>/dev/null \
        | awk -v rep="$rep" -v n="$n" '/^AES-256-XTS/ {sub("k", "", $2); print rep, n, $2 * 1000}' >> "$out/openssl-cpu.txt"
    done
  done
fi

# --- fio comparisons ---------------------------------------------------------------------------
if runs fio; then
  for rep in $(seq "$reps"); do
    for script in nbd-vs-nbdkit replicated-vs-qsd; do
      dir="$out/fio/$script/rep$rep"
      mkdir -p "$dir"
      step "fio repetition $rep/$reps: bench/fio/$script.sh $fio_runtime $fio_size"
      FIO_JSON_DIR="$dir" "$here/fio/$script.sh" "$fio_runtime" "$fio_size" > "$dir/table.md"
    done
  done
fi

# --- the founding lab at 10 GbE, simulated; scaling with copies and groups ----------------------
# One repetition each (they take minutes); their figures are percentages of limits measured in the
# same run, so they need no peer.
quick_flag=(); [ $quick = 1 ] && quick_flag=(--quick)
if runs lab; then
  step "lab: bench/lab/run.sh ${quick_flag[*]} (15 rate-limited replicas, 5 groups x 3 copies)"
  JAVA=$JAVA "$here/lab/run.sh" "${quick_flag[@]}" --out "$out/lab" > "$out/lab.log" 2>&1 \
    || { tail -30 "$out/lab.log" >&2; exit 1; }
fi
if runs scaling; then
  step "scaling: bench/scaling/run.sh ${quick_flag[*]} (copies 1-5, groups 1-5)"
  JAVA=$JAVA "$here/scaling/run.sh" "${quick_flag[@]}" --out "$out/scaling" > "$out/scaling.log" 2>&1 \
    || { tail -30 "$out/scaling.log" >&2; exit 1; }
fi

# --- summary and charts ------------------------------------------------------------------------
step "summary and charts (gnuplot)"
/usr/bin/python3 "$here/summarize.py" "$out"
# latest.md sits one level up: each part from the newest run of it there (this one for the parts
# it ran), its links pointing into that run's directory.
/usr/bin/python3 "$here/summarize.py" --latest "$results"
step "done: $out/summary.md, $results/latest.md"
cat "$out/summary.md"
