# shellcheck shell=bash
# scripts/deps.sh - sourced by the scripts that install what they need on Debian
# (test.sh, test_aarch64.sh, ci_reliability.sh, demo.sh).
#
# deps_installed PKG      true if the package is installed. A name without an
#                         architecture means the machine's own or an `all` package:
#                         once arm64 libraries sit beside the native ones
#                         (scripts/test_aarch64.sh), `dpkg -s libcmocka-dev` is ambiguous
#                         and fails, and libcmocka-dev:arm64 alone must not count.
# deps_install TAG PKG... installs the missing ones with apt-get, as root or through
#                         sudo; TAG names the caller in messages.
# deps_apt_install TAG PKG...  installs these packages (no check) with apt-get.
# deps_as_root TAG CMD... runs CMD as root: directly, or through sudo.

deps_installed() {
    local name=${1%%:*} want=${1#*:}
    [ "$want" = "$1" ] && want=$(dpkg --print-architecture 2>/dev/null || echo none)
    dpkg-query -W -f='${Status} ${Architecture}\n' "$name" 2>/dev/null |
        awk -v w="$want" '$3 == "installed" && ($4 == w || $4 == "all") { f = 1 } END { exit !f }'
}

deps_as_root() {
    local tag=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "$tag: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

deps_install() {
    local tag=$1 p
    shift
    local missing=()
    for p in "$@"; do
        deps_installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] || deps_apt_install "$tag" "${missing[@]}"
}

deps_apt_install() {
    local tag=$1
    shift
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$tag: please install: $* (no apt-get on this system)" >&2
        return 1
    fi
    echo "$tag: installing $*" >&2
    deps_as_root "$tag" apt-get update -qq &&
        deps_as_root "$tag" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
