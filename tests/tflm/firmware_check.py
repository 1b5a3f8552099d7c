#!/usr/bin/env python3
"""Proof with the real runtime: the firmware `dmo firmware` generates from a
model computes what TensorFlow Lite Micro computes.

For every model in MODELS_DIR it runs `dmo firmware` (a model with an
operator that has no kernel yet is skipped, except the REQUIRED ones, whose
skip is a failure), then for RANDOM_INPUTS random int8 inputs runs the ELF
under `dmo trace --poke dmo_model_input=FILE` and the original model in
TFLM's Python interpreter (reference kernels) and compares the output
tensors byte for byte (int8 or int16 inputs, any integer outputs; TFLM's
variable tensors are reset before each input, as each firmware run starts
from reset state), and every operator's output: the firmware prints a
CRC-32 of each op's output tensor, TFLM keeps every intermediate tensor
(kPreserveAllTensors), so a wrong layer is found even when the model's
final outputs saturate; a model whose final outputs are the same for every
random input is also checked with intermediates_check.py. SOFTMAX outputs are allowed to be at most 1 LSB apart
(the issue allows it), but every difference is reported and the summary line
says how many bytes differed. As a control that the comparison can fail, the
random inputs of each model must not all give the same output, and the
firmware's output (and its op checksums) for input k set against TFLM's
for input k+1 must differ.

With `--kernels cmsis-nn` the firmware runs the C kernels in CMSIS-NN's loop
orders (`dmo firmware --kernels cmsis-nn`) and must print `kernels cmsis-nn`;
its REQUIRED models are those every op of which has a CMSIS-NN-order kernel
(a model with an op whose CMSIS-NN order is not modelled, the LSTM, is
skipped with dmo's refusal as the message). TFLM's outputs are those of its
reference kernels: CMSIS-NN is bit-exact with them, and so must the
CMSIS-NN-order kernels be.

Usage: firmware_check.py DMO_BINARY MODELS_DIR [--kernels reference|cmsis-nn]
Ends with a line `N passed, N failed`; exits 1 on any failure.
"""

import os
import re
import zlib
import subprocess
import sys
import tempfile

import numpy as np
from tflite_micro.python.tflite_micro import runtime

import intermediates_check

RANDOM_INPUTS = 3
ARENA_SIZE = 4 * 1024 * 1024
REQUIRED = (
    "person_detect.tflite",
    "kws_ref_model.tflite",
    "pretrainedResnet_quant.tflite",
    "micro_speech_quantized.tflite",
    "keyword_scrambled.tflite",
    "trained_lstm_int8.tflite",
)
# With --kernels cmsis-nn: the models whose every op has a kernel in CMSIS-NN's order.
REQUIRED_CMSIS_NN = (
    "person_detect.tflite",
    "kws_ref_model.tflite",
    "pretrainedResnet_quant.tflite",
    "micro_speech_quantized.tflite",
    "ad01_int8.tflite",
    "hello_world_int8.tflite",
    "keyword_scrambled.tflite",
)
NO_KERNEL = re.compile(r"has no kernel")
# dmo's refusal of an op whose CMSIS-NN order is not modelled.
NOT_MODELLED = re.compile(r"has no kernel|CMSIS-NN loop order is not modelled")
OUTPUT_HEADER = re.compile(r"^output\d* (\d+) bytes$")
OP_CHECKSUM = re.compile(r"^op(\d+)_\w+ output(\d+) (\d+) bytes crc32 ([0-9a-f]{8})$")
KERNELS_LINE = re.compile(r"^kernels (\S+)$")


def firmware_checksums(text):
    """{(op, output position): (bytes, crc32)} of the `opN_KIND outputK N bytes crc32 X` lines."""
    checksums = {}
    for line in text.splitlines():
        match = OP_CHECKSUM.match(line.strip())
        if match:
            op, position, size, crc = match.groups()
            checksums[(int(op), int(position))] = (int(size), int(crc, 16))
    return checksums


def firmware_kernels(text):
    """The kernel family the firmware says it runs (`kernels NAME`), or None."""
    for line in text.splitlines():
        match = KERNELS_LINE.match(line.strip())
        if match:
            return match.group(1)
    return None


def preserving_interpreter(model_bytes):
    """TFLM's interpreter keeping every tensor after invoke (GetTensor works for all)."""
    return runtime.Interpreter.from_bytes(
        model_bytes, arena_size=ARENA_SIZE,
        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)


def model_operators(model_bytes):
    """[(kind code, [output tensor indices])] of subgraph 0, and the model's output tensors."""
    model = runtime.convert_bytearray_to_object(bytearray(model_bytes))
    graph = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    return [(codes[op.opcodeIndex], list(op.outputs)) for op in graph.operators], set(graph.outputs)


