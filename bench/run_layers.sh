#!/usr/bin/env bash
# bench/run_layers.sh - time tconv alone on the peer harness's layer table.
#
# Usage: bench/run_layers.sh PATH/TO/tconv_peer [extra tconv_peer options]
# Env: PEERS (the harness folder, default ../shared/peers beside the repo),
#      PEERS_WORK (/tmp/tconv-peers: data/ is shared with run_peers.sh), BUDGET (0.25).
# For the comparison with oneDNN, XNNPACK and PyTorch run bench/compare_peers.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PEER=${1:?usage: run_layers.sh PATH/TO/tconv_peer}
shift
PEERS=${PEERS:-$HERE/../../shared/peers}
WORK=${PEERS_WORK:-/tmp/tconv-peers}
SHAPES=${SHAPES:-$PEERS/shapes.tsv}
mkdir -p "$WORK/data"
/usr/bin/python3 "$PEERS/gen_data.py" --shapes "$SHAPES" --data "$WORK/data" >&2
for t in 1 2; do
  for mode in plan oneshot; do
    "$PEER" --shapes "$SHAPES" --data "$WORK/data" --threads "$t" --budget "${BUDGET:-0.25}" \
      --mode "$mode" --name "tconv-$mode" "$@"
  done
done
