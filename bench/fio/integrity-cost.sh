#!/usr/bin/env bash
# What integrity tags cost: the same fio jobs (fio's nbd engine) against two nbdvault volumes made
# alike — LUKS2, three nbdkit file replicas on tmpfs each — one created with integrity tags (the
# default) and one with `create --integrity none`, run back to back job by job in the same run.
# usage: bench/fio/integrity-cost.sh [runtime=6 (seconds, or with a unit: 500ms)] [size=1G]
set -euo pipefail
RT=${1:-6}; SZ=${2:-1G}
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"
source "$here/fio-jobs.sh"
NBDVAULT=${NBDVAULT:-$root/nbdvault}
W=$(mktemp -d /dev/shm/nbdvault-integrity.XXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 1; rm -rf "$W"' EXIT
"$NBDVAULT" --version >/dev/null
bytes=$(numfmt --from=iec "$SZ")
printf 'benchmark passphrase' > "$W/key"

# volume LABEL CREATE_ARGS...: three replicas, the array, and nbdvault serving it on $W/LABEL.sock
volume() {
  local label=$1; shift
  local m=()
  for i in 1 2 3; do
    truncate -s $((bytes + bytes / 32 + 2 * 1024 * 1024)) "$W/$label$i.img"  # data, integrity tags (1/32), metadata
    nbdkit -U "$W/$label$i.sock" --exit-with-parent file "$W/$label$i.img" &
    m+=("nbd+unix:///?socket=$W/$label$i.sock")
  done
  sleep 1
  "$NBDVAULT" create --size "$SZ" --key-file "$W/key" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$@" "${m[@]}" 2>/dev/null
  "$NBDVAULT" serve --key-file "$W/key" --socket "$W/$label.sock" "${m[@]}" 2>"$W/$label.log" &
}
volume tags
volume plain --integrity none
for s in tags.sock plain.sock; do
  for _ in $(seq 300); do [ -S "$W/$s" ] && break; sleep 0.1; done
done
: > "$W/results"
fio_compare "nbd+unix:///?socket=$W/plain.sock" no-tags "nbd+unix:///?socket=$W/tags.sock" tags "$RT" "$SZ" "$W/results"
echo "fio nbd engine, ${RT}$([[ $RT =~ ^[0-9]+$ ]] && echo s) per job, $SZ, $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $("$NBDVAULT" --version | sed -n 's/^Java //p'), 3 nbdkit file replicas on tmpfs each, $(date -u +%FT%TZ)"
fio_table "$W/results" no-tags tags
