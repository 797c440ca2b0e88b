#!/usr/bin/env python3
"""rl-kvstore end to end: in a network namespace this test makes, rl-kvstore
serves memcached's text protocol through a simulated 82599 whose wire is a
TAP device -- its driver domain behind the shadow, lwIP in the netstack
domain -- and Linux's TCP/IP is the peer: memcached's own clients and this
script's sockets.

Checked, on two rl-kvstore runs in the one namespace:
  main   memccapable -a (memcached's ASCII conformance tests, all pass);
         memccp/memccat/memcexist/memcrm with binary data (every byte value,
         \\r\\n, "END" and "VALUE" lines inside the value) over TCP, and a
         value with \\r\\n stored with memccp -U over UDP; a UDP get by hand
         with the 8-byte frame header: a 5000-byte value comes back in 4
         numbered datagrams of at most 1400 bytes that reassemble exactly,
         and a request that says it is one of two datagrams is dropped; a
         memcaslap run of 100,000 operations (1 thread, 20 connections, 10 % of gets verified)
         without errors, misses or verification failures;
  crash  --crash-driver-every 0.3: 500+ set/get pairs (and at least 1.5 s of
         them) on a few successive connections, values of 1 to 4000 bytes,
         every one read back exactly, with 10 s timeouts, while the driver
         domain crashes and its shadow recovers it; the summary then shows
         driver_crashes >= 3 and driver_recoveries == driver_crashes.
Every run must end on SIGTERM with status 0, its JSON summary, and no crash
report (ASan, UBSan, abort, ...) on stderr.  Each check that fails is
reported and the others still run; the exit status is 1 if any failed.

Skips (exit 77) where TAP devices or namespaces cannot be made (not root, no
/dev/net/tun, no `ip`) or memcached's clients are missing (./redleaf deps
installs iproute2 and libmemcached-tools)."""
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from net_app_run import AppRun, check, enter_namespace, failures, skip_unless_possible  # noqa: E402

kvstore = os.path.abspath(sys.argv[1])
TOOLS = ("ip", "memccapable", "memcaslap", "memccp", "memccat", "memcrm", "memcexist")
skip_unless_possible(TOOLS)

NS = f"rl-kv-{os.getpid()}"
TAP, OURS, THEIRS, PORT = "rlkv0", "10.80.0.1", "10.80.0.2", 11211
SERVERS = f"--servers={THEIRS}:{PORT}"
# Our fault handlers own SIGSEGV & co.; ASan must not take them over (meson's
# test_env says the same; this is for a run by hand).
ENV = dict(os.environ)
ENV.setdefault("ASAN_OPTIONS", "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"
                               "allow_user_segv_handler=1:detect_leaks=0")

def run(*cmd, timeout=30, **kw):
    return subprocess.run(list(cmd), capture_output=True, timeout=timeout, **kw)


# ----------------------------------------------------------- rl-kvstore --

def kv_answers():
    try:
        with socket.create_connection((THEIRS, PORT), timeout=2) as s:
            s.sendall(b"version\r\n")
            return s.recv(100).startswith(b"VERSION ")
    except OSError:
        return False


class Server(AppRun):
    """One rl-kvstore run."""

    def __init__(self, workdir, *extra):
        args = ["--device", f"sim:ixgbe,wire=tap:{TAP}", "--ip", f"{THEIRS}/24", "--port", str(PORT),
                "--time", "120", *extra]   # --time: it ends even if this script is killed
        super().__init__(kvstore, "rl-kvstore", args, workdir, TAP, OURS, kv_answers, env=ENV)


