#!/usr/bin/env bash
# Rebuild models/default from a training checkpoint of training/configs/default_cpu.yaml
# (how the bundled model was made; README "The bundled default model", benchmarks/RESULTS.md):
#   1. export ONNX FP32 + OpenVINO IR + INT8 candidates (ORT dynamic, ORT static QDQ, NNCF), each
#      compared with FP32 on 32 held-out real crop pairs for speed;
#   2. choose inference.lost_threshold on the *train* sequences;
#   3. keep an INT8 variant only if it is faster and within 1.0 AUC point of FP32 on the eval
#      sequences; delete the rest (their numbers stay in the card).
#   bash scripts/build_default_model.sh CHECKPOINT [OUT_DIR]      (inside .venv, torch installed)
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${1:?usage: build_default_model.sh CHECKPOINT [OUT_DIR]}
OUT=${2:-models/default}
SHARED=${SSTRACK_SHARED:-../shared}
GATE_RUNS="runs/accuracy_gate_$(basename "$OUT")"
rm -rf "$OUT" "$GATE_RUNS"  # the gate resumes from result files: never reuse another model's
sstrack-export --checkpoint "$CKPT" --out "$OUT" --name sstrack-edge-default-cpu \
    --quantize int8-dynamic,int8-static,openvino-int8 --calib-root "$SHARED/data/sot/train" --threads 1
python -m training.export.calibrate_lost "$OUT" --data "$SHARED/data/sot/train" --update-card
python -m training.export.accuracy_gate "$OUT" --data "$SHARED/data/sot/eval" --out "$GATE_RUNS" \
    --threads 1 --update-card --prune
