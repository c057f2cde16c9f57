#!/usr/bin/env bash
# scripts/ci_reliability.sh - the reliability CI job (see docs/RELIABILITY.md):
#   (a) valgrind memcheck over the test programs of a normal build: no error, no leak;
#   (b) a ThreadSanitizer build running the concurrency, allocation-failure and
#       algorithm suites;
#   (c) a bounded libFuzzer run (ASan + UBSan) from the seed corpus;
#   (d) the figures: fuzz executions and coverage, allocation-failure points,
#       valgrind and TSan results, and the known-bug reproducers of fuzz/regressions.
# Every part runs even if an earlier one failed; the exit status is 1 if any failed.
#
# Installs clang, libclang-rt-14-dev (libFuzzer and sanitizer runtimes) and valgrind
# with apt-get when missing (as root, or through sudo). About 10 minutes on 2 cores.
#
# Environment: TCONV_FUZZ_SECONDS (default 120), TCONV_CI_JOBS (default: nproc).
#
# SPDX-License-Identifier: MIT
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${TCONV_FUZZ_SECONDS:-120}
JOBS=${TCONV_CI_JOBS:-$(nproc)}
T0=$(date +%s)
FAILED=()
declare -A SECS RESULT

# --- dependencies (Debian 12 package names) ---------------------------------------
PKGS=(gcc clang libclang-rt-14-dev valgrind meson ninja-build pkg-config libcmocka-dev
      python3)
source scripts/deps.sh
deps_install ci_reliability "${PKGS[@]}"

