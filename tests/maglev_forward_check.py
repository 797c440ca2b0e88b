#!/usr/bin/env python3
"""rl-maglev end to end on the simulated 82599 with the generator wire:
every generated frame forwarded, once, on every path (direct, the driver
domain, the shadow); backends balanced; the shadow rides out a driver crash;
backends added and removed at run time through --control; bad arguments
refused with exit status 2."""
import json
import signal
import subprocess
import sys
import time

tool = sys.argv[1]
BACKENDS = "a=192.168.1.1,b=192.168.1.2,c=192.168.1.3,d=192.168.1.4@00:1b:21:00:00:04"


def summary(out):
    lines = [l for l in out.splitlines() if l.startswith("{")]
    assert len(lines) == 1, out
    return json.loads(lines[0])


# Count-limited generation: 100,000 frames over 10,000 flows; rl-maglev stops
# when it has received them all (--time is only a safety limit).
FRAMES, FLOWS = 100000, 10000
for through in ("domain", "direct", "shadow"):
    p = subprocess.run([tool, "--device", f"sim:ixgbe,wire=gen:flows={FLOWS}:count={FRAMES}", "--backends", BACKENDS,
                        "--through", through, "--frames", str(FRAMES), "--time", "60"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    s = summary(p.stdout)
    assert s["through"] == through
    assert s["packets_in"] == FRAMES, s
    assert s["packets_out"] == FRAMES and s["dropped"] == 0, s
    assert s["wire_frames"] == FRAMES, f"every frame on the wire once: {s}"
    ct = s["conntrack"]
    assert ct["misses"] == FLOWS and ct["hits"] == FRAMES - FLOWS, f"one miss per new flow: {ct}"
    per = {name: b["packets"] for name, b in s["backends"].items()}
    assert sorted(per) == ["a", "b", "c", "d"] and sum(per.values()) == FRAMES, per
    for name, n in per.items():   # 2,500 flows each +- 43 (binomial): 10 % is > 5 sigma
        assert abs(n - FRAMES / 4) < FRAMES / 4 * 0.10, f"backend {name} got {n} of {FRAMES}: {per}"
    print(f"ok: {through}: {FRAMES} frames forwarded, per backend {per}, {s['mpps']} Mpps")

# The shadow: SIGUSR1 crashes the driver domain; forwarding goes on.
p = subprocess.Popen([tool, "--device", "sim:ixgbe,wire=gen:flows=1000", "--backends", BACKENDS,
                      "--through", "shadow", "--time", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(0.8)
p.send_signal(signal.SIGUSR1)
out, err = p.communicate(timeout=60)
assert p.returncode == 0, err
s = summary(out)
assert s["recoveries"] == 1, s
# Frames a crash caught inside the driver count as sent without reaching the wire.
assert s["packets_out"] > 0 and 0 <= s["packets_out"] - s["wire_frames"] <= 64, s
print(f"ok: shadow: the driver crashed once and was recovered, {s['packets_out']} frames forwarded")

# A driver crash every 100 ms behind the shadow: forwarding goes on, and the
# only frames not on the wire are those a crash caught inside the driver.
p = subprocess.run([tool, "--device", "sim:ixgbe,wire=gen:flows=10000", "--backends", BACKENDS,
                    "--through", "shadow", "--time", "2", "--crash-driver-every", "100"],
                   capture_output=True, text=True, timeout=120)
assert p.returncode == 0, p.stderr
s = summary(p.stdout)
assert s["recoveries"] >= 10, s
assert s["packets_in"] > 0 and 0 <= s["packets_out"] - s["wire_frames"] <= 64 * s["recoveries"], s
print(f"ok: shadow: {s['recoveries']} driver crashes recovered, {s['packets_out']} frames forwarded, "
      f"{s['packets_out'] - s['wire_frames']} caught in a crash")

# Backends changed at run time.  1,000 flows, all tracked within the first
# batches: adding e moves none of them (section 3.3); removing a moves a's
# flows, some of them to e.
p = subprocess.Popen([tool, "--device", "sim:ixgbe,wire=gen:flows=1000", "--backends", BACKENDS,
                      "--through", "domain", "--time", "3", "--control", "-"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(0.8)
p.stdin.write("add e=192.168.1.5\n")
p.stdin.flush()
time.sleep(0.6)
p.stdin.write("remove a\nfrobnicate\nremove nobody\n")
p.stdin.flush()
out, err = p.communicate(timeout=60)
assert p.returncode == 0, err
s = summary(out)
assert s["table_builds"] == 3, s
b = s["backends"]
assert not b["a"]["live"] and b["e"]["live"], b
assert b["e"]["packets"] > 0, f"some of a's flows moved to e: {b}"
assert s["conntrack"]["rehomed"] > 0, s
assert "control: add e=192.168.1.5: 5 backends" in err, err
assert "control: remove a: 4 backends" in err, err
assert "expected 'add NAME" in err and "no backend named nobody" in err, err
print(f"ok: control: e added, a removed, {s['conntrack']['rehomed']} connections re-homed; {b}")

# Bad arguments: a message and status 2.
for args, why in ((["--backends", BACKENDS, "--through", "nowhere"], "--through nowhere"),
                  (["--backends", "a=1.2.3"], "not an IPv4 address"),
                  (["--backends", "a=1.2.3.4@01:00:5e:00:00:01"], "unicast MAC"),
                  (["--backends", "a=1.2.3.4,a=1.2.3.5"], "already in the set"),
                  (["--backends", BACKENDS, "--batch", "65"], "--batch 65"),
                  (["--backends", BACKENDS, "--size", "1000"], "must be a prime"),
                  (["--time", "1"], "no backends"),
                  (["--backends", BACKENDS, "--control", "/nonexistent/x"], "--control /nonexistent/x"),
                  (["--backends", BACKENDS, "--bogus", "1"], "unknown option --bogus")):
    r = subprocess.run([tool] + args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and why in r.stderr, (args, r.returncode, r.stderr)
print("ok: bad arguments refused with status 2")
