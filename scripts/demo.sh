#!/usr/bin/env bash
# The local demo: ses-proxy in front of a local SES, no AWS account needed.
#
#   scripts/demo.sh            install what is missing, build, start a local
#                              SES (aws-ses-v2-local) and ses-proxy, send two
#                              mails through the proxy (an SES v1 SendEmail and
#                              an SES v2 one), then keep the proxy in the
#                              foreground (Ctrl-C stops both)
#   scripts/demo.sh --once     the same, but stop after the mails are sent
#
# Environment:
#   DEMO_LISTEN    where ses-proxy listens   (default 127.0.0.1:8080)
#   DEMO_SES_PORT  the local SES's port      (default 8005)
#   DEMO_BUILD_DIR the build directory       (default build)
#   DEMO_PROXY_BIN a ses-proxy binary to run instead of building one
#                  (absolute, or relative to the repository)
#
# The credentials below are throwaway: aws-ses-v2-local accepts any
# signature. The mails are not delivered anywhere; the emulator keeps them,
# and its web page shows them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

once=0
case "${1:-}" in
  --once) once=1 ;;
  "") ;;
  -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/demo.sh [--once]" >&2; exit 2 ;;
esac

listen=${DEMO_LISTEN:-127.0.0.1:8080}
ses_port=${DEMO_SES_PORT:-8005}
build=${DEMO_BUILD_DIR:-build}
proxy_bin=${DEMO_PROXY_BIN:-}
proxy_url="http://$listen"
ses_url="http://127.0.0.1:$ses_port"

if [[ -t 2 ]]; then
  say() { printf '\033[1mdemo:\033[0m %s\n' "$*" >&2; }
else
  say() { printf 'demo: %s\n' "$*" >&2; }
fi
die() { say "$*"; exit 1; }

# --- what the demo needs ---------------------------------------------------
scripts/install-deps.sh --demo
if [[ -z "$proxy_bin" ]]; then
  say "building ses-proxy in $build/"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target ses-proxy >/dev/null
  proxy_bin="$build/ses-proxy"
fi
[[ -x "$proxy_bin" ]] || die "$proxy_bin is not an executable"
emulator_pkg="$root/scripts/demo/node_modules/aws-ses-v2-local"
if [[ ! -f "$emulator_pkg/package.json" ]]; then
  say "installing aws-ses-v2-local (pinned in scripts/demo/package-lock.json)"
  npm ci --prefix scripts/demo --no-audit --no-fund --loglevel=error
fi

for port in "${listen##*:}" "$ses_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use; set DEMO_LISTEN / DEMO_SES_PORT"
  fi
done

# --- start both; stop both on the way out ------------------------------------
tmp=$(mktemp -d)
emu_pid=""
proxy_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [[ -n "$proxy_pid" ]] && kill -0 "$proxy_pid" 2>/dev/null; then
    kill -TERM "$proxy_pid" 2>/dev/null || true   # drains, then exits 0
    wait "$proxy_pid" 2>/dev/null || true
  fi
  if [[ -n "$emu_pid" ]] && kill -0 "$emu_pid" 2>/dev/null; then
    kill -TERM "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_http() {   # url seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if curl -fs -o /dev/null "$1"; then return 0; fi
    sleep 0.1
  done
  return 1
}

say "starting the local SES (aws-ses-v2-local) on $ses_url"
# Started through its library entry rather than its CLI: the CLI's argument
# parser (yargs 18) needs Node.js 20.19 or later, Debian 12 ships 18.
node -e '
  const [pkg, port] = process.argv.slice(1);
  require(pkg).default({host: "127.0.0.1", port: Number(port)})
    .then(() => console.log("aws-ses-v2-local: listening on http://127.0.0.1:" + port))
    .catch((e) => { console.error(e); process.exit(1); });
