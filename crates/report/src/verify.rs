//! Proof by re-execution: run an op with its output placed over its input
//! at a mined offset (`s_min` by default, or `s_mono`, `u_min`, `u_mono`,
//! or any offset) and at one byte less, on fresh pseudo-random inputs, and
//! compare with the op run as placed.
//!
//! The firmware runs once to mine the pairs (buffers as markers declare
//! them, or discovered from the run as [`BufferDiscovery`] does) while a
//! [`Session`] keeps a snapshot at every op's start; each check then
//! restores the op's snapshot and runs only the op. Restoring gives the
//! same events at the same times as re-running the firmware from reset
//! ([`VerifyRequest::full_reruns`] does that, to cross-check).
//!
//! Two fast paths, each falling back to the exact slow path where its
//! condition fails ([`VerifyRequest::fast_paths`] off takes the slow path
//! everywhere, to cross-check):
//! - A check from a snapshot hooks only the bytes it looks at (the whole
//!   pair for a run that is mined; for an overlapped run, the bytes that
//!   share memory, see [`Overlay::shared_ranges`]) and takes the event
//!   times of those accesses from dmo-emu's block clock, so its results are
//!   those of a fully hooked run. Where the clock cannot place an access,
//!   the check is run again fully hooked.
//! - The run at the offset comes first, mined. When it is transparent (it
//!   read exactly what the op as placed reads, see
//!   [`dmo_emu::OverlayReport::is_transparent`]) it is the reference run
//!   with its seed; otherwise the reference run is made as well.

use crate::model::InstructionSite;
use crate::sources::FirmwareSites;
use crate::ReportError;
use dmo_core::{Buffer, Event, EventSink, EventTime};
use dmo_emu::{
    ClobberedRead, Firmware, Overlay, OverlayPlacement, RunConfig, RunOutcome, Session,
    SessionShare, DEFAULT_SNAPSHOT_BUDGET,
};
use dmo_overlap::{PairOverlap, Witness};
use dmo_trace::{
    BufferDiscovery, PairMiner, PairResult, TraceMetadata, TraceOptions, TraceReader, TraceWriter,
};
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Which ops to verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpSelector {
    /// The first op with this name; failing that, if it is a number, the
    /// op with that index (0-based, in run order).
    Named(String),
    /// Every op of the run.
    All,
}

/// What to verify.
#[derive(Clone, Debug)]
pub struct VerifyRequest {
    pub op: OpSelector,
    /// Only the pair with this input buffer (default: every pair of the op).
    pub input_name: Option<String>,
    /// Which mined offset to check (and in which direction).
    pub claim: Claim,
    /// Check this offset instead of the mined one (same direction).
    pub offset: Option<u64>,
    /// Seeds of the pseudo-random input fills, one reference and one
    /// overlapped run each.
    pub seeds: Vec<u64>,
    /// Re-run the firmware from reset, in a fresh engine, for every check
    /// instead of restoring op-start snapshots, without the fast paths:
    /// slower, same results.
    pub full_reruns: bool,
    /// The fast paths, each with an exact fallback: checks from snapshots
    /// hook only what they look at, with event times from the block clock
    /// (a fully hooked run where it cannot place an access); and a
    /// transparent run at the offset stands for the reference run with its
    /// seed (the reference run is made where it is not transparent). Off:
    /// every access of every check hooked and every reference run made;
    /// slower, the same results.
    pub fast_paths: bool,
    /// Threads for the checks from snapshots (`None`: rayon's default, one
    /// per core). Each thread has its own engine and restores the first
    /// run's snapshots, shared read-only; `Some(1)` runs every check in the
    /// engine of the first run. The results, and their order, are the same.
    pub jobs: Option<usize>,
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

