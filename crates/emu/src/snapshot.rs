//! Snapshots at op starts, so that `dmo verify` re-runs one op without
//! re-running the firmware before it.
//!
//! A [`Session`] runs the firmware once and keeps, at the start of each op,
//! the CPU context (unicorn's `context_save`), the bytes of every writable
//! mapping and the run's counters (event time, instruction count, ops
//! begun). An overlaid run of an op then restores that snapshot and runs
//! only the op: its events carry the same times as in a full re-run, so
//! witnesses and clobbered reads compare one to one. A unicorn context holds
//! pointers into its own engine (the MPU region arrays, which
//! `uc_context_restore` would copy into another engine and then write
//! through), so a context is only ever restored into the engine that took
//! it. [`Session::share`] hands the rest of the snapshots (memory, counters,
//! and the CPU registers read one by one) to [`Session::replica`]s, other
//! engines for the same firmware (one per thread of `dmo verify --jobs`),
//! which restore the registers by writing them.
//!
//! Every fully hooked run of a session validates the block clock
//! (`blockclock`); [`Session::run_overlaid_op_clocked`] then runs an op with
//! only the bytes a check looks at hooked, at the same event times.

use crate::blockclock::{BlockClock, ClockMode, ClockStop};
use crate::config::RunConfig;
use crate::error::EmuError;
use crate::firmware::Firmware;
use crate::overlay::{HookedRange, Overlay, OverlayState};
use crate::run::{
    add_access_hook, add_clocked_access_hook, conclude, drive, prepare, take_snapshot, Hooks,
    Prepared, RunOutcome, RunState, Snapshot, SnapshotData, SnapshotTaker, RECENT_EVENTS,
};
use crate::semihosting::Semihosting;
use dmo_core::{ByteCount, EventSink};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use unicorn_engine::{HookType, Unicorn};

/// Default cap on the memory all snapshots of a session may hold. Ops past
/// it are re-run from reset instead (slower, same results).
pub const DEFAULT_SNAPSHOT_BUDGET: ByteCount = ByteCount(1 << 30);

/// One engine for one firmware: a first run that keeps snapshots at op
/// starts, then any number of overlaid runs of single ops.
pub struct Session<'s, S: EventSink> {
    uc: Unicorn<'s, RunState<'s, S>>,
    firmware: &'s Firmware,
    prepared: Prepared,
    /// The machine before the first instruction: re-runs from reset.
    initial: Snapshot,
    snapshots: BTreeMap<usize, Snapshot>,
    budget: ByteCount,
    /// The block clock's mode for the next run.
    clock_mode: ClockMode,
    /// The block clock as the first run left it (see
    /// [`reset_clock`](Session::reset_clock)).
    clock_base: Option<Arc<BlockClock>>,
}

/// What a session's first run left for other engines of the same firmware,
/// read-only: the op-start snapshots (without the engine's own CPU
/// contexts; ops whose registers could not be read are left out, and run
/// from reset) and the block clock's validated blocks. Cloning it copies no
/// snapshot.
#[derive(Clone)]
pub struct SessionShare {
    snapshots: Arc<Vec<(usize, Arc<SnapshotData>)>>,
    clock: Option<Arc<BlockClock>>,
}

