//! Planning a damaged model gives a result or an error, never a panic:
//! byte mutations of real models (proptest) that still parse go through the
//! whole pipeline (lifetimes, dmo-ops models, both planners, the checker).

use dmo_plan::{check_plan, plan_model, OffsetSource, SearchEffort};
use dmo_tflite::Model;
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;

fn models() -> &'static Vec<Vec<u8>> {
    static MODELS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models");
        [
            "hello_world_int8.tflite",
            "micro_speech_quantized.tflite",
            "keyword_scrambled.tflite",
        ]
        .iter()
        .map(|name| std::fs::read(dir.join(name)).unwrap())
        .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_models_plan_or_fail_cleanly(
        model in 0usize..3,
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = models()[model].clone();
        for (index, value) in mutations {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        let Ok(parsed) = Model::parse(&bytes) else { return Ok(()) };
        let effort = SearchEffort { random_orderings: 2, local_search_moves: 20, exhaustive_up_to: 4 };
        let reference = OffsetSource::Kernels(dmo_ops::kernel_family("reference").unwrap());
        if let Ok(plan) = plan_model(&parsed, reference, effort) {
            // Whatever came out passed the checker inside plan_model; check
            // again from outside, and that DMO never loses to the baseline.
            prop_assert!(check_plan(&plan.dmo.buffers, &plan.dmo.offsets, &plan.allowances).is_empty());
            prop_assert!(plan.dmo.head <= plan.baseline.head);
        }
    }
}