def tflm_checksums(interpreter, operators):
    """{(op, output position): (bytes, crc32)} of TFLM's intermediate tensors after invoke."""
    checksums = {}
    for index, (_, outputs) in enumerate(operators):
        for position, tensor in enumerate(outputs):
            data = np.ascontiguousarray(interpreter.GetTensor(tensor, 0)["tensor_data"]).tobytes()
            checksums[(index, position)] = (len(data), zlib.crc32(data))
    return checksums


def differing_ops(actual, expected, operators, model_outputs, tolerated=(25,)):
    """Operators whose output checksum differs from TFLM's (or is missing). A SOFTMAX (code
    25) producing a model output is left to the byte comparison, which allows 1 LSB there."""
    differing = []
    for (op, position), value in sorted(expected.items()):
        kind, outputs = operators[op]
        if kind in tolerated and outputs[position] in model_outputs:
            continue
        if actual.get((op, position)) != value:
            differing.append(op)
    return sorted(set(differing))


def firmware_outputs(text):
    """The output tensors the firmware printed: `output N bytes`, hex lines, `crc32 X`."""
    outputs, lines = [], text.splitlines()
    index = 0
    while index < len(lines):
        match = OUTPUT_HEADER.match(lines[index].strip())
        index += 1
        if not match:
            continue
        hex_text = ""
        while index < len(lines) and not lines[index].startswith("crc32"):
            hex_text += lines[index].strip()
            index += 1
        data = bytes.fromhex(hex_text)
        if len(data) != int(match.group(1)):
            raise RuntimeError(f"firmware printed {len(data)} bytes, announced {match.group(1)}")
        outputs.append(data)
    return outputs


