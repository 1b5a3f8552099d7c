//! Newtypes that carry units.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A 32-bit address in the emulated Cortex-M address space.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Address(pub u32);

impl Address {
    /// The address `bytes` further up. Wraps like the CPU's address arithmetic.
    pub fn offset(self, bytes: u32) -> Address {
        Address(self.0.wrapping_add(bytes))
    }

    /// Bytes from `base` up to `self`, if `self >= base`.
    pub fn bytes_above(self, base: Address) -> Option<u32> {
        self.0.checked_sub(base.0)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}", self.0)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}", self.0)
    }
}

impl fmt::LowerHex for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// The sequence number `t` of a memory event: 0, 1, 2, ... in execution order
/// over the whole run. All liveness and overlap times are event times.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Serialize, Deserialize,
)]
pub struct EventTime(pub u64);

impl EventTime {
    /// The next event time.
    pub fn next(self) -> EventTime {
        EventTime(self.0 + 1)
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", self.0)
    }
}

/// A half-open range of event times `[start, end)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct TimeRange {
    pub start: EventTime,
    pub end: EventTime,
}

impl TimeRange {
    pub fn new(start: EventTime, end: EventTime) -> TimeRange {
        TimeRange { start, end }
    }

    pub fn contains(&self, t: EventTime) -> bool {
        self.start <= t && t < self.end
    }

    /// Number of events in the range.
    pub fn len(&self) -> u64 {
        self.end.0.saturating_sub(self.start.0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A size or a distance in bytes (buffer lengths, safe offsets, footprints).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Serialize, Deserialize,
)]
pub struct ByteCount(pub u64);

impl fmt::Display for ByteCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} B", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_range_is_half_open() {
        let r = TimeRange::new(EventTime(3), EventTime(5));
        assert!(!r.contains(EventTime(2)));
        assert!(r.contains(EventTime(3)));
        assert!(r.contains(EventTime(4)));
        assert!(!r.contains(EventTime(5)));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn address_distance() {
        assert_eq!(
            Address(0x2000_0010).bytes_above(Address(0x2000_0000)),
            Some(16)
        );
        assert_eq!(Address(0x1000).bytes_above(Address(0x2000)), None);
        assert_eq!(Address(0xffff_ffff).offset(1), Address(0));
        assert_eq!(format!("{}", Address(0x20)), "0x00000020");
    }
}
