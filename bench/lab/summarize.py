#!/usr/bin/python3
"""Turns one bench/lab/run.sh results directory into lab.md, lab.dat and lab.png (gnuplot).

usage: bench/lab/summarize.py LAB_DIR

Reads LAB_DIR/env.txt and, per rate R, rate-R/replicas.txt ("K READ_B/S WRITE_B/S" per replica,
fio against each replica alone), rate-R/all-replicas/{read,write}.json (fio against all replicas at
once), rate-R/vault/RW_BS_qdQD.json (fio against nbdvault) and rate-R/status/*.json (nbdvault's
status --json before and after each job). Standard library only.
"""
import glob
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from summarize import layer_totals, LAYERS, read_env, fmt  # noqa: E402  (bench/summarize.py)

GROUPS, COPIES = 5, 3
NIC = 1.25e9          # 10 Gbit/s in bytes per second
NOMINAL = 800e6 / 8   # rate=800M: the founding lab's 100 MB/s per replica (nbdkit counts 1M as 2^20)
READ_SHARE = 0.7      # randrw


def parse_rate(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]?)", text)
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]
    return float(m.group(1)) * scale / 8  # bits to bytes


def fio_bw(path):
    jobs = json.load(open(path))["jobs"]
    return sum(j["read"]["bw_bytes"] for j in jobs), sum(j["write"]["bw_bytes"] for j in jobs), jobs


def lab_rate(d, rate):
    """Figures for one rate: limits, the machine's own ceiling, and nbdvault's jobs."""
    reps = []
    for line in open(os.path.join(d, "replicas.txt")):
        k, r, w = line.split()
        reps.append((int(k), float(r), float(w)))
    reps.sort()
    # The 10 GbE cap shrinks with the rate, so a scaled-down lab keeps the founding lab's proportions.
    cap = NIC * parse_rate(rate) / (NOMINAL * 1.048576)
    read_limit = min(sum(r for _, r, _ in reps), cap)
    write_limit = sum(min(w for _, _, w in reps[g * COPIES:(g + 1) * COPIES]) for g in range(GROUPS))
    res = {"replicas": reps, "cap": cap, "read_limit": read_limit, "write_limit": write_limit, "jobs": {}}
    for side in ("read", "write"):
        path = os.path.join(d, "all-replicas", side + ".json")
        if os.path.exists(path):
            r, w, _ = fio_bw(path)
            res["all_" + side] = r + w
    for path in sorted(glob.glob(os.path.join(d, "vault", "*.json")), key=os.path.getmtime):
        rw, bs, qd = os.path.basename(path)[:-5].split("_")
        r, w, jobs = fio_bw(path)
        if rw == "randrw":
            limit = 1 / (READ_SHARE / read_limit + (1 - READ_SHARE) / write_limit)
        else:
            limit = read_limit if "read" in rw else write_limit
        side = jobs[0]["read" if "read" in rw else "write"]
        pct = side["clat_ns"].get("percentile", {})
        res["jobs"][f"{rw} {bs} QD{qd[2:]}"] = {
            "bw": r + w, "iops": sum(j["read"]["iops"] + j["write"]["iops"] for j in jobs),
            "limit": limit, "pct": 100 * (r + w) / limit if limit else float("nan"),
            "p50": pct.get("50.000000", 0) / 1000, "p99": pct.get("99.000000", 0) / 1000}
    # Per-layer mean latency per job, from consecutive status snapshots (file names sort in job order).
    snaps = sorted(glob.glob(os.path.join(d, "status", "*.json")), key=lambda p: int(os.path.basename(p).split("-")[0]))
    before = None
    for path in snaps:
        try:
            now = layer_totals(json.load(open(path)))
        except (ValueError, OSError):
            before = None
            continue
        name = os.path.basename(path)[:-5].split("-", 1)[1]
        if before is not None and name != "precondition":
            rw, bs, qd = name.split("_")
            job = res["jobs"].get(f"{rw} {bs} QD{qd[2:]}")
            if job is not None:
                for layer in LAYERS:
                    n = now.get(layer, (0, 0))[0] - before.get(layer, (0, 0))[0]
                    t = now.get(layer, (0, 0))[1] - before.get(layer, (0, 0))[1]
                    job["mean_" + layer] = t / n if n > 0 else float("nan")
        before = now
    return res


