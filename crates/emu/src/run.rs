//! Running firmware under unicorn and reporting every data access.

use crate::blockclock::{block_shape, BlockClock, BlockShape, ClockMode, Entered};
use crate::config::RunConfig;
use crate::disasm::{thumb_instruction_len, Disassembler};
use crate::error::EmuError;
use crate::firmware::Firmware;
use crate::layout::{is_stub, plan_layout, MemoryLayout};
use crate::overlay::{HasOverlay, HookedRange, Overlay, OverlayReport, OverlayState};
use crate::semihosting::{GuestMemory, Outcome, Semihosting, Unreadable};
use dmo_core::{
    AccessKind, Address, Buffer, BufferRole, CpuModel, Event, EventSink, EventTime, MemoryRegion,
    OpSegment, RegionKind, RunEnd, RunRecord, RunStats, SymbolKind, TimeRange,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Instant;
use unicorn_engine::{Context, HookType, MemType, Prot, RegisterARM, UcHookId, Unicorn};

/// Where `--entry` functions return to: a page nothing else uses at the top
/// of the external-RAM region (0x6000_0000-0x9FFF_FFFF), the highest part of
/// the ARMv7-M default memory map where code may execute (the device and
/// system regions above are execute-never).
const RETURN_TRAP: u32 = 0x9fff_f000;

/// How many recent events a fault report shows.
pub(crate) const RECENT_EVENTS: usize = 12;

/// Where and why a run stopped abnormally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultReport {
    pub message: String,
    pub pc: Address,
    /// `symbol+offset` of the PC.
    pub location: String,
    /// The instruction at the PC, disassembled.
    pub instruction: String,
    /// The last few events before the fault, oldest first.
    pub recent_events: Vec<Event>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// The firmware called `exit()` (semihosting) with this status.
    Exited { status: i32 },
    /// The `--entry` function returned this value in r0.
    Returned { value: u32 },
    /// A CPU fault, unmapped access or unsupported call.
    Fault(Box<FaultReport>),
    /// `max_instructions` ran out.
    BudgetExhausted { instructions: u64 },
    /// The event sink asked to stop (e.g. it could not write).
    StoppedBySink,
}

impl RunStatus {
    /// Whether the run went to its natural end.
    pub fn is_complete(&self) -> bool {
        matches!(self, RunStatus::Exited { .. } | RunStatus::Returned { .. })
    }
}

/// Everything a run found out besides the events.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub stats: RunStats,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub memory_map: Vec<MemoryRegion>,
    pub initial_stack_pointer: Address,
    pub lowest_stack_pointer: Address,
    /// Op segments in time order (also sent to the sink as they happened).
    pub ops: Vec<OpSegment>,
    /// Names of the functions executed and of the data objects accessed.
    pub touched_symbols: Vec<String>,
    /// Oddities that did not stop the run (unbalanced markers, ...).
    pub warnings: Vec<String>,
    /// What the overlaid op did ([`run_overlaid`] only).
    pub overlay: Option<OverlayReport>,
}

impl RunStatus {
    /// How the run ended, in the words of a [`RunRecord`].
    pub fn end(&self) -> RunEnd {
        match self {
            RunStatus::Exited { status } => RunEnd::Complete { exit_code: *status },
            RunStatus::Returned { value } => RunEnd::Complete {
                exit_code: *value as i32,
            },
            RunStatus::Fault(report) => RunEnd::Fault {
                message: format!(
                    "{} at {} ({}: {})",
                    report.message, report.pc, report.location, report.instruction
                ),
                pc: report.pc,
            },
            RunStatus::BudgetExhausted { instructions } => RunEnd::Budget {
                instructions: *instructions,
            },
            RunStatus::StoppedBySink => RunEnd::Incomplete,
        }
    }
}

impl RunOutcome {
    /// This run of `firmware` on `cpu` as a [`RunRecord`], for whoever keeps
    /// it (the trace file makes its metadata from it).
    pub fn record(&self, firmware: &Firmware, cpu: CpuModel) -> RunRecord {
        let touched: HashSet<&str> = self.touched_symbols.iter().map(String::as_str).collect();
        RunRecord {
            elf_path: firmware.path.clone(),
            elf_sha256: firmware.sha256,
            cpu,
            memory_map: self.memory_map.clone(),
            symbols: firmware
                .symbols
                .iter()
                .filter(|symbol| touched.contains(symbol.name.as_str()))
                .cloned()
                .collect(),
            end: self.status.end(),
            stats: self.stats,
            firmware_stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
        }
    }
}

/// Why the run loop stopped, recorded by the hooks.
pub(crate) enum StopReason {
    Exit(i32),
    Fault { message: String },
    Budget,
    Sink,
}

/// An op segment being recorded.
pub(crate) struct OpenOp {
    segment: OpSegment,
    /// For `--ops` segments: return address and stack pointer at entry.
    return_to: Option<(u32, u32)>,
    /// The run's instruction count before the block where the op began.
    instructions_at_begin: u64,
}

/// Instruction counts of translated blocks, direct-mapped by address.
struct BlockLengths {
    slots: Vec<(u32, u32)>,
}

impl BlockLengths {
    const SLOTS: usize = 1 << 14;

    fn new() -> BlockLengths {
        BlockLengths {
            slots: vec![(u32::MAX, 0); Self::SLOTS],
        }
    }

    fn slot(address: u32) -> usize {
        (address as usize >> 1) & (Self::SLOTS - 1)
    }
}

