#!/usr/bin/env python3
"""Proof with the real runtime: int8 MEAN firmware from `dmo firmware` computes
what TensorFlow Lite Micro computes.

No shared model uses MEAN, so this script writes small one-operator .tflite
models itself (flatbuffers object API of TFLM's schema_py_generated.py):
several shapes and ranks (1 to 5), axes (negative, duplicated, out of order,
the 4-D height/width pair that older TFLM releases special-cased), keep_dims
on and off, equal and different input/output quantisation, and outputs that
saturate. Each model runs in TFLM's Python interpreter and, as `dmo firmware`
firmware, under `dmo trace --poke dmo_model_input=FILE`, on random inputs plus
the two extreme inputs (all -128, all 127); the output bytes must be identical.

Controls that the comparison can fail: the inputs of a model must not all give
one output; the firmware's output for input k set against TFLM's for input
k+1 must differ; and TFLM running the same model with a wrong output scale
(a wrong requantisation) must disagree with the firmware. A MEAN over three
axes (TFLM resolves at most two) must be refused by `dmo firmware` with an
error naming the case.

Usage: mean_check.py DMO_BINARY
Ends with a line `N passed, N failed`; exits 1 on any failure.
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
from tflite_micro.python.tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

import flatbuffers

RANDOM_INPUTS = 4
ARENA_SIZE = 64 * 1024
# Wrong requantisation for the control: output scale off by this factor.
WRONG_SCALE_FACTOR = 1.07


class Case:
    def __init__(self, name, shape, axes, keep_dims, input_q, output_q):
        self.name = name
        self.shape = shape
        self.axes = axes
        self.keep_dims = keep_dims
        self.input_q = input_q  # (scale, zero point)
        self.output_q = output_q

    def output_shape(self):
        rank = len(self.shape)
        reduced = {a + rank if a < 0 else a for a in self.axes}
        return [1 if d in reduced else n for d, n in enumerate(self.shape)
                if self.keep_dims or d not in reduced]


CASES = [
    # The common one: global average pooling as MEAN, rescaled (float path).
    Case("1x4x5x8 axes [1,2] keep_dims, rescaled", [1, 4, 5, 8], [1, 2], True,
         (0.05, -3), (0.02, 5)),
    # Same quantisation in and out: TFLM's integer path (truncating division).
    Case("1x4x5x8 axes [2,1] keep_dims, same quantisation", [1, 4, 5, 8], [2, 1], True,
         (0.05, -3), (0.05, -3)),
    # The same axes written negatively: TFLM's fast-path test sees [-3, -2], not [1, 2], and
    # takes the general float path.
    Case("1x4x5x8 axes [-3,-2] keep_dims, rescaled", [1, 4, 5, 8], [-3, -2], True,
         (0.05, -3), (0.02, 5)),
    Case("2x3x6 axis [-1], rescaled", [2, 3, 6], [-1], False,
         (0.1, 0), (0.03, -10)),
    # Output scale smaller than the input's: large means saturate at -128 / 127.
    Case("1x6x7x4 axes [1,2], saturating", [1, 6, 7, 4], [1, 2], False,
         (0.2, 10), (0.05, 0)),
    Case("1x16x16x3 axes [1,2] keep_dims, 256 elements per mean", [1, 16, 16, 3], [1, 2], True,
         (0.02, -5), (0.004, 3)),
    Case("50 axis [0], rescaled", [50], [0], False, (0.3, 12), (0.1, -7)),
    Case("4x10 axis [0] keep_dims, same quantisation", [4, 10], [0], True,
         (0.5, 0), (0.5, 0)),
    Case("2x2x3x2x3 axes [3,1], rescaled", [2, 2, 3, 2, 3], [3, 1], False,
         (0.0123, 7), (0.0071, -2)),
    # Duplicated and negative axes resolve to {3, 0}.
    Case("3x2x2x5 axes [3,-1,0], rescaled", [3, 2, 2, 5], [3, -1, 0], True,
         (0.04, -128), (0.03, -128)),
]

REFUSED = Case("1x2x3x4 axes [1,2,3]", [1, 2, 3, 4], [1, 2, 3], True, (0.05, 0), (0.05, 0))


def build_model(case, output_q=None):
    """A one-operator model: input (int8) -> MEAN(axis constant) -> output (int8)."""
    output_q = output_q or case.output_q

    def quantisation(q):
        params = schema.QuantizationParametersT()
        params.scale, params.zeroPoint = [float(q[0])], [int(q[1])]
        return params

    def tensor(name, shape, element_type, buffer, q=None):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), element_type, buffer
        t.quantization = quantisation(q) if q else None
        return t

    axis_buffer = schema.BufferT()
    axis_buffer.data = list(np.array(case.axes, dtype="<i4").tobytes())
    graph = schema.SubGraphT()
    graph.tensors = [
        tensor("input", case.shape, schema.TensorType.INT8, 1, case.input_q),
        tensor("axis", [len(case.axes)], schema.TensorType.INT32, 2),
        tensor("output", case.output_shape(), schema.TensorType.INT8, 3, output_q),
    ]
    graph.inputs, graph.outputs = [0], [2]
    operator = schema.OperatorT()
    operator.opcodeIndex, operator.inputs, operator.outputs = 0, [0, 1], [2]
    operator.builtinOptionsType = schema.BuiltinOptions.ReducerOptions
    operator.builtinOptions = schema.ReducerOptionsT()
    operator.builtinOptions.keepDims = case.keep_dims
    graph.operators = [operator]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.MEAN
    code.version = 1
    model = schema.ModelT()
    model.version = 3
    model.operatorCodes = [code]
    model.subgraphs = [graph]
    model.description = "dmo mean_check"
    model.buffers = [schema.BufferT(), schema.BufferT(), axis_buffer, schema.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def run_tflm(model_bytes, inputs):
    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=ARENA_SIZE)
    outputs = []
    for data in inputs:
        interpreter.set_input(data, 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)).astype(np.int8).tobytes())
    return outputs


def firmware_output(text):
    """The one output tensor the firmware printed: `output N bytes`, hex lines, `crc32 X`."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("output ") and line.endswith(" bytes"):
            length = int(line.split()[1])
            hex_text = ""
            for following in lines[index + 1:]:
                if following.startswith("crc32"):
                    break
                hex_text += following.strip()
            data = bytes.fromhex(hex_text)
            if len(data) != length:
                raise RuntimeError(f"firmware printed {len(data)} bytes, announced {length}")
            return data
    raise RuntimeError(f"no output in the firmware's text: {text[-300:]!r}")


