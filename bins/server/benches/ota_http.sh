#!/bin/sh
# OTA over HTTP with the release binary: upload a 16 MiB image through the admin API
# (token target, one raw device online), then download the device's URL with curl, once
# at a time and 8 in parallel, printing timings and the server's peak RSS (VmHWM) to show
# that neither the upload nor the downloads hold the image in memory.
# Run from the workspace root after `cargo build --release -p blynk-server`:
#   sh bins/server/benches/ota_http.sh
set -e
BIN="$(pwd)/target/release/blynk-server"
WORK="$(mktemp -d)"
cd "$WORK"
printf 'http.port=18941\nhttps.port=19441\nlisten.address=127.0.0.1\n' > server.properties
python3 -c "
import os
open('fw16.bin','wb').write(bytes([0xE9,1,0,0]) + os.urandom(16*1024*1024 - 4))"
"$BIN" --config server.properties --data-dir ./data > server.log 2>&1 &
SRV=$!
sleep 1
TOKEN=$(curl -s --insecure -u admin@blynk.cc:admin https://localhost:19441/admin/devices \
  -d '{"user":"b@x.io","project":"p","name":"d"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
python3 - "$TOKEN" > url.txt <<'PY' &
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", 18941))
f = lambda c, i, b: struct.pack(">BHH", c, i, len(b)) + b
s.sendall(f(29, 1, sys.argv[1].encode())); s.recv(5)
s.sendall(f(17, 2, b"ver\x001.0\x00buff-in\x001024")); s.recv(5)
s.settimeout(10)
h = s.recv(5, socket.MSG_WAITALL); l = struct.unpack(">BHH", h)[2]
print(s.recv(l, socket.MSG_WAITALL)[4:].decode(), flush=True)
time.sleep(5)
PY
DEV=$!
sleep 0.5
echo "server RSS before the upload: $(grep VmRSS /proc/$SRV/status | tr -s ' \t' ' ')"
curl -s -o /dev/null -w "upload 16 MiB (HTTPS, multipart, store + hashes): %{time_total} s\n" \
  -F file=@fw16.bin --insecure -u admin@blynk.cc:admin "https://localhost:19441/admin/ota/start?token=$TOKEN"
sleep 0.3
URL=$(cat url.txt)
echo "server peak RSS after the upload: $(grep VmHWM /proc/$SRV/status | tr -s ' \t' ' ')"
for i in 1 2 3; do
  curl -s -o /dev/null -w "one download: %{size_download} B in %{time_total} s\n" "$URL"
done
START=$(date +%s.%N)
PIDS=""
for i in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null "$URL" & PIDS="$PIDS $!"; done
wait $PIDS
END=$(date +%s.%N)
echo "8 parallel downloads (128 MiB): $(echo "$END - $START" | bc) s"
echo "server peak RSS after the downloads: $(grep VmHWM /proc/$SRV/status | tr -s ' \t' ' ')"
kill $SRV
wait $DEV || true
rm -rf "$WORK"
