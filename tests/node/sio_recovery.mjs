// Connection state recovery with the official socket.io-client (npm)
// against ch05-sio-server started with --recovery-ms (recovery on), from
// scripts/sio-interop.
// Usage: node sio_recovery.mjs http://127.0.0.1:PORT
// For each transport setting: client A joins room "r" on /interop and gets
// one broadcast (its first offset); its transport is then killed
// (`socket.io.engine.close()`); while it is away, client B has the server
// emit two events to "r" and one to another room; A reconnects and must see
// `socket.recovered === true`, the same id, and exactly the two missed
// events, in order. Then a deliberate `disconnect()` + `connect()` must NOT
// recover. Prints "ok: ..." or "FAILED: ..."; exit status 1 if any failed.
import { io } from "socket.io-client";

const [base] = process.argv.slice(2);
let failed = 0;

function within(ms, what, f) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    f(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}

const connected = (socket) => within(5000, "connect", (ok, fail) => {
  if (socket.connected) return ok();
  socket.once("connect", ok);
  socket.once("connect_error", fail);
});

function open(transports) {
  return io(`${base}/interop`, {
    transports,
    forceNew: true,
    reconnectionDelay: 300,
    reconnectionDelayMax: 300,
    randomizationFactor: 0,
  });
}

// The server's "broadcast" handler emits {event, args} to a room and acks
// with how many sockets it reached.
const broadcast = (socket, room, event, args) =>
  within(5000, `broadcast ${event}`, (ok) => socket.emit("broadcast", { room, event, args }, ok));

const join = (socket, room) => within(5000, `join ${room}`, (ok) => socket.emit("join", room, ok));

async function scenario(name, transports) {
  const a = open(transports);
  const b = open(["websocket"]);
  try {
    await Promise.all([connected(a), connected(b)]);
    await join(a, "r");
    const got = [];
    a.on("news", (...args) => got.push(args));
    const first = within(5000, "first news", (ok) => a.once("news", ok));
    await broadcast(b, "r", "news", ["before"]);
    await first;
    const offset = got[0][got[0].length - 1];
    if (typeof offset !== "string") throw new Error(`no offset as last argument: ${JSON.stringify(got[0])}`);
    const id = a.id;

    // Kill the transport; emit while A is away.
    const gone = within(5000, "disconnect", (ok) => a.once("disconnect", ok));
    a.io.engine.close();
    const reason = await gone;
    await broadcast(b, "r", "news", ["missed 1"]);
    await broadcast(b, "elsewhere", "news", ["not for A"]);
    await broadcast(b, "r", "news", ["missed 2"]);
    await within(5000, "reconnect", (ok) => a.once("connect", ok));
    // The replayed events come right after the CONNECT answer.
    await within(2000, "missed events", (ok) => {
      const check = () => (got.length >= 3 ? ok() : setTimeout(check, 20));
      check();
    });
    await new Promise((r) => setTimeout(r, 100)); // nothing more must come
    const texts = got.slice(1).map((args) => args[0]);
    if (!a.recovered) throw new Error("socket.recovered is false after a transport close");
    if (a.id !== id) throw new Error(`id changed: ${id} -> ${a.id}`);
    if (JSON.stringify(texts) !== JSON.stringify(["missed 1", "missed 2"]))
      throw new Error(`missed events: ${JSON.stringify(got.slice(1))}`);
    // Still in the room after recovery: a live broadcast reaches it.
    const live = within(5000, "live news", (ok) => a.once("news", ok));
    await broadcast(b, "r", "news", ["after"]);
    await live;

    // A deliberate disconnect is not recoverable.
    a.disconnect();
    await broadcast(b, "r", "news", ["while gone on purpose"]);
    a.connect();
    await connected(a);
    if (a.recovered) throw new Error("recovered after a deliberate disconnect()");
    if (a.id === id) throw new Error("same id after a deliberate disconnect()");
    console.log(`ok: recovery (${name}): transport killed (${reason}), same id, 2 missed events replayed; deliberate disconnect starts afresh`);
  } catch (err) {
    failed++;
    console.log(`FAILED: recovery (${name}): ${err.message}`);
  } finally {
    a.close();
    b.close();
  }
}

await scenario("default transports", ["polling", "websocket"]);
await scenario("websocket only", ["websocket"]);
await scenario("polling only", ["polling"]);
process.exit(failed ? 1 : 0);
