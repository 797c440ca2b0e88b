#!/usr/bin/env python3
"""A real NIC through VFIO (issue #10): boots the QEMU guest of the NVMe test
with QEMU's 82574L model bound to vfio-pci, its backend a TAP device in a
network namespace this test creates (nic_guest.py).  In the guest
rl-responder answers ARP and ping with the driver linked in; then rl-httpd
runs the e1000e driver domain behind its shadow and the network stack
domain.  From the namespace the test pings it and fetches pages with curl,
and compares the TAP's packet counts with the driver's statistics (rl-httpd
prints them on SIGUSR1).  A second run crashes the driver every two seconds
in the middle of the traffic: the shadow resets the device with
VFIO_DEVICE_RESET and restarts the driver; pings and fetches go on, and
QEMU's trace of its model's resets shows one per recovery.

usage: run_qemu_net.py --cache DIR --httpd rl-httpd --responder rl-responder --domain e1000e.so
                       --domain netstack.so --setup rl-setup.sh
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from nic_guest import GUEST_IP, TAP, boot, fetch_exact, make_network, pages, ping, quiescent, curl, tap_counts

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from net_app_run import check, enter_namespace, failures, skip_unless_possible  # noqa: E402

NS = f"rl-vfio-net-{os.getpid()}"


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
        before = guest.stats()["injected"]
        got = ping(3)
        s = guest.stats()
        if s["injected"] != before:
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
    print(f"crashes: {s['injected']} driver crashes (injected), {s['recoveries']} recoveries (median "
          f"{s['recovery_us_median']} µs, VFIO_DEVICE_RESET included); {fetched} fetches of 1 MiB "
          f"all exact; {answered} of {pinged} pings answered during the crashes, 6 of 6 between them", flush=True)
    if s["recoveries"] < s["injected"] - 1:   # the last injected fault may not have fired yet
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
    a = ap.parse_args()
    skip_unless_possible(["qemu-system-x86_64", "ip", "ping", "curl"])
    files = pages()
    guest = None
    try:
        make_network(NS, enter_namespace)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            guest = boot(a.cache, tmp, [a.httpd, a.responder], a.domain, a.setup, files)
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
