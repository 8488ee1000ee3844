#!/usr/bin/env bash
# How nbdvault's throughput scales with the number of copies (1, 2, 3, 5) and of mirror groups
# (1, 3, 5): for each layout, groups × copies rate-limited replicas (nbdkit memory behind the rate
# filter, as in bench/lab/run.sh; default rate=200M, about 25 MB/s a replica, so that even 25
# replicas stay below what 2 cores can drive), nbdvault create --groups G --copies C over them, and
# fio's sequential read and write (1M, QD16) against it. A replica's rate is measured in the same
# run (fio against three replicas alone; their mean). Ideal scaling: reads grow with groups × copies
# (every copy serves reads), writes with groups only (every copy takes every write). Writes
# scaling.md, scaling.dat, scaling.png (gnuplot), fio's JSON and nbdvault's status --json after
# each job (per-layer and per-replica latency: which copies served the reads).
#
# usage: bench/scaling/run.sh [--quick] [--rate 200M] [--runtime SECONDS] [--out DIR]
#   --quick     seconds (CI): one layout (1 group, 2 copies), 0.3 s jobs, no preconditioning,
#               no status snapshots; the numbers mean little
#   --rate      nbdkit rate-filter rate per replica, bits per second (default 200M)
#   --runtime   measured seconds per job (default 5), after a LAB_RAMP (3 s) ramp
#   --out       results directory (default bench/results/scaling-<UTC date>)
# Environment: NBDVAULT (default ./nbdvault), SCALING_COPIES ("1 2 3 5"), SCALING_GROUPS ("1 3 5").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"
quick=0 rate=200M runtime=5 out=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --rate) rate=$2; shift ;;
    --runtime) runtime=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench/scaling/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
NBDVAULT=${NBDVAULT:-$root/nbdvault}
out=${out:-$root/bench/results/scaling-$(date -u +%Y-%m-%dT%H%M%SZ)}
mkdir -p "$out"
out="$(cd "$out" && pwd)"
copies_list=${SCALING_COPIES:-"1 2 3 5"} groups_list=${SCALING_GROUPS:-"1 3 5"} vol_size=256M qd=16
if [ $quick = 1 ]; then
  copies_list=${SCALING_COPIES:-"2"} groups_list=${SCALING_GROUPS:-"1"} runtime=300ms vol_size=48M
  export LAB_RAMP=0
fi
W=$(mktemp -d /dev/shm/nbdvault-scaling.XXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.5; rm -rf "$W"' EXIT
source "$root/bench/lab/lib.sh"
started=$SECONDS
step() { printf '[scaling %3ds] %s\n' $((SECONDS - started)) "$*" >&2; }
"$NBDVAULT" --version >/dev/null
{
  echo "date: $(date -u +'%F %T UTC')"
  echo "command: bench/scaling/run.sh${*:+ $*}$([ $quick = 1 ] && echo ' (quick)')"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "cores: $(nproc)"
  echo "jdk: $("$NBDVAULT" --version | sed -n 's/^Java //p')"
  echo "rate: $rate"
  echo "runtime: $runtime (ramp $LAB_RAMP, rate-filter burstiness $LAB_BURST s)"
  echo "volume: $vol_size"
  echo "layouts: groups $groups_list x copies $copies_list"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} > "$out/env.txt"

step "replica rate: fio against three replicas alone (rate=$rate)"
lab_replicas 3 128M "$rate"
lab_measure_replicas 3 "$([ $quick = 1 ] && echo 100ms || echo "$runtime")" "$out/replicas" > "$out/replicas.txt"
lab_stop_replicas

: > "$out/results.txt"
for groups in $groups_list; do
  for copies in $copies_list; do
    n=$((groups * copies)) d="$out/g${groups}c${copies}"
    mkdir -p "$d"
    step "$groups group(s) x $copies copies: $n replicas, create, serve, fio write and read 1M QD$qd"
    lab_replicas $n $(( $(numfmt --from=iec $vol_size) / groups + 64 * 1024 * 1024 )) "$rate"
    lab_array "$groups" "$copies" "$vol_size" "$d/nbdvault.log"
    vault="nbd+unix:///?socket=$W/vault.sock"
    [ $quick = 1 ] || fio --name=precondition --ioengine=nbd --uri="$vault" --rw=write --bs=1M --iodepth=16 >/dev/null 2>&1
    for rw in write read; do
      LAB_FIO_SIZE=$vol_size lab_fio vault "$runtime" "$d/$rw.json" "$rw" 1M "$qd" "$vault"
      echo "$groups $copies $rw $(lab_bw "$d/$rw.json")" >> "$out/results.txt"
      [ $quick = 1 ] || "$NBDVAULT" status --admin-socket "$W/vault.sock.admin" --json > "$d/status-after-$rw.json" 2>/dev/null || true
    done
    lab_stop_array
    lab_stop_replicas
  done
done

step "summary and chart (gnuplot)"
/usr/bin/python3 "$here/summarize.py" "$out"
step "done: $out/scaling.md"
cat "$out/scaling.md"