    /// The mined offset of this claim, as a verification recorded it.
    pub fn mined_of(self, pair: &PairVerification) -> u64 {
        match self {
            Claim::SMin => pair.mined_s_min,
            Claim::SMono => pair.mined_s_mono,
            Claim::UMin => pair.mined_u_min,
            Claim::UMono => pair.mined_u_mono,
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
    /// The op's position in the run, counting from 0.
    pub op_index: usize,
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
    /// How the checks ran (not a result: the same results come out of
    /// every way of running them).
    #[serde(skip)]
    pub runs: CheckRuns,
}

/// How many op runs the checks took, by how they were hooked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckRuns {
    /// Only the checked bytes hooked, times from the block clock.
    pub clocked: usize,
    /// Every access hooked: the clock could not place one (the clocked
    /// attempt, cut short, is not counted), or it was not asked for.
    pub fully_hooked: usize,
    /// Reference runs not needed: the run at the offset was transparent.
    pub skipped_references: usize,
    /// Threads (each with its own engine) the checks ran on.
    pub threads: usize,
}

/// Which bytes a check looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Looks {
    /// The whole pair (a reference run, mined).
    Pair,
    /// The bytes the overlay shares between output and input.
    Shared,
}

/// Re-runs `firmware` to check the offsets of the requested ops (see the
/// module docs).
pub fn verify(
    firmware: &Firmware,
    config: &RunConfig,
    request: &VerifyRequest,
) -> Result<Verification, ReportError> {
    let scratch = dmo_fsio::ScratchFolder::new()?;
    let mut sink = RunSink::first(scratch.path(), firmware, config)?;
    if request.full_reruns {
        let outcome = dmo_emu::run(firmware, config, &mut sink)?;
        let mined = mine(firmware, config, request, outcome, sink)?;
        let mut runner = FullReruns {
            firmware,
            config,
            runs: CheckRuns::default(),
        };
        return check_all(firmware, request, &mined, &mut runner);
    }
    let mut session = Session::new(firmware, config, &mut sink, DEFAULT_SNAPSHOT_BUDGET)?;
    let outcome = session.run()?;
    let first = std::mem::replace(session.sink_mut(), RunSink::Idle);
    let mined = mine(firmware, config, request, outcome, first)?;
    let jobs = request
        .jobs
        .unwrap_or_else(rayon::current_num_threads)
        .min(mined.pairs.len())
        .max(1);
    if jobs == 1 {
        let mut runner = SessionRunner::new(&mut session, request.fast_paths);
        return check_all(firmware, request, &mined, &mut runner);
    }
    let share = session.share();
    // The first engine is not needed any more; its contexts go with it.
    drop(session);
    check_in_parallel(firmware, config, request, &mined, &share, jobs)
}

/// Runs the op runs of the checks (see [`check_pair`]).
trait OpRunner {
    /// The checks of a new pair begin.
    fn begin_pair(&mut self) {}

    /// Runs op `index` with `overlay`, reporting to a sink from the maker it
    /// is given (called again for each attempt), and hands the sink back;
    /// `Looks` says which bytes the check looks at.
    fn run(
        &mut self,
        index: usize,
        overlay: Overlay,
        make_sink: &dyn Fn() -> RunSink,
        looks: Looks,
    ) -> Result<(RunOutcome, RunSink), ReportError>;

    /// The op runs so far, by how they were hooked.
    fn runs(&self) -> CheckRuns;
}

/// Every check re-runs the firmware from reset in a fresh engine.
struct FullReruns<'a> {
    firmware: &'a Firmware,
    config: &'a RunConfig,
    runs: CheckRuns,
}

impl OpRunner for FullReruns<'_> {
    fn run(
        &mut self,
        _index: usize,
        overlay: Overlay,
        make_sink: &dyn Fn() -> RunSink,
        _looks: Looks,
    ) -> Result<(RunOutcome, RunSink), ReportError> {
        let mut sink = make_sink();
        let outcome = dmo_emu::run_overlaid(self.firmware, self.config, overlay, &mut sink)?;
        self.runs.fully_hooked += 1;
        Ok((outcome, sink))
    }

    fn runs(&self) -> CheckRuns {
        self.runs
    }
}

/// Checks restore op-start snapshots in one engine (the first run's, or a
/// replica of it), with the fast paths if asked for.
struct SessionRunner<'a, 's> {
    session: &'a mut Session<'s, RunSink>,
    fast_paths: bool,
    runs: CheckRuns,
}

impl<'a, 's> SessionRunner<'a, 's> {
    fn new(session: &'a mut Session<'s, RunSink>, fast_paths: bool) -> SessionRunner<'a, 's> {
        SessionRunner {
            session,
            fast_paths,
            runs: CheckRuns::default(),
        }
    }
}

