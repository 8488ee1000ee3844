# Shared by the fio benchmark scripts: runs the standard jobs against one NBD URI and prints one
# line per job. Source it; needs fio (nbd engine) and Debian's /usr/bin/python3.
#
# Environment (all optional; bench/run.sh sets them):
#   FIO_RAMP      seconds of ramp before each measured job (default 1)
#   FIO_WARMUP    how long each job first runs unmeasured on every target, peers too (seconds, or with
#                 a unit: 100ms; default 5; 0: none):
#                 a JVM compiles its hot paths during its first seconds on a new kind of request (on
#                 2 cores the compiler threads take a fifth of the CPU then, and a cold randread 4k
#                 measured half the IOPS of a warm one), which a server that has been up for a while
#                 has long done; a native peer has nothing to warm
#   FIO_JOBS      the jobs, "RW BS QD" separated by commas (default: the five below)
#   FIO_JSON_DIR  when set, fio's raw JSON of every job is kept there as LABEL_RW_BS_qdQD.json
#   FIO_AFTER_JOB a command run after each measured job and after preconditioning (and again after
#                 the warm-up), with the arguments LABEL RW BS QD (RW=precondition after those); the
#                 scripts use it to save nbdvault's per-layer latencies (status --json) per job
#   FIO_CPU_PIDS  a command printing, for the LABEL given to it, the processes on that target's path:
#                 its server's PID first, then its replicas' (none for a target that is one process).
#                 With FIO_JSON_DIR, the CPU time each used during each measured job is saved as
#                 FIO_JSON_DIR/cpu/LABEL_RW_BS_qdQD.json (CPU seconds of the server and of the replicas,
#                 from /proc/PID/stat over the whole fio run, ramp included, and the ramp's length);
#                 bench/summarize.py turns it into CPU per request of each process
#   NBDVAULT      the nbdvault command to run (default: the launcher at the top of the repository,
#                 which rebuilds the CLI first when its sources changed); it must exec the JVM so
#                 that the scripts' cleanup, which kills their background jobs, reaches it
FIO_JOBS_DEFAULT="write 1M 8,read 1M 8,randwrite 4k 32,randread 4k 32,randrw 64k 16"

# fio's nbd engine running one job against one URI, its output discarded; randrw is 70 % reads.
# usage: fio_nbd NAME URI SIZE RW BS QD [FIO_OPTION...]
fio_nbd() {
  local name=$1 uri=$2 size=$3 rw=$4 bs=$5 qd=$6 mix=()
  shift 6
  [ "$rw" = randrw ] && mix=(--rwmixread=70)
  fio --name="$name" --ioengine=nbd --uri="$uri" --rw="$rw" "${mix[@]}" --bs="$bs" --iodepth="$qd" --size="$size" \
      "$@" >/dev/null 2>&1
}

# CPU seconds (user + system, every thread) used so far: the first PID's, then the rest's together.
# usage: cpu_seconds PID [PID...]
cpu_seconds() {
  local first=$1 rest=0 pid
  shift
  for pid in "$@"; do rest=$((rest + $(proc_ticks "$pid"))); done
  echo "$(proc_ticks "$first") $rest" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f %.2f\n", $1 / hz, $2 / hz }'
}

