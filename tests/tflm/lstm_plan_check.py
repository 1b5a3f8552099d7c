#!/usr/bin/env python3
"""Issue 14: the DMO plan of trained_lstm_int8 places the LSTM's output
(tensor 23) at its input's offset (tensor 0), the overlap that the trace of
dmo's LSTM kernel (s_min = s_mono = 0), the simulation of TFLM's step order
and the closed form all give. Proof that the plan holds:

  1. TFLM itself: the model with tensor 23 as an extra model output (so the
     LSTM's output is compared itself; the final scores saturate on random
     inputs) is planned by `dmo plan --emit-tflite`; the plan must still put
     tensor 23 at tensor 0's offset, and TFLM running it must give outputs
     identical to TFLM running the unplanned model.
  2. dmo's firmware: `dmo firmware --plan` of the original model's DMO plan;
     every op's output CRC must equal TFLM's intermediate tensors.
  3. Control: the same firmware with tensor 23 moved 16 B above tensor 0
     (u = 16: output row 0 then lands on input row 1 before that is read;
     only u <= 8 or u >= 784 are safe) must get op 0 wrong, and `dmo check`
     must name op 0.

Usage: lstm_plan_check.py DMO_BINARY MODELS_DIR. Ends with `N passed, N failed`.
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
from tflite_micro.python.tflite_micro import runtime

from cmsis_plan_check import layers, offline_plan, run
from lstm_overlap_check import with_plan

MODEL = "trained_lstm_int8.tflite"
LSTM_INPUT, LSTM_OUTPUT, RESHAPE_OUTPUT = 0, 23, 24
RANDOM_INPUTS = 5


def tflm_outputs(model_bytes, inputs):
    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=1 << 20)
    outputs = []
    for data in inputs:
        interpreter.reset()
        interpreter.set_input(data, 0)
        interpreter.invoke()
        outputs.append(b"".join(np.array(interpreter.get_output(i)).tobytes() for i in range(2)))
    return outputs


def moved(planned_path, out_path, shift):
    """The plan with the LSTM output (and the RESHAPE output, if it shares its offset) moved."""
    model_bytes = bytearray(open(planned_path, "rb").read())
    offsets, first = offline_plan(bytes(model_bytes))
    for tensor in (LSTM_OUTPUT, RESHAPE_OUTPUT):
        if offsets[tensor] == offsets[LSTM_OUTPUT]:
            struct.pack_into("<i", model_bytes, first + 4 * tensor, offsets[tensor] + shift)
    with open(out_path, "wb") as f:
        f.write(model_bytes)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    dmo, models_dir = sys.argv[1], sys.argv[2]
    model = os.path.join(models_dir, MODEL)
    model_bytes = open(model, "rb").read()
    passed = failed = 0

    def report(ok, name, message):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'ok' if ok else 'fail':<4} {name}: {message}", flush=True)

    with tempfile.TemporaryDirectory() as workdir:
        path = lambda name: os.path.join(workdir, name)
        # 1. TFLM, with the LSTM output exposed.
        exposed = path("exposed.tflite")
        with open(exposed, "wb") as f:
            f.write(with_plan(bytearray(model_bytes)))
        run([dmo, "plan", exposed, "--kernels", "reference", "--emit-tflite", path("exposed_dmo.tflite")])
        planned = open(path("exposed_dmo.tflite"), "rb").read()
        offsets, _ = offline_plan(planned)
        shared = offsets[LSTM_OUTPUT] == offsets[LSTM_INPUT]
        rng = np.random.default_rng(14)
        inputs = [rng.integers(-128, 127, size=(1, 28, 28), endpoint=True, dtype=np.int8)
                  for _ in range(RANDOM_INPUTS)]
        expected = tflm_outputs(open(exposed, "rb").read(), inputs)
        actual = tflm_outputs(planned, inputs)
        distinct = len(set(expected))
        same = expected == actual
        report(shared and same and distinct > 1, "TFLM runs the DMO plan (LSTM output exposed)",
               f"tensor 23 at {offsets[LSTM_OUTPUT]}, tensor 0 at {offsets[LSTM_INPUT]}; "
               f"outputs {'identical' if same else 'differ'} on {RANDOM_INPUTS} inputs "
               f"({distinct} distinct)")

        # 2. dmo's firmware with the original model's DMO plan, every op against TFLM.
        run([dmo, "plan", model, "--kernels", "reference", "--emit-tflite", path("dmo.tflite")])
        offsets, _ = offline_plan(open(path("dmo.tflite"), "rb").read())
        run([dmo, "firmware", model, "--plan", path("dmo.tflite"), "-o", path("dmo.elf")])
        results, _ = layers(dmo, path("dmo.elf"), model_bytes, workdir, 14)
        ok = offsets[LSTM_OUTPUT] == offsets[LSTM_INPUT] and all(
            not wrong and same for wrong, same, _ in results)
        report(ok, "dmo firmware with the DMO plan",
               f"tensor 23 at tensor 0's offset {offsets[LSTM_INPUT]}; ops differing from TFLM "
               f"per input: {[wrong for wrong, _, _ in results]}")
        checked = subprocess.run([dmo, "check", path("dmo.elf"), "-q"], capture_output=True,
                                 text=True)
        report(checked.returncode == 0, "dmo check of that firmware",
               f"exit {checked.returncode} {checked.stderr.strip()[-200:]}")

        # 3. Control: the LSTM output 16 B above its input.
        moved(path("dmo.tflite"), path("up16.tflite"), 16)
        run([dmo, "firmware", model, "--plan", path("up16.tflite"), "-o", path("up16.elf")])
        results, _ = layers(dmo, path("up16.elf"), model_bytes, workdir, 14)
        first = [wrong[0] if wrong else None for wrong, _, _ in results]
        checked = subprocess.run([dmo, "check", path("up16.elf"), "-q"], capture_output=True,
                                 text=True)
        named = "op 0 `op0_unidirectional_sequence_lstm`" in checked.stderr
        report(all(f == 0 for f in first) and checked.returncode == 1 and named,
               "control: LSTM output 16 B above its input",
               f"first differing op per input {first}; dmo check exit {checked.returncode}"
               + (", names op 0" if named else f": {checked.stderr.strip()[-300:]}"))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
