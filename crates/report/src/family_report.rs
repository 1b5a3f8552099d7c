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
    /// For a traced firmware: the instructions its model ops ran, summed
    /// (`None` for a modelled family, or when some op was not counted).
    pub op_instructions: Option<u64>,
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
    /// What the operator's op cost in each traced firmware (one per
    /// `--offsets-from`, in order; empty without a trace).
    pub traced: Vec<TracedCost>,
}

/// One operator's op in one traced firmware: the speed side of its kernel order.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct TracedCost {
    /// The traced firmware's column name.
    pub name: String,
    /// Instructions the op ran (`None`: not matched, or a trace that did
    /// not count them per op).
    pub instructions: Option<u64>,
    /// Loads and stores the op made (`None`: not matched).
    pub memory_accesses: Option<u64>,
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
    /// `(name, offsets)` of each trace some of the plans are made from.
    pub fn build(
        model: &str,
        plans: &[(String, &ModelPlan)],
        measured: &[(String, MeasuredOffsets)],
    ) -> FamilyComparison {
        let traced = |operator: usize| -> Vec<TracedCost> {
            measured
                .iter()
                .map(|(name, offsets)| {
                    let op = offsets
                        .operators
                        .get(operator)
                        .and_then(|op| op.as_ref().ok());
                    TracedCost {
                        name: name.clone(),
                        instructions: op.and_then(|op| op.instructions),
                        memory_accesses: op.map(|op| op.memory_accesses),
                    }
                })
                .collect()
        };
        let families = plans
            .iter()
            .map(|(name, plan)| FamilyColumn {
                name: name.clone(),
                tflm_head: plan.baseline.head.0,
                dmo_head: plan.dmo.head.0,
                dmo_peak_operator: plan.dmo_peak.operator,
                op_instructions: measured.iter().find(|(traced, _)| traced == name).and_then(
                    |(_, offsets)| {
                        offsets
                            .operators
                            .iter()
                            .filter_map(|op| op.as_ref().ok())
                            .map(|op| op.instructions)
                            .sum::<Option<u64>>()
                    },
                ),
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
                    traced: traced(layer.operator),
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
            for trace in report.rows.first().map_or(&[][..], |row| &row.traced) {
                header.push(format!("{}_instructions", trace.name));
                header.push(format!("{}_memory_accesses", trace.name));
            }
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
                for trace in &row.traced {
                    record.push(text(trace.instructions));
                    record.push(text(trace.memory_accesses));
                }
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
    // The traced firmwares, and which of them counted instructions per op.
    let traces: Vec<(&str, bool)> = report.rows.first().map_or_else(Vec::new, |first| {
        (0..first.traced.len())
            .map(|index| {
                let counted = report
                    .rows
                    .iter()
                    .any(|row| row.traced[index].instructions.is_some());
                (first.traced[index].name.as_str(), counted)
            })
            .collect()
    });
    let mut header: Vec<String> = ["op", "kind", "in B", "out B"].map(String::from).to_vec();
    for family in &report.families {
        header.push(format!("{} s_mono", family.name));
        header.push(format!("{} footprint", family.name));
    }
    header.push("costs".into());
    for (name, counted) in &traces {
        if *counted {
            header.push(format!("{name} instructions"));
        }
        header.push(format!("{name} accesses"));
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
            for (trace, (_, counted)) in row.traced.iter().zip(&traces) {
                if *counted {
                    cells.push(dash(trace.instructions));
                }
                cells.push(dash(trace.memory_accesses));
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
    let with_instructions = report.families.iter().any(|f| f.op_instructions.is_some());
    let summary: Vec<Vec<String>> = report
        .families
        .iter()
        .map(|family| {
            let mut cells = vec![
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
            ];
            if with_instructions {
                cells.push(dash(family.op_instructions));
            }
            cells
        })
        .collect();
    let mut summary_header = vec!["kernels", "TFLM head", "DMO head", "DMO peak at", "vs best"];
    if with_instructions {
        summary_header.push("instructions (model ops)");
    }
    write_table(out, &summary_header, &summary, markdown)?;
    Ok(())
}
