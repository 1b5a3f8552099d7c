//! What a planner places: arena buffers with their lifetimes in TFLM's
//! "scopes", and the one alignment rule (`shared/DESIGN.md`, "Arena
//! planning").

use dmo_core::ByteCount;
use serde::Serialize;

/// TFLM's lifetime unit: model inputs are created in scope 0, operator `i`
/// runs in scope `i + 1`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct Scope(pub u32);

impl Scope {
    /// The scope operator `operator` runs in.
    pub fn of_operator(operator: usize) -> Scope {
        Scope(operator as u32 + 1)
    }
}

/// TFLM aligns every arena buffer to this many bytes.
pub const BUFFER_ALIGNMENT: u64 = 16;

/// `bytes` rounded up to [`BUFFER_ALIGNMENT`].
pub fn align_up(bytes: u64) -> u64 {
    bytes.div_ceil(BUFFER_ALIGNMENT) * BUFFER_ALIGNMENT
}

/// What an arena buffer holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub enum BufferSource {
    /// A non-constant tensor of subgraph 0.
    Tensor(usize),
    /// The `request`-th scratch buffer operator `operator` asks for.
    Scratch { operator: usize, request: usize },
}

/// One buffer of the arena head with its lifetime (both ends inclusive).
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ArenaBuffer {
    pub source: BufferSource,
    /// Bytes the tensor or scratch request needs.
    pub bytes: ByteCount,
    pub first_scope: Scope,
    pub last_scope: Scope,
}

impl ArenaBuffer {
    /// The size the planner reserves: `bytes` rounded up to 16.
    pub fn aligned_bytes(&self) -> u64 {
        align_up(self.bytes.0)
    }

    /// Whether both buffers are alive in some common scope.
    pub fn lifetime_intersects(&self, other: &ArenaBuffer) -> bool {
        self.first_scope <= other.last_scope && other.first_scope <= self.last_scope
    }
}
