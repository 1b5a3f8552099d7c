#!/usr/bin/env python3
"""Proof with the real runtime: every model in shared/models, planned by
`dmo plan --emit-tflite`, runs in TensorFlow Lite Micro's own interpreter.

For each model it checks that
  1. TFLM's arena head for the original model equals dmo's TFLM-greedy head;
  2. the emitted DMO model gives bit-identical outputs to the original on
     several random inputs (one interpreter each, same input sequence, so
     stateful models such as SVDF are compared state for state);
  3. TFLM's arena head for the emitted model equals dmo's DMO head.
TFLM prints the head from C++ (`print_allocations()`), so it is captured at
the file-descriptor level. Ends with a line `N passed, N failed`.

Usage: check_tflm.py DMO_BINARY MODELS_DIR
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from tflite_micro.python.tflite_micro import runtime

RANDOM_INPUTS = 5
ARENA_SIZE = 4 * 1024 * 1024
HEAD_LINE = re.compile(r"Arena allocation head (\d+) bytes")


@contextlib.contextmanager
def captured_fds():
    """Captures what C++ writes to stdout and stderr (file descriptors 1, 2)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        box = {}
        try:
            yield box
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            box["text"] = sink.read().decode("utf-8", "replace")


def arena_head(interpreter):
    with captured_fds() as box:
        interpreter.print_allocations()
    match = HEAD_LINE.search(box["text"])
    if not match:
        raise RuntimeError("no 'Arena allocation head' line in:\n" + box["text"])
    return int(match.group(1))


def input_count(model_bytes):
    model = runtime.convert_bytearray_to_object(bytearray(model_bytes))
    return len(model.subgraphs[0].inputs), len(model.subgraphs[0].outputs)


def random_input(details, rng):
    dtype = np.dtype(details["dtype"])
    shape = tuple(int(d) for d in details["shape"])
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return rng.standard_normal(size=shape).astype(dtype)


def run_sequence(model_bytes, inputs_per_step, outputs):
    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=ARENA_SIZE)
    results = []
    for step_inputs in inputs_per_step:
        for index, data in enumerate(step_inputs):
            interpreter.set_input(data, index)
        interpreter.invoke()
        results.append([np.array(interpreter.get_output(i)).copy() for i in range(outputs)])
    return results, arena_head(interpreter)


def check_model(dmo, path, workdir):
    name = os.path.basename(path)
    emitted = os.path.join(workdir, name.replace(".tflite", ".dmo.tflite"))
    result = subprocess.run(
        [dmo, "plan", path, "--kernels", "reference", "--format", "json", "--emit-tflite", emitted],
        check=True, capture_output=True, text=True,
    )
    report = json.loads(result.stdout)
    with open(path, "rb") as f:
        original = f.read()
    with open(emitted, "rb") as f:
        planned = f.read()

    inputs, outputs = input_count(original)
    probe = runtime.Interpreter.from_bytes(original, arena_size=ARENA_SIZE)
    details = [probe.get_input_details(i) for i in range(inputs)]
    rng = np.random.default_rng(sum(name.encode()))
    steps = [[random_input(d, rng) for d in details] for _ in range(RANDOM_INPUTS)]

    original_out, original_head = run_sequence(original, steps, outputs)
    planned_out, planned_head = run_sequence(planned, steps, outputs)
    problems = []
    if original_head != report["tflm_head"]:
        problems.append(f"TFLM head {original_head} != dmo's TFLM-greedy head {report['tflm_head']}")
    if planned_head != report["dmo_head"]:
        problems.append(f"TFLM head of the DMO model {planned_head} != dmo's DMO head {report['dmo_head']}")
    for step, (a, b) in enumerate(zip(original_out, planned_out)):
        for index, (x, y) in enumerate(zip(a, b)):
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                problems.append(f"input {step}: output {index} differs")
    return name, report, original_head, planned_head, problems


def corrupted_plan(planned, offsets):
    """The emitted model with every planned tensor moved to offset 0: a plan
    that must break the outputs, to show the comparison can fail."""
    import struct
    header = struct.pack("<3i", 1, 1, len(offsets)) + struct.pack(f"<{len(offsets)}i", *offsets)
    at = planned.find(header)
    if at < 0:
        raise RuntimeError("offline plan not found in the emitted model")
    broken = [0 if o >= 0 else o for o in offsets]
    replacement = struct.pack("<3i", 1, 1, len(offsets)) + struct.pack(f"<{len(offsets)}i", *broken)
    return planned[:at] + replacement + planned[at + len(header):]


NEGATIVE_CONTROLS = ("person_detect.tflite", "kws_ref_model.tflite")


def negative_control(dmo, path, workdir):
    """Problems if a deliberately broken plan still gives identical outputs."""
    name = os.path.basename(path)
    emitted = os.path.join(workdir, name.replace(".tflite", ".control.tflite"))
    result = subprocess.run(
        [dmo, "plan", path, "--kernels", "reference", "--format", "json", "--emit-tflite", emitted],
        check=True, capture_output=True, text=True,
    )
    offsets = json.loads(result.stdout)["dmo_offline_offsets"]
    with open(path, "rb") as f:
        original = f.read()
    with open(emitted, "rb") as f:
        broken = corrupted_plan(f.read(), offsets)
    inputs, outputs = input_count(original)
    probe = runtime.Interpreter.from_bytes(original, arena_size=ARENA_SIZE)
    details = [probe.get_input_details(i) for i in range(inputs)]
    rng = np.random.default_rng(7)
    steps = [[random_input(d, rng) for d in details] for _ in range(RANDOM_INPUTS)]
    good, _ = run_sequence(original, steps, outputs)
    bad, _ = run_sequence(broken, steps, outputs)
    same = all(x.tobytes() == y.tobytes() for a, b in zip(good, bad) for x, y in zip(a, b))
    return ["a plan with all tensors at offset 0 still matched: the comparison cannot fail"] if same else []


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    dmo, models_dir = sys.argv[1], sys.argv[2]
    models = sorted(os.path.join(models_dir, f) for f in os.listdir(models_dir) if f.endswith(".tflite"))
    if not models:
        print(f"no .tflite models in {models_dir}", file=sys.stderr)
        return 2
    passed = failed = 0
    with tempfile.TemporaryDirectory() as workdir:
        for path in models:
            try:
                name, report, tflm_head, dmo_head, problems = check_model(dmo, path, workdir)
            except Exception as error:  # a crash is a failure of that model, not of the run
                name, problems = os.path.basename(path), [f"{type(error).__name__}: {error}"]
                tflm_head = dmo_head = None
            if problems:
                failed += 1
                print(f"FAIL {name}: " + "; ".join(problems))
            else:
                passed += 1
                print(
                    f"ok   {name}: TFLM head {tflm_head} B, DMO head {dmo_head} B as TFLM reports it, "
                    f"outputs bit-identical on {RANDOM_INPUTS} random inputs"
                )
        for path in models:
            name = os.path.basename(path)
            if name not in NEGATIVE_CONTROLS:
                continue
            try:
                problems = negative_control(dmo, path, workdir)
            except Exception as error:
                problems = [f"{type(error).__name__}: {error}"]
            if problems:
                failed += 1
                print(f"FAIL control {name}: " + "; ".join(problems))
            else:
                passed += 1
                print(f"ok   control {name}: a broken plan (all tensors at 0) changes the outputs")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
