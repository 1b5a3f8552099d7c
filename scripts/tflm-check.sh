#!/usr/bin/env bash
# Proof with the real runtime: runs every model in ../shared/models and the
# DMO plan dmo writes into it in TensorFlow Lite Micro's Python interpreter
# (tests/tflm/check_tflm.py). Installs tflite-micro and numpy into .venv/ if
# they are missing. Ends with a line `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

models="${DMO_MODELS:-../shared/models}"
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import numpy, tflite_micro" >/dev/null 2>&1; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/tflm/requirements.txt
fi
cargo build --release -p dmo --quiet
"$venv/bin/python" tests/tflm/check_tflm.py target/release/dmo "$models"
