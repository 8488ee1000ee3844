#!/usr/bin/env bash
# The founding lab at 10 GbE, simulated on one machine: fifteen replica volumes (three servers ×
# five volumes; here nbdkit memory exports on this host, each behind nbdkit's rate filter at about
# 100 MB/s: rate=800M, the filter counts bits), nbdvault with five mirror groups × three copies
# (create --groups 5 --copies 3) over them, and the standard fio jobs against nbdvault. Each
# replica's real rate is measured in the same run by fio directly against it, alone; every
# nbdvault figure is then a percentage of the physical limit:
#   reads:  min(sum of the 15 measured read rates, 1.25 GB/s — the client's 10 GbE link)
#   writes: sum over the 5 groups of the slowest copy's measured write rate (every copy takes every
#           write; 5 × the replica rate when they are equal)
#   randrw: the time-weighted mix of both (70 % reads)
# As a second reference, fio against all fifteen replicas at once (no nbdvault) shows what this
# machine itself can drive. On 2 cores the full rate may be CPU-bound (15 nbdkit, fio and nbdvault
# share the cores), so by default the lab runs twice: at the full rate and scaled down to a quarter
# (rate=200M, about 25 MB/s a replica, the 10 GbE cap scaled by the same factor) where the CPU
# is not the limit. nbdvault's status --json is saved after each job (per-layer latency).
#
# usage: bench/lab/run.sh [--quick] [--rates "800M 200M"] [--runtime SECONDS] [--out DIR]
#   --quick     seconds, not minutes (CI): 0.3 s jobs, one rate, no preconditioning, no status
#               snapshots; the numbers mean little
#   --rates     nbdkit rate-filter rates to run, bits per second (default "800M 200M")
#   --runtime   measured seconds per fio job (default 8), after a LAB_RAMP (3 s) ramp
#   --out       results directory (default bench/results/lab-<UTC date>); writes lab.md, lab.png,
#               lab.dat, rate-R/{replicas,vault,all-replicas}/*.json (replicas.txt: each replica's rate), rate-R/status/*.json
# Environment: NBDVAULT (the nbdvault command; default ./nbdvault), FIO_JOBS ("RW BS QD,..."),
#   LAB_MEASURE (seconds per replica measurement, default 3), LAB_RAMP, LAB_BURST (see lib.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"
quick=0 rates="800M 200M" runtime=8 out=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --rates) rates=$2; shift ;;
    --runtime) runtime=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench/lab/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
NBDVAULT=${NBDVAULT:-$root/nbdvault}
out=${out:-$root/bench/results/lab-$(date -u +%Y-%m-%dT%H%M%SZ)}
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if [ $quick = 1 ]; then
  rates=${rates%% *}; runtime=300ms; export LAB_RAMP=0
  vol_size=60M; measure=50ms; jobs=${FIO_JOBS:-"write 1M 8,read 1M 8"}
else
  vol_size=1G; measure=${LAB_MEASURE:-3}; jobs=${FIO_JOBS:-"write 1M 8,read 1M 8,write 1M 32,read 1M 32,randwrite 4k 32,randread 4k 32,randrw 64k 16"}
fi
GROUPS_=5 COPIES=3 N=15
W=$(mktemp -d /dev/shm/nbdvault-lab.XXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.5; rm -rf "$W"' EXIT
source "$here/lib.sh"
started=$SECONDS
step() { printf '[lab %3ds] %s\n' $((SECONDS - started)) "$*" >&2; }
"$NBDVAULT" --version >/dev/null

{
  echo "date: $(date -u +'%F %T UTC')"
  echo "command: bench/lab/run.sh${*:+ $*}$([ $quick = 1 ] && echo ' (quick)')"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "cores: $(nproc)"
  echo "jdk: $("$NBDVAULT" --version | sed -n 's/^Java //p')"
  echo "nbdkit: $(nbdkit --version 2>/dev/null | head -1)"
  echo "fio: $(fio --version)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "runtime: $runtime (ramp $LAB_RAMP, rate-filter burstiness $LAB_BURST s)"
  echo "volume: $vol_size, $GROUPS_ groups x $COPIES copies"
  echo "jobs: $jobs"
  echo "rates: $rates"
} > "$out/env.txt"

member_size=$(( $(numfmt --from=iec "$vol_size") / GROUPS_ + 64 * 1024 * 1024 ))
IFS=, read -ra job_list <<< "$jobs"
for rate in $rates; do
  d="$out/rate-$rate"; mkdir -p "$d/replicas" "$d/vault" "$d/all-replicas" "$d/status"
  step "rate=$rate: $N nbdkit memory replicas of $member_size bytes behind --filter=rate"
  lab_replicas $N "$member_size" "$rate"
  step "rate=$rate: each replica alone (fio read and write 1M QD8 together, ramp $LAB_RAMP, $measure)"
  lab_measure_replicas $N "$measure" "$d/replicas" > "$d/replicas.txt"
  step "rate=$rate: all $N replicas at once, no nbdvault (the machine's own ceiling)"
  uris=(); for k in $(seq $N); do uris+=("$(lab_uri "$k")"); done
  lab_fio all "$runtime" "$d/all-replicas/read.json" read 1M 8 "${uris[@]}"
  lab_fio all "$runtime" "$d/all-replicas/write.json" write 1M 8 "${uris[@]}"
  step "rate=$rate: nbdvault create --groups $GROUPS_ --copies $COPIES, serve"
  lab_array $GROUPS_ $COPIES "$vol_size" "$d/nbdvault.log"
  vault="nbd+unix:///?socket=$W/vault.sock"
  # (--quick skips the preconditioning and the status snapshots: they cost CI seconds and the
  # quick numbers mean nothing; RunScriptQuickTest checks status snapshots in the fio comparison.)
  if [ $quick = 0 ]; then
    step "rate=$rate: preconditioning the volume (one sequential write, not measured)"
    fio --name=precondition --ioengine=nbd --uri="$vault" --rw=write --bs=1M --iodepth=16 >/dev/null 2>&1
    "$NBDVAULT" status --admin-socket "$W/vault.sock.admin" --json > "$d/status/0-precondition.json" 2>/dev/null || true
  fi
  i=0
  for job in "${job_list[@]}"; do
    read -r rw bs qd <<< "$job"
    i=$((i + 1))
    step "rate=$rate: nbdvault $rw $bs QD$qd"
    LAB_FIO_SIZE=$vol_size lab_fio vault "$runtime" "$d/vault/${rw}_${bs}_qd${qd}.json" "$rw" "$bs" "$qd" "$vault"
    if [ $quick = 0 ]; then
      "$NBDVAULT" status --admin-socket "$W/vault.sock.admin" --json > "$d/status/$i-${rw}_${bs}_qd${qd}.json" 2>/dev/null || true
    fi
  done
  lab_stop_array
  lab_stop_replicas
done

step "summary and chart (gnuplot)"
/usr/bin/python3 "$here/summarize.py" "$out"
step "done: $out/lab.md"
cat "$out/lab.md"
