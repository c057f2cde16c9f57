#!/usr/bin/env python3
"""Builds and runs examples/rust with cargo, offline, in a copy inside the build dir.

usage: run_rust_example.py EXAMPLE_DIR WORK_DIR LIB_DIR

The example is copied to WORK_DIR/src (so nothing, not even Cargo.lock, is written into
the source tree) and built there with CARGO_TARGET_DIR=WORK_DIR/target, TCONV_LIB_DIR
and LD_LIBRARY_PATH pointing at LIB_DIR (the build tree's libtconv.so).

Cargo: $CARGO if set, else Debian's /usr/bin/cargo (with /usr/bin/rustc: the 1.63 the
example must build with), else `cargo` from PATH. Missing cargo is a failure, not a skip.
"""
import os
import shutil
import subprocess
import sys


def find_cargo():
    env = os.environ.get("CARGO")
    if env:
        return env, os.environ.get("RUSTC")
    if os.path.exists("/usr/bin/cargo"):
        return "/usr/bin/cargo", "/usr/bin/rustc" if os.path.exists("/usr/bin/rustc") else None
    path = shutil.which("cargo")
    return path, os.environ.get("RUSTC")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    example, work, libdir = (os.path.abspath(a) for a in sys.argv[1:])
    cargo, rustc = find_cargo()
    if not cargo:
        print("FAIL: cargo not found. The Rust example needs Debian's Rust toolchain: "
              "apt-get install cargo (or set CARGO=/path/to/cargo)")
        return 1

    src = os.path.join(work, "src")
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(example, src, ignore=shutil.ignore_patterns("target", "Cargo.lock"))
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = os.path.join(work, "target")
    env["TCONV_LIB_DIR"] = libdir
    env["LD_LIBRARY_PATH"] = libdir + (os.pathsep + env["LD_LIBRARY_PATH"]
                                       if env.get("LD_LIBRARY_PATH") else "")
    if rustc:
        env["RUSTC"] = rustc
    for tool, flag in ((cargo, "--version"), (rustc or "rustc", "--version")):
        try:
            out = subprocess.run([tool, flag], capture_output=True, text=True, env=env,
                                 check=False).stdout.strip()
        except OSError as exc:
            out = "not runnable: %s" % exc
        print("%s: %s" % (tool, out))
    sys.stdout.flush()
    # Cargo and rustc must not run with the sanitizer runtime of an ASan build preloaded
    # (cargo deadlocks under it): build without LD_PRELOAD, then run the example with it.
    build_env = dict(env)
    build_env.pop("LD_PRELOAD", None)
    cmd = [cargo, "build", "--offline", "--release"]
    print("running:", " ".join(cmd), "in", src)
    sys.stdout.flush()
    try:
        rc = subprocess.run(cmd, cwd=src, env=build_env, check=False, timeout=400).returncode
    except OSError as exc:
        print("FAIL: cannot run %s: %s (apt-get install cargo)" % (cargo, exc))
        return 1
    if rc != 0:
        return rc
    exe = os.path.join(env["CARGO_TARGET_DIR"], "release", "tconv-example")
    print("running:", exe)
    sys.stdout.flush()
    return subprocess.run([exe], cwd=src, env=env, check=False, timeout=120).returncode


if __name__ == "__main__":
    sys.exit(main())
