//! The `dmo op` report: one operator's safe overlaps by each method, for the
//! loop orders of one kernel family.

use dmo_ops::{InputOverlap, KernelFamily, Method, OpDescription, OpParams, OverlapModel};
use dmo_overlap::{footprint, Direction, PairOverlap, Placement, SafeOffset, Witness};
use dmo_plan::align_up;
use std::fmt::Write;

/// The text report of one operator: its description, then per method and
/// input the offsets, footprints and witnesses.
pub fn render_op(
    op: &OpDescription,
    kernels: &KernelFamily,
    results: &[(Method, Vec<InputOverlap>)],
) -> String {
    let mut out = String::new();
    let inputs: Vec<String> = op
        .inputs()
        .iter()
        .map(|input| format!("{input} ({} B)", input.bytes()))
        .collect();
    let _ = writeln!(
        out,
        "{}: input {} -> output {} ({} B)",
        op.kind(),
        inputs.join(", "),
        op.output(),
        op.output().bytes()
    );
    let _ = writeln!(
        out,
        "  loop orders of the {} kernels ({})",
        kernels.name, kernels.runtime
    );
    match op.params() {
        OpParams::Conv2d { window, .. }
        | OpParams::DepthwiseConv2d { window, .. }
        | OpParams::Pool2d { window } => {
            let _ = writeln!(
                out,
                "  padding {}: pad_top {}, pad_left {}",
                window.window.padding, window.pad_top, window.pad_left
            );
        }
        OpParams::StridedSlice { axes } => {
            // The indices TFLM's Eval visits per input axis.
            let described: Vec<String> = axes
                .iter()
                .map(|axis| {
                    format!(
                        "{} from {} by {}{}",
                        axis.count,
                        axis.start,
                        axis.stride,
                        if axis.shrink { " (shrunk)" } else { "" }
                    )
                })
                .collect();
            let _ = writeln!(out, "  indices per input axis: {}", described.join("; "));
        }
        _ => {}
    }
    for (method, results) in results {
        print_results(&mut out, *method, op, results);
    }
    out
}

fn direction_word(placement: &Placement) -> String {
    match placement.direction {
        Direction::Down => format!("output {} below input", placement.offset.0),
        Direction::Up => format!("output {} above input", placement.offset.0),
    }
}

fn witness_line(out: &mut String, label: &str, witness: &Option<Witness>) {
    if let Some(witness) = witness {
        let _ = writeln!(
            out,
            "    {label}: output byte {} first accessed at {} <= last read {} of input byte {}",
            witness.output_byte,
            witness.output_first_access,
            witness.input_last_read,
            witness.input_byte
        );
    }
}

fn print_pair(out: &mut String, pair: &PairOverlap) {
    let naive = pair.naive().0;
    let _ = writeln!(
        out,
        "    s_min {}  s_mono {}  u_min {}  u_mono {}",
        pair.s_min.0, pair.s_mono.0, pair.u_min.0, pair.u_mono.0
    );
    let _ = writeln!(
        out,
        "    best (exact offset): {}, footprint {} B of {naive} B, saves {} B ({:.1}%)",
        direction_word(&pair.best),
        pair.best.footprint.0,
        pair.saving().0,
        pair.saving_percent()
    );
    let monotone = pair.best_monotone();
    let _ = writeln!(
        out,
        "    best (at or beyond the offset): {}, footprint {} B, saves {} B",
        direction_word(&monotone),
        monotone.footprint.0,
        naive - monotone.footprint.0
    );
    // What a 16-byte aligned planner (TFLM's) gets from s_mono / u_mono.
    let (down, up) = (align_up(pair.s_mono.0), align_up(pair.u_mono.0));
    let aligned = |direction, offset| {
        footprint(
            pair.input_len,
            pair.output_len,
            direction,
            SafeOffset(offset),
        )
        .0
    };
    let _ = writeln!(
        out,
        "    16-byte aligned: down {down} -> footprint {} B, up {up} -> footprint {} B",
        aligned(Direction::Down, down),
        aligned(Direction::Up, up)
    );
    witness_line(out, "why not s_mono - 1", &pair.witness_down_mono);
    if pair.s_min != pair.s_mono {
        witness_line(out, "why not s_min - 1", &pair.witness_down);
    }
    witness_line(out, "why not u_mono - 1", &pair.witness_up_mono);
}

fn print_results(out: &mut String, method: Method, op: &OpDescription, results: &[InputOverlap]) {
    for result in results {
        let _ = writeln!(
            out,
            "{method}, input {} ({}):",
            result.input_index,
            op.inputs()[result.input_index]
        );
        match &result.result {
            OverlapModel::Modelled(pair) => print_pair(out, pair),
            OverlapModel::Analytic(analytic) => {
                let _ = writeln!(
                    out,
                    "    s_mono {}  u_mono {}",
                    analytic.s_mono.0, analytic.u_mono.0
                );
                if let Some(placement) = result.result.best_monotone() {
                    let naive = analytic.input_len.0 + analytic.output_len.0;
                    let _ = writeln!(
        out,
                        "    best (at or beyond the offset): {}, footprint {} B of {naive} B, saves {} B",
                        direction_word(&placement),
                        placement.footprint.0,
                        naive - placement.footprint.0
                    );
                }
            }
            OverlapModel::NotModelled { reason } => {
                let _ = writeln!(out, "    not modelled: no overlap claimed ({reason})");
            }
        }
    }
}
