//! When each byte holds a live value (`shared/DESIGN.md`, "Liveness").
//!
//! A live window runs from a write to the last read of the value it stored;
//! a write never read is a dead store; a read of a byte never written in the
//! run reads initial data, and its window starts at time 0. The tracker
//! streams: it keeps two times per tracked byte and hands each window out as
//! soon as it closes (at the next write of the byte, or at the end), merging
//! neighbouring bytes whose windows are identical.

use crate::ranges::{ByteRange, DenseBytes};
use crate::reader::TraceReader;
use crate::TraceError;
use dmo_core::{AccessKind, Address, Event, EventSink, EventTime, TimeRange};
use serde::{Deserialize, Serialize};

/// The life of one value in `len` neighbouring bytes that share its times.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct LiveWindow {
    pub bytes: ByteRange,
    /// The write that stored the value; `None` for initial data (ELF or host),
    /// whose window starts at time 0.
    pub written: Option<EventTime>,
    /// The last read of the value; `None` for a dead store.
    pub last_read: Option<EventTime>,
}

impl LiveWindow {
    /// Written and never read.
    pub fn is_dead_store(&self) -> bool {
        self.last_read.is_none()
    }

    /// Read without having been written during the run.
    pub fn reads_initial_data(&self) -> bool {
        self.written.is_none()
    }

    /// The times the value is live, `[written (or 0), last_read]` as a
    /// half-open range; `None` for a dead store, which is never live.
    pub fn live_time(&self) -> Option<TimeRange> {
        let last_read = self.last_read?;
        let start = self.written.unwrap_or(EventTime(0));
        Some(TimeRange::new(start, last_read.next()))
    }

    /// Whether the window has anything to do with `range`: it is live at some
    /// time in it, or it is a dead store written in it.
    pub fn meets(&self, range: TimeRange) -> bool {
        match (self.live_time(), self.written) {
            (Some(live), _) => live.start < range.end && range.start < live.end,
            (None, Some(written)) => range.contains(written),
            (None, None) => false,
        }
    }
}

/// What a byte remembers: the time of its last write and of the last read
/// since. `NEVER` for neither.
#[derive(Clone, Copy)]
struct ByteState {
    written: u64,
    last_read: u64,
}

const NEVER: u64 = u64::MAX;

impl ByteState {
    const FRESH: ByteState = ByteState {
        written: NEVER,
        last_read: NEVER,
    };

    fn window(self, address: Address) -> Option<LiveWindow> {
        let time = |t: u64| (t != NEVER).then_some(EventTime(t));
        let window = LiveWindow {
            bytes: ByteRange::new(address, 1),
            written: time(self.written),
            last_read: time(self.last_read),
        };
        (window.written.is_some() || window.last_read.is_some()).then_some(window)
    }
}

/// Streams live windows of the bytes in some address ranges to `output`.
/// An [`EventSink`], so the emulator can drive it without a file; call
/// [`LivenessTracker::finish`] after the last event to close open windows.
pub struct LivenessTracker<F: FnMut(LiveWindow)> {
    bytes: DenseBytes,
    states: Vec<ByteState>,
    time_filter: TimeRange,
    output: F,
    /// The window being merged with its neighbours before it goes out.
    pending: Option<LiveWindow>,
}

impl<F: FnMut(LiveWindow)> LivenessTracker<F> {
    /// Tracks the bytes of `ranges`; hands out the windows that meet
    /// `time_filter` ([`LiveWindow::meets`]).
    pub fn new(ranges: &[ByteRange], time_filter: TimeRange, output: F) -> Self {
        let bytes = DenseBytes::new(ranges);
        let states = vec![ByteState::FRESH; bytes.len()];
        LivenessTracker {
            bytes,
            states,
            time_filter,
            output,
            pending: None,
        }
    }

    /// Closes every open window (in address order) and hands them out.
    pub fn finish(mut self) {
        for index in 0..self.states.len() {
            let state = self.states[index];
            if let Some(window) = state.window(self.bytes.address(index)) {
                self.emit(window);
            }
        }
        if let Some(window) = self.pending.take() {
            (self.output)(window);
        }
    }

