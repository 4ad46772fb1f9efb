"""The official python-engineio client against ch05-eio-server.

Usage: eio_client.py http://127.0.0.1:PORT
Runs polling only, WebSocket only and the default (polling, then upgrade):
text and binary echoes on each. Prints "ok: ..." per case; exits 1 on any
failure.
"""

import queue
import sys
import time

import engineio

BASE = sys.argv[1]
failed = 0


def run(transports, name):
    client = engineio.Client(request_timeout=10)
    inbox = queue.Queue()
    client.on("message", lambda data: inbox.put(data))
    client.connect(BASE, transports=transports, engineio_path="engine.io")
    try:
        for data in ["hello from python", "héllo, wörld", b"\x00\x01\xfe\xff"]:
            client.send(data)
            got = inbox.get(timeout=10)
            assert got == data, f"sent {data!r}, got {got!r}"
        # Several heartbeats later (pingInterval 300 ms), still alive.
        time.sleep(1)
        client.send("still here")
        assert inbox.get(timeout=10) == "still here"
        if transports == ["websocket"] or transports is None:
            deadline = time.time() + 5
            while client.transport() != "websocket" and time.time() < deadline:
                time.sleep(0.05)
        expected = "polling" if transports == ["polling"] else "websocket"
        assert client.transport() == expected, f"on {client.transport()}"
    finally:
        client.disconnect()
    print(f"ok: python-engineio client {name}")


for transports, name in [
    (["polling"], "polling only"),
    (["websocket"], "websocket only"),
    (None, "default (polling, then upgrade)"),
]:
    try:
        run(transports, name)
    except Exception as e:  # report every case, then fail
        failed += 1
        print(f"FAILED: python-engineio client {name}: {e!r}")

sys.exit(1 if failed else 0)
