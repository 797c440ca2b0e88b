#!/usr/bin/env python3
"""A must-fail test: runs a compiler (g++, or idlc) on one input and passes
only if it is rejected with the expected diagnosis (RLBox-style, style.md).

usage: expect_fail.py SOURCE EXPECTED_SUBSTRING -- COMMAND [ARGS...]
  @SOURCE@ in the command is replaced by SOURCE; without it SOURCE is appended.
"""
import subprocess
import sys

src, expected = sys.argv[1], sys.argv[2]
cmd = sys.argv[sys.argv.index("--") + 1:]
cmd = [src if a == "@SOURCE@" else a for a in cmd] if "@SOURCE@" in cmd else cmd + [src]
proc = subprocess.run(cmd, capture_output=True, text=True)
if proc.returncode == 0:
    sys.exit(f"FAIL: {src} was accepted, but it must be rejected")
if expected not in proc.stderr:
    sys.stderr.write(proc.stderr[-4000:])
    sys.exit(f"FAIL: {src} was rejected, but without the expected diagnosis: {expected!r}")
print(f"ok: {src} rejected with: {expected}")
