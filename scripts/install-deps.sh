#!/usr/bin/env bash
# Installs what ses-proxy needs on Debian 12, and only what is missing.
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --demo   also what scripts/demo.sh needs (Node.js,
#                                    npm, curl)
#   scripts/install-deps.sh --test   also what the test suite needs (that
#                                    includes the demo's, the local SES in
#                                    scripts/demo/node_modules, the JS SDKs in
#                                    tests/integ/js/node_modules; and for
#                                    scripts/image-test.sh: podman, runc
#                                    where crun cannot run containers,
#                                    debootstrap for an offline base)
# Idempotent: a second run installs nothing. Needs root (or sudo) only when
# something is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(build-essential cmake pkg-config libevent-dev libssl-dev libjansson-dev
      libexpat1-dev libhiredis-dev libsqlite3-dev ca-certificates)
want_node=0
case "${1:-}" in
  --test)
    pkgs+=(python3 python3-botocore python3-boto3 python3-pytest python3-yaml
           awscli clang libclang-rt-dev valgrind redis-server nginx-light wrk
           clang-format procps sqlite3
           podman runc debootstrap curl iproute2)
    want_node=1 ;;
  --demo)
    pkgs+=(curl)
    want_node=1 ;;
esac
# Node.js and npm run the local SES (aws-ses-v2-local). A Node.js installed
# some other way (NodeSource's nodejs package carries its own npm) is used as
# it is: asking for Debian's npm beside it would conflict.
if ((want_node)) && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  pkgs+=(nodejs npm)
fi

# The local SES for the demo and its test, from the lock file. Offline-
# friendly: only when it is not there yet, and a failure (no registry) is a
# warning: the demo test then skips and says why.
npm_demo() {
  if ((want_node)) && [[ "${1:-}" == "--test" ]] &&
     [[ ! -f "$root/scripts/demo/node_modules/aws-ses-v2-local/package.json" ]]; then
    echo "installing scripts/demo/node_modules (npm ci)" >&2
    npm ci --prefix "$root/scripts/demo" --no-audit --no-fund --loglevel=error ||
      echo "warning: npm ci --prefix scripts/demo failed; the demo test will skip" >&2
  fi
}

# The real JS SDK clients the integration tests drive (tests/integ/js), from
# their lock file, when missing or older than the lock. Unlike the demo's,
# a failure here fails the install: the tests need them, and CI reaches the
# registry.
npm_test_clients() {
  local js="$root/tests/integ/js"
  if ((want_node)) && [[ "${1:-}" == "--test" ]] &&
     { [[ ! -f "$js/node_modules/.package-lock.json" ]] ||
       [[ "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ]]; }; then
    echo "installing tests/integ/js/node_modules (npm ci)" >&2
    npm ci --prefix "$js" --no-audit --no-fund --loglevel=error
  fi
}

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  npm_demo "${1:-}"
  npm_test_clients "${1:-}"
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
npm_demo "${1:-}"
npm_test_clients "${1:-}"
