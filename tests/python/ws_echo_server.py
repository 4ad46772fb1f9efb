"""Python `websockets` as an echo server: the peer for netladder's WebSocket
client in the interop tests, and the Python peer in chapter 4's comparison.

Usage: ws_echo_server.py [HOST:PORT] [deflate]   (default 127.0.0.1:0, no compression)
Prints "listening on HOST:PORT" and echoes every message until killed.
"""

import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws) -> None:
    async for message in ws:
        await ws.send(message)


async def main() -> None:
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:0").rsplit(":", 1)
    compression = "deflate" if sys.argv[2:] == ["deflate"] else None
    async with serve(echo, host, int(port), max_size=None, compression=compression) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on {host}:{port}", flush=True)
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
