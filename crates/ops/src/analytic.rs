// analytic formulas: see docs/methods.md
//! Method 3 of the DMO paper: closed-form safe offsets from a kernel's loop
//! structure, without walking its loops. Kinds without a formula yet are
//! reported as not modelled (never guessed).

use crate::description::OpDescription;
use crate::{InputOverlap, OverlapModel};

/// The analytic result of each activation input of `op`.
pub fn analytic(op: &OpDescription) -> Vec<InputOverlap> {
    (0..op.inputs().len())
        .map(|input_index| InputOverlap {
            input_index,
            result: OverlapModel::NotModelled {
                reason: format!("no analytic formula for {} yet", op.kind()),
            },
        })
        .collect()
}
