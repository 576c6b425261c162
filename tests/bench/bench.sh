#!/usr/bin/env bash
# bench.sh - ses-proxy beside nginx as a plain keep-alive reverse proxy.
#
# Run from a fresh clone after
#     cmake -S . -B build && cmake --build build
# (if build/ses-proxy is missing this script runs those two commands itself):
#     tests/bench/bench.sh
#
# Everything runs on loopback, in a temporary directory, without root paths:
#   * nginx #1, the stand-in SES: answers every POST with SES's XML for
#     SetIdentityMailFromDomain (a fixed body);
#   * nginx #2, a plain keep-alive reverse proxy with one worker in front of
#     it (upstream keepalive, proxy_http_version 1.1, Connection "");
#   * ses-proxy (build/ses-proxy) with the throttle lifted, log level warn,
#     AWS_ENDPOINT_URL_SES at the stand-in and throwaway credentials.
# wrk drives nginx #2 and ses-proxy in turn with the same JSON POST
# (post.lua), the same threads/connections/duration, ROUNDS rounds with the
# order alternating; bench_report.py prints req/s, p50 and p99 per round,
# the medians and the ratios ses-proxy / nginx, and the CPU each spent per
# call (user and kernel, from /proc/PID/stat). Then: build/tests/sigv4_bench
# (signatures/s), build/tests/pipeline_bench (CPU per call of each user-space
# stage: JSON parse, validation, serialization, signing, XML to JSON), and
# ses-proxy's resident memory idle and while holding IDLE_CONNS idle client
# connections (hold_conns.py).
#
# A benchmark, never a test: numbers depend on the machine; nothing fails on
# a missed target. Environment (defaults):
#   BUILD_DIR=<repo>/build  THREADS=2  CONNS=64  DURATION=10s  ROUNDS=3
#   WARMUP=2s  IDLE_CONNS=10000  SES_WORKERS=1
#   BENCH_PROFILE=1   also perf record -g ses-proxy during one more wrk run and
#                     print the top of perf report (needs perf)
#   OUTBOX=0          skip the outbox's part: a SendEmail accepted with
#                     Prefer: respond-async (202) by a proxy with the file
#                     store and one with the Redis store (redis-server with
#                     appendonly yes, appendfsync always; skipped without
#                     one), beside the same SendEmail answered synchronously,
#                     ROUNDS rounds each; then the file store's memory and
#                     disk per queued message. The outbox proxies hold no
#                     credentials, so nothing is delivered: the figures are
#                     what accepting costs.
#   BENCH_KEEP=1      keep the temporary directory (logs, wrk outputs)
# Needs nginx, wrk, curl, python3.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2s}
IDLE_CONNS=${IDLE_CONNS:-10000}
SES_WORKERS=${SES_WORKERS:-1}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
PYTHON=${PYTHON:-$(command -v python3 || echo /usr/bin/python3)}

die() { echo "bench.sh: $*" >&2; exit 1; }
for tool in "$NGINX" wrk curl "$PYTHON"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed (apt-get install nginx-light wrk curl python3)"
done

if [ ! -x "$BUILD_DIR/ses-proxy" ] || [ ! -x "$BUILD_DIR/tests/sigv4_bench" ] ||
    [ ! -x "$BUILD_DIR/tests/pipeline_bench" ]; then
    echo "== building into $BUILD_DIR"
    cmake -S "$REPO" -B "$BUILD_DIR" >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null
fi
PROXY_BIN=$BUILD_DIR/ses-proxy

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ses-proxy-bench.XXXXXX")
PIDS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "kept: $TMP"
    else
        rm -rf "$TMP"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Idle connections need descriptors in the proxy and in the holder.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((IDLE_CONNS + 200)) ]; then
    echo "note: RLIMIT_NOFILE is $NOFILE; holding $((NOFILE - 200)) connections instead of $IDLE_CONNS"
    IDLE_CONNS=$((NOFILE - 200))
