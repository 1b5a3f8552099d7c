//! The model-plan report of `dmo plan`: per-layer overlaps of a `.tflite`
//! model, the TFLM-greedy and DMO heads, where each peaks, which MCUs hold
//! them, and which kernels the offsets hold for; rendered as a table,
//! markdown, JSON or CSV. The trace report (`crate::Report`) is its sibling:
//! both render through the same table writer.

use crate::table::write_table;
use crate::{Format, ReportError};
use dmo_plan::{
    ArenaPlan, BufferSource, Excess, MatchReport, Mcu, ModelPlan, OffsetsProvenance, Peak,
    PlanRecord,
};
use dmo_tflite::Model;
use serde::Serialize;
use std::io::Write;

/// One row of the per-layer table: one (input, output) pair of an operator.
#[derive(Serialize)]
pub struct LayerRow {
    pub operator: usize,
    pub kind: String,
    pub input_tensor: Option<usize>,
    pub output_tensor: Option<usize>,
    pub input_bytes: Option<u64>,
    pub output_bytes: Option<u64>,
    pub s_min: Option<u64>,
    pub s_mono: Option<u64>,
    pub u_mono: Option<u64>,
    pub pair_footprint: Option<u64>,
    pub saving: Option<u64>,
    /// Whether the DMO plan may overlap this pair, or why not.
    pub note: String,
}

#[derive(Serialize)]
pub struct McuRow {
    pub name: String,
    pub sram_bytes: u64,
    pub fits_tflm: bool,
    pub fits_dmo: bool,
    pub only_with_dmo: bool,
}

#[derive(Serialize)]
pub struct PeakReport {
    pub operator: Option<usize>,
    pub kind: Option<String>,
    pub live: Vec<String>,
}

/// Everything `dmo plan` reports about one model.
#[derive(Serialize)]
pub struct PlanReport {
    pub model: String,
    /// The kernels (or traced firmware) the DMO offsets hold for.
    pub offsets_from: OffsetsProvenance,
    /// True when no --kernels was given and `reference` was assumed.
    pub offsets_assumed: bool,
    /// The plan record the input model already carries (a model written by
    /// `dmo plan --emit-tflite`), if any.
    pub carried_plan: Option<OffsetsProvenance>,
    /// With --offsets-from: how the trace's ops matched the model's operators.
    pub trace_match: Option<MatchReport>,
    /// With --offsets-from and --kernels: pairs where the firmware needs a
    /// larger offset than the family's model predicts.
    pub larger_than_predicted: Vec<Excess>,
    pub subgraphs: usize,
    pub operators: usize,
    pub tflm_head: u64,
    pub dmo_head: u64,
    pub saving_percent: f64,
    pub dmo_lower_bound: u64,
    /// No plan with these safe offsets has a smaller head.
    pub dmo_proven_optimal: bool,
    pub dmo_found_by: String,
    pub tflm_peak: PeakReport,
    pub dmo_peak: PeakReport,
    pub layers: Vec<LayerRow>,
    /// Offline plan written with `--emit-tflite`: one offset per tensor (-1 = TFLM plans it).
    pub dmo_offline_offsets: Vec<i32>,
    pub mcus: Vec<McuRow>,
}

