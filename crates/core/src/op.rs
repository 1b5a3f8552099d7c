//! Operators as seen in a run: a range of event times and the named buffers
//! the operator works on.

use crate::units::{Address, TimeRange};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a buffer is to its operator. The numeric values are the `role`
/// argument of `dmo_buffer()` in `include/dmo_markers.h`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum BufferRole {
    Input = 0,
    Output = 1,
    Weights = 2,
    Scratch = 3,
}

impl BufferRole {
    /// The role for a `dmo_buffer()` role code, if it is a known one.
    pub fn from_code(code: u32) -> Option<BufferRole> {
        match code {
            0 => Some(BufferRole::Input),
            1 => Some(BufferRole::Output),
            2 => Some(BufferRole::Weights),
            3 => Some(BufferRole::Scratch),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BufferRole::Input => "input",
            BufferRole::Output => "output",
            BufferRole::Weights => "weights",
            BufferRole::Scratch => "scratch",
        }
    }
}

impl fmt::Display for BufferRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named address range `[start, start + len)` with a role.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Buffer {
    pub name: String,
    pub start: Address,
    pub len: u32,
    pub role: BufferRole,
}

impl Buffer {
    pub fn new(name: &str, start: Address, len: u32, role: BufferRole) -> Buffer {
        Buffer {
            name: name.to_owned(),
            start,
            len,
            role,
        }
    }

    pub fn end(&self) -> Address {
        self.start.offset(self.len)
    }

    pub fn contains(&self, address: Address) -> bool {
        self.start <= address && address < self.end()
    }
}

/// The events of one operator: a half-open range of event times, a name, a
/// kind (`CONV_2D`, ...), its buffers, and the instructions it ran.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OpSegment {
    pub name: String,
    pub kind: String,
    pub time: TimeRange,
    pub buffers: Vec<Buffer>,
    /// Instructions the emulator retired between the op's begin and end
    /// (counted per translated block: the marker calls' own first blocks
    /// count, the block an `--ops` function returns to does not). `None`
    /// when unknown: a trace from a `dmo` before format 3, or made-up events.
    pub instructions: Option<u64>,
}

impl OpSegment {
    /// The name as people read it: an op named after a function symbol
    /// (`--ops`, a known runtime) shows demangled; JSON keeps `name` raw.
    pub fn display_name(&self) -> std::borrow::Cow<'_, str> {
        crate::memory::demangle(&self.name)
    }

    pub fn buffers_with_role(&self, role: BufferRole) -> impl Iterator<Item = &Buffer> {
        self.buffers.iter().filter(move |b| b.role == role)
    }
}
