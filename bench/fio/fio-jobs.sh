# Shared by the fio benchmark scripts: runs the four standard jobs against one NBD URI and prints
# one line per job. Source it; needs fio (nbd engine) and Debian's /usr/bin/python3.
# usage: fio_jobs URI LABEL RUNTIME SIZE OUTFILE
fio_jobs() {
  local uri=$1 label=$2 runtime=$3 size=$4 out=$5 job
  for job in "write 1M 8" "read 1M 8" "randwrite 4k 32" "randread 4k 32"; do
    set -- $job
    fio --name=x --ioengine=nbd --uri="$uri" --rw="$1" --bs="$2" --iodepth="$3" --numjobs=1 \
        --size="$size" --time_based --runtime="$runtime" --ramp_time=1 \
        --output-format=json --output="$out.json" >/dev/null 2>&1 || { echo "fio failed on $label $1" >&2; return 1; }
    /usr/bin/python3 - "$label" "$1" "$2" "$3" "$out.json" >> "$out" <<'PY'
import json, sys
label, rw, bs, qd, path = sys.argv[1:]
j = json.load(open(path))["jobs"][0]
r = j["read" if "read" in rw else "write"]
print(f"{label}\t{rw} {bs} QD{qd}\t{r['bw_bytes'] / 1e6:.1f}\t{r['iops']:.0f}")
PY
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
