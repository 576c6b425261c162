#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 60) over its corpus.
#   scripts/fuzz.sh [SECONDS] [BUILD_DIR]
# BUILD_DIR must be configured with -DFUZZ=ON and CC=clang (scripts/test.sh
# does this in build-fuzz). New interesting inputs go to a scratch corpus,
# not into the tree; a crash leaves crash-* in BUILD_DIR and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
build=${2:-build-fuzz}
if [[ ! -d "$build" ]]; then
  CC=clang cmake -S . -B "$build" -DFUZZ=ON >/dev/null
  cmake --build "$build" -j"$(nproc)"
fi
status=0
for bin in "$build"/tests/fuzz_*; do
  name=$(basename "$bin")
  parser=${name#fuzz_}
  scratch=$(mktemp -d)
  echo "--- $name (${secs}s)"
  if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$build/" "$scratch" "tests/fuzz/corpus/$parser" \
       2>"$build/$name.log"; then
    tail -40 "$build/$name.log"
    status=1
  fi
  grep -E "^#[0-9]+.*(DONE|pulse)" "$build/$name.log" | tail -1 || true
  rm -rf "$scratch"
done
exit $status