fi

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
SES_PORT=$(free_port)
NGINX_PORT=$(free_port)
PROXY_PORT=$(free_port)
while [ "$NGINX_PORT" = "$SES_PORT" ]; do NGINX_PORT=$(free_port); done
while [ "$PROXY_PORT" = "$SES_PORT" ] || [ "$PROXY_PORT" = "$NGINX_PORT" ]; do PROXY_PORT=$(free_port); done

SES_XML='<SetIdentityMailFromDomainResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><SetIdentityMailFromDomainResult/><ResponseMetadata><RequestId>f2b2a0c4-1b7e-4c2e-9d7a-3f0e4c1b2a10</RequestId></ResponseMetadata></SetIdentityMailFromDomainResponse>'

nginx_common() { # $1 = dir
    cat <<EOF
daemon off;
master_process on;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 16384; }
EOF
}
http_common() { # $1 = dir
    cat <<EOF
    access_log off;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
EOF
}

mkdir -p "$TMP/ses" "$TMP/front" "$TMP/proxy" "$TMP/out"
{
    echo "worker_processes $SES_WORKERS;"
    nginx_common "$TMP/ses"
    echo "http {"
    http_common "$TMP/ses"
    cat <<EOF
    server {
        listen 127.0.0.1:$SES_PORT;
        location / {
            default_type text/xml;
            return 200 '$SES_XML';
        }
    }
}
EOF
} >"$TMP/ses/nginx.conf"
{
    echo "worker_processes 1;"
    nginx_common "$TMP/front"
    echo "http {"
    http_common "$TMP/front"
    cat <<EOF
    upstream ses {
        server 127.0.0.1:$SES_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://ses;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
} >"$TMP/front/nginx.conf"
cat >"$TMP/proxy/ses-proxy.json" <<EOF
{
  "listen": ["127.0.0.1:$PROXY_PORT"],
  "region": "us-east-1",
  "throttle": {"operations": {"*": {"rate": 1e9, "burst": 1e9}}, "send_rate": 1e9},
  "limits": {"max_connections": $((IDLE_CONNS + 1000))},
  "log": {"level": "warn"}
}
EOF

start_nginx() { # $1 = dir
    "$NGINX" -p "$1" -c "$1/nginx.conf" -e "$1/error.log" >"$1/stdout" 2>&1 &
    PIDS+=($!)
}
start_nginx "$TMP/ses"
start_nginx "$TMP/front"
FRONT_MASTER=$!
env -i PATH=/usr/bin:/bin HOME="$TMP/proxy" \
    AWS_ACCESS_KEY_ID=AKIDBENCHEXAMPLE AWS_SECRET_ACCESS_KEY=bench/secret/not/real/EXAMPLEKEY \
    AWS_REGION=us-east-1 AWS_ENDPOINT_URL_SES="http://127.0.0.1:$SES_PORT" \
    AWS_EC2_METADATA_DISABLED=true \
    "$PROXY_BIN" --config "$TMP/proxy/ses-proxy.json" >"$TMP/proxy/log" 2>&1 &
PROXY_PID=$!
PIDS+=("$PROXY_PID")

BODY='{"Action":"SetIdentityMailFromDomain","Identity":"user@example.com","MailFromDomain":"bounces.example.com","BehaviorOnMXFailure":"UseDefaultValue"}'
wait_up() { # $1 = url, $2 = what
    for _ in $(seq 100); do
        if curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
            --data "$BODY" "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "--- logs ---" >&2
    cat "$TMP"/*/error.log "$TMP/proxy/log" >&2 2>/dev/null || true
    die "$2 did not come up at $1"
}
wait_up "http://127.0.0.1:$SES_PORT/" "the nginx stand-in SES"
wait_up "http://127.0.0.1:$NGINX_PORT/" "nginx (reverse proxy)"
wait_up "http://127.0.0.1:$PROXY_PORT/" "ses-proxy"

ANSWER=$(curl -sS -X POST -H 'Content-Type: application/json' --data "$BODY" "http://127.0.0.1:$PROXY_PORT/")
case "$ANSWER" in
*'"HTTPStatusCode":200'*) ;;
*) die "ses-proxy does not answer 200: $ANSWER" ;;
esac

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
RSS_IDLE=$(rss_kb "$PROXY_PID")
# CPU per call: the user and system time (clock ticks, /proc/PID/stat fields
# 14 and 15) of the process serving the calls, nginx's one worker or
# ses-proxy, before and after each run; bench_report.py divides by the calls.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12, $13}'; }
child_of() { # the first process whose parent is $1
    local f
    for f in /proc/[0-9]*/stat; do
        [ "$(sed 's/^.*) //' "$f" 2>/dev/null | awk '{print $2}')" = "$1" ] &&
            { basename "$(dirname "$f")"; return 0; }
    done
    return 1
}
FRONT_WORKER=$(child_of "$FRONT_MASTER") || die "cannot find nginx's worker process"
echo "$(getconf CLK_TCK)" >"$TMP/out/clk_tck"

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "== wrk -t$THREADS -c$CONNS -d$DURATION --latency, $ROUNDS rounds (warm-up $WARMUP each)"
echo "   nginx     http://127.0.0.1:$NGINX_PORT/  (1 worker, keep-alive upstream)"
echo "   ses-proxy http://127.0.0.1:$PROXY_PORT/  ($("$PROXY_BIN" --version 2>&1 | head -1))"
echo "   stand-in  http://127.0.0.1:$SES_PORT/  (nginx, $SES_WORKERS worker(s), fixed SES XML)"

URL_nginx="http://127.0.0.1:$NGINX_PORT/"
URL_ses_proxy="http://127.0.0.1:$PROXY_PORT/"
run_wrk() { # $1 = name, $2 = duration, $3 = output file (and $3.cpu)
    local url pid
    if [ "$1" = nginx ]; then url=$URL_nginx pid=$FRONT_WORKER; else url=$URL_ses_proxy pid=$PROXY_PID; fi
    local before
    before=$(cpu_ticks "$pid")
    wrk -t"$THREADS" -c"$CONNS" -d"$2" --latency -s "$HERE/post.lua" "$url" >"$3" 2>&1
    echo "$before $(cpu_ticks "$pid")" >"$3.cpu"
}
run_wrk nginx "$WARMUP" "$TMP/out/warm-nginx.txt"
run_wrk ses-proxy "$WARMUP" "$TMP/out/warm-ses-proxy.txt"
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="nginx ses-proxy"; else order="ses-proxy nginx"; fi
    for name in $order; do
        run_wrk "$name" "$DURATION" "$TMP/out/$name-$r.txt"
    done
    echo "   round $r done"
done
echo
"$PYTHON" "$HERE/bench_report.py" "$TMP/out" "$ROUNDS"
if ! kill -0 "$PROXY_PID" 2>/dev/null; then
    die "ses-proxy died during the benchmark: $(tail -5 "$TMP/proxy/log")"
fi
RSS_AFTER=$(rss_kb "$PROXY_PID")

echo
echo "== signing (build/tests/sigv4_bench)"
"$BUILD_DIR/tests/sigv4_bench"
echo
echo "== user-space work per call (build/tests/pipeline_bench)"
"$BUILD_DIR/tests/pipeline_bench"

echo
echo "== ses-proxy resident memory"
"$PYTHON" "$HERE/hold_conns.py" 127.0.0.1 "$PROXY_PORT" "$IDLE_CONNS" >"$TMP/hold.out" 2>&1 &
HOLD_PID=$!
PIDS+=("$HOLD_PID")
for _ in $(seq 600); do
    grep -q '^held' "$TMP/hold.out" 2>/dev/null && break
    kill -0 "$HOLD_PID" 2>/dev/null || break
    sleep 0.1
done
grep -q '^held' "$TMP/hold.out" || die "could not open $IDLE_CONNS connections: $(cat "$TMP/hold.out")"
# wait until the proxy has accepted them all
for _ in $(seq 100); do
    n=$(ls "/proc/$PROXY_PID/fd" | wc -l)
    [ "$n" -ge "$IDLE_CONNS" ] && break
    sleep 0.1
done
sleep 0.5
RSS_CONNS=$(rss_kb "$PROXY_PID")
HELD=$(sed -n 's/^held //p' "$TMP/hold.out")
kill -TERM "$HOLD_PID" 2>/dev/null || true
wait "$HOLD_PID" 2>/dev/null || true
printf '   idle (after start and one call)      %6d kB  (target < 10240 kB)\n' "$RSS_IDLE"
printf '   after the benchmark rounds           %6d kB\n' "$RSS_AFTER"
printf '   holding %5d idle connections       %6d kB  (target < 65536 kB)\n' "$HELD" "$RSS_CONNS"

if [ "${OUTBOX:-1}" = 1 ]; then
    echo
    echo "== the outbox: SendEmail, Prefer: respond-async (202 once on disk and fsync'd, or in Redis)"
    SEND_PORT=$(free_port)
    mkdir -p "$TMP/send" "$TMP/outbox-file" "$TMP/redis"
    SEND_XML='<SendEmailResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><SendEmailResult><MessageId>0100018f-bench-000000</MessageId></SendEmailResult><ResponseMetadata><RequestId>f2b2a0c4-1b7e-4c2e-9d7a-3f0e4c1b2a11</RequestId></ResponseMetadata></SendEmailResponse>'
    {
        echo "worker_processes $SES_WORKERS;"
        nginx_common "$TMP/send"
        echo "http {"
        http_common "$TMP/send"
        cat <<EOF
    server {
        listen 127.0.0.1:$SEND_PORT;
        location / {
            default_type text/xml;
            return 200 '$SEND_XML';
        }
    }
}
EOF
    } >"$TMP/send/nginx.conf"
    start_nginx "$TMP/send"
    # $1 = name, $2 = the "outbox" member ("" for none), $3 = 1 with
    # credentials, $4 = more throttle members
    start_outbox_proxy() {
        local port
        port=$(free_port)
        cat >"$TMP/outbox-$1.json" <<EOF
{
  "listen": ["127.0.0.1:$port"],
  "region": "us-east-1",
  "throttle": {"operations": {"*": {"rate": 1e9, "burst": 1e9}}, "send_rate": 1e9$4},
  "log": {"level": "warn"}$2
}
EOF
        local creds=(AWS_EC2_METADATA_DISABLED=true)
        if [ "$3" = 1 ]; then
            creds+=(AWS_ACCESS_KEY_ID=AKIDBENCHEXAMPLE AWS_SECRET_ACCESS_KEY=bench/secret/not/real/EXAMPLEKEY)
        fi
        env -i PATH=/usr/bin:/bin HOME="$TMP/proxy" "${creds[@]}" \
            AWS_REGION=us-east-1 AWS_ENDPOINT_URL_SES="http://127.0.0.1:$SEND_PORT" \
            "$PROXY_BIN" --config "$TMP/outbox-$1.json" >"$TMP/outbox-$1.log" 2>&1 &
        PIDS+=($!)
        eval "OB_PID_$1=$!"
        eval "OB_URL_$1=http://127.0.0.1:$port/"
        for _ in $(seq 100); do
            curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && return 0
            sleep 0.1
        done
        die "ses-proxy ($1) did not come up: $(tail -5 "$TMP/outbox-$1.log")"
    }
    OB_NAMES="sync file"
    start_outbox_proxy sync "" 1 ""
    LIMITS='"max_messages": 100000000, "max_bytes": 1099511627776'
    start_outbox_proxy file ", \"outbox\": {\"path\": \"$TMP/outbox-file\", $LIMITS}" 0 ""
    if command -v redis-server >/dev/null 2>&1; then
        REDIS_PORT=$(free_port)
        redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly yes \
            --appendfsync always --dir "$TMP/redis" --daemonize no --loglevel warning \
            >"$TMP/redis/log" 2>&1 &
        PIDS+=($!)
        for _ in $(seq 100); do
            (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
            sleep 0.1
        done
        start_outbox_proxy redis ", \"outbox\": {\"store\": \"redis\", $LIMITS}" 0 \
            ", \"redis_url\": \"redis://127.0.0.1:$REDIS_PORT\""
        OB_NAMES="$OB_NAMES redis"
    else
        echo "   (no redis-server: the Redis store is skipped)"
    fi
    ob_wrk() { # $1 = name, $2 = duration, $3 = output
        local url async=1
        eval "url=\$OB_URL_$1"
        [ "$1" = sync ] && async=0
        ASYNC=$async wrk -t"$THREADS" -c"$CONNS" -d"$2" --latency -s "$HERE/send.lua" "$url" \
            >"$3" 2>&1
    }
    RSS_FILE_IDLE=$(rss_kb "$OB_PID_file")
    for name in $OB_NAMES; do
        ob_wrk "$name" "$WARMUP" "$TMP/out/outbox-warm-$name.txt"
        for r in $(seq "$ROUNDS"); do
            ob_wrk "$name" "$DURATION" "$TMP/out/outbox-$name-$r.txt"
        done
        echo "   $name done"
    done
    echo
    "$PYTHON" "$HERE/bench_report.py" --outbox "$TMP/out" "$ROUNDS" $OB_NAMES
    QUEUED=$(curl -fsS "${OB_URL_file}metrics" |
        awk '$1 == "ses_proxy_outbox_messages{status=\"queued\"}" {print $2}')
    RSS_FILE=$(rss_kb "$OB_PID_file")
    DISK=$(du -sb "$TMP/outbox-file" | cut -f1)
    echo
    echo "== the file store holding $QUEUED queued SendEmail messages"
    "$PYTHON" - "$QUEUED" "$RSS_FILE_IDLE" "$RSS_FILE" "$DISK" <<'EOF'
import sys
n, idle, rss, disk = (float(x) for x in sys.argv[1:])
print("   resident memory  %8.0f kB idle, %8.0f kB now: %6.1f bytes per queued message"
      % (idle, rss, (rss - idle) * 1024 / n if n else float("nan")))
print("   disk (outbox.db and its WAL)  %8.1f MB: %6.0f bytes per queued message"
      % (disk / 1e6, disk / n if n else float("nan")))
EOF
fi

if [ "${BENCH_PROFILE:-0}" = 1 ]; then
    command -v perf >/dev/null || die "BENCH_PROFILE=1 needs perf"
    echo
    echo "== perf record (DWARF call graphs, 499 Hz) of ses-proxy during wrk -d$DURATION"
    perf record --call-graph dwarf,16384 -F 499 -o "$TMP/perf.data" -p "$PROXY_PID" \
        >"$TMP/perf.log" 2>&1 &
    PERF_PID=$!
    PIDS+=("$PERF_PID")
    sleep 0.5
    run_wrk ses-proxy "$DURATION" "$TMP/out/profile.txt"
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    grep 'Requests/sec' "$TMP/out/profile.txt" | sed 's/^/   (while profiling) /' || true
    report() { perf report -i "$TMP/perf.data" --stdio "$@" 2>/dev/null | grep -v '^#' | grep -v '^$'; }
    echo "-- self time by shared object"
    report --no-children --sort dso -g none | head -10
    echo "-- self time by symbol (>= 1%)"
    report --no-children --sort dso,symbol -g none --percent-limit 1 | head -30
    echo "-- ses-proxy's own functions, inclusive (children counted, >= 1%)"
    report --children --sort dso,symbol -g none | awk '$3 == "ses-proxy" && $1+0 >= 1' |
        grep -v -e ' main ' -e ' _start ' | head -30
fi
