#!/usr/bin/env python3
"""rl-maglev --dump-table against an independent implementation of the
paper's population algorithm (NSDI '16, Pseudocode 1) with the hashes
apps/maglev/table.hpp documents."""
import subprocess
import sys

MASK = (1 << 64) - 1


def fnv1a(s, basis):
    h = basis
    for c in s.encode():
        h = ((h ^ c) * 0x100000001B3) & MASK
    return h


def h2(s):
    x = fnv1a(s, 0x84222325CBF29CE4)
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def populate(backends, m):
    offset = [fnv1a(b, 0xCBF29CE484222325) % m for b in backends]
    skip = [h2(b) % (m - 1) + 1 for b in backends]
    nxt = [0] * len(backends)
    entry = [-1] * m
    n = 0
    while True:
        for i in range(len(backends)):
            c = (offset[i] + nxt[i] * skip[i]) % m
            while entry[c] >= 0:
                nxt[i] += 1
                c = (offset[i] + nxt[i] * skip[i]) % m
            entry[c] = i
            nxt[i] += 1
            n += 1
            if n == m:
                return entry


tool = sys.argv[1]
for backends, m in ((["b0", "b1", "b2"], 13), ([f"10.0.0.{i}:80" for i in range(1, 9)], 65537)):
    p = subprocess.run([tool, "--dump-table", "--backends", ",".join(backends), "--size", str(m)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    got = [int(x) for x in p.stdout.split()]
    assert got == populate(backends, m), f"table for {backends} / {m} differs from the paper's algorithm"
    print(f"ok: {len(backends)} backends, {m} slots: the same table")
bad = subprocess.run([tool, "--dump-table", "--backends", "a,b", "--size", "1000"], capture_output=True, text=True)
assert bad.returncode == 2 and "must be a prime" in bad.stderr, bad.stderr
