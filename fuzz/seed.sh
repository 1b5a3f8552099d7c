#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with the seeds of docs/RELIABILITY.md: the
# shipped traces plus small traces of the fixtures, the fixture ELFs for
# every CPU, and the models in ../shared/models. Needs `make -C fixtures`
# and a release build of dmo (target/release/dmo) for the extra traces.
set -euo pipefail
cd "$(dirname "$0")"
repo=..
mkdir -p corpus/trace_reader corpus/elf_loader corpus/tflite_reader
cp "$repo"/traces/*.dmotrace corpus/trace_reader/
dmo="$repo/target/release/dmo"
if [ -x "$dmo" ]; then
    for name in hello add_int8 conv_int8 softmax_int8 max_pool_int8 reshape_int8; do
        elf="$repo/fixtures/build/cortex-m0/$name.elf"
        [ -f "$elf" ] || continue
        "$dmo" trace "$elf" --cpu cortex-m0 -q --force -o "corpus/trace_reader/$name-m0.dmotrace" >/dev/null 2>&1 || true
    done
fi
for cpu in cortex-m0 cortex-m4 cortex-m7; do
    for elf in "$repo/fixtures/build/$cpu"/*.elf; do
        seed="corpus/elf_loader/$cpu-$(basename "$elf")"
        # Without debug sections (symbols stay): 20-40 KB instead of ~480 KB,
        # so mutations land in the headers, segments and symbols.
        if command -v arm-none-eabi-strip >/dev/null; then
            arm-none-eabi-strip --strip-debug -o "$seed" "$elf"
        else
            cp "$elf" "$seed"
        fi
    done
done
cp "$repo"/../shared/models/*.tflite corpus/tflite_reader/
for target in trace_reader elf_loader tflite_reader; do
    echo "$target: $(ls corpus/$target | wc -l) seeds, $(du -sh corpus/$target | cut -f1)"
done
