//! The .tflite reader and what `dmo plan --emit-tflite` does with a model:
//! parse, tensor contents, plan (at a small search effort), write the
//! offline plan into a copy and parse that back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = dmo_tflite::Model::parse(data) else {
        return;
    };
    let _ = dmo_tflite::tensor_contents(data);
    let effort = dmo_plan::SearchEffort {
        random_orderings: 1,
        local_search_moves: 20,
        exhaustive_up_to: 3,
    };
    let Ok(plan) = dmo_plan::plan_model(&model, effort) else {
        return;
    };
    if let Ok(offsets) = plan.dmo.offline_offsets(&model) {
        if let Ok(emitted) = dmo_tflite::with_offline_plan(data, &offsets) {
            let _ = dmo_tflite::Model::parse(&emitted);
        }
    }
});
