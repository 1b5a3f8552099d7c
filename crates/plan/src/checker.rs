//! An independent plan checker: no two simultaneously live buffers may share
//! a byte unless they are an allowed DMO pair placed at a safe offset.
//!
//! It shares nothing with the planners but the input types: it looks at every
//! pair of buffers, so a planner bug cannot hide in a shared shortcut.

use crate::lifetimes::{align_up, ArenaBuffer, Scope};
use serde::Serialize;
use std::fmt;

/// How an operator's output may overlap one of its inputs (indices into the
/// arena buffer list). Offsets are bytes; `d = offset(output) - offset(input)`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct OverlapAllowance {
    pub operator: usize,
    pub input: usize,
    pub output: usize,
    /// `d <= -down` is safe (output at or below the input minus `down`,
    /// `down = ceil16(s_mono)`), if the op was modelled.
    pub down: Option<u64>,
    /// `d >= up` is safe (`up = ceil16(u_mono)`).
    pub up: Option<u64>,
    /// Further exact safe values of `-d` (multiples of 16, e.g. `s_min`, or 0
    /// for a RESHAPE sharing its input's buffer).
    pub exact_down: Vec<u64>,
}

impl OverlapAllowance {
    /// Whether placing the output `d` bytes above the input is allowed.
    pub fn allows(&self, d: i64) -> bool {
        if let Some(down) = self.down {
            if d <= -(down as i64) {
                return true;
            }
        }
        if let Some(up) = self.up {
            if d >= up as i64 {
                return true;
            }
        }
        d <= 0 && self.exact_down.contains(&(-d as u64))
    }
}

/// Two buffers that are alive together and share bytes without permission.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Conflict {
    pub first: usize,
    pub second: usize,
    pub first_range: (u64, u64),
    pub second_range: (u64, u64),
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "buffers {} [{}, {}) and {} [{}, {}) are live together and overlap",
            self.first,
            self.first_range.0,
            self.first_range.1,
            self.second,
            self.second_range.0,
            self.second_range.1
        )
    }
}

/// Checks a plan. Buffers occupy their 16-byte aligned size. Returns every
/// conflicting pair (empty = the plan is valid).
pub fn check_plan(
    buffers: &[ArenaBuffer],
    offsets: &[u64],
    allowances: &[OverlapAllowance],
) -> Vec<Conflict> {
    assert_eq!(buffers.len(), offsets.len(), "one offset per buffer");
    let mut conflicts = Vec::new();
    for a in 0..buffers.len() {
        let a_range = (offsets[a], offsets[a] + align_up(buffers[a].bytes.0));
        for b in a + 1..buffers.len() {
            let b_range = (offsets[b], offsets[b] + align_up(buffers[b].bytes.0));
            let alive_together = buffers[a].first_scope <= buffers[b].last_scope
                && buffers[b].first_scope <= buffers[a].last_scope;
            let share_bytes = a_range.0 < b_range.1 && b_range.0 < a_range.1;
            if !alive_together || !share_bytes {
                continue;
            }
            if pair_is_allowed(a, b, buffers, offsets, allowances) {
                continue;
            }
            conflicts.push(Conflict {
                first: a,
                second: b,
                first_range: a_range,
                second_range: b_range,
            });
        }
    }
    conflicts
}

/// Allowed only if some allowance names exactly this (input, output) pair,
/// every allowance for it agrees (an input used twice by one op), and the
/// input dies and the output is born in the operator's own scope.
fn pair_is_allowed(
    a: usize,
    b: usize,
    buffers: &[ArenaBuffer],
    offsets: &[u64],
    allowances: &[OverlapAllowance],
) -> bool {
    let mut matching = allowances
        .iter()
        .filter(|rule| {
            (rule.input == a && rule.output == b) || (rule.input == b && rule.output == a)
        })
        .peekable();
    if matching.peek().is_none() {
        return false;
    }
    matching.all(|rule| {
        let scope = Scope::of_operator(rule.operator);
        if buffers[rule.input].last_scope != scope || buffers[rule.output].first_scope != scope {
            return false;
        }
        let d = offsets[rule.output] as i64 - offsets[rule.input] as i64;
        rule.allows(d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifetimes::BufferSource;
    use dmo_core::ByteCount;

    fn buffer(tensor: usize, bytes: u64, first: u32, last: u32) -> ArenaBuffer {
        ArenaBuffer {
            source: BufferSource::Tensor(tensor),
            bytes: ByteCount(bytes),
            first_scope: Scope(first),
            last_scope: Scope(last),
        }
    }

    #[test]
    fn overlap_of_live_buffers_is_reported_and_dead_ones_are_not() {
        let buffers = [
            buffer(0, 32, 0, 1),
            buffer(1, 32, 1, 2),
            buffer(2, 32, 2, 3),
        ];
        // 0 and 2 never live together: sharing [0, 32) is fine.
        assert!(check_plan(&buffers, &[0, 32, 0], &[]).is_empty());
        // 1 and 2 share scope 2 and bytes [16, 48).
        let conflicts = check_plan(&buffers, &[0, 32, 16], &[]);
        assert_eq!(conflicts.len(), 1);
        assert_eq!((conflicts[0].first, conflicts[0].second), (1, 2));
    }

    #[test]
    fn dmo_pair_is_allowed_only_at_a_safe_offset() {
        // Input 0 (64 B, dies at op 0 = scope 1), output 1 (64 B, made in
        // scope 1). s_mono rounds up to 32: the output may start 32 or more
        // bytes below the input, or exactly 16 below (a safe s_min).
        let buffers = [buffer(0, 64, 0, 1), buffer(1, 64, 1, 2)];
        let rule = OverlapAllowance {
            operator: 0,
            input: 0,
            output: 1,
            down: Some(32),
            up: None,
            exact_down: vec![16],
        };
        let rules = [rule];
        assert!(check_plan(&buffers, &[32, 0], &rules).is_empty(), "d = -32");
        assert!(check_plan(&buffers, &[48, 0], &rules).is_empty(), "d = -48");
        assert!(
            check_plan(&buffers, &[16, 0], &rules).is_empty(),
            "d = -16 exact"
        );
        assert_eq!(check_plan(&buffers, &[0, 0], &rules).len(), 1, "d = 0");
        assert_eq!(
            check_plan(&buffers, &[0, 16], &rules).len(),
            1,
            "d = +16, no up rule"
        );
        assert_eq!(
            check_plan(&buffers, &[32, 0], &[]).len(),
            1,
            "no rule, no overlap"
        );
    }
}