/// Everything the hooks share; unicorn hands it to each hook.
pub(crate) struct RunState<'s, S: EventSink> {
    pub(crate) sink: &'s mut S,
    pub(crate) next_time: u64,
    pub(crate) reads: u64,
    pub(crate) writes: u64,
    pub(crate) instructions: u64,
    /// `instructions` before the block now running was counted. Ops begin
    /// and end at block starts (a function's entry, the block a call
    /// returns to), so an op's count is this at its end minus this at its
    /// begin: exactly the instructions from its first block up to, not
    /// including, the block where it ends.
    pub(crate) instructions_before_block: u64,
    max_instructions: u64,
    pub(crate) mmio_reads: u64,
    pub(crate) mmio_writes: u64,
    pub(crate) recent: [Option<Event>; RECENT_EVENTS],
    pub(crate) stop: Option<StopReason>,
    /// Where to restart after a semihosting call (see `run`).
    pub(crate) resume_at: Option<u32>,
    pub(crate) semihosting: Semihosting,
    block_lengths: BlockLengths,
    executed_blocks: BTreeSet<u32>,
    /// One bit per 256-byte granule of the address space that events touched.
    touched_granules: Vec<u64>,
    pub(crate) lowest_stack_pointer: u32,
    pub(crate) open_op: Option<OpenOp>,
    /// Ops begun so far: the segment index the next op gets.
    pub(crate) ops_begun: usize,
    pub(crate) ops: Vec<OpSegment>,
    pub(crate) warnings: Vec<String>,
    sink_checks: u32,
    /// `dmo verify`: one op run with its output over its input.
    pub(crate) overlay: Option<OverlayState>,
    /// `dmo verify`: snapshots taken at op starts during a session's first run.
    pub(crate) snapshots: Option<SnapshotTaker>,
    /// `dmo verify`'s sessions: the block clock, validated by fully hooked
    /// runs and used by runs that hook only some accesses.
    pub(crate) clock: Option<BlockClock>,
}

impl<S: EventSink> HasOverlay for RunState<'_, S> {
    fn overlay_mut(&mut self) -> &mut Option<OverlayState> {
        &mut self.overlay
    }
    fn now(&self) -> EventTime {
        EventTime(self.next_time)
    }
}

impl<S: EventSink> RunState<'_, S> {
    fn now(&self) -> EventTime {
        EventTime(self.next_time)
    }

    fn begin_op(&mut self, name: String, kind: String, return_to: Option<(u32, u32)>) {
        if let Some(open) = &self.open_op {
            self.warnings.push(format!(
                "op `{}` began while `{}` was still open; closed `{}` there",
                name, open.segment.name, open.segment.name
            ));
            self.end_op();
        }
        let now = self.now();
        self.ops_begun += 1;
        self.sink.op_begin(now, &name, &kind);
        self.open_op = Some(OpenOp {
            segment: OpSegment {
                name,
                kind,
                time: TimeRange::new(now, now),
                buffers: Vec::new(),
                instructions: None,
            },
            return_to,
            instructions_at_begin: self.instructions_before_block,
        });
    }

    fn end_op(&mut self) {
        let now = self.now();
        if let Some(mut open) = self.open_op.take() {
            open.segment.time.end = now;
            let instructions = self
                .instructions_before_block
                .saturating_sub(open.instructions_at_begin);
            open.segment.instructions = Some(instructions);
            self.sink.op_instructions(instructions);
            self.sink.op_end(now);
            self.ops.push(open.segment);
        } else {
            self.warnings
                .push(format!("dmo_op_end() at {now} without an open op; ignored"));
        }
    }
}

/// Guest memory view for semihosting and marker strings.
struct UnicornMemory<'u, 'a, D>(&'u mut Unicorn<'a, D>);

impl<D> GuestMemory for UnicornMemory<'_, '_, D> {
    fn read(&mut self, address: u32, buffer: &mut [u8]) -> Result<(), Unreadable> {
        self.0
            .mem_read(address as u64, buffer)
            .map_err(|_| Unreadable)
    }
    fn write(&mut self, address: u32, bytes: &[u8]) -> Result<(), Unreadable> {
        self.0
            .mem_write(address as u64, bytes)
            .map_err(|_| Unreadable)
    }
}

fn register<D>(uc: &Unicorn<'_, D>, register: RegisterARM) -> u32 {
    uc.reg_read(register).unwrap_or(0) as u32
}

/// Runs `firmware` and sends its events to `sink`.
pub fn run<S: EventSink>(
    firmware: &Firmware,
    config: &RunConfig,
    sink: &mut S,
) -> Result<RunOutcome, EmuError> {
    run_with(firmware, config, sink, Hooks::Full, None)
}

/// Like [`run`], with one op's output placed over its input (`dmo verify`,
/// see [`Overlay`]); the outcome's `overlay` says what the op did.
pub fn run_overlaid<S: EventSink>(
    firmware: &Firmware,
    config: &RunConfig,
    overlay: Overlay,
    sink: &mut S,
) -> Result<RunOutcome, EmuError> {
    run_with(firmware, config, sink, Hooks::Full, Some(overlay))
}

/// The benchmark baseline: the same firmware on the same unicorn set-up with
/// only what any correct unicorn tracer needs: a memory hook that counts
/// accesses (with the IT-state repair, without which Thumb code goes wrong),
/// and semihosting so the firmware can finish. No PCs, no events, no op
/// markers, no instruction counting or budget. `stats.events` is the count.
pub fn run_counting_baseline(
    firmware: &Firmware,
    config: &RunConfig,
) -> Result<RunOutcome, EmuError> {
    run_with(
        firmware,
        config,
        &mut dmo_core::CountingSink::default(),
        Hooks::Baseline,
        None,
    )
}

/// What [`run_hook_probe`] hooks, to measure what hooks cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookProbe {
    /// Every data access, as `dmo trace` does.
    Every,
    /// Only accesses beginning in `begin..=end` (unicorn still sends every
    /// access of every translated block through its slow path while any
    /// memory hook exists, but restores the PC only for these).
    Bounded { begin: u64, end: u64 },
    /// Only stores beginning in `begin..=end` (loads take the slow path all
    /// the same).
    BoundedStores { begin: u64, end: u64 },
    /// No memory hook at all (the block hook and the markers stay).
    NoAccessHook,
}

