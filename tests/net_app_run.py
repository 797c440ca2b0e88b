"""One run of a redleaf network application (rl-httpd, rl-kvstore) on a TAP
interface in the test's network namespace, shared by the end-to-end tests:
start it, wait for its TAP, give the kernel's side an address, wait until
`ready()` says it answers; at the end, SIGTERM and check what users rely on
-- exit status 0, one JSON summary line, nothing on stderr that looks like a
crash.  stdout and stderr go to files (an ASan report is long)."""
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback

CRASH_PATTERNS = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error|"
                            r"Segmentation fault|Aborted|terminate called|panic|fail", re.I)


def skip_unless_possible(tools):
    """Exits 77 (skip) where the test cannot run: a tool missing, not root,
    or no /dev/net/tun for the TAP interface."""
    for tool in tools:
        if not shutil.which(tool):
            print(f"skip: `{tool}` is not installed (./redleaf deps installs it)")
            sys.exit(77)
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        print("skip: TAP devices and network namespaces need root and /dev/net/tun")
        sys.exit(77)


failures = []   # names of the checks that failed; the script exits 1 if any did


def check(name, fn, *args):
    """Runs one check; a failure is recorded with its reason, and the next check runs."""
    t = time.monotonic()
    try:
        fn(*args)
        print(f"ok: {name} ({time.monotonic() - t:.1f} s)", flush=True)
    except Exception as e:   # noqa: BLE001 -- every failure is reported, whatever it is
        detail = "".join(traceback.format_exception_only(type(e), e)).strip()
        print(f"FAIL: {name}: {detail}", flush=True)
        failures.append(name)


def enter_namespace(ns):
    """Moves this process into the network namespace `ns`, so that the
    clients, the application and the script's sockets all live there (setns
    before any thread exists: threads and children inherit it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:   # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), f"setns into {ns}")
    finally:
        os.close(fd)


class AppRun:
    def __init__(self, tool, name, args, workdir, tap, ours, ready, env=None):
        self.name = name
        self.out = open(os.path.join(workdir, "stdout"), "w+")
        self.err = open(os.path.join(workdir, "stderr"), "w+")
        self.proc = subprocess.Popen([tool, *args], stdout=self.out, stderr=self.err, env=env)
        deadline = time.monotonic() + 20
        while subprocess.run(["ip", "link", "show", tap], capture_output=True).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{name} did not create {tap}: {self.stderr()[-1500:]}")
            time.sleep(0.05)
        subprocess.run(["ip", "addr", "add", f"{ours}/24", "dev", tap], check=True)
        subprocess.run(["ip", "link", "set", tap, "up"], check=True)
        deadline = time.monotonic() + 15   # ARP and the first answer
        while not ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{name} does not answer: {self.stderr()[-1500:]}")
            time.sleep(0.1)

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def alive(self):
        assert self.proc.poll() is None, \
            f"{self.name} exited with status {self.proc.returncode}: {self.stderr()[-2000:]}"

    def stop(self):
        """SIGTERM: exit status 0, one JSON summary line, nothing that looks like a crash."""
        self.alive()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not exit within 30 s of SIGTERM")
        err = self.stderr()
        self.out.seek(0)
        out = self.out.read()
        assert self.proc.returncode == 0, f"exit status {self.proc.returncode}: {err[-2000:]}"
        bad = [l for l in err.splitlines() if CRASH_PATTERNS.search(l)]
        assert not bad, f"{self.name}'s stderr looks like a crash:\n" + "\n".join(bad[:20])
        lines = [l for l in out.splitlines() if l.startswith("{")]
        assert len(lines) == 1, f"expected one JSON summary line, got stdout {out!r}"
        s = json.loads(lines[0])
        assert s["tool"] == self.name, s
        return s

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
