# `nbdvault attach /dev/nbd0 MEMBER...` of a 3-replica encrypted volume over nbdkit file replicas
# (in the guest's tmpfs): mkfs, mount, a tree of files, fstrim reaching the replicas, SIGKILL of one
# replica while writing goes on, umount, detach; re-attach (the replica back), e2fsck, checksums;
# then fio with libaio, O_DIRECT and crc32c verification on the raw device.
. ./lib.sh
R=/tmp/replicas
mkdir -p $R /mnt/x
printf 'a guest passphrase' > /tmp/key
for i in 1 2 3; do truncate -s 84M $R/r$i.img; done
# Replica 1 logs every request (nbdkit's log filter), so the test sees flushes and trims arrive.
replica() {
  local filter=() log=(); [ "$1" = 1 ] && filter=(--filter=log) log=(logfile=$R/r1-requests.log)
  nbdkit -f -U $R/r$1.sock "${filter[@]}" file $R/r$1.img "${log[@]}" 2>> nbdkit-$1.log & echo $! > $R/r$1.pid
}
requests() { grep -c -E "connection=[0-9]+ $1 id=" $R/r1-requests.log || true; }
await_socket() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; echo "no socket $1"; return 1; }
for i in 1 2 3; do replica $i; done
for i in 1 2 3; do await_socket $R/r$i.sock; done
members=()
for i in 1 2 3; do members+=("nbd+unix:///?socket=$R/r$i.sock"); done
opts=(--key-file /tmp/key --timeout 3000 --bitmap-delay 1 --admin-socket /tmp/admin.sock)
allocated() { stat -c %b $R/r1.img $R/r3.img | awk '{s += $1 * 512} END {print s}'; }

step "create"
nbdvault create --size 80M --key-file /tmp/key --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "${members[@]}" > create.log 2>&1
step "attach"
nbdvault attach /dev/nbd0 "${opts[@]}" "${members[@]}" 2> attach1.log &
pid=$!
await_log attach1.log "attached" 120 $pid
result attach-mode "$(grep -o -m1 -w -e netlink -e ioctl attach1.log)"
step "mkfs, mount"
mkfs.ext4 -q -F -E nodiscard /dev/nbd0
mount /dev/nbd0 /mnt/x

step "sync and fsync reach the replicas as flushes"
sync
flushes=$(requests Flush)
head -c 1M /dev/urandom > /mnt/x/synced
sync
result flushes-by-sync $(($(requests Flush) - flushes))
flushes=$(requests Flush)
dd if=/dev/urandom of=/mnt/x/fsynced bs=64k count=4 conv=fsync status=none
result flushes-by-fsync $(($(requests Flush) - flushes))

step "fstrim"
head -c 24M /dev/urandom > /mnt/x/big
sync
# With integrity tags a discard reaches a replica as a zero request that may deallocate (a block
# must read back as what its tag vouches for): count both.
trims=$(requests '(Trim|Zero)')
result allocated-with-file "$(allocated)"
rm /mnt/x/big
sync
fstrim -v /mnt/x > fstrim.log 2>&1 && result fstrim-status 0 || result fstrim-status $?
sync
result allocated-after-trim "$(allocated)"
result trims-by-fstrim $(($(requests '(Trim|Zero)') - trims))
cat fstrim.log; grep -E " (Trim|Zero) id=" $R/r1-requests.log | tail -n 3 || true

step "write a tree"
write_tree() {  # write_tree DIR COUNT
  mkdir -p "$1"
  for ((f = 1; f <= $2; f++)); do
    mkdir -p "$1/d$((f % 5))"
    head -c $((f * 4099 % 300000 + 1)) /dev/urandom > "$1/d$((f % 5))/f$f"
  done
}
write_tree /mnt/x/before 60
cp -a /usr/share/doc/bash /mnt/x/before/bash-doc 2>/dev/null || true
sync

step "SIGKILL replica 2, keep writing"
kill -KILL "$(cat $R/r2.pid)"
write_status=0
write_tree /mnt/x/after 60 || write_status=$?
sync || write_status=$?
result write-after-kill-status $write_status
nbdvault status --admin-socket /tmp/admin.sock --json > status-degraded.json 2> status.err || true
tree_sums /mnt/x > sums-before
umount /mnt/x

step "detach"
nbdvault detach /dev/nbd0
await_exit $pid 120
result detach-status $status

step "replica 2 back, re-attach, e2fsck, checksums"
replica 2
await_socket $R/r2.sock
nbdvault attach /dev/nbd0 "${opts[@]}" "${members[@]}" 2> attach2.log &
pid=$!
await_log attach2.log "attached" 120 $pid
e2fsck -f -n /dev/nbd0 > fsck.log 2>&1 && result fsck 0 || result fsck $?
mount -o ro /dev/nbd0 /mnt/x
tree_sums /mnt/x > sums-after
umount /mnt/x

step "fio libaio O_DIRECT crc32c on /dev/nbd0"
fio --name=verify --filename=/dev/nbd0 --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=16 \
    --size=8M --verify=crc32c --do_verify=1 --verify_fatal=1 > fio.log 2>&1 && result fio 0 || result fio $?

step "SIGTERM"
kill -TERM $pid
await_exit $pid 120
result sigterm-status $status
step "done"