/// Runs the firmware with the usual hooks, except the access hook, which
/// `probe` picks; events go to a counter (`stats.events` counts the hooked
/// accesses). For benchmarks of what a check costs (`dmo verify`'s clocked
/// runs hook a bounded range).
pub fn run_hook_probe(
    firmware: &Firmware,
    config: &RunConfig,
    probe: HookProbe,
) -> Result<RunOutcome, EmuError> {
    let started = Instant::now();
    let mut sink = dmo_core::CountingSink::default();
    let (mut uc, mut prepared) = prepare(firmware, config, &mut sink, Hooks::Full, None)?;
    if probe != HookProbe::Every {
        if let Some(full) = prepared.access_hook.take() {
            uc.remove_hook(full)
                .map_err(|e| EmuError::unicorn("remove the access hook", e))?;
        }
    }
    let bounded = match probe {
        HookProbe::Bounded { begin, end } => {
            Some((HookType::MEM_READ | HookType::MEM_WRITE, begin, end))
        }
        HookProbe::BoundedStores { begin, end } => Some((HookType::MEM_WRITE, begin, end)),
        _ => None,
    };
    if let Some((kind, begin, end)) = bounded {
        uc.add_mem_hook(kind, begin, end, |uc, mem_type, address, size, value| {
            let pc = register(uc, RegisterARM::PC);
            clear_restored_it_state(uc);
            let state = uc.get_data_mut();
            let time = state.next_time;
            state.next_time += 1;
            record_access(uc, time, pc, mem_type, address as u32, size, value);
            true
        })
        .map_err(|e| EmuError::unicorn("install a bounded access hook", e))?;
    }
    let result = drive(&mut uc, prepared.start.0, prepared.until);
    Ok(conclude(&mut uc, firmware, &prepared, result, started))
}

/// Which hooks a run installs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hooks {
    Full,
    Baseline,
}

fn run_with<S: EventSink>(
    firmware: &Firmware,
    config: &RunConfig,
    sink: &mut S,
    hooks: Hooks,
    overlay: Option<Overlay>,
) -> Result<RunOutcome, EmuError> {
    let started = Instant::now();
    let (mut uc, prepared) = prepare(firmware, config, sink, hooks, overlay)?;
    let result = drive(&mut uc, prepared.start.0, prepared.until);
    Ok(conclude(&mut uc, firmware, &prepared, result, started))
}

/// A set-up engine: where its run starts and ends.
pub(crate) struct Prepared {
    pub(crate) layout: MemoryLayout,
    /// The `--entry` function's address, if any.
    pub(crate) entry: Option<Address>,
    pub(crate) start: Address,
    pub(crate) until: u64,
    /// The hook on every access (full hooks only); a pair-clock replay
    /// swaps it for hooks on the pair's bytes.
    pub(crate) access_hook: Option<UcHookId>,
}

/// Opens an engine with the firmware's memory, the hooks and the initial
/// registers, ready to run from [`Prepared::start`].
pub(crate) fn prepare<'s, S: EventSink>(
    firmware: &Firmware,
    config: &RunConfig,
    sink: &'s mut S,
    hooks: Hooks,
    overlay: Option<Overlay>,
) -> Result<(Unicorn<'s, RunState<'s, S>>, Prepared), EmuError> {
    let layout = plan_layout(firmware, config)?;
    let entry_symbol = match &config.entry {
        Some(name) => Some(
            firmware
                .symbols
                .by_name(name)
                .filter(|symbol| symbol.kind == SymbolKind::Function)
                .ok_or_else(|| EmuError::UnknownEntry {
                    firmware: firmware.path.clone(),
                    name: name.clone(),
                })?
                .address,
        ),
        None => None,
    };
    let start = entry_symbol.unwrap_or(layout.start);

    let state = RunState {
        sink,
        next_time: 0,
        reads: 0,
        writes: 0,
        instructions: 0,
        instructions_before_block: 0,
        max_instructions: config.max_instructions,
        mmio_reads: 0,
        mmio_writes: 0,
        recent: [None; RECENT_EVENTS],
        stop: None,
        resume_at: None,
        semihosting: Semihosting::new(layout.heap_info),
        block_lengths: BlockLengths::new(),
        executed_blocks: BTreeSet::new(),
        touched_granules: vec![0u64; (1usize << 24) / 64],
        lowest_stack_pointer: layout.initial_stack_pointer.0,
        open_op: None,
        ops_begun: 0,
        ops: Vec::new(),
        warnings: Vec::new(),
        sink_checks: 0,
        overlay: overlay.map(OverlayState::new),
        snapshots: None,
        clock: None,
    };
    let mut uc = crate::cpu::open_engine(config.cpu, state)?;

    map_memory(&mut uc, &layout)?;
    let access_hook = match hooks {
        Hooks::Full => Some(install_hooks(&mut uc, firmware, config)?),
        Hooks::Baseline => {
            install_baseline_hooks(&mut uc)?;
            None
        }
    };

    let mut until = u64::from(u32::MAX);
    let mut initial_lr = 0xffff_ffffu32;
    if entry_symbol.is_some() {
        uc.mem_map(RETURN_TRAP as u64, 0x1000, Prot::READ | Prot::EXEC)
            .map_err(|e| EmuError::unicorn("map the return trap page", e))?;
        // `b .` so that nothing runs past the trap even if unicorn overshoots.
        uc.mem_write(RETURN_TRAP as u64, &[0xfe, 0xe7])
            .map_err(|e| EmuError::unicorn("write the return trap", e))?;
        until = RETURN_TRAP as u64;
        initial_lr = RETURN_TRAP | 1;
    }
    let sp = layout.initial_stack_pointer.0 as u64;
    for (reg, value) in [
        (RegisterARM::SP, sp),
        (RegisterARM::MSP, sp),
        (RegisterARM::LR, initial_lr as u64),
    ] {
        uc.reg_write(reg, value)
            .map_err(|e| EmuError::unicorn("set up registers", e))?;
    }
    Ok((
        uc,
        Prepared {
            layout,
            entry: entry_symbol,
            start,
            until,
            access_hook,
        },
    ))
}