impl PlanReport {
    /// The report of `plan`, made for `model` (read from `path`).
    pub fn build(
        path: &str,
        model: &Model,
        plan: &ModelPlan,
        mcus: &[Mcu],
        offsets_assumed: bool,
    ) -> Result<PlanReport, ReportError> {
        let carried_plan = PlanRecord::of_model(model)?.map(|record| record.offsets_from);
        let mut layers = Vec::new();
        for layer in &plan.layers {
            if let Some(reason) = &layer.not_modelled {
                layers.push(LayerRow {
                    operator: layer.operator,
                    kind: layer.kind.clone(),
                    input_tensor: None,
                    output_tensor: layer.output_tensor,
                    input_bytes: None,
                    output_bytes: None,
                    s_min: None,
                    s_mono: None,
                    u_mono: None,
                    pair_footprint: None,
                    saving: None,
                    note: format!("no overlap: {reason}"),
                });
                continue;
            }
            for pair in &layer.pairs {
                let offsets = pair.offsets.as_ref().ok();
                let note = match (&pair.offsets, &pair.unusable_because) {
                    (Err(reason), _) => format!("no overlap: {reason}"),
                    (Ok(_), Some(why)) => format!("not used: {why}"),
                    (Ok(_), None) => "usable".to_string(),
                };
                layers.push(LayerRow {
                    operator: layer.operator,
                    kind: layer.kind.clone(),
                    input_tensor: Some(pair.input_tensor),
                    output_tensor: layer.output_tensor,
                    input_bytes: offsets.map(|o| o.input_bytes),
                    output_bytes: offsets.map(|o| o.output_bytes),
                    s_min: offsets.map(|o| o.s_min),
                    s_mono: offsets.map(|o| o.s_mono),
                    u_mono: offsets.map(|o| o.u_mono),
                    pair_footprint: offsets.map(|o| o.monotone_footprint().0),
                    saving: offsets.map(|o| o.saving().0),
                    note,
                });
            }
        }
        let mcus = mcus
            .iter()
            .map(|m| McuRow {
                name: m.name.clone(),
                sram_bytes: m.sram_bytes(),
                fits_tflm: m.fits(plan.baseline.head.0),
                fits_dmo: m.fits(plan.dmo.head.0),
                only_with_dmo: m.fits(plan.dmo.head.0) && !m.fits(plan.baseline.head.0),
            })
            .collect();
        Ok(PlanReport {
            model: path.to_owned(),
            offsets_from: plan.offsets_from.clone(),
            offsets_assumed,
            carried_plan,
            trace_match: None,
            larger_than_predicted: Vec::new(),
            subgraphs: model.subgraph_count(),
            operators: model.operators.len(),
            tflm_head: plan.baseline.head.0,
            dmo_head: plan.dmo.head.0,
            saving_percent: plan.saving_percent(),
            dmo_lower_bound: plan.dmo_search.lower_bound,
            dmo_proven_optimal: plan.dmo_search.proven_optimal,
            dmo_found_by: plan.dmo_search.found_by.clone(),
            tflm_peak: peak_report(model, &plan.baseline, &plan.baseline_peak),
            dmo_peak: peak_report(model, &plan.dmo, &plan.dmo_peak),
            layers,
            dmo_offline_offsets: plan.dmo.offline_offsets(model)?,
            mcus,
        })
    }
}

fn peak_report(model: &Model, plan: &ArenaPlan, peak: &Peak) -> PeakReport {
    let live = peak
        .live_buffers
        .iter()
        .map(|&index| {
            let buffer = &plan.buffers[index];
            let what = match buffer.source {
                BufferSource::Tensor(t) => format!("tensor {t} {}", model.tensors[t].name),
                BufferSource::Scratch { operator, request } => {
                    format!("scratch {request} of op {operator}")
                }
            };
            format!("{what} ({} B at {})", buffer.bytes.0, plan.offsets[index])
        })
        .collect();
    PeakReport {
        operator: peak.operator,
        kind: peak.operator.map(|op| model.operators[op].code.to_string()),
        live,
    }
}

