// Chapter 6's Node peer: a socket.io server on @socket.io/redis-adapter
// (classic pub/sub), with one socket.io-client connected to it and put in
// room `r`. Prints `ready` once the client is in the room, then one line
// `got <event> <JSON args>` per event the client receives, and exits after
// the first one (or with status 1 after 15 s).
//   node redis_cluster_peer.mjs redis://127.0.0.1:PORT
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { io as connect } from "socket.io-client";

const url = process.argv[2];
setTimeout(() => { console.log("timeout"); process.exit(1); }, 15000).unref();

const pub = createClient({ url });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, { adapter: createAdapter(pub, sub) });
io.on("connection", (socket) => {
  socket.join("r");
  socket.emit("joined");
});
await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));

const client = connect(`http://127.0.0.1:${http.address().port}`, { transports: ["websocket"] });
client.on("joined", () => console.log("ready"));
client.onAny((event, ...args) => {
  if (event === "joined") return;
  console.log(`got ${event} ${JSON.stringify(args)}`);
  client.close();
  io.close();
  Promise.all([pub.quit(), sub.quit()]).finally(() => process.exit(0));
});
