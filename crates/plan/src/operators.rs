//! How much work simulating an operator takes, so that `dmo plan` never
//! simulates for minutes (the description itself comes from the operator
//! registry, `dmo_ops::describe_tflite_operator`).

use dmo_ops::{OpDescription, OpParams};

/// Accesses a simulation may walk at most; a model whose layers need more
/// (far beyond any MCU's memory) is planned without overlaps for them
/// instead of running for minutes.
pub const MAX_SIMULATED_ACCESSES: u128 = 200_000_000;

/// An upper estimate of the reads and writes `simulate` walks for `op`.
pub fn simulation_work(op: &OpDescription) -> u128 {
    let output = op.output().elements() as u128;
    let inputs: u128 = op.inputs().iter().map(|i| i.elements() as u128).sum();
    let per_output = match op.params() {
        OpParams::Conv2d {
            window,
            filter_input_channels,
        } => {
            (window.window.filter_height * window.window.filter_width * filter_input_channels)
                as u128
        }
        OpParams::DepthwiseConv2d { window, .. } | OpParams::Pool2d { window } => {
            (window.window.filter_height * window.window.filter_width) as u128
        }
        OpParams::FullyConnected { accumulation_depth } => *accumulation_depth as u128,
        _ => 3,
    };
    output
        .saturating_mul(per_output + 1)
        .saturating_add(3 * inputs)
}
