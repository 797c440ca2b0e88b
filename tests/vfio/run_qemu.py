#!/usr/bin/env python3
"""The real-VFIO test: boots a QEMU guest (TCG, q35, intel-iommu) with QEMU's
own NVMe model, binds it to vfio-pci with `redleaf setup bind`, runs
rl-vfio-check there, and checks the disk image from the host afterwards.

The guest is Debian's kernel and busybox, fetched with `apt-get download`
and unpacked under the build tree (never installed on the host); cached.

usage: run_qemu.py --cache DIR --check BINARY --setup SCRIPT
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from guest import copy_with_libs, die, machine, make_initramfs, prepare

DISK_MB = 32
PATTERN_LBA = 1000
PATTERN_BYTES = 8 * 512


INIT = """nvme=""
for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/class)" = 0x010802 ] && nvme=$(basename $d)
done
if [ -z "$nvme" ]; then echo "RL-VFIO-CHECK: FAIL no NVMe device in the guest"; else
  echo "guest: NVMe at $nvme"
  sh /rl-setup.sh status
  if sh /rl-setup.sh bind $nvme; then
    RL_SHARED_HEAP_MB=32 /rl-vfio-check $nvme /nvme.so
    sh /rl-setup.sh unbind $nvme && [ ! -e /sys/bus/pci/devices/$nvme/driver ] && echo "RL-SETUP: unbind ok"
  else
    echo "RL-VFIO-CHECK: FAIL redleaf setup bind $nvme"
  fi
  sh /rl-setup.sh hugepages 8 && [ "$(cat /proc/sys/vm/nr_hugepages)" = 8 ] && echo "RL-SETUP: hugepages ok"
  sh /rl-setup.sh bind 0000:00:1f.7 2>&1 | grep -q "no PCI device" && echo "RL-SETUP: bad address refused"
fi
"""


def place_files(check, setup, domain):
    def place(tmp):
        copy_with_libs(check, tmp)
        shutil.copy2(check, os.path.join(tmp, "rl-vfio-check"))
        shutil.copy2(domain, os.path.join(tmp, "nvme.so"))   # its libraries are the check's
        shutil.copy2(setup, os.path.join(tmp, "rl-setup.sh"))
    return place


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--setup", required=True)
    ap.add_argument("--domain", required=True, help="nvme.so, crashed and recovered in the guest")
    ap.add_argument("--timeout", type=int, default=400)
    a = ap.parse_args()
    kernel = prepare(a.cache)
    with tempfile.TemporaryDirectory() as tmp:
        initrd = os.path.join(tmp, "initramfs.cpio")
        make_initramfs(a.cache, INIT, place_files(a.check, a.setup, a.domain), initrd)
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(DISK_MB << 20)
        cmd = machine(kernel, initrd) + [
               "-drive", f"file={disk},if=none,id=nvm,format=raw",
               "-device", "nvme,serial=rltest,drive=nvm"]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
            out = p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            print(out[-4000:])
            die(f"the guest did not finish within {a.timeout} s")
        lines = [l for l in out.splitlines() if l.startswith(("guest:", "identify:", "unmapped", "recovery:", "RL-VFIO", "RL-SETUP", "redleaf"))]
        print("\n".join(lines))
        if "RL-VFIO-CHECK: PASS" not in out:
            print(out[-6000:])
            die("the check in the guest did not pass")
        for marker in ("RL-SETUP: unbind ok", "RL-SETUP: hugepages ok", "RL-SETUP: bad address refused"):
            if marker not in out:
                print(out[-6000:])
                die(f"redleaf setup in the guest: missing '{marker}'")
        with open(disk, "rb") as f:
            f.seek(PATTERN_LBA * 512)
            data = f.read(PATTERN_BYTES)
        expect = bytes(b"redleaf-vfio-"[i % 13] for i in range(PATTERN_BYTES))
        if data != expect:
            die("the pattern the guest wrote through VFIO is not in the disk image")
        print("host: the pattern written through VFIO is in the disk image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
