// Chapter 6's emitter interop: Node's official @socket.io/redis-emitter
// (a process that is no Socket.IO server) reaches clients on netladder
// servers (`ch05-sio-server --redis URL`, two of them, started by
// tests/ch06_emitter.rs). One official socket.io-client sits on each server
// in the `/cluster` namespace; the emitter broadcasts to a room, to the
// namespace, with `except`, with binary, and runs socketsJoin,
// socketsLeave and disconnectSockets. Prints `ok <step>` per step; on the
// first failure prints `FAIL <step>: <detail>` and exits 1.
//   node redis_emitter_peer.mjs REDIS_URL HOST:PORT_A HOST:PORT_B
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import { io as connect } from "socket.io-client";

const [url, addrA, addrB] = process.argv.slice(2);
const fail = (step, detail) => {
  console.log(`FAIL ${step}: ${JSON.stringify(detail)}`);
  process.exit(1);
};
setTimeout(() => fail("overall", "still running after 60 s"), 60000).unref();
process.on("uncaughtException", (e) => fail("exception", String(e)));
process.on("unhandledRejection", (e) => fail("rejection", String(e)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const check = (step, ok, detail) => {
  if (!ok) fail(step, detail);
};

const redis = createClient({ url });
redis.on("error", () => {});
await redis.connect();
const emitter = new Emitter(redis).of("/cluster");

// A client on `addr`, recording every event it gets.
const client = (name, addr, transports) =>
  new Promise((resolve, reject) => {
    const c = connect(`http://${addr}/cluster`, { transports, reconnection: false });
    c.got = [];
    c.onAny((event, ...args) => c.got.push([event, ...args]));
    c.on("connect", () => resolve(c));
    c.on("connect_error", (e) => reject(new Error(`${name}: ${e.message}`)));
  });
const a = await client("a", addrA, ["websocket"]);
const b = await client("b", addrB, ["polling"]);
check("join", (await a.emitWithAck("join", "r")).includes("r"), "a joins r");
check("join", (await b.emitWithAck("join", "r")).includes("r"), "b joins r");
console.log("ok connected");

// What each client got after the emitter acted, then a fresh start.
const settle = async () => {
  await sleep(400);
  const got = [a.got, b.got];
  a.got = [];
  b.got = [];
  return got;
};

emitter.to("r").emit("news", { a: 1 });
let [ga, gb] = await settle();
check("room", same(ga, [["news", { a: 1 }]]) && same(gb, [["news", { a: 1 }]]), { ga, gb });
console.log("ok room");

emitter.emit("all", "hello", 2);
[ga, gb] = await settle();
check("namespace", same(ga, [["all", "hello", 2]]) && same(gb, [["all", "hello", 2]]), { ga, gb });
console.log("ok namespace");

emitter.to("r").except(a.id).emit("not-a", 3);
[ga, gb] = await settle();
check("except", same(ga, []) && same(gb, [["not-a", 3]]), { ga, gb });
console.log("ok except");

emitter.to("r").emit("bin", Buffer.from([1, 2, 3]));
[ga, gb] = await settle();
const isBin = (got) =>
  got.length === 1 && got[0][0] === "bin" && Buffer.from(got[0][1]).equals(Buffer.from([1, 2, 3]));
check("binary", isBin(ga) && isBin(gb), { ga, gb });
console.log("ok binary");

emitter.to("nobody").emit("lost", 0);
[ga, gb] = await settle();
check("other room", same(ga, []) && same(gb, []), { ga, gb });
console.log("ok other room");

emitter.in(b.id).socketsJoin("r2");
await sleep(300);
emitter.to("r2").emit("r2", "b only");
[ga, gb] = await settle();
check("socketsJoin", same(ga, []) && same(gb, [["r2", "b only"]]), { ga, gb });
console.log("ok socketsJoin");

emitter.in("r").socketsLeave("r");
await sleep(300);
emitter.to("r").emit("news", "after leave");
[ga, gb] = await settle();
check("socketsLeave", same(ga, []) && same(gb, []), { ga, gb });
console.log("ok socketsLeave");

const gone = (c) => new Promise((resolve) => c.on("disconnect", (reason) => resolve(reason)));
const goneA = gone(a);
const goneB = gone(b);
emitter.in("r2").disconnectSockets(true);
const reasonB = await Promise.race([goneB, sleep(3000).then(() => "still connected")]);
check("disconnectSockets", reasonB === "io server disconnect", reasonB);
await sleep(300);
check("disconnectSockets", a.connected, "a is outside r2 and stays");
console.log("ok disconnectSockets");

emitter.disconnectSockets(true);
const reasonA = await Promise.race([goneA, sleep(3000).then(() => "still connected")]);
check("disconnect all", reasonA === "io server disconnect", reasonA);
console.log("ok done");
await redis.quit();
process.exit(0);
