#!/bin/sh
# Builds person_detect on TensorFlow Lite Micro's reference kernels for an
# emulated Cortex-M4F, from checkouts you provide, to try `dmo` on a real
# TFLM firmware without markers (issue 10). Local only: it is not part of
# the test suite or CI, and the repository holds none of TFLM's code.
#   TFLM=~/src/tflite-micro FLATBUFFERS=~/src/flatbuffers (tag v25.9.23) \
#   GEMMLOWP=~/src/gemmlowp RUY=~/src/ruy scripts/tflm-local/build.sh OUT_DIR
# then: dmo trace OUT_DIR/person_detect_tflm.elf   (the runtime is detected)
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out/obj"
make -s -C "$here/fixtures" build/obj/cortex-m4/startup.o
CPU="-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
FLAGS="$CPU -O2 -g -std=c++17 -fno-rtti -fno-exceptions -fno-threadsafe-statics \
  -fno-unwind-tables -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections \
  -DTF_LITE_STATIC_MEMORY -DTF_LITE_DISABLE_X86_NEON -DKERNELS_OPTIMIZED_FOR_SPEED \
  -I$TFLM -I$FLATBUFFERS/include -I$GEMMLOWP -I$RUY"
# TFLM's library sources minus tests and the kernels person_detect does not use.
sources=$(cd "$TFLM" && ls tensorflow/lite/micro/*.cc tensorflow/lite/micro/kernels/*.cc \
  tensorflow/lite/micro/memory_planner/*.cc tensorflow/lite/micro/arena_allocator/*.cc \
  tensorflow/lite/micro/tflite_bridge/*.cc tensorflow/lite/core/c/*.cc \
  tensorflow/lite/core/api/*.cc tensorflow/lite/kernels/*.cc \
  tensorflow/lite/kernels/internal/*.cc tensorflow/lite/kernels/internal/reference/*.cc \
  tensorflow/compiler/mlir/lite/core/api/*.cc tensorflow/compiler/mlir/lite/schema/*.cc \
  tensorflow/lite/schema/*.cc 2>/dev/null \
  | grep -v 'kernels/\(p[a-n]\|prelu\|quantize\|read_\|reduce\|resize\|round\|select\|shape\|slice\|space\|split\|squ\|stri\|sub\|svdf\|tanh\|transpose\|unidir\|unpack\|var_\|while\|zeros\|sq\|rsqrt\)' \
  | grep -v '_test\.cc\|test_helper\|benchmark\|fake_micro_context\|mock_micro_graph\|kernel_runner\|recording_\|micro_profiler\|_generated_data')
for source in $sources; do
  object="$out/obj/$(echo "$source" | tr / _).o"
  [ -f "$object" ] || arm-none-eabi-g++ $FLAGS -c "$TFLM/$source" -o "$object"
done
rm -f "$out/libtflm.a"
arm-none-eabi-ar rcs "$out/libtflm.a" "$out"/obj/*.o
{ echo '#include <stdint.h>'
  echo 'extern "C" alignas(16) const unsigned char person_detect_tflite[] = {'
  xxd -i < "$here/../shared/models/person_detect.tflite"
  echo '};'; } > "$out/model_data.cc"
arm-none-eabi-g++ $FLAGS -c "$here/scripts/tflm-local/person_detect_main.cc" -o "$out/main.o"
arm-none-eabi-g++ $FLAGS -c "$out/model_data.cc" -o "$out/model_data.o"
arm-none-eabi-g++ $CPU -T "$here/fixtures/cortex-m.ld" -nostartfiles --specs=rdimon.specs \
  -Wl,--gc-sections "$here/fixtures/build/obj/cortex-m4/startup.o" "$out/main.o" \
  "$out/model_data.o" "$out/libtflm.a" -lm -o "$out/person_detect_tflm.elf"
echo "built $out/person_detect_tflm.elf"
