#!/usr/bin/env bash
# The main job (README "Two commands"): install the runtime with OpenVINO (no torch) into .venv,
# then track a real clip and write an annotated video + the boxes under runs/quickstart/.
#   - model: $SSTRACK_MODEL if set, else the bundled default model (models/default).
#   - clip: ../shared/data/sot/eval/$SEQ (real frames, first ground-truth box); without ../shared,
#     the synthetic clip of `sstrack-edge demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[openvino]"   # editable, like scripts/setup_env.sh: the two share .venv
OUT=runs/quickstart
mkdir -p "$OUT"
SHARED=$(python -c "from sstrack_edge.paths import shared_root; print(shared_root())")

MODEL=${SSTRACK_MODEL:-$(python -c "import sstrack_edge.backends as b; print(b.default_model_dir())")}
echo "model: $MODEL"

SEQ=$SHARED/data/sot/eval/${SSTRACK_QUICKSTART_SEQ:-S1301}
if [ -d "$SEQ/img" ]; then
  BOX=$(head -n 1 "$SEQ/groundtruth.txt" | tr -s ' \t' ',,')
  sstrack-edge track "$SEQ/img" --bbox "$BOX" --model "$MODEL" --fps 30 \
      --output "$OUT/annotated.mp4" --results "$OUT/boxes.txt"
  python - "$OUT/boxes.txt" "$SEQ/groundtruth.txt" <<'PY'
import sys
from sstrack_edge.evaluation.annotations import read_boxes
from sstrack_edge.evaluation.metrics import score_sequence
s = score_sequence(read_boxes(sys.argv[1]), read_boxes(sys.argv[2]))
print(f"against the ground truth: success AUC {100 * s.auc:.1f}, precision@20px {100 * s.precision20:.1f}")
PY
else
  sstrack-edge demo --model "$MODEL" --out "$OUT"
fi
echo "wrote $OUT/"
