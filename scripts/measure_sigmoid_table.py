#!/usr/bin/env python3
"""Recovers the 256-entry sigmoid table that TFLM's int16 TANH and LOGISTIC
(and so its int16-state LSTM) interpolate, from TFLM's own outputs: a
one-operator int16 TANH model (scale 2^-12, so the kernel scales x by 3 and
interpolates table[uh], table[uh + 1] at uh = 3|x| >> 8, fraction 3|x| & 255)
(output scale 2^-15) is run on every int16 value, and for each uh the entry and the step to the
next one are the only pair that reproduces every observed output. The table
is not read from TFLM's source; the entries are checked to chain
(entry[uh] + step[uh] == entry[uh + 1]) and to stay within 2 of
65536 sigmoid(uh / 24).

Usage: measure_sigmoid_table.py [OUT.c]: writes the C definition of
`dmo_sigmoid_table` (or prints it). Exit 1 if the solve is not unique.
"""
import math
import sys

import flatbuffers
import numpy as np
from tflite_micro.python.tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

TANH = 28
INT16 = 7


def tanh_model(count):
    model = schema.ModelT()
    model.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = TANH
    code.deprecatedBuiltinCode = TANH
    code.version = 1
    model.operatorCodes = [code]
    model.buffers = [schema.BufferT()]
    graph = schema.SubGraphT()
    tensors = []
    for name, scale in ((b"x", 2.0**-12), (b"y", 2.0**-15)):
        tensor = schema.TensorT()
        tensor.name = name
        tensor.shape = [1, count]
        tensor.type = INT16
        tensor.buffer = 0
        quantization = schema.QuantizationParametersT()
        quantization.scale = [scale]
        quantization.zeroPoint = [0]
        tensor.quantization = quantization
        tensors.append(tensor)
    graph.tensors = tensors
    graph.inputs = [0]
    graph.outputs = [1]
    op = schema.OperatorT()
    op.opcodeIndex = 0
    op.inputs = [0]
    op.outputs = [1]
    graph.operators = [op]
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def predicted(entry, step, x):
    """What the int16 TANH kernel gives for x with table entries (entry, entry + step)."""
    scaled = 3 * x
    fraction = abs(scaled) & 0xFF
    value = (entry << 8) + fraction * step
    if scaled >= 0:
        value = value - (1 << 23) + (1 << 7)
    else:
        value = -value + (1 << 23) + (1 << 7) - 1
    return value >> 8


def main():
    xs = np.arange(-32768, 32768, dtype=np.int16)
    interpreter = runtime.Interpreter.from_bytes(tanh_model(len(xs)), arena_size=1 << 20)
    interpreter.set_input(xs.reshape(1, -1), 0)
    interpreter.invoke()
    ys = interpreter.get_output(0).reshape(-1).astype(np.int64)
    by_index = {}
    for x, y in zip(xs.astype(np.int64), ys):
        index = (3 * abs(int(x))) >> 8
        if index < 255:
            by_index.setdefault(index, []).append((int(x), int(y)))
    entries, steps = [], []
    for index in range(255):
        curve = 65536 / (1 + math.exp(-index / 24))
        slope = 65536 / (1 + math.exp(-(index + 1) / 24)) - curve
        fits = [
            (entry, step)
            for entry in range(round(curve) - 4, round(curve) + 5)
            for step in range(round(slope) - 6, round(slope) + 7)
            if all(predicted(entry, step, x) == y for x, y in by_index[index])
        ]
        if len(fits) != 1:
            sys.exit(f"table entry {index}: {len(fits)} solutions {fits[:4]}")
        entries.append(fits[0][0])
        steps.append(fits[0][1])
    table = entries + [entries[-1] + steps[-1]]
    for index in range(254):
        if entries[index] + steps[index] != entries[index + 1]:
            sys.exit(f"entries {index} and {index + 1} do not chain")
    for index, value in enumerate(table):
        if abs(value - 65536 / (1 + math.exp(-index / 24))) > 2 or not 0 <= value <= 65535:
            sys.exit(f"entry {index} = {value} is not near 65536 sigmoid({index}/24)")
    lines = [
        "/* sigmoid(i / 24) in 0.16 as TFLM's int16 TANH/LOGISTIC interpolate it, i = 0..255:",
        " * measured from TFLM's outputs by scripts/measure_sigmoid_table.py (do not edit). */",
        "#include <stdint.h>",
        "",
        "const uint16_t dmo_sigmoid_table[256] = {",
    ]
    for start in range(0, 256, 12):
        lines.append("    " + ", ".join(str(v) for v in table[start : start + 12]) + ",")
    lines.append("};")
    text = "\n".join(lines) + "\n"
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
