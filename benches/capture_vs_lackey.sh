#!/usr/bin/env bash
# Data events per second: `dmo trace` on the conv1x1 fixture (Cortex-M4 under
# unicorn, events written to a trace file) against Valgrind's lackey
# (`--trace-mem=yes`, the tool the DMO paper modified) on the same C kernel
# compiled for the host, its trace piped to a counter. Prints a markdown table.
#
# Usage: benches/capture_vs_lackey.sh [FIXTURE]   (default conv1x1)
set -euo pipefail
cd "$(dirname "$0")/.."
fixture="${1:-conv1x1}"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
make -s -C fixtures
cargo build -q --release -p dmo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }

start=$(now)
target/release/dmo trace "fixtures/build/cortex-m4/$fixture.elf" -o "$tmp/t.dmotrace" -q 2>"$tmp/dmo.log"
end=$(now)
dmo_events=$(grep -o '[0-9]* events' "$tmp/dmo.log" | head -1 | cut -d' ' -f1)
dmo_seconds=$(awk "BEGIN{print $end - $start}")

start=$(now)
# Lackey's trace goes to fd 9, counted as it streams: L and S are one data
# event each, M (modify) is a load and a store.
lackey_events=$( { valgrind --tool=lackey --trace-mem=yes --log-fd=9 \
    "fixtures/build/host/$fixture" 9>&1 >/dev/null 2>/dev/null; } \
    | awk '/^ [LS] /{n++} /^ M /{n+=2} END{print n+0}')
end=$(now)
lackey_seconds=$(awk "BEGIN{print $end - $start}")

printf '| tool | data events | seconds | M events/s |\n|---|---|---|---|\n'
printf '| dmo trace (%s.elf, cortex-m4) | %s | %.2f | %.2f |\n' "$fixture" "$dmo_events" "$dmo_seconds" \
    "$(awk "BEGIN{print $dmo_events / $dmo_seconds / 1000000}")"
printf '| valgrind lackey (host %s) | %s | %.2f | %.2f |\n' "$fixture" "$lackey_events" "$lackey_seconds" \
    "$(awk "BEGIN{print $lackey_events / $lackey_seconds / 1000000}")"