impl OpRunner for SessionRunner<'_, '_> {
    fn begin_pair(&mut self) {
        // Which checks take the block clock then depends only on the pair,
        // not on which pairs this engine checked before (with --jobs, that
        // depends on the scheduling).
        self.session.reset_clock();
    }

    fn run(
        &mut self,
        index: usize,
        overlay: Overlay,
        make_sink: &dyn Fn() -> RunSink,
        looks: Looks,
    ) -> Result<(RunOutcome, RunSink), ReportError> {
        let session = &mut *self.session;
        let from_snapshot = session.has_snapshot(index);
        let fresh_sink = || {
            let mut sink = make_sink();
            // From a snapshot, the op is the first to begin.
            if let (RunSink::Pair(one), true) = (&mut sink, from_snapshot) {
                one.skip = 0;
            }
            sink
        };
        if from_snapshot && self.fast_paths {
            let hooked = match looks {
                Looks::Pair => overlay.pair_ranges(),
                Looks::Shared => overlay.shared_ranges(),
            };
            *session.sink_mut() = fresh_sink();
            if let Ok(outcome) = session.run_overlaid_op_clocked(index, overlay.clone(), &hooked)? {
                self.runs.clocked += 1;
                return Ok((
                    outcome,
                    std::mem::replace(session.sink_mut(), RunSink::Idle),
                ));
            }
        }
        *session.sink_mut() = fresh_sink();
        let outcome = session.run_overlaid_op(index, overlay)?;
        self.runs.fully_hooked += 1;
        Ok((
            outcome,
            std::mem::replace(session.sink_mut(), RunSink::Idle),
        ))
    }

    fn runs(&self) -> CheckRuns {
        self.runs
    }
}

/// Checks the pairs on `jobs` threads, each with its own replica of the
/// first run's engine; pairs are handed out in order, and results are put
/// back in order. A failing check ends the checks of later pairs, and the
/// error of the first failing pair is returned (the one the checks in order
/// would have stopped at: every pair before it was checked).
fn check_in_parallel(
    firmware: &Firmware,
    config: &RunConfig,
    request: &VerifyRequest,
    mined: &Mined,
    share: &SessionShare,
    jobs: usize,
) -> Result<Verification, ReportError> {
    type PairOutcome = Result<(PairVerification, CheckRuns), ReportError>;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|index| format!("dmo-verify-{index}"))
        .build()
        .map_err(|error| ReportError::Threads {
            jobs,
            message: error.to_string(),
        })?;
    let count = mined.pairs.len();
    let next = AtomicUsize::new(0);
    let first_failed = AtomicUsize::new(usize::MAX);
    let results: Mutex<Vec<Option<PairOutcome>>> = Mutex::new((0..count).map(|_| None).collect());
    pool.broadcast(|_| {
        let mut sink = RunSink::Idle;
        let sites = FirmwareSites::new(firmware);
        let (mut replica, mut setup_error) =
            match Session::replica(firmware, config, &mut sink, share) {
                Ok(session) => (Some(session), None),
                Err(error) => (None, Some(ReportError::from(error))),
            };
        loop {
            let job = next.fetch_add(1, Ordering::SeqCst);
            if job >= count || job > first_failed.load(Ordering::SeqCst) {
                break;
            }
            let outcome = match (&mut replica, setup_error.take()) {
                (Some(session), _) => {
                    let mut runner = SessionRunner::new(session, request.fast_paths);
                    check_pair(firmware, request, mined, job, &sites, &mut runner).map(
                        |(pair, skipped)| {
                            let mut runs = runner.runs();
                            runs.skipped_references = skipped;
                            (pair, runs)
                        },
                    )
                }
                (None, Some(error)) => Err(error),
                (None, None) => break,
            };
            if outcome.is_err() {
                first_failed.fetch_min(job, Ordering::SeqCst);
            }
            results.lock().unwrap_or_else(|e| e.into_inner())[job] = Some(outcome);
        }
    });
    let mut pairs = Vec::with_capacity(count);
    let mut runs = CheckRuns {
        threads: jobs,
        ..CheckRuns::default()
    };
    for outcome in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
        // Pairs are handed out in order and only those after a failed one
        // are left out, so the first failure comes before any gap.
        let (pair, pair_runs) = outcome.expect("pairs before a failure are all checked")?;
        pairs.push(pair);
        runs.clocked += pair_runs.clocked;
        runs.fully_hooked += pair_runs.fully_hooked;
        runs.skipped_references += pair_runs.skipped_references;
    }
    Ok(Verification {
        firmware: firmware.path.display().to_string(),
        pairs,
        runs,
    })
}

