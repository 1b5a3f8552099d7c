//! Arena planning for TensorFlow Lite Micro (`shared/DESIGN.md`, "Arena
//! planning").
//!
//! - [`arena_buffers`]: the tensors and scratch buffers TFLM plans, with
//!   lifetimes in TFLM's scopes.
//! - [`tflm_baseline`]: TFLM's own greedy plan, reproduced exactly.
//! - [`plan_model`]: the per-layer overlaps (from dmo-ops), the baseline and
//!   the DMO plan, and where the remaining peak comes from.
//! - [`check_plan`]: an independent checker every printed or written plan
//!   passes.

mod checker;
mod dmo_planner;
mod error;
mod greedy;
mod lifetimes;
mod matching;
mod mcu;
mod operators;
mod overlaps;
mod record;

pub use checker::{check_plan, Conflict, OverlapAllowance};
pub use dmo_planner::{
    lower_bound, no_smaller_plan_exists, plan_dmo, scope_lower_bound, DmoSearchResult, SearchEffort,
};
pub use error::PlanError;
pub use greedy::{greedy_offsets, head_size, PlannerRequest};
pub use lifetimes::{
    align_up, arena_buffers, arena_buffers_for, scratch_requests, scratch_requests_for,
    ArenaBuffer, BufferSource, Scope, BUFFER_ALIGNMENT,
};
pub use matching::{measured_offsets, MatchReport, MinedPair};
pub use mcu::{mcu_catalogue, Mcu};
pub use overlaps::{
    allowances, analyse_layers, LayerAnalysis, LayerPair, MeasuredOffsets, MeasuredOperator,
    OffsetSource, OffsetsProvenance, PairOffsets,
};
pub use record::{PlanRecord, RecordedPair, PLAN_RECORD_METADATA};

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
    /// Fails if an offset does not fit the format's int32.
    pub fn offline_offsets(&self, model: &Model) -> Result<Vec<i32>, PlanError> {
        let mut offsets = vec![-1i32; model.total_tensor_count()];
        for (buffer, &offset) in self.buffers.iter().zip(&self.offsets) {
            if let BufferSource::Tensor(index) = buffer.source {
                offsets[index] = i32::try_from(offset).map_err(|_| PlanError::Tensor {
                    tensor: index,
                    name: model.tensors[index].name.clone(),
                    problem: format!("offset {offset} does not fit an int32 offline plan"),
                })?;
            }
        }
        Ok(offsets)
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

/// TFLM's greedy plan of subgraph 0 (reference kernels' scratch buffers).
pub fn tflm_baseline(model: &Model) -> Result<ArenaPlan, PlanError> {
    tflm_baseline_for(model, dmo_ops::LoopOrders::Reference)
}

/// TFLM's greedy plan of subgraph 0 with the scratch buffers of `orders`' kernels.
pub fn tflm_baseline_for(
    model: &Model,
    orders: dmo_ops::LoopOrders,
) -> Result<ArenaPlan, PlanError> {
    let buffers = arena_buffers_for(model, orders)?;
    let requests = requests(&buffers, |_| None);
    let offsets = greedy_offsets(&requests);
    let head = ByteCount(head_size(&requests, &offsets));
    Ok(ArenaPlan {
        buffers,
        offsets,
        head,
    })
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
    ArenaPlan {
        buffers,
        offsets,
        head,
    }
}

/// The live buffers at the scope where a plan reaches its head.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Peak {
    /// The operator running then; `None` if the peak is before the first
    /// operator (scope 0: only the model inputs).
    pub operator: Option<usize>,
    /// Buffer indices alive then, lowest offset first.
    pub live_buffers: Vec<usize>,
}

