// The Node peer for chapter 4's comparison: a WebSocket echo server on the
// `ws` package. Usage: node ws_echo_server.mjs [HOST:PORT] [deflate]
// (compression off unless `deflate` is given).
// Prints "listening on ADDR" and echoes every message until killed.
import { WebSocketServer } from "ws";

const [host, port] = (process.argv[2] || "127.0.0.1:0").split(":");
const perMessageDeflate = process.argv[3] === "deflate";
const server = new WebSocketServer({ host, port: Number(port), perMessageDeflate, maxPayload: 16 * 1024 * 1024 });
server.on("listening", () => {
  const address = server.address();
  console.log(`listening on ${address.address}:${address.port}`);
});
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});
