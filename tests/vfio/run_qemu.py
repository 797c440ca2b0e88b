#!/usr/bin/env python3
"""The real-VFIO test: boots a QEMU guest (TCG, q35, intel-iommu) with QEMU's
own NVMe model, binds it to vfio-pci with `redleaf setup bind`, runs
rl-vfio-check there, and checks the disk image from the host afterwards.

The guest is Debian's kernel and busybox, fetched with `apt-get download`
and unpacked under the build tree (never installed on the host); cached.

usage: run_qemu.py --cache DIR --check BINARY --setup SCRIPT
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

MODULES = ["virt/lib/irqbypass.ko", "drivers/vfio/vfio.ko", "drivers/vfio/vfio_iommu_type1.ko",
           "drivers/vfio/vfio_virqfd.ko", "drivers/vfio/pci/vfio-pci-core.ko", "drivers/vfio/pci/vfio-pci.ko"]
DISK_MB = 32
PATTERN_LBA = 1000
PATTERN_BYTES = 8 * 512


def die(msg):
    print(f"vfio test: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def kernel_package():
    out = run(["apt-cache", "depends", "linux-image-amd64"]).stdout
    m = re.search(r"Depends: (linux-image-[0-9.]+-[0-9]+-amd64)", out)
    if not m:
        die("apt-cache cannot resolve linux-image-amd64: run apt-get update (./redleaf deps does)")
    return m.group(1)


def prepare_guest(cache):
    """Kernel, modules and busybox, unpacked once under `cache`."""
    stamp = os.path.join(cache, "ready")
    if os.path.exists(stamp):
        return
    os.makedirs(cache, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pkgs = [kernel_package(), "busybox-static"]
        try:
            run(["apt-get", "download"] + pkgs, cwd=tmp)
        except subprocess.CalledProcessError as e:
            die(f"apt-get download {' '.join(pkgs)} failed: {e.stderr.strip()}")
        root = os.path.join(cache, "root")
        for deb in glob.glob(os.path.join(tmp, "*.deb")):
            run(["dpkg-deb", "-x", deb, root])
    open(stamp, "w").close()


def copy_with_libs(binary, dest_root):
    """Copies `binary` and the shared libraries ldd lists, at the same paths."""
    paths = [binary]
    for line in run(["ldd", binary]).stdout.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            paths.append(m.group(1))
    for p in paths:
        target = os.path.join(dest_root, p.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.realpath(p), target)


INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in {modules}; do insmod /modules/$m || echo "insmod $m failed"; done
nvme=""
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
echo o > /proc/sysrq-trigger
sleep 5
"""


def make_initramfs(cache, check, setup, domain, out):
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(cache, "root")
        os.makedirs(os.path.join(tmp, "bin"))
        shutil.copy2(os.path.join(root, "bin", "busybox"), os.path.join(tmp, "bin", "busybox"))
        kdir = glob.glob(os.path.join(root, "lib", "modules", "*"))[0]
        os.makedirs(os.path.join(tmp, "modules"))
        names = []
        for m in MODULES:
            shutil.copy2(os.path.join(kdir, "kernel", m), os.path.join(tmp, "modules"))
            names.append(os.path.basename(m))
        copy_with_libs(check, tmp)
        shutil.copy2(check, os.path.join(tmp, "rl-vfio-check"))
        shutil.copy2(domain, os.path.join(tmp, "nvme.so"))   # its libraries are the check's
        shutil.copy2(setup, os.path.join(tmp, "rl-setup.sh"))
        with open(os.path.join(tmp, "init"), "w") as f:
            f.write(INIT.format(modules=" ".join(names)))
        os.chmod(os.path.join(tmp, "init"), 0o755)
        files = run(["find", "."], cwd=tmp).stdout
        with open(out, "wb") as f:
            subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=files.encode(), cwd=tmp,
                           stdout=f, check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--setup", required=True)
    ap.add_argument("--domain", required=True, help="nvme.so, crashed and recovered in the guest")
    ap.add_argument("--timeout", type=int, default=400)
    a = ap.parse_args()
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        die("qemu-system-x86_64 not found: ./redleaf deps installs qemu-system-x86")
    prepare_guest(a.cache)
    kernel = glob.glob(os.path.join(a.cache, "root", "boot", "vmlinuz-*"))[0]
    with tempfile.TemporaryDirectory() as tmp:
        initrd = os.path.join(tmp, "initramfs.cpio")
        make_initramfs(a.cache, a.check, a.setup, a.domain, initrd)
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(DISK_MB << 20)
        cmd = [qemu, "-machine", "q35,kernel-irqchip=split", "-accel", "tcg", "-m", "256M",
               "-device", "intel-iommu,intremap=on", "-kernel", kernel, "-initrd", initrd,
               "-append", "console=ttyS0 intel_iommu=on panic=-1 quiet", "-nographic", "-no-reboot",
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
