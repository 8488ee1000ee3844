#!/usr/bin/env bash
# XTS-AES-256 throughput per core: nbdvault's AesXts (JMH) vs the JDK's AES/ECB ceiling vs
# `openssl speed -evp aes-256-xts`, all single-threaded, in the same run. Prints GB/s and ratios.
# usage: bench/xts-vs-openssl.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mvn -B -q -DskipTests -pl bench -am package >&2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
java -jar bench/target/benchmarks.jar XtsBenchmark -rf json -rff "$out.json" >&2
declare -A ssl
for n in 4096 1048576; do
  # openssl prints "AES-256-XTS  <k/s>k" in 1000s of bytes per second.
  ssl[$n]=$(openssl speed -evp aes-256-xts -bytes "$n" -seconds 3 2>/dev/null | awk '/^AES-256-XTS/ {sub("k","",$2); print $2}')
done
/usr/bin/python3 - "$out.json" "${ssl[4096]}" "${ssl[1048576]}" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
ssl = {4096: float(sys.argv[2]) * 1000, 1048576: float(sys.argv[3]) * 1000}
res = {}
for r in rows:
    size = int(r["params"]["size"]); name = r["benchmark"].rsplit(".", 1)[1]
    res[(name, size)] = r["primaryMetric"]["score"] * size  # ops/s * bytes = bytes/s
print("| size | nbdvault XTS enc | nbdvault XTS dec | JDK ECB ceiling | openssl XTS | enc / openssl |")
print("|---|---|---|---|---|---|")
for size in (4096, 1048576):
    enc, dec, ecb = res[("xtsEncrypt", size)], res[("xtsDecrypt", size)], res[("jdkEcbCeiling", size)]
    print(f"| {size} | {enc/1e9:.2f} GB/s | {dec/1e9:.2f} GB/s | {ecb/1e9:.2f} GB/s | {ssl[size]/1e9:.2f} GB/s | {enc/ssl[size]:.2f} |")
PY