impl<'s, S: EventSink> Session<'s, S> {
    /// Sets up the engine; `budget` caps the memory snapshots may take.
    pub fn new(
        firmware: &'s Firmware,
        config: &RunConfig,
        sink: &'s mut S,
        budget: ByteCount,
    ) -> Result<Session<'s, S>, EmuError> {
        let (mut uc, prepared) = prepare(firmware, config, sink, Hooks::Full, None)?;
        let writable: Vec<(u64, usize)> = prepared
            .layout
            .mappings
            .iter()
            .filter(|mapping| mapping.writable)
            .map(|mapping| (mapping.start as u64, mapping.len as usize))
            .collect();
        uc.get_data_mut().snapshots = Some(SnapshotTaker {
            writable: writable.clone(),
            budget_left: u64::MAX,
            taken: BTreeMap::new(),
        });
        take_snapshot(&mut uc, prepared.start.0);
        uc.get_data_mut().clock = Some(BlockClock::new());
        let initial = uc
            .get_data_mut()
            .snapshots
            .as_mut()
            .and_then(|taker| taker.taken.remove(&0))
            .ok_or_else(|| {
                EmuError::unicorn(
                    "save the initial machine state",
                    unicorn_engine::uc_error::NOMEM,
                )
            })?;
        Ok(Session {
            uc,
            firmware,
            prepared,
            initial,
            snapshots: BTreeMap::new(),
            budget,
            clock_mode: ClockMode::Validate,
            clock_base: None,
        })
    }

    /// Another engine for the same firmware and configuration, with the
    /// snapshots and the block clock of `share` (from
    /// [`share`](Self::share) of a session that ran): its overlaid runs
    /// give the same results as that session's.
    pub fn replica(
        firmware: &'s Firmware,
        config: &RunConfig,
        sink: &'s mut S,
        share: &SessionShare,
    ) -> Result<Session<'s, S>, EmuError> {
        let mut session = Session::new(firmware, config, sink, ByteCount(0))?;
        session.snapshots = share
            .snapshots
            .iter()
            .map(|(index, data)| {
                let snapshot = Snapshot {
                    context: None,
                    data: Arc::clone(data),
                };
                (*index, snapshot)
            })
            .collect();
        session.clock_base = share.clock.clone();
        session.reset_clock();
        Ok(session)
    }

    /// What [`replica`](Self::replica)s of this session need, after
    /// [`run`](Self::run).
    pub fn share(&self) -> SessionShare {
        let snapshots = self
            .snapshots
            .iter()
            .filter(|(_, snapshot)| snapshot.data.registers.is_some())
            .map(|(index, snapshot)| (*index, Arc::clone(&snapshot.data)))
            .collect();
        SessionShare {
            snapshots: Arc::new(snapshots),
            clock: self.clock_base.clone(),
        }
    }

    /// Puts the block clock back to what the first run validated,
    /// forgetting what later fully hooked runs taught it; so which checks
    /// take the clock depends only on what ran since, not on which engine
    /// ran which checks before.
    pub fn reset_clock(&mut self) {
        if let Some(base) = &self.clock_base {
            self.uc.get_data_mut().clock = Some(BlockClock::clone(base));
        }
    }

    /// The sink every run of this session reports to; swap what it does
    /// between runs.
    pub fn sink_mut(&mut self) -> &mut S {
        self.uc.get_data_mut().sink
    }

    /// Runs the whole firmware from reset, keeping a snapshot at the start
    /// of every op while the budget lasts.
    pub fn run(&mut self) -> Result<RunOutcome, EmuError> {
        let started = Instant::now();
        self.restore_reset()?;
        self.uc.get_data_mut().snapshots = Some(SnapshotTaker {
            writable: self
                .initial
                .data
                .memory
                .iter()
                .map(|(start, bytes)| (*start, bytes.len()))
                .collect(),
            budget_left: self.budget.0,
            taken: BTreeMap::new(),
        });
        self.start_clock();
        let result = drive(&mut self.uc, self.prepared.start.0, self.prepared.until);
        self.end_clock();
        if let Some(taker) = self.uc.get_data_mut().snapshots.take() {
            self.snapshots = taker.taken;
        }
        self.clock_base = self.uc.get_data().clock.clone().map(Arc::new);
        Ok(conclude(
            &mut self.uc,
            self.firmware,
            &self.prepared,
            result,
            started,
        ))
    }

    /// Whether [`run`](Self::run) kept a snapshot at the start of op
    /// `segment_index`.
    pub fn has_snapshot(&self, segment_index: usize) -> bool {
        self.snapshots.contains_key(&segment_index)
    }

    /// Runs op `segment_index` overlaid, from its snapshot if there is one,
    /// else from reset (then `overlay.occurrence` picks the op, as in
    /// [`crate::run_overlaid`]). The run stops when the op ends.
    pub fn run_overlaid_op(
        &mut self,
        segment_index: usize,
        mut overlay: Overlay,
    ) -> Result<RunOutcome, EmuError> {
        let started = Instant::now();
        let begin = match self.snapshots.get(&segment_index) {
            Some(snapshot) => {
                restore(&mut self.uc, snapshot, &self.initial)?;
                // The first op to begin after the snapshot is this one.
                overlay.occurrence = 0;
                snapshot.data.resume_pc
            }
            None => {
                self.restore_reset()?;
                self.prepared.start.0
            }
        };
        self.uc.get_data_mut().overlay = Some(OverlayState::new(overlay));
        self.start_clock();
        let result = drive(&mut self.uc, begin, self.prepared.until);
        self.end_clock();
        Ok(conclude(
            &mut self.uc,
            self.firmware,
            &self.prepared,
            result,
            started,
        ))
    }

    /// Runs op `segment_index` overlaid from its snapshot, like
    /// [`run_overlaid_op`](Self::run_overlaid_op), but with only the
    /// accesses that touch `hooked` traced (to the sink and the overlay),
    /// at the times a fully hooked run gives them (see `blockclock`).
    /// `Ok(Err(why))` when the block clock could not place every access (or
    /// the op has no snapshot): the caller then runs it fully hooked.
    pub fn run_overlaid_op_clocked(
        &mut self,
        segment_index: usize,
        overlay: Overlay,
        hooked: &[HookedRange],
    ) -> Result<Result<RunOutcome, ClockStop>, EmuError> {
        let Some(snapshot) = self.snapshots.get(&segment_index) else {
            return Ok(Err(ClockStop::NoSnapshot));
        };
        let peripherals = (snapshot.data.mmio_reads, snapshot.data.mmio_writes);
        let Some(full) = self.prepared.access_hook.take() else {
            return Ok(Err(ClockStop::NoSnapshot));
        };
        let hook_error = |e| EmuError::unicorn("swap the access hooks", e);
        self.uc.remove_hook(full).map_err(hook_error)?;
        let mut hooks = Vec::new();
        let mut added = Ok(());
        for (kind, write) in [(HookType::MEM_READ, false), (HookType::MEM_WRITE, true)] {
            let ranges: Vec<HookedRange> = hooked
                .iter()
                .filter(|range| if write { range.writes } else { range.reads })
                .copied()
                .collect();
            for (begin, end) in merged_hook_ranges(&ranges) {
                match add_clocked_access_hook(&mut self.uc, kind, begin, end, ranges.clone()) {
                    Ok(hook) => hooks.push(hook),
                    Err(error) => added = Err(error),
                }
            }
        }
        let result = match added {
            Ok(()) => {
                self.clock_mode = ClockMode::Clock;
                let result = self.run_overlaid_op(segment_index, overlay);
                self.clock_mode = ClockMode::Validate;
                result
            }
            Err(error) => Err(error),
        };
        for hook in hooks {
            self.uc.remove_hook(hook).map_err(hook_error)?;
        }
        self.prepared.access_hook = Some(add_access_hook(&mut self.uc)?);
        let outcome = result?;
        let state = self.uc.get_data();
        let stopped = state.clock.as_ref().and_then(|clock| clock.stopped);
        Ok(match stopped {
            Some(why) => Err(why),
            None if (state.mmio_reads, state.mmio_writes) != peripherals => {
                Err(ClockStop::Interrupted)
            }
            None => Ok(outcome),
        })
    }

    /// Blocks the block clock may place accesses in (validated by fully
    /// hooked runs so far).
    pub fn validated_blocks(&self) -> usize {
        self.uc
            .get_data()
            .clock
            .as_ref()
            .map_or(0, BlockClock::validated)
    }

    /// Starts the block clock for a run: validating, unless a clocked run
    /// is under way.
    fn start_clock(&mut self) {
        let mode = self.clock_mode;
        if let Some(clock) = &mut self.uc.get_data_mut().clock {
            clock.start(mode);
        }
    }

    fn end_clock(&mut self) {
        if let Some(clock) = &mut self.uc.get_data_mut().clock {
            clock.end_run();
        }
    }

    /// The machine as before the first instruction, with a fresh console.
    /// (Op snapshots keep the console as it is: kernels do not use it.)
    fn restore_reset(&mut self) -> Result<(), EmuError> {
        restore(&mut self.uc, &self.initial, &self.initial)?;
        self.uc.get_data_mut().semihosting = Semihosting::new(self.prepared.layout.heap_info);
        Ok(())
    }

    /// Runs the whole firmware overlaid from reset, as
    /// [`crate::run_overlaid`] does in a fresh engine.
    pub fn rerun_overlaid(&mut self, overlay: Overlay) -> Result<RunOutcome, EmuError> {
        let started = Instant::now();
        self.restore_reset()?;
        self.uc.get_data_mut().overlay = Some(OverlayState::new(overlay));
        let result = drive(&mut self.uc, self.prepared.start.0, self.prepared.until);
        Ok(conclude(
            &mut self.uc,
            self.firmware,
            &self.prepared,
            result,
            started,
        ))
    }
}

