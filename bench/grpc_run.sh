#!/usr/bin/env bash
# bench/grpc_run.sh: device authentication over gRPC vs REST in the same run,
# and the cost of tracing (on, no exporter) on auth and /healthcheck.
# Load: h2load (Debian nghttp2-client) for both transports, so the client is
# the same program: HTTP/1.1 keep-alive (--h1) for REST, HTTP/2 for gRPC.
# Each figure is the median of BENCH_RUNS (3) runs; the runs alternate
# (REST, gRPC, REST, ... and tracing on, off, on, ...) so background load
# hits both sides alike. SQLite in a temporary data_dir, loopback only.
# Every run also prints the server's CPU per request (utime + stime of the
# tomo process over the run, from /proc, divided by the requests): unlike
# req/s, it holds on a box shared with other work.
#
# Usage: bench/grpc_run.sh
# Environment: TOMO_BIN (build/tomo), BENCH_REQUESTS per run (20000),
#   BENCH_CONNS (16), BENCH_RUNS (3), BENCH_STREAMS (gRPC streams per
#   connection, 1: one call at a time per connection, as REST).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
tomo=${TOMO_BIN:-$repo/build/tomo}
n=${BENCH_REQUESTS:-20000}
conns=${BENCH_CONNS:-16}
runs=${BENCH_RUNS:-3}
streams=${BENCH_STREAMS:-1}
command -v h2load >/dev/null || { echo "grpc_run.sh: needs h2load (apt-get install nghttp2-client)" >&2; exit 2; }
[ -x "$tomo" ] || { echo "grpc_run.sh: no tomo binary at $tomo" >&2; exit 2; }

tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
port=$(freeport); gport=$(freeport); wport=$(freeport); mport=$(freeport); cport=$(freeport)

start() { # start <tracing.enabled>
    "$tomo" serve --data_dir "$tmp/data" --socket.port "$port" --socket.ws_port "$wport" \
        --grpc.port "$gport" --metrics.prometheus_port "$mport" --console.port "$cport" \
        --logger.level warn --tracing.enabled "$1" >"$tmp/tomo.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
        curl -fs "http://127.0.0.1:$port/healthcheck" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "grpc_run.sh: tomo did not start" >&2; cat "$tmp/tomo.log" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null; pid=; }

# The requests: one existing device (created by the first call).
dev=bench-grpc-device-000001
printf '{"id":"%s"}' "$dev" >"$tmp/auth.json"
# AuthenticateDeviceRequest{account{id}, create{true}} with its 5-byte gRPC prefix
python3 - "$dev" "$tmp/auth.grpc" <<'EOF'
import sys
dev = sys.argv[1].encode()
acct = b'\x0a' + bytes([len(dev)]) + dev
msg = b'\x0a' + bytes([len(acct)]) + acct + b'\x12\x02\x08\x01'
open(sys.argv[2], 'wb').write(b'\x00' + len(msg).to_bytes(4, 'big') + msg)
EOF
basic="authorization: Basic $(printf 'defaultkey:' | base64)"

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# us <ticks before> <requests>: server CPU per request in microseconds
us() { echo "$(( ($(ticks) - $1) * 1000000 / hz / $2 ))"; }
rps() { sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p'; }
ok() { sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

rest_auth() {
    h2load --h1 -n "$n" -c "$conns" -d "$tmp/auth.json" -H "$basic" -H 'content-type: application/json' \
        "http://127.0.0.1:$port/v2/account/authenticate/device?create=true" 2>&1
}
grpc_auth() {
    h2load -n "$n" -c "$conns" -m "$streams" -d "$tmp/auth.grpc" -H "$basic" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://127.0.0.1:$gport/nakama.api.Nakama/AuthenticateDevice" 2>&1
}
health() { h2load --h1 -n "$((n * 2))" -c "$conns" "http://127.0.0.1:$port/healthcheck" 2>&1; }

echo "# device auth, REST vs gRPC (h2load, $conns conns, $n requests per run, median of $runs)"
start true
rest_auth >/dev/null # creates the device, warms up
grpc_auth >/dev/null
: >"$tmp/rest" ; : >"$tmp/grpc"
for f in rest grpc rest_us grpc_us; do : >"$tmp/$f"; done
for i in $(seq 1 "$runs"); do
    for t in rest grpc; do
        t0=$(ticks)
        out=$(${t}_auth)
        u=$(us "$t0" "$n")
        echo "$out" | rps >>"$tmp/$t"; echo "$u" >>"$tmp/${t}_us"
        echo "$t run $i: $(echo "$out" | rps) req/s, $(echo "$out" | ok) ok, server CPU $u us/request"
    done
done
stop
echo "| transport | median req/s | median server CPU per request (us) |"
echo "|---|---|---|"
echo "| REST  | $(median <"$tmp/rest") | $(median <"$tmp/rest_us") |"
echo "| gRPC  | $(median <"$tmp/grpc") | $(median <"$tmp/grpc_us") |"

echo
echo "# tracing on (no exporter) vs off: auth (REST) and /healthcheck, median of $runs alternating runs"
for f in on_auth off_auth on_health off_health on_auth_us off_auth_us on_health_us off_health_us; do
    : >"$tmp/$f"
done
for i in $(seq 1 "$runs"); do
    for mode in true false; do
        start "$mode"
        rest_auth >/dev/null
        t0=$(ticks); a=$(rest_auth | rps); au=$(us "$t0" "$n")
        t0=$(ticks); h=$(health | rps); hu=$(us "$t0" "$((n * 2))")
        stop
        tag=$([ "$mode" = true ] && echo on || echo off)
        echo "$a" >>"$tmp/${tag}_auth"; echo "$h" >>"$tmp/${tag}_health"
        echo "$au" >>"$tmp/${tag}_auth_us"; echo "$hu" >>"$tmp/${tag}_health_us"
        echo "run $i tracing $tag: auth $a req/s ($au us CPU each), healthcheck $h req/s ($hu us)"
    done
done
echo "| tracing | auth median req/s | auth CPU us/request | healthcheck median req/s | healthcheck CPU us/request |"
echo "|---|---|---|---|---|"
echo "| on  | $(median <"$tmp/on_auth") | $(median <"$tmp/on_auth_us") | $(median <"$tmp/on_health") | $(median <"$tmp/on_health_us") |"
echo "| off | $(median <"$tmp/off_auth") | $(median <"$tmp/off_auth_us") | $(median <"$tmp/off_health") | $(median <"$tmp/off_health_us") |"
