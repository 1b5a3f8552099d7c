//! `dmo dump`: events of a trace, with symbols and disassembly.

use super::text::{describe_event, error_chain, print_op_segment};
use anyhow::{bail, Context};
use clap::Args as ClapArgs;
use dmo_core::{EventTime, TimeRange};
use dmo_emu::{Disassembler, Firmware, SymbolTable};
use dmo_trace::TraceReader;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Trace file written by `dmo trace`.
    pub trace: PathBuf,

    /// Only the events of this op (index from `dmo info`, or its name).
    #[arg(long)]
    pub op: Option<String>,

    /// First event time to show (within the op, if --op is given).
    #[arg(long, default_value_t = 0)]
    pub from: u64,

    /// How many events to show.
    #[arg(long, default_value_t = 40)]
    pub limit: u64,

    /// The firmware ELF, for disassembly [default: the path stored in the trace].
    #[arg(long)]
    pub elf: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let reader = TraceReader::open(&args.trace)?;
    let metadata = reader.metadata();
    let elf_path = args
        .elf
        .clone()
        .unwrap_or_else(|| metadata.elf_path.clone());
    // Symbols come from the trace; code bytes for disassembly from the ELF,
    // if it is still there and is the same file.
    let firmware = match super::text::load_firmware(&elf_path) {
        Ok(firmware) if firmware.sha256 == metadata.elf_sha256 => Some(firmware),
        Ok(_) => {
            eprintln!(
                "warning: {} has changed since the trace was recorded; no disassembly",
                elf_path.display()
            );
            None
        }
        Err(error) => {
            if args.elf.is_some() {
                return Err(error).context("--elf");
            }
            eprintln!(
                "warning: {}; no disassembly (give the ELF with --elf)",
                error_chain(error.as_ref())
            );
            None
        }
    };
    let firmware = firmware.unwrap_or_else(|| Firmware {
        path: elf_path.clone(),
        sha256: metadata.elf_sha256,
        entry: dmo_core::Address(0),
        segments: Vec::new(),
        vector_table: None,
        symbols: SymbolTable::new(metadata.symbols.clone()),
    });

    let mut range = TimeRange::new(EventTime(args.from), EventTime(u64::MAX));
    if let Some(op) = &args.op {
        let segments = reader.segments();
        let segment = match op.parse::<usize>() {
            Ok(index) => segments.get(index),
            Err(_) => segments
                .iter()
                .find(|segment| &segment.name == op || segment.display_name() == op.as_str()),
        };
        let Some(segment) = segment else {
            bail!(
                "{}: no op `{op}` (the trace has {} ops; `dmo info` lists them)",
                args.trace.display(),
                segments.len()
            );
        };
        print_op_segment("op ", segment, metadata, "  ");
        range = TimeRange::new(
            EventTime(segment.time.start.0 + args.from),
            segment.time.end,
        );
    }
    let disassembler = Disassembler::new();
    for event in reader.events_in(range)?.take(args.limit as usize) {
        println!("{}", describe_event(&event?, &firmware, &disassembler));
    }
    Ok(ExitCode::SUCCESS)
}
