#!/usr/bin/env bash
# The main job (README "Two commands"): install into .venv, then track a real clip and write an
# annotated video + the boxes under runs/quickstart/.
#   - model: $SSTRACK_MODEL if set, else the installed default model (models/), else - until the
#     trained default model ships - a freshly exported network with RANDOM weights, which shows the
#     pipeline (crop, network, decode, lost logic, video out) but does not follow the target.
#   - clip: ../shared/data/sot/eval/Crossing (real frames, first ground-truth box); without
#     ../shared, the synthetic clip of `sstrack-edge demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
OUT=runs/quickstart
mkdir -p "$OUT"
SHARED=${SSTRACK_SHARED:-../shared}

MODEL=${SSTRACK_MODEL:-}
if [ -z "$MODEL" ]; then
  if python -c "import sstrack_edge.backends as b; b.default_model_dir()" 2>/dev/null; then
    MODEL=$(python -c "import sstrack_edge.backends as b; print(b.default_model_dir())")
  else
    echo "No trained default model is installed yet: exporting a RANDOM network for a plumbing run."
    MODEL=$OUT/model_random
    [ -f "$MODEL/model_card.json" ] || sstrack-export --random --out "$MODEL" --name quickstart-random
  fi
fi

SEQ=$SHARED/data/sot/eval/Crossing
if [ -d "$SEQ/img" ]; then
  BOX=$(head -n 1 "$SEQ/groundtruth.txt" | tr -s ' \t' ',,')
  sstrack-edge track "$SEQ/img" --bbox "$BOX" --model "$MODEL" --fps 30 \
      --output "$OUT/annotated.mp4" --results "$OUT/boxes.txt"
else
  sstrack-edge demo --model "$MODEL" --out "$OUT"
fi
echo "wrote $OUT/"
