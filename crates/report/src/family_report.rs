//! `dmo plan --kernels all`: one model planned for every kernel family dmo
//! models (and, given a trace, for the firmware that was traced), side by
//! side: per layer the offset and footprint each loop order allows, each
//! family's heads, and the layers where a family pays for its loop order.
//! It shows the RAM side of choosing a kernel library; with a trace, the
//! instructions and memory accesses each op took show the speed side.

use crate::table::write_table;
use crate::{Format, ReportError};
use dmo_plan::{LayerAnalysis, MeasuredOffsets, ModelPlan};
use serde::Serialize;
use std::io::Write;

/// One family's (or the traced firmware's) plan of the model.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct FamilyColumn {
    /// `reference`, `cmsis-nn`, ... or `trace` for measured offsets.
    pub name: String,
    pub tflm_head: u64,
    pub dmo_head: u64,
    /// The operator where the DMO plan peaks.
    pub dmo_peak_operator: Option<usize>,
}

/// One family's view of one (input, output) pair.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct FamilyCell {
    pub s_mono: Option<u64>,
    pub u_mono: Option<u64>,
    /// Unaligned footprint at the better monotone placement.
    pub footprint: Option<u64>,
    /// Why there is no offset (not modelled, not in the trace).
    pub missing: Option<String>,
}

/// One pair of one operator, under every family.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct FamilyRow {
    pub operator: usize,
    pub kind: String,
    pub input_tensor: Option<usize>,
    pub input_bytes: Option<u64>,
    pub output_bytes: Option<u64>,
    /// In the order of [`FamilyComparison::families`].
    pub cells: Vec<FamilyCell>,
    /// `(family, bytes)`: how much larger the pair's footprint is under
    /// that family than under the best one.
    pub costs: Vec<(String, u64)>,
    /// Loads and stores of the traced op (with a trace).
    pub memory_accesses: Option<u64>,
    /// Instructions the traced op ran (with a trace that counted them).
    pub instructions: Option<u64>,
}

/// The model under every family.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct FamilyComparison {
    pub model: String,
    pub families: Vec<FamilyColumn>,
    pub rows: Vec<FamilyRow>,
}

impl FamilyComparison {
    /// `plans`: `(name, plan)` per family, all of the same model; `measured`:
    /// the trace's offsets when one of the plans is made from a trace.
    pub fn build(
        model: &str,
        plans: &[(String, &ModelPlan)],
        measured: Option<&MeasuredOffsets>,
    ) -> FamilyComparison {
        let measured_op = |operator: usize| {
            measured.and_then(|m| m.operators.get(operator).and_then(|op| op.as_ref().ok()))
        };
        let families = plans
            .iter()
            .map(|(name, plan)| FamilyColumn {
                name: name.clone(),
                tflm_head: plan.baseline.head.0,
                dmo_head: plan.dmo.head.0,
                dmo_peak_operator: plan.dmo_peak.operator,
            })
            .collect();
        let mut rows = Vec::new();
        let Some((_, first)) = plans.first() else {
            return FamilyComparison {
                model: model.to_owned(),
                families,
                rows,
            };
        };
        for layer in &first.layers {
            // Every input tensor any family has a pair for, in first-seen order.
            let mut inputs: Vec<Option<usize>> = Vec::new();
            for (_, plan) in plans {
                for pair in &plan.layers[layer.operator].pairs {
                    if !inputs.contains(&Some(pair.input_tensor)) {
                        inputs.push(Some(pair.input_tensor));
                    }
                }
            }
            if inputs.is_empty() {
                inputs.push(None);
            }
            for input in inputs {
                let cells: Vec<FamilyCell> = plans
                    .iter()
                    .map(|(_, plan)| cell(&plan.layers[layer.operator], input))
                    .collect();
                let best = cells.iter().filter_map(|c| c.footprint).min();
                let costs = plans
                    .iter()
                    .zip(&cells)
                    .filter_map(|((name, _), cell)| {
                        let extra = cell.footprint? - best?;
                        (extra > 0).then(|| (name.clone(), extra))
                    })
                    .collect();
                let sizes = plans.iter().find_map(|(_, plan)| {
                    plan.layers[layer.operator]
                        .pairs
                        .iter()
                        .find(|p| Some(p.input_tensor) == input)
                        .and_then(|p| p.offsets.as_ref().ok())
                        .map(|o| (o.input_bytes, o.output_bytes))
                });
                rows.push(FamilyRow {
                    operator: layer.operator,
                    kind: layer.kind.clone(),
                    input_tensor: input,
                    input_bytes: sizes.map(|s| s.0),
                    output_bytes: sizes.map(|s| s.1),
                    cells,
                    costs,
                    memory_accesses: measured_op(layer.operator).map(|op| op.memory_accesses),
                    instructions: measured_op(layer.operator).and_then(|op| op.instructions),
                });
            }
        }
        FamilyComparison {
            model: model.to_owned(),
            families,
            rows,
        }
    }
}