/// Runs from `begin` until the firmware stops.
///
/// Semihosting calls stop the engine and name where to go on, rather than
/// writing the PC from the hook: a PC written inside a hook makes unicorn
/// 2.1 stop syncing the PC before later memory hooks (`skip_sync_pc_on_exit`
/// stays set until the next `emu_start`), so every later event would carry
/// the PC of its block's first instruction.
pub(crate) fn drive<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
    begin: u32,
    until: u64,
) -> Result<(), unicorn_engine::uc_error> {
    let mut begin = begin;
    loop {
        let result = uc.emu_start((begin | 1) as u64, until, 0, 0);
        let state = uc.get_data_mut();
        match state.resume_at.take() {
            Some(next) if result.is_ok() && state.stop.is_none() => begin = next,
            _ => break result,
        }
    }
}

/// How the run that [`drive`] ended went, and what it saw.
pub(crate) fn conclude<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
    firmware: &Firmware,
    prepared: &Prepared,
    result: Result<(), unicorn_engine::uc_error>,
    started: Instant,
) -> RunOutcome {
    let layout = &prepared.layout;
    let entry_symbol = prepared.entry;
    let pc = register(uc, RegisterARM::PC);
    let r0 = register(uc, RegisterARM::R0);
    let stop = uc.get_data_mut().stop.take();
    let disassembler = Disassembler::new();
    let fault = |uc: &mut Unicorn<'_, RunState<'_, S>>, message: String| {
        let mut code = [0u8; 4];
        let instruction = if uc.mem_read(pc as u64, &mut code).is_ok() {
            disassembler
                .instruction(&code, pc)
                .unwrap_or_else(|| format!("<undecodable {:02x}{:02x}>", code[1], code[0]))
        } else {
            "<not mapped>".into()
        };
        let state = uc.get_data();
        let next = state.next_time as usize;
        let recent_events = (0..RECENT_EVENTS)
            .filter_map(|back| state.recent[(next + back) % RECENT_EVENTS])
            .collect();
        RunStatus::Fault(Box::new(FaultReport {
            message,
            pc: Address(pc),
            location: firmware.symbols.describe(Address(pc)),
            instruction,
            recent_events,
        }))
    };
    let status = match (stop, result) {
        (Some(StopReason::Exit(status)), _) => RunStatus::Exited { status },
        (Some(StopReason::Budget), _) => RunStatus::BudgetExhausted {
            instructions: uc.get_data().instructions,
        },
        (Some(StopReason::Sink), _) => RunStatus::StoppedBySink,
        (Some(StopReason::Fault { message }), _) => fault(uc, message),
        (None, Ok(())) if entry_symbol.is_some() && pc == RETURN_TRAP => {
            RunStatus::Returned { value: r0 }
        }
        (None, Ok(())) => fault(
            uc,
            "emulation stopped without an exit (did the firmware return from main without calling exit()?)".into(),
        ),
        (None, Err(error)) => fault(uc, describe_unicorn_error(error)),
    };

    let state = uc.get_data_mut();
    if state.open_op.is_some() {
        if status.is_complete() {
            let name = state.open_op.as_ref().map(|op| op.segment.name.clone());
            state.warnings.push(format!(
                "op `{}` was still open when the run ended; closed there",
                name.unwrap_or_default()
            ));
        }
        state.end_op();
    }
    let overlay = uc
        .get_data_mut()
        .overlay
        .take()
        .map(OverlayState::into_report);
    let state = uc.get_data();
    let touched_symbols = firmware
        .symbols
        .iter()
        .filter(|symbol| match symbol.kind {
            SymbolKind::Function => state
                .executed_blocks
                .range(symbol.address.0..symbol.address.0.saturating_add(symbol.size.max(1)))
                .next()
                .is_some(),
            SymbolKind::Object => {
                let first = symbol.address.0 >> 8;
                let last = symbol.address.0.saturating_add(symbol.size.max(1) - 1) >> 8;
                (first..=last).any(|granule| {
                    state.touched_granules[granule as usize / 64] >> (granule % 64) & 1 != 0
                })
            }
        })
        .map(|symbol| symbol.name.clone())
        .collect();
    let mut memory_map = layout.regions.clone();
    memory_map.push(MemoryRegion {
        name: "stack".into(),
        start: Address(state.lowest_stack_pointer),
        len: layout.initial_stack_pointer.0 - state.lowest_stack_pointer,
        kind: RegionKind::Stack,
    });
    RunOutcome {
        status,
        stats: RunStats {
            instructions: state.instructions,
            events: state.next_time,
            reads: state.reads,
            writes: state.writes,
            mmio_reads: state.mmio_reads,
            mmio_writes: state.mmio_writes,
            wall_time_ms: started.elapsed().as_millis() as u64,
        },
        stdout: state.semihosting.stdout.clone(),
        stderr: state.semihosting.stderr.clone(),
        memory_map,
        initial_stack_pointer: layout.initial_stack_pointer,
        lowest_stack_pointer: Address(state.lowest_stack_pointer),
        ops: state.ops.clone(),
        touched_symbols,
        warnings: state.warnings.clone(),
        overlay,
    }
}

fn describe_unicorn_error(error: unicorn_engine::uc_error) -> String {
    use unicorn_engine::uc_error;
    match error {
        uc_error::INSN_INVALID => "undefined or unsupported instruction".into(),
        uc_error::READ_UNMAPPED => "read from unmapped memory".into(),
        uc_error::WRITE_UNMAPPED => "write to unmapped memory".into(),
        uc_error::FETCH_UNMAPPED => "jump to unmapped memory".into(),
        uc_error::WRITE_PROT => "write to read-only memory (flash)".into(),
        uc_error::FETCH_PROT => "jump to non-executable memory".into(),
        uc_error::READ_UNALIGNED | uc_error::WRITE_UNALIGNED | uc_error::FETCH_UNALIGNED => {
            "unaligned access".into()
        }
        uc_error::EXCEPTION => "unhandled CPU exception".into(),
        other => format!("emulator error {other:?}"),
    }
}

