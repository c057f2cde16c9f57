#!/usr/bin/env bash
# scripts/test_aarch64.sh - cross-build tconv for aarch64 and run its test suites under
# qemu-user: the portable path (no x86 kernels compiled, TCONV_ISA has only `scalar`)
# builds with warnings as errors and passes the same C tests as on x86-64.
#
# On Debian 12 (as root, or through sudo) installs the cross compilers, qemu-user and
# cmocka for arm64 (multiarch) when missing. The Python/Rust suite ('ffi') is not
# registered in a cross build: the build machine's interpreter cannot load an arm64
# library.
#
# Usage: scripts/test_aarch64.sh [BUILD_DIR [extra meson setup options...]]
#   BUILD_DIR defaults to build-aarch64. Extra arguments go to `meson setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-aarch64}
shift || true

source scripts/deps.sh
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  # deps_install's apt-get update then fetches the arm64 package lists
  deps_as_root scripts/test_aarch64.sh dpkg --add-architecture arm64
fi
deps_install scripts/test_aarch64.sh gcc-aarch64-linux-gnu g++-aarch64-linux-gnu \
  binutils-aarch64-linux-gnu qemu-user meson ninja-build pkgconf python3 libc6:arm64 \
  libcmocka-dev:arm64

CROSS=scripts/cross/aarch64-linux-gnu.ini
if [ -f "$BUILD/build.ninja" ]; then
  meson setup --reconfigure "$BUILD" --cross-file "$CROSS" -Dwerror=true "$@" >/dev/null
else
  meson setup "$BUILD" --cross-file "$CROSS" -Dwerror=true "$@" >/dev/null
fi
ninja -C "$BUILD"
# Emulated code runs slower: each test's timeout is multiplied.
meson test -C "$BUILD" --print-errorlogs --timeout-multiplier 10
