# Shared by the fio benchmark scripts: runs the four standard jobs against one NBD URI and prints
# one line per job. Source it; needs fio (nbd engine) and Debian's /usr/bin/python3.
# One job against one URI, one result line appended to OUTFILE.
# usage: fio_job URI LABEL RUNTIME SIZE OUTFILE RW BS QD
fio_job() {
  local uri=$1 label=$2 runtime=$3 size=$4 out=$5 rw=$6 bs=$7 qd=$8
  fio --name=x --ioengine=nbd --uri="$uri" --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs=1 \
      --size="$size" --time_based --runtime="$runtime" --ramp_time=1 \
      --output-format=json --output="$out.json" >/dev/null 2>&1 || { echo "fio failed on $label $rw" >&2; return 1; }
  /usr/bin/python3 - "$label" "$rw" "$bs" "$qd" "$out.json" >> "$out" <<'PY'
import json, sys
label, rw, bs, qd, path = sys.argv[1:]
j = json.load(open(path))["jobs"][0]
r = j["read" if "read" in rw else "write"]
print(f"{label}\t{rw} {bs} QD{qd}\t{r['bw_bytes'] / 1e6:.1f}\t{r['iops']:.0f}")
PY
}

# Writes the whole volume once (not measured): later writes overwrite allocated storage, as on a
# used disk, instead of paying for the first allocation of tmpfs pages.
# usage: fio_precondition URI SIZE
fio_precondition() {
  fio --name=precondition --ioengine=nbd --uri="$1" --rw=write --bs=1M --iodepth=8 --size="$2" \
      >/dev/null 2>&1 || { echo "fio failed preconditioning $1" >&2; return 1; }
}

# Both sides preconditioned, then each job on the peer and on ours back to back, so both run in
# the same machine state (on a shared VM the second of two long runs is often slower).
# usage: fio_compare PEER_URI PEER_LABEL OUR_URI OUR_LABEL RUNTIME SIZE OUTFILE
fio_compare() {
  local peer_uri=$1 peer=$2 our_uri=$3 ours=$4 runtime=$5 size=$6 out=$7 job
  fio_precondition "$peer_uri" "$size" && fio_precondition "$our_uri" "$size" || return 1
  for job in "write 1M 8" "read 1M 8" "randwrite 4k 32" "randread 4k 32"; do
    fio_job "$peer_uri" "$peer" "$runtime" "$size" "$out" $job || return 1
    fio_job "$our_uri" "$ours" "$runtime" "$size" "$out" $job || return 1
  done
}

# usage: fio_table OUTFILE PEER_LABEL OURS_LABEL — prints both and the ratio ours/peer per job.
fio_table() {
  /usr/bin/python3 - "$@" <<'PY'
import sys
path, peer, ours = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
by = {}
for label, job, mbs, iops in rows:
    by.setdefault(job, {})[label] = (float(mbs), float(iops))
print(f"| job | {peer} | {ours} | ratio |")
print("|---|---|---|---|")
for job, v in by.items():
    if peer not in v or ours not in v:
        continue
    metric = 1 if "4k" in job else 0
    unit = "IOPS" if metric else "MB/s"
    p, o = v[peer][metric], v[ours][metric]
    print(f"| {job} | {p:.0f} {unit} | {o:.0f} {unit} | {o / p if p else float('nan'):.2f} |")
PY
}
