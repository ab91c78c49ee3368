#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: installs what is missing,
# builds rumor (Release), and trains on Fashion-MNIST across 16 peers with no
# master (the real gossip core and learners, in the simulator's virtual time
# until real multi-process clusters land), then prints where the metrics are.
# Extra arguments go to `rumor sim` (e.g. --seed 7, --plot).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh release
echo
echo "== rumor sim: 16 peers gossip-training mlp:784-128-10 on Fashion-MNIST shards"
build/rumor sim examples/scenarios/iid-16.ini --out out/demo "$@"
echo
echo "Next: build/rumor train (one peer, the baseline), build/rumor sim"
echo "examples/scenarios/flaky-wan.ini (faults), docs/SCENARIOS.md."
