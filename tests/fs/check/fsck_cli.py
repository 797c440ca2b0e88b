#!/usr/bin/env python3
"""rl-mkfs and rl-fsck from the command line: what they print and their
exit statuses (e2fsck's for rl-fsck: 0 clean, 1 corrected, 4 left, 8
operational error, 16 usage error)."""
import os
import struct
import subprocess
import sys
import tempfile

mkfs, fsck = sys.argv[1], sys.argv[2]
BLOCK = 4096


def run(*args, code):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    if p.returncode != code:
        sys.exit(f"{' '.join(args)}: exit {p.returncode}, expected {code}:\n{out}")
    return out


def superblock(img):
    with open(img, "rb") as f:
        raw = f.read(104)
    # magic, version, block_size, blocks, inodes, log_start, log_blocks,
    # inode_start, inode_blocks, bitmap_start, bitmap_blocks, data_start
    fields = struct.unpack_from("<QIIQQQQQQQQQ", raw)
    names = ["magic", "version", "block_size", "blocks", "inodes", "log_start", "log_blocks",
             "inode_start", "inode_blocks", "bitmap_start", "bitmap_blocks", "data_start"]
    return dict(zip(names, fields))


def poke(img, offset, xor):
    with open(img, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ xor]))


with tempfile.TemporaryDirectory() as d:
    img = os.path.join(d, "fs.img")
    out = run(mkfs, "--size", "8M", img, code=0)
    assert os.path.getsize(img) == 8 << 20, os.path.getsize(img)
    assert "2048 blocks" in out and "inodes" in out and "data" in out, out
    out = run(mkfs, img, code=1)
    assert "already holds an rlfs" in out and "-f" in out, out
    run(mkfs, "-f", "--inodes", "128", img, code=0)
    assert superblock(img)["inodes"] == 128

    out = run(fsck, img, code=0)
    assert "clean" in out and "1/127 files" in out and "/2048 blocks" in out, out
    run(fsck, "-f", "-n", "--through", "domain", img, code=0)

    # A block marked in use that nothing uses: found, repaired, then clean.
    sb = superblock(img)
    victim = sb["data_start"] + 10
    poke(img, sb["bitmap_start"] * BLOCK + victim // 8, 1 << (victim % 8))
    out = run(fsck, img, code=4)
    assert f"block {victim}" in out and "rl-fsck -y" in out, out
    out = run(fsck, "-y", img, code=1)
    assert "MODIFIED" in out, out
    run(fsck, "-p", img, code=0)
    run(fsck, "-v", img, code=0)

    # A damaged superblock: reported, never rewritten.
    poke(img, 88, 0xff)   # created_ns
    out = run(fsck, img, code=4)
    assert "superblock" in out, out
    run(fsck, "-y", img, code=4)
    poke(img, 88, 0xff)
    run(fsck, img, code=0)

    # No rlfs at all, no such image: operational errors that say what to do.
    with open(img, "r+b") as f:
        f.write(bytes(BLOCK))
    out = run(fsck, img, code=8)
    assert "rl-mkfs" in out, out
    out = run(fsck, os.path.join(d, "missing.img"), code=8)
    assert "missing.img" in out, out

    # Usage errors.
    for args in ([], ["--bogus", img], ["-n", "-y", img], ["--through", "wire", img], [img, img]):
        out = run(fsck, *args, code=16)
        assert "usage" in out, out
    out = run(mkfs, "--size", "1M", os.path.join(d, "small.img"), code=16)
    assert "4M" in out, out
    assert not os.path.exists(os.path.join(d, "small.img"))
    run(mkfs, "--size", "lots", img, code=16)
    run(mkfs, "--frobnicate", img, code=16)
    run(mkfs, code=16)
    out = run(mkfs, "--size", "16M", img, code=1)
    assert "-f" in out, out
    run(mkfs, "-f", "--size", "16M", img, code=0)
    assert os.path.getsize(img) == 16 << 20
    run(fsck, img, code=0)
print("ok")
