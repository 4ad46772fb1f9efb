"""Python `websockets` as a client against a netladder WebSocket server.

Usage: ws_echo_client.py ws://127.0.0.1:PORT/path
Sends text (including non-ASCII), binary, an empty and a large message,
checks each echo, pings, then closes with 1000. Exits non-zero on any mismatch.
"""

import asyncio
import sys

from websockets.asyncio.client import connect


async def main(url: str) -> None:
    async with connect(url, max_size=None, open_timeout=10) as ws:
        messages = ["hello", "héllo wörld ✓", "", b"\x00\x01\xff" * 100, "x" * 300_000]
        for message in messages:
            await ws.send(message)
            echoed = await asyncio.wait_for(ws.recv(), timeout=10)
            if echoed != message:
                raise SystemExit(f"echo mismatch for a {type(message).__name__} of {len(message)}")
        latency = await asyncio.wait_for(await ws.ping(b"py"), timeout=10)
        print(f"python client: {len(messages)} echoes ok, ping {latency * 1000:.2f} ms")
    if ws.close_code != 1000:
        raise SystemExit(f"close code {ws.close_code}")


asyncio.run(main(sys.argv[1]))
