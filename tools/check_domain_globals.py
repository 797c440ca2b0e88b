#!/usr/bin/env python3
"""Fails when a domain .so has mutable global state (design.md §2).

A domain keeps all of its state in objects on its private heap, so that
restarting it is "destroy the heap, call the factory again" and two instances
of one .so can live side by side.  This reads the .so's symbol table and
rejects every data object in a writable section that is not relocation-only
(.data.rel.ro, .got, .init_array ... become read-only after loading).

usage: check_domain_globals.py DOMAIN.so [--stamp FILE]
"""
import subprocess
import sys

# Writable after relocation: anything else that is writable holds state.
READ_ONLY_AFTER_RELRO = {
    ".data.rel.ro", ".data.rel.ro.local", ".got", ".got.plt", ".init_array",
    ".fini_array", ".dynamic", ".tm_clone_table",
}
# Objects the toolchain itself puts there (crtstuff, the DSO handle, the
# exception personality's indirection cell), written once at load.
TOOLCHAIN_SYMBOLS = {"completed.0", "__dso_handle", "__TMC_END__", "_GLOBAL_OFFSET_TABLE_", "_DYNAMIC"}
TOOLCHAIN_PREFIXES = ("DW.ref.", "__odr_asan", "__asan_", "__ubsan_")   # the last three: sanitizer builds


def readelf(args, path):
    try:
        return subprocess.run(["readelf", "-W", *args, path], check=True,
                              capture_output=True, text=True).stdout
    except FileNotFoundError:
        sys.exit("check_domain_globals: readelf not found; install binutils")
    except subprocess.CalledProcessError as e:
        sys.exit(f"check_domain_globals: cannot read {path}: {e.stderr.strip()}")


def writable_sections(path):
    """Section index -> name, for writable sections holding mutable data."""
    out = {}
    for line in readelf(["-S"], path).splitlines():
        line = line.strip()
        if not line.startswith("["):
            continue
        idx, rest = line[1:].split("]", 1)
        fields = rest.split()
        if len(fields) < 7 or not idx.strip().isdigit():
            continue
        # columns: Name Type Address Off Size ES Flg Lk Inf Al
        name, flags = fields[0], fields[6]
        if "W" in flags and name not in READ_ONLY_AFTER_RELRO:
            out[int(idx)] = name
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    sections = writable_sections(path)
    offenders = []
    for line in readelf(["-s", "-C"], path).splitlines():
        f = line.split(None, 7)
        if len(f) < 8 or not f[0].rstrip(":").isdigit():
            continue
        _, _, size, typ, _, _, ndx, name = f
        if typ not in ("OBJECT", "TLS") or not ndx.isdigit():
            continue
        if name in TOOLCHAIN_SYMBOLS or name.startswith(TOOLCHAIN_PREFIXES):
            continue
        if int(ndx) in sections and int(size, 0) > 0:
            offenders.append(f"  {name} ({size} bytes in {sections[int(ndx)]})")
    if offenders:
        sys.stderr.write(
            f"{path}: error: a domain must not have mutable globals, found:\n" + "\n".join(sorted(set(offenders))) +
            "\nKeep this state in the object the domain's factory creates (its private heap);"
            " make true constants `constexpr` or `const`.\n")
        return 1
    if "--stamp" in sys.argv:
        with open(sys.argv[sys.argv.index("--stamp") + 1], "w") as s:
            s.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
