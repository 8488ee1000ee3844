#!/usr/bin/python3
"""Turns one bench/run.sh results directory into summary.md and PNG charts (drawn by gnuplot).

usage: bench/summarize.py RESULTS_DIR
       bench/summarize.py --latest RESULTS_ROOT

The second form writes RESULTS_ROOT/latest.md: each part (XTS, fio, lab, scaling) from the newest
dated directory under RESULTS_ROOT that ran it, so a run of one part (`bench/run.sh --only xts`)
does not hide the last results of the others.

Reads what bench/run.sh left there:
  env.txt                         machine, JDK, versions, command (key: value lines)
  jmh-xts.repN.json               JMH's JSON, one fork per repetition
  openssl.txt                     "REP SIZE BYTES_PER_SECOND" lines from `openssl speed -evp aes-256-xts -elapsed`
  xts-cputime.repN.json           XtsCpuTime: bytes per CPU-second of the working thread
  openssl-cpu.txt                 as openssl.txt, from `openssl speed` without -elapsed (per CPU-second)
  fio/SCRIPT/repN/*.json          fio's JSON, one file per target and job
  fio/SCRIPT/repN/status/*.json   nbdvault's `status --json` after preconditioning, after warm-up and after each of its jobs
  fio/SCRIPT/repN/cpu/*.json      CPU seconds of each target's server and replicas during each measured job
Every figure in the summary is the median over the repetitions; ratios are taken within a repetition
(ours and the peer measured back to back), then their median is reported.
Only the Python standard library is used, so Debian's /usr/bin/python3 runs it as it is.
"""
import glob
import json
import os
import re
import statistics
import subprocess
import sys

# fio comparisons: (script, peer label, our label, chart name, title); one script may hold several.
FIO = [
    ("replicated-vs-qsd", "qsd", "nbdvault", "fio-replicated-vs-qsd",
     "nbdvault serve (LUKS2, 3 copies) vs qemu-storage-daemon luks(quorum(3 nbd))"),
    ("replicated-vs-qsd", "qsd", "nbdvault-untagged", "fio-replicated-vs-qsd-untagged",
     "nbdvault serve without integrity tags (`create --integrity none`: like for like, qsd checks nothing) "
     "vs qemu-storage-daemon luks(quorum(3 nbd))"),
    ("replicated-vs-qsd", "nbdkit-luks", "nbdvault", "fio-replicated-vs-nbdkit-luks",
     "nbdvault serve (LUKS2, 3 copies) vs nbdkit file --filter=luks (one copy: a reference, not a peer)"),
    ("nbd-vs-nbdkit", "nbdkit", "nbdvault", "fio-nbd-vs-nbdkit",
     "nbdvault export memory vs nbdkit memory (NBD, no crypto, no copies)"),
]
JOB_ORDER = ["write 1M QD8", "read 1M QD8", "randwrite 4k QD32", "randread 4k QD32", "randrw 64k QD16"]


def metric_of(job):
    """Small random jobs are counted in IOPS, the others in MB/s."""
    return "IOPS" if job.split()[1] == "4k" else "MB/s"


def median(values):
    return statistics.median(values) if values else float("nan")


def read_env(out):
    env = {}
    path = os.path.join(out, "env.txt")
    if os.path.exists(path):
        for line in open(path):
            if ":" in line:
                k, v = line.split(":", 1)
                env[k.strip()] = v.strip()
    return env


def xts_results(out, cpu=False):
    """{(benchmark, size): [bytes/s per rep]} and {size: [openssl bytes/s per rep]}, plus ratios per rep:
    wall-clock (JMH, openssl -elapsed) or, with cpu=True, per CPU-second (XtsCpuTime, openssl)."""
    jmh = {}
    per_rep = {}
    for path in sorted(glob.glob(os.path.join(out, "xts-cputime.rep*.json" if cpu else "jmh-xts.rep*.json"))):
        rep = int(re.search(r"rep(\d+)", path).group(1))
        for r in json.load(open(path)):
            if cpu:
                size, name, value = r["size"], r["benchmark"], r["bytesPerCpuSecond"]
            else:
                size = int(r["params"]["size"])
                name = r["benchmark"].rsplit(".", 1)[1]
                value = r["primaryMetric"]["score"] * size  # ops/s × bytes per op
            jmh.setdefault((name, size), []).append(value)
            per_rep[(rep, name, size)] = value
    ssl = {}
    ssl_rep = {}
    path = os.path.join(out, "openssl-cpu.txt" if cpu else "openssl.txt")
    if os.path.exists(path):
        for line in open(path):
            rep, size, value = line.split()
            ssl.setdefault(int(size), []).append(float(value))
            ssl_rep[(int(rep), int(size))] = float(value)
    ratios = {}
    for (rep, name, size), value in per_rep.items():
        if (rep, size) in ssl_rep and ssl_rep[(rep, size)] > 0:
            ratios.setdefault((name, size), []).append(value / ssl_rep[(rep, size)])
    return jmh, ssl, ratios