fn cell(layer: &LayerAnalysis, input: Option<usize>) -> FamilyCell {
    if let Some(reason) = &layer.not_modelled {
        return FamilyCell {
            s_mono: None,
            u_mono: None,
            footprint: None,
            missing: Some(reason.to_string()),
        };
    }
    match layer.pairs.iter().find(|p| Some(p.input_tensor) == input) {
        Some(pair) => match &pair.offsets {
            Ok(offsets) => FamilyCell {
                s_mono: Some(offsets.s_mono),
                u_mono: Some(offsets.u_mono),
                footprint: Some(offsets.monotone_footprint().0),
                missing: None,
            },
            Err(reason) => FamilyCell {
                s_mono: None,
                u_mono: None,
                footprint: None,
                missing: Some(reason.to_string()),
            },
        },
        None => FamilyCell {
            s_mono: None,
            u_mono: None,
            footprint: None,
            missing: Some("no pair".into()),
        },
    }
}

/// Renders the comparison.
pub fn render_families(report: &FamilyComparison, format: Format) -> Result<String, ReportError> {
    let mut out = Vec::new();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(&mut out);
            let mut header = vec![
                "operator",
                "kind",
                "input_tensor",
                "input_bytes",
                "output_bytes",
            ]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
            for family in &report.families {
                header.push(format!("{}_s_mono", family.name));
                header.push(format!("{}_footprint", family.name));
            }
            header.push("instructions".into());
            header.push("memory_accesses".into());
            writer.write_record(&header)?;
            for row in &report.rows {
                let mut record = vec![
                    row.operator.to_string(),
                    row.kind.clone(),
                    text(row.input_tensor),
                    text(row.input_bytes),
                    text(row.output_bytes),
                ];
                for cell in &row.cells {
                    record.push(text(cell.s_mono));
                    record.push(text(cell.footprint));
                }
                record.push(text(row.instructions));
                record.push(text(row.memory_accesses));
                writer.write_record(&record)?;
            }
            writer.flush()?;
        }
        Format::Table | Format::Markdown => {
            write_text(&mut out, report, format == Format::Markdown)?
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn text(value: Option<impl ToString>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

fn write_text(
    out: &mut Vec<u8>,
    report: &FamilyComparison,
    markdown: bool,
) -> Result<(), ReportError> {
    let dash = |value: Option<u64>| value.map_or_else(|| "-".to_string(), |v| v.to_string());
    if markdown {
        writeln!(
            out,
            "## {}: DMO offsets under each kernel family\n",
            report.model
        )?;
    } else {
        writeln!(
            out,
            "{}: DMO offsets under each kernel family\n",
            report.model
        )?;
    }
    let with_accesses = report.rows.iter().any(|r| r.memory_accesses.is_some());
    let with_instructions = report.rows.iter().any(|r| r.instructions.is_some());
    let mut header: Vec<String> = ["op", "kind", "in B", "out B"].map(String::from).to_vec();
    for family in &report.families {
        header.push(format!("{} s_mono", family.name));
        header.push(format!("{} footprint", family.name));
    }
    header.push("costs".into());
    // Both come from the traced firmware, whose offsets are the last family.
    if with_instructions {
        header.push("traced instructions".into());
    }
    if with_accesses {
        header.push("traced accesses".into());
    }
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|row| {
            let mut cells = vec![
                row.operator.to_string(),
                row.kind.clone(),
                dash(row.input_bytes),
                dash(row.output_bytes),
            ];
            for cell in &row.cells {
                cells.push(dash(cell.s_mono));
                cells.push(dash(cell.footprint));
            }
            cells.push(
                row.costs
                    .iter()
                    .map(|(name, bytes)| format!("{name} +{bytes} B"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            if with_instructions {
                cells.push(dash(row.instructions));
            }
            if with_accesses {
                cells.push(dash(row.memory_accesses));
            }
            cells
        })
        .collect();
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    write_table(out, &header_refs, &rows, markdown)?;
    writeln!(out)?;
    let best = report
        .families
        .iter()
        .map(|f| f.dmo_head)
        .min()
        .unwrap_or(0);
    let summary: Vec<Vec<String>> = report
        .families
        .iter()
        .map(|family| {
            vec![
                family.name.clone(),
                format!("{} B", family.tflm_head),
                format!("{} B", family.dmo_head),
                family
                    .dmo_peak_operator
                    .map_or("model input".into(), |op| format!("op {op}")),
                if family.dmo_head > best {
                    format!("+{} B", family.dmo_head - best)
                } else {
                    "smallest".into()
                },
            ]
        })
        .collect();
    write_table(
        out,
        &["kernels", "TFLM head", "DMO head", "DMO peak at", "vs best"],
        &summary,
        markdown,
    )?;
    Ok(())
}
