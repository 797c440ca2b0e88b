#!/usr/bin/env python3
"""rl-pktgen and rl-fwd end to end on the simulated 82599: each moves packets
for a second, directly and through the driver domain, and says so in JSON.
Then bad devices, for them and for rl-httpd's choice of driver."""
import json
import subprocess
import sys

pktgen, fwd, httpd = sys.argv[1], sys.argv[2], sys.argv[3]
runs = [
    (pktgen, ["--device", "sim:ixgbe,wire=sink", "--time", "1"]),
    (pktgen, ["--device", "sim:ixgbe,wire=sink", "--time", "1", "--through", "domain", "--size", "1514"]),
    (fwd, ["--device", "sim:ixgbe,wire=loopback", "--time", "1"]),
    (fwd, ["--device", "sim:ixgbe,wire=loopback", "--time", "1", "--through", "domain", "--batch", "8"]),
    (fwd, ["--device", "sim:ixgbe,wire=gen:size=60-1514:flows=16", "--time", "1", "--queues", "4"]),
    (fwd, ["--device", "sim:ixgbe,wire=loopback", "--time", "1", "--mode", "mac"]),
    (fwd, ["--device", "sim:ixgbe,wire=loopback", "--time", "1", "--batch", "64", "--through", "domain"]),
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
# The network applications pick the driver domain by PCI IDs; a device no
# driver drives (here a simulated NVMe drive) is refused by name.
bad = subprocess.run([httpd, "--device", "sim:nvme", "--time", "1"], capture_output=True, text=True)
assert bad.returncode == 1 and "PCI device 1b36:0010, which no redleaf driver drives" in bad.stderr, bad.stderr

# --mode mac: frames replayed from a pcap file leave addressed back to their
# sender, from the port's own address (read back by tshark).
import os
import struct
import tempfile

with tempfile.TemporaryDirectory() as tmp:
    src_pcap, out_pcap = os.path.join(tmp, "in.pcap"), os.path.join(tmp, "out.pcap")
    with open(src_pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))   # pcap header, Ethernet
        for i in range(10):
            frame = bytes.fromhex("02aabbccddee" "0a0000000001" "88b5") + bytes([i]) * 50
            f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)
    dev = f"sim:ixgbe,wire=pcap:{out_pcap},pcap-in={src_pcap},mac=02:aa:bb:cc:dd:ee"
    p = subprocess.run([fwd, "--device", dev, "--mode", "mac", "--time", "1", "--batch", "4"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-1500:]
    t = subprocess.run(["tshark", "-r", out_pcap, "-T", "fields", "-e", "eth.src", "-e", "eth.dst",
                        "-Y", "eth.type == 0x88b5"], capture_output=True, text=True, timeout=60)
    assert t.returncode == 0, t.stderr
    replies = [l.split("\t") for l in t.stdout.splitlines() if l.endswith("0a:00:00:00:00:01")]
    assert len(replies) == 10 and all(s == "02:aa:bb:cc:dd:ee" for s, _ in replies), t.stdout
    print("ok: rl-fwd --mode mac answered each sender from the port's address")
