# Shared by bench/lab/run.sh and bench/scaling/run.sh: rate-limited replica volumes (nbdkit memory
# behind nbdkit's rate filter), their measured rates, and nbdvault arrays over them. Source it after
# setting W (a work directory on tmpfs) and NBDVAULT (the nbdvault command); needs fio, nbdkit and
# Debian's /usr/bin/python3.
#
# nbdkit's rate filter counts BITS per second ("rate=800M" is 800 Mbit/s, about 100 MB/s), with
# separate buckets for reads and writes, and a bucket that holds "burstiness" seconds (default 2) of
# traffic: after a pause a client gets that much at full speed. A ramp only empties the bucket at
# the client's excess over the rate, so a client barely faster than 15 replicas would need many
# seconds to drain 15 × 2 s of burst, and would be measured faster than the replicas allow (an
# earlier run read 154 % of the limit that way). So the buckets here hold LAB_BURST seconds
# (default 0.25; the man page advises against less than 2 s because of lumpy sleeps with requests
# large against the rate; 0.25 s still holds six 1 MiB requests at 26 MB/s), and every measurement
# starts with a ramp of LAB_RAMP seconds (default 3) that empties them before fio counts.

LAB_RAMP=${LAB_RAMP:-3}
LAB_BURST=${LAB_BURST:-0.25}

# usage: lab_replicas N SIZE RATE — starts N nbdkit memory exports of SIZE, each limited to RATE
# (nbdkit units, bits per second; "off" for no limit; buckets of LAB_BURST s), at $W/rK.sock (K = 1..N).
lab_replicas() {
  local n=$1 size=$2 rate=$3 k
  LAB_REPLICA_PIDS=()
  for k in $(seq "$n"); do
    rm -f "$W/r$k.sock"
    if [ "$rate" = off ]; then
      nbdkit -U "$W/r$k.sock" --exit-with-parent memory "$size" &
    else
      nbdkit -U "$W/r$k.sock" --exit-with-parent --filter=rate memory "$size" rate="$rate" burstiness="$LAB_BURST" &
    fi
    LAB_REPLICA_PIDS+=($!)
  done
  for k in $(seq "$n"); do
    for _ in $(seq 100); do [ -S "$W/r$k.sock" ] && break; sleep 0.1; done
  done
}

lab_uri() { echo "nbd+unix:///?socket=$W/r$1.sock"; }

# Stops the replicas lab_replicas started last (by their process ids).
lab_stop_replicas() {
  local pid
  for pid in "${LAB_REPLICA_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${LAB_REPLICA_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  LAB_REPLICA_PIDS=()
}

# usage: lab_fio NAME RUNTIME OUT_JSON RW BS QD URI... — one fio run, one job per URI (run together),
# ramp LAB_RAMP seconds, time based, over LAB_FIO_SIZE (default 64M); randrw is 70 % reads; fio's
# JSON goes to OUT_JSON.
lab_fio() {
  local name=$1 runtime=$2 out=$3 rw=$4 bs=$5 qd=$6 uri args=()
  shift 6
  [ "$rw" = randrw ] && args+=(--rwmixread=70)
  for uri in "$@"; do
    args+=(--name="$name" --uri="$uri")
  done
  fio --ioengine=nbd --rw="$rw" --bs="$bs" --iodepth="$qd" --time_based --runtime="$runtime" \
      --ramp_time="$LAB_RAMP" --size="${LAB_FIO_SIZE:-64M}" --output-format=json --output="$out" "${args[@]}" \
      >/dev/null 2>&1 || { echo "fio failed: $name $rw $bs QD$qd" >&2; return 1; }
}

# usage: lab_bw JSON — bytes per second of every job in fio's JSON together (reads plus writes).
lab_bw() {
  /usr/bin/python3 -c '
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
print(sum(j["read"]["bw_bytes"] + j["write"]["bw_bytes"] for j in jobs))' "$1"
}

# usage: lab_measure_replicas N RUNTIME DIR — fio directly against each replica alone, one replica
# after the other (one fio process, a stonewall before each replica): read 1M QD8 and write 1M QD8
# at the same time (the rate filter limits reads and writes separately), each job ramping LAB_RAMP
# first; fio's JSON into DIR/replicas.json. Prints "K READ_BYTES_PER_S WRITE_BYTES_PER_S" per replica.
lab_measure_replicas() {
  local n=$1 runtime=$2 dir=$3 k args=()
  mkdir -p "$dir"
  for k in $(seq "$n"); do
    args+=(--name="read$k" --uri="$(lab_uri "$k")" --rw=read --stonewall --name="write$k" --uri="$(lab_uri "$k")" --rw=write)
  done
  fio --ioengine=nbd --bs=1M --iodepth=8 --time_based --runtime="$runtime" --ramp_time="$LAB_RAMP" \
      --size=64M --output-format=json --output="$dir/replicas.json" "${args[@]}" >/dev/null 2>&1 \
    || { echo "fio failed measuring the replicas" >&2; return 1; }
  /usr/bin/python3 -c '
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
for k in range(len(jobs) // 2):
    print(k + 1, jobs[2 * k]["read"]["bw_bytes"], jobs[2 * k + 1]["write"]["bw_bytes"])' "$dir/replicas.json"
}

# usage: lab_array GROUPS COPIES SIZE LOG [SERVE_ARGS...] — creates an nbdvault array over replicas
# 1..GROUPS*COPIES (listed group by group) and serves it at $W/vault.sock; sets LAB_SERVE_PID.
lab_array() {
  local groups=$1 copies=$2 size=$3 log=$4 k members=()
  shift 4
  for k in $(seq $((groups * copies))); do members+=("$(lab_uri "$k")"); done
  printf 'lab passphrase' > "$W/key"
  "$NBDVAULT" create --groups "$groups" --copies "$copies" --size "$size" --key-file "$W/key" --pbkdf pbkdf2 \
      --pbkdf-force-iterations 1000 "${members[@]}" >>"$log" 2>&1 || { echo "nbdvault create failed (see $log)" >&2; return 1; }
  rm -f "$W/vault.sock"
  "$NBDVAULT" serve --key-file "$W/key" --socket "$W/vault.sock" "$@" "${members[@]}" >>"$log" 2>&1 &
  LAB_SERVE_PID=$!
  for _ in $(seq 300); do [ -S "$W/vault.sock" ] && break; sleep 0.1; done
  [ -S "$W/vault.sock" ] || { echo "nbdvault serve did not start (see $log)" >&2; return 1; }
}

lab_stop_array() {
  kill "$LAB_SERVE_PID" 2>/dev/null || true
  wait "$LAB_SERVE_PID" 2>/dev/null || true
}

LAB_VAULT_URI() { echo "nbd+unix:///?socket=$W/vault.sock"; }