/// Puts the machine and the run's counters back to `snapshot`; `initial`
/// is this engine's own snapshot before the first instruction.
fn restore<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
    snapshot: &Snapshot,
    initial: &Snapshot,
) -> Result<(), EmuError> {
    let data = &*snapshot.data;
    for (start, bytes) in &data.memory {
        uc.mem_write(*start, bytes)
            .map_err(|e| EmuError::unicorn(format!("restore memory at 0x{start:08x}"), e))?;
    }
    match (&snapshot.context, &data.registers) {
        (Some(context), _) => uc
            .context_restore(context)
            .map_err(|e| EmuError::unicorn("restore the CPU context", e))?,
        (None, Some(registers)) => {
            // Another engine's snapshot: from reset (privileged thread
            // mode), then its registers.
            let reset = initial.context.as_ref().ok_or_else(|| {
                EmuError::unicorn("restore the CPU context", unicorn_engine::uc_error::ARG)
            })?;
            uc.context_restore(reset)
                .map_err(|e| EmuError::unicorn("restore the CPU context", e))?;
            registers
                .write(uc)
                .map_err(|e| EmuError::unicorn("restore the CPU registers", e))?;
        }
        (None, None) => {
            return Err(EmuError::unicorn(
                "restore the CPU registers",
                unicorn_engine::uc_error::ARG,
            ))
        }
    }
    let snapshot = data;
    let state = uc.get_data_mut();
    state.next_time = snapshot.next_time;
    state.reads = snapshot.reads;
    state.writes = snapshot.writes;
    state.instructions = snapshot.instructions;
    state.mmio_reads = snapshot.mmio_reads;
    state.mmio_writes = snapshot.mmio_writes;
    state.lowest_stack_pointer = snapshot.lowest_stack_pointer;
    state.ops_begun = snapshot.ops_begun;
    state.recent = [None; RECENT_EVENTS];
    state.stop = None;
    state.resume_at = None;
    state.open_op = None;
    state.ops.clear();
    state.warnings.clear();
    state.overlay = None;
    state.snapshots = None;
    Ok(())
}

