#!/usr/bin/env bash
# Build models/default from a checkpoint chosen on the validation clips (docs/vittrack.md,
# benchmarks/RESULTS.md "Default model"):
#   1. export ONNX FP32 + OpenVINO IR + INT8 candidates (ORT dynamic, ORT static QDQ, OpenVINO NNCF,
#      static ones calibrated on training clips), with the tracker settings chosen on the validation
#      clips (SSTRACK_INFERENCE);
#   2. keep an INT8 variant only if it is faster than FP32 and within 1.0 AUC point of it, either
#      way, on the validation clips (TRE-10; TRE-5 could not resolve the 1-point bar: RESULTS.md
#      "Default model v6"); delete the rest (their numbers stay in the card);
#   3. score what Tracker() now picks on the validation clips, TRE-10 (metrics.held_out_tre);
#   4. report it next to the OpenCV peers on the eval sequences, offline and streaming, in one run:
#      Tracker() with OpenVINO installed, on ONNX Runtime alone (a plain `pip install .`), ORT FP32.
#   bash scripts/build_default_model.sh CHECKPOINT [OUT_DIR]     (inside .venv, torch installed)
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${1:?usage: build_default_model.sh CHECKPOINT [OUT_DIR]}
OUT=${2:-models/default}
CONFIG=${SSTRACK_CONFIG:-training/configs/vittrack_finetune.yaml}   # its validation clips decide
INFERENCE=${SSTRACK_INFERENCE:-lost_threshold=0.2 lost_patience=5 reacquire_threshold=0.4 redetect_tiles=8 lost_relative=0.3}
LICENCES="initialisation: OpenCV VitTrack (OpenCV model zoo), Apache-2.0; training data (not shipped): \
OTB-100, VOT2014/2015/2018, VOT-LT2018, VOT-TIR2016, DTB70, UAVDT, UAV123@10fps, UAV20L (public \
benchmarks, research use under their own terms) and ../shared/data/stills (COCO annotations CC BY 4.0 \
with Flickr image licences, aerial_cars CC-BY 3.0 / CC-BY-SA, raccoon MIT); details in NOTICE"
SHARED=$(python -c "from sstrack_edge.paths import shared_root; print(shared_root())")
VIDEOS="$SHARED/data/sot/train_videos"
VAL=$(python -c "from training.train_config import load_config; print(','.join(load_config('$CONFIG').validation.sequences))")
# calibration crops for the static INT8 variants: training clips, none of them a validation clip
CALIB=OTB_Girl2,OTB_Liquor,UAV20L_car9,VOT2014_drunk,DTB70_Animal3,UAV123_10fps_car10,VOT-TIR2016_birds,VOT2018_car1
RUNS="runs/build_$(basename "$OUT")"
rm -rf "$OUT" "$RUNS"   # the gate and the eval resume from result files: never reuse another model's
# shellcheck disable=SC2086  # INFERENCE is a list of key=value words
sstrack-export --checkpoint "$CKPT" --out "$OUT" --name sstrack-edge-default \
    --quantize int8-dynamic,int8-static,openvino-int8 --calib-root "$VIDEOS" --calib-sequences "$CALIB" \
    --threads 1 --inference $INFERENCE --licences "$LICENCES"
python -m training.export.accuracy_gate "$OUT" --data "$VIDEOS" --sequences "$VAL" --starts 10 \
    --out "$RUNS/int8_gate" --threads 1 --update-card --prune
python -m training.export.held_out_tre "$OUT" --data "$VIDEOS" --sequences "$VAL" --starts 10 --update-card
sstrack-edge eval "$SHARED/data/sot/eval" --threads 2 --out "$RUNS/eval" --quiet \
    --trackers "sstrack:$OUT,sstrack:$OUT:onnxruntime,sstrack:$OUT:onnxruntime:fp32,opencv:vit,opencv:nano,opencv:csrt"
python -m training.export.peers_table "$OUT" "$RUNS/eval/summary.json"
