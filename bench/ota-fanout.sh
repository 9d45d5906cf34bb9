#!/usr/bin/env bash
# Benchmark 4: OTA fan-out. 10k simulated ESP8266 devices, a deferred "all" campaign with
# a 1 MiB image, then a reconnect storm: time until every device is Updated, compared
# with the time the bytes alone take on loopback (same download client, trivial
# in-memory HTTP server). Target: <= 1.2x; zero devices updated twice or lost.
# Usage: bash bench/ota-fanout.sh [DEVICES] [IMAGE_BYTES]   (default 10000 1048576)
source "$(dirname "$0")/lib.sh"
N=${1:-10000}
SIZE=${2:-1048576}
build
LOAD_BEFORE=$(loadavg)
IMAGE=$BENCH_TMP/fw-0.2.0.bin
sim make-image --out "$IMAGE" --size "$SIZE" --mcu 0.2.0 --build "Dec  5 2026 10:00:00" >/dev/null

start_server fanout
sim run --server "127.0.0.1:$HTTP_PORT" --admin "127.0.0.1:$HTTPS_PORT" --ca "$CA" \
    --create "$N" --users 100 --tokens-out "$BENCH_TMP/tokens.txt" --devices 1 --duration 600 >/dev/null
OVF0=$(listen_overflows)
CMD="blynk-sim run --server 127.0.0.1:<http.port> --admin 127.0.0.1:<https.port> --ca cert.pem --tokens tokens.txt --heartbeat 60 --spread 16 --campaign-image fw-0.2.0.bin --storm --until-settled --reboot-delay-ms 0 --duration 600"
sim run --server "127.0.0.1:$HTTP_PORT" --admin "127.0.0.1:$HTTPS_PORT" --ca "$CA" --tokens "$BENCH_TMP/tokens.txt" \
    --heartbeat 60 --spread 16 --campaign-image "$IMAGE" --storm --until-settled --reboot-delay-ms 0 \
    --duration 600 --json "$BENCH_TMP/fanout.json" | tee "$BENCH_TMP/fanout.txt"
OVF1=$(listen_overflows)
stop_server
BASE_CONC=5000
sim baseline --image "$IMAGE" --downloads "$N" --concurrency "$BASE_CONC" --spread 16 \
    --json "$BENCH_TMP/baseline.json" | tee "$BENCH_TMP/baseline.txt"

J=$BENCH_TMP/fanout.json
B=$BENCH_TMP/baseline.json
FAN=$(json "$J" "'%.2f' % (j['seconds_to_all_updated'] or 0)")
BASE=$(json "$B" "'%.2f' % j['seconds']")
RATIO=$(awk -v f="$FAN" -v b="$BASE" 'BEGIN { printf "%.2f", f / b }')
VERDICT=$(awk -v r="$RATIO" 'BEGIN { if (r <= 1.2) print "met"; else print "not met" }')
UPDATED=$(json "$J" "j['outcomes'].get('updated', 0)")
OTHER=$(json "$J" "{k: v for k, v in j['outcomes'].items() if k != 'updated'}")
CMDS=$(json "$J" "j['commands_per_device']")
SERVER=$(json "$J" "j['server_campaign']")
DELIVERY=$(json "$J" "'p50 %.1f ms, p99 %.1f ms, max %.1f ms' % (j['ota_delivery_ms']['p50'], j['ota_delivery_ms']['p99'], j['ota_delivery_ms']['max'])")
STORM=$(json "$J" "'%d in %.2f s' % (j['storm']['count'], j['storm']['seconds']) if j['storm'] else '-'")
BYTES=$(json "$J" "j['bytes_downloaded']")
GBPS=$(awk -v b="$BYTES" -v s="$FAN" 'BEGIN { printf "%.2f", b / s / 1e9 }')
BASE_GBPS=$(json "$B" "'%.2f' % (j['bytes_per_second'] / 1e9)")
DLFAIL=$(json "$J" "', '.join('%d × %s' % (v, k) for k, v in j['download_failure_reasons'].items()) or 'none'")
TWICE=$(json "$J" "sum(v for k, v in j['commands_per_device'].items() if int(k) > 1)")
LOST=$(json "$J" "$N - j['outcomes'].get('updated', 0)")
cat >>"$DOC" <<MD

## blynk-sim benchmarks: OTA fan-out to $N devices (issue 8, benchmark 4)

Command: \`bash bench/ota-fanout.sh $N $SIZE\` ($(date -u '+%Y-%m-%d %H:%M UTC')). Machine: $(machine_facts).
Load average before / after: $LOAD_BEFORE / $(loadavg).

Method: $N devices registered through the admin API, all connected over plain TCP
(HW_LOGIN, 1.3+ info, build \`Dec  4 2026 14:51:12\`); \`POST /admin/ota/start\` with no
target (every device, deferred: online devices are not notified) uploads a $SIZE-byte
ESP8266 image tagged \`build Dec  5 2026 10:00:00\`; right after, every device drops its
connection and reconnects at once. Each gets the command after its info message,
disconnects, downloads its per-device URL like the ESP8266 updater (HTTP/1.0, MD5 and tag
checked), "reboots" at once (\`--reboot-delay-ms 0\`) and logs in with the new build. The
clock runs from the start request to the last device reporting the new build. Run:
\`$CMD\`.
Bytes-alone reference: \`blynk-sim baseline --image fw-0.2.0.bin --downloads $N --concurrency $BASE_CONC --spread 16\`
(the same client, the image written from memory by a trivial HTTP server in the same
process, $BASE_CONC downloads in flight: the fd limit of one process holds both ends).

| Measure | Result |
|---|---|
| campaign start → every device updated | **$FAN s** ($GBPS GB/s of image bytes) |
| bytes alone on loopback ($N × $SIZE B) | $BASE s ($BASE_GBPS GB/s) |
| ratio (target ≤ 1.2×) | **$RATIO× — $VERDICT** |
| devices updated (simulator) | $UPDATED; other outcomes: $OTHER |
| OTA commands per device | $CMDS — devices commanded twice: $TWICE |
| devices not updated (lost or failed) | $LOST |
| failed download attempts by reason | $DLFAIL |
| server's campaign status at the end | $SERVER |
| reconnect storm (logins + info) | $STORM |
| kernel \`ListenOverflows\` during the run (SYNs dropped: accept queue full) | $((OVF1 - OVF0)) |
| OTA command delivery (info sent → command received) | $DELIVERY |

Simulator, server and the reference all run on the same 2 cores; the reference has no
Blynk sessions, no logins, no campaign bookkeeping in SQLite and no per-device URLs: it is
the time the bytes alone take through loopback and the same client.
MD
echo "fan-out $FAN s vs bytes alone $BASE s: ratio $RATIO"