def fio_results(out, script, peer, ours):
    """{job: {label: {metric: median}}} and {job: [ratio ours/peer per rep]} for one comparison."""
    rows = {}
    for path in sorted(glob.glob(os.path.join(out, "fio", script, "rep*", "*.json"))):
        rep = os.path.basename(os.path.dirname(path))
        label, rw, bs, qd = os.path.basename(path)[:-5].split("_")
        job = f"{rw} {bs} QD{qd[2:]}"
        j = json.load(open(path))["jobs"][0]
        sides = [j[s] for s in ("read", "write") if s in rw or rw == "randrw"]
        pct = sides[0]["clat_ns"].get("percentile", {})
        m = {
            "MB/s": sum(s["bw_bytes"] for s in sides) / 1e6,
            "IOPS": sum(s["iops"] for s in sides),
            "p50": pct.get("50.000000", 0) / 1000,
            "p99": pct.get("99.000000", 0) / 1000,
            "p99.9": pct.get("99.900000", 0) / 1000,
        }
        rows.setdefault(job, {}).setdefault(label, {}).setdefault(rep, m)
    table = {}
    ratios = {}
    for job, by_label in rows.items():
        metric = metric_of(job)
        for label, reps in by_label.items():
            table.setdefault(job, {})[label] = {k: median([m[k] for m in reps.values()]) for k in
                                                ("MB/s", "IOPS", "p50", "p99", "p99.9")}
        if peer in by_label and ours in by_label:
            for rep in by_label[ours]:
                if rep in by_label[peer] and by_label[peer][rep][metric] > 0:
                    ratios.setdefault(job, []).append(by_label[ours][rep][metric] / by_label[peer][rep][metric])
    return table, ratios


LAYERS = ["nbd", "encryption", "array", "replicas"]


def layer_totals(status):
    """{layer: (requests, sum of µs)} over every request type, replicas summed into one "replicas" layer."""
    out = {}
    for l in status.get("layers", []):
        name = "replicas" if l["layer"].startswith("replica ") else l["layer"]
        n, total = out.get(name, (0, 0.0))
        out[name] = (n + l["requests"], total + l["requests"] * max(0, l.get("meanMicros", 0)))
    return out


def server_paths(out, script):
    """{what: value} of the code paths nbdvault's server took, as its status snapshots name them (the
    JVM, the socket transport, the XTS mask path and the integrity MAC's passes), so that a table is read
    with the paths that made it."""
    keys = {"javaRuntime": "the JVM", "socketTransport": "sockets on", "xtsMaskPath": "XTS masks on the path",
            "integrityPasses": "the integrity MAC's passes"}
    seen = {}
    for path in sorted(glob.glob(os.path.join(out, "fio", script, "rep*", "status", "*.json"))):
        try:
            status = json.load(open(path))
        except (ValueError, OSError):
            continue
        for key, label in keys.items():
            if key in status:
                seen.setdefault(label, set()).add(str(status[key]))
    return {label: " and ".join(sorted(values)) for label, values in seen.items()}


def where_time_goes(out, script):
    """{job: {layer: [mean µs per rep]}} and {job: [replica requests per NBD request per rep]}: each job's
    figures are the difference of the status snapshots taken before and after it (means subtract)."""
    means, fanout = {}, {}
    for rep_dir in sorted(glob.glob(os.path.join(out, "fio", script, "rep*", "status"))):
        snaps = sorted(glob.glob(os.path.join(rep_dir, "*.json")), key=os.path.getmtime)
        before = None
        for path in snaps:
            try:
                now = layer_totals(json.load(open(path)))
            except (ValueError, OSError):
                before = None
                continue
            label, rw, bs, qd = os.path.basename(path)[:-5].split("_")
            if before is not None and rw != "precondition":
                job = f"{rw} {bs} QD{qd[2:]}"
                for layer in LAYERS:
                    n = now.get(layer, (0, 0))[0] - before.get(layer, (0, 0))[0]
                    t = now.get(layer, (0, 0))[1] - before.get(layer, (0, 0))[1]
                    if n > 0:
                        means.setdefault(job, {}).setdefault(layer, []).append(t / n)
                front = now.get("nbd", (0, 0))[0] - before.get("nbd", (0, 0))[0]
                reps = now.get("replicas", (0, 0))[0] - before.get("replicas", (0, 0))[0]
                if front > 0:
                    fanout.setdefault(job, []).append(reps / front)
            before = now
    return means, fanout