' "$emulator_pkg" "$ses_port" >"$tmp/ses.log" 2>&1 &
emu_pid=$!
wait_http "$ses_url/health-check" 20 || { cat "$tmp/ses.log" >&2; die "the local SES did not start"; }

# aws-ses-v2-local implements only the sending calls (of SES v1, and of SES
# v2 with a few template calls; it never answers the others), so: a numeric
# send rate instead of "auto" (which would call GetSendQuota), a policy that
# allows the sending calls only (the rest get 403 AccessDenied at once), and
# a short upstream timeout.
cat >"$tmp/ses-proxy.json" <<EOF
{
  "listen": ["$listen"],
  "region": "us-east-1",
  "upstream": {"timeout_ms": 5000},
  "throttle": {"send_rate": 14},
  "policy": {"allow_actions": ["SendEmail", "SendRawEmail", "v2:SendEmail"]},
  "log": {"level": "info"}
}
EOF

say "starting ses-proxy on $proxy_url (logs: JSON lines below)"
env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL \
    -u AWS_WEB_IDENTITY_TOKEN_FILE -u AWS_ROLE_ARN \
    -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -u AWS_CONTAINER_CREDENTIALS_FULL_URI \
    AWS_ENDPOINT_URL_SES="$ses_url" AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE \
    AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
    AWS_EC2_METADATA_DISABLED=true \
    "$proxy_bin" --config "$tmp/ses-proxy.json" &
proxy_pid=$!
wait_http "$proxy_url/healthz" 10 || die "ses-proxy did not start"

# post PATH JSON: one JSON call through the proxy, its answer printed;
# fails the demo unless it is 200.
post() {
  local answer status body
  answer=$(curl -s -w '\n%{http_code}' "$proxy_url$1" -H 'Content-Type: application/json' -d "$2")
  status=${answer##*$'\n'}
  body=${answer%$'\n'*}
  say "the proxy answered HTTP $status:"
  printf '%s\n' "$body"
  [[ "$status" == 200 ]] || die "the call to $1 failed"
}

mail='{
  "Action": "SendEmail",
  "Source": "sender@example.com",
  "Destination": {"ToAddresses": ["recipient@example.com"]},
  "Message": {
    "Subject": {"Data": "Hello from ses-proxy"},
    "Body": {"Text": {"Data": "This mail went through ses-proxy, signed with SigV4, to a local SES."},
             "Html": {"Data": "<p>This mail went through <b>ses-proxy</b>, signed with SigV4, to a local SES.</p>"}}
  }
}'
say "sending an SES v1 SendEmail through the proxy:"
printf '  curl -s %s/ -H '"'"'Content-Type: application/json'"'"' -d '"'"'{"Action": "SendEmail", ...}'"'"'\n' "$proxy_url" >&2
post / "$mail"

mail_v2='{
  "FromEmailAddress": "sender@example.com",
  "Destination": {"ToAddresses": ["recipient@example.com"]},
  "Content": {"Simple": {
    "Subject": {"Data": "Hello from ses-proxy (SES v2)"},
    "Body": {"Text": {"Data": "This mail went through ses-proxy as an SES v2 SendEmail, signed with SigV4, to a local SES."},
             "Html": {"Data": "<p>This mail went through <b>ses-proxy</b> as an SES v2 SendEmail, signed with SigV4, to a local SES.</p>"}}
  }}
}'
say "sending an SES v2 SendEmail through the proxy:"
printf '  curl -s %s/v2/SendEmail -H '"'"'Content-Type: application/json'"'"' -d '"'"'{"FromEmailAddress": ..., "Content": ...}'"'"'\n' "$proxy_url" >&2
post /v2/SendEmail "$mail_v2"
say "see the mails at $ses_url/ (the emulator's web page; JSON at $ses_url/store)"

if ((once)); then
  exit 0
fi
say "ses-proxy keeps running on $proxy_url; Ctrl-C stops it and the local SES"
set +e
wait "$proxy_pid"
rc=$?
proxy_pid=""
exit "$rc"
