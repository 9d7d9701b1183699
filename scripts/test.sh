#!/usr/bin/env bash
# The test command (README "Run the tests"; CI's .ci/run calls exactly this).
# Installs what is missing into .venv, then runs the whole suite, real-data tests included
# (they read ../shared and skip only when it is absent).
#
# With no arguments the suite runs as two pytest processes: the emulated-ARM check (tests/arm),
# then everything else (with the FPS gate's pytest-benchmark JSON autosaved under .benchmarks/
# for trends). Sharing one process, the ARM fixtures and the training tests crashed the
# interpreter (SIGSEGV inside CPython, reproducible only in that combination; docs/testing.md).
# Arguments are passed to a single pytest run instead (e.g. `bash scripts/test.sh tests/runtime -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
if [ "$#" -gt 0 ]; then
  exec python -m pytest "$@"
fi
python -m pytest tests/arm
python -m pytest --ignore=tests/arm --benchmark-autosave
