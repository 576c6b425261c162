#!/usr/bin/env bash
# Installs what is missing, builds, and runs ses-proxy in the foreground.
# Arguments go to ses-proxy (default: --config conf/ses-proxy.json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ses-proxy
if (($# == 0)); then
  set -- --config conf/ses-proxy.json
fi
exec build/ses-proxy "$@"
