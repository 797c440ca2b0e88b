#!/usr/bin/env python3
"""rl-httpd end to end: in a network namespace this test makes, rl-httpd
serves a temporary root over a simulated 82599 whose wire is a TAP device,
and Linux's TCP/IP is the peer -- curl, wrk, and a raw-socket client here.

Checked, on four rl-httpd runs in the one namespace:
  main      status codes (200 with the exact bytes, HEAD, 404, 405 + Allow,
            400, 413, 414, 431, 501, 505), path traversal never escapes the
            root, keep-alive and pipelining (10,000 requests in one go, more
            answers than the server buffers per connection), a client port
            reused at once after the server closed first; then hostile
            clients (one that pipelines and never reads, garbage, requests
            cut short, slowloris, resets, 200 seeded mutations of a valid
            request), after each group a normal request still gets 200; then
            a short wrk run without socket errors or non-2xx;
  limit     --max-connections 5: a 6th connection gets 503 and is closed;
  idle      --idle-timeout 1: an idle connection is closed within ~2 s;
  crash     --crash-driver-every 0.3: 300+ sequential requests over 3+ s all
            answered with the exact bytes while the driver domain crashes and
            its shadow recovers it;
  rlfs      --root rlfs:/www --fs IMAGE: the same files put into an rlfs
            image with rl-sh, served from it (through the POSIX subset, the
            fs domain and the NVMe driver domain behind its shadow): exact
            bytes, 404 for a missing file, 200 requests in a row.
Every run must end on SIGTERM with status 0, its JSON summary, and no crash
report (ASan, "failed", ...) on stderr.  Each check that fails is reported
and the others still run; the exit status is 1 if any failed.

Skips (exit 77) where TAP devices or namespaces cannot be made: not root, no
/dev/net/tun, or no `ip`, `curl` or `wrk` (./redleaf deps installs them)."""
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from net_app_run import AppRun, check, enter_namespace, failures, skip_unless_possible  # noqa: E402

httpd = sys.argv[1]
rl_sh = sys.argv[2] if len(sys.argv) > 2 else None   # for the rlfs run
skip_unless_possible(("ip", "curl", "wrk"))

NS = f"rl-httpd-{os.getpid()}"
TAP, OURS, THEIRS, PORT = "rlhttp0", "10.78.0.1", "10.78.0.2", 80
URL = f"http://{THEIRS}"
STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) [^\r\n]*\r\n")

# ------------------------------------------------------------- rl-httpd --

class Server(AppRun):
    """One rl-httpd run."""

    def __init__(self, root, workdir, *extra):
        self.args = ["--root", root, "--device", f"sim:ixgbe,wire=tap:{TAP}", "--ip", f"{THEIRS}/24", *extra]
        super().__init__(httpd, "rl-httpd", self.args, workdir, TAP, OURS, lambda: curl("/", "-m", "2")[0] == 200)


# -------------------------------------------------------------- clients --

def curl(path, *opts):
    """One curl run, one attempt: (status, body bytes, curl's stderr)."""
    fd, out = tempfile.mkstemp()
    os.close(fd)
    try:
        p = subprocess.run(["curl", "-q", "-s", "-S", "--noproxy", "*", "-m", "10", "-o", out,
                            "-w", "%{http_code}", *opts, URL + path],
                           capture_output=True, timeout=30)
        with open(out, "rb") as f:
            body = f.read()
    finally:
        os.unlink(out)
    code = int(p.stdout[-3:]) if p.returncode == 0 and p.stdout[-3:].isdigit() else -p.returncode
    return code, body, p.stderr.decode(errors="replace")


