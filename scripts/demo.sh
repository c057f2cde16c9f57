#!/usr/bin/env bash
# demo.sh - build tconv and run the upsampling demo (examples/upsample_demo.c).
#
#   scripts/demo.sh [build-dir]          (default: build, relative to the repository)
#
# Made for a fresh Debian 12 that has only gcc and git: whatever is missing of meson,
# ninja-build, pkg-config and libpng-dev is installed with apt-get (as root directly,
# through sudo otherwise). A build directory that is already configured is reused.
# Running it again changes nothing and just reruns the demo. The images are written
# to <build-dir>/demo/.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build}
out="$build/demo"

say() { printf '== %s\n' "$*"; }

# --- tools and libraries ---------------------------------------------------
if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
    echo "demo.sh: no C compiler found (install gcc first)" >&2
    exit 1
fi

source scripts/deps.sh

missing=()
command -v meson >/dev/null 2>&1 || missing+=(meson)
command -v ninja >/dev/null 2>&1 || missing+=(ninja-build)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! deps_installed libpng-dev && ! pkg-config --exists libpng 2>/dev/null; then
    missing+=(libpng-dev)
fi

if ((${#missing[@]} > 0)); then
    deps_apt_install demo.sh "${missing[@]}" || exit 1
else
    say "meson, ninja, pkg-config and libpng are installed"
fi

# --- configure (once) and build ----------------------------------------------
if [ -f "$build/build.ninja" ]; then
    say "reusing the configured build directory $build"
    examples_on=$(meson introspect "$build" --buildoptions | python3 -c \
        'import json, sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "examples"][0])')
    if [ "$examples_on" != "True" ]; then
        meson configure "$build" -Dexamples=true
    fi
else
    opts=()
    if ! pkg-config --exists cmocka 2>/dev/null; then
        # The test suites need cmocka, the demo does not.
        opts+=(-Dtests=false)
    fi
    if [ -f "$build/meson-private/coredata.dat" ]; then
        opts+=(--wipe) # left half-made by an interrupted setup
    fi
    say "configuring $build"
    meson setup "$build" "${opts[@]}"
fi

say "building"
meson compile -C "$build" upsample_demo

# --- run -------------------------------------------------------------------
say "running the demo"
"$build/examples/upsample_demo" "$out"

dir=$(cd -- "$out" && pwd)
say "images in $dir:"
for f in input up2x up4x; do
    for ext in png ppm; do
        if [ -f "$dir/$f.$ext" ]; then
            printf '   %s\n' "$dir/$f.$ext"
        fi
    done
done