CPU_PARTS = ["fio", "server", "replicas"]


def cpu_per_request(out, script):
    """{job: {label: {part: [µs of CPU per request, per rep]}}}, part being fio, the server or its replicas
    (None for a target without replicas). The server's and replicas' CPU (bench/fio/fio-jobs.sh,
    FIO_CPU_PIDS) spans the whole fio run, ramp included; it is divided by the requests fio counted after
    the ramp plus those of the ramp, taken at the measured rate. fio's own is its usr + sys over its
    measured time."""
    res = {}
    for path in sorted(glob.glob(os.path.join(out, "fio", script, "rep*", "cpu", "*.json"))):
        fio_path = os.path.join(os.path.dirname(os.path.dirname(path)), os.path.basename(path))
        if not os.path.exists(fio_path):
            continue
        label, rw, bs, qd = os.path.basename(path)[:-5].split("_")
        j = json.load(open(fio_path))["jobs"][0]
        iops = sum(j[side]["iops"] for side in ("read", "write"))
        cpu = json.load(open(path))
        requests = sum(j[side]["total_ios"] for side in ("read", "write")) + iops * float(cpu["rampSeconds"])
        if requests <= 0 or iops <= 0:
            continue
        parts = res.setdefault(f"{rw} {bs} QD{qd[2:]}", {}).setdefault(label, {})
        parts.setdefault("fio", []).append((j["usr_cpu"] + j["sys_cpu"]) / 100 / iops * 1e6)
        parts.setdefault("server", []).append(cpu["serverCpuSeconds"] / requests * 1e6)
        if cpu.get("replicaProcesses", 0) > 0:
            parts.setdefault("replicas", []).append(cpu["replicaCpuSeconds"] / requests * 1e6)
    return res


def cpu_table(cpu, script, labels, cores):
    """Markdown: CPU per request of every process on each target's path, job by job."""
    lines = [f"### CPU per request of each process on the path ({script})", "",
             "µs of CPU (user + system, all threads) per request: fio, the target's server, and its replicas "
             "together (nbdkit processes), from `/proc/PID/stat` around each measured job (medians over the "
             f"repetitions). With all {cores} cores busy, a stack can do at most {cores} CPU-seconds per second "
             "÷ *all* requests per second, so *all* shows which stack leaves room for more, and *server* "
             "where nbdvault's own CPU goes beside its peer's.", "",
             "| job | target | fio µs | server µs | replicas µs | all µs |", "|---|---|---|---|---|---|"]
    for job in [j for j in JOB_ORDER if j in cpu] + [j for j in cpu if j not in JOB_ORDER]:
        for label in [l for l in labels if l in cpu[job]] + [l for l in cpu[job] if l not in labels]:
            m = {part: median(cpu[job][label].get(part, [])) for part in CPU_PARTS}
            digits = 0 if m["server"] >= 100 else 1
            total = sum(v for v in m.values() if v == v)  # a target without replicas counts none
            lines.append(f"| {job} | {label} | " + " | ".join(fmt(m[part], digits) for part in CPU_PARTS)
                         + f" | {fmt(total, digits)} |")
    return lines + ["", f"Raw: `fio/{script}/rep*/cpu/*.json` beside fio's JSON.", ""]


def previous_run(out, script):
    """The newest run before OUT in the same results directory that measured CPU per request for
    SCRIPT on the same kind of machine and in the same way (cpu, cores, mode, fio size), or None."""
    root, name = os.path.split(os.path.abspath(out))
    if not STAMP.match(name):
        return None
    env = read_env(out)
    same = ("cpu", "cores", "mode", "fio-size")
    for d in sorted((d for d in os.listdir(root) if STAMP.match(d) and d < name), reverse=True):
        if (all(read_env(os.path.join(root, d)).get(k) == env.get(k) for k in same)
                and glob.glob(os.path.join(root, d, "fio", script, "rep*", "cpu", "*.json"))):
            return d
    return None


