#!/usr/bin/env python3
# check_exports.py - the shared library's dynamic symbol table must be exactly the
# functions include/tconv.h declares with TCONV_API: nothing internal (tconv__*), no
# helper that forgot `static`, and no declared function missing.
#
# usage: check_exports.py NM LIBRARY HEADER
#
# SPDX-License-Identifier: MIT
import re
import subprocess
import sys


def declared_functions(header_text):
    # Comments could mention TCONV_API; drop them before parsing.
    text = re.sub(r"/\*.*?\*/", " ", header_text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    # The macro's own definitions are preprocessor lines, not declarations.
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    names = set()
    for m in re.finditer(r"\bTCONV_API\b([^;{]*?)\(", text):
        ident = re.findall(r"[A-Za-z_]\w*", m.group(1))
        if not ident:
            sys.exit("cannot parse the declaration after TCONV_API: %r" % m.group(0))
        names.add(ident[-1])
    return names


def exported_symbols(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            syms[parts[2].split("@")[0]] = parts[1]
        elif len(parts) == 2:  # absolute symbols may come without an address
            syms[parts[1].split("@")[0]] = parts[0]
    return syms


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: check_exports.py NM LIBRARY HEADER")
    nm, lib, header = sys.argv[1:]
    with open(header, encoding="utf-8") as f:
        declared = declared_functions(f.read())
    exported = exported_symbols(nm, lib)
    # A coverage build (meson -Db_coverage=true) links GCC's libgcov into the library,
    # whose runtime symbols are exported: its __gcov_* and the helper mangle_path.
    if any(name.startswith("__gcov_") for name in exported):
        exported = {name: kind for name, kind in exported.items()
                    if not name.startswith("__gcov_") and name != "mangle_path"}
    ok = True
    if len(declared) < 10:
        print("only %d TCONV_API functions parsed from %s: parser broken?" % (len(declared), header))
        ok = False
    for name in sorted(set(exported) - declared):
        print("exported but not declared with TCONV_API: %s (%s)" % (name, exported[name]))
        ok = False
    for name in sorted(declared - set(exported)):
        print("declared with TCONV_API but not exported: %s" % name)
        ok = False
    for name in sorted(declared & set(exported)):
        if exported[name] not in ("T", "t", "i"):
            print("%s is exported as '%s', not as a function" % (name, exported[name]))
            ok = False
    if ok:
        print("%d exported symbols, all and only the TCONV_API functions" % len(exported))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
