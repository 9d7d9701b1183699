#!/usr/bin/env bash
# The test command (README "Run the tests"; CI's .ci/run calls exactly this).
# Installs what is missing into .venv, then runs the whole suite, real-data tests included
# (they read ../shared and skip only when it is absent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
python -m pytest "$@"