def all_cpu(parts):
    """µs of CPU per request of every process on a target's path: the medians of fio, server, replicas."""
    return sum(v for v in (median(parts.get(p, [])) for p in CPU_PARTS) if v == v)


def machine_drift(out, script, cpu, labels, own, ours="nbdvault"):
    """Markdown: each target's CPU per request in this run ÷ in the previous comparable run. The peers
    run the same programs in both, so theirs is the machine's drift (other tenants, a slower host):
    what makes absolute figures of two runs incomparable while ratios within a run stay sound. OWN are
    the labels that run nbdvault's code (OURS and its variants), never counted among the peers."""
    prev = previous_run(out, script)
    if prev is None:
        return []
    before = cpu_per_request(os.path.join(os.path.dirname(os.path.abspath(out)), prev), script)
    labels = [label for label in labels if label != ours] + [ours]
    rows, drift = [], []
    for job in [j for j in JOB_ORDER if j in cpu] + [j for j in cpu if j not in JOB_ORDER]:
        ratio = {}
        for label in labels:
            if label in cpu[job] and label in before.get(job, {}):
                now, then = all_cpu(cpu[job][label]), all_cpu(before[job][label])
                if now > 0 and then > 0:
                    ratio[label] = now / then
        peers = [r for label, r in ratio.items() if label not in own]
        if not peers:
            continue
        drift += peers
        unexplained = fmt(ratio[ours] / median(peers)) if ours in ratio else "–"
        rows.append(f"| {job} | " + " | ".join(fmt(ratio.get(label, float("nan"))) for label in labels)
                    + f" | {unexplained} |")
    if not rows:
        return []
    return [f"### This machine against run {prev} ({script})", "",
            f"The peers needed **{median(drift):.2f}×** ({min(drift):.2f}–{max(drift):.2f}×) the CPU per request they "
            f"needed in [{prev}](../{prev}/summary.md), the newest earlier run on the same kind of machine (cpu, cores, "
            "mode and volume size as here).", "",
            "Each cell is a target's *all µs* (above) in this run ÷ in that one. The peers ran the same programs both times, "
            f"so their ratio is the machine's drift ({ours}'s variants are not counted among them): on these shared machines the peers have needed up to 1.4× the CPU per "
            "request of a run earlier the same day. Well above 1, this run's absolute figures do not compare with that "
            f"run's; its ratios to a peer measured in the same run still do. *{ours} ÷ peers* divides {ours}'s ratio by "
            f"the peers' median for the job: the change the machine does not explain ({ours}'s code, or noise).", "",
            "| job | " + " | ".join(labels) + f" | {ours} ÷ peers |", "|---" * (len(labels) + 2) + "|"] + rows + [""]


# The ratios to qemu-storage-daemon that the project set as goals (issue 13), job by job.
QSD_GOALS = {"write 1M QD8": 3.0, "read 1M QD8": 4.0, "randwrite 4k QD32": 2.0, "randread 4k QD32": 2.0}


