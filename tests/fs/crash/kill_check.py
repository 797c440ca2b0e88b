#!/usr/bin/env python3
"""A whole-process crash, for real: kill_writer writes and fsyncs files on an
rlfs image file and says which are durable; SIGKILL lands at a random moment
(mid-commit, mid-install, between operations).  Then rl-fsck must find the
image clean (a committed log is replayed, not an error) and every file
acknowledged durable -- and not deleted since -- must read back exactly,
with or without its unsynced append, never anything else.

usage: kill_check.py KILL_WRITER RL_MKFS RL_FSCK RL_SH [ROUNDS]"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

writer, mkfs, fsck, sh = sys.argv[1:5]
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 20


def pattern(n):
    length = 100 + (n * 7919) % 20000
    s, i = "", 0
    while len(s) < length:
        s += f"{n}:{i} "
        i += 1
    return s[:length]


def run(*args, ok=(0,)):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=300)
    if p.returncode not in ok:
        sys.exit(f"FAIL: {' '.join(args)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p.stdout


def main():
    rng = random.Random(int(os.environ.get("RL_KILL_SEED", "9")))
    with tempfile.TemporaryDirectory() as d:
        img = os.path.join(d, "fs.img")
        run(mkfs, "--size", "32M", img)
        first, durable, kills, checked = 0, [], 0, 0
        for r in range(rounds):
            p = subprocess.Popen([writer, img, str(first)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
            time.sleep(rng.uniform(0.05, 0.6))
            p.send_signal(signal.SIGKILL)
            out, err = p.communicate(timeout=60)
            if p.returncode != -signal.SIGKILL:
                sys.exit(f"FAIL: round {r}: the writer ended by itself ({p.returncode}):\n{err}")
            kills += 1
            acked = [int(line.split()[1]) for line in out.splitlines() if line.startswith("durable ")]
            if not acked and r == 0:
                print(f"round {r}: killed before the first fsync")
            run(fsck, "-n", img, ok=(0,))
            durable += acked
            # The writer unlinks files with n % 4 == 3 after acknowledging them,
            # and file n - 200 after file n (unsynced): the others must read back.
            top = max(durable) if durable else 0
            stable = [n for n in durable if n % 4 != 3 and n > top - 195]
            for n in stable[-4:] + rng.sample(stable, min(3, len(stable))):
                checked += 1
                got = run(sh, img, "-c", f"cat /w/{n}", ok=(0, 1))
                want = pattern(n)
                if got not in (want, want + "appended"):
                    sys.exit(f"FAIL: round {r}: /w/{n} was acknowledged durable but reads back "
                             f"{len(got)} bytes ({got[:60]!r}...), expected {len(want)}")
            if acked:
                first = max(acked) + 1
        final = run(fsck, "-n", "-v", img)
        print(f"{kills} kills, {len(durable)} files acknowledged durable; {checked} of them read back after "
              f"the kill that followed them, all exact; fsck: {final.strip().splitlines()[0]}")


main()
