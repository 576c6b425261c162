#!/usr/bin/env bash
# Installs what ses-proxy needs on Debian 12, and only what is missing.
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also what the test suite needs
# Idempotent: a second run installs nothing. Needs root (or sudo) only when
# something is missing.
set -euo pipefail

pkgs=(build-essential cmake pkg-config libevent-dev libssl-dev libjansson-dev
      libexpat1-dev libhiredis-dev ca-certificates)
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(python3 python3-botocore python3-boto3 python3-pytest awscli clang
         libclang-rt-dev valgrind redis-server nginx-light wrk clang-format procps)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
sudo=""
if [[ $(id -u) != 0 ]]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
