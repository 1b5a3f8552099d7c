//! What memory hooks cost a run (the floor of `dmo verify`'s checks, see
//! docs/PERFORMANCE.md): runs a firmware with every access hooked, with a
//! hook bounded to `BEGIN..=END` (loads and stores, or stores only), with a
//! hook bounded to an address nothing
//! touches (unicorn's slow path alone), and with no memory hook, ROUNDS
//! times interleaved, and prints each variant's best CPU time (this
//! thread's time on a CPU, from Linux's /proc/thread-self/schedstat; wall
//! time elsewhere), so that other work on the machine matters less.
//!
//!   cargo run --release -p dmo-emu --example hook_costs -- ELF BEGIN END [ROUNDS]
//!
//! BEGIN and END are hex addresses (e.g. the arena's first and last byte).

use dmo_emu::{run_hook_probe, Firmware, HookProbe, RunConfig};
use std::time::Instant;

/// Seconds this thread has run on a CPU, if Linux says; else wall time.
fn cpu_seconds(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| wall.elapsed().as_secs_f64(), |ns| ns as f64 / 1e9)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: hook_costs ELF BEGIN END [ROUNDS]");
        std::process::exit(2);
    }
    let hex = |text: &str| u64::from_str_radix(text.trim_start_matches("0x"), 16).expect("hex");
    let firmware = Firmware::load(std::path::Path::new(&args[1])).expect("load the ELF");
    let (begin, end) = (hex(&args[2]), hex(&args[3]));
    let rounds: usize = args.get(4).map_or(3, |n| n.parse().expect("rounds"));
    let config = RunConfig::default();
    let probes = [
        ("every access hooked", HookProbe::Every),
        ("hook on BEGIN..=END", HookProbe::Bounded { begin, end }),
        (
            "store hook on BEGIN..=END",
            HookProbe::BoundedStores { begin, end },
        ),
        (
            "hook on an untouched byte",
            HookProbe::Bounded {
                begin: 0xf000_0000,
                end: 0xf000_0000,
            },
        ),
        ("no memory hook", HookProbe::NoAccessHook),
    ];
    let mut best = vec![f64::INFINITY; probes.len()];
    let mut hooked = vec![0u64; probes.len()];
    for _ in 0..rounds {
        for (index, (_, probe)) in probes.iter().enumerate() {
            let wall = Instant::now();
            let started = cpu_seconds(wall);
            let outcome = run_hook_probe(&firmware, &config, *probe).expect("run");
            assert!(outcome.status.is_complete(), "{:?}", outcome.status);
            best[index] = best[index].min(cpu_seconds(wall) - started);
            hooked[index] = outcome.stats.events;
        }
    }
    for (index, (name, _)) in probes.iter().enumerate() {
        println!(
            "{name:<28} {:6.2} s  ({:.2}x of every access hooked; {} accesses hooked)",
            best[index],
            best[index] / best[0],
            hooked[index]
        );
    }
}
