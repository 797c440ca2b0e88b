#!/usr/bin/env python3
"""rl-chaos, seeded and small: crashes of every kind in all four drivers
(membdev, NVMe, ixgbe, nullnet) behind their shadows; every acknowledged
write read back, every acknowledged frame at the sink, nothing leaked, the
JSON complete."""
import json
import subprocess
import sys

chaos = sys.argv[1]
p = subprocess.run([chaos, "--target", "all", "--crashes", "300", "--seed", "3", "--verify"],
                   capture_output=True, text=True, timeout=300)
assert p.returncode == 0, f"exit {p.returncode}: {p.stdout} {p.stderr[-2000:]}"
r = json.loads(p.stdout)
for key in ("crashes_injected", "recoveries", "process_alive", "requests_ok", "requests_failed",
            "acknowledged_writes_lost", "shared_heap_leaked_bytes", "private_heap_leaked_bytes",
            "recovery_us_p50", "recovery_us_p99", "recovery_us_max"):
    assert key in r, f"missing {key}: {r}"
assert r["crashes_injected"] == 300 and r["recoveries"] > 0, r
assert r["process_alive"] is True and r["verified"] is True, r
assert r["requests_failed"] == 0 and r["acknowledged_writes_lost"] == 0, r
assert r["acknowledged_packets_lost"] == 0 and r["targets"] == "membdev,nvme,ixgbe,nullnet", r
assert r["shared_heap_leaked_bytes"] == 0 and r["private_heap_leaked_bytes"] == 0, r
assert r["kinds"] == "segv,bus,fpe,ill,stack,exception,panic,loop", r
print(f"ok: {r['crashes_injected']} crashes, {r['requests_ok']} requests, "
      f"recovery p50 {r['recovery_us_p50']} us p99 {r['recovery_us_p99']} us")

bad = subprocess.run([chaos, "--kinds", "segv,meteor"], capture_output=True, text=True)
assert bad.returncode == 2 and "'meteor'" in bad.stderr, bad.stderr
bad = subprocess.run([chaos, "--target", "tape"], capture_output=True, text=True)
assert bad.returncode == 2 and "expected nvme, membdev, ixgbe, nullnet or all" in bad.stderr, bad.stderr

# rl-recovery, briefly: crashes on a timer from another thread, each recovered.
recovery = sys.argv[2]
p = subprocess.run([recovery, "--target", "nvme", "--rw", "write", "--time", "1", "--crash-every", "0.2"],
                   capture_output=True, text=True, timeout=120)
assert p.returncode == 0, p.stderr[-1500:]
r = json.loads(p.stdout)
assert r["crashes"] >= 3 and r["recoveries"] == r["crashes"], r
assert r["baseline_mb_per_s"] > 0 and r["with_crashes_mb_per_s"] > 0, r
print(f"ok: rl-recovery {r['crashes']} crashes, {r['throughput_lost_percent']} % lost (noisy at 2 s)")
