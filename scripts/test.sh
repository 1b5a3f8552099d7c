#!/usr/bin/env bash
# The one command that builds and tests everything (README; .ci/run calls it).
# Installs what is missing (Debian packages, the Python venv for the TFLM
# checks), builds the fixtures, then runs every suite even if one fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
make -s -C fixtures
cargo build --workspace --release

status=0
# Formatting and lints (the workspace's [workspace.lints], warnings as errors).
cargo fmt --all --check || status=1
cargo clippy --workspace --all-targets --release -- -D warnings || status=1
# No two files of a crate import each other (issue 13).
python3 scripts/check-import-cycles.py || status=1
# Rust unit, property and end-to-end tests (fixtures under emulation).
cargo test --workspace --release --no-fail-fast || status=1
# The C kernels against an independent Python model of TFLM's arithmetic.
make -s -C fixtures check || status=1
# Plans dmo writes, run in TensorFlow Lite Micro itself (sets up .venv/).
scripts/tflm-check.sh || status=1
# Real models turned into Cortex-M firmware by dmo, against TFLM's outputs.
.venv/bin/python tests/tflm/firmware_check.py target/release/dmo ../shared/models || status=1
# The same models in firmware of CMSIS-NN-order kernels (every model whose ops it can run).
.venv/bin/python tests/tflm/firmware_check.py target/release/dmo ../shared/models --kernels cmsis-nn || status=1
# Plans run in firmware of CMSIS-NN's loop orders, every op against TFLM's (issue 11).
.venv/bin/python tests/tflm/cmsis_plan_check.py target/release/dmo ../shared/models || status=1
# LSTM input/output sharing bytes, asked of TFLM itself (issue 14).
.venv/bin/python tests/tflm/lstm_overlap_check.py ../shared/models || status=1
# The DMO plan of the LSTM model (output over its input) in TFLM and in dmo's firmware.
.venv/bin/python tests/tflm/lstm_plan_check.py target/release/dmo ../shared/models || status=1
# int8 MEAN firmware (small generated models) against TFLM's outputs.
.venv/bin/python tests/tflm/mean_check.py target/release/dmo || status=1
# Issue 14 kinds (MUL, ...) in firmware of small generated models, output and every op's
# output against TFLM's, with controls.
.venv/bin/python tests/tflm/op_check.py target/release/dmo || status=1
# MUL, ADD, depthwise convs and FULLY_CONNECTED in firmware of CMSIS-NN-order kernels
# (arm_elementwise_mul_s8 / _add_s8, arm_depthwise_conv_s8_opt / _3x3_s8,
# arm_fully_connected_s8 and the 1x1-conv path), the same way.
.venv/bin/python tests/tflm/op_check.py target/release/dmo --kernels cmsis-nn MUL ADD DEPTHWISE_CONV_2D \
    FULLY_CONNECTED || status=1
exit $status
