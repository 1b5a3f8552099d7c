//! Arena planning for TensorFlow Lite Micro (`shared/DESIGN.md`, "Arena
//! planning").
//!
//! - [`arena_buffers`]: the tensors and scratch buffers TFLM plans, with
//!   lifetimes in TFLM's scopes.
//! - [`tflm_baseline`]: TFLM's own greedy plan, reproduced exactly.
//! - [`check_plan`]: an independent checker every printed or written plan
//!   passes.

mod checker;
mod error;
mod greedy;
mod lifetimes;

pub use checker::{check_plan, Conflict, OverlapAllowance};
pub use error::PlanError;
pub use greedy::{greedy_offsets, head_size, PlannerRequest};
pub use lifetimes::{align_up, arena_buffers, scratch_requests, ArenaBuffer, BufferSource, Scope, BUFFER_ALIGNMENT};

use dmo_core::ByteCount;
use dmo_tflite::Model;
use serde::Serialize;

/// Buffers with their offsets in the arena head.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ArenaPlan {
    pub buffers: Vec<ArenaBuffer>,
    /// Offset of each buffer from the start of the head.
    pub offsets: Vec<u64>,
    /// The head size: the largest end offset.
    pub head: ByteCount,
}

impl ArenaPlan {
    /// The offline plan TFLM reads: one offset per tensor of all subgraphs,
    /// -1 for tensors it plans itself (constants, variables, other
    /// subgraphs). Scratch buffers are not in it: TFLM places them.
    pub fn offline_offsets(&self, model: &Model) -> Vec<i32> {
        let mut offsets = vec![-1i32; model.total_tensor_count()];
        for (buffer, &offset) in self.buffers.iter().zip(&self.offsets) {
            if let BufferSource::Tensor(index) = buffer.source {
                offsets[index] = offset as i32;
            }
        }
        offsets
    }
}

fn requests(buffers: &[ArenaBuffer], fixed: impl Fn(usize) -> Option<u64>) -> Vec<PlannerRequest> {
    buffers
        .iter()
        .enumerate()
        .map(|(index, buffer)| PlannerRequest {
            size: buffer.aligned_bytes(),
            first_scope: buffer.first_scope,
            last_scope: buffer.last_scope,
            offline_offset: fixed(index),
        })
        .collect()
}

/// TFLM's greedy plan of subgraph 0.
pub fn tflm_baseline(model: &Model) -> Result<ArenaPlan, PlanError> {
    let buffers = arena_buffers(model)?;
    let requests = requests(&buffers, |_| None);
    let offsets = greedy_offsets(&requests);
    let head = ByteCount(head_size(&requests, &offsets));
    Ok(ArenaPlan { buffers, offsets, head })
}

/// What TFLM does with an offline plan: tensors at the given offsets, scratch
/// buffers placed first-fit around them. `tensor_offsets` gives the offset of
/// each tensor buffer (by buffer index; scratch entries are ignored).
pub fn tflm_with_offline_tensors(buffers: Vec<ArenaBuffer>, tensor_offsets: &[u64]) -> ArenaPlan {
    let requests = requests(&buffers, |index| match buffers[index].source {
        BufferSource::Tensor(_) => Some(tensor_offsets[index]),
        BufferSource::Scratch { .. } => None,
    });
    let offsets = greedy_offsets(&requests);
    let head = ByteCount(head_size(&requests, &offsets));
    ArenaPlan { buffers, offsets, head }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    pub(crate) fn model(name: &str) -> Model {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models").join(name);
        Model::read(&path).unwrap()
    }

    /// "TFLM arena head" column of `shared/models/README.md`: printed by
    /// TFLM's own `print_allocations()`.
    const TFLM_HEADS: [(&str, u64); 7] = [
        ("person_detect.tflite", 55296),
        ("kws_ref_model.tflite", 16000),
        ("pretrainedResnet_quant.tflite", 49152),
        ("micro_speech_quantized.tflite", 5968),
        ("ad01_int8.tflite", 768),
        ("hello_world_int8.tflite", 32),
        ("keyword_scrambled.tflite", 672),
    ];

    #[test]
    fn baseline_head_equals_tflms_own_number_for_every_model() {
        for (name, expected) in TFLM_HEADS {
            let plan = tflm_baseline(&model(name)).unwrap();
            assert_eq!(plan.head.0, expected, "{name}");
            assert!(check_plan(&plan.buffers, &plan.offsets, &[]).is_empty(), "{name}");
        }
    }

    #[test]
    fn baseline_as_offline_plan_gives_the_same_head() {
        // TFLM given its own plan offline must report the same head.
        for (name, expected) in TFLM_HEADS {
            let plan = tflm_baseline(&model(name)).unwrap();
            let again = tflm_with_offline_tensors(plan.buffers.clone(), &plan.offsets);
            assert_eq!(again.head.0, expected, "{name}");
        }
    }
}
