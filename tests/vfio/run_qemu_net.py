#!/usr/bin/env python3
"""A real NIC through VFIO (issue #10): boots the QEMU guest of the NVMe test
with QEMU's 82574L model (`-device e1000e`, behind a PCIe root port) bound to
vfio-pci; its backend is a TAP device in a network namespace this test
creates (10.0.9.1 here, 10.0.9.2 in the guest; no other address is used).
In the guest rl-responder answers ARP and ping with the driver linked in;
then rl-httpd runs the e1000e driver domain behind its shadow and the
network stack domain.  From the namespace the test pings it and fetches
pages with curl, and compares the TAP's packet counts with the driver's
statistics (rl-httpd prints them on SIGUSR1).  A second run crashes the
driver every two seconds in the middle of the traffic: the shadow resets
the device with VFIO_DEVICE_RESET and restarts the driver; pings and
fetches go on, and QEMU's trace of its model's resets shows one per
recovery.

The reset: the guest sets the NIC's reset method to `bus`, a secondary bus
reset, which QEMU models; its default, a power-management reset, changes
nothing in QEMU 7.2.  The root port runs at 2.5 GT/s x1: at QEMU's default
16 GT/s it advertises Data Link Layer Link Active reporting but leaves
DLLLA clear after a bus reset, and Linux 6.1 then fails the reset after a
second (ENOTTY).

The guest's init reads commands from the serial console: `start PROGRAM
ARGS`, `stats`, `stop`, `halt`.

usage: run_qemu_net.py --cache DIR --httpd rl-httpd --responder rl-responder --domain e1000e.so
                       --domain netstack.so --setup rl-setup.sh
"""
import argparse
import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from guest import copy_with_libs, die, machine, make_initramfs, prepare

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from net_app_run import check, enter_namespace, failures, skip_unless_possible  # noqa: E402

NS = f"rl-vfio-net-{os.getpid()}"
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
  if sh /rl-setup.sh bind $nic; then echo "RL-NET: bound"; else echo "RL-NET: FAIL redleaf setup bind $nic"; fi
  pid=""
  while read cmd args; do
    case "$cmd" in
      start) set -- $args; prog=$1; shift
             RL_SHARED_HEAP_MB=48 /$prog --device $nic "$@" & pid=$! ;;
      stats) kill -USR1 $pid ;;
      stop) kill -TERM $pid; wait $pid; echo "RL-NET: $prog exited $?" ;;
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


