//! Hand-derived cases (derivations in the comments) and property tests
//! against the brute-force [`reference`](crate::reference).

use crate::differences::HazardDifferences;
use crate::*;
use dmo_core::AccessKind;
use proptest::prelude::*;

/// The hazard test, written independently of the code under test.
fn is_hazard(first_access: Option<EventTime>, last_read: Option<EventTime>) -> bool {
    matches!((first_access, last_read), (Some(access), Some(read)) if access <= read)
}

fn t(time: u64) -> Option<EventTime> {
    Some(EventTime(time))
}

/// Feeds a loop nest's accesses, one event time each, into a recorder.
struct Clock {
    now: u64,
    recorder: AccessRecorder,
}

impl Clock {
    fn new(input_len: u64, output_len: u64) -> Clock {
        Clock {
            now: 0,
            recorder: AccessRecorder::new(ByteCount(input_len), ByteCount(output_len)),
        }
    }
    fn read_input(&mut self, byte: u64) {
        self.recorder
            .record_input(EventTime(self.now), byte, AccessKind::Read)
            .unwrap();
        self.now += 1;
    }
    fn write_output(&mut self, byte: u64) {
        self.recorder
            .record_output(EventTime(self.now), byte, AccessKind::Write)
            .unwrap();
        self.now += 1;
    }
}

#[test]
fn elementwise_in_order_overlaps_fully() {
    // for i: read input i (t = 2i), write output i (t = 2i + 1).
    // Hazard fa[j] <= lr[i] <=> 2j + 1 <= 2i <=> j < i: every hazard has
    // j - i < 0, so no down offset is unsafe: s_min = s_mono = 0. Up offsets
    // u = i - j in 1..=n-1 are unsafe (u = n - 1 via i = n - 1, j = 0), u = 0
    // is safe: u_min = 0, u_mono = n. Down at 0 and up at 0 both span n bytes:
    // the tie goes to down; saving n of 2n = 50%.
    let n = 1000;
    let mut clock = Clock::new(n, n);
    for i in 0..n {
        clock.read_input(i);
        clock.write_output(i);
    }
    let pair = clock.recorder.mine();
    assert_eq!((pair.s_min, pair.s_mono), (SafeOffset(0), SafeOffset(0)));
    assert_eq!((pair.u_min, pair.u_mono), (SafeOffset(0), SafeOffset(n)));
    assert_eq!(
        pair.best,
        Placement {
            direction: Direction::Down,
            offset: SafeOffset(0),
            footprint: ByteCount(n)
        }
    );
    assert_eq!(pair.saving(), ByteCount(n));
    assert_eq!(pair.saving_percent(), 50.0);
    assert_eq!(pair.witness_down, None);
    assert_eq!(pair.witness_up, None);
    // u_mono - 1 = 999: the only hazard is j = 0, i = 999 (t 1 <= t 1998).
    assert_eq!(
        pair.witness_up_mono,
        Some(Witness {
            output_byte: 0,
            input_byte: 999,
            output_first_access: EventTime(1),
            input_last_read: EventTime(1998)
        })
    );
}

#[test]
fn one_by_one_conv_of_design_md() {
    // 48x48 pixels (P = 2304), 8 -> 16 channels, reference order: per pixel
    // p, per out channel c: read input bytes 8p..8p+7, write output 16p + c.
    // Each (p, c) takes 9 events starting at 9(16p + c): reads +0..+7, write +8.
    // lr[8q + k] is the read in channel 15 of pixel q. Write (p, c) precedes
    // it iff p < q, or p = q and c < 15: those are the hazards.
    // Down: j - i = 16p + c - 8q - k. With p = q, c <= 14: d in [8p - 7,
    // 8p + 14], a contiguous run over all p from -7 to 8*2303 + 14 = 18438.
    // With p < q, d <= 8p + 7 < that. So s_min = s_mono = 18439 (DESIGN.md).
    // Up: p = 0, q in 1..=2303 gives d in [-8q - 7, -8q + 15], contiguous down
    // to -18431, so every u in 0..=18431 is unsafe: u_min = u_mono = 18432 = nI.
    // Footprints: down max(36864, 18439 + 18432) = 36871; up 18432 + 36864.
    let pixels = 48 * 48;
    let mut clock = Clock::new(pixels * 8, pixels * 16);
    for p in 0..pixels {
        for c in 0..16 {
            for k in 0..8 {
                clock.read_input(8 * p + k);
            }
            clock.write_output(16 * p + c);
        }
    }
    let lr = clock.recorder.last_read();
    let fa = clock.recorder.first_access();
    let pair = mine_pair(lr, fa);
    assert_eq!(
        (pair.s_min, pair.s_mono),
        (SafeOffset(18439), SafeOffset(18439))
    );
    assert_eq!(
        (pair.u_min, pair.u_mono),
        (SafeOffset(18432), SafeOffset(18432))
    );
    assert_eq!(s_mono(lr, fa), SafeOffset(18439));
    assert_eq!(u_mono(lr, fa), SafeOffset(18432));
    assert_eq!(
        pair.best,
        Placement {
            direction: Direction::Down,
            offset: SafeOffset(18439),
            footprint: ByteCount(36871)
        }
    );
    assert_eq!(pair.saving(), ByteCount(55296 - 36871));
    assert!(is_safe_down(lr, fa, SafeOffset(18439)));
    assert!(!is_safe_down(lr, fa, SafeOffset(18431)));
    // s = 18438 needs j - i = 18438. p = q: 8p + c - k = 18438 with c <= 14
    // forces p = 2303, c = 14, k = 0: j = 16*2303 + 14 = 36862, i = 18424.
    // p < q cannot reach it. fa = 9*36862 + 8 = 331766; lr[18424] is read k=0
    // of (2303, 15): 9*36863 = 331767.
    let expected = Witness {
        output_byte: 36862,
        input_byte: 18424,
        output_first_access: EventTime(331766),
        input_last_read: EventTime(331767),
    };
    assert_eq!(pair.witness_down, Some(expected));
    assert_eq!(pair.witness_down_mono, Some(expected));
}

