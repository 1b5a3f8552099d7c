//! Arena planning for TensorFlow Lite Micro (`shared/DESIGN.md`, "Arena
//! planning").
//!
//! - [`plan_buffers`]: the one planning entry point. Buffers with lifetimes
//!   and the pairs with known safe offsets, from any source, in; TFLM's
//!   greedy plan and the DMO plan, both checked, out. It owns the step from
//!   a pair to an allowance (alignment, the lifetime and RESHAPE rules).
//! - [`plan_model`]: a `.tflite` model's buffers ([`arena_buffers`]) and
//!   per-layer overlaps (dmo-ops' models of a kernel family, or offsets
//!   measured on a trace), planned by `plan_buffers`.
//! - [`plan_trace`]: a trace's activation buffers and mined pairs, planned
//!   by `plan_buffers`, beside the firmware's own placement.
//! - [`tflm_baseline`]: TFLM's own greedy plan, reproduced exactly.
//! - [`check_plan`]: an independent checker every printed or written plan
//!   passes.

mod arena_plan;
mod checker;
mod dmo_planner;
mod error;
mod excess;
mod greedy;
mod lifetimes;
mod matching;
mod mcu;
mod model_buffers;
mod model_plan;
mod operators;
mod overlaps;
mod pair_offsets;
mod planned_model;
mod record;
mod trace_plan;

pub use arena_plan::{
    allowance, lifetimes_forbid_overlap, peak_of, plan_buffers, tflm_baseline, tflm_baseline_for,
    tflm_greedy, tflm_with_offline_tensors, ArenaPlan, BufferPlan, OverlapCandidate, Peak,
    Unusable,
};
pub use checker::{check_plan, Conflict, OverlapAllowance};
pub use dmo_planner::{
    lower_bound, no_smaller_plan_exists, plan_dmo, scope_lower_bound, DmoSearchResult, SearchEffort,
};
pub use error::{InvalidPlan, PlanError, PlanSide};
pub use excess::{excesses, Excess};
pub use greedy::{greedy_offsets, head_size, PlannerRequest};
pub use lifetimes::{align_up, ArenaBuffer, BufferSource, Scope, BUFFER_ALIGNMENT};
pub use matching::{measured_offsets, MatchReport, MinedPair};
pub use mcu::{mcu_catalogue, Mcu};
pub use model_buffers::{arena_buffers, arena_buffers_for, scratch_requests, scratch_requests_for};
pub use model_plan::{plan_model, ModelPlan};
pub use overlaps::{
    analyse_layers, overlap_candidates, LayerAnalysis, LayerPair, MeasuredOffsets,
    MeasuredOperator, NoOffsets, NotMeasured, OffsetSource, OffsetsProvenance,
};
pub use pair_offsets::PairOffsets;
pub use planned_model::{planned_model_bytes, EmitPlanError};
pub use record::{PlanRecord, RecordError, RecordedPair, PLAN_RECORD_METADATA};
pub use trace_plan::{plan_trace, TraceBuffer, TracePlan};

#[cfg(test)]
use dmo_tflite::Model;

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
    const TFLM_HEADS: [(&str, u64); 8] = [
        ("person_detect.tflite", 55296),
        ("kws_ref_model.tflite", 16000),
        ("pretrainedResnet_quant.tflite", 49152),
        ("micro_speech_quantized.tflite", 5968),
        ("ad01_int8.tflite", 768),
        ("hello_world_int8.tflite", 32),
        ("keyword_scrambled.tflite", 672),
        // Four LSTM scratch buffers of 40 B (1 batch x 20 cells x int16) take
        // 4 x 48 B beside the 784 B input and 560 B output: 1536.
        ("trained_lstm_int8.tflite", 1536),
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
