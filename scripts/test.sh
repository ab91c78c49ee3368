#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, then builds and runs ctest twice: a normal Release build and an
# AddressSanitizer + UndefinedBehaviorSanitizer build. Fails if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)
status=0
for kind in release asan; do
  dir=build; [[ $kind == asan ]] && dir=build-asan
  echo "== $kind build ($dir)"
  scripts/build.sh "$kind" "$dir"
  echo "== $kind tests"
  if ! ctest --test-dir "$dir" --output-on-failure -j "$jobs"; then
    status=1
  fi
done
if ((status != 0)); then
  echo "test.sh: some tests FAILED (see above)" >&2
fi
exit $status
