#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: installs what is missing,
# builds rumor (Release), and trains on Fashion-MNIST across 4 real peers on
# this machine: four `rumor node` processes on 127.0.0.1 with fresh keys and
# one allow-list, each on its shard, gossiping over encrypted channels with
# no master. Extra arguments go to `rumor cluster` (e.g. --peers 8).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh release
echo
echo "== rumor cluster: 4 peers gossip-training mlp:784-128-10 on Fashion-MNIST shards"
build/rumor cluster --peers 4 --dir out/demo "$@"
echo
echo "Next: build/rumor train (one peer, the baseline); build/rumor sim"
echo "examples/scenarios/flaky-wan.ini (32 simulated peers under faults); docs/."
