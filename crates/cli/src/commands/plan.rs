//! `dmo plan MODEL.tflite`: does the model fit, and what would DMO buy?
//! Prints per-layer overlaps, the TFLM-greedy and DMO arena heads, the op
//! that sets the peak, optionally the MCUs that fit, and writes the DMO plan
//! into a copy of the model as `OfflineMemoryAllocation`.

use super::plan_measured::measure;
use anyhow::{bail, Context};
use clap::Args as ClapArgs;
use dmo_plan::{
    excesses, mcu_catalogue, plan_model, planned_model_bytes, Mcu, ModelPlan, OffsetSource,
    SearchEffort,
};
use dmo_report::{
    render_families, render_plan, render_plan_summary, FamilyComparison, Format, PlanReport,
};
use dmo_tflite::Model;
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
    /// Output format: table, markdown, json or csv.
    #[arg(long, default_value = "table", value_parser = str::parse::<Format>)]
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
    /// and --emit-tflite refuses. `all`: the model under every modelled family side by side
    /// (and, with --offsets-from, the traced firmware too).
    #[arg(long, value_name = "NAME")]
    kernels: Option<String>,
    /// Plan with the offsets measured in a trace of the firmware that runs this model
    /// (`dmo trace`): its ops are matched to the model's operators by order, kind and
    /// size. With --kernels too, lists the ops where the firmware needs more than that
    /// family's model predicts. With --kernels all it may be given once per firmware
    /// (e.g. a reference and a CMSIS-NN build): each is a column, with the instructions
    /// and memory accesses each op took.
    #[arg(long, value_name = "TRACE")]
    offsets_from: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mcus = match &args.mcu {
        None => Vec::new(),
        Some(wanted) => select_mcus(wanted)?,
    };
    if args.emit_tflite.is_some() && args.kernels.is_none() && args.offsets_from.is_empty() {
        bail!(
            "--emit-tflite needs --kernels NAME or --offsets-from TRACE: a safe offset holds only for the loop orders of the kernels your firmware runs (reference, cmsis-nn, ...)"
        );
    }
    if args
        .kernels
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case("all"))
    {
        return compare_families(&args);
    }
    if args.offsets_from.len() > 1 {
        bail!(
            "--offsets-from is given {} times: a plan holds for one firmware's kernels (several traces go with --kernels all, to compare them)",
            args.offsets_from.len()
        );
    }
    let offsets_from = args.offsets_from.first();
    let assumed = args.kernels.is_none() && offsets_from.is_none();
    let family = dmo_ops::kernel_family(args.kernels.as_deref().unwrap_or("reference"))?;
    if offsets_from.is_none() {
        family.modelled_loop_orders()?;
    }
    let source = OffsetSource::Kernels(family);
    if args.summary || args.models.len() > 1 {
        if args.emit_tflite.is_some() || offsets_from.is_some() {
            bail!("--emit-tflite and --offsets-from take exactly one model");
        }
        let mut reports = Vec::new();
        for path in &args.models {
            let model = read_model(path)?;
            let plan = plan_with(path, &model, source)?;
            reports.push(
                PlanReport::build(&path.display().to_string(), &model, &plan, &mcus, assumed)
                    .with_context(|| format!("{}", path.display()))?,
            );
        }
        print(&render_plan_summary(&reports, args.format)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let path = &args.models[0];
    if let Some(out) = &args.emit_tflite {
        super::text::refuse_overwrite(out, args.force)?;
    }
    let model = read_model(path)?;
    let (plan, trace_match) = match offsets_from {
        None => (plan_with(path, &model, source)?, None),
        Some(trace) => {
            let (measured, matching) = measure(trace, &model)?;
            let plan = plan_with(path, &model, OffsetSource::Measured(&measured))?;
            (plan, Some(matching))
        }
    };
    let mut report = PlanReport::build(&path.display().to_string(), &model, &plan, &mcus, assumed)
        .with_context(|| format!("{}", path.display()))?;
    if trace_match.is_some() && args.kernels.is_some() {
        report.larger_than_predicted =
            excesses(&model, &plan.baseline.buffers, &plan.layers, family)?;
    }
    report.trace_match = trace_match;
    if let Some(out) = &args.emit_tflite {
        emit(path, &model, &plan, out, args.force)?;
    }
    print(&render_plan(&report, args.format)?)?;
    Ok(ExitCode::SUCCESS)
}

/// `--kernels all`: one plan per modelled family (and the trace's), side by side.
fn compare_families(args: &Args) -> anyhow::Result<ExitCode> {
    if args.emit_tflite.is_some() {
        bail!("--kernels all compares families; --emit-tflite needs the one your firmware runs");
    }
    let [path] = &args.models[..] else {
        bail!("--kernels all takes exactly one model");
    };
    let model = read_model(path)?;
    let mut plans = Vec::new();
    for family in dmo_ops::kernel_families()
        .iter()
        .filter(|f| f.loop_orders.is_some())
    {
        plans.push((
            family.name.clone(),
            plan_with(path, &model, OffsetSource::Kernels(family))?,
        ));
    }
    let mut measured = Vec::new();
    for (index, trace) in args.offsets_from.iter().enumerate() {
        let (offsets, _) = measure(trace, &model)?;
        let name = traced_column_name(&args.offsets_from, index);
        plans.push((
            name.clone(),
            plan_with(path, &model, OffsetSource::Measured(&offsets))?,
        ));
        measured.push((name, offsets));
    }
    let named: Vec<(String, &ModelPlan)> = plans
        .iter()
        .map(|(name, plan)| (name.clone(), plan))
        .collect();
    let comparison = FamilyComparison::build(&path.display().to_string(), &named, &measured);
    print(&render_families(&comparison, args.format)?)?;
    Ok(ExitCode::SUCCESS)
}

/// A traced firmware's column: `traced` for one trace; `traced:STEM` (the
/// file name without `.dmotrace`, or the whole path where stems repeat) for several.
fn traced_column_name(traces: &[PathBuf], index: usize) -> String {
    if traces.len() == 1 {
        return "traced".to_owned();
    }
    let stem = |path: &PathBuf| {
        path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        )
    };
    let mine = stem(&traces[index]);
    let repeated = traces.iter().filter(|path| stem(path) == mine).count() > 1;
    if repeated {
        format!("traced:{}", traces[index].display())
    } else {
        format!("traced:{mine}")
    }
}

fn print(text: &str) -> anyhow::Result<()> {
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing to standard output")
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

/// Writes the checked planned copy of the model: to a random temporary name
/// beside `out`, renamed into place (refusing an existing file unless
/// `force`), removed on error and on SIGINT/SIGTERM.
fn emit(
    source: &Path,
    model: &Model,
    plan: &ModelPlan,
    out: &Path,
    force: bool,
) -> anyhow::Result<()> {
    let bytes = dmo_fsio::read_input(source, dmo_fsio::MAX_INPUT_BYTES)?;
    let emitted = planned_model_bytes(&bytes, model, plan)
        .with_context(|| format!("{}", source.display()))?;
    dmo_fsio::write_atomically(out, &emitted, force)?;
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
            offsets_from: Vec::new(),
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