def place_files(programs, domains, setup, files):
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

    def expect(self, pattern, timeout, fail=r"RL-NET: FAIL|Kernel panic|^rl-httpd: (?!serving)"):
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
                        r"stack_in (\d+) stack_out (\d+) crashes (\d+) recoveries (\d+) recovery_us_median (\d+)", 60)
        keys = ["device_rx", "device_tx", "device_rx_dropped", "stack_in", "stack_out", "crashes", "recoveries",
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


def answers_pings():
    subprocess.run(["ip", "neigh", "flush", "dev", TAP], check=True)   # ARP first, every time
    got = ping(10)
    if got != 10:
        raise AssertionError(f"{got} of 10 pings answered")


def traffic_and_counts(guest, files):
    s0, c0 = quiescent(guest)
    got = ping(10)
    if got != 10:
        raise AssertionError(f"{got} of 10 pings answered")
    fetch_exact("index.html", files["index.html"])
    fetch_exact("big.bin", files["big.bin"])
    code, _ = curl("missing.html")
    if code != 404:
        raise AssertionError(f"GET /missing.html: status {code}, expected 404")
    s1, c1 = quiescent(guest)
    rx, tx = s1["device_rx"] - s0["device_rx"], s1["device_tx"] - s0["device_tx"]
    sent, received = c1[2] - c0[2], c1[3] - c0[3]
    print(f"counts: the TAP sent {sent} and received {received} frames; the 82574L counted "
          f"{rx} received (GPRC) and {tx} sent (GPTC); the stack moved {s1['stack_in'] - s0['stack_in']} in, "
          f"{s1['stack_out'] - s0['stack_out']} out", flush=True)
    if s1["driver"] != "e1000e":
        raise AssertionError(f"rl-httpd ran the {s1['driver']} driver, not e1000e")
    if rx != sent or tx != received:
        raise AssertionError("the driver's statistics differ from the TAP's packet counts")
    if received < 700:
        raise AssertionError(f"only {received} frames came from the guest for a 1 MiB page and 10 pings")


def crashes_under_traffic(guest, files):
    resets_before = guest.device_resets
    tap_before = tap_counts()
    deadline = time.monotonic() + 240
    fetched = pinged = answered = 0
    while True:
        fetch_exact("big.bin", files["big.bin"])
        fetched += 1
        answered += ping(5)
        pinged += 5
        s = guest.stats()
        if s["recoveries"] >= 3:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"only {s['recoveries']} recoveries in 240 s")
    # The link is back after a recovery: in a window without a crash (the
    # counter did not move across it) every ping is answered.
    clean_windows = 0
    for _ in range(10):
        before = guest.stats()["crashes"]
        got = ping(3)
        s = guest.stats()
        if s["crashes"] != before:
            continue
        if got != 3:
            raise AssertionError(f"{got} of 3 pings answered between crashes, after {s['recoveries']} recoveries")
        clean_windows += 1
        if clean_windows == 2:
            break
    if clean_windows < 2:
        raise AssertionError("no window without a crash to ping in")
    fetch_exact("index.html", files["index.html"])
    s = guest.stats()
    print(f"crashes: {s['crashes']} driver crashes, {s['recoveries']} recoveries (median "
          f"{s['recovery_us_median']} µs, VFIO_DEVICE_RESET included); {fetched} fetches of 1 MiB "
          f"all exact; {answered} of {pinged} pings answered during the crashes, 6 of 6 between them", flush=True)
    if s["recoveries"] < s["crashes"] - 1:   # the last injected fault may not have fired yet
        raise AssertionError("a crash was not recovered")
    sent = tap_counts()[0] - tap_before[0]
    if s["device_rx"] > sent or s["stack_in"] > sent:
        raise AssertionError(f"more frames received ({s['device_rx']} by the NIC, {s['stack_in']} by the stack) "
                             f"than the TAP sent ({sent})")
    resets = guest.device_resets - resets_before
    print(f"resets: QEMU reset its 82574L model {resets} times during the {s['recoveries']} recoveries", flush=True)
    if resets < s["recoveries"]:
        raise AssertionError("a recovery did not reset the device (VFIO_DEVICE_RESET did not reach QEMU's model)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True)
    ap.add_argument("--httpd", required=True)
    ap.add_argument("--responder", required=True)
    ap.add_argument("--domain", action="append", required=True, help="e1000e.so, netstack.so")
    ap.add_argument("--setup", required=True)
    ap.add_argument("--timeout", type=int, default=500)
    a = ap.parse_args()
    skip_unless_possible(["qemu-system-x86_64", "ip", "ping", "curl"])
    kernel = prepare(a.cache)
    files = pages()
    subprocess.run(["ip", "netns", "add", NS], check=True)
    guest = None
    try:
        enter_namespace(NS)
        for conf in ("all", "default"):   # no router solicitations: every frame on the TAP is the test's
            with open(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6", "w") as f:   # this namespace's
                f.write("1")
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "tuntap", "add", "dev", TAP, "mode", "tap"], check=True)
        subprocess.run(["ip", "addr", "add", f"{HOST_IP}/24", "dev", TAP], check=True)
        subprocess.run(["ip", "link", "set", TAP, "up"], check=True)
        with tempfile.TemporaryDirectory() as tmp:
            initrd = os.path.join(tmp, "initramfs.cpio")
            make_initramfs(a.cache, INIT, place_files([a.httpd, a.responder], a.domain, a.setup, files), initrd)
            guest = Guest(machine(kernel, initrd) + [
                "-trace", "e1000e_cb_qdev_reset",   # QEMU says when its model is reset
                "-device", "pcie-root-port,id=rp1,chassis=1,bus=pcie.0,x-speed=2_5,x-width=1",
                "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no",
                "-device", f"e1000e,netdev=n0,mac={GUEST_MAC},bus=rp1,romfile="])
            t0 = time.monotonic()
            guest.expect(r"RL-NET: bound", 180)
            print(f"guest: booted and bound the 82574L to vfio-pci in {time.monotonic() - t0:.1f} s", flush=True)

            def run(program, args, ready, body):
                guest.send(f"start {program} {args}")
                guest.expect(ready, 120)
                try:
                    body()
                finally:
                    guest.send("stop")
                    m = guest.expect(rf"RL-NET: {program} exited (\d+)", 60)
                    if m.group(1) != "0":
                        raise AssertionError(f"{program} exited with status {m.group(1)}")

            def httpd(args, body):
                run("rl-httpd", f"--ip {GUEST_IP}/24 --root /www {args}", r"rl-httpd: serving", body)

            check("rl-responder, the driver linked in: ARP and 10 of 10 pings answered",
                  run, "rl-responder", f"--ip {GUEST_IP} --time 3600", r"rl-responder: answering", answers_pings)
            check("rl-httpd: ping, curl, and the driver's counts equal the TAP's",
                  httpd, "", lambda: traffic_and_counts(guest, files))
            check("rl-httpd with the driver crashed every 2 s under traffic: the shadow resets the NIC, nothing is lost",
                  httpd, "--crash-driver-every 2", lambda: crashes_under_traffic(guest, files))
            guest.send("halt")
            guest.p.wait(timeout=60)
    except Exception as e:   # noqa: BLE001 -- reported with the guest's output
        failures.append(str(e))
        print(f"FAIL: {e}")
    finally:
        if guest and guest.p.poll() is None:
            guest.p.kill()
        subprocess.run(["ip", "netns", "del", NS])
    if failures:
        print("--- the guest's console ---")
        print("\n".join(guest.log[-200:] if guest else []))
        return 1
    print("\n".join(l for l in guest.log if l.startswith(("guest:", "rl-httpd:", "rl-responder:", "rl:"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
