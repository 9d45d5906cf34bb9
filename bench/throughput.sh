#!/usr/bin/env bash
# Benchmark 2: HARDWARE and PING messages per second through the server, plain and TLS.
# Targets: >= 200k/s plain, >= 100k/s TLS on 2 cores (legacy Java server: 40k / 20k).
# Usage: bash bench/throughput.sh [CONNECTIONS] [SECONDS]   (default 32 connections, 10 s)
source "$(dirname "$0")/lib.sh"
CONNS=${1:-32}
SECS=${2:-10}
BATCH=64
build
LOAD_BEFORE=$(loadavg)
start_server flood "user.message.quota.limit=1000000000"
sim run --server "127.0.0.1:$HTTP_PORT" --admin "127.0.0.1:$HTTPS_PORT" --ca "$CA" \
    --create "$CONNS" --tokens-out "$BENCH_TMP/tokens.txt" --devices 1 --duration 60 >/dev/null
HZ=$(clk_tck)
ROWS=""
declare -A RATE
for transport in plain tls; do
    for kind in hardware ping; do
        if [[ $transport == tls ]]; then
            target=(--tls --server "127.0.0.1:$HTTPS_PORT" --ca "$CA")
        else
            target=(--server "127.0.0.1:$HTTP_PORT")
        fi
        t0=$(cpu_ticks "$SERVER_PID")
        sim run "${target[@]}" --tokens "$BENCH_TMP/tokens.txt" --flood "$kind" --flood-batch "$BATCH" \
            --flood-seconds "$SECS" --duration $((SECS + 30)) --json "$BENCH_TMP/$transport-$kind.json" \
            | tee "$BENCH_TMP/$transport-$kind.txt"
        t1=$(cpu_ticks "$SERVER_PID")
        rate=$(json "$BENCH_TMP/$transport-$kind.json" "'%.0f' % j['flood']['per_second']")
        secs=$(json "$BENCH_TMP/$transport-$kind.json" "'%.2f' % j['elapsed_seconds']")
        cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s="$secs" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / s }')
        RATE[$transport-$kind]=$rate
        if [[ $kind == hardware ]]; then
            what="$BATCH HARDWARE \`vw\` + 1 PING per batch, wait for the PING's OK"
        else
            what="$BATCH PINGs per batch, wait for the $BATCH OKs"
        fi
        ROWS+="| $transport | $kind | $what | **$rate** | $cpu % |"$'\n'
    done
done
stop_server
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v + 0 >= t + 0) print "met"; else print "**not met**" }'; }
cat >>"$DOC" <<MD

## blynk-sim benchmarks: message throughput through the server (issue 8, benchmark 2)

Command: \`bash bench/throughput.sh $CONNS $SECS\` ($(date -u '+%Y-%m-%d %H:%M UTC')). Machine: $(machine_facts).
Load average before / after: $LOAD_BEFORE / $(loadavg).

Method: release \`blynk-server\` with \`user.message.quota.limit=1000000000\` (the default
quota of 100 messages/s per connection would otherwise drop the surplus); $CONNS devices
log in (HW_LOGIN, 1.3+ info), then each pipelines batches through its connection as
fast as the answers come back, for a $SECS s window:
\`blynk-sim run --server <port> [--tls --ca cert.pem] --tokens tokens.txt --flood hardware|ping --flood-batch $BATCH --flood-seconds $SECS\`.
Counted: frames the server has demonstrably processed (a PING answer proves every frame
before it on that connection was handled; HARDWARE is accepted and ignored, as the legacy
server does without a dashboard). The simulator runs on the same 2 cores, so the server
gets roughly half of the machine; "server CPU" is its user + system time over the run,
in % of one core.

| Transport | Frames | One batch | Messages/s through the server | Server CPU |
|---|---|---|---|---|
$ROWS
Targets: plain ≥ 200 000/s — HARDWARE $(verdict "${RATE[plain-hardware]}" 200000), PING $(verdict "${RATE[plain-ping]}" 200000);
TLS ≥ 100 000/s — HARDWARE $(verdict "${RATE[tls-hardware]}" 100000), PING $(verdict "${RATE[tls-ping]}" 100000).
PING costs more than HARDWARE because every answer is its own write (and, over TLS, its
own TLS record): the server writes one frame per write call by design (\`blynklib\`
parses one message per receive).
MD
echo "plain hw ${RATE[plain-hardware]} ping ${RATE[plain-ping]}; tls hw ${RATE[tls-hardware]} ping ${RATE[tls-ping]}"
