#!/usr/bin/env python3
"""Issue 14, LSTM overlaps, asked of TFLM itself (reference kernels): may the
output of trained_lstm_int8's UNIDIRECTIONAL_SEQUENCE_LSTM (tensor 23,
1x28x20 int8, 560 B) share bytes with its input (tensor 0, 1x28x28, 784 B)?

Read from TFLM's lstm_eval.h (EvalLstm / LstmStep): per time step t the four
gates read input row t (28 B), then the hidden state is memcpy'd to output
row t (20 B at 20 t). Output row m is first written after input rows 0..m are
last read, so a down offset s = 0 (output at the input's start) has no hazard
(20 m + 19 < 28 x for m < x), while an up offset u needs u >= 784 (output
row 0 is written before input rows 1.. are read). Not yet modelled in dmo-ops
(no walk, no C kernel): this script only asks TFLM.

Each plan is written into the model as OfflineMemoryAllocation and run on 5
random inputs; the model output and the LSTM output tensor must equal the
original's. Expected: output at the
input's offset (s = 0) identical; output 16 B above it (u = 16) different
(the control); output after the input identical.

Usage: lstm_overlap_check.py MODELS_DIR. Exit 1 if an expectation fails.
"""
import os
import struct
import sys

import flatbuffers
import numpy as np
from tflite_micro.python.tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema


def with_plan(raw, offsets=None):
    """The model with the LSTM output (tensor 23) as a second model output, so that it is
    compared itself (the final scores saturate), and the given offline plan, if any."""
    model = schema.ModelT.InitFromPackedBuf(raw, 0)
    model.subgraphs[0].outputs = [int(o) for o in model.subgraphs[0].outputs] + [23]
    if offsets is None:
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())
    values = [1, 1, len(offsets)] + offsets
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(struct.pack(f"<{len(values)}i", *values), np.uint8)
    model.buffers.append(buffer)
    metadata = schema.MetadataT()
    metadata.name = b"OfflineMemoryAllocation"
    metadata.buffer = len(model.buffers) - 1
    model.metadata = (model.metadata or []) + [metadata]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def plan(lstm_output_at):
    """Offsets of all 27 tensors: -1 for constants, variables and empty intermediates."""
    offsets = [-1] * 27
    offsets[0] = 0  # LSTM input, 784 B
    offsets[23] = lstm_output_at  # LSTM output, 560 B
    offsets[24] = 784 if lstm_output_at < 784 else 0  # RESHAPE output (ops 1..2)
    offsets[25] = 1344  # FULLY_CONNECTED output
    offsets[26] = 1360  # SOFTMAX output
    return offsets


def run(model_bytes, inputs):
    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=1 << 20)
    outputs = []
    for data in inputs:
        interpreter.reset()
        interpreter.set_input(data, 0)
        interpreter.invoke()
        outputs.append(np.concatenate([np.array(interpreter.get_output(i)).ravel()
                                       for i in range(2)]))
    return outputs


def main():
    raw = bytearray(open(os.path.join(sys.argv[1], "trained_lstm_int8.tflite"), "rb").read())
    rng = np.random.default_rng(7)
    inputs = [rng.integers(-128, 127, size=(1, 28, 28), endpoint=True, dtype=np.int8)
              for _ in range(5)]
    original = run(with_plan(raw), inputs)
    failed = len({o.tobytes() for o in original}) < 2
    print(f"{len({o.tobytes() for o in original})} distinct outputs on 5 random inputs")
    for at, expected, what in [(0, True, "s = 0: output at the input's offset"),
                               (16, False, "u = 16: output 16 B above the input (control)"),
                               (784, True, "apart: output after the input")]:
        same = all((a == b).all() for a, b in zip(original, run(with_plan(raw, plan(at)), inputs)))
        ok = same == expected
        failed |= not ok
        print(f"{'ok' if ok else 'FAIL':<4} {what}: outputs {'identical' if same else 'differ'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
