//! Ties the op segments of a trace to the operators of the model the traced
//! firmware runs, so that offsets measured on the firmware can plan the
//! model. Matching is by order, kind and buffer size: each operator takes the
//! next segment of its kind whose output buffer is as large as its output
//! tensor; segments skipped on the way are extra calls, and an operator with
//! no such segment is missing. A pair is matched by input size, in input
//! order, so an operator whose activation inputs all differ in size, or come
//! in the firmware's declaration order, gets each input's own pair.

use crate::overlaps::{MeasuredOffsets, MeasuredOperator, NotMeasured};
use crate::pair_offsets::PairOffsets;
use dmo_core::{Buffer, BufferRole, OpSegment};
use dmo_overlap::PairOverlap;
use dmo_tflite::Model;
use serde::Serialize;

/// One mined (input, output) pair of a trace, as `dmo_trace::PairMiner`
/// gives it.
#[derive(Clone, Copy, Debug)]
pub struct MinedPair<'a> {
    /// Index of the op segment in the trace.
    pub segment_index: usize,
    pub input: &'a Buffer,
    pub output: &'a Buffer,
    pub overlap: &'a PairOverlap,
}

/// How well the trace and the model line up.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct MatchReport {
    /// `(operator, segment index)` of every matched operator.
    pub matched: Vec<(usize, usize)>,
    /// Operators with no segment, and why.
    pub missing: Vec<(usize, String)>,
    /// Segments no operator took: `(segment index, name, kind)`.
    pub extra: Vec<(usize, String, String)>,
}

/// The measured offsets of every operator of `model` from a trace's
/// segments and mined pairs, and how the two matched.
pub fn measured_offsets<'a>(
    model: &Model,
    segments: &[OpSegment],
    pairs: impl IntoIterator<Item = MinedPair<'a>>,
    trace: String,
    elf_sha256: String,
) -> (MeasuredOffsets, MatchReport) {
    let pairs: Vec<MinedPair<'a>> = pairs.into_iter().collect();
    let mut report = MatchReport::default();
    let mut operators = Vec::with_capacity(model.operators.len());
    let mut cursor = 0;
    for (index, operator) in model.operators.iter().enumerate() {
        let kind = operator.code.to_string();
        let output_bytes = operator
            .outputs
            .first()
            .and_then(|&t| model.tensors[t].byte_size().ok());
        let found = (cursor..segments.len()).find(|&s| {
            let segment = &segments[s];
            segment.kind.eq_ignore_ascii_case(&kind)
                && output_bytes.is_some_and(|bytes| {
                    segment
                        .buffers_with_role(BufferRole::Output)
                        .any(|b| u64::from(b.len) == bytes)
                })
        });
        let Some(segment_index) = found else {
            let same_kind =
                (cursor..segments.len()).find(|&s| segments[s].kind.eq_ignore_ascii_case(&kind));
            let why = match same_kind {
                Some(s) => NotMeasured::SizeMismatch {
                    kind: kind.clone(),
                    segment: s,
                    written: segments[s]
                        .buffers_with_role(BufferRole::Output)
                        .map(|b| b.len)
                        .collect(),
                    tensor: operator
                        .outputs
                        .first()
                        .map_or("?".into(), |&t| model.tensors[t].name.clone()),
                    wanted: output_bytes,
                },
                None => NotMeasured::Missing {
                    kind: kind.clone(),
                    after: cursor,
                    wanted: output_bytes,
                },
            };
            report.missing.push((index, why.to_string()));
            operators.push(Err(why));
            continue;
        };
        for (skipped, segment) in segments.iter().enumerate().take(segment_index).skip(cursor) {
            report
                .extra
                .push((skipped, segment.name.clone(), segment.kind.clone()));
        }
        cursor = segment_index + 1;
        report.matched.push((index, segment_index));
        let segment_pairs: Vec<&MinedPair> = pairs
            .iter()
            .filter(|p| {
                p.segment_index == segment_index && output_bytes == Some(u64::from(p.output.len))
            })
            .collect();
        let time = segments[segment_index].time;
        operators.push(Ok(MeasuredOperator {
            op_name: segments[segment_index].name.clone(),
            memory_accesses: time.end.0.saturating_sub(time.start.0),
            instructions: segments[segment_index].instructions,
            pairs: input_pairs(model, index, &segment_pairs),
        }));
    }
    for (skipped, segment) in segments.iter().enumerate().skip(cursor) {
        report
            .extra
            .push((skipped, segment.name.clone(), segment.kind.clone()));
    }
    (
        MeasuredOffsets {
            trace,
            elf_sha256,
            operators,
        },
        report,
    )
}

/// Each activation input of operator `index` with the first unused pair
/// whose input buffer has its size.
fn input_pairs(model: &Model, index: usize, pairs: &[&MinedPair]) -> Vec<(usize, PairOffsets)> {
    let mut used = vec![false; pairs.len()];
    let mut matched = Vec::new();
    for tensor in model.operators[index].present_inputs() {
        let t = &model.tensors[tensor];
        if t.is_constant {
            continue;
        }
        let Ok(bytes) = t.byte_size() else { continue };
        let Some(position) =
            (0..pairs.len()).find(|&p| !used[p] && u64::from(pairs[p].input.len) == bytes)
        else {
            continue;
        };
        used[position] = true;
        matched.push((tensor, PairOffsets::from(pairs[position].overlap)));
    }
    matched
}
