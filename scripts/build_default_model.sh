#!/usr/bin/env bash
# Rebuild models/default from a training checkpoint of training/configs/default_cpu.yaml
# (how the bundled model was made; README "The bundled default model", benchmarks/RESULTS.md):
#   1. export ONNX FP32 + OpenVINO IR + INT8 candidates (ORT dynamic, ORT static QDQ, NNCF), each
#      compared with FP32 on 32 held-out real crop pairs for speed;
#   2. choose inference.lost_threshold on the train-split clips held out of training (validation),
#      then score the model on them (TRE-10 through the runtime: metrics.held_out_tre);
#   3. keep an INT8 variant only if it is faster and within 1.0 AUC point of FP32 on the eval
#      sequences; delete the rest (their numbers stay in the card);
#   4. evaluate it next to the OpenCV peers, offline and streaming, and record that in the card.
#   bash scripts/build_default_model.sh CHECKPOINT[,CHECKPOINT...] [OUT_DIR]   (inside .venv, torch installed)
#   (a comma list of checkpoints of one config builds a seed ensemble: docs/training.md)
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${1:?usage: build_default_model.sh CHECKPOINT[,CHECKPOINT...] [OUT_DIR]}
IFS=, read -ra CKPTS <<< "$CKPT"
OUT=${2:-models/default}
SHARED=${SSTRACK_SHARED:-../shared}
GATE_RUNS="runs/accuracy_gate_$(basename "$OUT")"
rm -rf "$OUT" "$GATE_RUNS"  # the gate resumes from result files: never reuse another model's
# size_update_rate 0.3, lost_patience 10: chosen on the held-out validation clips (docs/runtime.md)
sstrack-export --checkpoint "${CKPTS[@]}" --out "$OUT" --name sstrack-edge-default-cpu \
    --quantize int8-dynamic,int8-static,openvino-int8 --calib-root "$SHARED/data/sot/train_videos" --threads 1 \
    --inference size_update_rate=0.3 lost_patience=10
python -m training.export.calibrate_lost "$OUT" --data "$SHARED/data/sot/train_videos" --held-out --update-card
# the number a replacement must beat: Tracker() on the held-out clips, TRE with 10 start frames each
python -m training.export.held_out_tre "$OUT" --data "$SHARED/data/sot/train_videos" --starts 10 --update-card
python -m training.export.accuracy_gate "$OUT" --data "$SHARED/data/sot/eval" --out "$GATE_RUNS" \
    --threads 1 --update-card --prune
# 4. the table against the OpenCV peers, offline and streaming, on the same machine in one run
#    (benchmarks/RESULTS.md); the default selection's and the peers' rows go into the card
EVAL_RUNS="runs/eval_$(basename "$OUT")"
rm -rf "$EVAL_RUNS"
sstrack-edge eval "$SHARED/data/sot/eval" --format sot --threads 2 --out "$EVAL_RUNS" --quiet \
    --trackers "sstrack:$OUT,sstrack:$OUT:onnxruntime:fp32,opencv:nano,opencv:csrt,opencv:kcf"
python -m training.export.peers_table "$OUT" "$EVAL_RUNS/summary.json"
