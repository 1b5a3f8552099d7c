//! UNIDIRECTIONAL_SEQUENCE_LSTM in TFLM's reference order (`EvalLstm`,
//! `lstm_internal::LstmStep` in `lstm_eval.h`; `fixtures/kernels/lstm.c`).
//!
//! The sequence is cut into `R` steps of `n` rows: batch-major input
//! `[B, T, I]` runs `for b, for t` one row at a time (`R = B T`, `n = 1`);
//! time-major input `[T, B, I]` runs `for t` on all `B` rows of that step
//! (`R = T`, `n = B`). Step `k` reads the `n` input rows of block `k` four
//! times (one fully connected pass per gate: forget, input, cell, output;
//! each pass is `for row, for cell, for i`), touches only the states, the
//! weights and the four scratch buffers otherwise, and at its very end
//! copies the new hidden state to output block `k` (`memcpy`, in order).
//! So the last read of input block `k` (in the output gate's pass) precedes
//! the first access of output block `k`, which precedes every read of block
//! `k + 1`.
//!
//! Closed form, with `a = n I e_in` and `c = n C e_out` the bytes of one
//! input and one output block: output byte `j` of block `m` is first touched
//! when the lowest input byte still to be read is `(m + 1) a` (none in the
//! last block), so `s_mono = max(0, max_{k=1..R-1} k (c - a)) = (R - 1)
//! max(0, c - a)`; output block 0 is written while blocks `1..R` are still
//! to be read, so with `R >= 2` only `u >= nI` is safe from some `u` on
//! (`u_mono = nI`), and with one step every placement is (`u_mono = 0`).
//! Below `u_mono` the set of safe `u` has a hole-free start `[0, a - c]`
//! when `c <= a` (output block `m` lands within input blocks `<= m`): that
//! is why `u_min` can be 0 while `u_mono = nI`.

use crate::description::OpDescription;
use crate::recorder::Recorder;

/// `(steps R, rows per step n, input elements per row I, cells C)`.
pub(crate) fn geometry(op: &OpDescription, time_major: bool) -> (usize, usize, usize, usize) {
    let input = op.inputs()[0].dims();
    let cells = op.output().dims()[2];
    let (first, second, input_size) = (input[0], input[1], input[2]);
    if time_major {
        (first, second, input_size, cells)
    } else {
        (first * second, 1, input_size, cells)
    }
}

/// The fast walk: only the output gate's pass over each input row can hold
/// last reads, and only its last cell's dot product; earlier passes are
/// counted, not visited.
pub(crate) fn walk_lstm(op: &OpDescription, time_major: bool, recorder: &mut Recorder) -> u64 {
    let (steps, rows, input_size, cells) = geometry(op, time_major);
    let mut time = 0u64;
    for step in 0..steps {
        // Forget, input and cell gates: rows x cells x input_size reads each.
        time += 3 * (rows * cells * input_size) as u64;
        for row in 0..rows {
            time += ((cells - 1) * input_size) as u64;
            let first = (step * rows + row) * input_size;
            for i in 0..input_size {
                recorder.read(0, first + i, time);
                time += 1;
            }
        }
        for element in 0..rows * cells {
            recorder.access_output(step * rows * cells + element, time);
            time += 1;
        }
    }
    time
}

/// The closed form: `(s_mono, u_mono)` in bytes, from the shapes alone.
pub(crate) fn lstm_offsets(op: &OpDescription, time_major: bool) -> (u64, u64) {
    let (input, output) = (&op.inputs()[0], op.output());
    // Blocks: the outer dimension in time-major order, both in batch-major.
    let steps = if time_major {
        input.dims()[0]
    } else {
        input.dims()[0] * input.dims()[1]
    } as u64;
    if steps < 2 {
        return (0, 0);
    }
    let a = input.bytes() as u64 / steps;
    let c = output.bytes() as u64 / steps;
    ((steps - 1) * c.saturating_sub(a), input.bytes() as u64)
}