def main():
    out = sys.argv[1]
    env = read_env(out)
    rates = sorted((os.path.basename(p)[5:] for p in glob.glob(os.path.join(out, "rate-*"))),
                   key=parse_rate, reverse=True)
    figures = {rate: lab_rate(os.path.join(out, "rate-" + rate), rate) for rate in rates}
    lines = [f"# The founding lab at 10 GbE, simulated ({env.get('date', '')})", "",
             "| | |", "|---|---|"]
    for key in ("command", "cpu", "cores", "jdk", "nbdkit", "fio", "commit", "runtime", "volume"):
        if key in env:
            lines.append(f"| {key} | `{env[key]}` |")
    lines += ["",
              "Fifteen replica volumes (`nbdkit memory` behind `--filter=rate`, on this host), nbdvault "
              "`create --groups 5 --copies 3` over them (LUKS2, AES-XTS), fio's nbd engine against nbdvault. "
              "Each replica's rate is measured in the same run by fio against it alone (read and write 1M QD8, "
              "after a ramp that empties the rate filter's burst bucket, made 0.25 s deep instead of its default 2 s). Every figure is a percentage "
              "of the physical limit: reads min(sum of the 15 replicas' read rates, the client's 10 GbE link), "
              "writes the sum over the 5 groups of the slowest copy's write rate (every copy takes every write), "
              "randrw their 70/30 time-weighted mix. The 10 GbE cap is scaled with the rate "
              "(1.25 GB/s at rate=800M, about 100 MB/s a replica). *All replicas at once* is fio against the "
              "15 replicas directly, no nbdvault: what this machine can drive at all, the practical ceiling "
              "when the cores are the limit. Goal: ≥ 90 % of the limit for sequential reads and writes. The "
              "simulation does not model the client's link: a read figure above 100 % means nbdvault read faster "
              "than a real 10 GbE link would carry (the replicas together allow more than the cap).", ""]
    for rate, f in figures.items():
        reps = f["replicas"]
        rd = [r for _, r, _ in reps]
        wr = [w for _, _, w in reps]
        lines += [f"## rate={rate} (about {parse_rate(rate) / 1e6:.0f} MB/s a replica nominal)", "",
                  f"- replicas alone: reads {min(rd) / 1e6:.0f}–{max(rd) / 1e6:.0f} MB/s, writes "
                  f"{min(wr) / 1e6:.0f}–{max(wr) / 1e6:.0f} MB/s each",
                  f"- read limit: {f['read_limit'] / 1e6:.0f} MB/s (15 replicas {sum(rd) / 1e6:.0f} MB/s, "
                  f"10 GbE cap {f['cap'] / 1e6:.0f} MB/s); write limit: {f['write_limit'] / 1e6:.0f} MB/s"]
        if "all_read" in f:
            lines.append(f"- all 15 replicas at once, no nbdvault: reads {f['all_read'] / 1e6:.0f} MB/s "
                         f"({100 * f['all_read'] / f['read_limit']:.0f} % of the read limit), writes "
                         f"{f['all_write'] / 1e6:.0f} MB/s ({100 * f['all_write'] / sum(wr):.0f} % of the 15 "
                         f"replicas' write rates)")
        lines += ["", "| job | nbdvault | limit | % of limit | p50 / p99 µs | mean µs: NBD front / encryption / array / one replica request |",
                  "|---|---|---|---|---|---|"]
        for job, j in f["jobs"].items():
            means = " / ".join(fmt(j.get("mean_" + layer, float("nan")), 0) for layer in LAYERS)
            lines.append(f"| {job} | {j['bw'] / 1e6:.0f} MB/s ({j['iops']:.0f} IOPS) | {j['limit'] / 1e6:.0f} MB/s | "
                         f"**{j['pct']:.0f} %** | {j['p50']:.0f} / {j['p99']:.0f} | {means} |")
        lines.append("")
    jobs = []
    for f in figures.values():
        jobs += [j for j in f["jobs"] if j not in jobs]
    with open(os.path.join(out, "lab.dat"), "w") as dat:
        dat.write("job\t" + "\t".join(f'"rate={r}"' for r in rates) + "\n")
        for job in jobs:
            dat.write(f'"{job}"\t' + "\t".join(f"{figures[r]['jobs'][job]['pct']:.1f}" if job in figures[r]["jobs"]
                                              else "NaN" for r in rates) + "\n")
    series = ", ".join(f"'lab.dat' using {i + 2}:xtic(1) title columnhead" for i in range(len(rates)))
    subprocess.run(["gnuplot"], text=True, cwd=out, check=True, input=f"""
set terminal pngcairo size 900,500 font ",10"
set output 'lab.png'
set title 'nbdvault, 5 groups x 3 copies over 15 rate-limited replicas: % of the physical limit (goal 90 %)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right
set yrange [0:110]
set grid ytics
set ylabel '% of limit'
set xtics rotate by -25 offset -1,0
set bmargin 5
plot {series}, 90 with lines dashtype 2 linecolor rgb 'red' title 'goal'
""")
    lines += ["![lab: % of the physical limit](lab.png)", "",
              "Raw data: `rate-*/replicas/*.json` and `replicas.txt` (each replica alone), `rate-*/all-replicas/*.json`, "
              "`rate-*/vault/*.json` (fio against nbdvault), `rate-*/status/*.json` (nbdvault status --json "
              "after each job), `lab.dat` (the chart's data).", ""]
    with open(os.path.join(out, "lab.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
