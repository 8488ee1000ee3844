#!/usr/bin/env bash
# The chaos report: plays failure scenarios against real processes — `nbdvault serve` on three
# nbdkit replicas (file plugin, with the delay and error filters where a scenario asks), killed,
# stopped, cut off by a link going down between network namespaces — while a workload writes
# stamped blocks with FUA (bench/src/main/java/io/nbdvault/bench/chaos/StampedWorkload.java) and
# checks every read. Afterwards every block must hold its last acknowledged generation (or a later
# one that was in flight) and `scrub` must find the copies equal. The server's state comes from its
# admin socket (`status`), polled every 50 ms, never from its log. One Markdown table row per
# scenario:
#   lost         acknowledged writes lost, blocks corrupt, or reads that returned an older
#                generation than one acknowledged (must be 0)
#   errors       errors the client saw (reads and writes)
#   detect       fault injected -> the server reports a member (or itself) out of service
#   degraded     time the server was not fully in service (all members active)
#   resynced     bytes copied by resyncs (bitmap regions, or all of a member)
#   mismatches   `scrub` after recovery (for bitrot: found -> after `scrub --repair`)
#   writes/s     acknowledged writes per second (meaningful for the latency pair only)
# Writes bench/chaos/results/<UTC date and time>.md and bench/chaos/results/latest.md.
#
# usage: bench/chaos/run.sh [--quick] [--only NAME,NAME...] [--results DIR] [--no-build] [--keep] [--list]
#   --quick      small volume, short phases (what CI runs; a few seconds per scenario)
#   --only       run only these scenarios (see --list)
#   --results    where the report goes (default bench/chaos/results)
#   --no-build   use the jars already built (cli/target/nbdvault.jar, bench/target/benchmarks.jar,
#                or the workload's classpath in $BENCH_CLASSPATH)
#   --keep       keep the working directory (logs of every process) and print its path
# Needs nbdkit, nbdinfo, jq; the netns scenario needs root and iproute2 (skipped, and said so, without).
# Exit status: 0 when every scenario kept its promise (the verdict column), 1 otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"

ALL=(no-fault kill-one stop-one eio-one slow-one slow-one-quorum2 netns-link-down two-lost all-lost-brief
     all-lost-past-timeout nbdvault-killed replace-under-load bitrot-repair)
quick=0 only="" results="$here/results" build=1 keep=0 args="$*"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --only) only=$2; shift ;;
    --results) results=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --list) printf '%s\n' "${ALL[@]}"; exit 0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench/chaos/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
scenarios=("${ALL[@]}")
if [ -n "$only" ]; then
  IFS=, read -r -a scenarios <<<"$only"
  for s in "${scenarios[@]}"; do
    printf '%s\n' "${ALL[@]}" | grep -qx -- "$s" || { echo "bench/chaos/run.sh: no scenario $s (see --list)" >&2; exit 2; }
  done
fi
for tool in nbdkit nbdinfo jq; do
  command -v $tool >/dev/null || { echo "bench/chaos/run.sh: $tool is not installed (scripts/install-test-deps.sh)" >&2; exit 2; }
done
JAVA=${JAVA:-java}

if [ $quick = 1 ]; then
  VOL=48M MEMBER=$((50 << 20)) BLOCKS=2048 PHASE=2 OUTAGE=2 TIMEOUT_MS=1000 QUEUE_TIMEOUT=1 IOPS=300 RATE=20M
else
  VOL=512M MEMBER=$((516 << 20)) BLOCKS=32768 PHASE=8 OUTAGE=4 TIMEOUT_MS=2000 QUEUE_TIMEOUT=5 IOPS=1000 RATE=100M
fi

# --- build ---------------------------------------------------------------------------------------
if [ $build = 1 ]; then
  echo "[chaos] building the CLI and the workload (mvn -pl bench -am package)" >&2
  (cd "$root" && mvn -B -q -DskipTests -pl bench -am package >&2)
fi
jar="$root/cli/target/nbdvault.jar"
tool_cp=${BENCH_CLASSPATH:-$root/bench/target/benchmarks.jar}
[ -f "$jar" ] || { echo "bench/chaos/run.sh: $jar is missing (run without --no-build)" >&2; exit 2; }

