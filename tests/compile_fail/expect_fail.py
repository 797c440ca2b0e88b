#!/usr/bin/env python3
"""A must-not-compile test: compiles one snippet and passes only if the
compiler rejects it with the expected diagnosis (RLBox-style, style.md).

usage: expect_fail.py SOURCE EXPECTED_SUBSTRING -- COMPILER [ARGS...]
"""
import subprocess
import sys

src, expected = sys.argv[1], sys.argv[2]
cmd = sys.argv[sys.argv.index("--") + 1:] + ["-fsyntax-only", src]
proc = subprocess.run(cmd, capture_output=True, text=True)
if proc.returncode == 0:
    sys.exit(f"FAIL: {src} compiled, but crossing that type must be a compile error")
if expected not in proc.stderr:
    sys.stderr.write(proc.stderr[-4000:])
    sys.exit(f"FAIL: {src} failed to compile, but without the expected diagnosis: {expected!r}")
print(f"ok: {src} rejected with: {expected}")