#[test]
fn fully_connected_barely_overlaps() {
    // nI = 64, nO = 10; for c: read inputs 0..64, write output c: 65 events
    // per c. lr[i] = 9*65 + i, fa[c] = 65c + 64. fa[c] <= lr[i] iff c <= 8
    // (c = 9 is written after every read). Hazards: every i with every j <= 8,
    // differences d in [-63, 8], contiguous: s_min = s_mono = 9 = nO - 1,
    // u_min = u_mono = 64 = nI. Down footprint max(10, 9 + 64) = 73, up
    // footprint max(64, 64 + 10) = 74: best is down at 9, saving 1 byte.
    let mut clock = Clock::new(64, 10);
    for c in 0..10 {
        for i in 0..64 {
            clock.read_input(i);
        }
        clock.write_output(c);
    }
    let pair = clock.recorder.mine();
    assert_eq!((pair.s_min, pair.s_mono), (SafeOffset(9), SafeOffset(9)));
    assert_eq!((pair.u_min, pair.u_mono), (SafeOffset(64), SafeOffset(64)));
    assert_eq!(pair.best.footprint, ByteCount(73));
    assert_eq!(pair.best.direction, Direction::Down);
    assert_eq!(pair.saving(), ByteCount(1));
    // s = 8: smallest j >= 8 with a hazard on i = j - 8: j = 8, i = 0,
    // fa[8] = 65*8 + 64 = 584, lr[0] = 585.
    assert_eq!(
        pair.witness_down,
        Some(Witness {
            output_byte: 8,
            input_byte: 0,
            output_first_access: EventTime(584),
            input_last_read: EventTime(585)
        })
    );
}

#[test]
fn holes_make_s_min_smaller_than_s_mono_and_ties_go_down() {
    // lr = [10, -, -, -], fa = [1, 20, 2, 20]: hazards (i 0, j 0) and
    // (i 0, j 2), differences {0, 2}. Down: s = 0, 2 unsafe, s = 1 safe:
    // s_min = 1, s_mono = 3. Up: u = 0 unsafe: u_min = u_mono = 1. Footprints
    // down at 1: max(4, 5) = 5, up at 1: max(4, 5) = 5: tie, down wins.
    let lr = [t(10), None, None, None];
    let fa = [t(1), t(20), t(2), t(20)];
    let pair = mine_pair(&lr, &fa);
    assert_eq!((pair.s_min, pair.s_mono), (SafeOffset(1), SafeOffset(3)));
    assert_eq!((pair.u_min, pair.u_mono), (SafeOffset(1), SafeOffset(1)));
    assert_eq!(
        pair.best,
        Placement {
            direction: Direction::Down,
            offset: SafeOffset(1),
            footprint: ByteCount(5)
        }
    );
    let hazard = |j, fa_t| Witness {
        output_byte: j,
        input_byte: 0,
        output_first_access: EventTime(fa_t),
        input_last_read: EventTime(10),
    };
    assert_eq!(pair.witness_down, Some(hazard(0, 1)));
    assert_eq!(pair.witness_down_mono, Some(hazard(2, 2)));
    assert_eq!(pair.witness_up, Some(hazard(0, 1)));
    assert_eq!(pair.best_monotone().offset, SafeOffset(1)); // up at u_mono 1
    assert_eq!(pair.best_monotone().direction, Direction::Up);
}

