"""Python `websockets` as a client against a netladder WebSocket server.

Usage: ws_echo_client.py ws://127.0.0.1:PORT/path [deflate|plain]
With `deflate` it requires permessage-deflate to be negotiated (websockets
offers it by default); with `plain` it offers no compression.
Sends text (including non-ASCII), binary, an empty and a large message,
checks each echo, pings, then closes with 1000. Exits non-zero on any mismatch.
"""

import asyncio
import sys

from websockets.asyncio.client import connect


async def main(url: str, mode: str) -> None:
    compression = None if mode == "plain" else "deflate"
    async with connect(url, max_size=None, open_timeout=10, compression=compression) as ws:
        extensions = [type(e).__name__ for e in ws.protocol.extensions]
        if mode == "deflate" and extensions != ["PerMessageDeflate"]:
            raise SystemExit(f"permessage-deflate not negotiated: {extensions}")
        chat = '{"user":"ada","room":"lobby","text":"hello, hello, everyone"}'
        messages = ["hello", "héllo wörld ✓", "", b"\x00\x01\xff" * 100, "x" * 300_000]
        messages += [chat] * 20 + [bytes(range(256)) * 64]
        for message in messages:
            await ws.send(message)
            echoed = await asyncio.wait_for(ws.recv(), timeout=10)
            if echoed != message:
                raise SystemExit(f"echo mismatch for a {type(message).__name__} of {len(message)}")
        latency = await asyncio.wait_for(await ws.ping(b"py"), timeout=10)
        print(f"python client: {len(messages)} echoes ok, ping {latency * 1000:.2f} ms, extensions {extensions}")
    if ws.close_code != 1000:
        raise SystemExit(f"close code {ws.close_code}")


asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "any"))
