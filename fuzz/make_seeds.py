#!/usr/bin/env python3
"""Builds fuzz/seeds/<target>/ from the test vectors kept in the repository.

It pulls the string literals that look like HTTP requests or responses out
of the unit and integration tests, and adds WebSocket frames and framing
streams from the tests' examples. Each seed starts with the selector byte
the target reads first (0: the default configuration). Run it from the
repository root after adding test vectors: python3 fuzz/make_seeds.py
"""

import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"

# b"..." or "..." literals, with Rust's escapes and line continuations.
LITERAL = re.compile(rb'b?"((?:[^"\\]|\\.)*)"', re.S)


def unescape(raw: bytes) -> bytes:
    raw = re.sub(rb"\\\n\s*", b"", raw)  # line continuation
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        e = raw[i + 1 : i + 2]
        simple = {b"r": 13, b"n": 10, b"t": 9, b"0": 0, b"\\": 92, b'"': 34, b"'": 39}
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == b"x":
            out.append(int(raw[i + 2 : i + 4], 16))
            i += 4
        else:
            out.append(c)
            i += 1
    return bytes(out)


def literals(paths):
    for path in paths:
        for m in LITERAL.finditer((ROOT / path).read_bytes()):
            yield unescape(m.group(1))


def write(target: str, data: bytes):
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    (folder / name).write_bytes(data)


HTTP_TESTS = [
    "src/http/server_tests.rs",
    "src/http/protocol_tests.rs",
    "src/http/client_tests.rs",
    "src/http/chunked.rs",
    "tests/ch02_http.rs",
    "src/ws/server_tests.rs",
    "src/ws/handshake/server.rs",
    "src/ws/handshake/client.rs",
    "tests/ch03_ws.rs",
]
METHOD = re.compile(rb"^[A-Z]{3,7} \S+ HTTP/")

for text in set(literals(HTTP_TESTS)):
    if METHOD.match(text) and b"\r\n\r\n" in text:
        write("http_request", b"\x00" + text)
        write("ws_handshake_server", b"\x00" + text)
    elif text.startswith(b"HTTP/") and b"\r\n\r\n" in text:
        write("http_response", b"\x00" + text)
        write("ws_handshake_client", b"\x00" + text)
    elif re.match(rb"^[0-9a-fA-F]+(;[^\r]*)?\r\n", text):
        write("http_chunked", b"\x00" + text)

# Chapter 1's framing tests (src/framing.rs).
write("framing", b"\x80hello\nwor\r\n\nld\n")
write("framing", b"\x81\x00\x00\x00\x02hi\x00\x00\x00\x00\x00\x00\x00\x1aline\nbreaks are data here")
write("framing", b"\x12123456789\n")
write("framing", b"\x13\x00\x00\x01\x00")
write("framing", b"\x80one\ntw")

# WebSocket frames from RFC 6455 §5.7 and the connection tests: server role
# (masked frames in) with selector 0, client role (unmasked in) with 1.
MASKED_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")
UNMASKED_HELLO = bytes.fromhex("810548656c6c6f")
FRAGMENTED = bytes.fromhex("010348656c800 26c6f".replace(" ", ""))
PING = bytes.fromhex("890548656c6c6f")
PONG_MASKED = bytes.fromhex("8a8537fa213d7f9f4d5158")
BIG = bytes.fromhex("827e0100") + bytes(256)
HUGE = bytes.fromhex("827f0000000000010000") + bytes(16)
CLOSE = bytes.fromhex("880203e8")
CLOSE_MASKED = bytes.fromhex("888200000000") + bytes.fromhex("03e8")
for frame in [MASKED_HELLO, UNMASKED_HELLO, FRAGMENTED, PING, PONG_MASKED, BIG, HUGE, CLOSE]:
    write("ws_frame", frame)  # no selector: the target reads frames
write("ws_connection", b"\x00" + MASKED_HELLO + PONG_MASKED + CLOSE_MASKED)
write("ws_connection", b"\x01" + FRAGMENTED + PING + UNMASKED_HELLO + CLOSE)
write("ws_connection", b"\x01" + BIG + HUGE)
write("ws_handshake_server", b"\x00GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      b"Sec-WebSocket-Version: 13\r\n\r\n" + MASKED_HELLO + CLOSE_MASKED)

# Engine.IO polling payloads from the protocol's documentation examples
# (selector 0: a 1 MiB limit; 9: a limit of 4 bytes).
for payload in [
    b"\x004hello\x1e2probe\x1ebAQIDBA==",
    b'\x000{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,'
    b'"pingTimeout":5000,"maxPayload":1000000}',
    b"\x003\x1e6\x1e5\x1e1",
    b"\x094hello\x1e4world",
    b"\x00b!!!",
    b"\x009",
]:
    write("engineio_payload", payload)

# The Redis adapter's messages: the msgpack vectors Node printed (hex
# strings in the tests) and the JSON requests and responses the tests
# expect, each behind every selector (0 broadcast, 1 request, 2 response,
# 3 and 4 cluster messages) so each decoder starts from real messages.
REDIS_TESTS = ["src/socketio/redis/tests.rs", "src/socketio/redis/cluster.rs"]
redis_messages = set()
for path in REDIS_TESTS:
    text = (ROOT / path).read_text()
    for hexa in re.findall(r'"([0-9a-f]{16,})"', text):
        redis_messages.add(bytes.fromhex(hexa))
    # JSON in raw strings, r#"{...}"#.
    for raw in re.findall(r'r#"(\{.*?\})"#', text, re.S):
        if '"type"' in raw or '"requestId"' in raw:
            redis_messages.add(raw.encode())
for message in sorted(redis_messages):
    for selector in range(5):
        write("redis_messages", bytes([selector]) + message)