fn map_memory<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
    layout: &MemoryLayout,
) -> Result<(), EmuError> {
    for mapping in &layout.mappings {
        let prot = if mapping.writable {
            Prot::ALL
        } else {
            Prot::READ | Prot::EXEC
        };
        uc.mem_map(mapping.start as u64, mapping.len as u64, prot)
            .map_err(|e| {
                EmuError::unicorn(
                    format!(
                        "map 0x{:08x}..0x{:08x}",
                        mapping.start,
                        mapping.start as u64 + mapping.len as u64
                    ),
                    e,
                )
            })?;
    }
    for (address, bytes) in &layout.initial_bytes {
        uc.mem_write(address.0 as u64, bytes)
            .map_err(|e| EmuError::unicorn(format!("load bytes at {address}"), e))?;
    }
    for stub in layout
        .regions
        .iter()
        .filter(|r| r.kind == RegionKind::MmioStub)
    {
        uc.mmio_map(
            stub.start.0 as u64,
            stub.len as u64,
            Some(
                |uc: &mut Unicorn<'_, RunState<'_, S>>, _offset: u64, _size: usize| {
                    let state = uc.get_data_mut();
                    state.mmio_reads += 1;
                    if let Some(clock) = &mut state.clock {
                        clock.peripheral();
                    }
                    0
                },
            ),
            Some(
                |uc: &mut Unicorn<'_, RunState<'_, S>>, _offset: u64, _size: usize, _value: u64| {
                    let state = uc.get_data_mut();
                    state.mmio_writes += 1;
                    if let Some(clock) = &mut state.clock {
                        clock.peripheral();
                    }
                },
            ),
        )
        .map_err(|e| EmuError::unicorn(format!("map the {} stub", stub.name), e))?;
    }
    Ok(())
}

fn install_baseline_hooks<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
) -> Result<(), EmuError> {
    let hook_error = |e| EmuError::unicorn("install a hook", e);
    uc.add_mem_hook(
        HookType::MEM_READ | HookType::MEM_WRITE,
        1,
        0,
        |uc, _mem_type, address, _size, _value| {
            if !is_stub(address as u32) {
                clear_restored_it_state(uc);
                uc.get_data_mut().next_time += 1;
            }
            true
        },
    )
    .map_err(hook_error)?;
    uc.add_intr_hook(|uc, number| handle_exception(uc, number))
        .map_err(hook_error)?;
    Ok(())
}

/// Installs every hook of a full run; returns the access hook's id.
fn install_hooks<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
    firmware: &Firmware,
    config: &RunConfig,
) -> Result<UcHookId, EmuError> {
    let hook_error = |e| EmuError::unicorn("install a hook", e);

    // Every data load and store: the hot path.
    let access_hook = add_access_hook(uc)?;

    // Faults on unmapped or protected memory.
    uc.add_mem_hook(
        HookType::MEM_UNMAPPED | HookType::MEM_PROT,
        1,
        0,
        |uc, mem_type, address, size, _value| {
            let what = match mem_type {
                MemType::READ_UNMAPPED => "read from unmapped memory",
                MemType::WRITE_UNMAPPED => "write to unmapped memory",
                MemType::FETCH_UNMAPPED => "jump to unmapped memory",
                MemType::WRITE_PROT => "write to read-only memory (flash)",
                MemType::FETCH_PROT => "jump to non-executable memory",
                _ => "bad memory access",
            };
            uc.get_data_mut().stop = Some(StopReason::Fault {
                message: format!("{what}: {size} bytes at 0x{address:08x}"),
            });
            false
        },
    )
    .map_err(hook_error)?;

    // Instruction counting, the budget, the lowest stack pointer and the
    // end of `--ops` segments, once per translated block.
    uc.add_block_hook(1, 0, |uc, address, size| {
        let address = address as u32;
        let slot = BlockLengths::slot(address);
        let cached = uc.get_data().block_lengths.slots[slot];
        let count = if cached.0 == address {
            cached.1
        } else {
            let mut code = vec![0u8; size as usize];
            let count = if uc.mem_read(address as u64, &mut code).is_ok() {
                count_instructions(&code)
            } else {
                1
            };
            let state = uc.get_data_mut();
            state.block_lengths.slots[slot] = (address, count);
            state.executed_blocks.insert(address);
            count
        };
        if uc.get_data().clock.is_some() && !clock_block(uc, address, size) {
            let _ = uc.emu_stop();
            return;
        }
        let sp = register(uc, RegisterARM::SP);
        let state = uc.get_data_mut();
        state.instructions_before_block = state.instructions;
        state.instructions += count as u64;
        state.lowest_stack_pointer = state.lowest_stack_pointer.min(sp);
        let mut returned = false;
        if let Some(OpenOp {
            return_to: Some((return_address, entry_sp)),
            ..
        }) = state.open_op
        {
            if address == return_address && sp >= entry_sp {
                state.end_op();
                returned = true;
            }
        }
        let mut stop = false;
        if state.instructions > state.max_instructions {
            state.stop = Some(StopReason::Budget);
            stop = true;
        }
        state.sink_checks = state.sink_checks.wrapping_add(1);
        if state.sink_checks % 1024 == 0 && state.sink.wants_stop() {
            state.stop = Some(StopReason::Sink);
            stop = true;
        }
        if stop {
            let _ = uc.emu_stop();
        }
        if returned {
            crate::overlay::op_ended(uc);
        }
    })
    .map_err(hook_error)?;

    // Semihosting and CPU exceptions.
    uc.add_intr_hook(|uc, number| handle_exception(uc, number))
        .map_err(hook_error)?;

    match &config.op_functions {
        Some(functions) => {
            for (symbol, kind) in firmware
                .symbols
                .iter()
                .filter_map(|s| functions.kind_of(s).map(|kind| (s, kind)))
            {
                let name = symbol.name.clone();
                let address = symbol.address.0 as u64;
                uc.add_code_hook(address, address, move |uc, address, _size| {
                    if uc.get_data().open_op.is_some() {
                        return;
                    }
                    take_snapshot(uc, address as u32);
                    let lr = register(uc, RegisterARM::LR) & !1;
                    let sp = register(uc, RegisterARM::SP);
                    let began = {
                        let state = uc.get_data_mut();
                        let idle = state.open_op.is_none();
                        if idle {
                            state.begin_op(name.clone(), kind.clone(), Some((lr, sp)));
                        }
                        idle
                    };
                    if began {
                        crate::overlay::op_began(uc, &name);
                    }
                })
                .map_err(hook_error)?;
            }
        }
        None => install_marker_hooks(uc, firmware)?,
    }
    Ok(access_hook)
}

