//! The emulated address space as every part of `dmo` describes it: regions
//! of the memory map and the ELF symbols that name addresses.

use crate::units::Address;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

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
    /// The name as people read it: C++ and Rust names demangled (see
    /// [`demangle`]), others as they are.
    pub fn display_name(&self) -> Cow<'_, str> {
        demangle(&self.name)
    }

    pub fn contains(&self, address: Address) -> bool {
        self.address <= address && (address.0 as u64) < self.address.0 as u64 + self.size as u64
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum SymbolKind {
    Function,
    Object,
}

/// A symbol name as people read it, the one place `dmo` demangles: Rust
/// (legacy and v0, without the hash) and C++ Itanium names, without the
/// parameter list and without anonymous namespaces (file-local, so
/// `tflite::ConvEval`, `tensor_arena`: what the source calls them), GCC
/// clone suffixes (`.constprop.0`) kept. Names that are not mangled, or that the
/// demanglers reject, come back unchanged.
pub fn demangle(name: &str) -> Cow<'_, str> {
    // Legacy Rust names are Itanium-shaped: tell them by their hash.
    let legacy_rust =
        name.starts_with("_ZN") && has_rust_hash(name.split('.').next().unwrap_or(name));
    if name.starts_with("_R") || legacy_rust {
        if let Ok(rust) = rustc_demangle::try_demangle(name) {
            // `{:#}` leaves out the hash.
            return Cow::Owned(format!("{rust:#}"));
        }
    }
    if name.starts_with("_Z") {
        // GCC's clones (`_Z3fooi.constprop.0`): demangle the base name.
        let (base, suffix) = match name.find('.') {
            Some(dot) => name.split_at(dot),
            None => (name, ""),
        };
        if let Ok(symbol) = cpp_demangle::Symbol::new(base) {
            let options = cpp_demangle::DemangleOptions::new().no_params();
            if let Ok(text) = symbol.demangle(&options) {
                let text = text
                    .replace("(anonymous namespace)::", "")
                    .replace("_GLOBAL__N_1::", "");
                return Cow::Owned(format!("{text}{suffix}"));
            }
        }
    }
    Cow::Borrowed(name)
}

/// Whether a `_ZN...E` name ends in rustc's `17h<16 hex digits>E`.
fn has_rust_hash(name: &str) -> bool {
    let Some(body) = name.strip_suffix('E') else {
        return false;
    };
    body.len() > 19
        && body.is_char_boundary(body.len() - 19)
        && body[body.len() - 19..].starts_with("17h")
        && body[body.len() - 16..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

/// `symbol+0xoffset` (just `symbol` at its start) for an address inside
/// `symbol`, or the bare address without one: the one spelling every part of
/// dmo uses. The symbol's name is demangled.
pub fn describe_address(symbol: Option<&Symbol>, address: Address) -> String {
    match symbol {
        Some(symbol) if address.0 == symbol.address.0 => symbol.display_name().into_owned(),
        Some(symbol) => format!(
            "{}+0x{:x}",
            symbol.display_name(),
            address.0.wrapping_sub(symbol.address.0)
        ),
        None => format!("{address}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_cpp_and_rust_and_leaves_c_alone() {
        // Hand-written from the Itanium ABI: N 6tflite 12_GLOBAL__N_1 8ConvEval E, params.
        assert_eq!(
            demangle("_ZN6tflite12_GLOBAL__N_18ConvEvalEP13TfLiteContextP10TfLiteNode"),
            "tflite::ConvEval"
        );
        assert_eq!(demangle("_ZN12_GLOBAL__N_112tensor_arenaE"), "tensor_arena");
        assert_eq!(demangle("_ZN6tflite3ops5Eval2Ev"), "tflite::ops::Eval2");
        assert_eq!(demangle("_Z3addii.constprop.0"), "add.constprop.0");
        assert_eq!(
            demangle("_ZN4core3fmt5write17h0123456789abcdefE"),
            "core::fmt::write"
        );
        assert_eq!(demangle("_RNvCs1234_7mycrate4main"), "mycrate::main");
        assert_eq!(demangle("tensor_arena"), "tensor_arena");
        assert_eq!(demangle("_Znot_mangled"), "_Znot_mangled");
    }

    #[test]
    fn addresses_use_the_demangled_name() {
        let symbol = Symbol {
            name: "_ZN12_GLOBAL__N_112tensor_arenaE".into(),
            address: Address(0x2000_0000),
            size: 0x8000,
            kind: SymbolKind::Object,
        };
        assert_eq!(
            describe_address(Some(&symbol), Address(0x2000_4800)),
            "tensor_arena+0x4800"
        );
    }
}
