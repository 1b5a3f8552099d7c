//! Where the emulator sends what it observes.
//!
//! Like ripgrep's `Sink` between searcher and printer: the trace writer, an
//! online liveness tracker and a plain counter all implement [`EventSink`], so
//! analysis need not go through a file and the benchmark's bare baseline is
//! [`CountingSink`].

use crate::event::{AccessKind, Event};
use crate::op::Buffer;
use crate::units::EventTime;

/// Receives the events of a run in time order, and the op markers between them.
pub trait EventSink {
    /// One data load or store. This is the hot path: keep it cheap.
    fn event(&mut self, event: &Event);

    /// An operator starts; its first event (if any) will have time `at`.
    fn op_begin(&mut self, _at: EventTime, _name: &str, _kind: &str) {}

    /// A buffer of the operator that began last.
    fn op_buffer(&mut self, _buffer: &Buffer) {}

    /// The instructions the current operator ran, sent just before its
    /// [`op_end`](EventSink::op_end) by runs that count them.
    fn op_instructions(&mut self, _count: u64) {}

    /// The current operator ends; `at` is one past its last event.
    fn op_end(&mut self, _at: EventTime) {}

    /// Whether the sink wants the run to stop early (e.g. after an I/O error
    /// it will report when the run ends). Checked now and then, not per event.
    fn wants_stop(&self) -> bool {
        false
    }
}

/// Counts reads and writes and nothing else: the bare baseline.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct CountingSink {
    pub reads: u64,
    pub writes: u64,
    pub ops: u64,
}

impl EventSink for CountingSink {
    #[inline]
    fn event(&mut self, event: &Event) {
        match event.kind {
            AccessKind::Read => self.reads += 1,
            AccessKind::Write => self.writes += 1,
        }
    }

    fn op_begin(&mut self, _at: EventTime, _name: &str, _kind: &str) {
        self.ops += 1;
    }
}

/// Sends everything to two sinks, e.g. a trace writer and a live tracker.
pub struct FanOut<'a, A: EventSink + ?Sized, B: EventSink + ?Sized> {
    pub first: &'a mut A,
    pub second: &'a mut B,
}

impl<A: EventSink + ?Sized, B: EventSink + ?Sized> EventSink for FanOut<'_, A, B> {
    #[inline]
    fn event(&mut self, event: &Event) {
        self.first.event(event);
        self.second.event(event);
    }
    fn op_begin(&mut self, at: EventTime, name: &str, kind: &str) {
        self.first.op_begin(at, name, kind);
        self.second.op_begin(at, name, kind);
    }
    fn op_buffer(&mut self, buffer: &Buffer) {
        self.first.op_buffer(buffer);
        self.second.op_buffer(buffer);
    }
    fn op_instructions(&mut self, count: u64) {
        self.first.op_instructions(count);
        self.second.op_instructions(count);
    }
    fn op_end(&mut self, at: EventTime) {
        self.first.op_end(at);
        self.second.op_end(at);
    }
    fn wants_stop(&self) -> bool {
        self.first.wants_stop() || self.second.wants_stop()
    }
}

impl<S: EventSink + ?Sized> EventSink for &mut S {
    #[inline]
    fn event(&mut self, event: &Event) {
        (**self).event(event)
    }
    fn op_begin(&mut self, at: EventTime, name: &str, kind: &str) {
        (**self).op_begin(at, name, kind)
    }
    fn op_buffer(&mut self, buffer: &Buffer) {
        (**self).op_buffer(buffer)
    }
    fn op_instructions(&mut self, count: u64) {
        (**self).op_instructions(count)
    }
    fn op_end(&mut self, at: EventTime) {
        (**self).op_end(at)
    }
    fn wants_stop(&self) -> bool {
        (**self).wants_stop()
    }
}

/// Feeds a sink a made-up run: stamps each access with the next event time
/// and brackets ops with their markers. The one way tests, examples and
/// benchmarks write synthetic traces (into a trace writer or any sink).
pub struct EventClock<'a> {
    sink: &'a mut dyn EventSink,
    time: u64,
}

impl<'a> EventClock<'a> {
    /// Starts at event time 0.
    pub fn new(sink: &'a mut dyn EventSink) -> EventClock<'a> {
        EventClock { sink, time: 0 }
    }

    /// The time the next access gets.
    pub fn now(&self) -> EventTime {
        EventTime(self.time)
    }

    /// One load or store by the instruction at `pc`.
    pub fn access(&mut self, pc: u32, address: u32, size: u8, kind: AccessKind) {
        self.sink.event(&Event {
            time: EventTime(self.time),
            pc: crate::Address(pc),
            address: crate::Address(address),
            size,
            kind,
        });
        self.time += 1;
    }

    /// An op begins now, with these buffers.
    pub fn begin_op(&mut self, name: &str, kind: &str, buffers: &[Buffer]) {
        self.sink.op_begin(EventTime(self.time), name, kind);
        for buffer in buffers {
            self.sink.op_buffer(buffer);
        }
    }

    /// The current op ends now.
    pub fn end_op(&mut self) {
        self.sink.op_end(EventTime(self.time));
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn the_clock_stamps_consecutive_times_and_brackets_ops() {
        let mut counter = CountingSink::default();
        let mut clock = EventClock::new(&mut counter);
        clock.access(0, 0x10, 1, AccessKind::Write);
        clock.begin_op("op", "ADD", &[]);
        clock.access(0, 0x10, 1, AccessKind::Read);
        clock.access(0, 0x11, 1, AccessKind::Write);
        clock.end_op();
        assert_eq!(clock.now(), EventTime(3));
        assert_eq!((counter.reads, counter.writes, counter.ops), (1, 2, 1));
    }
}
