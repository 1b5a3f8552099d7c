//! The planned copy of a model: its bytes with the DMO plan as TFLM's
//! `OfflineMemoryAllocation` and dmo's `dmo_plan` record beside it, written
//! only after reading both back and checking that the plan TFLM will place
//! is the one the checker passed.

use crate::checker::check_plan;
use crate::error::{InvalidPlan, PlanError};
use crate::lifetimes::BufferSource;
use crate::record::{PlanRecord, PLAN_RECORD_METADATA};
use crate::{tflm_with_offline_tensors, ModelPlan};
use dmo_tflite::Model;
use thiserror::Error;

/// Why a planned model could not be made.
#[derive(Debug, Error)]
pub enum EmitPlanError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("cannot write the plan into the model")]
    Emit(#[source] dmo_tflite::EmitError),
    #[error("internal error: the emitted model does not parse back")]
    Reread(#[source] dmo_tflite::FormatError),
    #[error("internal error: the emitted model's {0} does not read back as written")]
    Readback(&'static str),
    #[error("internal error: the emitted plan does not pass the checker")]
    Rejected(#[source] InvalidPlan),
}

/// `model_bytes` (the file `model` was read from) with `plan` in it.
pub fn planned_model_bytes(
    model_bytes: &[u8],
    model: &Model,
    plan: &ModelPlan,
) -> Result<Vec<u8>, EmitPlanError> {
    let offsets = plan.dmo.offline_offsets(model)?;
    let record = PlanRecord::of_plan(plan);
    let emitted = dmo_tflite::with_offline_plan_and_metadata(
        model_bytes,
        &offsets,
        &[(PLAN_RECORD_METADATA, &record.to_bytes())],
    )
    .map_err(EmitPlanError::Emit)?;

    let reread = Model::parse(&emitted).map_err(EmitPlanError::Reread)?;
    let read_offsets = reread
        .offline_plan
        .clone()
        .ok_or(EmitPlanError::Readback("OfflineMemoryAllocation"))?;
    if PlanRecord::of_model(&reread).ok().flatten().as_ref() != Some(&record) {
        return Err(EmitPlanError::Readback(PLAN_RECORD_METADATA));
    }
    let tensor_offsets: Vec<u64> = plan
        .dmo
        .buffers
        .iter()
        .map(|b| match b.source {
            BufferSource::Tensor(t) => read_offsets[t].max(0) as u64,
            BufferSource::Scratch { .. } => 0,
        })
        .collect();
    let as_tflm_sees_it = tflm_with_offline_tensors(plan.dmo.buffers.clone(), &tensor_offsets);
    if as_tflm_sees_it.head != plan.dmo.head {
        return Err(EmitPlanError::Rejected(InvalidPlan::HeadMismatch {
            searched: plan.dmo.head.0,
            placed: as_tflm_sees_it.head.0,
        }));
    }
    if let Some(conflict) = check_plan(
        &as_tflm_sees_it.buffers,
        &as_tflm_sees_it.offsets,
        &plan.allowances,
    )
    .into_iter()
    .next()
    {
        return Err(EmitPlanError::Rejected(InvalidPlan::Conflict {
            side: crate::PlanSide::Dmo,
            conflict,
        }));
    }
    Ok(emitted)
}