def run_firmware(dmo, elf, data, workdir):
    input_file = os.path.join(workdir, "input.bin")
    with open(input_file, "wb") as f:
        f.write(data.tobytes())
    trace = os.path.join(workdir, "run.dmotrace")
    result = subprocess.run(
        [dmo, "trace", elf, "-o", trace, "--force", "--poke", f"dmo_model_input={input_file}"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"dmo trace exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return firmware_output(result.stdout)


def build_firmware(dmo, model_bytes, workdir, stem):
    path = os.path.join(workdir, f"{stem}.tflite")
    with open(path, "wb") as f:
        f.write(model_bytes)
    elf = os.path.join(workdir, f"{stem}.elf")
    built = subprocess.run([dmo, "firmware", path, "-o", elf], capture_output=True, text=True)
    return elf, built


def check_case(dmo, number, case, workdir):
    """Returns (ok, message)."""
    model_bytes = build_model(case)
    elf, built = build_firmware(dmo, model_bytes, workdir, f"mean{number}")
    if built.returncode != 0:
        return False, f"dmo firmware: {built.stderr.strip()[-500:]}"
    rng = np.random.default_rng(1000 + number)
    inputs = [np.full(case.shape, -128, np.int8), np.full(case.shape, 127, np.int8)]
    inputs += [rng.integers(-128, 127, size=case.shape, endpoint=True, dtype=np.int8)
               for _ in range(RANDOM_INPUTS)]
    expected = run_tflm(model_bytes, inputs)
    actual = [run_firmware(dmo, elf, data, workdir) for data in inputs]
    problems = []
    for step, (a, e) in enumerate(zip(actual, expected)):
        if a != e:
            if len(a) != len(e):
                problems.append(f"input {step}: {len(a)} output bytes, TFLM {len(e)}")
                continue
            first = next(i for i in range(len(a)) if a[i] != e[i])
            signed = lambda byte: byte - 256 if byte > 127 else byte
            problems.append(f"input {step}: byte {first} is {signed(a[first])}, "
                            f"TFLM's {signed(e[first])}")
    if len(set(actual)) == 1:
        problems.append("every input gave the same output: the comparison cannot fail")
    if all(actual[k] == expected[k + 1] for k in range(len(actual) - 1)):
        problems.append("control: outputs matched TFLM's for a different input")
    wrong_q = (case.output_q[0] * WRONG_SCALE_FACTOR, case.output_q[1])
    wrong = run_tflm(build_model(case, wrong_q), inputs)
    if wrong == actual:
        problems.append("control: TFLM with a wrong output scale agreed with the firmware")
    if problems:
        return False, "; ".join(problems)
    return True, (f"{len(expected[0])} output bytes identical to TFLM's on {len(inputs)} inputs; "
                  "controls differ")


def check_refused(dmo, workdir):
    """More than two reduced axes: TFLM's MEAN cannot (kMaxNumberOfReducedAxis = 2)."""
    _, built = build_firmware(dmo, build_model(REFUSED), workdir, "mean_refused")
    message = built.stderr.strip().splitlines()[-1] if built.stderr.strip() else ""
    if built.returncode == 0:
        return False, "dmo firmware accepted a MEAN over three axes"
    if "MEAN" not in message or "at most 2" not in message:
        return False, f"unclear error: {message!r}"
    return True, f"refused: {message}"


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    dmo = sys.argv[1]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as workdir:
        checks = [(case.name, lambda c=case, n=n: check_case(dmo, n, c, workdir))
                  for n, case in enumerate(CASES)]
        checks.append((REFUSED.name, lambda: check_refused(dmo, workdir)))
        for name, check in checks:
            try:
                ok, message = check()
            except Exception as error:  # a crash fails that case, not the run
                ok, message = False, f"{type(error).__name__}: {error}"
            passed += ok
            failed += not ok
            print(f"{'ok' if ok else 'fail':<4} MEAN {name}: {message}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
