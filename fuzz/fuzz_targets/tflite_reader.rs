//! The .tflite reader and what `dmo plan --emit-tflite` does with a model.
//! On every input: parse, tensor contents, every operator's description
//! (shapes, windows, checked sizes), TFLM's greedy baseline, an offline plan
//! written into a copy and parsed back. The whole DMO plan (loop-nest
//! simulation of every op plus the search, tens of milliseconds for the
//! larger models) for one input in 64, chosen by a hash of its bytes, so
//! that a campaign of 10^6 inputs fits in minutes; the mutation test
//! (crates/cli/tests/mutation.rs) plans every one of its mutants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = dmo_tflite::Model::parse(data) else {
        return;
    };
    let _ = dmo_tflite::tensor_contents(data);
    for index in 0..model.operators.len() {
        let _ = dmo_plan::describe(&model, index);
    }
    let _ = dmo_plan::tflm_baseline(&model);
    let offsets = vec![-1; model.total_tensor_count()];
    if let Ok(emitted) = dmo_tflite::with_offline_plan(data, &offsets) {
        let _ = dmo_tflite::Model::parse(&emitted);
    }
    let hash = data
        .iter()
        .fold(0u32, |h, &b| h.wrapping_mul(31).wrapping_add(b as u32));
    if hash % 64 == 0 {
        let effort = dmo_plan::SearchEffort {
            random_orderings: 1,
            local_search_moves: 20,
            exhaustive_up_to: 3,
        };
        if let Ok(plan) = dmo_plan::plan_model(&model, effort) {
            if let Ok(offsets) = plan.dmo.offline_offsets(&model) {
                let _ = dmo_tflite::with_offline_plan(data, &offsets);
            }
        }
    }
});
