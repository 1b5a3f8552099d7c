//! Proof by re-execution: run an op with its output placed over its input
//! at a mined offset (`s_min` by default, or `s_mono`, `u_min`, `u_mono`,
//! or any offset) and at one byte less, on fresh pseudo-random inputs, and
//! compare with the op run as placed.

use crate::model::InstructionSite;
use crate::sources::FirmwareSites;
use crate::ReportError;
use dmo_core::EventTime;
use dmo_emu::{ClobberedRead, Firmware, Overlay, OverlayPlacement, RunConfig};
use dmo_overlap::{PairOverlap, Witness};
use dmo_trace::{PairMiner, PairResult};
use serde::Serialize;

/// What to verify.
#[derive(Clone, Debug)]
pub struct VerifyRequest {
    pub op_name: String,
    /// Only the pair with this input buffer (default: every pair of the op).
    pub input_name: Option<String>,
    /// Which mined offset to check (and in which direction).
    pub claim: Claim,
    /// Check this offset instead of the mined one (same direction).
    pub offset: Option<u64>,
    /// Seeds of the pseudo-random input fills, one reference and one
    /// overlapped run each.
    pub seeds: Vec<u64>,
}

/// A mined offset whose claim `dmo verify` checks: the offset is safe, and
/// one byte less is not (the miner's witness says why).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    SMin,
    SMono,
    UMin,
    UMono,
}

impl Claim {
    pub fn name(self) -> &'static str {
        match self {
            Claim::SMin => "s_min",
            Claim::SMono => "s_mono",
            Claim::UMin => "u_min",
            Claim::UMono => "u_mono",
        }
    }

    /// The mined offset of this claim.
    pub fn mined(self, overlap: &PairOverlap) -> u64 {
        match self {
            Claim::SMin => overlap.s_min.0,
            Claim::SMono => overlap.s_mono.0,
            Claim::UMin => overlap.u_min.0,
            Claim::UMono => overlap.u_mono.0,
        }
    }

    /// Why the mined offset minus one is unsafe.
    fn witness(self, overlap: &PairOverlap) -> Option<Witness> {
        match self {
            Claim::SMin => overlap.witness_down,
            Claim::SMono => overlap.witness_down_mono,
            Claim::UMin => overlap.witness_up,
            Claim::UMono => overlap.witness_up_mono,
        }
    }

    fn placement(self, offset: u64) -> OverlayPlacement {
        match self {
            Claim::SMin | Claim::SMono => OverlayPlacement::Down(offset),
            Claim::UMin | Claim::UMono => OverlayPlacement::Up(offset),
        }
    }
}

impl std::str::FromStr for Claim {
    type Err = String;
    fn from_str(text: &str) -> Result<Claim, String> {
        match text {
            "s_min" => Ok(Claim::SMin),
            "s_mono" => Ok(Claim::SMono),
            "u_min" => Ok(Claim::UMin),
            "u_mono" => Ok(Claim::UMono),
            other => Err(format!(
                "unknown claim `{other}` (expected s_min, s_mono, u_min or u_mono)"
            )),
        }
    }
}

/// A clobbered read with both instructions named.
#[derive(Clone, Debug, Serialize)]
pub struct ObservedClobber {
    pub input_byte: u64,
    pub output_byte: u64,
    pub write_time: EventTime,
    pub write: InstructionSite,
    pub read_time: EventTime,
    pub read: InstructionSite,
}

/// One overlapped run.
#[derive(Clone, Debug, Serialize)]
pub struct SeedRun {
    pub seed: u64,
    /// Output bytes that differ from the reference run with the same seed.
    pub differing_output_bytes: usize,
    /// Reads of an input byte after an output store landed on it.
    pub clobbered_reads: u64,
    pub first_clobbered_read: Option<ObservedClobber>,
    /// At `s_min - 1`: whether the run saw the miner's witness itself (the
    /// witness's input byte read at the witness time, after the witness's
    /// output store), as mined from the reference run with this seed.
    pub witness_observed: Option<bool>,
}

/// All seeds at one offset.
#[derive(Clone, Debug, Serialize)]
pub struct OffsetCheck {
    pub offset: u64,
    pub runs: Vec<SeedRun>,
}

impl OffsetCheck {
    /// Identical outputs and no clobbered read for every seed.
    pub fn is_clean(&self) -> bool {
        self.runs
            .iter()
            .all(|run| run.differing_output_bytes == 0 && run.clobbered_reads == 0)
    }

    /// A clobbered read for every seed.
    pub fn always_clobbered(&self) -> bool {
        self.runs.iter().all(|run| run.clobbered_reads > 0)
    }

