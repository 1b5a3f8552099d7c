//! `dmo compare`: per layer, s_min and s_mono from the firmware's trace, from the loop-nest
//! simulation and from the analytic formula; any disagreement is a failing line.

use super::firmware_args::{parse_kernels, EmulatorArgs};
use clap::Args as ClapArgs;
use dmo_firmware::{compare_methods, MethodResult};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
#[command(
    after_help = "Exit status: 0 when every modelled method agrees with the trace on every \
layer; 1 on any disagreement; 2 on bad input or a failed run. Methods that do not model an op \
(e.g. RESHAPE's memcpy) show `-` and do not count as disagreeing."
)]
pub struct Args {
    /// Firmware ELF built by `dmo firmware` from MODEL.
    pub elf: PathBuf,

    /// The .tflite model the firmware was generated from.
    pub model: PathBuf,

    /// The kernel family the firmware was generated for (`dmo firmware --kernels`): the
    /// simulation walks its loop orders. The closed forms are the reference family's, so with
    /// `cmsis-nn` the formula column shows `-`.
    #[arg(long, default_value = "reference", value_name = "NAME", value_parser = parse_kernels)]
    pub kernels: dmo_ops::LoopOrders,

    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

fn cell(result: &MethodResult) -> (String, String) {
    match result {
        MethodResult::Offsets { s_min, s_mono, .. } => (
            s_min.map_or_else(|| "-".to_owned(), |v| v.to_string()),
            s_mono.to_string(),
        ),
        MethodResult::NotModelled(_) => ("-".to_owned(), "-".to_owned()),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = args.emulator.run_config()?;
    let comparison = compare_methods(&args.elf, &args.model, &config, args.kernels)?;
    println!(
        "{:<28} {:<8} {:>10} {:>10} {:>10} {:>10} {:>10}  status",
        "op", "input", "trace min", "trace mono", "sim min", "sim mono", "anal. mono"
    );
    for layer in &comparison.layers {
        let (trace_min, trace_mono) = cell(&layer.trace);
        let (sim_min, sim_mono) = cell(&layer.simulation);
        let (_, analytic_mono) = cell(&layer.analytic);
        let status = match &layer.disagreement {
            None => "ok".to_owned(),
            Some(problem) => format!("FAIL {problem}"),
        };
        println!(
            "{:<28} {:<8} {:>10} {:>10} {:>10} {:>10} {:>10}  {status}",
            layer.op_name,
            layer.input_name,
            trace_min,
            trace_mono,
            sim_min,
            sim_mono,
            analytic_mono
        );
    }
    let costs = &comparison.costs;
    println!(
        "cost: trace {:.3} s ({} events, emulation + mining), simulation {:.3} s, analytic {:.6} s",
        costs.trace_wall.as_secs_f64(),
        costs.trace_events,
        costs.simulation_wall.as_secs_f64(),
        costs.analytic_wall.as_secs_f64()
    );
    let failures = comparison.disagreements();
    println!(
        "{} layers agree, {failures} disagree",
        comparison.layers.len() - failures
    );
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
