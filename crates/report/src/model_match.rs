//! `--model MODEL.tflite`: the traced ops tied to the model's operators, by
//! `dmo_plan::measured_offsets` (the matcher `dmo plan --offsets-from`
//! uses: order, kind and output size), so a report row shows the model's op
//! index and tensor names, and the report says plainly where trace and model
//! disagree (a missing op, a size mismatch, an extra call).

use crate::model::{ModelMatch, Report};
use dmo_core::OpSegment;
use dmo_plan::{measured_offsets, MinedPair};
use dmo_tflite::Model;
use dmo_trace::PairResult;

/// Matches `segments` (with their mined `pairs`) to `model`'s operators and
/// writes the model's op index and tensor names into `report`'s rows.
pub fn match_model(
    report: &mut Report,
    model: &Model,
    model_name: String,
    segments: &[OpSegment],
    pairs: &[PairResult],
) {
    let mined = pairs.iter().map(|pair| MinedPair {
        segment_index: pair.segment_index,
        input: &pair.input,
        output: &pair.output,
        overlap: &pair.overlap,
    });
    let (_, matching) = measured_offsets(model, segments, mined, String::new(), String::new());
    let tensor_name = |t: usize| model.tensors[t].name.clone();
    for row in &mut report.rows {
        let Some(&(operator, _)) = matching
            .matched
            .iter()
            .find(|(_, segment)| *segment == row.op_index)
        else {
            continue;
        };
        let op = &model.operators[operator];
        row.model_operator = Some(operator);
        row.model_output = op.outputs.first().map(|&t| tensor_name(t));
        // The activation input of the row's size (the first, if several).
        row.model_input = op
            .present_inputs()
            .filter(|&t| !model.tensors[t].is_constant)
            .find(|&t| model.tensors[t].byte_size().ok() == Some(row.input_bytes))
            .map(tensor_name);
    }
    let missing = matching
        .missing
        .iter()
        .map(|(operator, why)| {
            format!(
                "model op {operator} {}: {why}",
                model.operators[*operator].code
            )
        })
        .collect();
    let extra = matching
        .extra
        .iter()
        .map(|(segment, name, kind)| {
            format!(
                "traced op #{segment} {} ({kind}): extra call, no model operator left for it",
                dmo_core::demangle(name)
            )
        })
        .collect();
    report.model_match = Some(ModelMatch {
        model: model_name,
        operators: model.operators.len(),
        matched: matching.matched.len(),
        missing,
        extra,
    });
}
