#!/usr/bin/env python3
"""The main job (rl-demo) in a network namespace of its own: the web server,
the key-value store, Maglev and rlfs on a simulated NVMe drive (the site's
files and a journal) run on simulated devices, each driver domain and the fs
domain are crashed once, and the demo's client (Linux sockets over the TAP)
must see every request answered correctly, and every journal line fsync'd
before the fs crash must be read back after it.  Skips (77) without root,
/dev/net/tun or `ip`."""
import json
import os
import re
import shutil
import subprocess
import sys

demo = sys.argv[1]
if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("ip"):
    print("skip: the demo's TAP interface needs root, /dev/net/tun and iproute2")
    sys.exit(77)

ns = f"rl-demo-{os.getpid()}"
subprocess.run(["ip", "netns", "add", ns], check=True)
try:
    run = subprocess.run(["ip", "netns", "exec", ns, demo, "--time", "8"], capture_output=True, text=True, timeout=120)
    print(run.stdout)
    print(run.stderr[-2000:], file=sys.stderr)
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0, f"rl-demo exited {run.returncode}"
    assert summary["client_failed"] == 0 and summary["client_ok"] > 100, summary
    assert summary["crashes"] == 5 and summary["restarts"] >= 5, summary
    assert summary["journal_bad"] == 0 and summary["journal_lost"] == 0 and summary["journal_written"] >= 5, summary
    assert summary["fs_remounts"] == 1, summary
    assert summary["maglev_forwarded"] > 0 and summary["http_requests"] > 0 and summary["kv_gets"] > 0, summary
    for target in ("ixgbe (web port)", "nvme", "ixgbe (Maglev port)"):
        assert f"{target} restarted by its shadow" in run.stdout, f"no recovery shown for {target}"
    # The fs crash comes after at least two journal lines were fsync'd: all must be read back.
    fs = re.search(r"rlfs remounted \(log replayed\) in \d+ µs; /journal.log: (\d+) of (\d+) lines", run.stdout)
    assert fs, "no recovery shown for the fs domain"
    assert fs.group(1) == fs.group(2) and int(fs.group(2)) >= 2, fs.group(0)
    print(f"ok: {summary['client_ok']} requests answered through 4 driver crashes and an fs crash, "
          f"{summary['journal_written']} journal lines kept")
finally:
    subprocess.run(["ip", "netns", "del", ns], check=False)
