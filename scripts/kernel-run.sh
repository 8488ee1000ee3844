#!/usr/bin/env bash
# kernel-run.sh 'COMMAND' -- runs COMMAND (bash code) as root inside a throwaway Linux kernel
# (Debian's user-mode-linux: a 6.1 kernel that runs as an ordinary process, no /dev/kvm needed),
# prints what it prints and exits with its status: 124 when the guest timed out, 125 when it died
# before COMMAND finished.
#
# The guest sees the host's root filesystem read-only (hostfs) under a tmpfs overlay, so programs
# installed on the host run inside and whatever the guest writes outside the shared folder is
# thrown away. The shared folder, $KERNEL_SHARE (default: the current directory), is the host's own
# folder at the same path, read-write: results go there. The kernel's own modules (nbd, loop, ...)
# are under /lib/modules in the guest, so modprobe works. There is no udev: device nodes come from
# devtmpfs. One CPU, HZ=100, syscalls through ptrace: good for function, meaningless for speed.
#
# Knobs: KERNEL_SHARE, KERNEL_MEM (default 1536M), KERNEL_TIMEOUT (seconds, default 600),
# KERNEL_APPEND (extra kernel arguments, e.g. loglevel=7 to see the kernel's messages).
# Needs: apt-get install -y --no-install-recommends user-mode-linux kmod
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 'COMMAND'   (bash code, run as root in a user-mode-linux guest)" >&2
  exit 2
fi
uml=$(command -v linux.uml || true)
if [ -z "$uml" ]; then
  echo "kernel-run: linux.uml not found (apt-get install user-mode-linux kmod)" >&2
  exit 125
fi
share=$(realpath "${KERNEL_SHARE:-$PWD}")
ctl=$(mktemp -d /tmp/kernel-run.XXXXXX)
trap 'rm -rf "$ctl"' EXIT
preload=
guest_env=()
if grep -qw avx512f /proc/cpuinfo; then
  # UML 6.1 saves only x87/SSE/AVX state; see kernel/uml-xstate-preload.c for why and what it costs.
  here=$(cd "$(dirname "$0")" && pwd)
  gcc -O2 -shared -fPIC -o "$ctl/xstate.so" "$here/kernel/uml-xstate-preload.c" -ldl
  preload="$ctl/xstate.so"
  guest_env=("GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD,-AVX512ER,-AVX512PF"
             "JAVA_TOOL_OPTIONS=-XX:UseAVX=2")
fi
# $KERNEL_RO_SHARE (optional): one more host folder shown read-only at its own path, for a checkout
# that lives under /tmp (the guest's /tmp is a fresh tmpfs).
ro_share=""
[ -n "${KERNEL_RO_SHARE:-}" ] && ro_share=$(realpath "$KERNEL_RO_SHARE")
printf 'SHARE=%q\nWORKDIR=%q\nRO_SHARE=%q\n' "$share" "$PWD" "$ro_share" > "$ctl/env"
printf 'GUEST_ENV=(%s)\n' "${guest_env[*]@Q}" > "$ctl/guest-env"
printf '%s\n' "$*" > "$ctl/command"

# PID 1 of the guest, run by /bin/sh from the read-only host root: build a writable root and chroot.
cat > "$ctl/init" <<'EOF'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mods=/usr/lib/uml/modules/$(uname -r)
mount -t proc proc /proc
mount -t tmpfs -o mode=755 scratch /run
mkdir /run/upper /run/work /run/root
insmod $mods/kernel/fs/overlayfs/overlay.ko
mount -t overlay -o lowerdir=/,upperdir=/run/upper,workdir=/run/work overlay /run/root
cd /run/root
mount --bind /usr/lib/uml/modules lib/modules 2>/dev/null || { mkdir -p lib/modules && mount --bind /usr/lib/uml/modules lib/modules; }
mount -t tmpfs -o mode=755 run run
mkdir run/kernel-run
mount -t hostfs -o "$KERNEL_RUN_CTL" ctl run/kernel-run
. run/kernel-run/env
mount -t proc proc proc
mount -t sysfs sys sys
mount -t devtmpfs dev dev
mkdir -p dev/pts dev/shm run/lock
mount -t devpts devpts dev/pts
mount -t tmpfs shm dev/shm
mount -t tmpfs -o mode=1777 tmp tmp
if [ -n "$RO_SHARE" ]; then
  mkdir -p ".$RO_SHARE"
  mount -r -t hostfs -o "$RO_SHARE" project ".$RO_SHARE"
fi
mkdir -p ".$SHARE"
mount -t hostfs -o "$SHARE" share ".$SHARE"
ip link set lo up 2>/dev/null
hostname guest
exec chroot . /bin/bash /run/kernel-run/stage2
EOF
# Inside the new root: run the command with a clean environment, hand back its status, power off.
cat > "$ctl/stage2" <<'EOF'
. /run/kernel-run/env; . /run/kernel-run/guest-env
(cd "$WORKDIR" 2>/dev/null || cd /
 exec /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
   PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${GUEST_ENV[@]}" bash /run/kernel-run/command) </dev/null
echo $? > /run/kernel-run/status
sync
echo o > /proc/sysrq-trigger
sleep 30
EOF
chmod +x "$ctl/init"

set +e
# TMPDIR: where UML keeps the guest's memory (a sparse file); /dev/shm keeps it off the disk.
TMPDIR=/dev/shm LD_PRELOAD=$preload timeout --kill-after=10 "${KERNEL_TIMEOUT:-600}" "$uml" mem="${KERNEL_MEM:-1536M}" \
  root=/dev/root rootfstype=hostfs rootflags=/ ro init="$ctl/init" quiet loglevel=3 \
  con0=fd:0,fd:1 con=null ssl=null KERNEL_RUN_CTL="$ctl" ${KERNEL_APPEND:-} </dev/null
uml_status=$?
set -e
if [ -s "$ctl/status" ]; then
  exit "$(cat "$ctl/status")"
fi
[ "$uml_status" = 124 ] && { echo "kernel-run: the guest timed out" >&2; exit 124; }
echo "kernel-run: the guest died before the command finished (linux.uml exit $uml_status)" >&2
exit 125
