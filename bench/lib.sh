#!/usr/bin/env bash
# Shared helpers of the bench/ scripts (sourced, not run). Every script builds the release
# binaries of blynk-server and blynk-sim, runs the server on loopback ports chosen by
# the OS, and appends one section to docs/benchmarks.md with a single `cat >>`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER_BIN=$ROOT/target/release/blynk-server
SIM_BIN=$ROOT/target/release/blynk-sim
BENCH_TMP=$(mktemp -d /tmp/blynk-bench.XXXXXX)
# Where results go (override for a trial run).
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
SERVER_PID=""
trap 'cleanup' EXIT

cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$BENCH_TMP"
}

# Builds the release binaries (skipped with BENCH_NO_BUILD=1, as bench/all.sh does after
# building once; BENCH_COMMIT then names the commit they were built from).
build() {
    if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
        (cd "$ROOT" && cargo build --release -q -p blynk-server -p blynk-sim)
    fi
}

built_commit() {
    local c
    c=${BENCH_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD)}
    if [[ -z "${BENCH_COMMIT:-}" ]] && ! git -C "$ROOT" diff --quiet HEAD -- bins crates 2>/dev/null; then
        c="$c + uncommitted changes"
    fi
    echo "$c"
}

# A TCP port free on 127.0.0.1 right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

machine_facts() {
    local cpu mem
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
    mem=$(awk '/MemTotal/{printf "%.0f", $2/1048576}' /proc/meminfo)
    echo "$cpu, $(nproc) cores, ${mem} GiB RAM, Linux $(uname -r), $(rustc --version | cut -d' ' -f1-2), release profile (thin LTO), commit \`$(built_commit)\`, \`ulimit -n\` $(ulimit -n)"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# start_server NAME [property=value ...]: starts the release server with a fresh data
# folder $BENCH_TMP/NAME/data (or an existing one); sets SERVER_PID, HTTP_PORT,
# HTTPS_PORT, SERVER_DIR, CA.
start_server() {
    local name=$1
    shift
    SERVER_DIR=$BENCH_TMP/$name
    mkdir -p "$SERVER_DIR"
    HTTP_PORT=$(free_port)
    HTTPS_PORT=$(free_port)
    {
        echo "http.port=$HTTP_PORT"
        echo "https.port=$HTTPS_PORT"
        echo "listen.address=127.0.0.1"
        echo "data.folder=$SERVER_DIR/data"
        for p in "$@"; do echo "$p"; done
    } >"$SERVER_DIR/server.properties"
    RUST_LOG=${SERVER_LOG:-warn,blynk_server::server=info} \
        "$SERVER_BIN" --config "$SERVER_DIR/server.properties" >"$SERVER_DIR/server.log" 2>&1 &
    SERVER_PID=$!
    wait_port "$HTTPS_PORT"
    CA=$SERVER_DIR/data/tls/cert.pem
}

stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

wait_port() {
    for _ in $(seq 1 1000); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.01
    done
    echo "port $1 did not open" >&2
    return 1
}

# CPU time (user + system) of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk_tck() { getconf CLK_TCK; }
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }

# json FILE EXPR: evaluates a Python expression over the JSON document `j`.
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# The server's own start-up line about its connection cap.
cap_line() { grep -m1 'connection limit' "$SERVER_DIR/server.log" | sed 's/\x1b\[[0-9;]*m//g' | sed 's/^.*INFO //' || true; }

sim() { "$SIM_BIN" "$@"; }

# The kernel's count of connections dropped because a listen queue was full (all sockets
# of this network namespace).
listen_overflows() {
    awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else { for (i = 1; i <= NF; i++) if (n[i] == "ListenOverflows") print $i } }' /proc/net/netstat
}
