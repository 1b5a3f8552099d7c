#!/bin/sh
# `dmo report` on a trace of firmware without markers vs the same run with
# markers (issue 10's target: at most 1.5x). The firmware is person_detect as
# `dmo firmware` generates it (31 ops, markers in every kernel); "unmarked"
# traces it with --ops on the kernel functions, which ignores the markers, so
# the buffers come from discovery (stored in the trace at the end of `trace`).
# Usage: benches/report_unmarked.sh [ROUNDS]   (after cargo build --release)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dmo="$here/target/release/dmo"
model="$here/../shared/models/person_detect.tflite"
rounds=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$dmo" firmware "$model" -o pd.elf >/dev/null
seconds() { # best wall time of $rounds runs of "$@"
    best=
    for _ in $(seq "$rounds"); do
        start=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}
ops='^dmo_(conv_int8|depthwise_conv_int8|average_pool_int8|softmax_int8|reshape)$'
t_marked=$(seconds "$dmo" trace -q pd.elf -o marked.dmotrace --force)
t_unmarked=$(seconds "$dmo" trace -q pd.elf --ops "$ops" -o unmarked.dmotrace --force)
r_marked=$(seconds "$dmo" report marked.dmotrace)
r_unmarked=$(seconds "$dmo" report unmarked.dmotrace)
"$dmo" report marked.dmotrace --format csv | cut -d, -f2,7,10-14 > marked.csv
"$dmo" report unmarked.dmotrace --format csv | cut -d, -f2,7,10-14 > unmarked.csv
same=$(cmp -s marked.csv unmarked.csv && echo yes || echo NO)
echo "events: $("$dmo" info marked.dmotrace | awk '/^events/ {print $2}')"
echo "trace, markers:          $t_marked s"
echo "trace, no markers (--ops, discovery stored): $t_unmarked s"
echo "report, markers:         $r_marked s"
echo "report, no markers:      $r_unmarked s"
echo "ratio report unmarked/marked: $(echo "scale=2; $r_unmarked / $r_marked" | bc)"
echo "same s_min/s_mono/u_min/u_mono per row: $same"
