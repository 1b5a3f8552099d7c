#!/usr/bin/env python3
"""Every operator's output, not only the model's: for a model whose final
outputs saturate (keyword_scrambled gives the same scores for every random
input), compare each intermediate tensor of the generated firmware with
TFLM's.

The model is rewritten so that every operator output is also a model output
(the graph's computation is unchanged; only lifetimes grow), `dmo firmware`
builds it (the firmware prints every model output), and TFLM's Python
interpreter runs the same rewritten model on the same random inputs. Each
output must be identical (SOFTMAX outputs: at most 1 LSB apart); as a
control, the firmware's tensors for input k set against TFLM's for input k+1
must differ.

Usage: intermediates_check.py DMO_BINARY MODEL... ; prints `N passed, N failed`.
"""

import os
import subprocess
import sys
import tempfile

import flatbuffers
import numpy as np
from tflite_micro.python.tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

RANDOM_INPUTS = 3
ARENA_SIZE = 4 * 1024 * 1024
SOFTMAX = 25


def every_output_model(path):
    """The model with every operator output appended to the graph outputs, and which are softmax."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(open(path, "rb").read()), 0)
    graph = model.subgraphs[0]
    outputs = [int(o) for o in graph.outputs]
    softmax = set()
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        for tensor in op.outputs:
            if max(code.builtinCode, code.deprecatedBuiltinCode) == SOFTMAX:
                softmax.add(int(tensor))
            if int(tensor) not in outputs:
                outputs.append(int(tensor))
    graph.outputs = outputs
    # An OfflineMemoryAllocation would no longer fit the new lifetimes.
    if model.metadata:
        model.metadata = [m for m in model.metadata if m.name != b"OfflineMemoryAllocation"]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), outputs, softmax


def firmware_outputs(text):
    """Every `outputN K bytes` block the firmware printed, in order."""
    outputs, lines, index = [], text.splitlines(), 0
    while index < len(lines):
        words = lines[index].split()
        index += 1
        if len(words) == 3 and words[0].startswith("output") and words[2] == "bytes":
            hex_text = ""
            while index < len(lines) and not lines[index].startswith("crc32"):
                hex_text += lines[index].strip()
                index += 1
            outputs.append(bytes.fromhex(hex_text))
    return outputs


def check(dmo, path, workdir, kernels="reference"):
    workdir = tempfile.mkdtemp(dir=workdir)  # its own files, beside any caller's
    model_bytes, outputs, softmax = every_output_model(path)
    stem = os.path.basename(path).replace(".tflite", "")
    model_path = os.path.join(workdir, stem + ".all.tflite")
    open(model_path, "wb").write(model_bytes)
    elf = os.path.join(workdir, stem + ".elf")
    built = subprocess.run([dmo, "firmware", model_path, "-o", elf, "--kernels", kernels],
                           capture_output=True, text=True)
    if built.returncode != 0:
        return False, f"dmo firmware: {built.stderr.strip()[-300:]}"
    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=ARENA_SIZE)
    details = interpreter.get_input_details(0)
    dtype = np.dtype(details["dtype"])
    limits = np.iinfo(dtype)
    shape = tuple(int(d) for d in details["shape"])
    rng = np.random.default_rng(sum(stem.encode()))
    runs, problems = [], []
    for step in range(RANDOM_INPUTS):
        data = rng.integers(limits.min, limits.max, size=shape, endpoint=True, dtype=dtype)
        interpreter.reset()
        interpreter.set_input(data, 0)
        interpreter.invoke()
        expected = [np.array(interpreter.get_output(i)) for i in range(len(outputs))]
        input_file = os.path.join(workdir, "input.bin")
        open(input_file, "wb").write(data.tobytes())
        trace = os.path.join(workdir, "run.dmotrace")
        ran = subprocess.run([dmo, "trace", elf, "-o", trace, "--force", "--poke",
                              f"dmo_model_input={input_file}"], capture_output=True, text=True)
        if ran.returncode != 0:
            return False, f"dmo trace: {ran.stderr.strip()[-300:]}"
        actual = firmware_outputs(ran.stdout)
        if len(actual) != len(expected):
            return False, f"firmware printed {len(actual)} tensors, TFLM has {len(expected)}"
        runs.append((actual, expected))
        for position, (a, e) in enumerate(zip(actual, expected)):
            tensor = outputs[position]
            values = np.frombuffer(a, e.dtype).reshape(e.shape).astype(np.int64)
            difference = np.abs(values - e.astype(np.int64))
            tolerance = 1 if tensor in softmax else 0
            if difference.size and difference.max() > tolerance:
                problems.append(f"input {step}: tensor {tensor} differs in "
                                f"{int(np.count_nonzero(difference))} elements")
    controls = 0
    for k in range(len(runs) - 1):
        for a, e in zip(runs[k][0], runs[k + 1][1]):
            controls += a != e.tobytes()
    if controls == 0:
        problems.append("control: every tensor matched TFLM's for a different input")
    if problems:
        return False, "; ".join(problems[:6])
    return True, (f"{len(outputs)} tensors identical to TFLM's on {RANDOM_INPUTS} random inputs "
                  f"({controls} tensor comparisons against a different input differ)")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    dmo, passed, failed = sys.argv[1], 0, 0
    with tempfile.TemporaryDirectory() as workdir:
        for path in sys.argv[2:]:
            try:
                ok, message = check(dmo, path, workdir)
            except Exception as error:  # a crash fails that model only
                ok, message = False, f"{type(error).__name__}: {error}"
            passed += ok
            failed += not ok
            print(f"{'ok' if ok else 'fail':<4} {os.path.basename(path)}: {message}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