    /// Seeds whose output differed.
    pub fn seeds_with_different_output(&self) -> usize {
        self.runs
            .iter()
            .filter(|run| run.differing_output_bytes > 0)
            .count()
    }
}

/// The verification of one (input, output) pair.
#[derive(Clone, Debug, Serialize)]
pub struct PairVerification {
    pub op_name: String,
    pub op_kind: String,
    pub input_name: String,
    pub output_name: String,
    pub mined_s_min: u64,
    pub mined_s_mono: u64,
    pub mined_u_min: u64,
    pub mined_u_mono: u64,
    /// Which offset was checked; down for `s_*`, up for `u_*`.
    pub claim: Claim,
    /// The offset checked, and every run there.
    pub at: OffsetCheck,
    /// One byte less (absent when the offset is 0 or was given explicitly).
    pub below: Option<OffsetCheck>,
}

impl PairVerification {
    /// Whether the re-execution confirms the claim "`at` is safe and the
    /// byte below is not": clean at the offset; below, a clobbered read for
    /// every seed, and at the mined offset minus one it is the miner's witness.
    pub fn confirmed(&self) -> bool {
        let below_unsafe = match &self.below {
            None => true,
            Some(below) => {
                below.always_clobbered()
                    && below
                        .runs
                        .iter()
                        .all(|run| run.witness_observed != Some(false))
            }
        };
        self.at.is_clean() && below_unsafe
    }
}

/// Everything `dmo verify` found.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub firmware: String,
    pub pairs: Vec<PairVerification>,
}

/// Re-runs `firmware` to check the offsets of one op (see the module docs).
pub fn verify(
    firmware: &Firmware,
    config: &RunConfig,
    request: &VerifyRequest,
) -> Result<Verification, ReportError> {
    let unfilled = mine(firmware, config, request)?;
    if unfilled.is_empty() {
        return Err(ReportError::NoSuchOp {
            firmware: firmware.path.display().to_string(),
            op: request.op_name.clone(),
            input: request.input_name.clone(),
        });
    }
    let sites = FirmwareSites::new(firmware);
    let mut pairs = Vec::new();
    for pair in &unfilled {
        let claim = request.claim;
        let offset = request.offset.unwrap_or(claim.mined(&pair.overlap));
        let mut at = OffsetCheck {
            offset,
            runs: Vec::new(),
        };
        // "One byte less is unsafe" is part of a mined claim only: an
        // offset the user gives is checked on its own.
        let mut below = (request.offset.is_none() && offset > 0).then(|| OffsetCheck {
            offset: offset - 1,
            runs: Vec::new(),
        });
        for &seed in &request.seeds {
            // The reference run: the op as placed, on this seed's input; its
            // mined pair gives the witness for this very input.
            let (reference, seeded) = reference_run(firmware, config, pair, seed)?;
            let witness = seeded
                .filter(|seeded| claim.mined(&seeded.overlap) == offset)
                .and_then(|seeded| claim.witness(&seeded.overlap));
            at.runs.push(check(
                firmware,
                config,
                pair,
                claim.placement(offset),
                seed,
                &reference,
                None,
                &sites,
            )?);
            if let Some(below) = &mut below {
                below.runs.push(check(
                    firmware,
                    config,
                    pair,
                    claim.placement(offset - 1),
                    seed,
                    &reference,
                    witness,
                    &sites,
                )?);
            }
        }
        pairs.push(PairVerification {
            op_name: pair.op_name.clone(),
            op_kind: pair.op_kind.clone(),
            input_name: pair.input.name.clone(),
            output_name: pair.output.name.clone(),
            mined_s_min: pair.overlap.s_min.0,
            mined_s_mono: pair.overlap.s_mono.0,
            mined_u_min: pair.overlap.u_min.0,
            mined_u_mono: pair.overlap.u_mono.0,
            claim,
            at,
            below,
        });
    }
    Ok(Verification {
        firmware: firmware.path.display().to_string(),
        pairs,
    })
}

/// The requested op's first run's pairs, mined from the firmware's own data.
fn mine(
    firmware: &Firmware,
    config: &RunConfig,
    request: &VerifyRequest,
) -> Result<Vec<PairResult>, ReportError> {
    let mut miner = PairMiner::new();
    let outcome = dmo_emu::run(firmware, config, &mut miner)?;
    if !outcome.status.is_complete() {
        return Err(ReportError::RunFailed {
            firmware: firmware.path.display().to_string(),
            status: format!("{:?}", outcome.status),
        });
    }
    let pairs = miner.finish();
    let Some(first_index) = pairs
        .iter()
        .find(|pair| pair.op_name == request.op_name)
        .map(|pair| pair.segment_index)
    else {
        return Ok(Vec::new());
    };
    Ok(pairs
        .into_iter()
        .filter(|pair| pair.segment_index == first_index)
        .filter(|pair| !matches!(&request.input_name, Some(name) if name != &pair.input.name))
        .collect())
}

