#!/usr/bin/env bash
# Create/refresh the project virtualenv (.venv) with everything: runtime, training, OpenVINO, eval, dev;
# then the loopback RTSP server of the live-input tests (setup_rtsp_server.sh: Debian packages, outside .venv).
# torch==2.13.0 (CPU build) is installed first: the [train] extra's range is satisfied by it, so pip
# never pulls a multi-GB CUDA build. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[train,openvino,eval,dev]"
bash scripts/setup_rtsp_server.sh
