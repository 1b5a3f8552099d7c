//! A spinner with the event count for long runs (only on a terminal).

use dmo_core::{Buffer, Event, EventSink, EventTime};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// Forwards everything to `inner` and ticks a spinner every 2^20 events.
pub struct ProgressSink<'a, S: EventSink + ?Sized> {
    inner: &'a mut S,
    bar: ProgressBar,
    events: u64,
}

impl<'a, S: EventSink + ?Sized> ProgressSink<'a, S> {
    pub fn new(inner: &'a mut S, what: &str) -> ProgressSink<'a, S> {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} {what}: {{human_pos}} events ({{per_sec}}, {{elapsed}})"
            ))
            .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        ProgressSink {
            inner,
            bar,
            events: 0,
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl<S: EventSink + ?Sized> EventSink for ProgressSink<'_, S> {
    #[inline]
    fn event(&mut self, event: &Event) {
        self.events += 1;
        if self.events & ((1 << 20) - 1) == 0 {
            self.bar.set_position(self.events);
        }
        self.inner.event(event);
    }
    fn op_begin(&mut self, at: EventTime, name: &str, kind: &str) {
        self.inner.op_begin(at, name, kind);
    }
    fn op_buffer(&mut self, buffer: &Buffer) {
        self.inner.op_buffer(buffer);
    }
    fn op_instructions(&mut self, count: u64) {
        self.inner.op_instructions(count);
    }
    fn op_end(&mut self, at: EventTime) {
        self.inner.op_end(at);
    }
    fn wants_stop(&self) -> bool {
        self.inner.wants_stop()
    }
}
