#!/usr/bin/python3
"""Turns one bench/scaling/run.sh results directory into scaling.md, scaling.dat and scaling.png.

usage: bench/scaling/summarize.py DIR

Reads DIR/env.txt, DIR/replicas.txt ("K READ_B/S WRITE_B/S", three replicas alone) and
DIR/results.txt ("GROUPS COPIES RW BYTES_PER_S" per layout and job). Standard library only.
"""
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from summarize import read_env  # noqa: E402  (bench/summarize.py)


def main():
    out = sys.argv[1]
    env = read_env(out)
    reps = [line.split() for line in open(os.path.join(out, "replicas.txt")) if line.strip()]
    rate_r = statistics.mean(float(r) for _, r, _ in reps)
    rate_w = statistics.mean(float(w) for _, _, w in reps)
    res = {}
    for line in open(os.path.join(out, "results.txt")):
        g, c, rw, bw = line.split()
        res[(int(g), int(c), rw)] = float(bw)
    groups = sorted({g for g, _, _ in res})
    copies = sorted({c for _, c, _ in res})
    lines = [f"# nbdvault scaling with copies and groups ({env.get('date', '')})", "", "| | |", "|---|---|"]
    for key in ("command", "cpu", "cores", "jdk", "rate", "runtime", "volume", "layouts", "commit"):
        if key in env:
            lines.append(f"| {key} | `{env[key]}` |")
    lines += ["",
              f"Replicas: `nbdkit memory` behind `--filter=rate rate={env.get('rate', '?')}`, measured alone in the same "
              f"run at {rate_r / 1e6:.1f} MB/s reads and {rate_w / 1e6:.1f} MB/s writes (mean of three). fio's nbd "
              "engine, sequential 1M QD16 against nbdvault (LUKS2) over G groups × C copies. The ideal: reads = "
              "G × C × the replica's read rate (any copy serves a read), writes = G × its write rate (every copy "
              "takes every write). Each cell: MB/s and, in brackets, % of that ideal.", ""]
    for rw in ("read", "write"):
        lines += [f"### {rw} 1M QD16", "", "| groups \\ copies | " + " | ".join(str(c) for c in copies) + " |",
                  "|---|" + "---|" * len(copies)]
        for g in groups:
            cells = []
            for c in copies:
                bw = res.get((g, c, rw))
                ideal = g * c * rate_r if rw == "read" else g * rate_w
                cells.append("–" if bw is None else f"{bw / 1e6:.0f} MB/s ({100 * bw / ideal:.0f} %)")
            lines.append(f"| {g} | " + " | ".join(cells) + " |")
        lines.append("")
    with open(os.path.join(out, "scaling.dat"), "w") as dat:
        dat.write("copies\t" + "\t".join(f"read-g{g}\twrite-g{g}" for g in groups) + "\n")
        for c in copies:
            cells = []
            for g in groups:
                for rw in ("read", "write"):
                    bw = res.get((g, c, rw))
                    cells.append("NaN" if bw is None else f"{bw / 1e6:.1f}")
            dat.write(f"{c}\t" + "\t".join(cells) + "\n")
    plots = {rw: ", ".join(f"'scaling.dat' using 1:{2 + 2 * i + (rw == 'write')} with linespoints lw 2 "
                           f"title '{g} group{'s' if g > 1 else ''}'" for i, g in enumerate(groups))
             for rw in ("read", "write")}
    subprocess.run(["gnuplot"], text=True, cwd=out, check=True, input=f"""
set terminal pngcairo size 1000,450 font ",10"
set output 'scaling.png'
set multiplot layout 1,2 title 'nbdvault throughput vs copies and groups (replicas at {rate_r / 1e6:.0f} MB/s each, sequential 1M QD16)'
set grid
set key top left
set xlabel 'copies'
set ylabel 'MB/s'
set xtics ({", ".join(str(c) for c in copies)})
set yrange [0:*]
set title 'reads (ideal: groups x copies x replica rate)'
plot {plots['read']}
set title 'writes (ideal: groups x replica rate)'
plot {plots['write']}
unset multiplot
""")
    lines += ["![scaling](scaling.png)", "",
              "Raw data: `g*c*/{read,write}.json` (fio), `replicas/` and `replicas.txt` (the replicas alone), "
              "`results.txt`, `scaling.dat`.", ""]
    with open(os.path.join(out, "scaling.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
