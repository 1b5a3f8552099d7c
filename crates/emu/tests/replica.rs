//! Snapshots restored into another engine: a [`Session::replica`] restores
//! the first session's op-start snapshots by writing the CPU registers (a
//! unicorn context is only restored into the engine that took it). The
//! oracle is the first session, which restores its own contexts: every op
//! run from a snapshot in the replica must give the same events, at the
//! same times, and the same overlay report (output bytes, clobbered reads)
//! as the same run in the first session.

use dmo_core::CpuModel;
use dmo_emu::{Firmware, OverlayPlacement, RunConfig, Session, DEFAULT_SNAPSHOT_BUDGET};
mod support;

use support::{fixture, overlay_of, Recorder};

/// The seed of the overlays' input fills.
const SEED: u64 = 3;

/// Runs every op of a fixture, placed and overlapped, in the session that
/// took the snapshots and in a replica; returns how many runs compared.
fn compare_replica(cpu: CpuModel, name: &str) -> usize {
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
    let share = session.share();
    let mut replica_sink = Recorder::default();
    let mut replica = Session::replica(&firmware, &config, &mut replica_sink, &share).unwrap();
    let mut compared = 0;
    // Backwards, so that the replica never runs an op right after the one
    // before it (its machine then would already be close to the snapshot).
    for (index, op) in outcome.ops.iter().enumerate().rev() {
        assert!(replica.has_snapshot(index), "{name} op {index}");
        let Some(reference) = overlay_of(op, None, SEED) else {
            continue;
        };
        let half = OverlayPlacement::Down(reference.output_len as u64 / 2);
        let overlapped = overlay_of(op, Some(half), SEED).unwrap();
        for overlay in [reference, overlapped] {
            session.sink_mut().events.clear();
            let own = session.run_overlaid_op(index, overlay.clone()).unwrap();
            let own_events = std::mem::take(&mut session.sink_mut().events);
            replica.sink_mut().events.clear();
            let other = replica.run_overlaid_op(index, overlay.clone()).unwrap();
            let other_events = std::mem::take(&mut replica.sink_mut().events);
            let what = format!("{cpu:?} {name} op {index} {:?}", overlay.placement);
            // Controls: the op ran (events, an output), and started late in
            // the run (its events' times are not counted from zero).
            assert!(!own_events.is_empty(), "{what}");
            assert!(own_events[0].time.0 > 0, "{what}");
            assert!(!own.overlay.as_ref().unwrap().output.is_empty(), "{what}");
            assert_eq!(other_events, own_events, "{what}");
            assert_eq!(other.overlay, own.overlay, "{what}");
            assert_eq!(other.stats.instructions, own.stats.instructions, "{what}");
            assert_eq!(format!("{:?}", other.status), format!("{:?}", own.status));
            compared += 1;
        }
    }
    compared
}

#[test]
fn a_replica_runs_ops_from_shared_snapshots_as_the_session_that_took_them() {
    for cpu in [CpuModel::CortexM0, CpuModel::CortexM4, CpuModel::CortexM7] {
        assert_eq!(compare_replica(cpu, "tiny_cnn"), 12, "{cpu:?}");
    }
    // Floating point: the FPU registers and FPSCR come along.
    assert!(compare_replica(CpuModel::CortexM4, "conv_float") >= 2);
    assert!(compare_replica(CpuModel::CortexM7, "conv_float") >= 2);
}
