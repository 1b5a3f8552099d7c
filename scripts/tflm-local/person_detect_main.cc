// person_detect on TFLM's reference kernels, for trying dmo on a real TFLM firmware without
// markers (scripts/tflm-local/build.sh; local only). dmo's own code, using TFLM's public API.
#include <stdio.h>
#include <string.h>
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

extern "C" const unsigned char person_detect_tflite[];
namespace {
constexpr int kArenaSize = 136 * 1024;
alignas(16) uint8_t tensor_arena[kArenaSize];
}

int main() {
    const tflite::Model *model = tflite::GetModel(person_detect_tflite);
    tflite::MicroMutableOpResolver<5> resolver;
    resolver.AddAveragePool2D();
    resolver.AddConv2D();
    resolver.AddDepthwiseConv2D();
    resolver.AddReshape();
    resolver.AddSoftmax();
    tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, kArenaSize);
    if (interpreter.AllocateTensors() != kTfLiteOk) {
        printf("AllocateTensors failed\n");
        return 1;
    }
    TfLiteTensor *input = interpreter.input(0);
    for (size_t i = 0; i < input->bytes; ++i) {
        input->data.int8[i] = static_cast<int8_t>((i * 37u) % 256u - 128);
    }
    if (interpreter.Invoke() != kTfLiteOk) {
        printf("Invoke failed\n");
        return 2;
    }
    TfLiteTensor *output = interpreter.output(0);
    printf("scores %d %d, arena used %u\n", output->data.int8[0], output->data.int8[1],
           static_cast<unsigned>(interpreter.arena_used_bytes()));
    return 0;
}