/// The op as placed with its input filled from `seed`: its output, and the
/// pair mined from this very run (whose witness the overlapped run must hit).
fn reference_run(
    firmware: &Firmware,
    config: &RunConfig,
    pair: &PairResult,
    seed: u64,
) -> Result<(dmo_emu::OverlayReport, Option<PairResult>), ReportError> {
    let mut miner = PairMiner::new();
    let overlay = overlay_for(pair, None, Some(seed), None);
    let outcome = dmo_emu::run_overlaid(firmware, config, overlay, &mut miner)?;
    let report = op_report(firmware, pair, outcome)?;
    let mined = miner.finish().into_iter().find(|mined| {
        mined.segment_index == pair.segment_index
            && mined.input.name == pair.input.name
            && mined.output.name == pair.output.name
    });
    Ok((report, mined))
}

fn overlay_for(
    pair: &PairResult,
    placement: Option<OverlayPlacement>,
    fill_seed: Option<u64>,
    watch_input_byte: Option<u64>,
) -> Overlay {
    Overlay {
        op_name: pair.op_name.clone(),
        occurrence: 0,
        input_start: pair.input.start,
        input_len: pair.input.len,
        output_start: pair.output.start,
        output_len: pair.output.len,
        placement,
        fill_seed,
        watch_input_byte,
    }
}

/// One run of the firmware with the pair's op overlaid; the op's output.
fn run_one(
    firmware: &Firmware,
    config: &RunConfig,
    pair: &PairResult,
    placement: Option<OverlayPlacement>,
    seed: u64,
    watch_input_byte: Option<u64>,
) -> Result<dmo_emu::OverlayReport, ReportError> {
    let overlay = overlay_for(pair, placement, Some(seed), watch_input_byte);
    let mut counter = dmo_core::CountingSink::default();
    let outcome = dmo_emu::run_overlaid(firmware, config, overlay, &mut counter)?;
    op_report(firmware, pair, outcome)
}

/// The overlaid op's report. An overlapped run may go wrong after the op
/// (its results feed later ops); only the op itself matters, so only a run
/// that did not reach the op's end is an error.
fn op_report(
    firmware: &Firmware,
    pair: &PairResult,
    outcome: dmo_emu::RunOutcome,
) -> Result<dmo_emu::OverlayReport, ReportError> {
    let report = outcome.overlay.unwrap_or_default();
    let ended = report.op_time.is_some_and(|time| time.end > time.start)
        && report.output.len() == pair.output.len as usize;
    if !ended {
        return Err(ReportError::RunFailed {
            firmware: firmware.path.display().to_string(),
            status: format!(
                "op `{}` did not run to its end ({:?})",
                pair.op_name, outcome.status
            ),
        });
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn check(
    firmware: &Firmware,
    config: &RunConfig,
    pair: &PairResult,
    placement: OverlayPlacement,
    seed: u64,
    reference: &dmo_emu::OverlayReport,
    witness: Option<dmo_overlap::Witness>,
    sites: &FirmwareSites<'_>,
) -> Result<SeedRun, ReportError> {
    let watch = witness.map(|w| w.input_byte);
    let overlapped = run_one(firmware, config, pair, Some(placement), seed, watch)?;
    let differing_output_bytes = reference
        .output
        .iter()
        .zip(&overlapped.output)
        .filter(|(a, b)| a != b)
        .count();
    let name = |read: &ClobberedRead| ObservedClobber {
        input_byte: read.input_byte,
        output_byte: read.output_byte,
        write_time: read.write_time,
        write: sites.site(read.write_pc),
        read_time: read.read_time,
        read: sites.site(read.read_pc),
    };
    let witness_observed = witness.map(|witness| {
        overlapped.watched_clobbered_read.is_some_and(|read| {
            read.read_time == witness.input_last_read
                && read.write_time == witness.output_first_access
                && read.output_byte == witness.output_byte
        })
    });
    Ok(SeedRun {
        seed,
        differing_output_bytes,
        clobbered_reads: overlapped.clobbered_reads,
        first_clobbered_read: overlapped.first_clobbered_read.as_ref().map(name),
        witness_observed,
    })
}
