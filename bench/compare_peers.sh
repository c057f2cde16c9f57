#!/usr/bin/env bash
# bench/compare_peers.sh - the table of docs/PERFORMANCE.md: builds tconv and runs the
# peer harness (PyTorch, oneDNN, XNNPACK) with tconv's plan and one-shot calls as extra
# peers, in the same interleaved rounds.
#
# Usage: bench/compare_peers.sh [BUILD_DIR]   (env knobs of run_peers.sh apply: ROUNDS,
#        BUDGET, THREADS, ONLY, PEERS_WORK, ...; PEERS = the harness folder)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
PEERS=${PEERS:-$PWD/../shared/peers}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dbuildtype=release >/dev/null
ninja -C "$BUILD" bench/tconv_peer >/dev/null
P=$PWD/$BUILD/bench/tconv_peer
"$PEERS/setup.sh"
exec "$PEERS/run_peers.sh" --peer "tconv=$P --name tconv" \
  --peer "tconv-oneshot=$P --name tconv-oneshot --mode oneshot"
