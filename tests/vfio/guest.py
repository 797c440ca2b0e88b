"""The QEMU guest both VFIO tests boot (design.md §6): Debian's kernel and
busybox, fetched with `apt-get download` and unpacked under the build tree
(never installed on the host), an initramfs holding the programs under test
with their shared libraries, and a q35 machine with an intel-iommu.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

MODULES = ["virt/lib/irqbypass.ko", "drivers/vfio/vfio.ko", "drivers/vfio/vfio_iommu_type1.ko",
           "drivers/vfio/vfio_virqfd.ko", "drivers/vfio/pci/vfio-pci-core.ko", "drivers/vfio/pci/vfio-pci.ko"]

# The init script's first lines: busybox, the file systems, the VFIO modules.
INIT_PROLOGUE = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in {modules}; do insmod /modules/$m || echo "insmod $m failed"; done
"""
INIT_EPILOGUE = """
echo o > /proc/sysrq-trigger
sleep 5
"""


def die(msg):
    print(f"vfio test: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def qemu_binary():
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        die("qemu-system-x86_64 not found: ./redleaf deps installs qemu-system-x86")
    return qemu


def kernel_package():
    out = run(["apt-cache", "depends", "linux-image-amd64"]).stdout
    m = re.search(r"Depends: (linux-image-[0-9.]+-[0-9]+-amd64)", out)
    if not m:
        die("apt-cache cannot resolve linux-image-amd64: run apt-get update (./redleaf deps does)")
    return m.group(1)


def prepare(cache):
    """Kernel, modules and busybox, unpacked once under `cache`; returns the kernel's path."""
    stamp = os.path.join(cache, "ready")
    if not os.path.exists(stamp):
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
    return glob.glob(os.path.join(cache, "root", "boot", "vmlinuz-*"))[0]


def copy_with_libs(binary, dest_root, at=None):
    """Copies `binary` (to `at`, default its own path) and the shared
    libraries ldd lists, at the same paths."""
    paths = [(binary, at or binary)]
    for line in run(["ldd", binary]).stdout.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            paths.append((m.group(1), m.group(1)))
    for src, dst in paths:
        target = os.path.join(dest_root, dst.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.realpath(src), target)


def make_initramfs(cache, init_body, place, out):
    """An initramfs: busybox, the VFIO modules, an init of INIT_PROLOGUE +
    `init_body` + INIT_EPILOGUE, and whatever `place(tmp_root)` copies in."""
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
        place(tmp)
        with open(os.path.join(tmp, "init"), "w") as f:
            f.write(INIT_PROLOGUE.format(modules=" ".join(names)) + init_body + INIT_EPILOGUE)
        os.chmod(os.path.join(tmp, "init"), 0o755)
        files = run(["find", "."], cwd=tmp).stdout
        with open(out, "wb") as f:
            subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=files.encode(), cwd=tmp,
                           stdout=f, check=True)


def machine(kernel, initrd):
    """The q35 guest with an intel-iommu (interrupt remapping: VFIO_SET_IOMMU needs it)."""
    return [qemu_binary(), "-machine", "q35,kernel-irqchip=split", "-accel", "tcg", "-m", "256M",
            "-device", "intel-iommu,intremap=on", "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 intel_iommu=on panic=-1 quiet", "-nographic", "-no-reboot"]
