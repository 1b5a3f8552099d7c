//! Emulator options shared by `trace`, `analyse` and `verify`.

use anyhow::{bail, Context};
use clap::Args as ClapArgs;
use dmo_core::CpuModel;
use dmo_emu::{Poke, RunConfig, DEFAULT_MAX_INSTRUCTIONS};
use std::path::PathBuf;

#[derive(ClapArgs, Debug, Clone)]
pub struct EmulatorArgs {
    /// Core to emulate: cortex-m0, cortex-m3, cortex-m4 (FPU) or cortex-m7 (FPU).
    #[arg(long, default_value = "cortex-m4", value_parser = str::parse::<CpuModel>)]
    pub cpu: CpuModel,

    /// Call this function (no arguments) and stop when it returns, instead of
    /// starting at the reset handler and stopping at the firmware's exit().
    #[arg(long, value_name = "SYMBOL")]
    pub entry: Option<String>,

    /// Without markers: each top-level call of a function whose symbol
    /// matches this regular expression becomes an op.
    #[arg(long, value_name = "REGEX", conflicts_with = "runtime")]
    pub ops: Option<String>,

    /// Without markers: the ops are the kernel calls of this known runtime
    /// (data/runtimes.toml: tflm-reference, tflm-cmsis-nn). Default: detected
    /// from the ELF's symbols when it has neither markers nor --ops.
    #[arg(long, value_name = "NAME")]
    pub runtime: Option<String>,

    /// RAM region as ADDRESS:SIZE (e.g. 0x20000000:256K); default: from the
    /// vector table's initial stack pointer.
    #[arg(long, value_name = "ADDR:SIZE", value_parser = parse_ram)]
    pub ram: Option<(u32, u32)>,

    /// Stop with an error after this many instructions.
    #[arg(long = "max-insns", value_name = "N", default_value_t = DEFAULT_MAX_INSTRUCTIONS)]
    pub max_instructions: u64,

    /// Write FILE's bytes into data symbol SYMBOL before the run (repeatable).
    #[arg(long, value_name = "SYMBOL=FILE")]
    pub poke: Vec<String>,
}

impl EmulatorArgs {
    pub fn run_config(&self) -> anyhow::Result<RunConfig> {
        let mut pokes = Vec::new();
        for spec in &self.poke {
            let Some((symbol, file)) = spec.split_once('=') else {
                bail!("--poke {spec}: expected SYMBOL=FILE");
            };
            let source = PathBuf::from(file);
            // A regular file of at most MAX_INPUT_BYTES: `/dev/zero` or a
            // FIFO is refused before it is opened.
            let bytes = dmo_fsio::read_input(&source, dmo_fsio::MAX_INPUT_BYTES)
                .with_context(|| format!("--poke {spec}"))?;
            pokes.push(Poke {
                symbol: symbol.to_owned(),
                bytes,
                source,
            });
        }
        let op_functions = match (&self.ops, &self.runtime) {
            (Some(pattern), _) => Some(dmo_emu::OpFunctions::matching(
                regex::Regex::new(pattern)
                    .with_context(|| format!("--ops {pattern}: not a valid regular expression"))?,
            )),
            (None, Some(name)) => Some(
                dmo_emu::Runtime::named(name)
                    .map_err(|e| anyhow::anyhow!("--runtime {name}: {e}"))?
                    .op_functions(),
            ),
            (None, None) => None,
        };
        Ok(RunConfig {
            cpu: self.cpu,
            ram: self.ram.map(|(start, len)| (dmo_core::Address(start), len)),
            entry: self.entry.clone(),
            max_instructions: self.max_instructions,
            pokes,
            op_functions,
        })
    }
}

/// Without markers, `--ops` or `--runtime`: the known runtime whose kernels
/// `firmware` has, if any, chosen for `config` and said on stderr.
pub fn detect_runtime(firmware: &dmo_emu::Firmware, config: &mut RunConfig) {
    if config.op_functions.is_some() || firmware.symbols.by_name("dmo_op_begin").is_some() {
        return;
    }
    if let Some((runtime, witness)) = dmo_emu::Runtime::detect(firmware) {
        eprintln!(
            "no dmo markers: found runtime {} ({}; from `{witness}`); its kernel calls are the ops \
             (--runtime NAME or --ops REGEX to choose)",
            runtime.name, runtime.description
        );
        config.op_functions = Some(runtime.op_functions());
    }
}

/// `1234`, `0x1000`, `64K`, `1M`.
/// A family name of data/kernel_families.toml that the firmware can run (`dmo firmware
/// --kernels`, and `dmo compare --kernels` for the loop orders such a firmware ran).
pub fn parse_kernels(name: &str) -> Result<dmo_ops::LoopOrders, String> {
    let family = dmo_ops::kernel_family(name).map_err(|error| error.to_string())?;
    family
        .modelled_loop_orders()
        .map_err(|error| format!("the firmware cannot run {}: {error}", family.name))
}

pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, multiplier) = match text.chars().last() {
        Some('k' | 'K') => (&text[..text.len() - 1], 1024),
        Some('m' | 'M') if !text.starts_with("0x") => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse(),
    }
    .map_err(|_| format!("`{text}` is not a number (decimal, 0x hex, or with a K/M suffix)"))?;
    value
        .checked_mul(multiplier)
        .ok_or_else(|| format!("`{text}` is too large"))
}

fn parse_ram(text: &str) -> Result<(u32, u32), String> {
    let (start, size) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}`: expected ADDRESS:SIZE, e.g. 0x20000000:256K"))?;
    let start = parse_size(start)?;
    let size = parse_size(size)?;
    if start % 4096 != 0 || size % 4096 != 0 || size == 0 {
        return Err(format!(
            "`{text}`: start and size must be non-zero multiples of 4 KiB (the emulator maps whole pages)"
        ));
    }
    if start + size > 1 << 32 {
        return Err(format!("`{text}`: the region runs past 4 GiB"));
    }
    Ok((start as u32, size as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ram() {
        assert_eq!(parse_size("0x1000"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert!(parse_size("abc").is_err());
        assert_eq!(parse_ram("0x20000000:256K"), Ok((0x2000_0000, 256 * 1024)));
        assert!(parse_ram("0x20000001:4K").unwrap_err().contains("4 KiB"));
        assert!(parse_ram("0x20000000")
            .unwrap_err()
            .contains("ADDRESS:SIZE"));
    }
}
