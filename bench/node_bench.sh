#!/usr/bin/env bash
# The secure channel's cost and a node's memory, against the issue's bars.
#
#   bench/node_bench.sh
# 1. bench_channel over TCP on 127.0.0.1: plain throughput of 400 KB
#    frames, the same through an rm_chan pair, and their ratio (bar: >= 0.5);
#    the in-memory sealing rate of one core, for scale; the push-pull of a
#    100k-parameter model (400 KB each way) over the channel, median and p99
#    (bar: < 3 ms).
# 2. Two `rumor node`s (mlp:784-128-10, Fashion-MNIST, shards 0/2 and 1/2)
#    gossiping on 127.0.0.1 for a short run: each one's peak RSS against
#    32 MB + its shard's uint8 pixels (rows x 784 bytes).
# Builds nothing: needs a Release build in build/ and /usr/bin/time
# (Debian's `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
jget() { $py -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }

json=$(build/bench/bench_channel 1000 200)
echo "$json"
plain=$(jget plain_gb_per_s <<<"$json")
enc=$(jget enc_gb_per_s <<<"$json")
ratio=$(jget enc_ratio <<<"$json")
seal=$(jget seal_gb_per_s <<<"$json")
med=$(jget exchange_ms_median <<<"$json")
p99=$(jget exchange_ms_p99 <<<"$json")
pass() { $py -c "print('ok' if $1 else 'MISSED')"; }
printf 'throughput, 400 KB frames: plain TCP %.2f GB/s, encrypted %.2f GB/s: ratio %.2f (bar >= 0.5: %s)\n' \
  "$plain" "$enc" "$ratio" "$(pass "$ratio >= 0.5")"
printf 'one core sealing in memory (rm_chan_send + poll_out, no socket): %.2f GB/s = %.2f of plain TCP\n' \
  "$seal" "$($py -c "print($seal / $plain)")"
printf 'push-pull of 400 KB each way, 200 exchanges: median %.2f ms, p99 %.2f ms (bar < 3 ms: %s)\n' \
  "$med" "$p99" "$(pass "$p99 < 3")"

# Two nodes on free ports, each allowing the other.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ka=$(build/rumor keygen --out "$tmp/a.key" 2>/dev/null | head -1)
kb=$(build/rumor keygen --out "$tmp/b.key" 2>/dev/null | head -1)
printf '%s\n%s\n' "$ka" "$kb" >"$tmp/allow"
read -r pa pb < <($py -c "
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(('127.0.0.1', 0))
print(*[s.getsockname()[1] for s in ss])")
common=(--allow "$tmp/allow" --model mlp:784-128-10 --steps 2000 --status 0 --json
        --max-seconds 20 --linger 1)
/usr/bin/time -f 'rss_kb %M' -o "$tmp/a.rss" build/rumor node --listen "127.0.0.1:$pa" \
  --key "$tmp/a.key" --shard 0/2 "${common[@]}" >"$tmp/a.log" 2>&1 &
pid_a=$!
/usr/bin/time -f 'rss_kb %M' -o "$tmp/b.rss" build/rumor node --listen "127.0.0.1:$pb" \
  --key "$tmp/b.key" --shard 1/2 --seed-peer "$ka@127.0.0.1:$pa" "${common[@]}" \
  >"$tmp/b.log" 2>&1 &
pid_b=$!
wait "$pid_a" || { echo "node a failed:"; cat "$tmp/a.log"; exit 1; }
wait "$pid_b" || { echo "node b failed:"; cat "$tmp/b.log"; exit 1; }
for n in a b; do
  rows=$(grep -o '([0-9]* rows)' "$tmp/$n.log" | head -1 | tr -dc 0-9)
  rss_kb=$(grep -o 'rss_kb [0-9]*' "$tmp/$n.rss" | cut -d' ' -f2)
  njson=$(grep '^{' "$tmp/$n.log" | tail -1)
  printf 'node %s: %s steps, %s exchanges, test %.2f%%, %.1f s; peak RSS %.1f MB vs 32 MB + %d rows x 784 B = %.1f MB: %.2fx\n' \
    "$n" "$(jget steps <<<"$njson")" "$(jget exchanges_done <<<"$njson")" \
    "$($py -c "print(100 * $(jget test_accuracy <<<"$njson"))")" "$(jget seconds <<<"$njson")" \
    "$($py -c "print($rss_kb * 1024 / 1e6)")" "$rows" "$($py -c "print(32 + $rows * 784 / 1e6)")" \
    "$($py -c "print($rss_kb * 1024 / 1e6 / (32 + $rows * 784 / 1e6))")"
done
