// A real Node socket.io 4.8 server for netladder's Rust Socket.IO client
// (tests/ch05_sio_client.rs) and for the comparison (netladder-compare
// --socketio). Prints {"port":N} on stdout once listening.
//
//   node sio_server.mjs [--port N] [--recovery] [--ping-interval MS] [--ping-timeout MS]
//
// Namespace "/" (and "/chat", "/bench"):
//   echo(...args, ack)        acks with the same arguments (binary included)
//   join(room, ack)           joins room, acks "joined"
//   broadcast(room, ...args)  socket.to(room).emit("broadcast", ...args)
//   ask(...args)              the server emits "question" with an ack to the
//                             client, then emits "answered" with the reply
//   bye()                     the server disconnects this socket
//   drop()                    the server closes the transport (not a
//                             disconnect: recovery may bring it back), then
//                             after 200 ms io.emit("missed", "while away")
// On connect, "/" emits "welcome" with {sid, nsp, auth}.
// Namespace "/auth": middleware accepts auth {token: "good"}, refuses the
// rest with Error("not authorized") and data {code: 42}.
import { Server } from "socket.io";
import { createServer } from "node:http";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const port = Number(opt("--port", "0"));
const recovery = args.includes("--recovery");

const http = createServer();
const io = new Server(http, {
  pingInterval: Number(opt("--ping-interval", "25000")),
  pingTimeout: Number(opt("--ping-timeout", "20000")),
  maxHttpBufferSize: 10e6,
  ...(recovery
    ? { connectionStateRecovery: { maxDisconnectionDuration: 60_000, skipMiddlewares: true } }
    : {}),
});

function handlers(socket) {
  socket.on("echo", (...a) => {
    const ack = typeof a[a.length - 1] === "function" ? a.pop() : null;
    if (ack) ack(...a);
    else socket.emit("echo", ...a);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack("joined");
  });
  socket.on("broadcast", (room, ...a) => {
    socket.to(room).emit("broadcast", ...a);
  });
  socket.on("ask", async (...a) => {
    const reply = await socket.timeout(5000).emitWithAck("question", ...a);
    socket.emit("answered", reply);
  });
  socket.on("bye", () => socket.disconnect());
  socket.on("drop", () => {
    setTimeout(() => socket.conn.close(), 10);
    setTimeout(() => io.emit("missed", "while away"), 200);
  });
}

io.on("connection", (socket) => {
  socket.emit("welcome", { sid: socket.id, nsp: "/", auth: socket.handshake.auth, recovered: socket.recovered });
  handlers(socket);
});
io.of("/chat").on("connection", (socket) => handlers(socket));
// The bench namespace, as in ch05-sio-server and the socketioxide peer.
io.of("/bench").on("connection", (socket) => handlers(socket));
io.of("/auth").use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "good") return next();
  const err = new Error("not authorized");
  err.data = { code: 42 };
  next(err);
});
io.of("/auth").on("connection", (socket) => handlers(socket));

http.listen(port, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: http.address().port }));
});
process.on("SIGTERM", () => process.exit(0));