/// The pairs to check, and the names of all ops in run order (to tell
/// which run of a name an op is).
struct Mined {
    pairs: Vec<PairResult>,
    op_names: Vec<String>,
}

/// What the runs of a verification report to.
enum RunSink {
    /// The first run: pairs as markers declare them, and (when buffers may
    /// have to be discovered) a trace of the run.
    First {
        miner: PairMiner,
        trace: Option<Box<(TraceWriter, std::path::PathBuf)>>,
    },
    /// A reference run: one pair's accesses.
    Pair(OnePair),
    /// An overlaid run: only the overlay's report counts.
    Idle,
}

impl RunSink {
    /// A trace is written unless the firmware's markers declare buffers.
    fn first(
        scratch: &std::path::Path,
        firmware: &Firmware,
        config: &RunConfig,
    ) -> Result<RunSink, ReportError> {
        let declares_buffers =
            config.op_functions.is_none() && firmware.symbols.by_name("dmo_buffer").is_some();
        let trace = if declares_buffers {
            None
        } else {
            let path = scratch.join("run.dmotrace");
            Some(Box::new((
                TraceWriter::create(&path, TraceOptions::default())?,
                path,
            )))
        };
        Ok(RunSink::First {
            miner: PairMiner::new(),
            trace,
        })
    }
}

impl EventSink for RunSink {
    #[inline]
    fn event(&mut self, event: &Event) {
        match self {
            RunSink::First { miner, trace } => {
                miner.event(event);
                if let Some((writer, _)) = trace.as_deref_mut() {
                    writer.event(event);
                }
            }
            RunSink::Pair(pair) => pair.event(event),
            RunSink::Idle => {}
        }
    }
    fn op_begin(&mut self, at: EventTime, name: &str, kind: &str) {
        match self {
            RunSink::First { miner, trace } => {
                miner.op_begin(at, name, kind);
                if let Some((writer, _)) = trace.as_deref_mut() {
                    writer.op_begin(at, name, kind);
                }
            }
            RunSink::Pair(pair) => pair.op_begin(at, name, kind),
            RunSink::Idle => {}
        }
    }
    fn op_buffer(&mut self, buffer: &Buffer) {
        if let RunSink::First { miner, trace } = self {
            miner.op_buffer(buffer);
            if let Some((writer, _)) = trace.as_deref_mut() {
                writer.op_buffer(buffer);
            }
        }
    }
    fn op_instructions(&mut self, count: u64) {
        if let RunSink::First {
            trace: Some(trace), ..
        } = self
        {
            trace.0.op_instructions(count);
        }
    }
    fn op_end(&mut self, at: EventTime) {
        match self {
            RunSink::First { miner, trace } => {
                miner.op_end(at);
                if let Some((writer, _)) = trace.as_deref_mut() {
                    writer.op_end(at);
                }
            }
            RunSink::Pair(pair) => pair.op_end(at),
            RunSink::Idle => {}
        }
    }
    fn wants_stop(&self) -> bool {
        match self {
            RunSink::First {
                trace: Some(trace), ..
            } => trace.0.wants_stop(),
            _ => false,
        }
    }
}

/// Mines one pair over one op of a run, with the pair's buffers given (so
/// that ops without buffer markers are mined alike): the op is the
/// `skip`-th op to begin.
struct OnePair {
    miner: PairMiner,
    input: Buffer,
    output: Buffer,
    skip: usize,
    begun: usize,
    active: bool,
}

impl OnePair {
    fn new(pair: &PairResult, skip: usize) -> OnePair {
        OnePair {
            miner: PairMiner::new(),
            input: pair.input.clone(),
            output: pair.output.clone(),
            skip,
            begun: 0,
            active: false,
        }
    }

