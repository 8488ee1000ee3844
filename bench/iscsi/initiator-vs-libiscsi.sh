#!/usr/bin/env bash
# nbdvault's iSCSI initiator (in-process load generator, no NBD in the path) against libiscsi
# (qemu-img bench on the iscsi:// URI: qemu's iscsi driver), on the same tgtd LUN (a file in /dev/shm), same run,
# same request size, depth and count, sequential offsets for both (qemu-img bench's pattern). Random reads
# (randread) have no qemu-img bench figure (it has no random pattern): iscsi-perf -r is their libiscsi peer.
# Median of RUNS runs each; prints MB/s or IOPS and the ratio nbdvault / libiscsi per job, and the CPU time
# per request of each side (ours during the measured run; qemu-img's whole process) — on a shared machine
# the throughput ratio moves with the load, the CPU per request much less. The load average is printed.
# Reads are also run with libiscsi's own iscsi-perf (no qemu block layer; 6 s, time-based, the same size
# and depth), a second libiscsi figure: nbdvault / iscsi-perf in the last column.
# usage: bench/iscsi/initiator-vs-libiscsi.sh [runs=3] [lun_size=1G]   (runs so far: bench/results/iscsi/)
set -euo pipefail
RUNS=${1:-3}; SZ=${2:-1G}
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"
PATH="$PATH:/usr/sbin:/sbin"
for tool in tgtd tgtadm qemu-img iscsi-perf /usr/bin/time; do command -v $tool >/dev/null || { echo "needs $tool (scripts/install-test-deps.sh)" >&2; exit 1; }; done
W=$(mktemp -d /dev/shm/nbdvault-iscsi-bench.XXXX)
CTL=$((RANDOM % 20000 + 1000))
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
IQN=iqn.2024-01.io.nbdvault.bench:lun
cleanup() {
  tgtadm -C $CTL --lld iscsi --mode target --op update --tid 1 --name state --value offline >/dev/null 2>&1 || true
  tgtadm -C $CTL --lld iscsi --mode target --op delete --force --tid 1 >/dev/null 2>&1 || true
  tgtadm -C $CTL --mode system --op delete >/dev/null 2>&1 || true
  sleep 0.5; kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"
}
trap cleanup EXIT
(cd "$root" && mvn -B -q -o -DskipTests -pl bench -am package >&2)
JAR="$root/bench/target/benchmarks.jar"
truncate -s "$SZ" "$W/lun.img"
tgtd -f -C $CTL --iscsi portal=127.0.0.1:$PORT >"$W/tgtd.log" 2>&1 &
for _ in $(seq 100); do tgtadm -C $CTL --lld iscsi --mode system --op show >/dev/null 2>&1 && break; sleep 0.1; done
tgtadm -C $CTL --lld iscsi --mode target --op new --tid 1 --targetname $IQN
tgtadm -C $CTL --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --backing-store "$W/lun.img"
tgtadm -C $CTL --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL
URI="iscsi://127.0.0.1:$PORT/$IQN/1"
# fill the LUN once so that reads read data
qemu-img bench -f raw -w -c $(( $(numfmt --from=iec "$SZ") / 1048576 )) -d 8 -s 1M -t none "$URI" >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# rate COUNT SIZE SECONDS: MB/s for 1 MiB requests, IOPS for smaller ones
rate() { awk -v c="$1" -v s="$2" -v t="$3" 'BEGIN{if (s >= 1048576) printf "%.0f MB/s", c*s/t/1e6; else printf "%.0f IOPS", c/t}'; }
# job: name rw size depth count
# Counts give each measured run 5-10 s on a quiet 2-core machine: with 3000 MiB and 100000 4k requests
# (about 2 s), what the JIT still compiled in the measured run and the spread between runs were a
# large part of the result.
JOBS=("read-1M-QD8 read 1048576 8 10000" "write-1M-QD8 write 1048576 8 10000"
      "read-4k-QD32 read 4096 32 400000" "write-4k-QD32 write 4096 32 400000"
      "randread-4k-QD32 randread 4096 32 400000")
echo "tgtd LUN in /dev/shm ($SZ), median of $RUNS, $(nproc) cores, $(lscpu | sed -n 's/Model name: *//p'), $(java -version 2>&1 | head -1), $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %14s %14s %7s %13s %13s %14s %7s\n' job nbdvault libiscsi ratio 'cpu/req ours' 'cpu/req lib' iscsi-perf ratio
for job in "${JOBS[@]}"; do
  read -r name rw size depth count <<<"$job"
  ours=(); theirs=(); ourcpu=(); theircpu=(); perf=()
  for _ in $(seq "$RUNS"); do
    ours+=("$(java -cp "$JAR" io.nbdvault.bench.IscsiLoad "$URI" "$rw" "$size" "$depth" "$count" 2>"$W/cpu")")
    ourcpu+=("$(sed -n 's/^cpu \([0-9.]*\) s$/\1/p' "$W/cpu")")
    if [[ $rw != rand* ]]; then
      flag=""; [ "$rw" = write ] && flag="-w"
      t=$(/usr/bin/time -f '%U %S' -o "$W/time" qemu-img bench -f raw $flag -c "$count" -d "$depth" -s "$size" -t none "$URI" \
            | sed -n 's/Run completed in \([0-9.]*\) seconds./\1/p')
      theirs+=("$t")
      theircpu+=("$(awk '{print $1 + $2}' "$W/time")")
    fi
    if [[ $rw == *read ]]; then
      rflag=""; [ "$rw" = randread ] && rflag="-r"
      perf+=("$(timeout 60 iscsi-perf -m "$depth" -b $((size / 512)) $rflag -t 6 "$URI" 2>&1 \
               | grep -o 'iops average [0-9]*' | tail -1 | awk '{print $3}')")
    fi
  done
  a=$(printf '%s\n' "${ours[@]}" | median); ca=$(printf '%s\n' "${ourcpu[@]}" | median)
  fa=$(rate "$count" "$size" "$a"); fb="-"; rb="-"; cpub="-"
  if [ ${#theirs[@]} -gt 0 ]; then
    b=$(printf '%s\n' "${theirs[@]}" | median); cb=$(printf '%s\n' "${theircpu[@]}" | median)
    fb=$(rate "$count" "$size" "$b"); rb=$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2fx", b/a}')
    cpub=$(awk -v c="$cb" -v n="$count" 'BEGIN{printf "%.1f us", c/n*1e6}')
  fi
  fp="-"; rp="-"
  if [ ${#perf[@]} -gt 0 ]; then
    p=$(printf '%s\n' "${perf[@]}" | median)
    if [ "$size" -ge 1048576 ]; then
      fp=$(awk -v i="$p" -v s="$size" 'BEGIN{printf "%.0f MB/s", i*s/1e6}')
    else
      fp="$p IOPS"
    fi
    rp=$(awk -v c="$count" -v t="$a" -v i="$p" 'BEGIN{printf "%.2fx", c/t/i}')
  fi
  printf '%-16s %14s %14s %7s %10.1f us %13s %14s %7s\n' "$name" "$fa" "$fb" "$rb" \
    "$(awk -v c="$ca" -v n="$count" 'BEGIN{print c/n*1e6}')" "$cpub" "$fp" "$rp"
done
