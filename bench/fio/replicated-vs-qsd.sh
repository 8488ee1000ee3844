#!/usr/bin/env bash
# fio's nbd engine, same run, three nbdkit file replicas on tmpfs each:
#   nbdvault serve (LUKS2 + 3-way RAID-1E over NBD)  vs
#   qemu-storage-daemon luks(quorum(3 × nbd))  (the closest peer, as ../shared/tools/peer-baseline.sh)
# and, as references, nbdvault without integrity tags (`create --integrity none`: like for like with
# qsd, whose quorum here reads one child and checks nothing) and nbdkit file --filter=luks (one
# copy, no replication).
# The peer's LUKS1 image is made with cryptsetup: `qemu-img create -f luks` needs per-thread CPU
# accounting that some VMs lack ("Unable to get accurate CPU usage"); qemu reads the same format.
# usage: bench/fio/replicated-vs-qsd.sh [runtime=6 (seconds, or with a unit: 500ms)] [size=1G]
set -euo pipefail
RT=${1:-6}; SZ=${2:-1G}
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"
source "$here/fio-jobs.sh"
NBDVAULT=${NBDVAULT:-$root/nbdvault}
W=$(mktemp -d /dev/shm/nbdvault-bench.XXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 1; rm -rf "$W"' EXIT
"$NBDVAULT" --version >/dev/null
bytes=$(numfmt --from=iec "$SZ")
printf 'benchmark passphrase' > "$W/key"

# nbdvault, twice: three nbdkit replicas each, array + LUKS2 created by nbdvault; LABEL "nbdvault"
# with the default integrity tags, "nbdvault-untagged" without. The PIDs: $W/LABEL.pid and $W/LABEL-N.pid.
# usage: nbdvault_volume LABEL [CREATE_OPTION...]
nbdvault_volume() {
  local label=$1 members=() i
  shift
  for i in 1 2 3; do
    truncate -s $((bytes + bytes / 32 + 2 * 1024 * 1024)) "$W/$label-$i.img"  # data, integrity tags (1/32), metadata
    nbdkit -P "$W/$label-$i.pid" -U "$W/$label-$i.sock" --exit-with-parent file "$W/$label-$i.img" &
    members+=("nbd+unix:///?socket=$W/$label-$i.sock")
  done
  for i in 1 2 3; do
    for _ in $(seq 300); do [ -S "$W/$label-$i.sock" ] && break; sleep 0.1; done
  done
  "$NBDVAULT" create --size "$SZ" --key-file "$W/key" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$@" "${members[@]}" 2>/dev/null
  "$NBDVAULT" serve --key-file "$W/key" --socket "$W/$label.sock" "${members[@]}" 2>"$W/$label.log" &
  echo $! > "$W/$label.pid"   # the JVM itself: NBDVAULT execs it
}
nbdvault_volume nbdvault
nbdvault_volume nbdvault-untagged --integrity none

# Peer: LUKS1 image copied three times, quorum of three NBD children, luks on top.
truncate -s $((bytes + 16 * 1024 * 1024)) "$W/q1.img"
cryptsetup luksFormat --batch-mode --type luks1 --pbkdf-force-iterations 1000 --key-file "$W/key" "$W/q1.img"
cp --sparse=always "$W/q1.img" "$W/q2.img"; cp --sparse=always "$W/q1.img" "$W/q3.img"
cp --sparse=always "$W/q1.img" "$W/l.img"
for i in 1 2 3; do nbdkit -P "$W/q$i.pid" -U "$W/q$i.sock" --exit-with-parent file "$W/q$i.img" & done
nbdkit -P "$W/luks.pid" -U "$W/luks.sock" --exit-with-parent --filter=luks file "$W/l.img" passphrase=+"$W/key" &
sleep 1
qemu-storage-daemon --object secret,id=s0,file="$W/key" \
  --blockdev '{"driver":"quorum","node-name":"q","vote-threshold":1,"read-pattern":"fifo","children":[
     {"driver":"nbd","server":{"type":"unix","path":"'$W'/q1.sock"}},
     {"driver":"nbd","server":{"type":"unix","path":"'$W'/q2.sock"}},
     {"driver":"nbd","server":{"type":"unix","path":"'$W'/q3.sock"}}]}' \
  --blockdev '{"driver":"luks","node-name":"l","file":"q","key-secret":"s0"}' \
  --nbd-server addr.type=unix,addr.path="$W/qsd.sock" --export type=nbd,id=e,node-name=l,writable=on,name=vol &
echo $! > "$W/qsd.pid"
for s in nbdvault.sock nbdvault-untagged.sock qsd.sock luks.sock; do
  for _ in $(seq 300); do [ -S "$W/$s" ] && break; sleep 0.1; done
done
: > "$W/results"
# After each of nbdvault's jobs: its per-layer latencies (status --json, lifetime figures; the
# summary subtracts consecutive snapshots) into FIO_JSON_DIR/status/. The untagged volume's status
# once, after its preconditioning, as FIO_JSON_DIR/untagged/status.json (beside, not among, fio's
# JSON): the record that it ran without integrity tags.
save_status() {
  [ -n "${FIO_JSON_DIR:-}" ] || return 0
  if [ "$1" = nbdvault ]; then
    mkdir -p "$FIO_JSON_DIR/status"
    "$NBDVAULT" status --admin-socket "$W/nbdvault.sock.admin" --json > "$FIO_JSON_DIR/status/$1_$2_$3_qd$4.json" 2>/dev/null \
      || echo "status --json failed after $*" >&2
  elif [ "$1" = nbdvault-untagged ] && [ "$2" = precondition ]; then
    mkdir -p "$FIO_JSON_DIR/untagged"
    "$NBDVAULT" status --admin-socket "$W/nbdvault-untagged.sock.admin" --json > "$FIO_JSON_DIR/untagged/status.json" 2>/dev/null \
      || echo "status --json failed after $*" >&2
  fi
}
export -f save_status 2>/dev/null || true
FIO_AFTER_JOB=save_status
# The processes on each target's path, for CPU per request (fio-jobs.sh): server, then replicas.
pids_of() {
  case $1 in
    nbdvault|nbdvault-untagged) echo $(cat "$W/$1.pid" "$W/$1"-[123].pid) ;;
    qsd) echo $(cat "$W/qsd.pid" "$W"/q[123].pid) ;;
    nbdkit-luks) cat "$W/luks.pid" ;;
  esac
}
FIO_CPU_PIDS=pids_of
fio_compare "nbd+unix:///vol?socket=$W/qsd.sock" qsd "nbd+unix:///?socket=$W/nbdvault.sock" nbdvault "$RT" "$SZ" "$W/results" \
  "nbd+unix:///?socket=$W/nbdvault-untagged.sock" nbdvault-untagged "nbd+unix:///?socket=$W/luks.sock" nbdkit-luks
echo "fio nbd engine, ${RT}$([[ $RT =~ ^[0-9]+$ ]] && echo s) per job, $SZ, $(nproc) cores, 3 nbdkit file replicas on tmpfs each, $(date -u +%FT%TZ)"
fio_table "$W/results" qsd nbdvault
fio_table "$W/results" qsd nbdvault-untagged
fio_table "$W/results" nbdkit-luks nbdvault