    fn emit(&mut self, window: LiveWindow) {
        if !window.meets(self.time_filter) {
            return;
        }
        if let Some(pending) = &mut self.pending {
            let adjacent = pending.bytes.end() == window.bytes.start.0 as u64;
            if adjacent
                && pending.written == window.written
                && pending.last_read == window.last_read
            {
                pending.bytes.len += 1;
                return;
            }
        }
        if let Some(done) = self.pending.replace(window) {
            (self.output)(done);
        }
    }
}

impl<F: FnMut(LiveWindow)> EventSink for LivenessTracker<F> {
    #[inline]
    fn event(&mut self, event: &Event) {
        let first = event.address.0 as u64;
        for address in first..first + event.size as u64 {
            let Some(index) = self.bytes.index(address) else {
                continue;
            };
            let state = &mut self.states[index];
            match event.kind {
                AccessKind::Read => state.last_read = event.time.0,
                AccessKind::Write => {
                    let closed = *state;
                    *state = ByteState {
                        written: event.time.0,
                        last_read: NEVER,
                    };
                    if let Some(window) = closed.window(Address(address as u32)) {
                        self.emit(window);
                    }
                }
            }
        }
    }
}

/// The liveness of some bytes over a whole trace, sorted into kinds.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct LivenessReport {
    /// Values written during the run and read afterwards.
    pub windows: Vec<LiveWindow>,
    /// Values written and never read.
    pub dead_stores: Vec<LiveWindow>,
    /// Initial data (never written in the run) that was read.
    pub initial_reads: Vec<LiveWindow>,
}

impl LivenessReport {
    /// Files `window` under its kind.
    pub fn add(&mut self, window: LiveWindow) {
        if window.is_dead_store() {
            self.dead_stores.push(window);
        } else if window.reads_initial_data() {
            self.initial_reads.push(window);
        } else {
            self.windows.push(window);
        }
    }

