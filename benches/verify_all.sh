#!/bin/sh
# `dmo verify --all` against one `dmo trace` of the same firmware (issue 10:
# target at most 3x). Builds person_detect as firmware with the tree's own
# binary, then runs trace and verify alternately ROUNDS times, printing
# wall and CPU (user+sys) seconds of each, so both see the same load.
# Each verify runs twice: with the checks on every core (the default
# `--jobs`) and with `--jobs 1` (every check in the first run's engine);
# parallel checks lower the wall time, not the CPU time.
#
#   benches/verify_all.sh [ROUNDS] [SEEDS...]     (defaults: 2 rounds; seeds 1 and 4)
set -eu
cd "$(dirname "$0")/.."
DMO=target/release/dmo
ROUNDS=${1:-2}
[ $# -gt 0 ] && shift
SEEDS=${*:-1 4}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -x "$DMO" ] || cargo build --release -q -p dmo
"$DMO" firmware ../shared/models/person_detect.tflite -o "$WORK/pd.elf" >/dev/null
measure() { # label, command...
    label=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$WORK/time" "$@" >"$WORK/out" 2>&1 || {
        cat "$WORK/out"; exit 1; }
    awk -v l="$label" '{ printf "%-38s wall %6.2f s  cpu %6.2f s\n", l, $1, $2 + $3 }' "$WORK/time"
}
round=1
while [ "$round" -le "$ROUNDS" ]; do
    rm -f "$WORK/pd.dmotrace"
    measure "trace" "$DMO" trace "$WORK/pd.elf" -o "$WORK/pd.dmotrace"
    for seeds in $SEEDS; do
        measure "verify --all --seeds $seeds" "$DMO" verify "$WORK/pd.elf" --all --seeds "$seeds"
        tail -1 "$WORK/out"
        grep ' op runs: ' "$WORK/out" | sed 's/ (block clock)//; s/ (the run at [^)]*)//'
        measure "verify --all --seeds $seeds --jobs 1" "$DMO" verify "$WORK/pd.elf" --all --seeds "$seeds" --jobs 1
        tail -1 "$WORK/out"
    done
    round=$((round + 1))
done