/// Renders one model's report.
pub fn render_plan(report: &PlanReport, format: Format) -> Result<String, ReportError> {
    let mut out = Vec::new();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
        }
        Format::Csv => write_csv(&mut out, report)?,
        Format::Table => write_text(&mut out, report, false)?,
        Format::Markdown => write_text(&mut out, report, true)?,
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Renders one summary row per model, and the MCU table across models.
pub fn render_plan_summary(reports: &[PlanReport], format: Format) -> Result<String, ReportError> {
    let mut out = Vec::new();
    write_summary(&mut out, reports, format)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// One row per model, and the MCU table across models: which chips hold the
/// arena head with TFLM's plan, and which only with DMO's.
fn write_summary(
    out: &mut impl Write,
    reports: &[PlanReport],
    format: Format,
) -> Result<(), ReportError> {
    #[derive(Serialize)]
    struct SummaryRow<'a> {
        model: &'a str,
        operators: usize,
        tflm_head: u64,
        dmo_head: u64,
        saving_percent: String,
        dmo_lower_bound: u64,
        dmo_proven_optimal: bool,
        dmo_peak_operator: String,
        offsets_for: String,
    }
    let name = |r: &PlanReport| -> String {
        std::path::Path::new(&r.model)
            .file_name()
            .map_or(r.model.clone(), |n| n.to_string_lossy().into_owned())
    };
    let names: Vec<String> = reports.iter().map(name).collect();
    let rows: Vec<SummaryRow> = reports
        .iter()
        .zip(&names)
        .map(|(r, name)| SummaryRow {
            model: name,
            operators: r.operators,
            tflm_head: r.tflm_head,
            dmo_head: r.dmo_head,
            saving_percent: format!("{:.1}", r.saving_percent),
            dmo_lower_bound: r.dmo_lower_bound,
            dmo_proven_optimal: r.dmo_proven_optimal,
            dmo_peak_operator: peak_text(&r.dmo_peak),
            offsets_for: offsets_text(r),
        })
        .collect();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, reports)?;
            writeln!(out)?;
            return Ok(());
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(&mut *out);
            for row in &rows {
                writer.serialize(row)?;
            }
            writer.flush()?;
            return Ok(());
        }
        Format::Table | Format::Markdown => {}
    }
    let markdown = matches!(format, Format::Markdown);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.model.to_string(),
                r.operators.to_string(),
                r.tflm_head.to_string(),
                r.dmo_head.to_string(),
                format!("{}%", r.saving_percent),
                r.dmo_lower_bound.to_string(),
                if r.dmo_proven_optimal {
                    "yes"
                } else {
                    "not proven"
                }
                .to_string(),
                r.dmo_peak_operator.clone(),
                r.offsets_for.clone(),
            ]
        })
        .collect();
    write_table(
        out,
        &[
            "model",
            "ops",
            "TFLM head B",
            "DMO head B",
            "saving",
            "DMO lower bound B",
            "DMO optimal",
            "DMO peak at",
            "DMO offsets hold for",
        ],
        &cells,
        markdown,
    )?;
    if reports.iter().any(|r| !r.mcus.is_empty()) {
        writeln!(out)?;
        let mut header = vec!["MCU".to_string(), "SRAM B".to_string()];
        header.extend(names.iter().cloned());
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mcu_rows: Vec<Vec<String>> = reports[0]
            .mcus
            .iter()
            .enumerate()
            .map(|(index, mcu)| {
                let mut row = vec![mcu.name.clone(), mcu.sram_bytes.to_string()];
                row.extend(reports.iter().map(|r| {
                    let m = &r.mcus[index];
                    match (m.fits_tflm, m.fits_dmo) {
                        (true, _) => "fits".to_string(),
                        (false, true) => "only with DMO".to_string(),
                        (false, false) => "no".to_string(),
                    }
                }));
                row
            })
            .collect();
        write_table(out, &header, &mcu_rows, markdown)?;
    }
    Ok(())
}

