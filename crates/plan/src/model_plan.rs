//! `plan_model`: a `.tflite` model's buffers and per-layer overlaps, planned
//! by [`plan_buffers`](crate::plan_buffers).

use crate::arena_plan::{plan_buffers, ArenaPlan, BufferPlan, Peak};
use crate::checker::OverlapAllowance;
use crate::dmo_planner::{DmoSearchResult, SearchEffort};
use crate::error::PlanError;
use crate::model_buffers::arena_buffers_for;
use crate::overlaps::{
    analyse_layers, overlap_candidates, LayerAnalysis, OffsetSource, OffsetsProvenance,
};
use dmo_tflite::Model;
use serde::Serialize;

/// Everything `dmo plan` reports about one model.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct ModelPlan {
    /// What the overlaps hold for: a kernel family or a traced firmware.
    pub offsets_from: OffsetsProvenance,
    pub layers: Vec<LayerAnalysis>,
    pub allowances: Vec<OverlapAllowance>,
    pub baseline: ArenaPlan,
    pub dmo: ArenaPlan,
    pub dmo_search: DmoSearchResult,
    pub baseline_peak: Peak,
    pub dmo_peak: Peak,
}

impl ModelPlan {
    /// DMO's saving against the baseline, in percent of the baseline head.
    pub fn saving_percent(&self) -> f64 {
        if self.baseline.head.0 == 0 {
            return 0.0;
        }
        100.0 * (self.baseline.head.0 as f64 - self.dmo.head.0 as f64) / self.baseline.head.0 as f64
    }
}

/// Plans subgraph 0 of `model`: baseline and DMO, both checked. The DMO plan
/// holds for the loop orders `source` names, and only for them.
pub fn plan_model(
    model: &Model,
    source: OffsetSource<'_>,
    effort: SearchEffort,
) -> Result<ModelPlan, PlanError> {
    // The kernels' scratch buffers are part of TFLM's plan; a trace's firmware
    // is not known to be any family, so it keeps the reference requests.
    let orders = match source {
        OffsetSource::Kernels(family) => {
            family.loop_orders.unwrap_or(dmo_ops::LoopOrders::Reference)
        }
        OffsetSource::Measured(_) => dmo_ops::LoopOrders::Reference,
    };
    let buffers = arena_buffers_for(model, orders)?;
    let layers = analyse_layers(model, &buffers, source)?;
    let candidates = overlap_candidates(model, &buffers, &layers);
    let BufferPlan {
        allowances,
        baseline,
        dmo,
        dmo_search,
        baseline_peak,
        dmo_peak,
    } = plan_buffers(buffers, &candidates, effort)?;
    Ok(ModelPlan {
        offsets_from: source.provenance(),
        layers,
        allowances,
        baseline,
        dmo,
        dmo_search,
        baseline_peak,
        dmo_peak,
    })
}
