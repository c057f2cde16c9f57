#!/usr/bin/env bash
# scripts/test.sh - build tconv and run every test (the README's test command).
#
# On a fresh Debian 12 machine with gcc and git, installs what the tests need with
# apt-get (as root, or through sudo), configures a build directory with warnings as
# errors, builds, and runs `meson test`.
#
# Usage: scripts/test.sh [BUILD_DIR [extra meson setup options...]]
#   BUILD_DIR defaults to build-test. Example (what CI also runs):
#   scripts/test.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-test}
shift || true

# --- dependencies (Debian package names) ------------------------------------------
PKGS=(gcc g++ meson ninja-build pkg-config libcmocka-dev libpng-dev python3 python3-numpy
      python3-torch cargo binutils)
source scripts/deps.sh
deps_install scripts/test.sh "${PKGS[@]}"

# --- build and test ------------------------------------------------------------------
if [ -f "$BUILD/build.ninja" ]; then
  meson setup --reconfigure "$BUILD" -Dwerror=true "$@" >/dev/null
else
  meson setup "$BUILD" -Dwerror=true "$@" >/dev/null
fi
ninja -C "$BUILD"
meson test -C "$BUILD" --print-errorlogs
