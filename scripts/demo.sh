#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: installs what is missing,
# builds rumor (Release), and trains on Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh release
echo
echo "== rumor train: Fashion-MNIST, default recipe, 1 thread"
build/rumor train --data fashion-mnist "$@"