def goal_budget(cpu, results, cores, peer="qsd", ours="nbdvault", explain=True):
    """Markdown: each goal, the ratio reached, and how much server CPU per request the goal leaves
    OURS on this machine. All the processes share the cores, so reaching goal × the peer's rate means
    every request's CPU (fio, the server, its replicas) fits in cores ÷ that rate; what fio and the
    replicas take is not nbdvault's to spend. A negative allowance means no server could reach the goal
    here. RESULTS is fio_results() of the comparison; EXPLAIN adds the paragraph on how to read it."""
    table, ratios = results
    try:
        n = float(cores)
    except ValueError:
        return []
    rows = []
    for job in [j for j in JOB_ORDER if j in QSD_GOALS and j in cpu and j in table]:
        if peer not in table[job] or ours not in table[job] or ours not in cpu[job]:
            continue
        m = {part: median(cpu[job][ours].get(part, [])) for part in CPU_PARTS}
        rate, ours_rate = table[job][peer]["IOPS"], table[job][ours]["IOPS"]
        if not rate > 0 or any(m[p] != m[p] for p in CPU_PARTS):
            continue
        others = m["fio"] + m["replicas"]
        goal = QSD_GOALS[job]
        reached = median(ratios.get(job, []))
        verdict = "–" if reached != reached else ("yes" if reached >= goal else "no")
        allowed = n * 1e6 / (goal * rate) - others
        busy = ours_rate * (others + m["server"]) / (n * 1e6)
        d = 0 if m["server"] >= 100 else 1
        rows.append(f"| {job} | {goal:g}× | {fmt(reached)}× | {verdict} | {rate:.0f} | {others:.{d}f} | "
                    f"{allowed:.{d}f} | {m['server']:.{d}f} | {n * 1e6 / others / rate:.2f} | {busy * 100:.0f} % |")
    if not rows:
        return []
    intro = [f"fio, {ours} and its replicas share the {cores} cores, so goal × {peer}'s rate needs every request's "
             f"CPU to fit in {cores} CPU-seconds ÷ that rate. *Allowed* is what is left for {ours}'s server once "
             "fio and the replicas (as measured above) have theirs, with every core busy all the time; *ceiling* is "
             f"the ratio to {peer} a server costing nothing would reach. *Cores busy* is how much of the machine "
             f"{ours}'s stack used during the job (below 100 %, the requests in flight were all waiting at times). "
             f"*Reached* is the median ratio {ours} / {peer} of the comparison above.", ""] if explain else \
        [f"As above, for {ours}.", ""]
    return [f"### What the goals leave for {ours}'s server (replicated-vs-qsd)", ""] + intro + [
            f"| job | goal | reached | met | {peer} requests/s | fio + replicas µs | server µs allowed | server µs now "
            "| ceiling | cores busy |",
            "|---|---|---|---|---|---|---|---|---|---|"] + rows + [""]


def gnuplot(script, cwd):
    subprocess.run(["gnuplot"], input=script, text=True, cwd=cwd, check=True)


def chart_xts(out, jmh, ssl, unit):
    sizes = sorted({size for (_, size) in jmh})
    if not sizes:
        return None
    with open(os.path.join(out, "xts.dat"), "w") as f:
        f.write("size\tnbdvault-encrypt\tnbdvault-decrypt\tJDK-AES/ECB\tAES/ECB-in-use\topenssl-XTS\n")
        for size in sizes:
            cells = [median(jmh.get((n, size), [])) / 1e9
                     for n in ("xtsEncrypt", "xtsDecrypt", "jdkEcbCeiling", "engineEcbCeiling")]
            cells.append(median(ssl.get(size, [])) / 1e9)
            f.write('"%s"\t' % human(size) + "\t".join("%.3f" % c if c == c else "NaN" for c in cells) + "\n")
    gnuplot(f"""
set terminal pngcairo size 900,500 font ",10"
set output 'xts.png'
set title 'AES-XTS-256 per core, {unit} (higher is better; median of the repetitions)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top left
set yrange [0:*]
set grid ytics
set xlabel 'request size'
set ylabel 'GB/s'
plot 'xts.dat' using 2:xtic(1) title columnhead, '' using 3 title columnhead, '' using 4 title columnhead, \\
     '' using 5 title columnhead, '' using 6 title columnhead
""", out)
    return "xts.png"


def chart_fio(out, name, peer, ours, ratios):
    jobs = [j for j in JOB_ORDER if j in ratios] + [j for j in ratios if j not in JOB_ORDER]
    if not jobs:
        return None
    with open(os.path.join(out, name + ".dat"), "w") as f:
        for job in jobs:
            f.write('"%s"\t%.3f\n' % (job, median(ratios[job])))
    gnuplot(f"""
set terminal pngcairo size 900,500 font ",10"
set output '{name}.png'
set title "{ours} / {peer}, per job (median of the repetitions; above 1 is faster than {peer})" noenhanced
set style data histograms
set style fill solid 0.8 border -1
set key off
set yrange [0:*]
set grid ytics
set ylabel 'ratio of MB/s (IOPS for 4k jobs)'
set xtics rotate by -25 offset -1,0
set bmargin 5
plot '{name}.dat' using 2:xtic(1) linecolor rgb '#3060a0', 1 with lines dashtype 2 linecolor rgb 'red'
""", out)
    return name + ".png"


def human(size):
    for unit, n in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= n and size % n == 0:
            return f"{size // n} {unit}"
    return f"{size} B"


def fmt(x, digits=2):
    return "–" if x != x else f"{x:.{digits}f}"


