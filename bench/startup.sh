#!/usr/bin/env bash
# Benchmark 6: server idle RSS and cold-start time to accepting connections.
# Targets: idle RSS <= 20 MB, start -> accepting <= 100 ms.
# Usage: bash bench/startup.sh [RUNS]   (default 5 runs of each kind)
source "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
build
LOAD_BEFORE=$(loadavg)

# Time from exec to the first answered HW_LOGIN (an unknown token gets INVALID_TOKEN:
# the listener accepts, sniffs and runs a session), polling every 0.5 ms.
measure_start() { # DATA_DIR -> prints milliseconds
    local dir=$1 http https
    http=$(free_port)
    https=$(free_port)
    mkdir -p "$dir"
    printf 'http.port=%s\nhttps.port=%s\nlisten.address=127.0.0.1\ndata.folder=%s\n' "$http" "$https" "$dir/data" >"$dir/server.properties"
    python3 - "$SERVER_BIN" "$dir/server.properties" "$http" <<'PY'
import socket, subprocess, sys, time, os
exe, props, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
login = b"\x1d\x00\x01\x00\x20" + b"x" * 32
t0 = time.perf_counter()
p = subprocess.Popen([exe, "--config", props], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     env=dict(os.environ, RUST_LOG="warn"))
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(login)
        answer = s.recv(5)
        s.close()
        if answer == b"\x00\x00\x01\x00\x09":
            break
    except OSError:
        time.sleep(0.0005)
    if time.perf_counter() - t0 > 10:
        print("timeout"); p.kill(); sys.exit(1)
ms = (time.perf_counter() - t0) * 1000
time.sleep(2)
rss = int([l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1])
p.terminate(); p.wait()
print(f"{ms:.1f} {rss}")
PY
}

fresh=()
warm=()
rss=()
for i in $(seq 1 "$RUNS"); do
    dir=$BENCH_TMP/start$i
    read -r ms kib < <(measure_start "$dir") # first start: generates the certificate, creates the database
    fresh+=("$ms")
    read -r ms kib < <(measure_start "$dir") # same data folder again
    warm+=("$ms")
    rss+=("$kib")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %s / median %s / max %s", a[1], a[int((NR+1)/2)], a[NR]}'; }
FRESH=$(stats "${fresh[@]}")
WARM=$(stats "${warm[@]}")
RSS=$(stats "${rss[@]}")
WARM_MED=$(printf '%s\n' "${warm[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
FRESH_MED=$(printf '%s\n' "${fresh[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
RSS_MAX=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v + 0 <= t + 0) print "met"; else print "**not met**" }'; }
cat >>"$DOC" <<MD

## blynk-sim benchmarks: server cold start and idle memory (issue 8, benchmark 6)

Command: \`bash bench/startup.sh $RUNS\` ($(date -u '+%Y-%m-%d %H:%M UTC')). Machine: $(machine_facts).
Load average before / after: $LOAD_BEFORE / $(loadavg).

Method: a Python driver execs \`blynk-server --config <file>\` and, every 0.5 ms, connects
to the plain port and sends a HW_LOGIN with an unknown 32-byte token; the clock stops when
the INVALID_TOKEN answer (\`00 00 01 00 09\`) arrives, i.e. the listener accepts, sniffs and
runs a session. "Fresh" = empty data folder (self-signed certificate generated, SQLite
created and migrated); "warm" = the same folder again. RSS = \`VmRSS\` 2 s after the warm
start, no device connected. $RUNS runs each.

| Measure | Result (ms / KiB) | Target | Verdict |
|---|---|---|---|
| start → accepting, fresh data folder | $FRESH ms | ≤ 100 ms | $(verdict "$FRESH_MED" 100) (median) |
| start → accepting, existing data folder | $WARM ms | ≤ 100 ms | $(verdict "$WARM_MED" 100) (median) |
| idle RSS | $RSS KiB | ≤ 20 MB (20 480 KiB) | $(verdict "$RSS_MAX" 20480) (max) |
MD
echo "fresh: $FRESH ms; warm: $WARM ms; idle RSS: $RSS KiB"
