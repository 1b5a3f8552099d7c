//! `dmo plan MODEL.tflite`: does the model fit, and what would DMO buy?
//! Prints per-layer overlaps, the TFLM-greedy and DMO arena heads, the op
//! that sets the peak, optionally the MCUs that fit, and writes the DMO plan
//! into a copy of the model as `OfflineMemoryAllocation`.

use super::plan_measured::{excesses, measure, Excess};
use anyhow::{bail, Context};
use clap::{Args as ClapArgs, ValueEnum};
use dmo_plan::{
    check_plan, mcu_catalogue, plan_model, tflm_with_offline_tensors, ArenaPlan, BufferSource,
    MatchReport, Mcu, ModelPlan, OffsetSource, OffsetsProvenance, Peak, PlanRecord, SearchEffort,
    PLAN_RECORD_METADATA,
};
use dmo_tflite::Model;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(ClapArgs)]
pub struct Args {
    /// The .tflite model(s). With several, or with --summary, one row per model.
    #[arg(required = true, num_args = 1.., value_name = "MODEL.tflite")]
    models: Vec<PathBuf>,
    /// One summary row per model (TFLM head, DMO head, saving, peak op) instead of per-layer tables.
    #[arg(long)]
    summary: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write a copy of the model holding the DMO plan as OfflineMemoryAllocation metadata.
    #[arg(long, value_name = "OUT.tflite")]
    emit_tflite: Option<PathBuf>,
    /// Replace the --emit-tflite file if it exists.
    #[arg(long)]
    force: bool,
    /// Which MCUs of the catalogue (data/mcus.csv) hold the arena head before and after DMO: a name or `all`.
    #[arg(long, value_name = "NAME|all")]
    mcu: Option<String>,
    /// The kernels the firmware runs (data/kernel_families.toml: reference, cmsis-nn). Safe
    /// offsets hold for one loop order only; without this the tables assume `reference`
    /// and --emit-tflite refuses.
    #[arg(long, value_name = "NAME")]
    kernels: Option<String>,
    /// Plan with the offsets measured in a trace of the firmware that runs this model
    /// (`dmo trace`): its ops are matched to the model's operators by order, kind and
    /// size. With --kernels too, lists the ops where the firmware needs more than that
    /// family's model predicts.
    #[arg(long, value_name = "TRACE")]
    offsets_from: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Markdown,
    Json,
    Csv,
}

/// One row of the per-layer table: one (input, output) pair of an operator.
#[derive(Serialize)]
struct LayerRow {
    operator: usize,
    kind: String,
    input_tensor: Option<usize>,
    output_tensor: Option<usize>,
    input_bytes: Option<u64>,
    output_bytes: Option<u64>,
    s_min: Option<u64>,
    s_mono: Option<u64>,
    u_mono: Option<u64>,
    pair_footprint: Option<u64>,
    saving: Option<u64>,
    /// Whether the DMO plan may overlap this pair, or why not.
    note: String,
}

#[derive(Serialize)]
struct McuRow {
    name: String,
    sram_bytes: u64,
    fits_tflm: bool,
    fits_dmo: bool,
    only_with_dmo: bool,
}

#[derive(Serialize)]
struct PeakReport {
    operator: Option<usize>,
    kind: Option<String>,
    live: Vec<String>,
}

