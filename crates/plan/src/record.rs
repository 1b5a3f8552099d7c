//! dmo's own record of a plan, written into the emitted model beside TFLM's
//! `OfflineMemoryAllocation` as the metadata entry `dmo_plan` (JSON; TFLM
//! ignores metadata it does not know). It says which loop orders the offsets
//! hold for, so a planned model can always be traced back to the kernels it
//! is safe with.

use crate::lifetimes::BufferSource;
use crate::model_plan::ModelPlan;
use crate::overlaps::OffsetsProvenance;
use crate::pair_offsets::PairOffsets;
use dmo_tflite::Model;
use serde::{Deserialize, Serialize};

/// The metadata name of the record.
pub const PLAN_RECORD_METADATA: &str = "dmo_plan";

/// The record's format version; readers refuse others.
const RECORD_FORMAT: u32 = 1;

/// Why a model's `dmo_plan` metadata cannot be read.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// Not JSON of a plan record (the JSON parser's message).
    #[error("{PLAN_RECORD_METADATA}: not a dmo plan record: {0}")]
    NotARecord(String),
    #[error("{PLAN_RECORD_METADATA}: format {0} (this dmo reads format {RECORD_FORMAT})")]
    Format(u32),
}

/// What a planned model says about its own plan.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PlanRecord {
    pub format: u32,
    pub dmo_version: String,
    /// The kernels (or traced firmware) the offsets hold for.
    pub offsets_from: OffsetsProvenance,
    pub tflm_head: u64,
    pub dmo_head: u64,
    /// Every (input, output) pair with known offsets.
    pub pairs: Vec<RecordedPair>,
}

/// One pair of the record.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RecordedPair {
    pub operator: usize,
    pub kind: String,
    pub input_tensor: usize,
    pub output_tensor: usize,
    pub offsets: PairOffsets,
    /// `offset(output) - offset(input)` in the DMO plan, when both tensors
    /// are planned in the arena; negative = output below its input.
    pub placed_output_minus_input: Option<i64>,
    /// Whether the plan was allowed to overlap the pair.
    pub overlap_allowed: bool,
}

impl PlanRecord {
    /// The record of `plan`, made for `model`.
    pub fn of_plan(plan: &ModelPlan) -> PlanRecord {
        let offset_of = |tensor: usize| -> Option<i64> {
            plan.dmo
                .buffers
                .iter()
                .position(|b| b.source == BufferSource::Tensor(tensor))
                .map(|index| plan.dmo.offsets[index] as i64)
        };
        let mut pairs = Vec::new();
        for layer in &plan.layers {
            let Some(output_tensor) = layer.output_tensor else {
                continue;
            };
            for pair in &layer.pairs {
                let Ok(offsets) = &pair.offsets else {
                    continue;
                };
                pairs.push(RecordedPair {
                    operator: layer.operator,
                    kind: layer.kind.clone(),
                    input_tensor: pair.input_tensor,
                    output_tensor,
                    offsets: *offsets,
                    placed_output_minus_input: offset_of(output_tensor)
                        .zip(offset_of(pair.input_tensor))
                        .map(|(output, input)| output - input),
                    overlap_allowed: pair.unusable_because.is_none(),
                });
            }
        }
        PlanRecord {
            format: RECORD_FORMAT,
            dmo_version: env!("CARGO_PKG_VERSION").to_owned(),
            offsets_from: plan.offsets_from.clone(),
            tflm_head: plan.baseline.head.0,
            dmo_head: plan.dmo.head.0,
            pairs,
        }
    }

    /// The JSON bytes written into the model.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a plan record always serialises")
    }

    /// The record a model carries, if any.
    pub fn of_model(model: &Model) -> Result<Option<PlanRecord>, RecordError> {
        let Some(bytes) = model.metadata_data(PLAN_RECORD_METADATA) else {
            return Ok(None);
        };
        let record: PlanRecord = serde_json::from_slice(bytes)
            .map_err(|error| RecordError::NotARecord(error.to_string()))?;
        if record.format != RECORD_FORMAT {
            return Err(RecordError::Format(record.format));
        }
        Ok(Some(record))
    }
}
