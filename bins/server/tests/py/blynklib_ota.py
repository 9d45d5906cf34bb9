"""The real PyPI device client (blynklib 0.2.6) receiving an OTA command.

Usage: python blynklib_ota.py HOST PORT TOKEN BUILD

The client's info message is extended with `build BUILD` (as firmware with a build
stamp reports it), so a deferred campaign sends the command right after the OK to the
info message. Prints CONNECTED, then URL <url> when the `internal_ota` event fires, then
downloads the URL and prints BYTES <length> <sha256 hex>. Exit codes: 0 ok, 2-3 failures.
"""

import hashlib
import sys
import time
import urllib.request

import blynklib


def log(*args):
    print("[blynklib]", *args, file=sys.stderr, flush=True)


def main():
    host, port, token, build = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    client = blynklib.Blynk(token, server=host, port=port, heartbeat=10, log=log)
    stock = client.heartbeat_msg

    def info_with_build(heartbeat, rcv_buffer):
        body = stock(heartbeat, rcv_buffer)
        extra = b"\0build\0" + build.encode()
        length = int.from_bytes(body[3:5], "big") + len(extra)
        return body[:3] + length.to_bytes(2, "big") + body[5:] + extra

    client.heartbeat_msg = info_with_build
    urls = []

    @client.handle_event("internal_ota")
    def on_ota(args):
        urls.append(args[0])

    if not client.connect(timeout=15):
        print("FAIL: could not connect", flush=True)
        return 2
    print("CONNECTED", flush=True)
    deadline = time.time() + 20
    while not urls and time.time() < deadline:
        client.run()
    if not urls:
        print("FAIL: no internal_ota event", flush=True)
        return 3
    print("URL", urls[0], flush=True)
    data = urllib.request.urlopen(urls[0], timeout=10).read()
    print("BYTES", len(data), hashlib.sha256(data).hexdigest(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