/// Where `plan` reaches its head: among the scopes whose live buffers end at
/// the head, the one that needs the most memory by its own lower bound (the
/// operator that really forces the peak, not one that merely reaches it).
pub fn peak_of(plan: &ArenaPlan, allowances: &[OverlapAllowance]) -> Peak {
    let last = plan
        .buffers
        .iter()
        .map(|b| b.last_scope.0)
        .max()
        .unwrap_or(0);
    let live_at = |scope: u32| -> Vec<usize> {
        (0..plan.buffers.len())
            .filter(|&i| {
                plan.buffers[i].first_scope.0 <= scope && scope <= plan.buffers[i].last_scope.0
            })
            .collect()
    };
    let reaching_head = (0..=last).filter(|&scope| {
        live_at(scope)
            .iter()
            .map(|&i| plan.offsets[i] + plan.buffers[i].aligned_bytes())
            .max()
            == Some(plan.head.0)
    });
    // max_by_key keeps the last maximum; reverse so the earliest scope wins ties.
    let scope = reaching_head
        .rev()
        .max_by_key(|&scope| scope_lower_bound(&plan.buffers, allowances, Scope(scope)));
    match scope {
        Some(scope) => {
            let mut live = live_at(scope);
            live.sort_by_key(|&i| plan.offsets[i]);
            Peak {
                operator: scope.checked_sub(1).map(|s| s as usize),
                live_buffers: live,
            }
        }
        None => Peak {
            operator: None,
            live_buffers: Vec::new(),
        },
    }
}

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
    let baseline = tflm_baseline_for(model, orders)?;
    let layers = analyse_layers(model, &baseline.buffers, source)?;
    let allowances = allowances(model, &baseline.buffers, &layers);
    let search = plan_dmo(&baseline.buffers, &allowances, &baseline.offsets, effort);
    // The DMO plan as TFLM will see it: its tensor offsets given offline,
    // scratch buffers placed by TFLM's own rule.
    let dmo = tflm_with_offline_tensors(baseline.buffers.clone(), &search.offsets);
    for (name, plan, rules) in [
        ("baseline", &baseline, &[][..]),
        ("DMO", &dmo, &allowances[..]),
    ] {
        let conflicts = check_plan(&plan.buffers, &plan.offsets, rules);
        if let Some(conflict) = conflicts.first() {
            return Err(PlanError::InvalidPlan(format!("{name} plan: {conflict}")));
        }
    }
    if dmo.head != ByteCount(search.head) {
        return Err(PlanError::InvalidPlan(format!(
            "DMO head {} differs from TFLM's placement of it, {}",
            search.head, dmo.head.0
        )));
    }
    Ok(ModelPlan {
        offsets_from: source.provenance(),
        baseline_peak: peak_of(&baseline, &[]),
        dmo_peak: peak_of(&dmo, &allowances),
        layers,
        allowances,
        baseline,
        dmo,
        dmo_search: search,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    pub(crate) fn model(name: &str) -> Model {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/models")
            .join(name);
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
            assert!(
                check_plan(&plan.buffers, &plan.offsets, &[]).is_empty(),
                "{name}"
            );
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

#[cfg(test)]
mod dmo_tests {
    use super::*;

    pub(crate) fn reference_kernels() -> OffsetSource<'static> {
        OffsetSource::Kernels(dmo_ops::kernel_family("reference").unwrap())
    }

    /// "a DMO plan TFLM ran" column of `shared/models/README.md`: heads an
    /// independent implementation reached and TFLM verified.
    const REFERENCE_DMO_HEADS: [(&str, u64); 7] = [
        ("person_detect.tflite", 36880),
        ("kws_ref_model.tflite", 9792),
        ("pretrainedResnet_quant.tflite", 33312),
        ("micro_speech_quantized.tflite", 4176),
        ("ad01_int8.tflite", 768),
        ("hello_world_int8.tflite", 32),
        ("keyword_scrambled.tflite", 672),
    ];

    #[test]
    fn dmo_plans_pass_the_checker_and_match_or_beat_the_reference() {
        for (name, reference) in REFERENCE_DMO_HEADS {
            let model = crate::tests::model(name);
            let plan = plan_model(&model, reference_kernels(), SearchEffort::default()).unwrap();
            eprintln!(
                "{name}: baseline {} dmo {} bound {} ({}) reference {reference}",
                plan.baseline.head.0,
                plan.dmo.head.0,
                plan.dmo_search.lower_bound,
                plan.dmo_search.found_by
            );
            assert!(plan.dmo.head <= plan.baseline.head, "{name}");
            assert!(plan.dmo.head.0 >= plan.dmo_search.lower_bound, "{name}");
            // Every shared model's plan is provably optimal for its
            // allowances (kws_ref_model by the descending-chain argument).
            assert!(plan.dmo_search.proven_optimal, "{name}");
            assert!(check_plan(&plan.dmo.buffers, &plan.dmo.offsets, &plan.allowances).is_empty());
            assert!(
                plan.dmo.head.0 <= reference,
                "{name}: {} > reference {reference}",
                plan.dmo.head.0
            );
        }
    }
}
