//! Builds `last_read` / `first_access` from a stream of accesses, for the
//! trace-based path (events with addresses) and the loop-nest simulation
//! (byte indexes) alike.

use crate::{mine_pair, PairOverlap};
use dmo_core::{AccessKind, Address, ByteCount, Event, EventTime};
use thiserror::Error;

/// An access the recorder cannot place.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RecorderError {
    #[error("{buffer} byte {byte} is outside the {buffer} buffer of {len} bytes")]
    ByteOutOfRange {
        buffer: &'static str,
        byte: u64,
        len: u64,
    },
}

/// Per-byte `last_read` of one input range and `first_access` of one output
/// range. Accesses may arrive in any order: a byte keeps its latest read and
/// its earliest access. Writes to the input do not count (DESIGN.md: `lr` is
/// the last *read*); reads and writes of the output both count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRecorder {
    last_read: Vec<Option<EventTime>>,
    first_access: Vec<Option<EventTime>>,
}

impl AccessRecorder {
    /// A recorder for an input of `input_len` and an output of `output_len`
    /// bytes, with nothing recorded yet.
    pub fn new(input_len: ByteCount, output_len: ByteCount) -> AccessRecorder {
        AccessRecorder {
            last_read: vec![None; input_len.0 as usize],
            first_access: vec![None; output_len.0 as usize],
        }
    }

    /// An access to input byte `byte` at `time`.
    pub fn record_input(
        &mut self,
        time: EventTime,
        byte: u64,
        kind: AccessKind,
    ) -> Result<(), RecorderError> {
        let len = self.last_read.len() as u64;
        let slot = usize::try_from(byte)
            .ok()
            .and_then(|index| self.last_read.get_mut(index))
            .ok_or(RecorderError::ByteOutOfRange {
                buffer: "input",
                byte,
                len,
            })?;
        if kind == AccessKind::Read {
            *slot = (*slot).max(Some(time));
        }
        Ok(())
    }

    /// An access to output byte `byte` at `time`.
    pub fn record_output(
        &mut self,
        time: EventTime,
        byte: u64,
        _kind: AccessKind,
    ) -> Result<(), RecorderError> {
        let len = self.first_access.len() as u64;
        let slot = usize::try_from(byte)
            .ok()
            .and_then(|index| self.first_access.get_mut(index))
            .ok_or(RecorderError::ByteOutOfRange {
                buffer: "output",
                byte,
                len,
            })?;
        *slot = Some(slot.map_or(time, |earlier| earlier.min(time)));
        Ok(())
    }

    /// A traced event, with the input starting at `input_start` and the
    /// output at `output_start`. Each byte the event touches counts for
    /// whichever ranges hold it; bytes outside both are ignored.
    pub fn record_event(&mut self, event: &Event, input_start: Address, output_start: Address) {
        let first = u64::from(event.address.0);
        for address in first..first + u64::from(event.size) {
            if let Some(byte) = index_in(address, input_start, self.last_read.len()) {
                // In range by construction.
                let _ = self.record_input(event.time, byte, event.kind);
            }
            if let Some(byte) = index_in(address, output_start, self.first_access.len()) {
                let _ = self.record_output(event.time, byte, event.kind);
            }
        }
    }

    /// `lr[i]`: last read of input byte `i`, `None` if never read.
    pub fn last_read(&self) -> &[Option<EventTime>] {
        &self.last_read
    }

    /// `fa[j]`: first access of output byte `j`, `None` if never accessed.
    pub fn first_access(&self) -> &[Option<EventTime>] {
        &self.first_access
    }

    /// Mines the recorded pair ([`mine_pair`]).
    pub fn mine(&self) -> PairOverlap {
        mine_pair(&self.last_read, &self.first_access)
    }
}

/// Index of `address` in the range of `len` bytes at `start`, if inside.
fn index_in(address: u64, start: Address, len: usize) -> Option<u64> {
    let offset = address.checked_sub(u64::from(start.0))?;
    (offset < len as u64).then_some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_latest_read_and_earliest_access_in_any_order() {
        let mut recorder = AccessRecorder::new(ByteCount(2), ByteCount(2));
        recorder
            .record_input(EventTime(7), 0, AccessKind::Read)
            .unwrap();
        recorder
            .record_input(EventTime(3), 0, AccessKind::Read)
            .unwrap();
        recorder
            .record_input(EventTime(9), 0, AccessKind::Write)
            .unwrap();
        recorder
            .record_output(EventTime(8), 1, AccessKind::Write)
            .unwrap();
        recorder
            .record_output(EventTime(5), 1, AccessKind::Read)
            .unwrap();
        recorder
            .record_output(EventTime(6), 1, AccessKind::Write)
            .unwrap();
        assert_eq!(recorder.last_read(), &[Some(EventTime(7)), None]);
        assert_eq!(recorder.first_access(), &[None, Some(EventTime(5))]);
    }

    #[test]
    fn out_of_range_byte_is_an_error_naming_the_buffer() {
        let mut recorder = AccessRecorder::new(ByteCount(4), ByteCount(2));
        let error = recorder
            .record_output(EventTime(0), 2, AccessKind::Write)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "output byte 2 is outside the output buffer of 2 bytes"
        );
        assert!(recorder
            .record_input(EventTime(0), 4, AccessKind::Read)
            .is_err());
    }

    #[test]
    fn an_event_counts_for_every_byte_it_touches() {
        // Input at 0x100 (4 bytes), output at 0x104 (4 bytes): a 4-byte read
        // at 0x102 touches input bytes 2, 3 and output bytes 0, 1.
        let mut recorder = AccessRecorder::new(ByteCount(4), ByteCount(4));
        let event = Event {
            time: EventTime(11),
            pc: Address(0x8000),
            address: Address(0x102),
            size: 4,
            kind: AccessKind::Read,
        };
        recorder.record_event(&event, Address(0x100), Address(0x104));
        let t = Some(EventTime(11));
        assert_eq!(recorder.last_read(), &[None, None, t, t]);
        assert_eq!(recorder.first_access(), &[t, t, None, None]);
    }
}