/// Inclusive hook ranges that catch every access touching `ranges` (an
/// access of up to 8 bytes may begin 7 bytes before a range), merged so
/// that no access runs two hooks.
fn merged_hook_ranges(ranges: &[HookedRange]) -> Vec<(u64, u64)> {
    let mut spans: Vec<(u64, u64)> = ranges
        .iter()
        .filter(|range| range.end > range.start)
        .map(|range| (range.start.saturating_sub(7), range.end - 1))
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (begin, end) in spans {
        match merged.last_mut() {
            Some(last) if begin <= last.1 + 1 => last.1 = last.1.max(end),
            _ => merged.push((begin, end)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::{merged_hook_ranges, HookedRange, Session, Snapshot, SnapshotData};
    use crate::{Firmware, Overlay, RunConfig, DEFAULT_SNAPSHOT_BUDGET};
    use dmo_core::{BufferRole, CpuModel, Event, EventSink};
    use std::sync::Arc;

    #[derive(Default)]
    struct Recorder(Vec<Event>);

    impl EventSink for Recorder {
        fn event(&mut self, event: &Event) {
            self.0.push(*event);
        }
    }

    /// The control of `tests/replica.rs` (a replica's runs equal the first
    /// session's): the registers a replica writes are what the equality
    /// rests on. Given the registers of another op's start (with this op's
    /// memory and counters), the replica's run of the op differs.
    #[test]
    fn a_replica_with_other_registers_runs_the_op_differently() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/build/cortex-m4/tiny_cnn.elf");
        assert!(path.exists(), "run `make -C fixtures` first");
        let firmware = Firmware::load(&path).unwrap();
        let config = RunConfig {
            cpu: CpuModel::CortexM4,
            ..RunConfig::default()
        };
        let mut sink = Recorder::default();
        let mut session =
            Session::new(&firmware, &config, &mut sink, DEFAULT_SNAPSHOT_BUDGET).unwrap();
        let outcome = session.run().unwrap();
        let share = session.share();
        let op = &outcome.ops[2];
        let buffer = |role| op.buffers.iter().find(|b| b.role == role).unwrap();
        let (input, output) = (buffer(BufferRole::Input), buffer(BufferRole::Output));
        let overlay = Overlay {
            op_name: op.name.clone(),
            occurrence: 0,
            input_start: input.start,
            input_len: input.len,
            output_start: output.start,
            output_len: output.len,
            placement: None,
            fill_seed: Some(5),
            watch_input_byte: None,
        };
        let run_in_replica = |registers_of: usize| {
            let mut sink = Recorder::default();
            let mut replica = Session::replica(&firmware, &config, &mut sink, &share).unwrap();
            let own = &replica.snapshots[&2].data;
            let other = &replica.snapshots[&registers_of].data;
            let data = SnapshotData {
                memory: own.memory.clone(),
                registers: other.registers.clone(),
                ..**own
            };
            replica.snapshots.insert(
                2,
                Snapshot {
                    context: None,
                    data: Arc::new(data),
                },
            );
            let outcome = replica.run_overlaid_op(2, overlay.clone()).unwrap();
            (std::mem::take(&mut replica.sink_mut().0), outcome.overlay)
        };
        let right = run_in_replica(2);
        let wrong = run_in_replica(4);
        assert!(!right.0.is_empty());
        assert_ne!(right.0, wrong.0);
    }

    fn merged_hook_ranges_of(ranges: &[(u64, u64)]) -> Vec<(u64, u64)> {
        let ranges: Vec<HookedRange> = ranges
            .iter()
            .map(|&(start, end)| HookedRange {
                start,
                end,
                reads: true,
                writes: true,
            })
            .collect();
        merged_hook_ranges(&ranges)
    }

    #[test]
    fn hook_ranges_reach_back_seven_bytes_and_merge() {
        // Far apart: two hooks.
        assert_eq!(
            merged_hook_ranges_of(&[(0x1000, 0x1010), (0x2000, 0x2008)]),
            vec![(0x0ff9, 0x100f), (0x1ff9, 0x2007)]
        );
        // Output right after the input: one hook, so no access runs two.
        assert_eq!(
            merged_hook_ranges_of(&[(0x1000, 0x1010), (0x1010, 0x1020)]),
            vec![(0x0ff9, 0x101f)]
        );
        // Overlapping buffers, output first; empty ones hook nothing.
        assert_eq!(
            merged_hook_ranges_of(&[(0x1008, 0x1020), (0x1000, 0x1010), (0x3000, 0x3000)]),
            vec![(0x0ff9, 0x101f)]
        );
    }
}
