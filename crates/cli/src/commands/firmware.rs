//! `dmo firmware`: turn a quantised .tflite model into a Cortex-M ELF (TFLM-greedy arena,
//! weights in flash, dmo's reference kernels in model order, each op wrapped in markers).

use super::text::refuse_overwrite;
use clap::Args as ClapArgs;
use dmo_firmware::{build_firmware, BuildOptions, Cpu, INPUT_SYMBOL};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
#[command(
    after_help = "The firmware copies its input from the symbol dmo_model_input (fill it \
with `dmo trace --poke dmo_model_input=FILE`; zeros by default) and prints each output tensor \
as hex and CRC-32 over semihosting. The C sources go to --source-dir (default: the ELF's path \
with the extension .src)."
)]
pub struct Args {
    /// The .tflite model (int8 quantised).
    pub model: PathBuf,

    /// Core to compile for: cortex-m0, cortex-m3, cortex-m4 (FPU) or cortex-m7 (FPU).
    #[arg(long, default_value = "cortex-m4", value_parser = parse_cpu)]
    pub cpu: Cpu,

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
}

fn parse_cpu(text: &str) -> Result<Cpu, String> {
    text.parse()
        .map_err(|error: dmo_firmware::FirmwareError| error.to_string())
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
    let built = build_firmware(&args.model, &options)?;
    println!(
        "{}: {} operators, arena {} bytes (TFLM greedy), input {} bytes in {INPUT_SYMBOL}, {}",
        built.elf.display(),
        built.generated.operators.len(),
        built.generated.arena_bytes,
        built.generated.input_bytes,
        options.cpu.name(),
    );
    println!("sources in {}", built.source_folder.display());
    Ok(ExitCode::SUCCESS)
}
