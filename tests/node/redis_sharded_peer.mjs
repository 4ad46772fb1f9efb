// Chapter 6's sharded cluster: a Node socket.io server on the official
// createShardedAdapter (@socket.io/redis-adapter 8.3, Redis 7 sharded
// pub/sub) next to two netladder servers (`ch05-sio-server --redis URL
// --redis-sharded`, started by tests/ch06_sharded.rs), all on a 3-node
// Redis Cluster. One official socket.io-client per server, in one room of
// `/cluster`: broadcasts, server-side operations and requests (counted by
// SHARDNUMSUB, answered on the requester's own channel) both ways, then a
// fault: netladder B stops (SIGSTOP) and requests time out cleanly. Prints
// `ok <step>` per step; on the first failure prints `FAIL <step>: <detail>`
// and exits 1.
//   node redis_sharded_peer.mjs PORT1,PORT2,PORT3 HOST:PORT_A HOST:PORT_B PID_B
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { createCluster } from "redis";
import { io as connect } from "socket.io-client";
import { freeze } from "./freeze.mjs";

const [ports, addrA, addrB, pidB] = process.argv.slice(2);
const fail = (step, detail) => {
  console.log(`FAIL ${step}: ${JSON.stringify(detail)}`);
  process.exit(1);
};
setTimeout(() => fail("overall", "still running after 90 s"), 90000).unref();
process.on("uncaughtException", (e) => fail("exception", String(e)));
process.on("unhandledRejection", (e) => fail("rejection", String(e)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sorted = (list) => [...list].sort();
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const check = (step, ok, detail) => {
  if (!ok) fail(step, detail);
};

const rootNodes = ports.split(",").map((p) => ({ url: `redis://127.0.0.1:${p}` }));
const pub = createCluster({ rootNodes });
const sub = pub.duplicate();
pub.on("error", () => {});
sub.on("error", () => {});
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, { adapter: createShardedAdapter(pub, sub) });
const nsp = io.of("/cluster");
nsp.on("connection", (socket) => {
  socket.on("join", (room, cb) => {
    socket.join(room);
    cb([...socket.rooms]);
  });
  socket.on("say", (room, text, cb) => {
    socket.to(room).emit("said", text);
    cb(0);
  });
});
// A server-side event from another server (serverSideEmitWithAck).
nsp.on("hello", (cb) => cb("node"));
await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
const nodeAddr = `127.0.0.1:${http.address().port}`;

// How many servers listen on a sharded channel (asked of its own node).
const shardnumsub = async (channel) => {
  const reply = await pub.sendCommand(channel, true, ["PUBSUB", "SHARDNUMSUB", channel]);
  return Number(reply[1]);
};
const waitFor = async (step, channel, n) => {
  for (let i = 0; (await shardnumsub(channel)) !== n; i++) {
    check(step, i < 400, `${await shardnumsub(channel)} on ${channel}, want ${n}`);
    await sleep(25);
  }
};
await waitFor("subscribed", "socket.io#/cluster#", 3);

const client = (name, addr) =>
  new Promise((resolve, reject) => {
    const c = connect(`http://${addr}/cluster`, {
      transports: ["websocket"],
      reconnection: false,
    });
    c.said = [];
    c.on("said", (t) => c.said.push(t));
    c.on("question", (cb) => cb(name));
    c.once("connect", () => resolve(c));
    c.once("connect_error", (e) => reject(e));
  });

const A = await client("A", addrA);
const B = await client("B", addrB);
const N = await client("N", nodeAddr);
const all = [A, B, N];
for (const c of all) await c.emitWithAck("join", "room1");
// Every server subscribes to the room's own channel while it has the room.
await waitFor("room subscribed", "socket.io#/cluster#room1#", 3);
console.log("ok connected");

// 1. Each one's room broadcast reaches every other one exactly once.
for (const [c, name] of [[A, "A"], [B, "B"], [N, "N"]]) {
  await c.emitWithAck("say", "room1", `from-${name}`);
}
await sleep(500);
check("broadcast A", same(sorted(A.said), ["from-B", "from-N"]), A.said);
check("broadcast B", same(sorted(B.said), ["from-A", "from-N"]), B.said);
check("broadcast N", same(sorted(N.said), ["from-A", "from-B"]), N.said);
console.log("ok broadcast");

// 2. except, across servers, from netladder and from Node; and a
// namespace-wide broadcast on the namespace's channel.
await B.emitWithAck("join", "quiet");
await waitFor("quiet subscribed", "socket.io#/cluster#quiet#", 1);
for (const c of all) c.said = [];
await A.emitWithAck("say_except", "room1", "quiet", "x1");
nsp.to("room1").except("quiet").emit("said", "x2");
nsp.emit("said", "x3");
await sleep(500);
check("except A", same(sorted(A.said), ["x1", "x2", "x3"]), A.said);
check("except N", same(sorted(N.said), ["x1", "x2", "x3"]), N.said);
check("except B", same(B.said, ["x3"]), B.said);
console.log("ok except");

// 3. socketsJoin both ways.
nsp.in(A.id).socketsJoin("fromNode");
await A.emitWithAck("sockets_join", N.id, "fromRust");
await sleep(300);
const roomsA = await A.emitWithAck("join", "room1");
check("node socketsJoin", roomsA.includes("fromNode"), roomsA);
check("rust socketsJoin", nsp.sockets.get(N.id).rooms.has("fromRust"), [...nsp.sockets.get(N.id).rooms]);
console.log("ok socketsJoin");

// 4. Node's sharded adapter counts the servers by SHARDNUMSUB of the
// namespace's channel: ours are counted, so its requests wait for them.
const count = await nsp.adapter.serverCount();
check("serverCount", count === 3, count);
console.log("ok serverCount");

// 5. fetchSockets from Node sees the netladder sockets, with their rooms
// (it rejects if a counted server does not answer in 5 s), and the
// reverse: the report names both other servers, Node's by its uid.
const fetched = await nsp.in("room1").fetchSockets();
check("node fetch ids", same(sorted(fetched.map((s) => s.id)), sorted([A.id, B.id, N.id])), fetched.map((s) => s.id));
const fb = fetched.find((s) => s.id === B.id);
check("node fetch rooms", fb.rooms.has("quiet") && fb.rooms.has("room1"), [...fb.rooms]);
const r = await A.timeout(8000).emitWithAck("fetch", "room1");
check("rust fetch ids", same(sorted(r.ids), sorted([A.id, B.id, N.id])), r);
check("rust fetch report", r.expected === 2 && r.answered === 2 && !r.timed_out
  && r.responders.length === 2 && r.responders.includes(nsp.adapter.uid), r);
check("rust fetch rooms", r.rooms[N.id].includes("room1"), r.rooms);
console.log("ok fetchSockets");

// 6. serverSideEmit with acks both ways: one answer per other server.
const replies = await nsp.serverSideEmitWithAck("hello");
check("node serverSideEmit", same(replies, ["netladder", "netladder"]), replies);
const hello = await A.timeout(8000).emitWithAck("hello_servers");
check("rust serverSideEmit", same(sorted(hello.answers), ["netladder", "node"])
  && hello.expected === 2 && hello.answered === 2 && !hello.timed_out, hello);
console.log("ok serverSideEmit");

// 7. Broadcast with acks collects from the clients of all three servers,
// from Node and from netladder.
const answers = await nsp.to("room1").timeout(3000).emitWithAck("question");
check("node emitWithAck", same(sorted(answers), ["A", "B", "N"]), answers);
const asked = await A.timeout(8000).emitWithAck("ask", "room1", 3000);
check("rust emitWithAck", asked.complete && same(sorted(asked.answers), ["A", "B", "N"]), asked);
console.log("ok broadcast with ack");

// 8. disconnectSockets from Node reaches a netladder socket.
const gone = new Promise((resolve) => B.once("disconnect", resolve));
nsp.in(B.id).disconnectSockets();
const reason = await Promise.race([gone, sleep(3000).then(() => "timeout")]);
check("disconnectSockets", reason === "io server disconnect", reason);
console.log("ok disconnectSockets");

// 9. Fault: netladder B stops answering (SIGSTOP: still subscribed, so
// still counted). Node's fetchSockets rejects on its timeout; netladder's
// reports that one of the two servers answered, and which.
await freeze(Number(pidB));
try {
  const [nodeFetch, late] = await Promise.all([
    nsp.fetchSockets().then(() => "answered", (e) => String(e)),
    A.timeout(10000).emitWithAck("fetch", "room1"),
  ]);
  check("node fetch times out", /timeout reached: only 1 responses received out of 2/.test(nodeFetch), nodeFetch);
  check("rust fetch times out", late.timed_out && late.expected === 2 && late.answered === 1
    && same(late.responders, [nsp.adapter.uid]), late);
  check("rust fetch still has node's", late.ids.includes(N.id) && late.ids.includes(A.id), late);
  console.log("ok fault");
} finally {
  process.kill(Number(pidB), "SIGCONT");
}

for (const c of all) c.close();
io.close();
await Promise.all([pub.quit(), sub.quit()]).catch(() => {});
console.log("ok done");
process.exit(0);
