// Chapter 6's mixed cluster: this script runs a Node socket.io server on
// the official @socket.io/redis-adapter (classic pub/sub) next to two
// netladder servers (`ch05-sio-server --redis URL`, started by
// tests/ch06_mixed.rs), puts one official socket.io-client on each server
// in one room of the `/cluster` namespace, and checks every step both
// ways. Prints `ok <step>` per step; on the first failure prints
// `FAIL <step>: <detail>` and exits 1.
//   node redis_mixed_peer.mjs REDIS_URL HOST:PORT_A HOST:PORT_B PID_B
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { io as connect } from "socket.io-client";
import { freeze } from "./freeze.mjs";

const [url, addrA, addrB, pidB] = process.argv.slice(2);
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

const pub = createClient({ url });
const sub = pub.duplicate();
pub.on("error", () => {});
sub.on("error", () => {});
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, {
  adapter: createAdapter(pub, sub, { requestsTimeout: 2000 }),
});
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
// A server-side event from another server (serverSideEmit).
nsp.on("hello", (cb) => cb("node"));
await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
const nodeAddr = `127.0.0.1:${http.address().port}`;

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
const disconnected = (c) =>
  new Promise((resolve) => c.once("disconnect", (reason) => resolve(reason)));

const numsub = async () => {
  const reply = await pub.sendCommand(["PUBSUB", "NUMSUB", "socket.io-request#/cluster#"]);
  return Number(reply[1]);
};
for (let i = 0; (await numsub()) < 3; i++) {
  check("subscribed", i < 200, `only ${await numsub()} servers on Redis`);
  await sleep(25);
}

const A = await client("A", addrA);
const B = await client("B", addrB);
const N = await client("N", nodeAddr);
const all = [A, B, N];
for (const c of all) await c.emitWithAck("join", "room1");
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

// 2. except, across servers, from netladder and from Node.
await B.emitWithAck("join", "quiet");
for (const c of all) c.said = [];
await A.emitWithAck("say_except", "room1", "quiet", "x1");
nsp.to("room1").except("quiet").emit("said", "x2");
await sleep(500);
check("except A", same(sorted(A.said), ["x1", "x2"]), A.said);
check("except N", same(sorted(N.said), ["x1", "x2"]), N.said);
check("except B", B.said.length === 0, B.said);
console.log("ok except");

// 3. fetchSockets from Node sees the netladder sockets, with their rooms.
const fetched = await nsp.in("room1").fetchSockets();
check("node fetch ids", same(sorted(fetched.map((s) => s.id)), sorted([A.id, B.id, N.id])), fetched.map((s) => s.id));
const fb = fetched.find((s) => s.id === B.id);
check("node fetch rooms", fb.rooms.has("quiet") && fb.rooms.has("room1"), [...fb.rooms]);
console.log("ok node fetchSockets");

// 4. socketsJoin from Node acts on a netladder socket.
nsp.in(A.id).socketsJoin("fromNode");
await sleep(300);
const roomsA = await A.emitWithAck("join", "room1");
check("node socketsJoin", roomsA.includes("fromNode"), roomsA);
console.log("ok node socketsJoin");

// 5. The reverse: fetchSockets from netladder sees Node's socket; the
// report says two servers answered, one of them (netladder B) by uid.
const r = await A.timeout(8000).emitWithAck("fetch", "room1");
check("rust fetch ids", same(sorted(r.ids), sorted([A.id, B.id, N.id])), r);
check("rust fetch report", r.expected === 2 && r.answered === 2 && !r.timed_out && r.responders.length === 1, r);
check("rust fetch rooms", r.rooms[N.id].includes("room1"), r.rooms);
console.log("ok rust fetchSockets");

// 6. socketsJoin from netladder acts on Node's socket and the other
// netladder server's.
await A.emitWithAck("sockets_join", N.id, "fromRust");
await A.emitWithAck("sockets_join", B.id, "fromRust");
await sleep(300);
check("rust socketsJoin on node", nsp.sockets.get(N.id).rooms.has("fromRust"), [...nsp.sockets.get(N.id).rooms]);
const roomsB = await B.emitWithAck("join", "room1");
check("rust socketsJoin on rust", roomsB.includes("fromRust"), roomsB);
console.log("ok rust socketsJoin");

// 7. Broadcast with acks collects from the clients of every server.
const answers = await nsp.to("room1").timeout(3000).emitWithAck("question");
check("node emitWithAck", same(sorted(answers), ["A", "B", "N"]), answers);
const asked = await A.timeout(8000).emitWithAck("ask", "room1", 3000);
check("rust emitWithAck", asked.complete && same(sorted(asked.answers), ["A", "B", "N"]), asked);
console.log("ok broadcast with ack");

// 8. serverSideEmit with acks from Node: both netladder servers answer.
const replies = await nsp.serverSideEmitWithAck("hello");
check("serverSideEmit", same(replies, ["netladder", "netladder"]), replies);
console.log("ok serverSideEmit");

// 9. disconnectSockets from Node disconnects a netladder socket, and the
// reverse.
const bGone = disconnected(B);
nsp.in(B.id).disconnectSockets();
const reasonB = await Promise.race([bGone, sleep(3000).then(() => "nothing")]);
check("node disconnectSockets", reasonB === "io server disconnect", reasonB);
const nGone = disconnected(N);
await A.emitWithAck("disconnect_room", N.id);
const reasonN = await Promise.race([nGone, sleep(3000).then(() => "nothing")]);
check("rust disconnectSockets", reasonN === "io server disconnect", reasonN);
console.log("ok disconnectSockets");

// 10. Faults: netladder B stops answering (SIGSTOP: still subscribed, so
// still counted). Requests time out cleanly, the others keep serving.
await freeze(Number(pidB));
try {
  let timedOut = false;
  try {
    await nsp.fetchSockets();
  } catch (e) {
    timedOut = /timeout/.test(String(e));
  }
  check("node fetch times out", timedOut, "no timeout error");
  const t0 = Date.now();
  const late = await A.timeout(10000).emitWithAck("fetch", "room1");
  check("rust fetch times out", late.timed_out && late.expected === 2 && late.answered === 1, late);
  check("rust fetch timeout ~5 s", Date.now() - t0 >= 4500, Date.now() - t0);
  const N2 = await client("N2", nodeAddr);
  await N2.emitWithAck("join", "room1");
  A.said = [];
  await A.emitWithAck("say", "room1", "still-A");
  await N2.emitWithAck("say", "room1", "still-N");
  await sleep(500);
  check("still serving N", same(N2.said, ["still-A"]), N2.said);
  check("still serving A", same(A.said, ["still-N"]), A.said);
  console.log("ok fault");
  N2.close();
} finally {
  process.kill(Number(pidB), "SIGCONT");
}

A.close();
io.close();
await Promise.allSettled([pub.quit(), sub.quit()]);
console.log("ok done");
process.exit(0);
