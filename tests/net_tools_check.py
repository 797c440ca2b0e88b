#!/usr/bin/env python3
"""rl-pktgen and rl-fwd end to end on the simulated 82599: each moves packets
for a second, directly and through the driver domain, and says so in JSON."""
import json
import subprocess
import sys

pktgen, fwd = sys.argv[1], sys.argv[2]
runs = [
    (pktgen, ["--device", "sim:ixgbe,wire=sink", "--time", "1"]),
    (pktgen, ["--device", "sim:ixgbe,wire=sink", "--time", "1", "--through", "domain", "--size", "1514"]),
    (fwd, ["--device", "sim:ixgbe,wire=loopback", "--time", "1"]),
    (fwd, ["--device", "sim:ixgbe,wire=loopback", "--time", "1", "--through", "domain", "--batch", "8"]),
    (fwd, ["--device", "sim:ixgbe,wire=gen:size=60-1514:flows=16", "--time", "1", "--queues", "4"]),
]
for tool, args in runs:
    p = subprocess.run([tool] + args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        sys.exit(f"{tool} {' '.join(args)} exited {p.returncode}: {p.stderr[-1500:]}")
    r = json.loads(p.stdout)
    assert r["packets"] > 1000 and r["mpps"] > 0, r
    assert r["through"] == ("domain" if "domain" in args else "direct"), r
    assert "Mpps" in p.stderr, "a status line each second"
    print(f"ok: {r['tool']} {r['through']}: {r['mpps']} Mpps")
bad = subprocess.run([fwd, "--device", "eth0"], capture_output=True, text=True)
assert bad.returncode == 1 and "neither a PCI address" in bad.stderr, bad.stderr
bad = subprocess.run([pktgen, "--size", "9000"], capture_output=True, text=True)
assert bad.returncode == 2 and "--size 9000" in bad.stderr, bad.stderr
