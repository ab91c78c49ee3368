#!/usr/bin/env bash
# The secure channel's cost and a node's memory, against the issue's bars.
#
#   bench/node_bench.sh            (RUMOR_BUILD=DIR: binaries from DIR, default build)
# 1. bench_channel: in memory, one core, libsodium's secretstream, AES-256-GCM
#    and ChaCha20-Poly1305 sealing and opening 400 KB messages; then over TCP
#    on 127.0.0.1: plain throughput of 400 KB frames and, for each cipher the
#    channel runs here, the same frames through an rm_chan pair and their
#    ratio to plain (bar: >= 0.5), and the push-pull of a 100k-parameter
#    model (400 KB each way), median and p99 (bar: < 3 ms).
# 2. `rumor node`s (mlp:784-128-10, Fashion-MNIST) gossiping on 127.0.0.1
#    for a short run, 2 of them (shards 0/2, 1/2), then 4 (shards i/4):
#    each one's peak RSS against 32 MB + its shard's uint8 pixels
#    (rows x 784 bytes).
# Builds nothing: needs a Release build and /usr/bin/time (Debian's `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RUMOR_BUILD:-build}
py=/usr/bin/python3
jget() { $py -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1]).get('$1', ''))"; }
pass() { $py -c "print('ok' if $1 else 'MISSED')"; }

json=$("$build/bench/bench_channel" 1000 200)
echo "$json"
plain=$(jget plain_gb_per_s <<<"$json")
printf 'in memory, one core, libsodium alone, 400 KB messages (GB/s, seal / open):\n'
for p in secretstream aes256gcm chacha20poly1305; do
  printf '  %-17s %.2f / %.2f\n' "$p" "$(jget mem_${p}_seal <<<"$json")" "$(jget mem_${p}_open <<<"$json")"
done
aes=$(jget mem_aes256gcm_seal <<<"$json")
sst=$(jget mem_secretstream_seal <<<"$json")
printf '  AES-256-GCM seals %.2fx as fast as secretstream\n' "$($py -c "print($aes / $sst if $sst else 0)")"
printf 'plain TCP, 400 KB frames: %.2f GB/s\n' "$plain"
for c in secretstream aes256gcm; do
  enc=$(jget ${c}_enc_gb_per_s <<<"$json")
  [[ -n $enc ]] || { echo "channel with $c: not run (no AES-NI here)"; continue; }
  ratio=$(jget ${c}_enc_ratio <<<"$json")
  p99=$(jget ${c}_exchange_ms_p99 <<<"$json")
  printf 'channel with %s: in memory seal %.2f, open %.2f GB/s; over TCP %.2f GB/s = ratio %.2f to plain TCP (bar >= 0.5: %s); push-pull 400 KB each way: median %.2f ms, p99 %.2f ms (bar < 3 ms: %s)\n' \
    "$c" "$(jget ${c}_seal_gb_per_s <<<"$json")" "$(jget ${c}_open_gb_per_s <<<"$json")" \
    "$enc" "$ratio" "$(pass "$ratio >= 0.5")" "$(jget ${c}_exchange_ms_median <<<"$json")" \
    "$p99" "$(pass "$p99 < 3")"
done
printf 'two nodes agree on: %s\n' "$(jget cipher <<<"$json")"

# N nodes on free ports, each allowing the others; node i seeds from node 0.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run_nodes() {
  local n=$1 ports pids=() i
  rm -f "$tmp"/*
  for ((i = 0; i < n; i++)); do
    "$build/rumor" keygen --out "$tmp/k$i.key" 2>/dev/null | head -1 >"$tmp/k$i.pub"
  done
  cat "$tmp"/k*.pub >"$tmp/allow"
  read -r -a ports < <($py -c "
import socket
ss = [socket.socket() for _ in range($n)]
for s in ss: s.bind(('127.0.0.1', 0))
print(*[s.getsockname()[1] for s in ss])")
  local common=(--allow "$tmp/allow" --model mlp:784-128-10 --steps 2000 --status 0 --json
                --max-seconds 20 --linger 1)
  for ((i = 0; i < n; i++)); do
    local seed=()
    ((i == 0)) || seed=(--seed-peer "$(cat "$tmp/k0.pub")@127.0.0.1:${ports[0]}")
    /usr/bin/time -f 'rss_kb %M' -o "$tmp/n$i.rss" "$build/rumor" node \
      --listen "127.0.0.1:${ports[i]}" --key "$tmp/k$i.key" --shard "$i/$n" "${seed[@]}" \
      "${common[@]}" >"$tmp/n$i.log" 2>&1 &
    pids+=($!)
  done
  for ((i = 0; i < n; i++)); do
    wait "${pids[i]}" || { echo "node $i of $n failed:"; cat "$tmp/n$i.log"; exit 1; }
  done
  for ((i = 0; i < n; i++)); do
    local rows rss_kb njson
    rows=$(grep -o '([0-9]* rows)' "$tmp/n$i.log" | head -1 | tr -dc 0-9)
    rss_kb=$(grep -o 'rss_kb [0-9]*' "$tmp/n$i.rss" | cut -d' ' -f2)
    njson=$(grep '^{' "$tmp/n$i.log" | tail -1)
    printf '%d nodes, node %d: %s steps, %s exchanges, test %.2f%%, %.1f s; peak RSS %.1f MB vs 32 MB + %d rows x 784 B = %.1f MB: %.2fx (bar <= 1: %s)\n' \
      "$n" "$i" "$(jget steps <<<"$njson")" "$(jget exchanges_done <<<"$njson")" \
      "$($py -c "print(100 * $(jget test_accuracy <<<"$njson"))")" "$(jget seconds <<<"$njson")" \
      "$($py -c "print($rss_kb * 1024 / 1e6)")" "$rows" "$($py -c "print(32 + $rows * 784 / 1e6)")" \
      "$($py -c "print($rss_kb * 1024 / 1e6 / (32 + $rows * 784 / 1e6))")" \
      "$(pass "$rss_kb * 1024 / 1e6 <= 32 + $rows * 784 / 1e6")"
  done
}
run_nodes 2
run_nodes 4
