#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 60) over its corpus,
# as many at once as there are cores.
#   scripts/fuzz.sh [SECONDS] [BUILD_DIR] [TARGET...]
# BUILD_DIR must be configured with -DFUZZ=ON and CC=clang (scripts/test.sh
# does this in build-fuzz). TARGETs (e.g. fuzz_mailbox) pick some; none:
# all. New interesting inputs go to a scratch corpus, not into the tree; a
# crash leaves crash-* in BUILD_DIR and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
build=${2:-build-fuzz}
shift $(($# > 2 ? 2 : $#))
if [[ ! -d "$build" ]]; then
  CC=clang cmake -S . -B "$build" -DFUZZ=ON >/dev/null
  cmake --build "$build" -j"$(nproc)"
fi
bins=()
if (($# > 0)); then
  for t in "$@"; do bins+=("$build/tests/$t"); done
else
  bins=("$build"/tests/fuzz_*)
fi

# One target; its verdict goes to $build/<name>.status.
run_one() {
  local bin=$1 name parser scratch rc=0
  name=$(basename "$bin")
  parser=${name#fuzz_}
  scratch=$(mktemp -d)
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build/" "$scratch" "tests/fuzz/corpus/$parser" \
    2>"$build/$name.log" || rc=$?
  rm -rf "$scratch"
  echo "$rc" >"$build/$name.status"
}

jobs_max=$(nproc)
for bin in "${bins[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs_max)); do
    wait -n || true
  done
  run_one "$bin" &
done
wait

status=0
for bin in "${bins[@]}"; do
  name=$(basename "$bin")
  rc=$(cat "$build/$name.status" 2>/dev/null || echo 1)
  echo "--- $name (${secs}s): $( ((rc == 0)) && echo ok || echo FAILED)"
  if ((rc != 0)); then
    tail -40 "$build/$name.log"
    status=1
  fi
  grep -E "^#[0-9]+.*(DONE|pulse)" "$build/$name.log" | tail -1 || true
done
exit $status