def include(path, sub):
    """Another summary (bench/lab, bench/scaling) as a section of this one: headings one level down,
    its machine table left out (the same machine), its links pointing into its subdirectory."""
    out = []
    for line in open(path).read().splitlines():
        if line.startswith("|") and ("| |" in line or "|---|---|" == line or line.count("|") == 3 and "`" in line):
            continue  # the key/value table of its env.txt
        if line.startswith("#"):
            line = "#" + line
        line = re.sub(r"\]\(([^):/]+\.png)\)", lambda m: f"]({sub}/{m.group(1)})", line)
        line = re.sub(r"`((?:rate-|g\*|replicas|results|lab\.|scaling\.)[^`]*)`", lambda m: f"`{sub}/{m.group(1)}`", line)
        out.append(line)
    return out + [""]


# The parts of a run: how to tell that a results directory ran one, and the summary sections it wrote.
PARTS = [
    ("xts", "AES-XTS per core", lambda d: glob.glob(os.path.join(d, "xts-cputime.rep*.json"))
     or glob.glob(os.path.join(d, "jmh-xts.rep*.json")), ("## AES-XTS",)),
    ("fio", "fio against the peers", lambda d: glob.glob(os.path.join(d, "fio", "*", "rep*", "*.json")), ("## fio:",)),
    ("lab", "the founding lab", lambda d: os.path.exists(os.path.join(d, "lab", "lab.md")), ("## The founding lab",)),
    ("scaling", "scaling", lambda d: os.path.exists(os.path.join(d, "scaling", "scaling.md")), ("## nbdvault scaling",)),
]
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}Z$")


def sections(summary):
    """The '## ' sections of a summary.md, each with its heading, without the closing raw-data line."""
    found, current = [], None
    for line in open(summary).read().splitlines():
        if line.startswith("## "):
            current = [line]
            found.append(current)
        elif current is not None and not line.startswith("Raw data beside this file:"):
            current.append(line)
    return found


def latest(root):
    """RESULTS_ROOT/latest.md: every part from the newest run that has it, links pointing into that run."""
    runs = sorted(d for d in os.listdir(root)
                  if STAMP.match(d) and os.path.exists(os.path.join(root, d, "summary.md")))
    chosen = {}
    for part, _, ran, _ in PARTS:
        having = [d for d in runs if ran(os.path.join(root, d))]
        if having:
            chosen[part] = having[-1]
    lines = ["# nbdvault benchmarks: the latest results of each part", "",
             "Each part comes from the newest run under `bench/results/` that ran it (`bench/run.sh --only` runs "
             "some). Ratios compare figures measured in the same run; do not compare absolute figures of parts from "
             "different runs.", "",
             "| part | run | date | command | commit | cpu | jdk |", "|---|---|---|---|---|---|---|"]
    for part, title, _, _ in PARTS:
        if part in chosen:
            d = chosen[part]
            env = read_env(os.path.join(root, d))
            lines.append(f"| {title} | [{d}]({d}/summary.md) | {env.get('date', '?')} | `{env.get('command', '?')}` | "
                         f"`{env.get('commit', '?')}` | {env.get('cpu', '?')} ({env.get('cores', '?')} cores) | "
                         f"{env.get('jdk', '?')} |")
        else:
            lines.append(f"| {title} | none yet | | | | | |")
    lines.append("")
    for part, title, _, prefixes in PARTS:
        if part not in chosen:
            continue
        d = chosen[part]
        for section in sections(os.path.join(root, d, "summary.md")):
            if section[0].startswith(prefixes):
                lines.append(section[0])
                lines += ["", f"*From run [{d}]({d}/summary.md); raw files named below are in that directory.*"]
                # Charts and other relative links point into the run's directory.
                lines += [re.sub(r"\]\(((?![a-z]+:)[^)#]+)\)", lambda m: f"]({d}/{m.group(1)})", l) for l in section[1:]]
    with open(os.path.join(root, "latest.md"), "w") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")


