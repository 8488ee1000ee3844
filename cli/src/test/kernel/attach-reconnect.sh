# Restart under a mounted filesystem: nbdvault serving /dev/nbd0 (netlink) is killed with SIGKILL
# while a writer writes files with fsync; `attach --reconnect` hands the kernel new sockets within
# the dead-connection timeout; the writer must finish without an error, the kernel must log no I/O
# error, and the files and the filesystem must be intact. Then past the timeout: the kernel fails the
# I/O, and after a reconnect, umount and e2fsck the files written before are intact. In between, a
# server that is alive but stalled past the kernel's request timeout (SIGSTOP) gets its connection
# dropped by the kernel and hands it a new one by itself.
. ./lib.sh
R=/tmp/replicas
mkdir -p $R /mnt/x
printf 'a guest passphrase' > /tmp/key
members=($R/m1.img $R/m2.img $R/m3.img)
base=(--key-file /tmp/key --bitmap-delay 1 --admin-socket /tmp/admin.sock --kernel-timeout 4)
opts=("${base[@]}" --dead-conn-timeout 90)

step "create, attach, mkfs, mount"
nbdvault create --size 64M --key-file /tmp/key --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "${members[@]}" > create.log 2>&1
nbdvault attach /dev/nbd0 "${opts[@]}" "${members[@]}" 2> attach1.log &
pid=$!
await_log attach1.log "attached" 120 $pid
result attach-mode "$(grep -o -m1 -w -e netlink -e ioctl attach1.log)"
mkfs.ext4 -q -F /dev/nbd0
mount /dev/nbd0 /mnt/x
dmesg -C

# writer DIR COUNT: COUNT files of 64 KiB written with O_DIRECT|O_SYNC-like fsync each, status in writer-DIR.
writer() {
  mkdir -p "/mnt/x/$1"
  local i s=0
  for ((i = 1; i <= $2; i++)); do
    head -c 65536 /dev/urandom > /tmp/chunk
    dd if=/tmp/chunk of="/mnt/x/$1/f$i" bs=64k conv=fsync status=none || { s=$?; break; }
    echo $i > "writer-$1-count"
  done
  echo $s > "writer-$1-status"
}

step "writer running; SIGKILL nbdvault"
writer w1 80 &
wpid=$!
for _ in $(seq 300); do [ "$(cat writer-w1-count 2>/dev/null || echo 0)" -ge 10 ] && break; sleep 0.1; done
kill -KILL $pid
wait $pid 2>/dev/null || true
result killed-at "$(cat writer-w1-count)"
sleep 1
result still-attached "$(cat /sys/block/nbd0/size)"

step "attach --reconnect"
nbdvault attach --reconnect /dev/nbd0 "${opts[@]}" "${members[@]}" 2> attach2.log &
pid=$!
await_log attach2.log "attached" 120 $pid
wait $wpid
result writer-status "$(cat writer-w1-status)"
result writer-count "$(cat writer-w1-count)"
result io-errors "$(dmesg | grep -c -i -e 'I/O error' -e 'EXT4-fs error' || true)"
dmesg > dmesg-reconnect.log
# A second server for the same device is refused while this one lives.
nbdvault attach --reconnect /dev/nbd0 "${opts[@]}" "${members[@]}" 2> attach-second.log \
  && result second-reconnect 0 || result second-reconnect $?
kill -0 $pid && result first-alive 0 || result first-alive 1
tree_sums /mnt/x > sums-before
umount /mnt/x
e2fsck -f -n /dev/nbd0 > fsck1.log 2>&1 && result fsck 0 || result fsck $?
mount /dev/nbd0 /mnt/x
tree_sums /mnt/x > sums-after

step "stalled past the kernel timeout (SIGSTOP): the kernel drops the connection, nbdvault replaces it"
dmesg -C
writer w4 30 &
wpid=$!
for _ in $(seq 300); do [ "$(cat writer-w4-count 2>/dev/null || echo 0)" -ge 5 ] && break; sleep 0.1; done
kill -STOP $pid
sleep 9
kill -CONT $pid
wait $wpid
result stall-writer-status "$(cat writer-w4-status)"
result stall-writer-count "$(cat writer-w4-count)"
dmesg > dmesg-stall.log
result stall-io-errors "$(grep -c -i -e 'I/O error' -e 'EXT4-fs error' dmesg-stall.log || true)"
result stall-dropped "$(grep -c -i 'timed out' dmesg-stall.log || true)"
result stall-replaced "$(grep -c 'reconnected$' attach2.log || true)"

step "past the timeout: SIGKILL, no reconnect for longer than the dead-connection timeout"
sync
tree_sums /mnt/x > sums-kept
kill -KILL $pid
wait $pid 2>/dev/null || true
# The timeout set at attach (90 s) is too long to wait here: a reconnect that sets 2 s, then dies too.
nbdvault attach --reconnect /dev/nbd0 "${base[@]}" --dead-conn-timeout 2 "${members[@]}" 2> attach3.log &
pid=$!
await_log attach3.log "attached" 120 $pid
kill -KILL $pid
wait $pid 2>/dev/null || true
writer w2 5 || true
sleep 4
writer w3 3 || true
result late-writer-status "$(cat writer-w3-status)"
umount /mnt/x 2> umount.log || umount -f /mnt/x 2>> umount.log || true

step "reconnect after the timeout, e2fsck, the old files"
nbdvault attach --reconnect /dev/nbd0 "${opts[@]}" "${members[@]}" 2> attach4.log &
pid=$!
await_log attach4.log "attached" 120 $pid
e2fsck -f -y /dev/nbd0 > fsck2.log 2>&1 && result fsck-repair 0 || result fsck-repair $?
e2fsck -f -n /dev/nbd0 > fsck3.log 2>&1 && result fsck-after 0 || result fsck-after $?
mount -o ro /dev/nbd0 /mnt/x
(cd /mnt/x && sha256sum -c --quiet "$SHARE/sums-kept") > kept.log 2>&1 && result kept 0 || result kept $?
umount /mnt/x
nbdvault detach /dev/nbd0
await_exit $pid 120
result detach-status $status
step "done"
