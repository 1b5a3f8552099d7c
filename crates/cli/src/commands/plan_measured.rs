//! `dmo plan --offsets-from TRACE`: offsets measured on the user's own
//! firmware, matched to the model's operators, and where they exceed what a
//! kernel family's model predicts.

use anyhow::{bail, Context};
use dmo_core::RunEnd;
use dmo_plan::{measured_offsets, MatchReport, MeasuredOffsets, MinedPair};
use dmo_tflite::Model;
use dmo_trace::{BufferDiscovery, PairMiner, TraceReader};
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