    fn finish(self) -> Option<PairResult> {
        self.miner.finish().into_iter().next()
    }

    fn event(&mut self, event: &Event) {
        if self.active {
            self.miner.event(event);
        }
    }

    fn op_begin(&mut self, at: EventTime, name: &str, kind: &str) {
        self.op_end(at);
        if self.begun == self.skip {
            self.miner.op_begin(at, name, kind);
            self.miner.op_buffer(&self.input);
            self.miner.op_buffer(&self.output);
            self.active = true;
        }
        self.begun += 1;
    }

    fn op_end(&mut self, at: EventTime) {
        if self.active {
            self.miner.op_end(at);
            self.active = false;
        }
    }
}

/// The requested pairs, from the first run: as markers declared them, or
/// else with buffers discovered from the run's trace.
fn mine(
    firmware: &Firmware,
    config: &RunConfig,
    request: &VerifyRequest,
    outcome: RunOutcome,
    first: RunSink,
) -> Result<Mined, ReportError> {
    if !outcome.status.is_complete() {
        return Err(ReportError::RunFailed {
            firmware: firmware.path.display().to_string(),
            status: format!("{:?}", outcome.status),
        });
    }
    let RunSink::First { miner, trace } = first else {
        unreachable!("the first run reports to RunSink::First");
    };
    let mut pairs = miner.finish();
    if let (true, Some(trace)) = (pairs.is_empty(), trace) {
        let (writer, path) = *trace;
        writer.finish(TraceMetadata::from(outcome.record(firmware, config.cpu)))?;
        let reader = TraceReader::open(&path)?;
        let segments = BufferDiscovery::segments_to_mine(&reader)?;
        pairs = PairMiner::of_trace(&reader, &segments)?;
    }
    let op_names: Vec<String> = outcome.ops.iter().map(|op| op.name.clone()).collect();
    let no_such_op = |op: &str| ReportError::NoSuchOp {
        firmware: firmware.path.display().to_string(),
        op: op.to_owned(),
        input: request.input_name.clone(),
    };
    let wanted_input =
        |pair: &PairResult| !matches!(&request.input_name, Some(name) if name != &pair.input.name);
    let chosen: Vec<PairResult> = match &request.op {
        OpSelector::All => pairs.into_iter().filter(wanted_input).collect(),
        OpSelector::Named(name) => {
            let index = pairs
                .iter()
                .find(|pair| &pair.op_name == name)
                .map(|pair| pair.segment_index)
                .or_else(|| name.parse::<usize>().ok());
            pairs
                .into_iter()
                .filter(|pair| Some(pair.segment_index) == index)
                .filter(wanted_input)
                .collect()
        }
    };
    if chosen.is_empty() {
        return Err(no_such_op(match &request.op {
            OpSelector::Named(name) => name,
            OpSelector::All => "(any, with an input and an output buffer)",
        }));
    }
    Ok(Mined {
        pairs: chosen,
        op_names,
    })
}

/// Checks every chosen pair in order, with one runner.
fn check_all(
    firmware: &Firmware,
    request: &VerifyRequest,
    mined: &Mined,
    runner: &mut dyn OpRunner,
) -> Result<Verification, ReportError> {
    let sites = FirmwareSites::new(firmware);
    let mut pairs = Vec::new();
    let mut skipped_references = 0;
    for which in 0..mined.pairs.len() {
        let (pair, skipped) = check_pair(firmware, request, mined, which, &sites, runner)?;
        pairs.push(pair);
        skipped_references += skipped;
    }
    Ok(Verification {
        firmware: firmware.path.display().to_string(),
        pairs,
        runs: CheckRuns {
            skipped_references,
            threads: 1,
            ..runner.runs()
        },
    })
}

