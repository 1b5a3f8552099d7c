//! The block clock behind `dmo verify`'s checks: a run of one op from its
//! snapshot that hooks only some bytes must trace exactly the accesses of
//! those bytes that a fully hooked run of the same op traces, at the same
//! event times, and an overlapped run must see the same clobbered reads.
//! The oracle is the fully hooked run in the same session.

use dmo_core::{CpuModel, Event};
use dmo_emu::{
    ClockStop, Firmware, HookedRange, Overlay, OverlayPlacement, RunConfig, Session,
    DEFAULT_SNAPSHOT_BUDGET,
};
mod support;

use support::{fixture, overlay_of, Recorder};

/// The seed of the overlays' input fills.
const SEED: u64 = 7;

fn touches(ranges: &[HookedRange], event: &Event) -> bool {
    let (address, size) = (event.address.0 as u64, event.size as u64);
    let write = event.kind == dmo_core::AccessKind::Write;
    ranges.iter().any(|range| {
        (if write { range.writes } else { range.reads })
            && address < range.end
            && address + size > range.start
    })
}

/// Checks every op of a fixture: reference runs hooked on the pair, and
/// runs with the output placed over the input at `placement(op)` hooked on
/// the shared bytes. Returns how many runs were clocked.
fn check_fixture(
    cpu: CpuModel,
    name: &str,
    placement: impl Fn(&Overlay) -> OverlayPlacement,
) -> usize {
    let firmware = Firmware::load(&fixture(cpu, name)).unwrap();
    let config = RunConfig {
        cpu,
        max_instructions: 200_000_000,
        ..RunConfig::default()
    };
    let mut sink = Recorder::default();
    let mut session = Session::new(&firmware, &config, &mut sink, DEFAULT_SNAPSHOT_BUDGET).unwrap();
    let outcome = session.run().unwrap();
    assert!(outcome.status.is_complete(), "{name}: {:?}", outcome.status);
    assert!(session.validated_blocks() > 0);
    let mut clocked = 0;
    for (index, op) in outcome.ops.iter().enumerate() {
        let Some(reference) = overlay_of(op, None, SEED) else {
            continue;
        };
        let overlapped = overlay_of(op, Some(placement(&reference)), SEED).unwrap();
        for (overlay, hooked) in [
            (reference.clone(), reference.pair_ranges()),
            (overlapped.clone(), overlapped.shared_ranges()),
        ] {
            session.sink_mut().events.clear();
            let full = session.run_overlaid_op(index, overlay.clone()).unwrap();
            let all = std::mem::take(&mut session.sink_mut().events);
            let expected: Vec<Event> = all
                .iter()
                .filter(|e| touches(&hooked, e))
                .copied()
                .collect();
            let run = session
                .run_overlaid_op_clocked(index, overlay.clone(), &hooked)
                .unwrap();
            let traced = std::mem::take(&mut session.sink_mut().events);
            let Ok(fast) = run else {
                continue;
            };
            clocked += 1;
            assert_eq!(
                traced, expected,
                "{name} op {index} {:?}",
                overlay.placement
            );
            assert_eq!(
                fast.overlay, full.overlay,
                "{name} op {index} {:?}",
                overlay.placement
            );
            // Controls: the clocked run skipped accesses (the times it gave
            // are not just its own count), and saw the op's output.
            assert!(expected.len() < all.len(), "{name} op {index}");
            assert!(!fast.overlay.unwrap().output.is_empty());
        }
    }
    clocked
}

#[test]
fn clocked_runs_trace_the_hooked_bytes_at_fully_hooked_times() {
    // Below the input, half the output's length: unsafe for the convs, so
    // clobbered reads (with times) are compared too.
    let half = |overlay: &Overlay| OverlayPlacement::Down(overlay.output_len as u64 / 2);
    for cpu in [CpuModel::CortexM0, CpuModel::CortexM4, CpuModel::CortexM7] {
        let clocked = check_fixture(cpu, "tiny_cnn", half);
        // 6 ops, two runs each: most must be clocked (the test would pass
        // vacuously if every run fell back).
        assert!(clocked >= 8, "{cpu:?}: only {clocked} clocked runs");
    }
    assert_eq!(check_fixture(CpuModel::CortexM4, "conv1x1", half), 2);
    // Above the input (u = 3).
    assert!(check_fixture(CpuModel::CortexM4, "tiny_cnn", |_| OverlayPlacement::Up(3)) >= 8);
}

