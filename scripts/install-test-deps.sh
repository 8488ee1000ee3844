#!/usr/bin/env bash
# Installs the third-party programs the test suite runs against (Debian packages), only those
# that are missing. Needs root (or sudo); runs `apt-get update` once when something is missing.
set -euo pipefail

# command -> Debian package that provides it
declare -A NEEDS=(
  [nbdkit]=nbdkit
  [nbdinfo]=libnbd-bin
  [nbdcopy]=libnbd-bin
  [nbdfuse]=libnbd-bin
  [qemu-img]=qemu-utils
  [qemu-io]=qemu-utils
  [qemu-storage-daemon]=qemu-system-common
  [fio]=fio
  [cryptsetup]=cryptsetup-bin
  [mkfs.ext4]=e2fsprogs
  [e2fsck]=e2fsprogs
  [openssl]=openssl
  [fusermount3]=fuse3
  [tgtd]=tgt
  [tgtadm]=tgt
  [iscsi-ls]=libiscsi-bin
  [iscsi-inq]=libiscsi-bin
  [iscsi-readcapacity16]=libiscsi-bin
  [gcc]=gcc
  [mount]=mount
  # A real kernel for the /dev/nbdN tests (scripts/kernel-run.sh): user-mode-linux, with modprobe for its modules.
  [linux.uml]=user-mode-linux
  [modprobe]=kmod
  [nbd-client]=nbd-client
  # Charts of bench/run.sh (its --quick run is part of the tests).
  [gnuplot]=gnuplot-nox
  # CPU time of qemu-img in bench/iscsi/initiator-vs-libiscsi.sh.
  [/usr/bin/time]=time
  # bench/chaos/run.sh (its --quick run is part of the tests): status lines, network namespaces.
  [jq]=jq
  [ip]=iproute2
)
# Python's cryptography (OpenSSL's EVP XTS) is a module, not a command.
PY_MODULES=(cryptography:python3-cryptography)

missing=()
for cmd in "${!NEEDS[@]}"; do
  if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1; then
    missing+=("${NEEDS[$cmd]}")
  fi
done
for entry in "${PY_MODULES[@]}"; do
  module=${entry%%:*}; package=${entry#*:}
  if ! /usr/bin/python3 -c "import $module" >/dev/null 2>&1; then
    missing+=("$package")
  fi
done
# nbdkit filters used by the chaos tests ship with nbdkit itself; qemu's nbd driver with qemu-block-extra.
if ! dpkg -s qemu-block-extra >/dev/null 2>&1; then
  missing+=(qemu-block-extra)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
mapfile -t unique < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing test dependencies: ${unique[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${unique[@]}" >&2
