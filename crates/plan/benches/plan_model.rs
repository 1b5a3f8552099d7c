//! Speed target: `dmo plan` on any shared model in well under a second.
//! Measures the whole planning pipeline (lifetimes, dmo-ops simulation of
//! every layer, baseline, DMO search, checker) per model.

use criterion::{criterion_group, criterion_main, Criterion};
use dmo_plan::{plan_model, OffsetSource, SearchEffort};
use dmo_tflite::Model;
use std::path::PathBuf;

fn bench_models(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models");
    let reference = OffsetSource::Kernels(dmo_ops::kernel_family("reference").unwrap());
    for name in [
        "person_detect.tflite",
        "kws_ref_model.tflite",
        "pretrainedResnet_quant.tflite",
    ] {
        let model = Model::read(&dir.join(name)).unwrap();
        c.bench_function(&format!("plan_model/{name}"), |b| {
            b.iter(|| plan_model(&model, reference, SearchEffort::default()).unwrap())
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_models
}
criterion_main!(benches);
