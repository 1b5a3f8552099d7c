#!/usr/bin/env bash
# The main job on the shipped fixtures, for a new user (README): installs what
# is missing, builds dmo and the fixture firmware, traces tiny_cnn on an
# emulated Cortex-M4, prints its per-layer overlap report, and plans the
# arena of a real model (person_detect) against TFLM's own planner.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
make -s -C fixtures
cargo build -q --release -p dmo
dmo=target/release/dmo
out=out/demo
mkdir -p "$out"

echo "== dmo trace: every load and store of tiny_cnn (6 int8 layers) on a Cortex-M4"
"$dmo" trace fixtures/build/cortex-m4/tiny_cnn.elf -o "$out/tiny_cnn.dmotrace" --force -q
echo
echo "== dmo info"
"$dmo" info "$out/tiny_cnn.dmotrace" | sed -n '1,12p'
echo
if "$dmo" report --help >/dev/null 2>&1; then
    echo "== dmo report: how far each layer's output may overlap its input"
    "$dmo" report "$out/tiny_cnn.dmotrace"
    echo
fi
echo "== dmo plan: person_detect's arena, TFLM's greedy planner vs DMO"
"$dmo" plan ../shared/models/person_detect.tflite --kernels reference | tail -13
echo
echo "== dmo plan --kernels all: the same model under each kernel family's loop orders"
"$dmo" plan ../shared/models/person_detect.tflite --kernels all | tail -4
