#!/usr/bin/env bash
# Configures and builds one rumor build folder.
#   scripts/build.sh [release|asan] [DIR]
# release: optimised, portable (-O3, no -march=native), into build/
# asan:    AddressSanitizer + UndefinedBehaviorSanitizer, into build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=${2:-build}; flags=(-DCMAKE_BUILD_TYPE=Release -DRUMOR_TESTS=ON -DRUMOR_SANITIZE=OFF) ;;
  asan)    dir=${2:-build-asan}; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUMOR_TESTS=ON -DRUMOR_SANITIZE=ON) ;;
  *) echo "usage: scripts/build.sh [release|asan] [DIR]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