/// Hooks every data load and store (the hot path).
pub(crate) fn add_access_hook<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
) -> Result<UcHookId, EmuError> {
    uc.add_mem_hook(
        HookType::MEM_READ | HookType::MEM_WRITE,
        1,
        0,
        |uc, mem_type, address, size, value| {
            let address = address as u32;
            if is_stub(address) {
                return true;
            }
            let pc = register(uc, RegisterARM::PC);
            clear_restored_it_state(uc);
            let state = uc.get_data_mut();
            if let Some(clock) = &mut state.clock {
                clock.observe(pc);
            }
            let time = state.next_time;
            state.next_time += 1;
            record_access(uc, time, pc, mem_type, address, size, value);
            true
        },
    )
    .map_err(|e| EmuError::unicorn("install a hook", e))
}

/// Hooks the loads (or stores) that begin in `begin..=end` for a clocked
/// run: those that touch `ranges` are traced, at the time the block clock
/// gives them (see `blockclock`); one it cannot place stops the run.
pub(crate) fn add_clocked_access_hook<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
    kind: HookType,
    begin: u64,
    end: u64,
    ranges: Vec<HookedRange>,
) -> Result<UcHookId, EmuError> {
    uc.add_mem_hook(
        kind,
        begin,
        end,
        move |uc, mem_type, address, size, value| {
            let write = mem_type == MemType::WRITE;
            let touches = ranges
                .iter()
                .any(|range| range.touched_by(address, size as u64, write));
            let address = address as u32;
            if !touches || is_stub(address) {
                return true;
            }
            let pc = register(uc, RegisterARM::PC);
            clear_restored_it_state(uc);
            let state = uc.get_data_mut();
            let placed = state.clock.as_mut().and_then(|clock| clock.place(pc));
            match placed {
                Some(offset) => {
                    let time = state.next_time + offset;
                    record_access(uc, time, pc, mem_type, address, size, value);
                }
                None => {
                    let _ = uc.emu_stop();
                }
            }
            true
        },
    )
    .map_err(|e| EmuError::unicorn("install a clocked access hook", e))
}

/// One traced access at event time `time`: counted, sent to the sink and to
/// the overlay.
#[inline]
fn record_access<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
    time: u64,
    pc: u32,
    mem_type: MemType,
    address: u32,
    size: usize,
    value: i64,
) {
    let state = uc.get_data_mut();
    let kind = if mem_type == MemType::WRITE {
        state.writes += 1;
        AccessKind::Write
    } else {
        state.reads += 1;
        AccessKind::Read
    };
    let event = Event {
        time: EventTime(time),
        pc: Address(pc),
        address: Address(address),
        size: size as u8,
        kind,
    };
    state.recent[time as usize % RECENT_EVENTS] = Some(event);
    let granule = (address >> 8) as usize;
    state.touched_granules[granule / 64] |= 1 << (granule % 64);
    state.sink.event(&event);
    if state.overlay.is_some() {
        crate::overlay::access(uc, &event, value);
    }
}

/// A block begins in a session's run: the block clock validates it (fully
/// hooked runs) or moves the event time past the block before (clocked
/// runs). Returns false when a clocked run must give up.
fn clock_block<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
    address: u32,
    size: u32,
) -> bool {
    let found = uc
        .get_data_mut()
        .clock
        .as_mut()
        .and_then(|clock| clock.find(address, size));
    let block = match found {
        Some(block) => block,
        None => {
            let mut code = vec![0u8; size as usize];
            let shape = match uc.mem_read(address as u64, &mut code) {
                Ok(()) => block_shape(&code, address),
                Err(_) => BlockShape::unknown(),
            };
            match &mut uc.get_data_mut().clock {
                Some(clock) => clock.insert(address, size, shape),
                None => return true,
            }
        }
    };
    let state = uc.get_data_mut();
    let Some(clock) = &mut state.clock else {
        return true;
    };
    let mut now = state.next_time;
    let entered = clock.enter(block, address, size, &mut now);
    if clock.mode() == ClockMode::Clock {
        state.next_time = now;
    }
    match entered {
        Entered::Go => true,
        Entered::Stop => false,
        Entered::CheckIt => {
            if register(uc, RegisterARM::CPSR) & CPSR_IT_BITS == 0 {
                return true;
            }
            if let Some(clock) = &mut uc.get_data_mut().clock {
                clock.inside_it(address);
            }
            false
        }
    }
}

/// Hooks `dmo_op_begin`, `dmo_buffer` and `dmo_op_end` (include/dmo_markers.h).
fn install_marker_hooks<S: EventSink>(
    uc: &mut Unicorn<'_, RunState<'_, S>>,
    firmware: &Firmware,
) -> Result<(), EmuError> {
    let hook_error = |e| EmuError::unicorn("install a marker hook", e);
    let marker = |name: &str| {
        firmware
            .symbols
            .by_name(name)
            .filter(|s| s.kind == SymbolKind::Function)
            .map(|s| s.address.0 as u64)
    };
    if let Some(address) = marker("dmo_op_begin") {
        uc.add_code_hook(address, address, |uc, address, _| {
            take_snapshot(uc, address as u32);
            let name = read_string(uc, RegisterARM::R0);
            let kind = read_string(uc, RegisterARM::R1);
            uc.get_data_mut().begin_op(name.clone(), kind, None);
            crate::overlay::op_began(uc, &name);
        })
        .map_err(hook_error)?;
    }
    if let Some(address) = marker("dmo_buffer") {
        uc.add_code_hook(address, address, |uc, address, _| {
            take_snapshot(uc, address as u32);
            let name = read_string(uc, RegisterARM::R0);
            let start = register(uc, RegisterARM::R1);
            let len = register(uc, RegisterARM::R2);
            let role_code = register(uc, RegisterARM::R3);
            let state = uc.get_data_mut();
            let Some(role) = BufferRole::from_code(role_code) else {
                state.warnings.push(format!(
                    "dmo_buffer(\"{name}\") has unknown role {role_code}; ignored"
                ));
                return;
            };
            let buffer = Buffer {
                name,
                start: Address(start),
                len,
                role,
            };
            match &mut state.open_op {
                Some(open) => {
                    state.sink.op_buffer(&buffer);
                    open.segment.buffers.push(buffer);
                }
                None => state.warnings.push(format!(
                    "dmo_buffer(\"{}\") outside an op; ignored",
                    buffer.name
                )),
            }
        })
        .map_err(hook_error)?;
    }
    if let Some(address) = marker("dmo_op_end") {
        uc.add_code_hook(address, address, |uc, _, _| {
            crate::overlay::op_ended(uc);
            uc.get_data_mut().end_op();
        })
        .map_err(hook_error)?;
    }
    Ok(())
}