# Configures a build directory, or reconfigures it when it exists.
setup() {
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

part() { # name, start time, status
  SECS[$1]=$(( $(date +%s) - $2 ))
  RESULT[$1]=$3
  [ "$3" = ok ] || FAILED+=("$1")
  echo "=== $1: $3 in ${SECS[$1]} s"
}

# --- (a) valgrind memcheck ---------------------------------------------------------
# Every test program of a normal build except: the Python/PyTorch/Rust suite 'ffi' and
# the 'exported_symbols' check (Python interpreters under memcheck take far too long
# and their own allocations are not ours), and fuzz_regressions (known-bug reproducers,
# run in part (d)). Case counts are lowered where a test supports it.
echo "=== (a) valgrind memcheck"
t=$(date +%s)
VG=build-rel
status=ok
setup "$VG" -Dwerror=true -Dbuildtype=debugoptimized -Dexamples=true || status=failed
[ $status = ok ] && { ninja -C "$VG" -j "$JOBS" >/dev/null || status=failed; }
if [ $status = ok ]; then
  mapfile -t VG_TESTS < <(meson introspect "$VG" --tests | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    suites = " ".join(t["suite"])
    if "ffi" in suites or t["name"] in ("exported_symbols", "fuzz_regressions"):
        continue
    print(t["name"])')
  VGOPTS="valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible --track-origins=no --quiet"
  TCONV_TEST_CASES=6 TCONV_TEST_ITERS=3 \
    meson test -C "$VG" --no-rebuild --wrap="$VGOPTS" --print-errorlogs \
      --timeout-multiplier 4 "${VG_TESTS[@]}" > "$VG/valgrind-summary.txt" 2>&1 || status=failed
  tail -n 12 "$VG/valgrind-summary.txt"
  VG_RUN=$(grep -cE '^ *[0-9]+/[0-9]+ ' "$VG/valgrind-summary.txt")
  VG_OK=$(grep -E '^Ok: ' "$VG/valgrind-summary.txt" | awk '{print $2}')
  VG_LOG=$VG/meson-logs/testlog-valgrind.txt # meson names the log after the wrapper
  VG_ERRORS=$(grep -cE '==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched)' \
    "$VG_LOG" || true)
  VG_LEAKS=$(grep -cE '==[0-9]+== +(definitely|indirectly|possibly) lost: [1-9]' "$VG_LOG" || true)
  ALLOC_POINTS=$(grep -oE 'allocation-failure points: [0-9]+' "$VG_LOG" | tail -1 | awk '{print $3}')
  VG_ALGOS=$(grep -E 'tconv:algos / algos' "$VG/valgrind-summary.txt" | grep -oE '[0-9.]+s' | tail -1)
fi
part valgrind "$t" $status

# --- (b) ThreadSanitizer -------------------------------------------------------------
echo "=== (b) ThreadSanitizer"
t=$(date +%s)
TS=build-rel-tsan
status=ok
CC=clang setup "$TS" -Dwerror=true -Dbuildtype=debugoptimized -Db_sanitize=thread \
  -Db_lundef=false -Dexamples=false || status=failed
if [ $status = ok ]; then
  ninja -C "$TS" -j "$JOBS" tests/reliability/test_concurrency tests/reliability/test_alloc_fail \
    tests/algos/test_algos >/dev/null || status=failed
fi
if [ $status = ok ]; then
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" TCONV_TEST_CASES=25 \
    meson test -C "$TS" --no-rebuild --print-errorlogs concurrency alloc_fail algos \
      > "$TS/tsan-summary.txt" 2>&1 || status=failed
  tail -n 8 "$TS/tsan-summary.txt"
  TSAN_REPORTS=$(grep -c 'WARNING: ThreadSanitizer' "$TS/meson-logs/testlog.txt" || true)
  TSAN_CHECKS=$(grep -oE '[0-9]+ concurrent checks' "$TS/meson-logs/testlog.txt" | tail -1 |
    awk '{print $1}')
fi
part tsan "$t" $status

# --- (c) libFuzzer ---------------------------------------------------------------------
# The library itself is built with ASan + UBSan and edge-coverage instrumentation (no
# comparison tracing: it costs 3x in the kernels' inner loops). libFuzzer runs in fork
# mode and goes on after a finding, so the whole budget is spent and every distinct
# finding of the run is listed; any finding fails the part.
echo "=== (c) libFuzzer, ${FUZZ_SECONDS} s"
t=$(date +%s)
FZ=build-rel-fuzz
status=ok
CC=clang setup "$FZ" -Dwerror=true -Dbuildtype=debugoptimized -Dfuzz=enabled \
  -Db_sanitize=address,undefined -Db_lundef=false -Dtests=false -Dexamples=false \
  "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-coverage=trace-cmp -fno-sanitize-recover=undefined" \
  || status=failed
[ $status = ok ] && { ninja -C "$FZ" -j "$JOBS" fuzz/fuzz_convtranspose2d fuzz/fuzz_replay \
  >/dev/null || status=failed; }
FUZZ_LOG=$FZ/fuzz.log
FUZZ_FINDINGS=0
if [ $status = ok ]; then
  WORK=$(mktemp -d)
  ART=$FZ/fuzz-artifacts
  rm -rf "$ART"
  mkdir -p "$ART"
  tf=$(date +%s)
  # allocator_may_return_null: a refused huge allocation must reach tconv as NULL
  # (OUT_OF_MEMORY), as it would with the C library, instead of aborting.
  ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$FZ/fuzz/fuzz_convtranspose2d" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
      -ignore_ooms=1 -max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2560 \
      -artifact_prefix="$ART/" "$WORK" fuzz/corpus > "$FUZZ_LOG" 2>&1 || status=failed
  FUZZ_TIME=$(( $(date +%s) - tf ))
  FUZZ_LAST=$(grep -E '^#[0-9]+' "$FUZZ_LOG" | tail -1)
  FUZZ_EXECS=$(echo "$FUZZ_LAST" | grep -oE '^#[0-9]+' | tr -d '#')
  FUZZ_COV=$(echo "$FUZZ_LAST" | grep -oE 'cov: [0-9]+' | awk '{print $2}')
  FUZZ_FT=$(echo "$FUZZ_LAST" | grep -oE 'ft: [0-9]+' | awk '{print $2}')
  FUZZ_CORP=$(echo "$FUZZ_LAST" | grep -oE 'corp: [0-9]+' | awk '{print $2}')
  # fork mode's "cov" counts differently: load the final corpus once, unforked, for the
  # usual figure (edges covered, features)
  ASAN_OPTIONS=allocator_may_return_null=1 "$FZ/fuzz/fuzz_convtranspose2d" -runs=0 \
    -timeout=25 -rss_limit_mb=2560 "$WORK" > "$FZ/fuzz-corpus.log" 2>&1 || true
  FUZZ_INITED=$(grep -E 'INITED' "$FZ/fuzz-corpus.log" | tail -1)
  FUZZ_EDGES=$(echo "$FUZZ_INITED" | grep -oE 'cov: [0-9]+' | awk '{print $2}')
  FUZZ_EDGE_FT=$(echo "$FUZZ_INITED" | grep -oE 'ft: [0-9]+' | awk '{print $2}')
  FUZZ_FINDINGS=$(find "$ART" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \
    -o -name 'leak-*' \) | wc -l)
  [ "$FUZZ_FINDINGS" -eq 0 ] || status=failed
  if [ "$FUZZ_FINDINGS" -gt 0 ]; then
    echo "$FUZZ_FINDINGS finding(s) in $ART; distinct messages (numbers elided):"
    grep -hE 'runtime error:|tconv fuzz check failed|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' \
      "$FUZZ_LOG" | sed -E 's/0x[0-9a-f]+//g; s/[0-9]{4,}/N/g' | cut -c1-160 | sort | uniq -c |
      sort -rn | head -20
  fi
  rm -rf "$WORK"
fi
part fuzz "$t" $status

# --- (d) known-bug reproducers and the figures ----------------------------------------
echo "=== (d) fuzz/regressions (known library bugs; each must pass once fixed)"
t=$(date +%s)
status=ok
REG_TOTAL=$(find fuzz/regressions -type f | wc -l)
REG_FAIL=0
if [ "$REG_TOTAL" -gt 0 ] && [ -x "$FZ/fuzz/fuzz_replay" ]; then
  ASAN_OPTIONS=allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1 \
    "$FZ/fuzz/fuzz_replay" -t 10 -f fuzz/regressions > "$FZ/regressions.log" 2>&1 || status=failed
  REG_FAIL=$(grep -c 'fuzz_replay: FAILED' "$FZ/regressions.log" || true)
  grep -E 'fuzz_replay: FAILED' "$FZ/regressions.log" | sed 's/^/  /'
fi
part regressions "$t" $status

cat <<EOF

=== reliability figures ($(date -u +%Y-%m-%d), $(uname -m), $(nproc) cores)
fuzzing:            ${FUZZ_EXECS:-?} executions in ${FUZZ_TIME:-?} s (libFuzzer -fork=1: cov ${FUZZ_COV:-?}, ft ${FUZZ_FT:-?}),
                    final corpus ${FUZZ_CORP:-?} inputs covering cov: ${FUZZ_EDGES:-?} edges, ft: ${FUZZ_EDGE_FT:-?};
                    ${FUZZ_FINDINGS} finding(s) -> ${RESULT[fuzz]}
allocation failure: ${ALLOC_POINTS:-?} injected failure points (tests/reliability/test_alloc_fail)
valgrind memcheck:  ${VG_OK:-?} of ${VG_RUN:-?} test programs passed; ${VG_ERRORS:-?} error reports, ${VG_LEAKS:-?} leak reports -> ${RESULT[valgrind]}
ThreadSanitizer:    ${TSAN_REPORTS:-?} reports; ${TSAN_CHECKS:-?} concurrent checks in test_concurrency -> ${RESULT[tsan]}
known-bug inputs:   ${REG_FAIL} of ${REG_TOTAL} in fuzz/regressions still failing -> ${RESULT[regressions]}
times (s):          valgrind ${SECS[valgrind]} (algos suite ${VG_ALGOS:-?}), tsan ${SECS[tsan]}, fuzz ${SECS[fuzz]}, regressions ${SECS[regressions]}, total $(( $(date +%s) - T0 ))
EOF
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "ci_reliability: FAILED: ${FAILED[*]}"
  exit 1
fi
echo "ci_reliability: all parts passed"