work=$(mktemp -d /tmp/nbdvault-chaos.XXXXXX)
pids=()          # every process this script started, killed by the trap
namespaces=()    # every network namespace this script created, deleted by the trap
# True while $1 is a live child of this shell: a pid that was reaped may belong to someone else by now.
ours() { [ -n "${1:-}" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2)" = "$$" ]; }
# kill_ours SIGNAL PID...: signals those of the pids that are still this shell's children.
kill_ours() { local sig=$1 p; shift; for p in "$@"; do if ours "$p"; then kill "-$sig" "$p" 2>/dev/null || true; fi; done; }
cleanup() {
  local p
  # (bash's "Killed" notices for the jobs go to /dev/null with the rest)
  {
    for p in "${pids[@]}"; do if ours "$p"; then kill -CONT "$p" || true; kill -KILL "$p" || true; fi; done
    for p in "${pids[@]}"; do wait "$p" || true; done
  } 2>/dev/null
  for p in "${namespaces[@]}"; do ip netns del "$p" 2>/dev/null || true; done
  if [ $keep = 1 ]; then echo "[chaos] working directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
started=$SECONDS
say() { printf '[chaos %3ds] %s\n' $((SECONDS - started)) "$*" >&2; }
now_ms() { date +%s%3N; }
# Short-lived JVMs (CLI commands, the workload) start faster with C1 only.
JOPTS=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto)
cli() { "$JAVA" "${JOPTS[@]}" -jar "$jar" "$@"; }
tool() { "$JAVA" "${JOPTS[@]}" -cp "$tool_cp" "$@"; }

sock="$work/sock"; mkdir -p "$sock"
key="$work/key"; printf 'chaos passphrase' > "$key"
VOLURI="nbd+unix:///?socket=$sock/vol.sock"
ADMIN="$sock/vol.sock.admin"

# --- replicas --------------------------------------------------------------------------------------
# Replica i: nbdkit file on $w/replica-i.img at $sock/r$i.sock, or over TCP inside a namespace
# (tcp_ns[i], tcp_addr[i]); filters[i] holds nbdkit filter arguments ("--filter=x" and "key=value").
declare -a rpid filters tcp_ns tcp_addr
uri() { if [ -n "${tcp_addr[$1]:-}" ]; then echo "nbd://${tcp_addr[$1]}:10809/"; else echo "nbd+unix:///?socket=$sock/r$1.sock"; fi; }
start_replica() {
  local i=$1 flags=() params=() a
  for a in ${filters[$i]:-}; do case $a in --*) flags+=("$a") ;; *) params+=("$a") ;; esac; done
  if [ -n "${tcp_addr[$i]:-}" ]; then
    ( exec ip netns exec "${tcp_ns[$i]}" nbdkit -f -p 10809 -i "${tcp_addr[$i]}" "${flags[@]}" \
        file "$w/replica-$i.img" "${params[@]}" >>"$w/nbdkit-$i.log" 2>&1 ) &
  else
    rm -f "$sock/r$i.sock"
    ( exec nbdkit -f -U "$sock/r$i.sock" "${flags[@]}" file "$w/replica-$i.img" "${params[@]}" >>"$w/nbdkit-$i.log" 2>&1 ) &
  fi
  rpid[$i]=$!; pids+=($!)
  local end=$((SECONDS + 20))
  if [ -n "${tcp_addr[$i]:-}" ]; then
    until ip netns exec "${tcp_ns[$i]}" nbdinfo --size "$(uri "$i")" >/dev/null 2>&1; do
      [ $SECONDS -lt $end ] || { say "replica $i did not start"; cat "$w/nbdkit-$i.log" >&2; return 1; }; sleep 0.05
    done
  else
    until [ -S "$sock/r$i.sock" ]; do
      [ $SECONDS -lt $end ] || { say "replica $i did not start"; cat "$w/nbdkit-$i.log" >&2; return 1; }; sleep 0.02
    done
  fi
}
kill_replica() { kill_ours KILL "${rpid[$1]}"; wait "${rpid[$1]}" 2>/dev/null || true; }
stop_replica() {
  kill -STOP "${rpid[$1]}"
  until grep -q '^State:.*T' "/proc/${rpid[$1]}/status"; do sleep 0.005; done
}

