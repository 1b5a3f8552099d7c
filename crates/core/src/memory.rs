//! The emulated address space as every part of `dmo` describes it: regions
//! of the memory map and the ELF symbols that name addresses.

use crate::units::Address;
use serde::{Deserialize, Serialize};

/// A region of the emulated address space `[start, start + len)`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MemoryRegion {
    pub name: String,
    pub start: Address,
    pub len: u32,
    pub kind: RegionKind,
}

impl MemoryRegion {
    pub fn end(&self) -> u64 {
        self.start.0 as u64 + self.len as u64
    }

    pub fn contains(&self, address: Address) -> bool {
        self.start <= address && (address.0 as u64) < self.end()
    }
}

/// What a memory region holds. Liveness and buffer discovery look at RAM,
/// treat flash as weights and constants, and leave the stack out.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum RegionKind {
    /// Code and read-only data.
    Flash,
    /// Data RAM (globals, heap, tensor arena).
    Ram,
    /// The part of RAM the stack used: lowest SP seen up to the initial SP.
    Stack,
    /// Peripheral registers answered by a stub.
    MmioStub,
}

/// An ELF symbol.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Symbol {
    pub name: String,
    pub address: Address,
    pub size: u32,
    pub kind: SymbolKind,
}

impl Symbol {
    pub fn contains(&self, address: Address) -> bool {
        self.address <= address && (address.0 as u64) < self.address.0 as u64 + self.size as u64
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum SymbolKind {
    Function,
    Object,
}

/// `symbol+0xoffset` (just `symbol` at its start) for an address inside
/// `symbol`, or the bare address without one: the one spelling every part of
/// dmo uses.
pub fn describe_address(symbol: Option<&Symbol>, address: Address) -> String {
    match symbol {
        Some(symbol) if address.0 == symbol.address.0 => symbol.name.clone(),
        Some(symbol) => format!(
            "{}+0x{:x}",
            symbol.name,
            address.0.wrapping_sub(symbol.address.0)
        ),
        None => format!("{address}"),
    }
}
