"""Drive the real PyPI device client (blynklib 0.2.6) against a blynk-server under test.

Usage: python blynklib_client.py HOST PORT TOKEN [CA_CERT_PEM]  (with a CA file: TLS)

Prints CONNECTED once login and the info message have been acknowledged (blynklib's
connect() only returns True after the server answers its info message with OK 200),
then keeps the client running until standard input closes, and prints STILL CONNECTED
if it never dropped or reconnected in between. Exit codes: 0 ok, 2-4 failures.
"""

import sys
import threading
import time

import blynklib


def log(*args):
    print("[blynklib]", *args, file=sys.stderr, flush=True)


def main():
    host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    ssl_cert = sys.argv[4] if len(sys.argv) > 4 else None
    client = blynklib.Blynk(
        token, server=host, port=port, ssl_cert=ssl_cert, heartbeat=10, log=log
    )
    connects = []

    @client.handle_event("connect")
    def on_connect():
        connects.append(time.time())

    if not client.connect(timeout=15):
        print("FAIL: could not connect (login or info not acknowledged)", flush=True)
        return 2
    print("CONNECTED", flush=True)

    stop = threading.Event()

    def wait_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_stdin, daemon=True).start()
    deadline = time.time() + 60
    while not stop.is_set() and time.time() < deadline:
        client.run()
        if not client.connected():
            print("FAIL: disconnected", flush=True)
            return 3
    if len(connects) != 1:
        print("FAIL: reconnected {} times".format(len(connects) - 1), flush=True)
        return 4
    print("STILL CONNECTED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
