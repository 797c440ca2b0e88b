#!/usr/bin/env python3
"""A TAP round trip: in a network namespace this test creates, rl-responder
drives a simulated 82599 (through the driver domain) whose wire is a TAP
interface; the kernel resolves its address with ARP and pings it.

Skips (exit 77) where TAP devices or namespaces cannot be made: not root,
no /dev/net/tun, or no `ip`/`ping` (./redleaf deps installs iproute2 and
iputils-ping)."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from net_app_run import skip_unless_possible  # noqa: E402

responder = sys.argv[1]
skip_unless_possible(("ip", "ping"))

ns = f"rl-tap-{os.getpid()}"
tap, ours, theirs = "rltap0", "10.77.0.1", "10.77.0.2"


def in_ns(*cmd, check=True, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], check=check, capture_output=True, text=True,
                          timeout=30, **kw)


subprocess.run(["ip", "netns", "add", ns], check=True)
proc = None
try:
    proc = subprocess.Popen(["ip", "netns", "exec", ns, responder, "--device", f"sim:ixgbe,wire=tap:{tap}",
                             "--ip", theirs, "--through", "domain", "--time", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 15
    while in_ns("ip", "link", "show", tap, check=False).returncode != 0:
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            out, err = proc.communicate()
            sys.exit(f"rl-responder did not create {tap}: {err[-1500:]}")
        time.sleep(0.1)
    in_ns("ip", "addr", "add", f"{ours}/24", "dev", tap)
    in_ns("ip", "link", "set", tap, "up")
    ping = in_ns("ping", "-c", "3", "-i", "0.2", "-W", "3", theirs, check=False)
    print(ping.stdout)
    assert ping.returncode == 0 and " 0% packet loss" in ping.stdout, ping.stdout + ping.stderr
    neigh = in_ns("ip", "neigh", "show", theirs).stdout
    proc.terminate()   # SIGTERM: the responder stops and prints its summary
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-1500:]
    mac = re.search(r"at ([0-9a-f:]{17})", err).group(1)
    assert mac in neigh, f"ARP resolved {theirs} to {neigh!r}, the port's address is {mac}"
    summary = json.loads(out)
    assert summary["through"] == "domain" and summary["packets"] >= 4, summary   # >= 1 ARP + 3 echo replies
    print(f"ok: ARP and 3 pings answered through the ixgbe domain over {tap} ({mac})")
finally:
    if proc and proc.poll() is None:
        proc.kill()
    subprocess.run(["ip", "netns", "del", ns], check=False)