# Clock ticks of user and system time of one process: fields 14 and 15 of /proc/PID/stat, counted
# after the command name, which is in parentheses and may hold spaces.
proc_ticks() {
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# One job against one URI, one result line appended to OUTFILE:
#   LABEL <tab> RW BS QDn <tab> MB/s <tab> IOPS <tab> p50 µs <tab> p99 µs <tab> p99.9 µs
# randrw is 70 % reads; its MB/s and IOPS are reads and writes together, its latencies the reads'.
# usage: fio_job URI LABEL RUNTIME SIZE OUTFILE RW BS QD
fio_job() {
  local uri=$1 label=$2 runtime=$3 size=$4 out=$5 rw=$6 bs=$7 qd=$8 pids=() cpu0
  if [ -n "${FIO_CPU_PIDS:-}" ] && [ -n "${FIO_JSON_DIR:-}" ]; then
    read -ra pids <<< "$($FIO_CPU_PIDS "$label")"
  fi
  if [ ${#pids[@]} -gt 0 ]; then cpu0=$(cpu_seconds "${pids[@]}"); fi
  fio_nbd x "$uri" "$size" "$rw" "$bs" "$qd" --numjobs=1 --time_based --runtime="$runtime" \
      --ramp_time="${FIO_RAMP:-1}" --output-format=json --output="$out.json" \
      || { echo "fio failed on $label $rw" >&2; return 1; }
  if [ ${#pids[@]} -gt 0 ]; then
    mkdir -p "$FIO_JSON_DIR/cpu"
    echo "$cpu0 $(cpu_seconds "${pids[@]}")" | awk -v ramp="${FIO_RAMP:-1}" -v replicas=$((${#pids[@]} - 1)) \
      '{ printf "{\"rampSeconds\": %s, \"serverCpuSeconds\": %.2f, \"replicaCpuSeconds\": %.2f, \"replicaProcesses\": %d}\n", ramp, $3 - $1, $4 - $2, replicas }' \
      > "$FIO_JSON_DIR/cpu/${label}_${rw}_${bs}_qd${qd}.json"
  fi
  if [ -n "${FIO_JSON_DIR:-}" ]; then
    mkdir -p "$FIO_JSON_DIR" && cp "$out.json" "$FIO_JSON_DIR/${label}_${rw}_${bs}_qd${qd}.json"
  fi
  if [ -n "${FIO_AFTER_JOB:-}" ]; then $FIO_AFTER_JOB "$label" "$rw" "$bs" "$qd"; fi
  /usr/bin/python3 - "$label" "$rw" "$bs" "$qd" "$out.json" >> "$out" <<'PY'
import json, sys
label, rw, bs, qd, path = sys.argv[1:]
j = json.load(open(path))["jobs"][0]
sides = [j[s] for s in ("read", "write") if s in rw or rw == "randrw"]
bw = sum(s["bw_bytes"] for s in sides); iops = sum(s["iops"] for s in sides)
pct = sides[0]["clat_ns"].get("percentile", {})
lat = [pct.get(k, 0) / 1000 for k in ("50.000000", "99.000000", "99.900000")]
print(f"{label}\t{rw} {bs} QD{qd}\t{bw / 1e6:.1f}\t{iops:.0f}\t" + "\t".join(f"{x:.0f}" for x in lat))
PY
}

# Writes the whole volume once (not measured): later writes overwrite allocated storage, as on a
# used disk, instead of paying for the first allocation of tmpfs pages.
# usage: fio_precondition URI SIZE
fio_precondition() {
  fio_nbd precondition "$1" "$2" write 1M 8 || { echo "fio failed preconditioning $1" >&2; return 1; }
}

# One job run unmeasured for FIO_WARMUP seconds (see the top of this file).
# usage: fio_warmup URI SIZE RW BS QD
fio_warmup() {
  fio_nbd warmup "$1" "$2" "$3" "$4" "$5" --time_based --runtime="${FIO_WARMUP:-5}" \
      || { echo "fio failed warming up $1 with $3" >&2; return 1; }
}

# Both sides preconditioned and warmed up, then each job on the peer and on ours back to back, so both run in
# the same machine state (on a shared VM the second of two long runs is often slower). Further
# "URI LABEL" pairs are references, preconditioned too and run after ours in each job.
# usage: fio_compare PEER_URI PEER_LABEL OUR_URI OUR_LABEL RUNTIME SIZE OUTFILE [REF_URI REF_LABEL]...
fio_compare() {
  local peer_uri=$1 peer=$2 our_uri=$3 ours=$4 runtime=$5 size=$6 out=$7 job
  shift 7
  local targets=("$peer_uri" "$peer" "$our_uri" "$ours" "$@") i
  for ((i = 0; i < ${#targets[@]}; i += 2)); do
    fio_precondition "${targets[i]}" "$size" || return 1
    if [ -n "${FIO_AFTER_JOB:-}" ]; then $FIO_AFTER_JOB "${targets[i + 1]}" precondition 1M 8; fi
  done
  local IFS_SAVE=$IFS jobs
  IFS=, read -ra jobs <<< "${FIO_JOBS:-$FIO_JOBS_DEFAULT}"
  IFS=$IFS_SAVE
  if [ "${FIO_WARMUP:-5}" != 0 ]; then
    echo "  fio warm-up: every job ${FIO_WARMUP:-5}$([[ ${FIO_WARMUP:-5} =~ ^[0-9]+$ ]] && echo s) on each target, unmeasured" >&2
    for ((i = 0; i < ${#targets[@]}; i += 2)); do
      for job in "${jobs[@]}"; do
        fio_warmup "${targets[i]}" "$size" $job || return 1
      done
      # The snapshot the first measured job is compared with comes after the warm-up.
      if [ -n "${FIO_AFTER_JOB:-}" ]; then $FIO_AFTER_JOB "${targets[i + 1]}" precondition 1M 8; fi
    done
  fi
  for job in "${jobs[@]}"; do
    echo "  fio $job: $(for ((i = 1; i < ${#targets[@]}; i += 2)); do printf '%s ' "${targets[i]}"; done)" >&2
    for ((i = 0; i < ${#targets[@]}; i += 2)); do
      fio_job "${targets[i]}" "${targets[i + 1]}" "$runtime" "$size" "$out" $job || return 1
    done
  done
}

# usage: fio_table OUTFILE PEER_LABEL OURS_LABEL — prints both and the ratio ours/peer per job.
fio_table() {
  /usr/bin/python3 - "$@" <<'PY'
import sys
path, peer, ours = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
by = {}
for label, job, mbs, iops, *lat in rows:
    by.setdefault(job, {})[label] = (float(mbs), float(iops))
print(f"| job | {peer} | {ours} | ratio |")
print("|---|---|---|---|")
for job, v in by.items():
    if peer not in v or ours not in v:
        continue
    metric = 1 if job.split()[1] == "4k" else 0
    unit = "IOPS" if metric else "MB/s"
    p, o = v[peer][metric], v[ours][metric]
    print(f"| {job} | {p:.0f} {unit} | {o:.0f} {unit} | {o / p if p else float('nan'):.2f} |")
PY
}