class Conn:
    """memcached's text protocol on one TCP connection, every wait bounded."""

    def __init__(self, timeout=10.0):
        self.s = socket.create_connection((THEIRS, PORT), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _until(self, n=None, end=None):
        while (n is not None and len(self.buf) < n) or (end is not None and end not in self.buf):
            d = self.s.recv(1 << 16)
            if not d:
                raise EOFError(f"connection closed; have {self.buf[:200]!r}")
            self.buf += d

    def line(self):
        self._until(end=b"\r\n")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def set(self, key, value, flags=0):
        self.s.sendall(b"set %s %d 0 %d\r\n" % (key, flags, len(value)) + value + b"\r\n")
        reply = self.line()
        assert reply == b"STORED", f"set {key!r}: {reply!r}"

    def get(self, key):
        """(flags, value), or None on a miss."""
        self.s.sendall(b"get %s\r\n" % key)
        head = self.line()
        if head == b"END":
            return None
        m = re.fullmatch(rb"VALUE (\S+) (\d+) (\d+)", head)
        assert m and m.group(1) == key, f"get {key!r}: {head[:200]!r}"
        n = int(m.group(3))
        self._until(n=n + 2)
        value, tail, self.buf = self.buf[:n], self.buf[n:n + 2], self.buf[n + 2:]
        assert tail == b"\r\n", f"get {key!r}: {tail!r} after the value"
        end = self.line()
        assert end == b"END", f"get {key!r}: {end!r} after the value"
        return int(m.group(2)), value

    def close(self):
        self.s.close()


# -------------------------------------------------------------- checks --

def check_memccapable():
    r = run("memccapable", "-h", THEIRS, "-p", str(PORT), "-a", timeout=90, text=True)
    passed = [l for l in r.stdout.splitlines() if l.rstrip().endswith("[pass]")]
    assert r.returncode == 0 and "All tests passed" in r.stdout and "[FAIL]" not in r.stdout + r.stderr, \
        f"memccapable -a exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-1000:]}"
    assert len(passed) >= 27, f"only {len(passed)} tests passed:\n{r.stdout}"
    print(f"  memccapable -a: {len(passed)} ASCII tests, All tests passed")


def check_tools(tmp):
    # Every byte value, and the protocol's own delimiters inside the data.
    data = (bytes(range(256)) * 40 + b"\r\nEND\r\nVALUE x 0 1\r\n\0\r\n" + os.urandom(100_000)
            + b"\r\nSTORED\r\n")
    path = os.path.join(tmp, "binary.dat")
    with open(path, "wb") as f:
        f.write(data)
    r = run("memccp", SERVERS, "--flags=7", path)
    assert r.returncode == 0, f"memccp: {r.stderr[-500:]!r}"
    back = os.path.join(tmp, "back.dat")
    r = run("memccat", SERVERS, f"--file={back}", "binary.dat")
    assert r.returncode == 0, f"memccat: {r.stderr[-500:]!r}"
    with open(back, "rb") as f:
        assert f.read() == data, "memccat returned other bytes than memccp stored"
    c = Conn()
    try:
        assert c.get(b"binary.dat") == (7, data), "get binary.dat: other flags or bytes"
    finally:
        c.close()
    assert run("memcexist", SERVERS, "binary.dat").returncode == 0, "memcexist: the key is missing"
    r = run("memcrm", SERVERS, "binary.dat")
    assert r.returncode == 0, f"memcrm: {r.stderr[-500:]!r}"
    assert run("memcexist", SERVERS, "binary.dat").returncode != 0, "memcexist: the key survived memcrm"
    assert run("memccat", SERVERS, "binary.dat").returncode != 0, "memccat found a deleted key"

    # libmemcached's UDP mode stores without replies; the set is checked over TCP.
    udp_data = os.urandom(1000) + b"\r\nEND\r\n" + os.urandom(100)
    udp_path = os.path.join(tmp, "udp.dat")
    with open(udp_path, "wb") as f:
        f.write(udp_data)
    c = Conn()
    try:
        got = None
        for _ in range(3):   # UDP may lose a datagram; our path should not, but a retry is fair
            r = run("memccp", "-U", SERVERS, "--flags=3", udp_path)
            assert r.returncode == 0, f"memccp -U: {r.stderr[-500:]!r}"
            deadline = time.monotonic() + 3
            while (got := c.get(b"udp.dat")) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if got is not None:
                break
        assert got == (3, udp_data), f"the value memccp -U stored over UDP: {got!r:.200}"
    finally:
        c.close()
    print(f"  memccp/memccat/memcexist/memcrm: {len(data)} binary bytes round-trip over TCP; "
          f"{len(udp_data)} bytes with \\r\\n stored by memccp -U over UDP")


def udp_exchange(s, request_id, payload, timeout=2.0):
    """Sends one request datagram; returns {sequence: payload} and the count, or None on a timeout."""
    s.sendto(struct.pack(">HHHH", request_id, 0, 1, 0) + payload, (THEIRS, PORT))
    parts, total = {}, None
    deadline = time.monotonic() + timeout
    while total is None or len(parts) < total:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return None
        assert len(d) <= 1400, f"a {len(d)}-byte datagram (memcached's limit is 1400)"
        rid, seq, n, reserved = struct.unpack(">HHHH", d[:8])
        if rid != request_id:
            continue   # a late answer to an earlier try
        assert reserved == 0, f"reserved field {reserved}"
        assert total in (None, n), f"datagrams disagree on their number: {total} vs {n}"
        assert seq < n, f"sequence {seq} of {n}"
        total = n
        parts[seq] = d[8:]
    return parts, total


def check_udp_get():
    value = bytes((i * 7 + 3) % 251 for i in range(4993)) + b"\r\nEND\r\n"   # 5000 bytes
    assert len(value) == 5000
    c = Conn()
    try:
        c.set(b"udpkey", value, flags=9)
    finally:
        c.close()
    expected = b"VALUE udpkey 9 5000\r\n" + value + b"\r\nEND\r\n"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        got = None
        for attempt in range(3):   # a lost datagram: ask again, with a new request id
            got = udp_exchange(s, 0x4242 + attempt, b"get udpkey\r\n")
            if got:
                break
        assert got, "no complete answer to a UDP get in 3 tries"
        parts, total = got
        assert total == 4 and sorted(parts) == [0, 1, 2, 3], f"{total} datagrams, sequence {sorted(parts)}"
        assert b"".join(parts[i] for i in range(total)) == expected, "the reassembled reply differs"
        # One of two datagrams: dropped, as memcached drops it.
        s.sendto(struct.pack(">HHHH", 7, 0, 2, 0) + b"get udpkey\r\n", (THEIRS, PORT))
        s.settimeout(0.3)
        try:
            d = s.recv(65536)
            raise AssertionError(f"a multi-datagram request was answered: {d[:60]!r}")
        except socket.timeout:
            pass
    print("  UDP get: a 5000-byte value in 4 datagrams (seq 0-3 of 4, <= 1400 bytes each), reassembled exactly")


def check_memcaslap():
    # A fixed count, not a time: at ~170K ops/s, 2 s of memcaslap's sets
    # (~1 KiB each, superseded versions included) outgrow the 32 MiB table,
    # which then evicts as a cache should -- and "no misses" would fail for
    # a correct store.  100,000 operations write ~11 MB.
    r = run("memcaslap", "-s", f"{THEIRS}:{PORT}", "-T", "1", "-c", "20", "-x", "100000", "-v", "0.1",
            timeout=90, text=True)
    out = r.stdout + r.stderr
    stats = dict(re.findall(r"^(\w+): (\d+)$", out, re.M))
    assert r.returncode == 0, f"memcaslap exited {r.returncode}:\n{out[-2000:]}"
    assert "ERROR" not in out and "error" not in out.lower(), f"memcaslap saw errors:\n{out[-2000:]}"
    assert int(stats.get("cmd_get", 0)) > 0 and int(stats.get("cmd_set", 0)) > 0, f"memcaslap did nothing:\n{out}"
    assert stats.get("get_misses") == "0", f"memcaslap: misses:\n{out}"
    assert stats.get("verify_failed", "0") == "0", f"memcaslap: verification failures:\n{out}"
    tps = re.search(r"TPS: (\d+)", out)
    print(f"  memcaslap -T 1 -c 20 -x 100000: {stats['cmd_get']} gets, {stats['cmd_set']} sets, no misses, "
          f"{stats.get('verify_failed', '?')} verification failures ({tps.group(1) if tps else '?'} ops/s, "
          f"load {os.getloadavg()[0]:.1f})")


def main_run(workdir):
    server = Server(workdir)
    try:
        check("memccapable -a", check_memccapable)
        check("libmemcached tools (TCP and UDP)", check_tools, workdir)
        check("UDP get in numbered datagrams", check_udp_get)
        check("memcaslap", check_memcaslap)
        summary = server.stop()
        assert summary["udp_requests"] >= 2 and summary["cmd_get"] > 0 and summary["cmd_set"] > 0, summary
        assert summary["driver_crashes"] == 0, summary
        print(f"  summary: {json.dumps(summary)}")
    finally:
        server.kill()


def crash_run(workdir):
    server = Server(workdir, "--crash-driver-every", "0.3")
    try:
        t0 = time.monotonic()
        deadline = t0 + 30   # far more than it takes; a hang fails here, not in meson's timeout
        pairs, conns, c = 0, 0, None
        try:
            while pairs < 500 or time.monotonic() - t0 < 1.5:
                assert time.monotonic() < deadline, f"only {pairs} pairs in {deadline - t0:.0f} s"
                if pairs % 100 == 0:   # a new connection now and then: accepts during crashes too
                    if c:
                        c.close()
                    c = Conn(timeout=10)
                    conns += 1
                key = b"crash:%d" % pairs
                n = 1 + (pairs * 997) % 4000
                value = (b"%d:" % pairs + b"\r\n" + bytes((pairs + i) % 256 for i in range(n)))[:n]
                c.set(key, value, flags=pairs)
                got = c.get(key)
                assert got == (pairs, value), f"pair {pairs}: got {got!r:.100} for a {n}-byte value"
                pairs += 1
        finally:
            if c:
                c.close()
        took = time.monotonic() - t0
        summary = server.stop()
        crashes, recoveries = summary["driver_crashes"], summary["driver_recoveries"]
        assert crashes >= 3, f"only {crashes} driver crashes: {summary}"
        assert recoveries == crashes, f"{crashes} crashes but {recoveries} recoveries: {summary}"
        print(f"  {pairs} set/get pairs on {conns} connections in {took:.1f} s, every value exact; "
              f"driver_crashes {crashes}, driver_recoveries {recoveries}")
    finally:
        server.kill()


def main():
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        enter_namespace(NS)
        run("ip", "link", "set", "lo", "up")
        with tempfile.TemporaryDirectory() as tmp:
            for name, fn in (("main", main_run), ("crash", crash_run)):
                workdir = os.path.join(tmp, name)
                os.mkdir(workdir)
                check(f"rl-kvstore {name} run", fn, workdir)
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)
    if failures:
        print(f"{len(failures)} check(s) failed: {', '.join(failures)}")
        return 1
    print("ok: rl-kvstore served memccapable, libmemcached's tools, UDP, memcaslap and a crashing driver")
    return 0


if __name__ == "__main__":
    sys.exit(main())