# --- the server, its status timeline and the workload ---------------------------------------------
serve_ns=""       # namespace nbdvault runs in (the netns scenario), or none
serve_args=()
start_serve() {
  local members=() i
  for i in 0 1 2; do members+=("$(uri "$i")"); done
  rm -f "$sock/vol.sock"
  if [ -n "$serve_ns" ]; then
    ( exec ip netns exec "$serve_ns" "$JAVA" -jar "$jar" serve --key-file "$key" --socket "$sock/vol.sock" \
        --timeout $TIMEOUT_MS "${serve_args[@]}" "${members[@]}" >>"$w/serve.log" 2>&1 ) &
  else
    ( exec "$JAVA" -jar "$jar" serve --key-file "$key" --socket "$sock/vol.sock" \
        --timeout $TIMEOUT_MS "${serve_args[@]}" "${members[@]}" >>"$w/serve.log" 2>&1 ) &
  fi
  spid=$!; pids+=($!)
  local end=$((SECONDS + 60))
  until [ -S "$sock/vol.sock" ] && [ -S "$ADMIN" ]; do
    kill -0 $spid 2>/dev/null && [ $SECONDS -lt $end ] || { say "nbdvault serve did not start"; tail -30 "$w/serve.log" >&2; return 1; }
    sleep 0.05
  done
}
start_watch() {
  ( exec "$JAVA" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$tool_cp" io.nbdvault.bench.chaos.StatusTimeline \
      watch --admin "$ADMIN" --out "$w/timeline.jsonl" --interval-ms 50 2>>"$w/watch.log" ) &
  wpid=$!; pids+=($!)
}
# await SECONDS JQ-CONDITION WHAT: waits until the latest status line satisfies the condition.
await() {
  local end=$((SECONDS + $1)) last
  while :; do
    last=$(tail -n 1 "$w/timeline.jsonl" 2>/dev/null || true)
    if [ -n "$last" ] && jq -e "$2" <<<"$last" >/dev/null 2>&1; then return 0; fi
    if [ $SECONDS -ge $end ]; then say "$w: timed out waiting for $3 (last status: $last)"; return 1; fi
    sleep 0.1
  done
}
await_healthy() { await "${1:-90}" '.healthy and .queued == 0' "every member in service"; }
await_unhealthy() { await "${1:-30}" '(.healthy | not)' "the fault to be noticed"; }
workload_opts=()
start_workload() {
  rm -f "$w/stop" "$w/ready"
  ( exec "$JAVA" "${JOPTS[@]}" -cp "$tool_cp" io.nbdvault.bench.chaos.StampedWorkload write --uri "$VOLURI" \
      --journal "$w/journal" --blocks $BLOCKS --depth 8 --until-file "$w/stop" --ready-file "$w/ready" --seconds 600 \
      "${workload_opts[@]}" >"$w/workload.json" 2>"$w/workload.err" ) &
  lpid=$!; pids+=($!)
  # The fault must hit a volume being written: wait for the workload's first 50 acknowledged writes.
  local end=$((SECONDS + 60))
  until [ -e "$w/ready" ]; do
    kill -0 "$lpid" 2>/dev/null && [ $SECONDS -lt $end ] || { say "the workload did not start"; cat "$w/workload.err" >&2; return 1; }
    sleep 0.05
  done
  sleep 0.5
}
stop_workload() {
  touch "$w/stop"
  if [ -n "$lpid" ]; then wait "$lpid" || true; fi
}
verify() { tool io.nbdvault.bench.chaos.StampedWorkload verify --uri "$VOLURI" --journal "$w/journal" >"$w/verify.json" 2>"$w/verify.err" || true; }
scrub() { cli scrub --admin-socket "$ADMIN" "$@" 2>>"$w/cli.log" | sed -n 's/^mismatches: \([0-9]*\).*/\1/p'; }
stop_serve() {
  if [ -n "$spid" ]; then kill_ours TERM "$spid"; wait "$spid" 2>/dev/null || true; fi
}

# --- the array, made once and copied for every scenario --------------------------------------------
make_template() {
  w="$work/template"; mkdir -p "$w"
  local i
  for i in 0 1 2; do truncate -s $MEMBER "$w/replica-$i.img"; filters[$i]=""; tcp_addr[$i]=""; start_replica $i; done
  cli create --size $VOL --copies 3 --bitmap-chunk 1M --key-file "$key" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
      "$(uri 0)" "$(uri 1)" "$(uri 2)" >"$w/create.log" 2>&1 || { cat "$w/create.log" >&2; return 1; }
  for i in 0 1 2; do kill_replica $i; done
}

# --- scenarios ---------------------------------------------------------------------------------------
# Each sets: t0 (fault injected, epoch ms), promise_no_errors (1: the client must see no error), note.
setup() {
  w="$work/$1"; mkdir -p "$w"
  local i
  for i in 0 1 2; do
    cp --sparse=always "$work/template/replica-$i.img" "$w/replica-$i.img"
    filters[$i]=""; tcp_addr[$i]=""; tcp_ns[$i]=""
  done
  serve_ns="" serve_args=() workload_opts=(--iops $IOPS) promise_no_errors=1 note="" scrub_cell=""
  lpid="" spid="" wpid="" rpid=()
}
start_all() { local i; for i in 0 1 2; do start_replica $i || return 1; done; start_serve || return 1; start_watch; await_healthy 60; }

scenario_no-fault() {
  workload_opts=(--read-percent 0 --depth 8)
  start_all || return 1; start_workload || return 1
  t0=$(now_ms); sleep $((PHASE + 2))
  note="nothing goes wrong: the reference for writes/s (8 FUA writes in flight, no reads, like the latency pair)"
}
scenario_kill-one() {
  start_all || return 1; start_workload || return 1
  t0=$(now_ms); kill_replica 1
  await_unhealthy || return 1; sleep $PHASE
  start_replica 1 || return 1; await_healthy || return 1
  note="replica 1 SIGKILLed, restarted after ${PHASE} s, taken back from the bitmap"
}
scenario_stop-one() {
  start_all || return 1; start_workload || return 1
  t0=$(now_ms); stop_replica 1
  await_unhealthy || return 1; sleep $PHASE
  kill -CONT "${rpid[1]}"; await_healthy || return 1
  note="replica 1 SIGSTOPped (failed after --timeout ${TIMEOUT_MS} ms), SIGCONTed"
}
scenario_eio-one() {
  filters[1]="--filter=error error=EIO error-rate=1% error-file=$work/eio-one/eio-on"
  start_all || return 1; start_workload || return 1
  t0=$(now_ms); touch "$w/eio-on"; sleep $((PHASE + 1))
  rm -f "$w/eio-on"; await_healthy || return 1
  note="1% of replica 1's requests fail with EIO for $((PHASE + 1)) s"
}
slow() {
  filters[1]="--filter=delay delay-read=20ms delay-write=20ms"
  workload_opts=(--read-percent 0 --depth 8)
  start_all || return 1; start_workload || return 1
  t0=$(now_ms); sleep $((PHASE + 2))
  await_healthy || return 1
}
scenario_slow-one() { slow || return 1; note="replica 1 answers reads and writes 20 ms late; writes wait for every copy (8 in flight)"; }
scenario_slow-one-quorum2() { serve_args=(--write-quorum 2); slow || return 1; note="the same with --write-quorum 2: acknowledged once two copies have a write"; }
scenario_netns-link-down() {
  if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! ip netns add "nvchaos-probe-$$" 2>/dev/null; then
    note="skipped: needs root and ip netns"; skipped=1; return 0
  fi
  ip netns del "nvchaos-probe-$$"
  # nbdvault runs in one namespace, replica 2 in another, joined by a veth pair; replicas 0 and 1
  # stay on unix sockets (paths reach across network namespaces). Addresses exist only in them.
  local a="nvchaos-a-$$" b="nvchaos-b-$$"
  ip netns add "$a"; namespaces+=("$a"); ip netns add "$b"; namespaces+=("$b")
  ip link add nvc0 netns "$a" type veth peer name nvc1 netns "$b"
  ip -n "$a" addr add 10.211.7.1/30 dev nvc0; ip -n "$b" addr add 10.211.7.2/30 dev nvc1
  ip -n "$a" link set lo up; ip -n "$b" link set lo up
  ip -n "$a" link set nvc0 up; ip -n "$b" link set nvc1 up
  tcp_ns[2]=$b; tcp_addr[2]=10.211.7.2; serve_ns=$a
  start_all || return 1; start_workload || return 1
  t0=$(now_ms); ip -n "$a" link set nvc0 down
  await_unhealthy || return 1; sleep $PHASE
  ip -n "$a" link set nvc0 up
  # nbdkit 1.32 can abort ("raw_send_socket: Assertion `sock >= 0' failed") when a connection dies
  # while it writes a reply, also once the link is back: the replica's own crash, not nbdvault's.
  # Restarted while we wait, as its supervisor would.
  local restarted="" end=$((SECONDS + 120))
  until await 2 '.healthy and .queued == 0' "every member in service" >/dev/null 2>&1; do
    if ! kill -0 "${rpid[2]}" 2>/dev/null; then
      wait "${rpid[2]}" 2>/dev/null || true
      start_replica 2 || return 1
      restarted="; nbdkit aborted (its own assertion) and was restarted"
    fi
    [ $SECONDS -lt $end ] || return 1
  done
  note="replica 2 over TCP between namespaces; link down for $PHASE s after detection, then up$restarted"
}
scenario_two-lost() {
  start_all || return 1; start_workload || return 1
  t0=$(now_ms); kill_replica 1
  await_unhealthy || return 1; sleep 1
  kill_replica 2
  await 30 '[.members[] | select(. == "active")] | length == 1' "one copy left" || return 1; sleep $PHASE
  start_replica 1 || return 1; start_replica 2 || return 1; await_healthy 120 || return 1
  note="replica 1 then replica 2 SIGKILLed; one copy carries the volume for ${PHASE} s"
}
scenario_all-lost-brief() {
  start_all || return 1; start_workload || return 1
  t0=$(now_ms); kill_replica 0; kill_replica 1; kill_replica 2
  await 30 '.state == "FAILED" and .queued > 0' "requests queued" || return 1; sleep $OUTAGE
  start_replica 0 || return 1; start_replica 1 || return 1; start_replica 2 || return 1; await_healthy 120 || return 1
  note="all three SIGKILLed, back after about $OUTAGE s (default --queue-timeout 30)"
}
scenario_all-lost-past-timeout() {
  serve_args=(--queue-timeout $QUEUE_TIMEOUT); promise_no_errors=0
  start_all || return 1; start_workload || return 1
  t0=$(now_ms); kill_replica 0; kill_replica 1; kill_replica 2
  await 30 '.state == "FAILED"' "every copy failed" || return 1; sleep $((QUEUE_TIMEOUT + 1))
  start_replica 0 || return 1; start_replica 1 || return 1; start_replica 2 || return 1; await_healthy 120 || return 1
  note="all three SIGKILLed for --queue-timeout $QUEUE_TIMEOUT + 1 s: queued requests get EIO, then service resumes"
}
scenario_nbdvault-killed() {
  promise_no_errors=0
  start_all || return 1; start_workload || return 1
  t0=$(now_ms); kill_ours KILL "$spid"; wait "$spid" 2>/dev/null || true
  sleep 1; start_serve || return 1; await_healthy 120 || return 1
  sleep 1
  note="nbdvault SIGKILLed mid-write and restarted; the client reconnects (in-flight requests fail)"
}
scenario_replace-under-load() {
  start_all || return 1; start_workload || return 1
  truncate -s $MEMBER "$w/replica-3.img"; filters[3]=""; tcp_addr[3]=""; start_replica 3
  t0=$(now_ms)
  cli replace --admin-socket "$ADMIN" --rate $RATE "$(uri 1)" "$(uri 3)" >>"$w/cli.log" 2>&1 || note="replace failed; "
  await_healthy 120 || return 1
  note+="replica 1 replaced by a blank replica 3 at --rate $RATE while writing"
}
scenario_bitrot-repair() {
  start_all || return 1; start_workload || return 1; sleep $PHASE; stop_workload
  stop_serve; kill_ours KILL "$wpid"; wait "$wpid" 2>/dev/null || true
  # Behind nbdvault's back: 64 KiB of the first copy's payload (past the 16 MiB LUKS2 header)
  # overwritten. Repaired from "the first copy" it would stay wrong; by majority it is rewritten.
  dd if=/dev/urandom of="$w/replica-0.img" bs=64K seek=$(( (16 << 20) / 65536 + 8 )) count=1 conv=notrunc status=none
  start_serve || return 1; start_watch || return 1; await_healthy 60 || return 1
  t0=$(now_ms)
  local found repaired after
  found=$(scrub); repaired=$(scrub --repair); after=$(scrub)
  scrub_cell="$found → ${after}"
  [ "$repaired" = "$found" ] || note="repair reported $repaired; "
  note+="64 KiB of replica 0 (the first copy) altered while nbdvault was stopped; scrub --repair rewrites it from the copies whose integrity tags verify (by majority on an array without tags)"
  # The workload has stopped already; verification below reads what the repair left.
  bitrot_done=1
}

human_bytes() { awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.1f MiB", b/1048576; else if (b >= 1024) printf "%.0f KiB", b/1024; else printf "%d B", b }'; }
seconds() { awk -v ms="$1" 'BEGIN { if (ms < 0) print "—"; else printf "%.1f s", ms/1000 }'; }

# Plays one scenario; appends its row to $work/rows.md and its note to $work/notes.md.
run_scenario() {
  local name=$1 failed=0
  skipped=0 bitrot_done=0 t0=""
  setup "$name"
  say "$name"
  if ! "scenario_$name"; then failed=1; note+=" (the scenario did not complete: see the log)"; fi
  echo "- **$name**: $note" >>"$work/notes.md"
  if [ $skipped = 1 ]; then
    echo "| $name | — | — | — | — | — | — | — | skipped |" >>"$work/rows.md"; return 0
  fi
  [ $bitrot_done = 1 ] || stop_workload
  # Verification and scrub see the volume back in full service (a resync started late included).
  if [ $failed = 0 ] && ! await_healthy 120; then failed=1; note+=" (not back in full service)"; fi
  verify
  if [ -z "$scrub_cell" ]; then scrub_cell=$(scrub || true); fi
  local lost errors writes stale
  lost=$(jq -r '.lost + .corrupt' "$w/verify.json" 2>/dev/null || true)
  stale=$(jq -r '.staleReads' "$w/workload.json" 2>/dev/null || true)
  errors=$(jq -r '.writeErrors + .readErrors' "$w/workload.json" 2>/dev/null || true)
  writes=$(jq -r 'if .seconds > 0 then (.acked / .seconds | floor) else 0 end' "$w/workload.json" 2>/dev/null || true)
  if [[ "$lost" =~ ^[0-9]+$ && "$stale" =~ ^[0-9]+$ ]]; then lost=$((lost + stale)); else lost="?"; fi
  local detect degraded resynced
  read -r detect degraded resynced < <(tool io.nbdvault.bench.chaos.StatusTimeline summary \
      --timeline "$w/timeline.jsonl" --since "${t0:-$(now_ms)}" 2>>"$w/watch.log" || echo "-1 0 0")
  local last_mismatch=${scrub_cell##* } verdict=PASS
  if [ $failed = 1 ] || [ "$lost" != 0 ] || [ "$last_mismatch" != 0 ] \
      || { [ $promise_no_errors = 1 ] && [ "$errors" != 0 ]; }; then
    verdict=FAIL; echo "$name" >>"$work/failed"
    say "$name FAILED (lost $lost, errors $errors, mismatches $scrub_cell); last lines of its logs:"
    tail -n 25 "$w/serve.log" "$w/verify.err" >&2 || true
    grep -v '^\s*at io.netty' "$w/workload.err" | head -n 60 >&2 || true
    local r; for r in "${!rpid[@]}"; do
      echo "replica $r (pid ${rpid[$r]}): $(ours "${rpid[$r]}" && echo running || echo gone)" >&2
      tail -n 5 "$w/nbdkit-$r.log" >&2 2>/dev/null || true
    done
  fi
  local p
  {
    stop_serve
    kill_ours KILL "$wpid" "${rpid[@]}"
    for p in "$wpid" "${rpid[@]}"; do [ -z "$p" ] || wait "$p" || true; done
  } 2>/dev/null
  echo "| $name | $lost | ${errors:-?} | $(seconds "${detect:--1}") | $(seconds "${degraded:-0}") | $(human_bytes "${resynced:-0}") | ${scrub_cell:-?} | ${writes:-?} | $verdict |" >>"$work/rows.md"
  tail -n 1 "$work/rows.md" >&2
}

say "making the array ($VOL, three copies) in $work"
make_template
: >"$work/rows.md"; : >"$work/notes.md"
for s in "${scenarios[@]}"; do
  run_scenario "$s"
done

stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$results"
report="$results/$stamp.md"
{
  echo "# nbdvault chaos report"
  echo
  echo "$(date -u +'%F %T UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), \`bench/chaos/run.sh${args:+ $args}\`"
  echo "($([ $quick = 1 ] && echo "quick: $VOL volume, $BLOCKS stamped 4 KiB blocks" || echo "full: $VOL volume, $BLOCKS stamped 4 KiB blocks"), --timeout $TIMEOUT_MS ms, $(nproc) cores)."
  echo
  echo "| scenario | lost | errors | detect | degraded | resynced | mismatches | writes/s | verdict |"
  echo "|---|---|---|---|---|---|---|---|---|"
  cat "$work/rows.md"
  echo
  cat "$work/notes.md"
  echo
  echo "lost: acknowledged writes not found, corrupt blocks and stale reads; errors: I/O errors the client saw;"
  echo "detect: fault to the first status not fully in service; degraded: time not fully in service;"
  echo "resynced: bytes copied by resyncs; mismatches: scrub after recovery (found → after repair)."
} >"$report"
cp "$report" "$results/latest.md"
cat "$report"
say "report: $report"
[ ! -s "$work/failed" ]
