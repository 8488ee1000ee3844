# A standard client: Debian's nbd-client against `nbdvault serve` (a replicated, encrypted volume)
# over TCP with two connections (-C 2, multi-conn), mkfs, mount, write, remount, nbd-client -d.
. ./lib.sh
R=/tmp/replicas
mkdir -p $R /mnt/x
printf 'a guest passphrase' > /tmp/key
members=($R/m1.img $R/m2.img $R/m3.img)
# Client-side TCP connections to port 10809 (0x2A39): the kernel's, made from nbd-client's sockets.
established() { cat /proc/net/tcp /proc/net/tcp6 | awk '$3 ~ /:2A39$/ && $4 == "01"' | wc -l; }

step "create, serve"
nbdvault create --size 64M --key-file /tmp/key --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "${members[@]}" > create.log 2>&1
nbdvault serve --key-file /tmp/key --listen 127.0.0.1:10809 --admin-socket /tmp/admin.sock "${members[@]}" 2> serve.log &
pid=$!
await_log serve.log "serving" 120 $pid

step "nbd-client -C 2"
nbd-client 127.0.0.1 10809 /dev/nbd1 -N '' -C 2 -b 4096 > nbd-client.log 2>&1 && result connect 0 || result connect $?
result connections "$(established)"
result size "$(($(cat /sys/block/nbd1/size) * 512))"
mkfs.ext4 -q -F /dev/nbd1
mount /dev/nbd1 /mnt/x
mkdir /mnt/x/t
for f in $(seq 1 40); do head -c $((f * 7919)) /dev/urandom > /mnt/x/t/f$f; done
cp -a /usr/share/doc/bash /mnt/x/t/bash-doc 2>/dev/null || true
tree_sums /mnt/x > sums-written
umount /mnt/x
mount -o ro /dev/nbd1 /mnt/x
tree_sums /mnt/x > sums-remounted
umount /mnt/x
e2fsck -f -n /dev/nbd1 > fsck.log 2>&1 && result fsck 0 || result fsck $?

step "nbd-client -d"
nbd-client -d /dev/nbd1 >> nbd-client.log 2>&1 && result disconnect 0 || result disconnect $?
sleep 1
result size-after "$(cat /sys/block/nbd1/size)"
kill -0 $pid && result serve-alive 0 || result serve-alive 1
kill -TERM $pid
await_exit $pid 60
result serve-status $status
step "done"
