# `nbdvault attach /dev/nbd0 FILE` (the single-target form): mkfs, mount, write, remount, read back,
# detach; then the same through SIGTERM instead of detach.
. ./lib.sh
truncate -s 128M /tmp/disk.img
mkdir -p /mnt/x

step "attach, mkfs, mount, write"
nbdvault attach /dev/nbd0 /tmp/disk.img 2> attach1.log &
pid=$!
await_log attach1.log "attached" 120 $pid
result attach-mode "$(grep -o -m1 -w -e netlink -e ioctl attach1.log)"
mkfs.ext4 -F -q /dev/nbd0
mount /dev/nbd0 /mnt/x
echo "through the kernel" > /mnt/x/hello
umount /mnt/x
mount /dev/nbd0 /mnt/x
result hello "$(cat /mnt/x/hello)"
umount /mnt/x
step "detach"
nbdvault detach /dev/nbd0
await_exit $pid 60; result detach-status $status
result size-after-detach "$(cat /sys/block/nbd0/size)"

step "attach again with two connections, SIGTERM"
nbdvault attach --nbd-connections 2 /dev/nbd0 /tmp/disk.img 2> attach2.log &
pid=$!
await_log attach2.log "attached" 120 $pid
mount -o ro /dev/nbd0 /mnt/x
result hello-again "$(cat /mnt/x/hello)"
umount /mnt/x
kill -TERM $pid
await_exit $pid 60; result sigterm-status $status
step "attach through the ioctls (the fallback for kernels without netlink), detach"
nbdvault attach --ioctl /dev/nbd0 /tmp/disk.img 2> attach3.log &
pid=$!
await_log attach3.log "attached" 120 $pid
result ioctl-mode "$(grep -o -m1 -w -e netlink -e ioctl attach3.log)"
mount -o ro /dev/nbd0 /mnt/x
result hello-ioctl "$(cat /mnt/x/hello)"
umount /mnt/x
nbdvault detach /dev/nbd0
await_exit $pid 60
result ioctl-detach-status $status
step "the embedded default: attach /dev/nbd3 with no members (a small one, made by the test)"
cp -r --sparse=always "$SHARE/vault" /tmp/vault
nbdvault attach /dev/nbd3 --data-dir /tmp/vault 2> attach4.log &
pid=$!
await_log attach4.log "attached" 300 $pid
result embedded-size "$(($(cat /sys/block/nbd3/size) * 512))"
head -c 1M /dev/urandom > /tmp/block
dd if=/tmp/block of=/dev/nbd3 bs=1M seek=5 oflag=direct status=none
result embedded-readback "$(dd if=/dev/nbd3 bs=1M skip=5 count=1 iflag=direct status=none | cmp - /tmp/block && echo same)"
nbdvault detach /dev/nbd3
await_exit $pid 60
result embedded-detach-status $status
e2fsck -f -n /tmp/disk.img > fsck.log 2>&1 && result fsck 0 || result fsck $?
step "done"
