// Node's engine.io server (npm), echoing every message: the peer for
// netladder's own Engine.IO client (ch05-eio-client).
// Prints "listening on 127.0.0.1:PORT". Heartbeats: 300 ms / 200 ms.
import http from "node:http";
import { Server } from "engine.io";

const httpServer = http.createServer();
const server = new Server({ pingInterval: 300, pingTimeout: 200 });
server.attach(httpServer);
server.on("connection", (socket) => socket.on("message", (m) => socket.send(m)));
httpServer.listen(0, "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${httpServer.address().port}`);
});