#[derive(Serialize)]
struct Report {
    model: String,
    /// The kernels (or traced firmware) the DMO offsets hold for.
    offsets_from: OffsetsProvenance,
    /// True when no --kernels was given and `reference` was assumed.
    offsets_assumed: bool,
    /// The plan record the input model already carries (a model written by
    /// `dmo plan --emit-tflite`), if any.
    carried_plan: Option<OffsetsProvenance>,
    /// With --offsets-from: how the trace's ops matched the model's operators.
    trace_match: Option<MatchReport>,
    /// With --offsets-from and --kernels: pairs where the firmware needs a
    /// larger offset than the family's model predicts.
    larger_than_predicted: Vec<Excess>,
    subgraphs: usize,
    operators: usize,
    tflm_head: u64,
    dmo_head: u64,
    saving_percent: f64,
    dmo_lower_bound: u64,
    /// No plan with these safe offsets has a smaller head.
    dmo_proven_optimal: bool,
    dmo_found_by: String,
    tflm_peak: PeakReport,
    dmo_peak: PeakReport,
    layers: Vec<LayerRow>,
    /// Offline plan written with `--emit-tflite`: one offset per tensor (-1 = TFLM plans it).
    dmo_offline_offsets: Vec<i32>,
    mcus: Vec<McuRow>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mcus = match &args.mcu {
        None => Vec::new(),
        Some(wanted) => select_mcus(wanted)?,
    };
    if args.emit_tflite.is_some() && args.kernels.is_none() && args.offsets_from.is_none() {
        bail!(
            "--emit-tflite needs --kernels NAME or --offsets-from TRACE: a safe offset holds only for the loop orders of the kernels your firmware runs (reference, cmsis-nn, ...)"
        );
    }
    let assumed = args.kernels.is_none() && args.offsets_from.is_none();
    let family = dmo_ops::kernel_family(args.kernels.as_deref().unwrap_or("reference"))?;
    if args.offsets_from.is_none() {
        family.modelled_loop_orders()?;
    }
    let source = OffsetSource::Kernels(family);
    if args.summary || args.models.len() > 1 {
        if args.emit_tflite.is_some() || args.offsets_from.is_some() {
            bail!("--emit-tflite and --offsets-from take exactly one model");
        }
        let mut reports = Vec::new();
        for path in &args.models {
            let model = read_model(path)?;
            let plan = plan_with(path, &model, source)?;
            reports.push(
                build_report(path, &model, &plan, &mcus, assumed)
                    .with_context(|| format!("{}", path.display()))?,
            );
        }
        write_summary(&mut std::io::stdout().lock(), &reports, args.format)?;
        return Ok(ExitCode::SUCCESS);
    }
    let path = &args.models[0];
    if let Some(out) = &args.emit_tflite {
        super::text::refuse_overwrite(out, args.force)?;
    }
    let model = read_model(path)?;
    let (plan, trace_match) = match &args.offsets_from {
        None => (plan_with(path, &model, source)?, None),
        Some(trace) => {
            let (measured, matching) = measure(trace, &model)?;
            let plan = plan_with(path, &model, OffsetSource::Measured(&measured))?;
            (plan, Some(matching))
        }
    };
    let mut report = build_report(path, &model, &plan, &mcus, assumed)
        .with_context(|| format!("{}", path.display()))?;
    if trace_match.is_some() && args.kernels.is_some() {
        report.larger_than_predicted = excesses(&model, &plan.layers, family)?;
    }
    report.trace_match = trace_match;
    if let Some(out) = &args.emit_tflite {
        emit(path, &model, &plan, out)?;
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        Format::Csv => write_csv(&mut stdout, &report)?,
        Format::Table => write_text(&mut stdout, &report, false)?,
        Format::Markdown => write_text(&mut stdout, &report, true)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn read_model(path: &Path) -> anyhow::Result<Model> {
    // The error's message already holds its cause: flatten it so `{:#}`
    // does not print the cause twice.
    Model::read(path).map_err(|error| anyhow::anyhow!("{error}"))
}

fn plan_with(path: &Path, model: &Model, source: OffsetSource<'_>) -> anyhow::Result<ModelPlan> {
    plan_model(model, source, SearchEffort::default())
        .with_context(|| format!("{}", path.display()))
}

/// One row per model, and the MCU table across models: which chips hold the
/// arena head with TFLM's plan, and which only with DMO's.
fn write_summary(out: &mut impl Write, reports: &[Report], format: Format) -> anyhow::Result<()> {
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
    let name = |r: &Report| -> String {
        Path::new(&r.model)
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

fn select_mcus(wanted: &str) -> anyhow::Result<Vec<Mcu>> {
    let catalogue = mcu_catalogue()?;
    if wanted.eq_ignore_ascii_case("all") {
        return Ok(catalogue);
    }
    let chosen: Vec<Mcu> = catalogue
        .iter()
        .filter(|m| m.name.eq_ignore_ascii_case(wanted))
        .cloned()
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = catalogue.iter().map(|m| m.name.as_str()).collect();
        bail!(
            "unknown MCU {wanted:?}; known: {} (or `all`)",
            names.join(", ")
        );
    }
    Ok(chosen)
}

fn build_report(
    path: &Path,
    model: &Model,
    plan: &ModelPlan,
    mcus: &[Mcu],
    offsets_assumed: bool,
) -> anyhow::Result<Report> {
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
    Ok(Report {
        model: path.display().to_string(),
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

/// Writes the DMO plan into a copy of the model, after checking that the
/// plan TFLM will read back is the one that passed the checker. Writes to a
/// temporary file and renames, so no half-written output is left.
fn emit(source: &Path, model: &Model, plan: &ModelPlan, out: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(source).with_context(|| format!("{}", source.display()))?;
    let offsets = plan.dmo.offline_offsets(model)?;
    let record = PlanRecord::of_plan(plan).to_bytes();
    let emitted = dmo_tflite::with_offline_plan_and_metadata(
        &bytes,
        &offsets,
        &[(PLAN_RECORD_METADATA, &record)],
    )
    .with_context(|| format!("{}", source.display()))?;

    let reread = Model::parse(&emitted).context("emitted model does not parse back")?;
    let read_offsets = reread
        .offline_plan
        .clone()
        .context("emitted model has no offline plan")?;
    if PlanRecord::of_model(&reread)?.map(|r| r.offsets_from) != Some(plan.offsets_from.clone()) {
        bail!("internal error: the emitted model's dmo_plan record does not read back; nothing written");
    }
    let tensor_offsets: Vec<u64> = plan
        .dmo
        .buffers
        .iter()
        .map(|b| match b.source {
            BufferSource::Tensor(t) => read_offsets[t].max(0) as u64,
            BufferSource::Scratch { .. } => 0,
        })
        .collect();
    let as_tflm_sees_it = tflm_with_offline_tensors(plan.dmo.buffers.clone(), &tensor_offsets);
    if as_tflm_sees_it.head != plan.dmo.head
        || !check_plan(
            &as_tflm_sees_it.buffers,
            &as_tflm_sees_it.offsets,
            &plan.allowances,
        )
        .is_empty()
    {
        bail!("internal error: the emitted plan does not pass the checker; nothing written");
    }

    // A random temporary name beside `out`, removed on error and on
    // SIGINT/SIGTERM; never renamed over a device. `run` has refused an
    // existing `out` without --force already; `emit` does not get the flag,
    // so the rename may replace a regular file created since.
    dmo_fsio::write_atomically(out, &emitted, true)?;
    Ok(())
}

fn option(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn write_csv(out: &mut impl Write, report: &Report) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    for row in &report.layers {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(())
}

fn write_text(out: &mut impl Write, report: &Report, markdown: bool) -> anyhow::Result<()> {
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
) -> anyhow::Result<()> {
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
fn offsets_text(report: &Report) -> String {
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

fn write_table(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
    markdown: bool,
) -> anyhow::Result<()> {
    if markdown {
        writeln!(out, "| {} |", header.join(" | "))?;
        writeln!(out, "|{}", "---|".repeat(header.len()))?;
        for row in rows {
            writeln!(out, "| {} |", row.join(" | "))?;
        }
        return Ok(());
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models")
    }

    fn args(model: PathBuf, emit: Option<PathBuf>) -> Args {
        Args {
            models: vec![model],
            summary: false,
            format: Format::Json,
            emit_tflite: emit,
            force: false,
            mcu: Some("all".into()),
            kernels: Some("reference".into()),
            offsets_from: None,
        }
    }

    #[test]
    fn emitted_model_holds_the_plan_and_tflms_rule_gives_the_dmo_head() {
        let directory = tempfile::tempdir().unwrap();
        let out = directory.path().join("person_detect.dmo.tflite");
        let source = models_dir().join("person_detect.tflite");
        run(args(source.clone(), Some(out.clone()))).unwrap();

        let model = Model::read(&source).unwrap();
        let emitted = Model::read(&out).unwrap();
        let reference = OffsetSource::Kernels(dmo_ops::kernel_family("reference").unwrap());
        let plan = plan_model(&model, reference, SearchEffort::default()).unwrap();
        assert_eq!(
            emitted.offline_plan,
            Some(plan.dmo.offline_offsets(&model).unwrap())
        );
        assert_eq!(emitted.tensors, model.tensors);
        assert_eq!(emitted.operators, model.operators);
        // The reference DMO head of shared/models/README.md for this model.
        assert_eq!(plan.dmo.head.0, 36880);
        let only_files: Vec<_> = std::fs::read_dir(directory.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            only_files.len(),
            1,
            "no temporary file left: {only_files:?}"
        );
    }

    #[test]
    fn truncated_model_is_an_error_naming_the_file_and_writes_nothing() {
        let directory = tempfile::tempdir().unwrap();
        let bad = directory.path().join("cut.tflite");
        let bytes = std::fs::read(models_dir().join("kws_ref_model.tflite")).unwrap();
        std::fs::write(&bad, &bytes[..1000]).unwrap();
        let out = directory.path().join("out.tflite");
        let error = run(args(bad, Some(out.clone()))).unwrap_err();
        assert!(format!("{error:#}").contains("cut.tflite"), "{error:#}");
        assert!(!out.exists());
    }

    #[test]
    fn unknown_mcu_lists_the_known_ones() {
        let error = select_mcus("Z80").unwrap_err().to_string();
        assert!(error.contains("STM32F411RE"), "{error}");
        assert_eq!(select_mcus("nrf52840").unwrap().len(), 1);
    }
}