def run_firmware(dmo, elf, input_bytes, workdir, with_text=False):
    input_file = os.path.join(workdir, "input.bin")
    with open(input_file, "wb") as f:
        f.write(input_bytes)
    trace = os.path.join(workdir, "run.dmotrace")
    result = subprocess.run(
        [dmo, "trace", elf, "-o", trace, "--force", "--poke", f"dmo_model_input={input_file}"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"dmo trace exited {result.returncode}: {result.stderr.strip()[-500:]}")
    if with_text:
        return firmware_outputs(result.stdout), result.stdout
    return firmware_outputs(result.stdout)


def has_softmax_output(model_path):
    """Whether a model output is produced by SOFTMAX (1 LSB tolerance applies there)."""
    with open(model_path, "rb") as f:
        model = runtime.convert_bytearray_to_object(bytearray(f.read()))
    graph = model.subgraphs[0]
    softmax_codes = {
        i for i, code in enumerate(model.operatorCodes)
        if max(code.builtinCode, code.deprecatedBuiltinCode) == 25
    }
    return {
        output for op in graph.operators if op.opcodeIndex in softmax_codes for output in op.outputs
    } & set(graph.outputs) != set()


def check_model(dmo, path, workdir, kernels="reference"):
    """Returns (status, message): status is 'ok', 'skip' or 'fail'."""
    name = os.path.basename(path)
    elf = os.path.join(workdir, name.replace(".tflite", ".elf"))
    built = subprocess.run([dmo, "firmware", path, "-o", elf, "--kernels", kernels],
                           capture_output=True, text=True)
    required, skippable = ((REQUIRED, NO_KERNEL) if kernels == "reference"
                           else (REQUIRED_CMSIS_NN, NOT_MODELLED))
    if built.returncode != 0:
        message = built.stderr.strip().splitlines()[-1] if built.stderr.strip() else "failed"
        if skippable.search(built.stderr) and name not in required:
            return "skip", message
        return "fail", f"dmo firmware: {message}"

    model_bytes = open(path, "rb").read()
    interpreter = preserving_interpreter(model_bytes)
    operators, model_outputs = model_operators(model_bytes)
    details = interpreter.get_input_details(0)
    input_type = np.dtype(details["dtype"])
    if input_type not in (np.dtype(np.int8), np.dtype(np.int16)):
        return "fail", f"input type {details['dtype']} (the firmware takes int8 or int16)"
    limits = np.iinfo(input_type)
    output_type = np.dtype(interpreter.get_output_details(0)["dtype"])
    shape = tuple(int(d) for d in details["shape"])
    tolerance = 1 if has_softmax_output(path) else 0
    rng = np.random.default_rng(sum(name.encode()))
    problems, differing_bytes, distinct, pairs = [], 0, set(), []
    distinct_layers, layer_pairs = set(), []
    for step in range(RANDOM_INPUTS):
        data = rng.integers(limits.min, limits.max, size=shape, endpoint=True, dtype=input_type)
        # Each firmware run starts from reset state (SVDF/LSTM variable tensors): so must TFLM.
        interpreter.reset()
        interpreter.set_input(data, 0)
        interpreter.invoke()
        expected = [np.array(interpreter.get_output(0)).astype(output_type).tobytes()]
        actual, text = run_firmware(dmo, elf, data.tobytes(), workdir, with_text=True)
        if firmware_kernels(text) != kernels:
            return "fail", f"the firmware says `kernels {firmware_kernels(text)}`, not {kernels}"
        layer_checksums = firmware_checksums(text)
        expected_layers = tflm_checksums(interpreter, operators)
        distinct_layers.add(tuple(sorted(layer_checksums.items())))
        layer_pairs.append((layer_checksums, expected_layers))
        wrong_layers = differing_ops(layer_checksums, expected_layers, operators, model_outputs)
        if wrong_layers:
            problems.append(f"input {step}: ops {wrong_layers} differ from TFLM's intermediate "
                            f"tensors (first: op {wrong_layers[0]})")
        distinct.add(tuple(actual))
        pairs.append((actual, expected))
        if len(actual) != len(expected) or any(len(a) != len(e) for a, e in zip(actual, expected)):
            problems.append(f"input {step}: output sizes {[len(a) for a in actual]} != TFLM's "
                            f"{[len(e) for e in expected]}")
            continue
        for a, e in zip(actual, expected):
            difference = np.abs(np.frombuffer(a, output_type).astype(np.int64)
                                - np.frombuffer(e, output_type).astype(np.int64))
            differing_bytes += int(np.count_nonzero(difference))
            if difference.max(initial=0) > tolerance:
                first = int(np.argmax(difference > tolerance))
                values = np.frombuffer(a, output_type), np.frombuffer(e, output_type)
                problems.append(f"input {step}: element {first} is {values[0][first]} vs TFLM's "
                                f"{values[1][first]}")
    if len(distinct) == 1 and RANDOM_INPUTS > 1 and not problems:
        # Saturated final outputs: compare every operator's output tensor instead
        # (intermediates_check.py), which has its own control.
        ok, message = intermediates_check.check(dmo, path, workdir, kernels)
        if ok:
            return "ok", f"final outputs identical but saturated (the same for every input); {message}"
        problems.append(f"final outputs saturate, and per operator: {message}")
    elif len(distinct) == 1 and RANDOM_INPUTS > 1:
        problems.append("every random input gave the same output: the comparison cannot fail")
    shifted = [(pairs[k][0], pairs[k + 1][1]) for k in range(len(pairs) - 1)]
    if shifted and all(a == e for a, e in shifted):
        problems.append("control: outputs matched TFLM's for a different input")
    if len(distinct_layers) == 1 and RANDOM_INPUTS > 1:
        problems.append("every random input gave the same layer checksums")
    for k in range(len(layer_pairs) - 1):
        if not differing_ops(layer_pairs[k][0], layer_pairs[k + 1][1], operators, model_outputs):
            problems.append("control: every op's checksum matched TFLM's for a different input")
    if problems:
        return "fail", "; ".join(problems)
    exactness = "identical" if differing_bytes == 0 else f"{differing_bytes} elements 1 LSB apart (SOFTMAX)"
    return "ok", (f"outputs {exactness} to TFLM's on {RANDOM_INPUTS} random inputs, "
                  f"and all {len(operators)} ops' outputs")


def main():
    arguments = sys.argv[1:]
    kernels = "reference"
    if len(arguments) == 4 and arguments[2] == "--kernels":
        kernels = arguments.pop()
        arguments.pop()
    if len(arguments) != 2 or kernels not in ("reference", "cmsis-nn"):
        print(__doc__, file=sys.stderr)
        return 2
    dmo, models_dir = arguments
    required = REQUIRED if kernels == "reference" else REQUIRED_CMSIS_NN
    models = sorted(os.path.join(models_dir, f) for f in os.listdir(models_dir) if f.endswith(".tflite"))
    passed = failed = 0
    with tempfile.TemporaryDirectory() as workdir:
        for path in models:
            name = os.path.basename(path)
            try:
                status, message = check_model(dmo, path, workdir, kernels)
            except Exception as error:  # a crash is a failure of that model, not of the run
                status, message = "fail", f"{type(error).__name__}: {error}"
            if status == "ok":
                passed += 1
            elif status == "fail":
                failed += 1
            print(f"{status:<4} {name}: {message}", flush=True)
        missing = [m for m in required if not os.path.exists(os.path.join(models_dir, m))]
        for name in missing:
            failed += 1
            print(f"fail {name}: required model not found in {models_dir}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
