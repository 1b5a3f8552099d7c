//! Runs one op with its output buffer placed over its input buffer, without
//! changing the firmware: proof by re-execution of a mined offset.
//!
//! With a down offset `s`, output byte `j` and input byte `j - s` are one
//! byte of memory. The emulator keeps both copies equal while the op runs:
//! every store to one is mirrored into the other from the memory hook (which
//! sees the stored value before the store lands), so a load from either sees
//! the last value stored to either, exactly as if they shared an address.
//! At the op's start the output bytes that share memory with the input take
//! the input's values. Outside the op both buffers are plain memory.
//!
//! The overlay also watches the overlapped run: an input byte read after an
//! output store landed on it is a *clobbered read*, the hazard the miner
//! predicts for unsafe offsets. Optionally the input is first filled with
//! pseudo-random bytes from a seed, in the reference run and the overlapped
//! run alike, so that results are compared on fresh data. The run stops
//! when the overlaid op ends (the outcome then reports that the emulation
//! stopped without an exit; the overlay report is what counts).

use dmo_core::{AccessKind, Address, Event, EventTime, TimeRange};
use unicorn_engine::Unicorn;

/// Which op to overlay and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlay {
    /// The op's name as given to `dmo_op_begin`.
    pub op_name: String,
    /// Which run of that op (0 = the first).
    pub occurrence: usize,
    pub input_start: Address,
    pub input_len: u32,
    pub output_start: Address,
    pub output_len: u32,
    /// Where the output goes over the input; `None` runs the op as placed
    /// (the reference run).
    pub placement: Option<OverlayPlacement>,
    /// Fill the input with pseudo-random bytes from this seed at the op's
    /// start; `None` keeps the values the firmware computed.
    pub fill_seed: Option<u64>,
    /// Record the last clobbered read of this input byte (the miner's witness).
    pub watch_input_byte: Option<u64>,
}

/// The output placed against the input (DESIGN.md, "Safe overlap").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlayPlacement {
    /// `O = I - s`: output byte `j` shares memory with input byte `j - s`.
    Down(u64),
    /// `O = I + u`: output byte `j` shares memory with input byte `j + u`.
    Up(u64),
}

/// Bytes a clocked run hooks: `[start, end)`, for loads, stores or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookedRange {
    pub start: u64,
    pub end: u64,
    pub reads: bool,
    pub writes: bool,
}

impl HookedRange {
    /// Whether an access of `size` bytes at `address` touches these bytes.
    pub(crate) fn touched_by(&self, address: u64, size: u64, write: bool) -> bool {
        (if write { self.writes } else { self.reads })
            && address < self.end
            && address + size.max(1) > self.start
    }
}

impl Overlay {
    /// The input and the output, every access: all a reference run's
    /// miner looks at.
    pub fn pair_ranges(&self) -> Vec<HookedRange> {
        let whole = |start: Address, len: u32| HookedRange {
            start: start.0 as u64,
            end: start.0 as u64 + len as u64,
            reads: true,
            writes: true,
        };
        vec![
            whole(self.input_start, self.input_len),
            whole(self.output_start, self.output_len),
        ]
    }

    /// The accesses an overlapped run must see to keep the shared bytes
    /// equal, to find every clobbered read and every divergent read: loads
    /// and stores of the output bytes that share memory with an input byte,
    /// and of those input bytes. Nothing else can land on the input or read
    /// a shared byte; a run without a placement (a reference run) needs
    /// nothing.
    pub fn shared_ranges(&self) -> Vec<HookedRange> {
        let (input_len, output_len) = (self.input_len as u64, self.output_len as u64);
        // Shared output bytes `[j0, j1)` and the input bytes `[i0, i1)` they
        // land on.
        let (j0, j1, i0, i1) = match self.placement {
            None => return Vec::new(),
            Some(OverlayPlacement::Down(s)) => {
                let j1 = output_len.min(s.saturating_add(input_len));
                (s, j1, 0, j1.saturating_sub(s))
            }
            Some(OverlayPlacement::Up(u)) => {
                let j1 = output_len.min(input_len.saturating_sub(u));
                (0, j1, u, u + j1)
            }
        };
        if j1 <= j0 {
            return Vec::new();
        }
        let (input, output) = (self.input_start.0 as u64, self.output_start.0 as u64);
        vec![
            HookedRange {
                start: output + j0,
                end: output + j1,
                reads: true,
                writes: true,
            },
            HookedRange {
                start: input + i0,
                end: input + i1,
                reads: true,
                writes: true,
            },
        ]
    }
}

