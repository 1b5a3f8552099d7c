//! `dmo plan --offsets-from TRACE`: offsets measured on the user's own
//! firmware, matched to the model's operators, and where they exceed what a
//! kernel family's model predicts.

use anyhow::{bail, Context};
use dmo_core::RunEnd;
use dmo_plan::{
    analyse_layers, measured_offsets, tflm_baseline, LayerAnalysis, MatchReport, MeasuredOffsets,
    MinedPair, OffsetSource,
};
use dmo_tflite::Model;
use dmo_trace::{BufferDiscovery, PairMiner, TraceReader};
use serde::Serialize;
use std::path::Path;

/// Reads `trace`, mines every pair of every op, and matches the ops to the
/// operators of `model`.
pub fn measure(trace: &Path, model: &Model) -> anyhow::Result<(MeasuredOffsets, MatchReport)> {
    let reader = TraceReader::open(trace)?;
    // Offsets from a cut-short run may miss the reads that make them unsafe.
    if !reader.is_complete() || !matches!(reader.metadata().status, RunEnd::Complete { .. }) {
        bail!(
            "{}: the traced run did not complete ({:?}); measured offsets need a whole run",
            trace.display(),
            reader.metadata().status
        );
    }
    let segments = BufferDiscovery::segments_to_mine(&reader)
        .with_context(|| format!("{}", trace.display()))?;
    let pairs =
        PairMiner::of_trace(&reader, &segments).with_context(|| format!("{}", trace.display()))?;
    let sha: String = reader
        .metadata()
        .elf_sha256
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let mined = pairs.iter().map(|pair| MinedPair {
        segment_index: pair.segment_index,
        input: &pair.input,
        output: &pair.output,
        overlap: &pair.overlap,
    });
    let (measured, matching) =
        measured_offsets(model, &segments, mined, trace.display().to_string(), sha);
    if matching.matched.is_empty() && !model.operators.is_empty() {
        bail!(
            "{}: none of its {} ops matches an operator of the model (by order, kind and output size); is it a trace of a firmware running this model?",
            trace.display(),
            segments.len()
        );
    }
    Ok((measured, matching))
}

/// A pair whose measured offset is larger than a family's model predicts:
/// a plan made for that family would break this firmware there.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Excess {
    pub operator: usize,
    pub kind: String,
    pub input_tensor: usize,
    pub family: String,
    pub predicted_s_mono: u64,
    pub measured_s_mono: u64,
    pub predicted_u_mono: u64,
    pub measured_u_mono: u64,
}

/// Every pair where `measured` needs a larger down or up offset than
/// `family` predicts.
pub fn excesses(
    model: &Model,
    measured: &[LayerAnalysis],
    family: &dmo_ops::KernelFamily,
) -> anyhow::Result<Vec<Excess>> {
    let buffers = tflm_baseline(model)?.buffers;
    let predicted = analyse_layers(model, &buffers, OffsetSource::Kernels(family))?;
    let mut found = Vec::new();
    for (measured, predicted) in measured.iter().zip(&predicted) {
        for pair in &measured.pairs {
            let Ok(got) = pair.offsets else { continue };
            let Some(Ok(expected)) = predicted
                .pairs
                .iter()
                .find(|p| p.input_tensor == pair.input_tensor)
                .map(|p| p.offsets.clone())
            else {
                continue;
            };
            if got.s_mono > expected.s_mono || got.u_mono > expected.u_mono {
                found.push(Excess {
                    operator: measured.operator,
                    kind: measured.kind.clone(),
                    input_tensor: pair.input_tensor,
                    family: family.name.clone(),
                    predicted_s_mono: expected.s_mono,
                    measured_s_mono: got.s_mono,
                    predicted_u_mono: expected.u_mono,
                    measured_u_mono: got.u_mono,
                });
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn only_pairs_needing_more_than_the_family_predicts_are_listed() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/models/kws_ref_model.tflite");
        let model = Model::read(&path).unwrap();
        let reference = dmo_ops::kernel_family("reference").unwrap();
        let buffers = tflm_baseline(&model).unwrap().buffers;
        let mut measured =
            analyse_layers(&model, &buffers, OffsetSource::Kernels(reference)).unwrap();
        // Control: the family's own offsets exceed nothing.
        assert!(excesses(&model, &measured, reference).unwrap().is_empty());

        // Op 2 (1x1 CONV_2D, 8000 -> 8000 B; reference s_mono 63) as a
        // CMSIS-NN-like order would measure it: output bytes - 2.
        let pair = &mut measured[2].pairs[0];
        let mut offsets = pair.offsets.clone().unwrap();
        assert_eq!(offsets.s_mono, 63);
        offsets.s_mono = 7998;
        pair.offsets = Ok(offsets);
        let found = excesses(&model, &measured, reference).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].operator, found[0].measured_s_mono), (2, 7998));
        assert_eq!(found[0].predicted_s_mono, 63);
    }
}
