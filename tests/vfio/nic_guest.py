"""The guest side of the NIC tests and benchmarks (issue #10): QEMU's 82574L
model (`-device e1000e`) behind a PCIe root port, its backend a TAP device
in a network namespace the caller makes (10.0.9.1 there, 10.0.9.2 in the
guest; no other address is used), the guest's init driven through the
serial console, and the host-side clients.

The guest's init reads commands from the serial console:
  start PROGRAM ARGS   run /PROGRAM --device NIC ARGS (rl-httpd, rl-responder)
  stats / stop         SIGUSR1 (rl-stats line) / SIGTERM to it, then its exit status
  kernel / vfio        hand the NIC to Linux's e1000e driver (busybox httpd serves
                       /www) / back to vfio-pci
  halt

The reset: the init sets the NIC's reset method to `bus`, a secondary bus
reset, which QEMU models; its default, a power-management reset, changes
nothing in QEMU 7.2.  The root port runs at 2.5 GT/s x1: at QEMU's default
16 GT/s it advertises Data Link Layer Link Active reporting but leaves
DLLLA clear after a bus reset, and Linux 6.1 then fails the reset after a
second (ENOTTY).
"""
import glob
import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time

from guest import copy_with_libs, machine, make_initramfs, prepare

TAP = "rlq0"
HOST_IP, GUEST_IP = "10.0.9.1", "10.0.9.2"
GUEST_MAC = "52:54:00:12:34:56"
BIG = 1 << 20   # a 1 MiB page: ~730 frames, more than a ring of 512 holds


INIT = """nic=""
for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/vendor):$(cat $d/device)" = 0x8086:0x10d3 ] && nic=$(basename $d)
done
if [ -z "$nic" ]; then echo "RL-NET: FAIL no 82574L in the guest"; else
  echo "guest: 82574L at $nic, reset methods: $(cat /sys/bus/pci/devices/$nic/reset_method)"
  echo bus > /sys/bus/pci/devices/$nic/reset_method && echo "guest: reset method $(cat /sys/bus/pci/devices/$nic/reset_method)"
  [ -e /modules/e1000e.ko ] && insmod /modules/e1000e.ko   # for `kernel`; the bind below takes the NIC from it
  if sh /rl-setup.sh bind $nic; then echo "RL-NET: bound"; else echo "RL-NET: FAIL redleaf setup bind $nic"; fi
  pid=""
  while read cmd args; do
    case "$cmd" in
      start) set -- $args; prog=$1; shift
             RL_SHARED_HEAP_MB=48 /$prog --device $nic "$@" & pid=$! ;;
      stats) kill -USR1 $pid ;;
      stop) kill -TERM $pid; wait $pid; echo "RL-NET: $prog exited $?" ;;
      kernel) sh /rl-setup.sh unbind $nic >/dev/null 2>&1
              for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /sys/class/net/eth0 ] && break; sleep 0.5; done
              ip addr add 10.0.9.2/24 dev eth0 && ip link set eth0 up && httpd -p 80 -h /www
              for i in $(seq 40); do [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ] && break; sleep 0.25; done
              [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ] && echo "RL-NET: kernel serving" ||
                echo "RL-NET: FAIL the kernel's e1000e driver: no link" ;;
      vfio) killall httpd; ip link set eth0 down; ip addr flush dev eth0
            sh /rl-setup.sh bind $nic && echo "RL-NET: bound" || echo "RL-NET: FAIL redleaf setup bind $nic" ;;
      halt) break ;;
    esac
  done
fi
"""



def pages():
    """The web root: a small page and a 1 MiB one of seeded bytes."""
    big = bytearray()
    seed = b"redleaf-e1000e"
    while len(big) < BIG:
        seed = hashlib.sha256(seed).digest()
        big += seed
    return {"index.html": b"<h1>redleaf over a real 82574L model through VFIO</h1>\n", "big.bin": bytes(big[:BIG])}


def place_files(programs, domains, setup, files, kernel_driver=None):
    def place(tmp):
        for program in programs:
            copy_with_libs(program, tmp, "/" + os.path.basename(program))
        for so in domains:   # where rl-httpd looks for them: their build directories
            copy_with_libs(os.path.abspath(so), tmp)
        shutil.copy2(setup, os.path.join(tmp, "rl-setup.sh"))
        os.makedirs(os.path.join(tmp, "www"))
        for name, data in files.items():
            with open(os.path.join(tmp, "www", name), "wb") as f:
                f.write(data)
        if kernel_driver:   # Linux's own e1000e, for the comparison in bench/compare-e1000e
            shutil.copy2(kernel_driver, os.path.join(tmp, "modules", "e1000e.ko"))
    return place


