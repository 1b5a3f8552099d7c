//! `dmo firmware`: turn a quantised .tflite model into a Cortex-M ELF (TFLM-greedy arena,
//! weights in flash, dmo's kernels of one family's loop orders in model order, each op wrapped
//! in markers and followed by a CRC-32 of its output).

use super::firmware_args::parse_kernels;
use super::text::refuse_overwrite;
use anyhow::{bail, Context};
use clap::Args as ClapArgs;
use dmo_core::CpuModel;
use dmo_firmware::{build_firmware, family_name, BuildOptions, INPUT_SYMBOL};
use dmo_ops::LoopOrders;
use dmo_plan::{OffsetsProvenance, PlanRecord};
use dmo_tflite::Model;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
#[command(
    after_help = "The firmware copies its input from the symbol dmo_model_input (fill it \
with `dmo trace --poke dmo_model_input=FILE`; zeros by default) and prints each output tensor \
as hex and CRC-32 over semihosting, after the line `kernels FAMILY` and one line `opN_KIND \
output0 N bytes crc32 X` per operator. The C sources go to --source-dir (default: the ELF's path \
with the extension .src)."
)]
pub struct Args {
    /// The .tflite model (int8 quantised).
    pub model: PathBuf,

    /// Core to compile for: cortex-m0, cortex-m3, cortex-m4 (FPU) or cortex-m7 (FPU).
    #[arg(long, default_value = "cortex-m4", value_parser = str::parse::<CpuModel>)]
    pub cpu: CpuModel,

    /// The ELF to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Where to write the generated C and the kernel sources.
    #[arg(long, value_name = "DIR")]
    pub source_dir: Option<PathBuf>,

    /// Replace the ELF and the source folder if they exist.
    #[arg(long)]
    pub force: bool,

    /// The C compiler.
    #[arg(long, default_value = "arm-none-eabi-gcc", value_name = "PROGRAM")]
    pub compiler: String,

    /// Place the tensors where this planned copy of the model (`dmo plan --emit-tflite`) puts
    /// them, instead of TFLM's greedy plan: the plan's saving then shows in the emulated
    /// firmware, and `dmo check` shows whether the firmware's kernels keep it safe.
    #[arg(long, value_name = "PLANNED.tflite")]
    pub plan: Option<PathBuf>,

    /// The loop orders of the firmware's kernels: `reference` (TFLM's reference kernels) or
    /// `cmsis-nn` (TFLM with CMSIS-NN on a Cortex-M4/M7 with DSP, GCC: C kernels in CMSIS-NN's
    /// order for 1x1 and generic convs, 3x3, `_opt` and multiplier-4k depthwise convs, average
    /// pooling, FULLY_CONNECTED and same-shape ADD and MUL, the reference kernels where
    /// CMSIS-NN's order is the reference's; any other op is refused).
    #[arg(long, default_value = "reference", value_name = "NAME", value_parser = parse_kernels)]
    pub kernels: LoopOrders,
}

/// The offline plan of `planned` and what it was made for, after checking
/// that it is a planned copy of `model`.
fn read_plan(
    model: &Path,
    planned: &Path,
) -> anyhow::Result<(Vec<i32>, Option<OffsetsProvenance>)> {
    let original = Model::read(model)?;
    let planned_model = Model::read(planned)?;
    if planned_model.tensors != original.tensors || planned_model.operators != original.operators {
        bail!(
            "{} is not a planned copy of {}: their tensors or operators differ",
            planned.display(),
            model.display()
        );
    }
    let offsets = planned_model.offline_plan.clone().with_context(|| {
        format!(
            "{} holds no OfflineMemoryAllocation (write one with `dmo plan --emit-tflite`)",
            planned.display()
        )
    })?;
    let made_for = PlanRecord::of_model(&planned_model)?.map(|record| record.offsets_from);
    Ok((offsets, made_for))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    refuse_overwrite(&args.output, args.force)?;
    let source_folder = args
        .source_dir
        .clone()
        .unwrap_or_else(|| args.output.with_extension("src"));
    refuse_overwrite(&source_folder, args.force)?;
    let mut options = BuildOptions::new(args.cpu, args.output);
    options.source_folder = Some(source_folder);
    options.compiler = args.compiler;
    options.overwrite = args.force;
    options.kernels = args.kernels;
    let firmware_kernels = family_name(args.kernels);
    let mut placement = "TFLM greedy".to_owned();
    if let Some(planned) = &args.plan {
        let (offsets, made_for) = read_plan(&args.model, planned)?;
        options.offline_plan = Some(offsets);
        let made_for_text = made_for.as_ref().map_or_else(
            || "unknown kernels (no dmo_plan record)".to_owned(),
            ToString::to_string,
        );
        placement = format!(
            "offline plan of {}, made for {made_for_text}",
            planned.display()
        );
        match &made_for {
            Some(OffsetsProvenance::Kernels { family, .. }) if family == firmware_kernels => {}
            Some(OffsetsProvenance::Trace { .. }) => eprintln!(
                "note: the plan's offsets were measured on one firmware ({made_for_text}); run `dmo check` on this one to prove them for its {firmware_kernels} kernels"
            ),
            _ => eprintln!(
                "warning: the plan was made for {made_for_text}, but this firmware runs the {firmware_kernels} kernels; run `dmo check` on it to see which ops it breaks"
            ),
        }
    }
    let built = build_firmware(&args.model, &options)?;
    println!(
        "{}: {} operators, arena {} bytes ({placement}), input {} bytes in {INPUT_SYMBOL}, {}, {} kernels",
        built.elf.display(),
        built.generated.operators.len(),
        built.generated.arena_bytes,
        built.generated.input_bytes,
        options.cpu.name(),
        firmware_kernels,
    );
    println!("sources in {}", built.source_folder.display());
    Ok(ExitCode::SUCCESS)
}
