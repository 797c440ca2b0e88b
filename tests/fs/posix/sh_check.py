#!/usr/bin/env python3
"""rl-sh end to end on a fresh image: what a person typing at it relies on --
the output of each command, coreutils-style errors, exit statuses, the image
keeping its contents between runs, host file transfer and stdin scripts."""
import os
import subprocess
import sys
import tempfile

sh = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="rl-sh-")
image = os.path.join(tmp, "fs.img")


def run(*args, stdin=None, expect=0):
    p = subprocess.run([sh, *args], input=stdin, capture_output=True, text=True, timeout=60)
    # The runtime's own notices (no hugepages ...) are not the shell's output.
    p.stderr = "".join(l for l in p.stderr.splitlines(True) if not l.startswith("redleaf: warning"))
    if p.returncode != expect:
        sys.exit(f"rl-sh {' '.join(args)}: exit {p.returncode}, expected {expect}\n"
                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def c(cmds, expect=0):
    return run(image, "-c", cmds, expect=expect)


# A new image, formatted, then a tree.
p = run("--create-size", "16M", image, "-c",
        "mkdir /www; mkdir -p /www/img/small; echo hello world > /www/index.html; "
        "echo second line >> /www/index.html; cd /www; pwd; ls")
assert p.stdout == "/www\nimg\nindex.html\n", p.stdout
assert os.path.getsize(image) == 16 << 20
# --create-size never overwrites.
p = run("--create-size", "16M", image, expect=1)
assert "exists" in p.stderr, p.stderr

# The contents survived the first run (a clean unmount syncs).
p = c("cat /www/index.html")
assert p.stdout == "hello world\nsecond line\n", p.stdout
p = c("ls -l /www")
lines = p.stdout.splitlines()
assert len(lines) == 2 and lines[0].startswith("drwxr-xr-x") and lines[0].endswith(" img"), lines
assert lines[1].startswith("-rw-r--r--") and " 24 " in lines[1] and lines[1].endswith(" index.html"), lines
p = c("stat /www/index.html")
assert "Size: 24" in p.stdout and "regular file" in p.stdout and "Links: 1" in p.stdout, p.stdout

# mv (into a directory too), rm, rmdir.
p = c("mv /www/index.html /www/home.html; mv /www/home.html /www/img; ls /www/img; rm /www/img/home.html; "
      "rmdir /www/img/small; ls /www/img; ls /www")
assert p.stdout == "home.html\nsmall\nimg\n", p.stdout

# Errors: coreutils' words, a non-zero status, and the commands after them still run.
p = c("rm /nope", expect=1)
assert p.stderr == "rm: cannot remove '/nope': No such file or directory\n", p.stderr
p = c("mkdir /www", expect=1)
assert p.stderr == "mkdir: cannot create directory '/www': File exists\n", p.stderr
p = c("echo x > /www/f; rmdir /www; echo after", expect=1)
assert p.stderr == "rmdir: failed to remove '/www': Directory not empty\n", p.stderr
assert p.stdout == "after\n", p.stdout
p = c("cat /www", expect=1)
assert p.stderr == "cat: /www: Is a directory\n", p.stderr
p = c("rm /www", expect=1)
assert "Is a directory" in p.stderr, p.stderr
p = c("frobnicate", expect=127)
assert "frobnicate: command not found" in p.stderr, p.stderr
p = c("exit 3", expect=3)
p = c("echo 'unterminated", expect=2)

# df: one line of numbers under its header.
p = c("df")
head, nums = p.stdout.splitlines()[:2]
assert head.split()[:3] == ["4K-blocks", "Used", "Available"], head
total, used, free = (int(x) for x in nums.split()[:3])
assert total == 4096 and used + free == total and used > 0, nums

# put / get through the host, bytes intact (more than one 64 KiB chunk).
src = os.path.join(tmp, "blob")
with open(src, "wb") as f:
    f.write(os.urandom(200000))
back = os.path.join(tmp, "blob.back")
c(f"put {src} /www/blob; get /www/blob {back}")
assert open(src, "rb").read() == open(back, "rb").read()
p = c("put /no/such/host/file /www/x", expect=1)
assert "put: cannot open host file" in p.stderr, p.stderr

# Commands on stdin (not a tty: no prompt); the status reports a failure.
p = run(image, stdin="cd /www\nls\nrm -r /www\nls /\ncat nothing\n", expect=1)
assert p.stdout == "blob\nf\nimg\n", p.stdout
assert "cat: nothing: No such file or directory" in p.stderr, p.stderr

# Bad usage.
run(expect=2)
p = run(os.path.join(tmp, "missing.img"), "-c", "ls", expect=1)
assert "missing.img" in p.stderr, p.stderr
print("ok")