#[test]
fn a_tie_in_time_is_a_hazard() {
    // One event that reads input byte 0 and touches output byte 0 at t = 5:
    // safe needs fa > lr, and 5 > 5 fails.
    let pair = mine_pair(&[t(5)], &[t(5)]);
    assert_eq!(pair.s_min, SafeOffset(1));
    assert_eq!(pair.u_min, SafeOffset(1));
}

#[test]
fn empty_and_untouched_buffers_overlap_freely() {
    for (lr, fa) in [
        (vec![], vec![t(1)]),
        (vec![t(1)], vec![]),
        (vec![None; 3], vec![t(0); 5]),
    ] {
        let pair = mine_pair(&lr, &fa);
        assert_eq!(
            (pair.s_min, pair.s_mono, pair.u_min, pair.u_mono),
            (SafeOffset(0), SafeOffset(0), SafeOffset(0), SafeOffset(0))
        );
        assert_eq!(
            pair.best.footprint,
            ByteCount(lr.len().max(fa.len()) as u64)
        );
    }
    assert_eq!(mine_pair(&[], &[]).saving_percent(), 0.0);
}

#[test]
fn footprints_follow_design_md() {
    assert_eq!(
        footprint(
            ByteCount(100),
            ByteCount(40),
            Direction::Down,
            SafeOffset(7)
        ),
        ByteCount(107)
    );
    assert_eq!(
        footprint(ByteCount(10), ByteCount(40), Direction::Down, SafeOffset(7)),
        ByteCount(40)
    );
    assert_eq!(
        footprint(ByteCount(100), ByteCount(40), Direction::Up, SafeOffset(70)),
        ByteCount(110)
    );
    assert_eq!(
        footprint(ByteCount(100), ByteCount(40), Direction::Up, SafeOffset(7)),
        ByteCount(100)
    );
}

/// Per-byte times: `None` in about one case out of five, values below
/// `max_time` so that small ranges force ties.
fn times(
    len: std::ops::Range<usize>,
    max_time: u64,
) -> impl Strategy<Value = Vec<Option<EventTime>>> {
    prop::collection::vec(
        prop::option::weighted(0.8, (0..max_time).prop_map(EventTime)),
        len,
    )
}

fn arrays(
    max_len: usize,
) -> impl Strategy<Value = (Vec<Option<EventTime>>, Vec<Option<EventTime>>)> {
    prop_oneof![Just(4u64), Just(40), Just(100_000)]
        .prop_flat_map(move |max_time| (times(0..max_len, max_time), times(0..max_len, max_time)))
}

/// An access stream like a loop nest's: runs of in-order reads and writes
/// with random strides, mapped through the recorder.
fn streams() -> impl Strategy<Value = (Vec<Option<EventTime>>, Vec<Option<EventTime>>)> {
    (
        1usize..200,
        1usize..200,
        prop::collection::vec((any::<bool>(), 0usize..400, 1usize..4), 1..60),
    )
        .prop_map(|(input_len, output_len, runs)| {
            let mut recorder =
                AccessRecorder::new(ByteCount(input_len as u64), ByteCount(output_len as u64));
            let mut now = 0;
            for (is_read, start, stride) in runs {
                for step in 0..8 {
                    let byte = ((start + step * stride) % 400) as u64;
                    if is_read && (byte as usize) < input_len {
                        recorder
                            .record_input(EventTime(now), byte, AccessKind::Read)
                            .unwrap();
                    } else if !is_read && (byte as usize) < output_len {
                        recorder
                            .record_output(EventTime(now), byte, AccessKind::Write)
                            .unwrap();
                    }
                    now += 1;
                }
            }
            (
                recorder.last_read().to_vec(),
                recorder.first_access().to_vec(),
            )
        })
}