    /// The liveness of the bytes in `ranges` at the times in `time`, in one
    /// streaming pass over the trace.
    pub fn of_trace(
        reader: &TraceReader,
        ranges: &[ByteRange],
        time: TimeRange,
    ) -> Result<LivenessReport, TraceError> {
        let mut report = LivenessReport::default();
        let mut tracker = LivenessTracker::new(ranges, time, |window| report.add(window));
        let mut blocks = reader.blocks()?;
        // Events after `time` still matter: a later read extends a window.
        while let Some(events) = blocks.next_block()? {
            for event in events {
                tracker.event(event);
            }
        }
        tracker.finish();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(time: u64, address: u32, size: u8, kind: AccessKind) -> Event {
        Event {
            time: EventTime(time),
            pc: Address(0x100),
            address: Address(address),
            size,
            kind,
        }
    }

    fn all_time() -> TimeRange {
        TimeRange::new(EventTime(0), EventTime(u64::MAX))
    }

    fn track(ranges: &[ByteRange], time: TimeRange, events: &[Event]) -> Vec<LiveWindow> {
        let mut windows = Vec::new();
        let mut tracker = LivenessTracker::new(ranges, time, |window| windows.push(window));
        for event in events {
            tracker.event(event);
        }
        tracker.finish();
        windows
    }

    fn window(start: u32, len: u32, written: Option<u64>, last_read: Option<u64>) -> LiveWindow {
        LiveWindow {
            bytes: ByteRange::new(Address(start), len),
            written: written.map(EventTime),
            last_read: last_read.map(EventTime),
        }
    }

    #[test]
    fn hand_made_stream_has_windows_dead_stores_and_initial_reads() {
        use AccessKind::{Read, Write};
        let events = [
            event(0, 0x100, 4, Write), // word A written
            event(1, 0x100, 2, Read),  // low half of A read
            event(2, 0x104, 1, Read),  // 0x104: initial data
            event(3, 0x100, 4, Write), // A overwritten: low half lived 0..1, high half dead
            event(4, 0x108, 1, Write), // 0x108 written, never read: dead store at the end
            event(5, 0x102, 1, Read),  // new A, byte 2 read
            event(6, 0x200, 4, Write), // outside the tracked range: ignored
        ];
        let windows = track(&[ByteRange::new(Address(0x100), 12)], all_time(), &events);
        // Closed by the write at t=3, in address order: bytes 0-1 lived 0..=1,
        // bytes 2-3 were dead. Then at the end, in address order: new bytes
        // 0-1 dead (written 3), byte 2 read at 5, byte 3 dead, 0x104 initial
        // data read at 2, 0x108 dead store at 4.
        assert_eq!(
            windows,
            vec![
                window(0x100, 2, Some(0), Some(1)),
                window(0x102, 2, Some(0), None),
                window(0x100, 2, Some(3), None),
                window(0x102, 1, Some(3), Some(5)),
                window(0x103, 1, Some(3), None),
                window(0x104, 1, None, Some(2)),
                window(0x108, 1, Some(4), None),
            ]
        );
        assert_eq!(
            windows[0].live_time(),
            Some(TimeRange::new(EventTime(0), EventTime(2)))
        );
        assert_eq!(
            windows[5].live_time(),
            Some(TimeRange::new(EventTime(0), EventTime(3)))
        );
        assert_eq!(windows[1].live_time(), None);
    }

    #[test]
    fn time_filter_keeps_windows_that_meet_it() {
        use AccessKind::{Read, Write};
        let events = [
            event(0, 0x10, 1, Write),
            event(1, 0x10, 1, Read),
            event(2, 0x11, 1, Write),
            event(9, 0x11, 1, Read),
            event(10, 0x12, 1, Write),
        ];
        let range = ByteRange::new(Address(0x10), 4);
        let between = TimeRange::new(EventTime(3), EventTime(5));
        assert_eq!(
            track(&[range], between, &events),
            vec![window(0x11, 1, Some(2), Some(9))]
        );
        let at_ten = TimeRange::new(EventTime(10), EventTime(11));
        assert_eq!(
            track(&[range], at_ten, &events),
            vec![window(0x12, 1, Some(10), None)]
        );
    }

    /// The oracle: for every byte, walk the whole event list and cut it into
    /// windows at each write, straight from the definition.
    fn brute_force(range: ByteRange, events: &[Event]) -> Vec<(u32, Option<u64>, Option<u64>)> {
        let mut all = Vec::new();
        for address in range.start.0..range.end() as u32 {
            let mut written: Option<u64> = None;
            let mut last_read: Option<u64> = None;
            let mut seen = false;
            for event in events
                .iter()
                .filter(|e| e.touches(Address(address), Address(address + 1)))
            {
                match event.kind {
                    AccessKind::Read => {
                        last_read = Some(event.time.0);
                        seen = true;
                    }
                    AccessKind::Write => {
                        if seen {
                            all.push((address, written, last_read));
                        }
                        written = Some(event.time.0);
                        last_read = None;
                        seen = true;
                    }
                }
            }
            if seen {
                all.push((address, written, last_read));
            }
        }
        all.sort();
        all
    }

    proptest! {
        #[test]
        fn streaming_windows_equal_brute_force(
            accesses in proptest::collection::vec((0u32..40, prop_oneof![Just(1u8), Just(2), Just(4)], any::<bool>()), 0..300)
        ) {
            let events: Vec<Event> = accesses
                .iter()
                .enumerate()
                .map(|(time, &(offset, size, write))| {
                    let kind = if write { AccessKind::Write } else { AccessKind::Read };
                    event(time as u64, 0x1000 + offset, size, kind)
                })
                .collect();
            // Track a range narrower than the accesses so edges are cut.
            let range = ByteRange::new(Address(0x1004), 30);
            let windows = track(&[range], all_time(), &events);
            let mut per_byte: Vec<(u32, Option<u64>, Option<u64>)> = windows
                .iter()
                .flat_map(|w| {
                    (0..w.bytes.len).map(move |i| {
                        (w.bytes.start.0 + i, w.written.map(|t| t.0), w.last_read.map(|t| t.0))
                    })
                })
                .collect();
            per_byte.sort();
            prop_assert_eq!(per_byte, brute_force(range, &events));
            // Merged windows never hold two neighbours with equal times.
            for pair in windows.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                prop_assert!(
                    !(a.bytes.end() == b.bytes.start.0 as u64 && a.written == b.written && a.last_read == b.last_read)
                );
            }
        }
    }
}
