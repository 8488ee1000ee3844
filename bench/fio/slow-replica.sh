#!/usr/bin/env bash
# One distant replica: nbdvault serve over three nbdkit file replicas on tmpfs, one of them behind
# nbdkit's delay filter (writes and reads 20 ms late, as over a WAN). The same fio jobs on a
# healthy array, on the slow one with every copy acknowledging writes (the default), and on the
# slow one with --write-quorum 2. Every nbdkit runs 256 threads, so the distant replica has the
# parallelism a real WAN link has (a 20 ms replica needs ~300 requests in flight for 15k IOPS).
# Prints IOPS / MB/s and the ratios to the healthy array.
# usage: bench/fio/slow-replica.sh [runtime_seconds=6] [delay=20ms]
set -euo pipefail
RT=${1:-6}; DELAY=${2:-20ms}
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"
source "$here/fio-jobs.sh"
W=$(mktemp -d /dev/shm/nbdvault-slow.XXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 1; rm -rf "$W"' EXIT
"$root/nbdvault" --version >/dev/null
printf 'benchmark passphrase' > "$W/key"
SIZE=512M

# run LABEL DELAY_FILTER(yes|no) EXTRA_SERVE_ARGS...
run() {
  local label=$1 slow=$2; shift 2
  local d="$W/$label"; mkdir -p "$d"
  for i in 1 2 3; do
    truncate -s 600M "$d/r$i.img"
    if [ "$slow" = yes ] && [ "$i" = 3 ]; then
      nbdkit -t 256 -U "$d/r$i.sock" --exit-with-parent --filter=delay file "$d/r$i.img" delay-write="$DELAY" delay-read="$DELAY" &
    else
      nbdkit -t 256 -U "$d/r$i.sock" --exit-with-parent file "$d/r$i.img" &
    fi
  done
  sleep 1
  local m=("nbd+unix:///?socket=$d/r1.sock" "nbd+unix:///?socket=$d/r2.sock" "nbd+unix:///?socket=$d/r3.sock")
  "$root/nbdvault" create --size "$SIZE" --key-file "$W/key" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "${m[@]}" 2>/dev/null
  "$root/nbdvault" serve --key-file "$W/key" --socket "$d/v.sock" "$@" "${m[@]}" 2>"$d/serve.log" &
  local pid=$!
  for _ in $(seq 100); do [ -S "$d/v.sock" ] && break; sleep 0.1; done
  local uri="nbd+unix:///?socket=$d/v.sock"
  fio_precondition "$uri" "$SIZE"
  fio_job "$uri" "$label" "$RT" "$SIZE" "$W/out" randwrite 4k 32
  fio_job "$uri" "$label" "$RT" "$SIZE" "$W/out" write 1M 8
  fio_job "$uri" "$label" "$RT" "$SIZE" "$W/out" randread 4k 32
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run healthy no
run slow yes
run slow-quorum2 yes --write-quorum 2
echo "fio nbd engine, ${RT}s per job, one replica ${DELAY} late, $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%FT%TZ)"
/usr/bin/python3 - "$W/out" <<'PY'
import sys, collections
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    label, job, mbs, iops = line.rstrip("\n").split("\t")[:4]
    rows.setdefault(job, {})[label] = (float(mbs), float(iops))
print("| job | healthy | slow, all copies | slow, --write-quorum 2 | quorum / healthy |")
print("|---|---|---|---|---|")
for job, r in rows.items():
    unit = 1 if "4k" in job else 0
    fmt = (lambda v: f"{v[1]:.0f} IOPS") if unit else (lambda v: f"{v[0]:.0f} MB/s")
    h, s, q = r.get("healthy"), r.get("slow"), r.get("slow-quorum2")
    ratio = (q[unit] / h[unit]) if h and q and h[unit] else float("nan")
    print(f"| {job} | {fmt(h)} | {fmt(s)} | {fmt(q)} | {ratio:.2f} |")
PY