#[test]
fn a_run_through_code_the_clock_cannot_count_gives_up() {
    // conv_float on a Cortex-M4 loads and stores through the FPU (VLDR,
    // VSTR), which the clock does not decode: every clocked run gives up,
    // naming the block, and the caller runs it fully hooked.
    let firmware = Firmware::load(&fixture(CpuModel::CortexM4, "conv_float")).unwrap();
    let config = RunConfig {
        cpu: CpuModel::CortexM4,
        ..RunConfig::default()
    };
    let mut sink = Recorder::default();
    let mut session = Session::new(&firmware, &config, &mut sink, DEFAULT_SNAPSHOT_BUDGET).unwrap();
    let outcome = session.run().unwrap();
    let overlay = overlay_of(&outcome.ops[0], None, SEED).unwrap();
    let ranges = overlay.pair_ranges();
    let run = session
        .run_overlaid_op_clocked(0, overlay.clone(), &ranges)
        .unwrap();
    assert!(
        matches!(run, Err(ClockStop::UnvalidatedBlock(_))),
        "{run:?}"
    );
    // The session still runs the op fully hooked afterwards.
    let full = session.run_overlaid_op(0, overlay).unwrap();
    assert!(full.overlay.is_some_and(|report| report.op_time.is_some()));
    // No snapshot, no clocked run.
    let none = overlay_of(&outcome.ops[0], None, SEED).unwrap();
    assert!(matches!(
        session.run_overlaid_op_clocked(99, none, &ranges).unwrap(),
        Err(ClockStop::NoSnapshot)
    ));
}

#[test]
fn a_transparent_overlapped_run_is_the_placed_run() {
    // With one shared byte (the output's last over the input's first) the
    // convs read nothing through it after their output lands: transparent.
    // Such a run must make the placed run's accesses to the pair, at the
    // same times, and leave its output (the oracle: the placed run itself).
    // Control: at half the output's length the convs clobber their input,
    // and the run is not transparent.
    let firmware = Firmware::load(&fixture(CpuModel::CortexM4, "tiny_cnn")).unwrap();
    let config = RunConfig {
        cpu: CpuModel::CortexM4,
        ..RunConfig::default()
    };
    let mut sink = Recorder::default();
    let mut session = Session::new(&firmware, &config, &mut sink, DEFAULT_SNAPSHOT_BUDGET).unwrap();
    let outcome = session.run().unwrap();
    let (mut transparent, mut opaque) = (0, 0);
    for (index, op) in outcome.ops.iter().enumerate() {
        let Some(placed) = overlay_of(op, None, SEED) else {
            continue;
        };
        let pair = placed.pair_ranges();
        let mut run = |overlay: Overlay| {
            session.sink_mut().events.clear();
            let outcome = session.run_overlaid_op(index, overlay).unwrap();
            let events: Vec<Event> = std::mem::take(&mut session.sink_mut().events)
                .into_iter()
                .filter(|event| touches(&pair, event))
                .collect();
            (outcome.overlay.unwrap(), events)
        };
        let (reference, reference_events) = run(placed.clone());
        let last = placed.output_len as u64 - 1;
        for s in [last, last / 2] {
            let (report, events) =
                run(overlay_of(op, Some(OverlayPlacement::Down(s)), SEED).unwrap());
            if report.is_transparent() {
                transparent += 1;
                assert_eq!(report.output, reference.output, "op {index} s {s}");
                assert_eq!(events, reference_events, "op {index} s {s}");
            } else {
                opaque += 1;
            }
        }
    }
    assert!(transparent >= 6 && opaque >= 2, "{transparent} {opaque}");
}
