#!/usr/bin/env python3
"""Runs rl-nvme-perf for one second through one path and checks its JSON."""
import json
import subprocess
import sys

perf, through = sys.argv[1], sys.argv[2]
p = subprocess.run([perf, "--time", "1", "--through", through, "--rw", "mix", "--qd", "16", "--batch", "8"],
                   capture_output=True, text=True, timeout=120)
if p.returncode != 0:
    sys.exit(f"rl-nvme-perf exited {p.returncode}: {p.stderr[-2000:]}")
r = json.loads(p.stdout)
assert r["through"] == through, r
assert r["ios"] > 1000 and r["errors"] == 0, r
assert r["iops"] > 0 and r["mb_per_s"] > 0, r
lat = r["latency_us"]
assert 0 < lat["p50"] <= lat["p99"] <= lat["p99.9"], lat
bad = subprocess.run([perf, "--rw", "sideways"], capture_output=True, text=True)
assert bad.returncode == 2 and "--rw sideways" in bad.stderr, bad.stderr
print(f"ok: {through}: {r['iops']:.0f} IOPS, p50 {lat['p50']} us")
