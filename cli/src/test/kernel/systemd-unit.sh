# The systemd unit's commands (unit-commands.sh, expanded from packaging/systemd/nbdvault@.service
# and a volume's configuration by the Java test), run the way systemd runs them: ExecStartPre,
# ExecStart in the background, ExecStartPost; a crash (SIGKILL), ExecStop without $MAINPID (as
# systemd runs it then) and a restart under a mounted filesystem; ExecStop with $MAINPID, then the
# main process must exit cleanly.
. ./lib.sh
. ./unit-commands.sh
R=/tmp/replicas
mkdir -p $R /mnt/x
printf 'a guest passphrase' > /tmp/key
nbdvault create --size 64M --key-file /tmp/key --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  $R/m1.img $R/m2.img $R/m3.img > create.log 2>&1

step "start"
"${ExecStartPre[@]}" || true
"${ExecStart[@]}" 2> start.log &
pid=$!
"${ExecStartPost[@]}" && result start-post 0 || result start-post $?
mkfs.ext4 -q -F /dev/nbd2
mount /dev/nbd2 /mnt/x
mkdir /mnt/x/t
for f in $(seq 1 30); do head -c $((f * 5003)) /dev/urandom > /mnt/x/t/f$f; done
sync

step "crash and restart (Restart=on-failure)"
kill -KILL $pid
wait $pid 2>/dev/null || true
# systemd runs ExecStop after the main process died too, without $MAINPID, then restarts it.
(unset MAINPID; "${ExecStop[@]}") && result stop-after-crash 0 || result stop-after-crash $?
[ "$(cat /sys/block/nbd2/size)" -gt 0 ] && result attached-after-crash-stop 1 || result attached-after-crash-stop 0
"${ExecStart[@]}" 2> restart.log &
pid=$!
"${ExecStartPost[@]}" && result restart-post 0 || result restart-post $?
await_log restart.log "attached" 120 $pid
s=0
for f in $(seq 31 40); do head -c $((f * 5003)) /dev/urandom > /mnt/x/t/f$f || s=$?; done
sync || s=$?
result write-after-restart $s
tree_sums /mnt/x > sums-before
umount /mnt/x
mount -o ro /dev/nbd2 /mnt/x
tree_sums /mnt/x > sums-after
umount /mnt/x
e2fsck -f -n /dev/nbd2 > fsck.log 2>&1 && result fsck 0 || result fsck $?

step "stop"
MAINPID=$pid "${ExecStop[@]}" && result stop 0 || result stop $?
await_exit $pid 120
result main-status $status
result size-after-stop "$(cat /sys/block/nbd2/size)"
step "done"