class Conn:
    """A raw HTTP/1.1 client on one TCP connection."""

    def __init__(self, timeout=5.0):
        self.s = socket.create_connection((THEIRS, PORT), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _more(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError(f"connection closed with {len(self.buf)} bytes of a response: {self.buf[:200]!r}")
        self.buf += d

    def response(self, head_request=False):
        """(status, {lowercased name: value}, body) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        m = STATUS_LINE.match(head + b"\r\n")
        assert m, f"bad status line in {head[:200]!r}"
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        n = 0 if head_request else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._more()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(m.group(1)), headers, body

    def closed_by_peer(self, within=5.0):
        """True once the server closes (FIN or RST) within `within` s; what
        else arrives is kept in buf.  False on a timeout: the server hangs."""
        deadline = time.monotonic() + within
        while True:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not d:
                return True
            self.buf += d

    def reset(self):
        """Closes with SO_LINGER 0: the kernel sends RST, not FIN."""
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.s.close()

    def close(self):
        self.s.close()


def request(method="GET", path="/", extra=b"", version=b"HTTP/1.1"):
    return method.encode() + b" " + path.encode() + b" " + version + b"\r\nHost: t\r\n" + extra + b"\r\n"


def one(data, head_request=False):
    """Sends `data` on a new connection: the first response."""
    c = Conn()
    try:
        c.send(data)
        return c.response(head_request)
    finally:
        c.close()


def expect_error(data, status, closes=True):
    """An error answer, and (for a request whose framing is lost) the connection closed after it."""
    c = Conn()
    try:
        try:
            c.send(data)
        except (ConnectionResetError, BrokenPipeError):
            pass   # the server answered and closed before it read all of a request over a limit
        got, headers, body = c.response()
        assert got == status, f"{data[:80]!r}...: expected {status}, got {got} {body[:100]!r}"
        assert str(status).encode() in body, body
        if closes:
            assert headers.get("connection") == "close", headers
            assert c.closed_by_peer(), f"{status}: the server did not close the connection"
        return headers
    finally:
        c.close()


def still_serves(expected):
    code, body, err = curl("/")
    assert code == 200 and body == expected, f"after the group, curl / gave {code} {err.strip()} ({len(body)} bytes)"


# -------------------------------------------------------------- checks --

def make_root(tmp):
    root = os.path.join(tmp, "www")
    os.makedirs(os.path.join(root, "sub"))
    rnd = random.Random(8)
    index = ("<!doctype html>" + "".join(rnd.choice("abcdefghij \n") for _ in range(1024)))[:1024].encode()
    secret = f"OUTSIDE-THE-ROOT-{os.getpid()}\n".encode()
    files = {"index.html": index, "sub/a.txt": b"in a subdirectory\n"}
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    with open(os.path.join(tmp, "outside.txt"), "wb") as f:
        f.write(secret)
    os.symlink("../outside.txt", os.path.join(root, "link.txt"))   # a symlink out of the root
    return root, files, secret


def check_statuses(files):
    index = files["index.html"]
    assert len(index) == 1024
    for path in ("/", "/index.html"):
        code, body, err = curl(path)
        assert code == 200 and body == index, f"GET {path}: {code} {err} ({len(body)} bytes)"
    code, body, _ = curl("/sub/a.txt")
    assert code == 200 and body == files["sub/a.txt"], (code, body)
    # HEAD: the same head as GET, no body -- a GET pipelined behind it must parse.
    c = Conn()
    c.send(request("HEAD", "/") + request("GET", "/sub/a.txt"))
    code, h, _ = c.response(head_request=True)
    assert code == 200 and h["content-length"] == "1024", (code, h)
    code, _, body = c.response()
    assert code == 200 and body == files["sub/a.txt"], f"a body after HEAD? next response {code} {body[:80]!r}"
    c.close()
    p = subprocess.run(["curl", "-q", "-s", "--noproxy", "*", "-m", "10", "-I", URL + "/"], capture_output=True, timeout=30)
    assert p.stdout.startswith(b"HTTP/1.1 200") and b"Content-Length: 1024\r\n" in p.stdout, p.stdout
    code, _, _ = curl("/missing.html")
    assert code == 404, code
    code, _, _ = curl("/sub")   # a directory without its slash
    assert code == 301, code
    headers = expect_error(request("POST", "/", b"Content-Length: 0\r\n"), 405, closes=False)
    assert "GET" in headers.get("allow", ""), headers
    expect_error(b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400)              # two spaces
    expect_error(b"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400)
    expect_error(b"GET /\r\nHost: t\r\n\r\n", 400)                          # no version
    expect_error(request("POST", "/", b"Content-Length: 1048577\r\n"), 413)
    expect_error(request("GET", "/" + "a" * 2100), 414)
    expect_error(request("GET", "/", b"X-Big: " + b"b" * 20000 + b"\r\n"), 431)
    expect_error(request("GET", "/", b"".join(b"X-%d: v\r\n" % i for i in range(200))), 431)
    expect_error(request("GET", "/", version=b"HTTP/2.0"), 505)
    # 501: the request is well framed, so the connection stays usable.
    c = Conn()
    c.send(request("BREW", "/") + request("GET", "/"))
    code, _, _ = c.response()
    assert code == 501, code
    code, _, body = c.response()
    assert code == 200 and body == index, code
    c.close()


def check_traversal(secret):
    for path in ("/../outside.txt", "/%2e%2e/outside.txt", "/sub/../../outside.txt", "/%2E%2E%2Foutside.txt",
                 "/sub/%2e%2e/%2e%2e/outside.txt", "/..%2foutside.txt"):
        code, body, _ = curl(path, "--path-as-is")
        assert secret.strip() not in body, f"{path} served the file outside the root"
        assert code == 400, f"{path}: expected 400, got {code}"
    for target in ("../outside.txt", "/../../../../../../../../etc/passwd", "http://t/../outside.txt"):
        code, _, body = one(request("GET", target))
        assert secret.strip() not in body and b"root:" not in body, target
        assert code == 400, f"{target}: expected 400, got {code}"
    code, body, _ = curl("/link.txt")   # a symlink to outside the root: not followed
    assert secret.strip() not in body and code == 404, f"/link.txt (a symlink out of the root): {code}"


def check_keep_alive(files):
    p = subprocess.run(["curl", "-q", "-s", "-v", "--noproxy", "*", "-m", "10", "-o", "/dev/null", "-o", "/dev/null",
                        "-w", "%{num_connects} ", URL + "/", URL + "/sub/a.txt"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1", "0"], f"connections opened per transfer: {p.stdout!r} (expected 1 then 0)"
    assert "Re-using existing connection" in p.stderr, p.stderr[-1000:]
    # Pipelining: every request in one write; the answers come in order.
    reqs = [("GET", "/", 200, files["index.html"]), ("GET", "/sub/a.txt", 200, files["sub/a.txt"]),
            ("GET", "/nope", 404, None), ("HEAD", "/", 200, b""), ("BREW", "/", 501, None),
            ("GET", "/index.html", 200, files["index.html"])]
    c = Conn()
    c.send(b"".join(request(m, p) for m, p, _, _ in reqs[:-1]) + request("GET", "/index.html", b"Connection: close\r\n"))
    for m, path, status, body in reqs:
        code, h, got = c.response(head_request=m == "HEAD")
        assert code == status, f"pipelined {m} {path}: {code}, expected {status}"
        if body is not None:
            assert got == body, f"pipelined {m} {path}: wrong body"
    assert h.get("connection") == "close" and c.closed_by_peer(), "Connection: close was not honoured"
    assert c.buf == b"", f"bytes after the last answer: {c.buf[:100]!r}"
    c.close()
    # Many pipelined requests, read only after all are sent.
    c = Conn()
    c.send(request("GET", "/") * 200)
    for i in range(200):
        code, _, got = c.response()
        assert code == 200 and got == files["index.html"], f"pipelined request {i}: {code}"
    c.close()


def check_long_pipeline(files):
    """10,000 pipelined requests: 12 MB of answers, more than the server
    buffers for one connection (4 MiB), so it stops reading and goes on as the
    client reads.  Every answer comes, in order; then the connection ends --
    by Connection: close, or by our FIN (the server answers all we sent first)."""
    n, index = 10000, files["index.html"]
    for half_close in (False, True):
        c = Conn(timeout=10)
        last = request("GET", "/", b"" if half_close else b"Connection: close\r\n")
        data = request("GET", "/") * (n - 1) + last

        def send():
            c.s.sendall(data)
            if half_close:
                c.s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send)
        t.start()
        chunks, got = [], 0
        try:
            while True:
                d = c.s.recv(1 << 20)
                if not d:
                    break
                chunks.append(d)
                got += len(d)
        except socket.timeout:
            raise AssertionError(f"{n} pipelined requests (half_close={half_close}): stuck after {got} bytes")
        finally:
            t.join(10)
            c.close()
        out = b"".join(chunks)
        pos = count = 0
        while pos < len(out):
            m = STATUS_LINE.match(out, pos)
            end = out.find(b"\r\n\r\n", pos)
            assert m and m.group(1) == b"200" and end > 0, f"answer {count}: {out[pos:pos + 100]!r}"
            assert b"Content-Length: 1024\r\n" in out[pos:end + 2], out[pos:end]
            assert out[end + 4:end + 4 + 1024] == index, f"answer {count}: wrong body"
            pos = end + 4 + 1024
            count += 1
        assert count == n, f"{count} answers to {n} pipelined requests (half_close={half_close})"


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s*(\d+) kB", f.read()).group(1)) * 1024


def check_non_reader(server):
    """A client that pipelines requests and never reads the answers: the
    server must stop taking them (TCP flow control), not buffer them all."""
    before = rss_bytes(server.proc.pid)
    c = Conn()
    c.s.setblocking(False)
    data = request("GET", "/") * 4000
    sent, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < 1.5:
        try:
            sent += c.s.send(data)
        except BlockingIOError:
            time.sleep(0.01)
    grew = rss_bytes(server.proc.pid) - before
    c.reset()
    assert sent < 32 << 20, f"the server took {sent >> 20} MiB of requests from a client that reads nothing"
    assert grew < 32 << 20, f"rl-httpd grew by {grew >> 20} MiB for a client that reads nothing"


def check_port_reuse(expected):
    """The server closes first (Connection: close), so its end of the
    connection waits in TIME-WAIT; the client closed second, so its kernel
    may reuse the port at once.  A SYN from that port must open a new
    connection (RFC 6191; Linux accepts it), not be answered with an ACK of
    the old one -- which made 1 run in ~6 of this test fail at random."""
    port = 0
    for i in range(3):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(3)
        try:
            s.bind(("0.0.0.0", port))
            port = s.getsockname()[1]
            try:
                s.connect((THEIRS, PORT))
            except OSError as e:
                raise AssertionError(f"connection {i} from port {port}, reused after the server closed "
                                     f"the previous one: {e}") from None
            s.sendall(request("GET", "/", b"Connection: close\r\n"))
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
            assert data.startswith(b"HTTP/1.1 200") and data.endswith(expected), data[:100]
        finally:
            s.close()
        time.sleep(0.05)   # our FIN acknowledged: the port is free on this side


def drain(c, within=5.0):
    """Shut our side: the server must answer what it has and close, not hang."""
    try:
        c.s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    closed = c.closed_by_peer(within)
    c.close()
    return closed


def well_formed_answers(data, what):
    """Whatever came back is zero or more complete HTTP/1.1 responses."""
    rest = data
    while rest:
        m = STATUS_LINE.match(rest)
        assert m, f"{what}: not an HTTP response: {rest[:120]!r}"
        head, sep, rest = rest.partition(b"\r\n\r\n")
        assert sep, f"{what}: response head cut short: {head[:120]!r}"
        n = int(re.search(rb"\r\nContent-Length: (\d+)", head).group(1))
        rest = rest[n:]   # bodies of HEAD answers are absent; a mutation may have made a HEAD


def check_garbage(rnd):
    for i in range(30):
        c = Conn()
        n = rnd.choice([1, 7, 100, 1000, 5000, 20000])
        data = bytes(rnd.getrandbits(8) for _ in range(n))
        try:
            c.send(data)
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert drain(c), f"garbage {i} ({n} bytes): the server did not close the connection"
        well_formed_answers(c.buf, f"garbage {i}")
    # Garbage that looks like a start: a valid method, then noise.
    for junk in (b"GET " + bytes(range(256)), b"GET /\x00 HTTP/1.1\r\n\r\n", b"\r\n" * 9000,
                 b"GET / HTTP/1.1\r\n" + b":" * 100 + b"\r\n\r\n", b"G" * 10000):
        c = Conn()
        try:
            c.send(junk)
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert drain(c), f"{junk[:30]!r}...: the server did not close the connection"
        well_formed_answers(c.buf, repr(junk[:30]))


def check_cut_short():
    cuts = [b"GET /index.html HTTP/1.1\r\nHo", b"GET /ind", b"G", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc",
            request("GET", "/")[:-1]]
    for data in cuts:
        c = Conn()
        c.send(data)
        c.close()     # FIN mid-request, without reading
        c = Conn()
        c.send(data)
        c.reset()     # RST mid-request
        c = Conn()
        c.send(data)
        assert drain(c), f"{data!r} then FIN: the server did not close"


def check_slowloris(expected):
    stop = threading.Event()
    state = {"sent": 0, "error": None}

    def slow():
        try:
            c = Conn()
            c.send(b"GET / HTTP/1.1\r\nHost: t\r\n")
            header = b"X-Slow: " + b"z" * 1000
            while not stop.is_set():
                c.send(header[state["sent"] % len(header):][:1])
                state["sent"] += 1
                stop.wait(0.1)
            c.reset()
        except OSError as e:
            state["error"] = e

    t = threading.Thread(target=slow)
    t.start()
    try:
        time.sleep(0.3)
        for i in range(5):
            t0 = time.monotonic()
            code, body, err = curl("/", "-m", "5")
            took = time.monotonic() - t0
            assert code == 200 and body == expected, f"curl {i} during slowloris: {code} {err.strip()}"
            assert took < 1.0, f"curl {i} during slowloris took {took:.2f} s"
            time.sleep(0.2)
    finally:
        stop.set()
        t.join(10)
    assert state["error"] is None, f"the slowloris connection failed: {state['error']}"
    assert state["sent"] >= 10, state


def check_resets(files):
    for i in range(20):
        c = Conn()
        c.send(request("GET", "/"))
        if i % 2:
            time.sleep(0.005)
        c.reset()
    # Many answers on their way into a connection that resets.
    for _ in range(5):
        c = Conn()
        c.send(request("GET", "/") * 100)
        c.s.recv(100)
        c.reset()


def mutate(rnd, data):
    data = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(7)
        i = rnd.randrange(len(data) + 1)
        if op == 0 and data:          # flip a byte
            data[min(i, len(data) - 1)] = rnd.getrandbits(8)
        elif op == 1:                 # insert a byte that matters to the grammar
            data[i:i] = bytes([rnd.choice(b"\r\n \t:\x00/%.?#\x7f\xff")])
        elif op == 2 and data:        # delete a run
            del data[i:i + rnd.randint(1, 8)]
        elif op == 3:                 # duplicate a slice
            j = rnd.randrange(len(data) + 1)
            a, b = min(i, j), max(i, j)
            data[i:i] = data[a:b][:200]
        elif op == 4:                 # a huge or odd number
            data[i:i] = rnd.choice([b"99999999999999999999999", b"-1", b"1048577", b"0x10", b"1,2"])
        elif op == 5:                 # cut it short
            del data[i:]
        else:                         # a known field that changes the framing
            data[i:i] = rnd.choice([b"Transfer-Encoding: chunked\r\n", b"Content-Length: 3\r\n",
                                    b"Connection: close\r\n", b"Host: u\r\n", b"Expect: 100-continue\r\n"])
    return bytes(data)


def check_mutations(seed):
    rnd = random.Random(seed)
    valid = (b"POST /sub/a.txt?x=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: m\r\nContent-Length: 5\r\n"
             b"Connection: keep-alive\r\n\r\nhelloGET /index.html HTTP/1.1\r\nHost: t\r\n\r\n")
    for i in range(200):
        data = mutate(rnd, valid)
        what = f"mutation {i} (seed {seed}) {data!r}"
        try:
            c = Conn()
        except OSError as e:
            raise AssertionError(f"{what}: cannot connect: {e}") from None
        try:
            c.send(data)
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert drain(c), f"{what}: the server did not close the connection"
        well_formed_answers(c.buf, what)


def check_wrk():
    p = subprocess.run(["wrk", "-t1", "-c20", "-d2s", "--latency", URL + "/"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    m = re.search(r"(\d+) requests in", out)
    assert m and int(m.group(1)) > 1000, out
    assert "Socket errors" not in out, out
    assert "Non-2xx or 3xx responses" not in out, out
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out).group(1)
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    print(f"     wrk -t1 -c20 -d2s: {m.group(1)} requests, {rps} req/s, p99 {p99}")


def check_limit(expected):
    held = []
    try:
        for i in range(5):
            c = Conn()
            c.send(request("GET", "/"))
            code, _, body = c.response()
            assert code == 200 and body == expected, f"held connection {i}: {code}"
            held.append(c)
        c = Conn()
        try:
            c.send(request("GET", "/"))
        except (ConnectionResetError, BrokenPipeError):
            pass
        code, h, _ = c.response()
        assert code == 503, f"a 6th connection over --max-connections 5: {code}, expected 503"
        assert h.get("connection") == "close", h
        assert c.closed_by_peer(), "the 503 connection was not closed"
        c.close()
    finally:
        for c in held:
            c.close()
    deadline = time.monotonic() + 5
    while True:   # the server sees the five closes
        code, body, _ = curl("/")
        if code == 200:
            break
        assert time.monotonic() < deadline, f"after releasing the 5 connections: {code}"
        time.sleep(0.1)
    assert body == expected


def check_idle():
    c = Conn()
    c.send(request("GET", "/"))
    code, _, _ = c.response()
    assert code == 200, code
    t0 = time.monotonic()
    closed = c.closed_by_peer(within=4)
    took = time.monotonic() - t0
    c.close()
    assert closed, "an idle keep-alive connection was still open 4 s after its answer (--idle-timeout 1)"
    assert took <= 3.0, f"an idle connection was closed after {took:.1f} s (--idle-timeout 1)"
    print(f"     an idle keep-alive connection closed {took:.1f} s after its answer")
    # A connection that never sends anything is idle too.
    c = Conn()
    t0 = time.monotonic()
    closed = c.closed_by_peer(within=4)
    took = time.monotonic() - t0
    c.close()
    assert closed and took <= 3.0, f"a silent connection: closed={closed} after {took:.1f} s (--idle-timeout 1)"


def check_crash_run(expected, n=300, min_seconds=3.5):
    t0 = time.monotonic()
    done = 0
    while done < n or time.monotonic() - t0 < min_seconds:
        code, body, err = curl("/", "-m", "10")
        assert code == 200 and body == expected, f"request {done} during crashes: {code} {err.strip()} ({len(body)} bytes)"
        done += 1
        assert done < 5 * n, "runaway"
    print(f"     {done} requests in {time.monotonic() - t0:.1f} s, all 200 with the exact bytes")


def check_summary(s, want_requests_at_least=1, crashes_at_least=0, nonzero=None):
    assert s["requests"] >= want_requests_at_least, s
    if nonzero:
        assert s[nonzero] >= 1, f"{nonzero} is 0: {s}"
    assert "500" not in s["status"], f"the server answered 500: {s}"
    assert s["driver_recoveries"] == s["driver_crashes"], f"crashes and recoveries differ: {s}"
    assert s["driver_crashes"] >= crashes_at_least, f"expected >= {crashes_at_least} driver crashes: {s}"


def make_rlfs_image(tmp, root):
    img = os.path.join(tmp, "www.img")
    script = "; ".join(["mkdir /www", "mkdir /www/sub",
                        f"put {os.path.join(root, 'index.html')} /www/index.html",
                        f"put {os.path.join(root, 'sub', 'a.txt')} /www/sub/a.txt"])
    p = subprocess.run([rl_sh, "--create-size", "16M", img, "-c", script], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"rl-sh exited {p.returncode}: {p.stderr}"


def check_rlfs(files):
    for name, data in files.items():
        code, body, err = curl("/" + name)
        assert code == 200 and body == data, f"/{name} from rlfs: {code} {err.strip()} ({len(body)} bytes)"
    code, _, _ = curl("/missing.html")
    assert code == 404, f"/missing.html from rlfs: {code}"
    for i in range(200):
        code, body, err = curl("/")
        assert code == 200 and body == files["index.html"], f"request {i}: {code} {err.strip()}"


# ----------------------------------------------------------------- main --

def run_server(tmp, name, root, extra, body):
    """Starts rl-httpd, runs body(server), stops it and returns its summary (None if it failed)."""
    workdir = os.path.join(tmp, name)
    os.makedirs(workdir)
    server = None
    try:
        server = Server(root, workdir, *extra)
        body(server)
        summary = server.stop()
        print(f"     {name} summary: {json.dumps(summary)}", flush=True)
        return summary
    except Exception as e:   # noqa: BLE001
        print(f"FAIL: {name} run: {''.join(traceback.format_exception_only(type(e), e)).strip()}", flush=True)
        failures.append(f"{name} run")
        return None
    finally:
        if server:
            server.kill()


def main():
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        enter_namespace(NS)
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        with tempfile.TemporaryDirectory(prefix="rl-httpd-check-") as tmp:
            root, files, secret = make_root(tmp)
            index = files["index.html"]
            t_all = time.monotonic()

            def main_run(server):
                def group(name, fn, *args):
                    check(name, fn, *args)
                    server.alive()
                    check(f"{name}: a normal request still gets 200", still_serves, index)
                check("status codes", check_statuses, files)
                check("path traversal never escapes the root", check_traversal, secret)
                check("keep-alive and pipelining", check_keep_alive, files)
                check("a client port reused after the server closed first", check_port_reuse, index)
                check("10,000 pipelined requests, more answers than the server buffers", check_long_pipeline, files)
                group("a client that pipelines and never reads", check_non_reader, server)
                rnd = random.Random(20240801)
                group("random garbage", check_garbage, rnd)
                group("requests cut short (FIN, RST)", check_cut_short)
                group("slowloris does not block others", check_slowloris, index)
                group("requests then reset (SO_LINGER 0)", check_resets, files)
                group("200 seeded mutations of a valid request", check_mutations, 7)
                check("wrk -t1 -c20 -d2s: no socket errors, all 2xx", check_wrk)
                server.alive()

            s = run_server(tmp, "main", root, [], main_run)
            if s:
                check("main summary", check_summary, s, 1000)
            s = run_server(tmp, "limit", root, ["--max-connections", "5"],
                           lambda server: check("--max-connections 5: a 6th gets 503 and is closed", check_limit, index))
            if s:
                check("limit summary: one refused with 503", check_summary, s, 1, 0, "refused_503")
            s = run_server(tmp, "idle", root, ["--idle-timeout", "1"],
                           lambda server: check("--idle-timeout 1 closes idle connections", check_idle))
            if s:
                check("idle summary: idle connections counted", check_summary, s, 1, 0, "idle_closed")
            s = run_server(tmp, "crash", root, ["--crash-driver-every", "0.3"],
                           lambda server: check("300+ requests while the driver crashes every 0.3 s",
                                                check_crash_run, index))
            if s:
                check("crash summary: crashes >= 3, each recovered", check_summary, s, 300, 3)
            if rl_sh:
                check("rlfs: the files put into an image", make_rlfs_image, tmp, root)
                s = run_server(tmp, "rlfs", "rlfs:/www", ["--fs", os.path.join(tmp, "www.img")],
                               lambda server: check("served from rlfs: exact bytes, 404, 200 requests",
                                                    check_rlfs, files))
                if s:
                    check("rlfs summary", check_summary, s, 200)
            print(f"total {time.monotonic() - t_all:.1f} s")
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)
    if failures:
        print(f"{len(failures)} check(s) failed: " + "; ".join(failures))
        return 1
    print("ok: all rl-httpd checks passed")
    return 0



if __name__ == "__main__":
    sys.exit(main())