/// An input byte read after an output store landed on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClobberedRead {
    pub input_byte: u64,
    pub read_time: EventTime,
    pub read_pc: Address,
    /// The output byte whose store landed on the input byte, and that store.
    pub output_byte: u64,
    pub write_time: EventTime,
    pub write_pc: Address,
}

/// What the overlaid run observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OverlayReport {
    /// Event times of the overlaid op; `None` if the op never ran.
    pub op_time: Option<TimeRange>,
    /// The output buffer's bytes when the op ended.
    pub output: Vec<u8>,
    /// Number of clobbered reads (per access, not per byte).
    pub clobbered_reads: u64,
    pub first_clobbered_read: Option<ClobberedRead>,
    /// The last clobbered read of [`Overlay::watch_input_byte`].
    pub watched_clobbered_read: Option<ClobberedRead>,
    /// Reads of an output byte that shares memory with an input byte while
    /// that memory did not hold a value stored through the output (it held
    /// the input's value, from the op's start or from an input store): the
    /// op as placed would have read its own output byte there.
    pub divergent_reads: u64,
    /// Output bytes that share memory with an input byte and, when the op
    /// ended, did not hold a value stored through the output.
    pub stale_output_bytes: u64,
}

impl OverlayReport {
    /// Whether the overlapped op read exactly what the op as placed reads,
    /// and left exactly its output: no clobbered read, no divergent read,
    /// no stale output byte. Outside the shared bytes nothing differs; on
    /// them, every read returned the value the op itself last stored
    /// through the address it read (or the input's own value), so by
    /// induction over the run every load, every store and every address is
    /// the placed run's, and the output bytes hold the placed run's values.
    /// Such a run stands for the placed run with the same input: its output
    /// is that run's output, and its accesses are that run's accesses.
    pub fn is_transparent(&self) -> bool {
        self.op_time.is_some()
            && self.clobbered_reads == 0
            && self.divergent_reads == 0
            && self.stale_output_bytes == 0
    }
}

/// The overlay while the run goes on.
#[derive(Debug)]
pub(crate) struct OverlayState {
    overlay: Overlay,
    runs_seen: usize,
    active: bool,
    /// Per input byte: the first output store that landed on it since the
    /// input's own value was last stored (time, pc, output byte).
    landed: Vec<Option<(EventTime, Address, u64)>>,
    report: OverlayReport,
}

/// Gives the overlay functions the overlay inside the run's hook data.
pub(crate) trait HasOverlay {
    fn overlay_mut(&mut self) -> &mut Option<OverlayState>;
    fn now(&self) -> EventTime;
}

impl OverlayState {
    pub(crate) fn new(overlay: Overlay) -> OverlayState {
        OverlayState {
            landed: vec![None; overlay.input_len as usize],
            overlay,
            runs_seen: 0,
            active: false,
            report: OverlayReport::default(),
        }
    }

    pub(crate) fn into_report(self) -> OverlayReport {
        self.report
    }

    /// The input byte that output byte `j` shares memory with.
    fn input_byte_of(&self, output_byte: u64) -> Option<u64> {
        let input_byte = match self.overlay.placement? {
            OverlayPlacement::Down(s) => output_byte.checked_sub(s)?,
            OverlayPlacement::Up(u) => output_byte.checked_add(u)?,
        };
        (input_byte < self.overlay.input_len as u64).then_some(input_byte)
    }

    /// The output byte that input byte `i` shares memory with.
    fn output_byte_of(&self, input_byte: u64) -> Option<u64> {
        let output_byte = match self.overlay.placement? {
            OverlayPlacement::Down(s) => input_byte.checked_add(s)?,
            OverlayPlacement::Up(u) => input_byte.checked_sub(u)?,
        };
        (output_byte < self.overlay.output_len as u64).then_some(output_byte)
    }

