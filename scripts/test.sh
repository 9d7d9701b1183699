#!/usr/bin/env bash
# The test command (README "Run the tests"; CI's .ci/run calls exactly this).
# Installs what is missing into .venv, then runs the whole suite, real-data tests included
# (they read ../shared and skip only when it is absent).
#
# With no arguments the suite runs as five pytest processes: the emulated-ARM check (tests/arm), on
# the tiny test network (with ORT INT8 variants) and then on the bundled default model;
# the runtime, evaluation, FPS gate (pytest-benchmark JSON autosaved under .benchmarks/ for
# trends) and packaging tests; then the training tests; then the runtime and evaluation tests again in
# a second venv made by a plain `pip install .` (no torch, no extras: what users deploy). In one process the suite crashed the
# interpreter: an OpenVINO bf16 compile followed by the torch training tests (docs/testing.md).
# Arguments are passed to a single pytest run instead (e.g. `bash scripts/test.sh tests/runtime -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
if [ "$#" -gt 0 ]; then
  exec python -m pytest "$@"
fi
python -m pytest tests/arm
SSTRACK_ARM_MODEL="$PWD/models/default" python -m pytest tests/arm   # the shipped model on emulated ARM too
python -m pytest tests --ignore=tests/arm --ignore=tests/training --benchmark-autosave
python -m pytest tests/training
# The deployment target: a plain `pip install .` (no torch, no OpenVINO, no extras) in a fresh venv runs
# the runtime and evaluation tests against the installed wheel (from outside the source tree).
rm -rf .venv-plain
"${PYTHON:-python3}" -m venv .venv-plain
.venv-plain/bin/python -m pip install -q --upgrade pip
.venv-plain/bin/python -m pip install -q . pytest
REPO=$PWD
export SSTRACK_SHARED=${SSTRACK_SHARED:-$(cd "$REPO/.." && pwd)/shared}  # the wheel cannot know where ../shared is
(cd "$(mktemp -d)" && "$REPO/.venv-plain/bin/python" -m pytest "$REPO/tests/runtime" "$REPO/tests/evaluation" \
    --rootdir "$REPO" -p no:cacheprovider)