fn option(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn write_csv(out: &mut impl Write, report: &PlanReport) -> Result<(), ReportError> {
    let mut writer = csv::Writer::from_writer(out);
    for row in &report.layers {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(())
}

fn write_text(
    out: &mut impl Write,
    report: &PlanReport,
    markdown: bool,
) -> Result<(), ReportError> {
    let header = [
        "op",
        "kind",
        "in tensor",
        "in B",
        "out B",
        "s_mono",
        "u_mono",
        "pair footprint",
        "saving",
        "note",
    ];
    let rows: Vec<Vec<String>> = report
        .layers
        .iter()
        .map(|r| {
            vec![
                r.operator.to_string(),
                r.kind.clone(),
                option(r.input_tensor),
                option(r.input_bytes),
                option(r.output_bytes),
                option(r.s_mono),
                option(r.u_mono),
                option(r.pair_footprint),
                option(r.saving),
                r.note.clone(),
            ]
        })
        .collect();
    if markdown {
        writeln!(out, "## {}\n", report.model)?;
    } else {
        writeln!(out, "{}\n", report.model)?;
    }
    writeln!(out, "DMO offsets hold for: {}", offsets_text(report))?;
    if let Some(carried) = &report.carried_plan {
        writeln!(out, "this model already carries a DMO plan for: {carried}")?;
    }
    if let Some(matching) = &report.trace_match {
        write_match(out, matching, report.operators)?;
    }
    for excess in &report.larger_than_predicted {
        writeln!(
            out,
            "op {} {} (input tensor {}): this firmware needs s_mono {} / u_mono {}, the {} model predicts {} / {}: a {} plan would break it here",
            excess.operator,
            excess.kind,
            excess.input_tensor,
            excess.measured_s_mono,
            excess.measured_u_mono,
            excess.family,
            excess.predicted_s_mono,
            excess.predicted_u_mono,
            excess.family
        )?;
    }
    writeln!(out)?;
    write_table(out, &header, &rows, markdown)?;
    writeln!(out)?;
    let summary = vec![
        vec!["TFLM greedy head".into(), format!("{} B", report.tflm_head)],
        vec!["DMO head".into(), format!("{} B", report.dmo_head)],
        vec!["saving".into(), format!("{:.1}%", report.saving_percent)],
        vec![
            "DMO lower bound".into(),
            format!("{} B", report.dmo_lower_bound),
        ],
        vec![
            "DMO plan optimal".into(),
            if report.dmo_proven_optimal {
                "yes, no plan with these safe offsets is smaller".into()
            } else {
                "not proven".into()
            },
        ],
        vec!["DMO plan found by".into(), report.dmo_found_by.clone()],
        vec!["DMO offsets hold for".into(), offsets_text(report)],
        vec!["TFLM peak at".into(), peak_text(&report.tflm_peak)],
        vec!["DMO peak at".into(), peak_text(&report.dmo_peak)],
        vec![
            "DMO peak live buffers".into(),
            report.dmo_peak.live.join("; "),
        ],
    ];
    write_table(out, &["model", "value"], &summary, markdown)?;
    if report.subgraphs > 1 {
        writeln!(
            out,
            "\nnote: the model has {} subgraphs; only subgraph 0 is planned",
            report.subgraphs
        )?;
    }
    if !report.mcus.is_empty() {
        writeln!(out)?;
        let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
        let rows: Vec<Vec<String>> = report
            .mcus
            .iter()
            .map(|m| {
                vec![
                    m.name.clone(),
                    format!("{}", m.sram_bytes),
                    yes(m.fits_tflm),
                    yes(m.fits_dmo),
                    yes(m.only_with_dmo),
                ]
            })
            .collect();
        write_table(
            out,
            &[
                "MCU",
                "SRAM B",
                "fits TFLM head",
                "fits DMO head",
                "only with DMO",
            ],
            &rows,
            markdown,
        )?;
    }
    Ok(())
}

/// How the trace's ops matched the model: counts, then each problem.
fn write_match(
    out: &mut impl Write,
    matching: &MatchReport,
    operators: usize,
) -> Result<(), ReportError> {
    writeln!(
        out,
        "trace ops matched to model operators: {} of {operators}",
        matching.matched.len()
    )?;
    for (operator, why) in &matching.missing {
        writeln!(
            out,
            "  op {operator} not in the trace (planned without overlap): {why}"
        )?;
    }
    for (segment, name, kind) in &matching.extra {
        writeln!(
            out,
            "  trace op {segment} {name} ({kind}) matches no model operator"
        )?;
    }
    Ok(())
}

/// Which kernels the offsets hold for, saying so when it was assumed.
fn offsets_text(report: &PlanReport) -> String {
    if report.offsets_assumed {
        format!(
            "{} (assumed; pass --kernels NAME for the kernels your firmware runs)",
            report.offsets_from
        )
    } else {
        report.offsets_from.to_string()
    }
}

fn peak_text(peak: &PeakReport) -> String {
    match (peak.operator, &peak.kind) {
        (Some(op), Some(kind)) => format!("op {op} ({kind})"),
        _ => "model input (before op 0)".to_string(),
    }
}
