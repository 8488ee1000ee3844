#!/usr/bin/env bash
# fio's nbd engine against `nbdvault export memory:1G` and `nbdkit memory 1G`, same machine, same run,
# both over unix sockets. Prints a table with the ratio nbdvault / nbdkit per job.
# usage: bench/fio/nbd-vs-nbdkit.sh [runtime=6 (seconds, or with a unit: 500ms)] [size=1G]
set -euo pipefail
RT=${1:-6}; SZ=${2:-1G}
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"
source "$here/fio-jobs.sh"
NBDVAULT=${NBDVAULT:-$root/nbdvault}
W=$(mktemp -d /dev/shm/nbdvault-bench.XXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 1; rm -rf "$W"' EXIT
"$NBDVAULT" --version >/dev/null   # builds the jar when needed, outside the measurement

nbdkit -P "$W/nbdkit.pid" -U "$W/nbdkit.sock" --exit-with-parent memory "$SZ" &
"$NBDVAULT" export --socket "$W/nbdvault.sock" "memory:$SZ" 2>"$W/nbdvault.log" &
echo $! > "$W/nbdvault.pid"   # the JVM itself: NBDVAULT execs it
for s in nbdkit nbdvault; do
  for _ in $(seq 100); do [ -S "$W/$s.sock" ] && break; sleep 0.1; done
done
: > "$W/results"
pids_of() { cat "$W/$1.pid"; }   # one process each, no replicas (fio-jobs.sh: CPU per request)
FIO_CPU_PIDS=pids_of
fio_compare "nbd+unix:///?socket=$W/nbdkit.sock" nbdkit "nbd+unix:///?socket=$W/nbdvault.sock" nbdvault "$RT" "$SZ" "$W/results"
echo "fio nbd engine, ${RT}$([[ $RT =~ ^[0-9]+$ ]] && echo s) per job, $SZ, $(nproc) cores, $(date -u +%FT%TZ)"
fio_table "$W/results" nbdkit nbdvault