    /// Handles one access of the active op; returns the stores to mirror.
    fn access(&mut self, event: &Event, value: i64, mirrors: &mut Vec<(u32, u8)>) {
        let input = self.overlay.input_start.0 as u64;
        let output = self.overlay.output_start.0 as u64;
        let mut clobbered: Option<ClobberedRead> = None;
        let mut divergent = false;
        for k in 0..event.size as u64 {
            let address = event.address.0 as u64 + k;
            let byte_value = (value as u64 >> (8 * k)) as u8;
            if let Some(j) = address
                .checked_sub(output)
                .filter(|&j| j < self.overlay.output_len as u64)
            {
                match (self.input_byte_of(j), event.kind) {
                    (Some(i), AccessKind::Write) => {
                        mirrors.push(((input + i) as u32, byte_value));
                        self.landed[i as usize].get_or_insert((event.time, event.pc, j));
                    }
                    (Some(i), AccessKind::Read) => {
                        divergent |= self.landed[i as usize].is_none();
                    }
                    (None, _) => {}
                }
            }
            if let Some(i) = address
                .checked_sub(input)
                .filter(|&i| i < self.overlay.input_len as u64)
            {
                match event.kind {
                    AccessKind::Write => {
                        if let Some(j) = self.output_byte_of(i) {
                            mirrors.push(((output + j) as u32, byte_value));
                        }
                        self.landed[i as usize] = None;
                    }
                    AccessKind::Read => {
                        if let Some((write_time, write_pc, output_byte)) = self.landed[i as usize] {
                            let read = ClobberedRead {
                                input_byte: i,
                                read_time: event.time,
                                read_pc: event.pc,
                                output_byte,
                                write_time,
                                write_pc,
                            };
                            clobbered.get_or_insert(read);
                            if self.overlay.watch_input_byte == Some(i) {
                                self.report.watched_clobbered_read = Some(read);
                            }
                        }
                    }
                }
            }
        }
        if let Some(read) = clobbered {
            self.report.clobbered_reads += 1;
            self.report.first_clobbered_read.get_or_insert(read);
        }
        if divergent {
            self.report.divergent_reads += 1;
        }
    }

    /// Shared output bytes whose memory was not last stored through the
    /// output.
    fn stale_output_bytes(&self) -> u64 {
        (0..self.overlay.input_len as u64)
            .filter(|&i| self.output_byte_of(i).is_some() && self.landed[i as usize].is_none())
            .count() as u64
    }
}

/// xorshift64* bytes: a cheap, reproducible fill.
pub fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed ^ 0x9e37_79b9_7f4a_7c15;
    if state == 0 {
        state = 1;
    }
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// An op began (marker hook): if it is the overlaid one, fill its input and
/// give the shared output bytes the input's values.
pub(crate) fn op_began<D: HasOverlay>(uc: &mut Unicorn<'_, D>, name: &str) {
    let now = uc.get_data().now();
    let Some(state) = uc.get_data_mut().overlay_mut() else {
        return;
    };
    if name != state.overlay.op_name {
        return;
    }
    state.runs_seen += 1;
    if state.runs_seen != state.overlay.occurrence + 1 {
        return;
    }
    state.active = true;
    state.report.op_time = Some(TimeRange::new(now, now));
    let overlay = state.overlay.clone();
    let input = overlay.input_start.0 as u64;
    let output = overlay.output_start.0 as u64;
    if let Some(seed) = overlay.fill_seed {
        let bytes = pseudo_random_bytes(seed, overlay.input_len as usize);
        let _ = uc.mem_write(input, &bytes);
    }
    let mut bytes = vec![0u8; overlay.input_len as usize];
    if overlay.placement.is_some() && uc.mem_read(input, &mut bytes).is_ok() {
        let Some(state) = uc.get_data_mut().overlay_mut() else {
            return;
        };
        let shared: Vec<(u64, u8)> = bytes
            .iter()
            .enumerate()
            .filter_map(|(i, value)| Some((state.output_byte_of(i as u64)?, *value)))
            .collect();
        for (j, value) in shared {
            let _ = uc.mem_write(output + j, &[value]);
        }
    }
}

/// An op ended (marker hook): keep the overlaid op's output and end the run.
pub(crate) fn op_ended<D: HasOverlay>(uc: &mut Unicorn<'_, D>) {
    let now = uc.get_data().now();
    let Some(state) = uc.get_data_mut().overlay_mut() else {
        return;
    };
    if !state.active {
        return;
    }
    state.active = false;
    if let Some(time) = &mut state.report.op_time {
        time.end = now;
    }
    state.report.stale_output_bytes = state.stale_output_bytes();
    let (output, len) = (
        state.overlay.output_start.0 as u64,
        state.overlay.output_len as usize,
    );
    let mut bytes = vec![0u8; len];
    let _ = uc.mem_read(output, &mut bytes);
    if let Some(state) = uc.get_data_mut().overlay_mut() {
        state.report.output = bytes;
    }
    // Nothing after the op matters to the check, and later ops fed with an
    // overlapped op's (possibly wrong) output might loop for the whole
    // instruction budget: stop here.
    let _ = uc.emu_stop();
}

