//! `dmo verify`: re-run an op with its output placed over its input and check
//! the mined offset (safe at `s_min`, a clobbered read at `s_min - 1`).

use super::firmware_args::EmulatorArgs;
use super::report::write_atomically;
use anyhow::Context;
use clap::Args as ClapArgs;
use dmo_report::{verify, Claim, OffsetCheck, OpSelector, PairVerification, VerifyRequest};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
#[command(
    after_help = "Exit status: 0 when every pair confirms the claim (identical outputs and no \
clobbered read at the offset; a clobbered read at one byte less, at s_min - 1 the miner's \
witness); 1 when a claim fails; 2 on bad input or a failed run."
)]
pub struct Args {
    /// Firmware ELF (32-bit little-endian ARM).
    pub elf: PathBuf,

    /// The op to check: its name (as given to dmo_op_begin, or the function's symbol with
    /// --ops; the first run of it) or its index in the run (0, 1, ...).
    #[arg(long, value_name = "NAME|INDEX", required_unless_present = "all")]
    pub op: Option<String>,

    /// Check every op of the run (every input/output pair), one line each.
    #[arg(long, conflicts_with = "op")]
    pub all: bool,

    /// Re-run the whole firmware in a fresh engine for every check instead of restoring a
    /// snapshot taken at the op's start, every access hooked and a reference run for every
    /// seed (slow; the same results, for cross-checking).
    #[arg(long)]
    pub full_reruns: bool,

    /// Every check the slow way: every access hooked (not only the bytes the check looks at,
    /// timed by the block clock), and a reference run for every seed (even where the run at
    /// the offset read exactly what the op as placed reads). Slower; the same results, for
    /// cross-checking.
    #[arg(long)]
    pub hook_all: bool,

    /// Check on NUM threads, each with its own engine restoring the first run's snapshots
    /// (default: one per core; 1: every check in the first run's engine, one after the
    /// other). The first run, which mines the pairs, is not parallel. The same results.
    #[arg(short = 'j', long, value_name = "NUM", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,

    /// Only the pair with this input buffer (default: every input of the op).
    #[arg(long, value_name = "NAME")]
    pub input: Option<String>,

    /// Which mined offset to check: s_min, s_mono (output below the input) or u_min, u_mono
    /// (output above the input).
    #[arg(long, default_value = "s_min", value_parser = parse_claim)]
    pub claim: Claim,

    /// Check only this offset, in the claim's direction (e.g. S for the output placed S
    /// bytes below the input): safe or not, without the mined claim's "one byte less is
    /// unsafe" half.
    #[arg(long, value_name = "S")]
    pub offset: Option<u64>,

    /// Number of pseudo-random input fills (seeds 1..=N).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub seeds: u64,

    /// Also write the full result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Overwrite the JSON file if it exists.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.json {
        super::text::refuse_overwrite(path, args.force)?;
    }
    let firmware = super::text::load_firmware(&args.elf)?;
    let mut config = args.emulator.run_config()?;
    super::firmware_args::detect_runtime(&firmware, &mut config);
    let request = VerifyRequest {
        op: match &args.op {
            Some(op) => OpSelector::Named(op.clone()),
            None => OpSelector::All,
        },
        input_name: args.input.clone(),
        claim: args.claim,
        offset: args.offset,
        seeds: (1..=args.seeds).collect(),
        full_reruns: args.full_reruns,
        fast_paths: !args.hook_all,
        jobs: args.jobs.map(|jobs| jobs as usize),
    };
    let verification = verify(&firmware, &config, &request)?;
    let runs = verification.runs;
    eprintln!(
        "{} op runs: {} with only the checked bytes hooked (block clock), {} fully hooked; \
         {} reference runs not needed (the run at the offset read what the op as placed reads); \
         on {} thread{}",
        runs.clocked + runs.fully_hooked,
        runs.clocked,
        runs.fully_hooked,
        runs.skipped_references,
        runs.threads,
        if runs.threads == 1 { "" } else { "s" }
    );
    let mut all_confirmed = true;
    for pair in &verification.pairs {
        if args.all {
            print_pair_line(pair, args.offset.is_some());
        } else {
            print_pair(pair, args.offset.is_some());
        }
        all_confirmed &= pair.confirmed();
    }
    if args.all {
        let confirmed = verification.pairs.iter().filter(|p| p.confirmed()).count();
        println!(
            "{confirmed} of {} pairs {}",
            verification.pairs.len(),
            if args.offset.is_some() {
                "safe"
            } else {
                "confirmed"
            }
        );
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&verification)? + "\n";
        write_atomically(path, text.as_bytes(), args.force)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if all_confirmed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn parse_claim(text: &str) -> Result<Claim, String> {
    text.parse()
}

fn verdict(pair: &PairVerification, explicit: bool) -> &'static str {
    match (explicit, pair.confirmed()) {
        (false, true) => "CONFIRMED",
        (false, false) => "NOT CONFIRMED",
        (true, true) => "SAFE",
        (true, false) => "NOT SAFE",
    }
}

/// `--all`: one line per pair.
fn print_pair_line(pair: &PairVerification, explicit: bool) {
    println!(
        "#{:<3} {} ({}) {}->{}: mined {} {}, checked {}: {}",
        pair.op_index,
        dmo_core::demangle(&pair.op_name),
        pair.op_kind,
        pair.input_name,
        pair.output_name,
        pair.claim.name(),
        pair.claim.mined_of(pair),
        pair.at.offset,
        verdict(pair, explicit)
    );
}

fn print_pair(pair: &PairVerification, explicit: bool) {
    println!(
        "op {} ({}) {}->{}: mined s_min {}, s_mono {}, u_min {}, u_mono {}; checking {} ({})",
        dmo_core::demangle(&pair.op_name),
        pair.op_kind,
        pair.input_name,
        pair.output_name,
        pair.mined_s_min,
        pair.mined_s_mono,
        pair.mined_u_min,
        pair.mined_u_mono,
        if explicit {
            format!("offset {}", pair.at.offset)
        } else {
            pair.claim.name().to_owned()
        },
        match pair.claim {
            Claim::SMin | Claim::SMono => "output below the input",
            Claim::UMin | Claim::UMono => "output above the input",
        }
    );
    print_offset(&pair.at, "safe");
    if let Some(below) = &pair.below {
        print_offset(below, "unsafe");
    }
    println!("  {}", verdict(pair, explicit));
}

fn print_offset(check: &OffsetCheck, expected: &str) {
    let seeds = check.runs.len();
    let clobbered = check.runs.iter().filter(|r| r.clobbered_reads > 0).count();
    let differing = check.seeds_with_different_output();
    println!(
        "  offset {} (expected {expected}): {seeds} seeds, outputs differ for {differing}, clobbered reads seen for {clobbered}",
        check.offset
    );
    if let Some(read) = check
        .runs
        .iter()
        .find_map(|run| run.first_clobbered_read.as_ref())
    {
        println!(
            "    first clobbered read: input byte {} read at t={} by {} after output byte {} was written at t={} by {}",
            read.input_byte,
            read.read_time.0,
            read.read.describe(),
            read.output_byte,
            read.write_time.0,
            read.write.describe()
        );
    }
    let witnessed: Vec<bool> = check
        .runs
        .iter()
        .filter_map(|run| run.witness_observed)
        .collect();
    if !witnessed.is_empty() {
        println!(
            "    miner's witness observed in {} of {} seeds",
            witnessed.iter().filter(|seen| **seen).count(),
            witnessed.len()
        );
    }
}