/// Checks pair `which` of `mined`; also returns how many reference runs
/// were not needed.
fn check_pair(
    firmware: &Firmware,
    request: &VerifyRequest,
    mined: &Mined,
    which: usize,
    sites: &FirmwareSites<'_>,
    runner: &mut dyn OpRunner,
) -> Result<(PairVerification, usize), ReportError> {
    let pair = &mined.pairs[which];
    let claim = request.claim;
    let mut skipped = 0;
    runner.begin_pair();
    let index = pair.segment_index;
    let occurrence = mined.op_names[..index.min(mined.op_names.len())]
        .iter()
        .filter(|name| **name == pair.op_name)
        .count();
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
        let make_pair = || RunSink::Pair(OnePair::new(pair, index));
        let mined_run = |sink: RunSink| match sink {
            RunSink::Pair(one) => one.finish(),
            _ => None,
        };
        // With the fast paths, the run at the offset comes first, mined
        // like a reference run: if it read exactly what the op as placed
        // reads (`OverlayReport::is_transparent`), it stands for the
        // reference run with this seed (its output and its mined pair
        // are that run's), and the reference run is not needed.
        let mut at_run = None;
        if request.fast_paths && !request.full_reruns {
            let overlay = overlay_for(
                pair,
                occurrence,
                Some(claim.placement(offset)),
                Some(seed),
                None,
            );
            let (outcome, sink) = runner.run(index, overlay, &make_pair, Looks::Pair)?;
            at_run = Some((op_report(firmware, pair, outcome)?, mined_run(sink)));
        }
        let (reference, seeded) = match &at_run {
            Some((report, seeded)) if report.is_transparent() => {
                skipped += 1;
                (report.clone(), seeded.clone())
            }
            _ => {
                // The reference run: the op as placed, on this seed's
                // input; its mined pair gives the witness for this very
                // input.
                let overlay = overlay_for(pair, occurrence, None, Some(seed), None);
                let (outcome, sink) = runner.run(index, overlay, &make_pair, Looks::Pair)?;
                (op_report(firmware, pair, outcome)?, mined_run(sink))
            }
        };
        let witness = seeded
            .filter(|seeded| claim.mined(&seeded.overlap) == offset)
            .and_then(|seeded| claim.witness(&seeded.overlap));
        let mut check = |placement: OverlayPlacement, witness: Option<Witness>| {
            let watch = witness.map(|w| w.input_byte);
            let overlay = overlay_for(pair, occurrence, Some(placement), Some(seed), watch);
            let (outcome, _) = runner.run(index, overlay, &|| RunSink::Idle, Looks::Shared)?;
            let overlapped = op_report(firmware, pair, outcome)?;
            Ok::<_, ReportError>(compare(seed, &reference, &overlapped, witness, sites))
        };
        at.runs.push(match &at_run {
            Some((overlapped, _)) => compare(seed, &reference, overlapped, None, sites),
            None => check(claim.placement(offset), None)?,
        });
        if let Some(below) = &mut below {
            below
                .runs
                .push(check(claim.placement(offset - 1), witness)?);
        }
    }
    let verification = PairVerification {
        op_index: index,
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
    };
    Ok((verification, skipped))
}

fn overlay_for(
    pair: &PairResult,
    occurrence: usize,
    placement: Option<OverlayPlacement>,
    fill_seed: Option<u64>,
    watch_input_byte: Option<u64>,
) -> Overlay {
    Overlay {
        op_name: pair.op_name.clone(),
        occurrence,
        input_start: pair.input.start,
        input_len: pair.input.len,
        output_start: pair.output.start,
        output_len: pair.output.len,
        placement,
        fill_seed,
        watch_input_byte,
    }
}

/// The overlaid op's report. An overlapped run may go wrong after the op
/// (its results feed later ops); only the op itself matters, so only a run
/// that did not reach the op's end is an error.
fn op_report(
    firmware: &Firmware,
    pair: &PairResult,
    outcome: RunOutcome,
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

/// One overlapped run against the reference run with the same seed.
fn compare(
    seed: u64,
    reference: &dmo_emu::OverlayReport,
    overlapped: &dmo_emu::OverlayReport,
    witness: Option<Witness>,
    sites: &FirmwareSites<'_>,
) -> SeedRun {
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
    SeedRun {
        seed,
        differing_output_bytes,
        clobbered_reads: overlapped.clobbered_reads,
        first_clobbered_read: overlapped.first_clobbered_read.as_ref().map(name),
        witness_observed,
    }
}
