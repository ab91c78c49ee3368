#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into build-fuzz/ and
# runs one of them, in one job.
#   scripts/fuzz.sh [NAME] [SECONDS] [libFuzzer flags...]
# NAME picks fuzz/fuzz_NAME.c (default: wire); SECONDS defaults to 60. The
# corpus lives in build-fuzz/corpus/NAME and grows from run to run; when it
# is empty, fuzz/gen_NAME_seeds.c (if there is one) seeds it with valid
# inputs, and so do the project's own files of that kind (scenario:
# examples/scenarios/*.ini). fuzz/NAME.dict, if there is one, is passed as
# -dict. A crashing input is written to build-fuzz/crashes/NAME/ and the
# script fails; rerun it with: build-fuzz/fuzz/fuzz_NAME FILE
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-wire}
secs=${2:-60}
shift $(($# < 2 ? $# : 2))
dir=${RUMOR_FUZZ_BUILD:-build-fuzz}   # another folder: RUMOR_FUZZ_BUILD=DIR
[[ -f fuzz/fuzz_$name.c ]] || { echo "fuzz.sh: no fuzz/fuzz_$name.c" >&2; exit 2; }

targets=(fuzz_"$name")
gen=""
if [[ -f fuzz/gen_${name}_seeds.c ]]; then
  gen=$dir/fuzz/gen_${name}_seeds
  targets+=(gen_"${name}"_seeds)
fi
CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRUMOR_FUZZ=ON -DRUMOR_TESTS=OFF -DRUMOR_SANITIZE=OFF >/dev/null
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"

corpus=$dir/corpus/$name
crashes=$dir/crashes/$name
mkdir -p "$corpus" "$crashes"
seed_files=()
case $name in
  scenario) seed_files=(examples/scenarios/*.ini) ;;
esac
if [[ -z "$(ls -A "$corpus")" ]]; then
  [[ -z $gen ]] || "$gen" "$corpus"
  [[ ${#seed_files[@]} -eq 0 ]] || cp "${seed_files[@]}" "$corpus/"
fi
dict=()
[[ ! -f fuzz/$name.dict ]] || dict=(-dict="fuzz/$name.dict")
echo "fuzz.sh: fuzz_$name for ${secs}s, corpus $corpus"
exec "$dir/fuzz/fuzz_$name" -max_total_time="$secs" -print_final_stats=1 \
  -artifact_prefix="$crashes/" "${dict[@]}" "$@" "$corpus"