def main():
    if sys.argv[1] == "--latest":
        latest(sys.argv[2])
        return
    out = sys.argv[1]
    env = read_env(out)
    lines = [f"# nbdvault benchmarks, {env.get('date', os.path.basename(out))}", ""]
    lines += ["| | |", "|---|---|"]
    for key in ("command", "mode", "repetitions", "cpu", "cores", "jdk", "openssl", "fio", "kernel", "commit"):
        if key in env:
            lines.append(f"| {key} | `{env[key]}` |")
    lines += ["", "Figures are medians over the repetitions. Ratios are taken within one repetition, between "
              "two measurements made back to back on the same machine, and their median is shown: on a shared, "
              "noisy machine compare ratios, not absolute figures from different runs.", ""]

    lines += ["## AES-XTS-256 per core", "",
              "One thread, in place on a direct buffer, 4 KiB sectors, beside AES/ECB on the same bytes (the JDK's, and "
              "*in use*: that of the engine nbdvault's XTS runs on, the ceiling of an XTS built on ECB calls; what such "
              "an XTS falls short of it is its tweak masks, XOR passes and copies) and `openssl speed -evp aes-256-xts`, run "
              "alternately. Twice over: "
              "per second of wall-clock time (JMH `XtsBenchmark`; openssl with `-elapsed`), and per second of the "
              "working thread's CPU time (`XtsCpuTime`; openssl's default unit), which other processes competing for "
              "the cores do not move: on a shared machine, trust the second.", ""]
    paths = sorted({r.get("maskPath", "?") for p in glob.glob(os.path.join(out, "xts-cputime.rep*.json"))
                    for r in json.load(open(p))})
    if paths:
        lines += [f"Tweak masks computed by the {' and '.join(paths)} path (`AesXts.maskPath()`: openssl is OpenSSL's "
                  "own XTS, one call per sector, where the AES engine is OpenSSL's; otherwise the XTS is built on AES/ECB "
                  "calls, its masks by the vector path, which needs `--add-modules jdk.incubator.vector` and 512-bit "
                  "vectors, or the scalar one).", ""]
    engines = sorted({r.get("aesEngine", "?") for p in glob.glob(os.path.join(out, "xts-cputime.rep*.json"))
                      for r in json.load(open(p))})
    if engines:
        lines += [f"AES/ECB underneath: {' and '.join(engines)} (`AesEngine`: OpenSSL's libcrypto where the JDK's AES/ECB "
                  "runs one block per call, that is on CPUs without AVX-512 VAES; the *JDK AES/ECB* column is the JDK's "
                  "either way, *AES/ECB in use* this engine's).", ""]
    charted = None
    for cpu, heading in ((True, "per CPU-second"), (False, "per wall-clock second (JMH)")):
        jmh, ssl, ratios = xts_results(out, cpu)
        if not jmh:
            continue
        lines += [f"### {heading}", "",
                  "| size | nbdvault encrypt | nbdvault decrypt | JDK AES/ECB | AES/ECB in use | openssl XTS "
                  "| encrypt / openssl | decrypt / openssl |",
                  "|---|---|---|---|---|---|---|---|"]
        for size in sorted({s for (_, s) in jmh}):
            g = lambda n: median(jmh.get((n, size), [])) / 1e9
            lines.append(f"| {human(size)} | {fmt(g('xtsEncrypt'))} GB/s | {fmt(g('xtsDecrypt'))} GB/s | "
                         f"{fmt(g('jdkEcbCeiling'))} GB/s | {fmt(g('engineEcbCeiling'))} GB/s | "
                         f"{fmt(median(ssl.get(size, [])) / 1e9)} GB/s | "
                         f"{fmt(median(ratios.get(('xtsEncrypt', size), [])))} | "
                         f"{fmt(median(ratios.get(('xtsDecrypt', size), [])))} |")
        lines.append("")
        if charted is None:
            charted = chart_xts(out, jmh, ssl, "GB " + heading)
    if charted:
        lines += [f"![AES-XTS per core]({charted})", ""]
    elif not glob.glob(os.path.join(out, "*xts*.json")):
        lines += ["(no XTS results in this run)", ""]

    done_layers = set()
    done_cpu = set()
    for script, peer, ours, name, title in FIO:
        table, fio_ratios = fio_results(out, script, peer, ours)
        if not any(peer in by_label and ours in by_label for by_label in table.values()):
            continue  # a comparison this run did not make (an older run, --only)
        lines += [f"## fio: {title}", "", f"`bench/fio/{script}.sh`: fio's nbd engine, {env.get('fio-size', '?')} volume, "
                  f"{env.get('fio-runtime', '?')} per job after {env.get('fio-warmup', 'no')} of warm-up per job, "
                  f"{peer} and {ours} run back to back job by job. "
                  "Latencies are completion latencies in µs (randrw: of its reads).", "",
                  f"| job | {peer} | {ours} | {ours} / {peer} | {peer} p50 / p99 / p99.9 µs | {ours} p50 / p99 / p99.9 µs |",
                  "|---|---|---|---|---|---|"]
        for job in [j for j in JOB_ORDER if j in table] + [j for j in table if j not in JOB_ORDER]:
            metric = metric_of(job)
            cell = lambda label: (f"{table[job][label][metric]:.0f} {metric}" if label in table[job] else "–")
            lat = lambda label: (" / ".join(f"{table[job][label][k]:.0f}" for k in ("p50", "p99", "p99.9"))
                                 if label in table[job] else "–")
            lines.append(f"| {job} | {cell(peer)} | {cell(ours)} | {fmt(median(fio_ratios.get(job, [])))} | "
                         f"{lat(peer)} | {lat(ours)} |")
        chart = chart_fio(out, name, peer, ours, fio_ratios)
        if chart:
            lines += ["", f"![{title}]({chart})"]
        lines.append("")
        means, fanout = where_time_goes(out, script)
        if means and script not in done_layers:
            done_layers.add(script)
            lines += [f"### Where nbdvault's time goes ({script})", "",
                      "Mean latency per request in each layer during each job (HdrHistogram meters inside nbdvault, "
                      "read with `nbdvault status --json` before and after the job; medians over the repetitions). "
                      "Each layer's time includes the layers below it, so the difference of two neighbours is the "
                      "upper one's own share: *NBD front* runs from the request read off the connection to its reply "
                      "written back, so front − encryption = waiting for admission, the reply's hop back to the "
                      "connection's event loop and its write; fio's latency minus the front is the client and the "
                      "socket; *encryption* = AES-XTS and its hand-off to crypto workers; *array* = striping, mirroring, the write-intent "
                      "bitmap and waiting for the slowest copy (one NBD request becomes several replica requests).", "",
                      "| job | NBD front µs | encryption µs | array µs | one replica request µs | replica requests per NBD request | own share: front / encryption |",
                      "|---|---|---|---|---|---|---|"]
            for job in [j for j in JOB_ORDER if j in means] + [j for j in means if j not in JOB_ORDER]:
                m = {layer: median(means[job].get(layer, [])) for layer in LAYERS}
                share = lambda a, b: (f"{max(0.0, m[a] - m[b]):.0f}" if m[a] == m[a] and m[b] == m[b] else "–")
                lines.append(f"| {job} | " + " | ".join(fmt(m[layer], 0) for layer in LAYERS)
                             + f" | {fmt(median(fanout.get(job, [])), 1)} | {share('nbd', 'encryption')} / "
                               f"{share('encryption', 'array')} |")
            lines += ["", "Snapshots: `fio/" + script + "/rep*/status/*.json` (percentiles p50/p99/p99.9 per layer there "
                      "are over the server's lifetime)."]
            paths = server_paths(out, script)
            if paths:
                lines += ["", "nbdvault ran with " + "; ".join(f"{k} `{v}`" for k, v in paths.items())
                          + " (from its `status`)."]
            lines.append("")

        cpu = cpu_per_request(out, script)
        if cpu and script not in done_cpu:
            done_cpu.add(script)
            labels = [l for (sc, p, o, _, _) in FIO if sc == script for l in (p, o)]
            own = {o for (sc, _, o, _, _) in FIO if sc == script}  # the labels that run nbdvault
            lines += cpu_table(cpu, script, list(dict.fromkeys(labels)), env.get("cores", "?"))
            lines += machine_drift(out, script, cpu, list(dict.fromkeys(labels)), own)
            # The goals are against qsd: one table for each nbdvault volume compared with it.
            against_qsd = [o for (sc, p, o, _, _) in FIO if sc == script and p == "qsd"]
            for i, target in enumerate(against_qsd):
                lines += goal_budget(cpu, fio_results(out, script, "qsd", target), env.get("cores", "?"),
                                     ours=target, explain=i == 0)

    for sub, name in (("lab", "lab.md"), ("scaling", "scaling.md")):
        path = os.path.join(out, sub, name)
        if os.path.exists(path):
            lines += include(path, sub)

    lines += ["Raw data beside this file: `jmh-xts.rep*.json` (JMH), `xts-cputime.rep*.json`, `openssl*.txt`, "
              "`fio/*/rep*/*.json` (fio), "
              "`env.txt`; the charts are drawn by gnuplot from the `.dat` files.", ""]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