fn check_against_reference(
    lr: &[Option<EventTime>],
    fa: &[Option<EventTime>],
) -> Result<(), TestCaseError> {
    let down = reference::safe_down_offsets(lr, fa);
    let up = reference::safe_up_offsets(lr, fa);
    let pair = mine_pair(lr, fa);
    prop_assert_eq!(pair.s_min.0, reference::smallest_safe(&down));
    prop_assert_eq!(pair.s_mono.0, reference::smallest_monotone(&down));
    prop_assert_eq!(pair.u_min.0, reference::smallest_safe(&up));
    prop_assert_eq!(pair.u_mono.0, reference::smallest_monotone(&up));
    prop_assert_eq!(s_mono(lr, fa), pair.s_mono);
    prop_assert_eq!(u_mono(lr, fa), pair.u_mono);
    prop_assert_eq!(s_min(lr, fa).0, pair.s_min);
    prop_assert_eq!(u_min(lr, fa).0, pair.u_min);
    for (s, &safe) in down.iter().enumerate() {
        prop_assert_eq!(is_safe_down(lr, fa, SafeOffset(s as u64)), safe);
    }
    for (u, &safe) in up.iter().enumerate() {
        prop_assert_eq!(is_safe_up(lr, fa, SafeOffset(u as u64)), safe);
    }
    // Small chunks exercise the seams between parallel chunks; the interval
    // and bitset paths are each forced once.
    for min_chunk in [1, 3, 7] {
        prop_assert_eq!(
            &HazardDifferences::compute_in_chunks(lr, fa, min_chunk),
            &HazardDifferences::compute(lr, fa)
        );
    }
    for max_intervals in [0, 2, usize::MAX] {
        for min_chunk in [1, 5, 1 << 20] {
            prop_assert_eq!(
                &HazardDifferences::compute_with(lr, fa, min_chunk, max_intervals),
                &HazardDifferences::compute(lr, fa)
            );
        }
    }
    // Witnesses: a real hazard at exactly the offset below, smallest output byte.
    let checks = [
        (pair.s_min, pair.witness_down, true),
        (pair.s_mono, pair.witness_down_mono, true),
        (pair.u_min, pair.witness_up, false),
        (pair.u_mono, pair.witness_up_mono, false),
    ];
    for (offset, witness, is_down) in checks {
        let Some(below) = offset.0.checked_sub(1) else {
            prop_assert!(witness.is_none());
            continue;
        };
        let w = witness.expect("an offset below the minimum has a witness");
        let (j, i) = (w.output_byte as usize, w.input_byte as usize);
        let expected_i = if is_down {
            j as i64 - below as i64
        } else {
            j as i64 + below as i64
        };
        prop_assert_eq!(i as i64, expected_i);
        prop_assert_eq!(fa[j], Some(w.output_first_access));
        prop_assert_eq!(lr[i], Some(w.input_last_read));
        prop_assert!(w.output_first_access <= w.input_last_read);
        let smallest = (0..fa.len()).find(|&k| {
            let other = if is_down {
                k as i64 - below as i64
            } else {
                k as i64 + below as i64
            };
            other >= 0 && (other as usize) < lr.len() && is_hazard(fa[k], lr[other as usize])
        });
        prop_assert_eq!(Some(j), smallest);
    }
    let best = pair.best;
    // DESIGN.md's footprints, written out here as the oracle.
    let (n_in, n_out) = (pair.input_len.0, pair.output_len.0);
    let down_fp = n_out.max(pair.s_min.0 + n_in);
    let up_fp = n_in.max(pair.u_min.0 + n_out);
    prop_assert_eq!(best.footprint.0, down_fp.min(up_fp));
    prop_assert_eq!(
        pair.saving().0 + best.footprint.0,
        (lr.len() + fa.len()) as u64
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn small_random_arrays_match_brute_force((lr, fa) in arrays(40)) {
        check_against_reference(&lr, &fa)?;
    }

    #[test]
    fn loop_like_streams_match_brute_force((lr, fa) in streams()) {
        check_against_reference(&lr, &fa)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    #[test]
    fn larger_random_arrays_match_brute_force((lr, fa) in arrays(700)) {
        check_against_reference(&lr, &fa)?;
    }
}

#[test]
fn several_chunks_match_brute_force() {
    // Above MIN_OUTPUTS_PER_CHUNK so the parallel split is the real one:
    // a stride-3 "conv" where every third output waits for a late read.
    let (input_len, output_len) = (3000usize, 5000usize);
    let lr: Vec<_> = (0..input_len)
        .map(|i| t((i as u64 * 7919) % 10_007))
        .collect();
    let fa: Vec<_> = (0..output_len)
        .map(|j| {
            if j % 3 == 0 {
                t((j as u64 * 104_729) % 10_007)
            } else {
                None
            }
        })
        .collect();
    let (s_min_ref, s_mono_ref, u_min_ref, u_mono_ref) = reference::offsets(&lr, &fa);
    let pair = mine_pair(&lr, &fa);
    assert_eq!(
        (pair.s_min.0, pair.s_mono.0, pair.u_min.0, pair.u_mono.0),
        (s_min_ref, s_mono_ref, u_min_ref, u_mono_ref)
    );
}
