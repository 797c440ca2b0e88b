#!/bin/sh
# redleaf setup: device binding and hugepages, like dpdk-devbind.py and SPDK's
# setup.sh.  POSIX sh on purpose: it also runs in the busybox guest of the
# QEMU VFIO test.
#
#   setup status              NICs and NVMe controllers, their driver and IOMMU group
#   setup bind ADDR [--force] move ADDR to vfio-pci (refuses a device in use by the host)
#   setup unbind ADDR         give ADDR back to its kernel driver
#   setup hugepages N         reserve N 2 MiB hugepages
set -u

PCI=/sys/bus/pci/devices
say() { echo "redleaf setup: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
  sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

class_name() {   # 0x010802 -> nvme
  case "$1" in
    0x010802) echo nvme ;;
    0x0200*) echo ethernet ;;
    *) echo "" ;;
  esac
}

driver_of() { [ -e "$PCI/$1/driver" ] && basename "$(readlink "$PCI/$1/driver")" || echo none; }
group_of() { [ -e "$PCI/$1/iommu_group" ] && basename "$(readlink "$PCI/$1/iommu_group")" || echo none; }

check_addr() {
  case "$1" in
    [0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]:[0-9a-fA-F][0-9a-fA-F]:[0-9a-fA-F][0-9a-fA-F].[0-7]) ;;
    *) die "'$1' is not a PCI address like 0000:01:00.0 (see: setup status)" ;;
  esac
  [ -e "$PCI/$1" ] || die "no PCI device $1 (see: setup status)"
}

status() {
  printf '%-14s %-9s %-11s %-12s %s\n' ADDRESS CLASS VENDOR:DEV DRIVER IOMMU_GROUP
  for dev in "$PCI"/*; do
    [ -e "$dev/class" ] || continue
    addr=$(basename "$dev")
    kind=$(class_name "$(cat "$dev/class")")
    [ -n "$kind" ] || continue
    ids="$(cut -c3- "$dev/vendor"):$(cut -c3- "$dev/device")"
    printf '%-14s %-9s %-11s %-12s %s\n' "$addr" "$kind" "$ids" "$(driver_of "$addr")" "$(group_of "$addr")"
  done
}

# Is the host using this device?  A mounted NVMe namespace, or the NIC that
# carries the default route.
in_use() {
  addr=$1
  for blk in "$PCI/$addr"/nvme/nvme*/nvme*n*; do
    [ -e "$blk" ] || continue
    name=$(basename "$blk")
    if grep -q "^/dev/$name" /proc/mounts 2>/dev/null; then echo "/dev/$name is mounted"; return 0; fi
  done
  for nic in "$PCI/$addr"/net/*; do
    [ -e "$nic" ] || continue
    name=$(basename "$nic")
    if awk -v n="$name" '$1 == n && $2 == "00000000" { found = 1 } END { exit !found }' /proc/net/route 2>/dev/null; then
      echo "$name carries the default route"; return 0
    fi
  done
  return 1
}

bind() {
  addr=$1; force=${2:-}
  check_addr "$addr"
  if reason=$(in_use "$addr") && [ "$force" != "--force" ]; then
    die "refusing to bind $addr: $reason (unmount or move it first, or pass --force)"
  fi
  [ "$(group_of "$addr")" != none ] || die "$addr has no IOMMU group: boot with intel_iommu=on (or amd_iommu=on)"
  if [ ! -e /sys/bus/pci/drivers/vfio-pci ]; then
    command -v modprobe >/dev/null && modprobe vfio-pci 2>/dev/null
    [ -e /sys/bus/pci/drivers/vfio-pci ] || die "the vfio-pci driver is not loaded: modprobe vfio-pci"
  fi
  echo vfio-pci > "$PCI/$addr/driver_override" || die "cannot write driver_override (are you root?)"
  [ -e "$PCI/$addr/driver" ] && echo "$addr" > "$PCI/$addr/driver/unbind"
  echo "$addr" > /sys/bus/pci/drivers_probe
  group=$(group_of "$addr")
  i=0
  while [ ! -e "/dev/vfio/$group" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  [ "$(driver_of "$addr")" = vfio-pci ] || die "$addr did not bind to vfio-pci (see dmesg)"
  [ -e "/dev/vfio/$group" ] || die "/dev/vfio/$group did not appear"
  say "$addr bound to vfio-pci (IOMMU group $group, /dev/vfio/$group)"
}

unbind() {
  addr=$1
  check_addr "$addr"
  [ -e "$PCI/$addr/driver" ] && echo "$addr" > "$PCI/$addr/driver/unbind"
  echo > "$PCI/$addr/driver_override"
  echo "$addr" > /sys/bus/pci/drivers_probe 2>/dev/null
  say "$addr unbound; now: $(driver_of "$addr")"
}

hugepages() {
  case "${1:-}" in ''|*[!0-9]*) die "hugepages needs a number of 2 MiB pages, e.g. setup hugepages 128" ;; esac
  echo "$1" > /proc/sys/vm/nr_hugepages || die "cannot write /proc/sys/vm/nr_hugepages (are you root?)"
  got=$(cat /proc/sys/vm/nr_hugepages)
  [ "$got" -ge "$1" ] || die "asked for $1 hugepages, the kernel found memory for $got"
  say "$got hugepages of 2 MiB reserved"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  status) status ;;
  bind) [ $# -ge 1 ] || usage; bind "$@" ;;
  unbind) [ $# -ge 1 ] || usage; unbind "$1" ;;
  hugepages) hugepages "${1:-}" ;;
  *) usage ;;
esac