fn read_string<D>(uc: &mut Unicorn<'_, D>, register_holding_pointer: RegisterARM) -> String {
    let address = register(uc, register_holding_pointer);
    let bytes = UnicornMemory(uc)
        .read_c_string(address, 256)
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Bits of the CPSR that hold the Thumb IT state (ITSTATE[1:0] at 26:25,
/// ITSTATE[7:2] at 15:10).
const CPSR_IT_BITS: u32 = 0x0600_fc00;

/// Works around unicorn 2.1's IT-state leak (unicorn issue 2309).
///
/// To give a memory hook the exact PC, unicorn restores the CPU state of the
/// accessing instruction, including its IT (if-then) state. QEMU keeps that
/// field zero while translated code runs and writes it only where a block
/// is left inside an IT block, so a restored non-zero value outlives the IT
/// block and makes the next block run as if it were conditional: wrong
/// results, or an undefined-instruction fault at the next branch. Clearing
/// it restores the invariant; a block that really ends inside an IT block
/// stores its state itself.
fn clear_restored_it_state<D>(uc: &mut Unicorn<'_, D>) {
    let cpsr = register(uc, RegisterARM::CPSR);
    if cpsr & CPSR_IT_BITS != 0 {
        let _ = uc.reg_write(RegisterARM::CPSR, (cpsr & !CPSR_IT_BITS) as u64);
    }
}

/// Instructions in a block of Thumb code.
fn count_instructions(code: &[u8]) -> u32 {
    let mut offset = 0usize;
    let mut count = 0;
    while offset + 2 <= code.len() {
        let first = u16::from_le_bytes([code[offset], code[offset + 1]]);
        offset += thumb_instruction_len(first) as usize;
        count += 1;
    }
    count.max(1)
}

/// QEMU's exception numbers for ARM (target/arm/cpu.h).
fn exception_name(number: u32) -> &'static str {
    match number {
        1 => "undefined instruction (UsageFault)",
        2 => "supervisor call (SVC)",
        3 => "prefetch abort",
        4 => "data abort (BusFault)",
        5 => "interrupt",
        7 => "breakpoint",
        8 => "exception return",
        17 => "coprocessor disabled (NOCP UsageFault)",
        18 => "invalid state (INVSTATE UsageFault: Thumb bit clear?)",
        19 => "stack overflow (STKOF)",
        21 => "lazy state error",
        22 => "unaligned access (UNALIGNED UsageFault)",
        _ => "CPU exception",
    }
}

fn handle_exception<S: EventSink>(uc: &mut Unicorn<'_, RunState<'_, S>>, number: u32) {
    if let Some(clock) = &mut uc.get_data_mut().clock {
        clock.interrupted();
    }
    const EXCEPTION_BREAKPOINT: u32 = 7;
    const BKPT_SEMIHOSTING: u16 = 0xbeab;
    let pc = register(uc, RegisterARM::PC);
    let mut halfword = [0u8; 2];
    let is_semihosting = number == EXCEPTION_BREAKPOINT
        && uc.mem_read(pc as u64, &mut halfword).is_ok()
        && u16::from_le_bytes(halfword) == BKPT_SEMIHOSTING;
    if !is_semihosting {
        uc.get_data_mut().stop = Some(StopReason::Fault {
            message: format!("{} (exception {number})", exception_name(number)),
        });
        let _ = uc.emu_stop();
        return;
    }
    let operation = register(uc, RegisterARM::R0);
    let parameter = register(uc, RegisterARM::R1);
    let instructions = uc.get_data().instructions;
    let mut semihosting = std::mem::take(&mut uc.get_data_mut().semihosting);
    let outcome = semihosting.call(operation, parameter, instructions, &mut UnicornMemory(uc));
    uc.get_data_mut().semihosting = semihosting;
    match outcome {
        Outcome::Continue { result } => {
            let _ = uc.reg_write(RegisterARM::R0, result as u64);
            uc.get_data_mut().resume_at = Some(pc + 2);
            let _ = uc.emu_stop();
        }
        Outcome::Exit { status } => {
            uc.get_data_mut().stop = Some(StopReason::Exit(status));
            let _ = uc.emu_stop();
        }
        Outcome::Stopped { reason } => {
            uc.get_data_mut().stop = Some(StopReason::Fault { message: reason });
            let _ = uc.emu_stop();
        }
    }
}

// Snapshots at op starts, for `dmo verify`'s sessions (snapshot.rs): the
// run loop takes them from its op-begin hooks; a session restores them.

/// The machine at one op's start.
pub(crate) struct Snapshot {
    /// The CPU context of the engine that took it. A unicorn context holds
    /// pointers into its own engine (the MPU region arrays), so it is only
    /// ever restored there; other engines restore [`SnapshotData::registers`].
    pub(crate) context: Option<Context>,
    /// Everything else, plain data, shared read-only between engines.
    pub(crate) data: Arc<SnapshotData>,
}

/// The engine-independent part of a [`Snapshot`].
pub(crate) struct SnapshotData {
    /// `(address, bytes)` of every writable mapping.
    pub(crate) memory: Vec<(u64, Vec<u8>)>,
    /// The CPU's registers, for another engine of the same core; `None`
    /// when they could not all be read (unprivileged code reads the special
    /// registers as zero).
    pub(crate) registers: Option<CpuRegisters>,
    /// Where to resume: the hooked instruction that begins the op.
    pub(crate) resume_pc: u32,
    pub(crate) next_time: u64,
    pub(crate) reads: u64,
    pub(crate) writes: u64,
    pub(crate) instructions: u64,
    pub(crate) mmio_reads: u64,
    pub(crate) mmio_writes: u64,
    pub(crate) lowest_stack_pointer: u32,
    pub(crate) ops_begun: usize,
}

/// The architectural state of a Cortex-M core that code running in thread
/// mode can change, as unicorn reads and writes it: R0-R12, SP, LR, the
/// banked stack pointers, the exception masks, CONTROL, IPSR, the FPU
/// (D0-D15 = S0-S31, FPSCR; zero on cores without one) and, last, the CPSR
/// view of xPSR (NZCVQ, GE, the IT bits and T). Written in this order:
/// MSP and PSP while SPSEL is still clear, CONTROL before IPSR (SPSEL is
/// ignored in handler mode), CPSR last (it rebuilds unicorn's cached flags).
/// Not covered (no unicorn register): the exclusive monitor, and exception
/// state such as a pending lazy FP stacking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CpuRegisters {
    values: Vec<(RegisterARM, u64)>,
    cpsr: u32,
}

