#!/usr/bin/env bash
# What checkpoints cost a training node, against the issue's bar: the step
# rate with a snapshot every second (fsync on) within 3% of the rate with
# none, measured in the same run.
#
#   bench/ckpt_overhead.sh [STEPS] [ROUNDS]   (RUMOR_BUILD=DIR, default build)
#
# One `rumor node` alone (its allow-list holds only itself, so it never
# gossips) trains mlp:784-128-10 on a quarter of Fashion-MNIST for STEPS
# steps (20000), ROUNDS times (3) each way, alternating: without
# checkpoints, and with --ckpt-every-ms 1000 --ckpt-sync full into a fresh
# store. Steps per second come from the node's JSON line (steps / seconds
# of its loop, data loading excluded); the ratio of the medians is printed.
# Builds nothing: needs a Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RUMOR_BUILD:-build}
steps=${1:-20000}
rounds=${2:-3}
py=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/rumor-ckpt-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$build/rumor" keygen --out "$dir/k.key" 2>/dev/null > "$dir/allow.list"
port=$(( 30000 + $$ % 20000 ))

# Pinned to one core: the pool thread that writes a snapshot then takes its
# time from the training step itself (the worst case, and far less noise
# than letting the scheduler move threads between the two cores).
pin=(taskset -c "${RUMOR_BENCH_CPU:-1}")
command -v taskset > /dev/null || pin=()
rate() { # rate [FLAGS...]: steps per second of one run
  "${pin[@]}" "$build/rumor" node --listen 127.0.0.1:$port --key "$dir/k.key" --allow "$dir/allow.list" \
    --shard 0/4 --steps "$steps" --linger 0 --status 0 --json "$@" |
    $py -c "import json,sys; j=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(j['steps']/j['seconds'], j.get('ckpt_saves', 0))"
}

none=() with=()
for ((r = 1; r <= rounds; r++)); do
  read -r a _ < <(rate)
  rm -rf "$dir/ck"
  read -r b saves < <(rate --ckpt-dir "$dir/ck" --ckpt-every 0 --ckpt-every-ms 1000 --ckpt-sync full)
  printf 'round %d: %.0f steps/s without checkpoints, %.0f with one a second (%s saved)\n' \
    "$r" "$a" "$b" "$saves"
  none+=("$a"); with+=("$b")
done
$py - "${none[*]}" "${with[*]}" <<'EOF'
import statistics, sys
a = statistics.median(map(float, sys.argv[1].split()))
b = statistics.median(map(float, sys.argv[2].split()))
print(f"median: {a:.0f} steps/s without, {b:.0f} with: ratio {b / a:.3f} "
      f"({'ok' if b / a >= 0.97 else 'MISSED'}: bar >= 0.97)")
EOF
