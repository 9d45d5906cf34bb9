#!/usr/bin/env bash
# Benchmark 5: 1000 concurrent clients downloading a 1 MiB image from blynk-server vs.
# nginx (sendfile on, 2 workers, access log off) serving the same file, both measured
# with `wrk -t2 -c1000 -d10s` in one run. Target: >= 1.0x nginx.
# Installs nginx and wrk from Debian's packages when absent.
# Usage: bash bench/downloads.sh [IMAGE_BYTES] [SECONDS]   (default 1048576 10)
source "$(dirname "$0")/lib.sh"
SIZE=${1:-1048576}
SECS=${2:-10}
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk
fi
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
build
LOAD_BEFORE=$(loadavg)
mkdir -p "$BENCH_TMP/www"
IMAGE=$BENCH_TMP/www/fw.bin
sim make-image --out "$IMAGE" --size "$SIZE" --mcu 0.2.0 --build "Dec  5 2026 10:00:00" >/dev/null

# nginx on the same file.
NGINX_PORT=$(free_port)
cat >"$BENCH_TMP/nginx.conf" <<CONF
user root;
worker_processes 2;
pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path $BENCH_TMP/nginx-body;
    proxy_temp_path $BENCH_TMP/nginx-proxy;
    fastcgi_temp_path $BENCH_TMP/nginx-fastcgi;
    uwsgi_temp_path $BENCH_TMP/nginx-uwsgi;
    scgi_temp_path $BENCH_TMP/nginx-scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $BENCH_TMP/www;
    }
}
CONF
nginx -c "$BENCH_TMP/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
wait_port "$NGINX_PORT"
WRK_NGINX="wrk -t2 -c1000 -d${SECS}s http://127.0.0.1:<port>/fw.bin"
wrk -t2 -c1000 -d"${SECS}s" "http://127.0.0.1:$NGINX_PORT/fw.bin" | tee "$BENCH_TMP/wrk-nginx.txt"
kill -QUIT "$NGINX_PID"
wait "$NGINX_PID" 2>/dev/null || true

# blynk-server: publish the image with a deferred campaign for an offline device's user,
# then fetch its shared download path.
start_server downloads
sim run --server "127.0.0.1:$HTTP_PORT" --admin "127.0.0.1:$HTTPS_PORT" --ca "$CA" --create 1 --users 1 \
    --tokens-out "$BENCH_TMP/tokens.txt" --devices 1 --duration 30 >/dev/null
curl -sS --fail-with-body --cacert "$CA" --resolve "localhost:$HTTPS_PORT:127.0.0.1" \
    -u admin@blynk.cc:admin -F "file=@$IMAGE" \
    "https://localhost:$HTTPS_PORT/admin/ota/start?user=sim0@sim.io" >"$BENCH_TMP/start.json"
DL_PATH=$(json "$BENCH_TMP/start.json" "j['firmware']['path']")
curl -sS -o /dev/null -w '%{http_code} %{size_download}\n' "http://127.0.0.1:$HTTP_PORT$DL_PATH"
WRK_OURS="wrk -t2 -c1000 -d${SECS}s http://127.0.0.1:<http.port>$DL_PATH"
wrk -t2 -c1000 -d"${SECS}s" "http://127.0.0.1:$HTTP_PORT$DL_PATH" | tee "$BENCH_TMP/wrk-ours.txt"
stop_server

field() { grep "$2" "$1" | awk '{print $2}'; }
errors() { grep -E 'Socket errors|Non-2xx' "$1" | sed 's/^ *//' | tr '\n' ' ' || true; }
N_RPS=$(field "$BENCH_TMP/wrk-nginx.txt" 'Requests/sec')
O_RPS=$(field "$BENCH_TMP/wrk-ours.txt" 'Requests/sec')
N_TR=$(field "$BENCH_TMP/wrk-nginx.txt" 'Transfer/sec')
O_TR=$(field "$BENCH_TMP/wrk-ours.txt" 'Transfer/sec')
gbps() { awk -v r="$1" -v s="$SIZE" 'BEGIN { printf "%.2f", r * s / 1e9 }'; }
RATIO=$(awk -v a="$O_RPS" -v b="$N_RPS" 'BEGIN { printf "%.2f", a / b }')
VERDICT=$(awk -v r="$RATIO" 'BEGIN { if (r >= 1.0) print "met"; else print "not met" }')
cat >>"$DOC" <<MD

## blynk-sim benchmarks: firmware downloads vs. nginx (issue 8, benchmark 5)

Command: \`bash bench/downloads.sh $SIZE $SECS\` ($(date -u '+%Y-%m-%d %H:%M UTC')). Machine: $(machine_facts).
$(nginx -v 2>&1), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2).
Load average before / after: $LOAD_BEFORE / $(loadavg).

Method: one $SIZE-byte image. nginx 2 workers, \`sendfile on\`, \`tcp_nopush on\`,
access log off, keep-alive, serving the file from a folder; then \`blynk-server\` (release)
serving the same bytes after a \`POST /admin/ota/start?user=...\` stored it, at its shared
download path (\`$DL_PATH\`, plain port). Both measured with \`wrk -t2 -c1000 -d${SECS}s\`
(\`$WRK_NGINX\` and \`$WRK_OURS\`), one after the other in the same script run; wrk and the
server share the 2 cores.

| Server | Requests/s | Transfer/s (wrk) | Image bytes/s | wrk errors |
|---|---|---|---|---|
| nginx | $N_RPS | $N_TR | $(gbps "$N_RPS") GB/s | $(errors "$BENCH_TMP/wrk-nginx.txt") |
| blynk-server | $O_RPS | $O_TR | $(gbps "$O_RPS") GB/s | $(errors "$BENCH_TMP/wrk-ours.txt") |

Ratio blynk-server / nginx: **$RATIO× — target ≥ 1.0×: $VERDICT**.
MD
echo "nginx $N_RPS req/s, ours $O_RPS req/s, ratio $RATIO"
