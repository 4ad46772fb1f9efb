"""python-socketio's sync client (websocket-client for WebSocket) against
ch05-sio-server.

Usage: sio_client.py http://127.0.0.1:PORT
For polling only, WebSocket only and the default: connect to `/auth` with
auth and to `/interop`, emit, `call` with an ack (binary included), join a
room and receive a broadcast to it, then disconnect. The server's test
namespaces are described in chapters/ch05/sio_interop.rs. Prints "ok: ..."
per case; exits 1 on any failure.
"""

import queue
import sys
import time

import socketio

BASE = sys.argv[1]
failed = 0


def run(transports, name):
    client = socketio.Client(reconnection=False, request_timeout=10)
    news = queue.Queue()
    gone = queue.Queue()
    client.on("news", lambda *args: news.put(list(args)), namespace="/interop")
    client.on("disconnect", lambda *reason: gone.put(reason), namespace="/interop")
    client.connect(
        BASE,
        namespaces=["/auth", "/interop"],
        auth={"token": "py-token"},
        transports=transports,
        wait_timeout=10,
    )
    try:
        assert client.call("whoami", namespace="/auth", timeout=10) == "py-token"
        client.emit("echo", ("no ack wanted", 1), namespace="/interop")
        got = client.call("echo", ("text", {"b": b"\x00\xff", "n": [1, b"x"]}), namespace="/interop", timeout=10)
        # python-socketio passes several ack arguments as a tuple.
        assert got == ("text", {"b": b"\x00\xff", "n": [1, b"x"]}), got
        rooms = client.call("join", "pyroom", namespace="/interop", timeout=10)
        assert "pyroom" in rooms, rooms
        reached = client.call(
            "broadcast",
            {"room": "pyroom", "event": "news", "args": ["hello", 2]},
            namespace="/interop",
            timeout=10,
        )
        assert reached == 1, reached
        assert news.get(timeout=10) == ["hello", 2]
        expected = "polling" if transports == ["polling"] else "websocket"
        if transports is None:
            deadline = time.time() + 5
            while client.transport() != "websocket" and time.time() < deadline:
                time.sleep(0.05)
        assert client.transport() == expected, f"on {client.transport()}"
    finally:
        client.disconnect()
    reason = gone.get(timeout=10)
    assert reason in [(), (client.reason.CLIENT_DISCONNECT,)], reason


for transports, name in [(["polling"], "polling only"), (["websocket"], "websocket only"), (None, "default")]:
    try:
        run(transports, name)
        print(f"ok: python-socketio client {name}: auth, emit, call with ack, room broadcast, disconnect")
    except Exception as e:  # noqa: BLE001 - report any failure and go on
        failed += 1
        print(f"FAILED: python-socketio client {name}: {e!r}")

sys.exit(1 if failed else 0)