/// CPSR's mode field, which M-profile cores do not use; a restore keeps
/// the target engine's own.
const CPSR_MODE_BITS: u32 = 0x1f;

const CONTROL_NPRIV: u64 = 1;

impl CpuRegisters {
    fn order() -> Vec<RegisterARM> {
        use RegisterARM as R;
        let mut order = vec![
            R::MSP,
            R::PSP,
            R::PRIMASK,
            R::BASEPRI,
            R::FAULTMASK,
            R::CONTROL,
            R::IPSR,
        ];
        order.extend([
            R::R0,
            R::R1,
            R::R2,
            R::R3,
            R::R4,
            R::R5,
            R::R6,
            R::R7,
            R::R8,
            R::R9,
            R::R10,
            R::R11,
            R::R12,
            R::SP,
            R::LR,
        ]);
        order.extend([
            R::D0,
            R::D1,
            R::D2,
            R::D3,
            R::D4,
            R::D5,
            R::D6,
            R::D7,
            R::D8,
            R::D9,
            R::D10,
            R::D11,
            R::D12,
            R::D13,
            R::D14,
            R::D15,
            R::FPSCR,
        ]);
        order
    }

    /// Reads the registers, or `None` if unprivileged thread-mode code is
    /// running (unicorn then reads MSP, PSP and the masks as zero).
    pub(crate) fn read<D>(uc: &Unicorn<'_, D>) -> Option<CpuRegisters> {
        let mut values = Vec::new();
        for reg in CpuRegisters::order() {
            values.push((reg, uc.reg_read(reg).ok()?));
        }
        let control = uc.reg_read(RegisterARM::CONTROL).ok()?;
        let ipsr = uc.reg_read(RegisterARM::IPSR).ok()?;
        if control & CONTROL_NPRIV != 0 && ipsr & 0x1ff == 0 {
            return None;
        }
        let cpsr = uc.reg_read(RegisterARM::CPSR).ok()? as u32;
        Some(CpuRegisters { values, cpsr })
    }

    /// Writes the registers into an engine of the same core that is in
    /// privileged thread mode (as after reset).
    pub(crate) fn write<D>(&self, uc: &mut Unicorn<'_, D>) -> Result<(), unicorn_engine::uc_error> {
        for &(reg, value) in &self.values {
            uc.reg_write(reg, value)?;
        }
        let own_mode = uc.reg_read(RegisterARM::CPSR)? as u32 & CPSR_MODE_BITS;
        uc.reg_write(
            RegisterARM::CPSR,
            u64::from((self.cpsr & !CPSR_MODE_BITS) | own_mode),
        )?;
        Ok(())
    }
}

/// Takes snapshots during a session's first run, within a memory budget.
pub(crate) struct SnapshotTaker {
    /// `(start, len)` of the writable mappings.
    pub(crate) writable: Vec<(u64, usize)>,
    pub(crate) budget_left: u64,
    pub(crate) taken: BTreeMap<usize, Snapshot>,
}

/// Keeps a snapshot of the op about to begin at `resume_pc` (called from
/// the op-begin hooks before the op is opened).
pub(crate) fn take_snapshot<S: EventSink>(uc: &mut Unicorn<'_, RunState<'_, S>>, resume_pc: u32) {
    let Some(taker) = &uc.get_data().snapshots else {
        return;
    };
    let size: u64 = taker.writable.iter().map(|(_, len)| *len as u64).sum();
    if taker.budget_left < size {
        return;
    }
    let writable = taker.writable.clone();
    let mut memory = Vec::with_capacity(writable.len());
    for (start, len) in writable {
        let mut bytes = vec![0u8; len];
        if uc.mem_read(start, &mut bytes).is_err() {
            return;
        }
        memory.push((start, bytes));
    }
    let Ok(context) = uc.context_init() else {
        return;
    };
    let registers = CpuRegisters::read(uc);
    let state = uc.get_data_mut();
    let data = SnapshotData {
        memory,
        registers,
        resume_pc,
        next_time: state.next_time,
        reads: state.reads,
        writes: state.writes,
        // The resumed run enters the op's first block anew, and counts it then.
        instructions: state.instructions_before_block,
        mmio_reads: state.mmio_reads,
        mmio_writes: state.mmio_writes,
        lowest_stack_pointer: state.lowest_stack_pointer,
        ops_begun: state.ops_begun,
    };
    let snapshot = Snapshot {
        context: Some(context),
        data: Arc::new(data),
    };
    let index = state.ops_begun;
    if let Some(taker) = &mut state.snapshots {
        taker.budget_left -= size;
        taker.taken.insert(index, snapshot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_mixed_width_instructions() {
        // push {r4, lr}; ldr.w r0, [r1]; bx lr
        let code = [0x10, 0xb5, 0xd1, 0xf8, 0x00, 0x00, 0x70, 0x47];
        assert_eq!(count_instructions(&code), 3);
    }
}