/// One access (memory hook, before the store lands): watch it and mirror
/// stores between the bytes that share memory.
pub(crate) fn access<D: HasOverlay>(uc: &mut Unicorn<'_, D>, event: &Event, value: i64) {
    let mut mirrors = Vec::new();
    match uc.get_data_mut().overlay_mut() {
        Some(state) if state.active && state.overlay.placement.is_some() => {
            state.access(event, value, &mut mirrors)
        }
        _ => return,
    }
    for (address, byte) in mirrors {
        let _ = uc.mem_write(address as u64, &[byte]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(s: u64) -> OverlayState {
        state_with(OverlayPlacement::Down(s))
    }

    fn state_with(placement: OverlayPlacement) -> OverlayState {
        let mut state = OverlayState::new(Overlay {
            op_name: "op".into(),
            occurrence: 0,
            input_start: Address(0x100),
            input_len: 8,
            output_start: Address(0x200),
            output_len: 8,
            placement: Some(placement),
            fill_seed: None,
            watch_input_byte: Some(1),
        });
        state.active = true;
        state
    }

    fn event(time: u64, address: u32, size: u8, kind: AccessKind) -> Event {
        Event {
            time: EventTime(time),
            pc: Address(0x1000 + time as u32),
            address: Address(address),
            size,
            kind,
        }
    }

    #[test]
    fn mirrors_stores_and_flags_reads_of_clobbered_input() {
        // s = 2: output byte j shares memory with input byte j - 2.
        let mut overlay = state(2);
        let mut mirrors = Vec::new();
        // A halfword store to output bytes 2 and 3 lands on input bytes 0 and 1.
        overlay.access(&event(0, 0x202, 2, AccessKind::Write), 0xbbaa, &mut mirrors);
        assert_eq!(mirrors, vec![(0x100, 0xaa), (0x101, 0xbb)]);
        // Reading input byte 2 is fine; reading input byte 1 is clobbered.
        mirrors.clear();
        overlay.access(&event(1, 0x102, 1, AccessKind::Read), 0, &mut mirrors);
        assert_eq!(overlay.report.clobbered_reads, 0);
        overlay.access(&event(2, 0x101, 1, AccessKind::Read), 0, &mut mirrors);
        assert_eq!(overlay.report.clobbered_reads, 1);
        let read = overlay.report.watched_clobbered_read.unwrap();
        assert_eq!(
            (
                read.input_byte,
                read.output_byte,
                read.read_time,
                read.write_time
            ),
            (1, 3, EventTime(2), EventTime(0))
        );
        // A store to input byte 7 is mirrored to output byte 9: beyond the
        // 8-byte output, so nothing; to input byte 5, mirrored to output 7.
        overlay.access(&event(3, 0x105, 1, AccessKind::Write), 0x55, &mut mirrors);
        overlay.access(&event(4, 0x107, 1, AccessKind::Write), 0x77, &mut mirrors);
        assert_eq!(mirrors, vec![(0x207, 0x55)]);
        // Output bytes 0 and 1 share nothing.
        overlay.access(&event(5, 0x200, 2, AccessKind::Write), 0x1111, &mut mirrors);
        assert_eq!(mirrors.len(), 1);
    }

    #[test]
    fn up_placement_shares_output_byte_j_with_input_byte_j_plus_u() {
        // u = 3: output byte 1 is input byte 4; input byte 2 is no output byte.
        let mut overlay = state_with(OverlayPlacement::Up(3));
        let mut mirrors = Vec::new();
        overlay.access(&event(0, 0x201, 1, AccessKind::Write), 0x42, &mut mirrors);
        assert_eq!(mirrors, vec![(0x104, 0x42)]);
        overlay.access(&event(1, 0x102, 1, AccessKind::Write), 0x24, &mut mirrors);
        assert_eq!(mirrors.len(), 1);
        overlay.access(&event(2, 0x104, 1, AccessKind::Read), 0, &mut mirrors);
        let read = overlay.report.first_clobbered_read.unwrap();
        assert_eq!((read.input_byte, read.output_byte), (4, 1));
    }

    #[test]
    fn shared_ranges_are_the_bytes_that_share_memory() {
        // Oracle: the byte maps the overlay mirrors through, byte by byte.
        for (input_len, output_len) in [(8u32, 8u32), (8, 20), (20, 8), (1, 1)] {
            for placement in (0..24)
                .map(OverlayPlacement::Down)
                .chain((0..24).map(OverlayPlacement::Up))
            {
                let mut state = state_with(placement);
                state.overlay.input_len = input_len;
                state.overlay.output_len = output_len;
                let shared_outputs: Vec<u64> = (0..output_len as u64)
                    .filter(|&j| state.input_byte_of(j).is_some())
                    .collect();
                let shared_inputs: Vec<u64> = (0..input_len as u64)
                    .filter(|&i| state.output_byte_of(i).is_some())
                    .collect();
                let ranges = state.overlay.shared_ranges();
                let bytes = |range: &HookedRange, base: u64| range.start - base..range.end - base;
                if shared_outputs.is_empty() {
                    assert!(ranges.is_empty(), "{placement:?} {input_len} {output_len}");
                    continue;
                }
                let (output, input) = (&ranges[0], &ranges[1]);
                assert_eq!(bytes(output, 0x200).collect::<Vec<_>>(), shared_outputs);
                assert_eq!(bytes(input, 0x100).collect::<Vec<_>>(), shared_inputs);
                assert!(output.writes && output.reads && input.writes && input.reads);
            }
        }
        // A reference run shares nothing; the pair's ranges are both buffers.
        let mut reference = state(0).overlay;
        reference.placement = None;
        assert!(reference.shared_ranges().is_empty());
        let pair = reference.pair_ranges();
        assert_eq!((pair[0].start, pair[0].end), (0x100, 0x108));
        assert_eq!((pair[1].start, pair[1].end), (0x200, 0x208));
    }

    #[test]
    fn reads_of_shared_output_bytes_not_stored_through_the_output_diverge() {
        // s = 2: output byte 2 is input byte 0, output byte 3 is input byte 1.
        let mut overlay = state(2);
        let mut mirrors = Vec::new();
        // Reading output byte 2 before the op stored it: the placed op reads
        // its own (old) output there, the overlapped one the input's value.
        overlay.access(&event(0, 0x202, 1, AccessKind::Read), 0, &mut mirrors);
        assert_eq!(overlay.report.divergent_reads, 1);
        // Stored through the output, then read back: the same value either way.
        overlay.access(&event(1, 0x202, 1, AccessKind::Write), 9, &mut mirrors);
        overlay.access(&event(2, 0x202, 1, AccessKind::Read), 0, &mut mirrors);
        assert_eq!(overlay.report.divergent_reads, 1);
        // An input store over it: reading the output diverges again.
        overlay.access(&event(3, 0x100, 1, AccessKind::Write), 5, &mut mirrors);
        overlay.access(&event(4, 0x202, 1, AccessKind::Read), 0, &mut mirrors);
        assert_eq!(overlay.report.divergent_reads, 2);
        // Output bytes 0 and 1 share nothing: reading them never diverges.
        overlay.access(&event(5, 0x200, 2, AccessKind::Read), 0, &mut mirrors);
        assert_eq!(overlay.report.divergent_reads, 2);
        // At the end, shared output bytes 2 (last stored through the input)
        // and 3..8 (never stored) are stale; storing them all clears that.
        assert_eq!(overlay.stale_output_bytes(), 6);
        overlay.access(&event(6, 0x202, 2, AccessKind::Write), 0, &mut mirrors);
        overlay.access(&event(7, 0x204, 4, AccessKind::Write), 0, &mut mirrors);
        assert_eq!(overlay.stale_output_bytes(), 0);
        assert_eq!(overlay.report.clobbered_reads, 0);
    }

    #[test]
    fn transparent_only_without_clobbered_divergent_or_stale_bytes() {
        let clean = OverlayReport {
            op_time: Some(TimeRange::new(EventTime(0), EventTime(1))),
            ..OverlayReport::default()
        };
        assert!(clean.is_transparent());
        for spoiled in [
            OverlayReport {
                clobbered_reads: 1,
                ..clean.clone()
            },
            OverlayReport {
                divergent_reads: 1,
                ..clean.clone()
            },
            OverlayReport {
                stale_output_bytes: 1,
                ..clean.clone()
            },
            OverlayReport::default(), // the op never ran
        ] {
            assert!(!spoiled.is_transparent(), "{spoiled:?}");
        }
    }

    #[test]
    fn fill_is_reproducible_and_seed_dependent() {
        assert_eq!(pseudo_random_bytes(1, 64), pseudo_random_bytes(1, 64));
        assert_ne!(pseudo_random_bytes(1, 64), pseudo_random_bytes(2, 64));
    }
}