class Guest:
    """QEMU with the serial console on a pipe: lines come through a reader thread."""

    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, errors="replace", bufsize=1)
        self.lines = queue.Queue()
        self.log = []
        self.device_resets = 0   # QEMU's own trace of each reset of its e1000e
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            line = line.rstrip("\r\n")
            if "e1000e_cb_qdev_reset" in line:
                self.device_resets += 1
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def send(self, command):
        self.p.stdin.write(command + "\n")
        self.p.stdin.flush()

    def expect(self, pattern, timeout, fail=r"RL-NET: FAIL|Kernel panic|^rl-httpd: (?!serving)|^rl-responder: (?!answering)"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no '{pattern}' from the guest within {timeout} s")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the guest ended before '{pattern}'")
            if fail and re.search(fail, line):
                raise AssertionError(f"the guest says: {line}")
            m = re.search(pattern, line)
            if m:
                return m

    def stats(self):
        self.send("stats")
        m = self.expect(r"rl-stats: driver (\S+) device_rx (\d+) device_tx (\d+) device_rx_dropped (\d+) "
                        r"stack_in (\d+) stack_out (\d+) injected (\d+) recoveries (\d+) recovery_us_median (\d+)", 60)
        keys = ["device_rx", "device_tx", "device_rx_dropped", "stack_in", "stack_out", "injected", "recoveries",
                "recovery_us_median"]
        s = dict(zip(keys, map(int, m.groups()[1:])))
        s["driver"] = m.group(1)
        return s


def tap_counts():
    out = subprocess.run(["ip", "-j", "-s", "link", "show", "dev", TAP], check=True, capture_output=True, text=True).stdout
    st = json.loads(out)[0]["stats64"]
    return st["tx"]["packets"], st["rx"]["packets"]   # host to guest, guest to host


def quiescent(guest):
    """The guest's device counters and the TAP's, read until neither moves."""
    last = None
    for _ in range(30):
        s = guest.stats()
        now = (s["device_rx"], s["device_tx"]) + tap_counts()
        if now == last:
            return s, now
        last = now
        time.sleep(0.5)
    raise AssertionError("the counters never settled")


def ping(count, interval="0.2"):
    p = subprocess.run(["ping", "-n", "-c", str(count), "-i", interval, "-W", "5", GUEST_IP],
                       capture_output=True, text=True)
    m = re.search(r"(\d+) received", p.stdout)
    return int(m.group(1)) if m else 0


def curl(path, timeout=60):
    p = subprocess.run(["curl", "-s", "-S", "--max-time", str(timeout), "-o", "-", "-w", "\n%{http_code}",
                        f"http://{GUEST_IP}/{path}"], capture_output=True)
    body, _, code = p.stdout.rpartition(b"\n")
    if p.returncode != 0:
        raise AssertionError(f"curl {path}: exit {p.returncode}: {p.stderr.decode(errors='replace').strip()}")
    return int(code), body


def fetch_exact(path, expected):
    code, body = curl(path)
    if code != 200 or body != expected:
        raise AssertionError(f"GET /{path}: status {code}, {len(body)} bytes, "
                             f"{'same' if body == expected else 'different'} content")


def make_network(ns, enter_namespace):
    """The namespace `ns` (this process moves into it) with the TAP at HOST_IP."""
    subprocess.run(["ip", "netns", "add", ns], check=True)
    enter_namespace(ns)
    for conf in ("all", "default"):   # no router solicitations: every frame on the TAP is the caller's
        with open(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6", "w") as f:   # this namespace's
            f.write("1")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "tuntap", "add", "dev", TAP, "mode", "tap"], check=True)
    subprocess.run(["ip", "addr", "add", f"{HOST_IP}/24", "dev", TAP], check=True)
    subprocess.run(["ip", "link", "set", TAP, "up"], check=True)


def kernel_e1000e(cache):
    """Linux's own e1000e module from the guest's kernel package."""
    return glob.glob(os.path.join(cache, "root", "lib", "modules", "*", "kernel", "drivers", "net", "ethernet",
                                  "intel", "e1000e", "e1000e.ko"))[0]


def boot(cache, initrd_dir, programs, domains, setup, files, kernel_driver=None):
    """Builds the initramfs and starts the guest on the TAP; returns the Guest
    once the NIC is bound to vfio-pci."""
    kernel = prepare(cache)
    initrd = os.path.join(initrd_dir, "initramfs.cpio")
    make_initramfs(cache, INIT, place_files(programs, domains, setup, files, kernel_driver), initrd)
    g = Guest(machine(kernel, initrd) + [
        "-trace", "e1000e_cb_qdev_reset",   # QEMU says when its model is reset
        "-device", "pcie-root-port,id=rp1,chassis=1,bus=pcie.0,x-speed=2_5,x-width=1",
        "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no",
        "-device", f"e1000e,netdev=n0,mac={GUEST_MAC},bus=rp1,romfile="])
    g.expect(r"RL-NET: bound", 180)
    return g
