#!/usr/bin/env bash
# Simulator speed and memory at scale, against the machine's own bound.
#
#   bench/sim_scale.sh [REPEATS]     (scale-10k runs, default 5: the median)
# 1. examples/scenarios/scale-10k.ini (10,000 peers push-sum averaging a
#    1,000-float vector): simulated deliveries (a frame decoded and merged)
#    per second of wall time, one core.
# 2. bench_avg_bound on the same shapes: a plain averaging loop and reply
#    copy over 10,000 random models, nothing else; its rate is the bound
#    memory bandwidth sets. Prints the ratio.
# 3. Peak RSS of the scale-10k run against the peers' model buffers
#    (10,000 x 1,000 floats = 40 MB).
# 4. examples/scenarios/iid-16.ini: the share of wall time that is the
#    simulator's own (everything but training steps and evaluation).
# Needs a Release build in build/ and /usr/bin/time (Debian's `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
jget() { $py -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }

repeats=${1:-5}
rates=() rss_kb=0
for ((r = 1; r <= repeats; r++)); do
  out=$( { /usr/bin/time -f 'rss_kb %M' build/rumor sim examples/scenarios/scale-10k.ini --quiet --json; } 2>&1 )
  json=$(grep '^{' <<<"$out")
  kb=$(grep -o 'rss_kb [0-9]*' <<<"$out" | cut -d' ' -f2)
  (( kb > rss_kb )) && rss_kb=$kb
  deliv=$(jget deliveries <<<"$json")
  rates+=("$($py -c "print($deliv / $(jget wall_seconds <<<"$json"))")")
done
rate=$($py -c "import statistics,sys; print(statistics.median(float(v) for v in sys.argv[1:]))" "${rates[@]}")
# What any run holds before its peers: the binary, its libraries, stacks.
base_kb=$( { /usr/bin/time -f 'rss_kb %M' build/rumor sim <(sed 's/^count = 10000/count = 10/' \
  examples/scenarios/scale-10k.ini) --quiet --json; } 2>&1 | grep -o 'rss_kb [0-9]*' | cut -d' ' -f2)
bound=$(build/bench/bench_avg_bound 10000 1000 2 | jget deliveries_per_s)
models_mb=$($py -c "print(10000 * 1000 * 4 / 1e6)")
printf 'scale-10k: %s deliveries in each run; median of %d runs %.0f deliveries/s (runs: %s)\n' \
  "$deliv" "$repeats" "$rate" "$($py -c "import sys; print(' '.join('%.0f' % float(v) for v in sys.argv[1:]))" "${rates[@]}")"
printf 'bound (averaging loop + reply copy, 16 KB per delivery): %.0f deliveries/s; simulator at %.0f%% of it\n' \
  "$bound" "$($py -c "print(100 * $rate / $bound)")"
printf 'peak RSS %.1f MB for %.1f MB of model buffers: %.3fx (%.1f MB of it the binary and libraries: a 10-peer run)\n' \
  "$($py -c "print($rss_kb * 1024 / 1e6)")" "$models_mb" "$($py -c "print($rss_kb * 1024 / 1e6 / $models_mb)")" \
  "$($py -c "print($base_kb * 1024 / 1e6)")"

json=$(build/rumor sim examples/scenarios/iid-16.ini --quiet --json | grep '^{')
printf 'iid-16: wall %.1f s, training %.1f s, evaluation %.1f s, simulator overhead %.1f%% of wall\n' \
  "$(jget wall_seconds <<<"$json")" "$(jget learn_seconds <<<"$json")" \
  "$(jget eval_seconds <<<"$json")" "$($py -c "print(100 * $(jget sim_overhead <<<"$json"))")"
