//! One data load or store executed by the emulated CPU.

use crate::units::{Address, EventTime};
use serde::{Deserialize, Serialize};

/// Whether an event read or wrote memory.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum AccessKind {
    Read,
    Write,
}

/// A data load or store. Instruction fetches are not events.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Event {
    /// Sequence number over the whole run.
    pub time: EventTime,
    /// Program counter of the instruction that made the access.
    pub pc: Address,
    /// Lowest byte accessed.
    pub address: Address,
    /// Bytes accessed: 1, 2, 4 or 8.
    pub size: u8,
    pub kind: AccessKind,
}

impl Event {
    /// One past the highest byte accessed.
    pub fn end(&self) -> Address {
        self.address.offset(self.size as u32)
    }

    /// Whether the access touches any byte of `[start, end)`.
    pub fn touches(&self, start: Address, end: Address) -> bool {
        self.address < end && start < self.end()
    }
}
