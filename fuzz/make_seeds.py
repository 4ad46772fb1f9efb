#!/usr/bin/env python3
"""Builds fuzz/seeds/<target>/ from the test vectors kept in the repository.

It pulls the string literals that look like HTTP requests or responses out
of the unit and integration tests, and adds WebSocket frames and framing
streams from the tests' examples. Each seed starts with the selector byte
the target reads first (0: the default configuration). Run it from the
repository root after adding test vectors: python3 fuzz/make_seeds.py
"""

import hashlib
import json
import pathlib
import re
import struct

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

# The Redis adapters' messages: the msgpack vectors Node printed (hex
# strings in the tests) and the JSON messages the tests send and expect
# (format strings filled in). The classic adapter's go behind its
# selectors (0 broadcast, 1 request, 2 response), the sharded adapter's
# cluster messages behind the cluster ones (3 to 9), so each decoder starts
# from real messages. A cluster message goes as msgpack too (as Node sends
# it when it holds binary), and, where its type may carry binary (3, 8, 9,
# 10, 12), with a Buffer added. The script only adds files: the inputs the
# fuzzer found (kept as seeds by hand, with their regression tests) stay.
CLASSIC_TESTS = ["src/socketio/redis/tests.rs"]
CLUSTER_TESTS = [
    "src/socketio/redis/cluster.rs",
    "src/socketio/redis/sharded.rs",
    "src/socketio/redis/sharded_tests.rs",
]
PLACEHOLDER = re.compile(r"(?<!\{)\{[A-Za-z_]+\}(?!\})")


def redis_vectors(paths):
    found = set()
    for path in paths:
        text = (ROOT / path).read_text()
        for hexa in re.findall(r'"([0-9a-f]{16,})"', text):
            found.add(bytes.fromhex(hexa))
        # JSON in raw strings, r#"{...}"# (format strings: {{ }} and {name};
        # a test's broken message may end early).
        for raw in re.findall(r'r#"(\{.*?)"#', text, re.S):
            if '"type"' in raw or '"requestId"' in raw:
                if "{{" in raw:
                    raw = PLACEHOLDER.sub("x", raw).replace("{{", "{").replace("}}", "}")
                found.add(raw.encode())
    return found


def msgpack(v) -> bytes:
    """notepack.io's encoding of a JSON value (and of a Buffer: bin)."""
    if v is None:
        return b"\xc0"
    if v is True or v is False:
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 0x80:
            return bytes([v])
        if -32 <= v < 0:
            return (v & 0xFF).to_bytes(1, "big")
        if 0 <= v < 1 << 32:
            return b"\xce" + v.to_bytes(4, "big")
        return b"\xd3" + v.to_bytes(8, "big", signed=True)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(v, bytes):
        return b"\xc4" + bytes([len(v)]) + v
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(msgpack(x) for x in v)
    if isinstance(v, dict):
        head = bytes([0x80 | len(v)])
        return head + b"".join(msgpack(k) + msgpack(x) for k, x in v.items())
    raise TypeError(v)


def with_binary(message):
    """The message with a Buffer where its type may carry one, or None."""
    data = message.get("data")
    if not isinstance(data, dict):
        return None
    kind = message.get("type")
    buffer = b"\x01\x02\x03"
    if kind == 3 and isinstance(data.get("packet", {}).get("data"), list):
        data["packet"]["data"].append(buffer)
    elif kind == 9 and isinstance(data.get("packet"), list):
        data["packet"].append(buffer)
    elif kind in (10, 12):
        data["packet"] = buffer
    elif kind == 8 and data.get("sockets"):
        data["sockets"][0]["data"] = buffer
    else:
        return None
    return message


# The cluster selector that reads each type's data part: 3 BroadcastData,
# 5 OpData, 6 FetchSocketsData, 7 ServerSideEmitData, 8 ResponseData.
DATA_SELECTOR = {3: 3, 4: 5, 5: 5, 6: 5, 7: 6, 9: 7, 8: 8, 10: 8, 11: 8, 12: 8}


def cluster_selectors(value):
    """Its data part's selector, 4 (any value) and 9 (the adapter's path)."""
    kind = value.get("type") if isinstance(value, dict) else None
    own = [DATA_SELECTOR[kind]] if kind in DATA_SELECTOR else []
    return own + [4, 9]


for message in sorted(redis_vectors(CLASSIC_TESTS)):
    for selector in range(3):
        write("redis_messages", bytes([selector]) + message)
for text in sorted(redis_vectors(CLUSTER_TESTS)):
    if text.startswith(b"{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None  # one of the tests' broken messages
    elif 0x80 <= text[0] <= 0x8F:  # a msgpack map Node printed
        kind = re.search(rb"\xa4type([\x00-\x7f])", text)
        value = {"type": kind[1][0]} if kind else None
    else:
        continue  # a hex string that is no message (a uid)
    messages = [text]
    if value is not None and text.startswith(b"{"):
        messages.append(msgpack(value))
        binary = with_binary(json.loads(text))
        if binary is not None:
            messages.append(msgpack(binary))
    for message in messages:
        for selector in cluster_selectors(value):
            write("redis_messages", bytes([selector]) + message)
