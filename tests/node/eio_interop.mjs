// The official engine.io-client (npm) against ch05-eio-server.
// Usage: node eio_interop.mjs http://127.0.0.1:PORT MAX_PAYLOAD
// The server must run with --ping-interval-ms 300 --ping-timeout-ms 200.
// Each case prints "ok: ..." or "FAILED: ..."; the exit status is 1 if any failed.
import { Socket } from "engine.io-client";

const [base, maxPayloadArg] = process.argv.slice(2);
const MAX = Number(maxPayloadArg);
let failed = 0;

function open(options) {
  return new Socket(base, { path: "/engine.io/", ...options });
}

function within(ms, what, f) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    f(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}

const opened = (socket) => within(5000, "open", (ok, fail) => {
  socket.on("open", ok);
  socket.on("error", fail);
});

const nextMessage = (socket) => within(10000, "a message", (ok) => socket.once("message", ok));

const closed = (socket, ms) => within(ms, "close", (ok) => socket.on("close", (reason) => ok(reason)));

function same(a, b) {
  if (typeof a === "string" || typeof b === "string") return a === b;
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.equals(y);
}

async function echo(socket, data) {
  const reply = nextMessage(socket);
  socket.send(data);
  const got = await reply;
  if (!same(got, data)) {
    throw new Error(`echo differs: sent ${String(data).slice(0, 40)}, got ${String(got).slice(0, 40)}`);
  }
}

async function run(name, f) {
  try {
    await f();
    console.log(`ok: engine.io-client ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED: engine.io-client ${name}: ${e.message}`);
  }
}

await run("default (polling, then upgrade to websocket)", async () => {
  const socket = open({});
  await opened(socket);
  if (socket.transport.name !== "polling") throw new Error(`opened on ${socket.transport.name}`);
  await echo(socket, "before the upgrade");
  if (socket.transport.name !== "websocket") {
    await within(5000, "upgrade", (ok) => socket.on("upgrade", ok));
  }
  await echo(socket, "after the upgrade");
  // Many messages across the heartbeat: none lost, in order.
  const got = [];
  const all = within(10000, "100 echoes", (ok) => {
    socket.on("message", (m) => { got.push(m); if (got.length === 100) ok(); });
  });
  for (let i = 0; i < 100; i++) socket.send(String(i));
  await all;
  if (got.join(",") !== [...Array(100).keys()].join(",")) throw new Error("out of order");
  socket.close();
});

await run("polling only", async () => {
  const socket = open({ transports: ["polling"] });
  await opened(socket);
  await echo(socket, "over polling");
  await echo(socket, "héllo, wörld");
  // Survives several heartbeats (pingInterval 300 ms).
  await new Promise((r) => setTimeout(r, 1000));
  await echo(socket, "still here");
  if (socket.transport.name !== "polling") throw new Error("left polling");
  socket.close();
});

await run("websocket only", async () => {
  const socket = open({ transports: ["websocket"] });
  await opened(socket);
  if (socket.transport.name !== "websocket") throw new Error(`on ${socket.transport.name}`);
  await echo(socket, "over websocket");
  await new Promise((r) => setTimeout(r, 1000));
  await echo(socket, "still here");
  socket.close();
});

for (const transports of [["polling"], ["websocket"]]) {
  await run(`binary (${transports[0]})`, async () => {
    const socket = open({ transports });
    await opened(socket);
    await echo(socket, Uint8Array.from([0, 1, 2, 254, 255]));
    await echo(socket, new Uint8Array(70000).fill(7));
    socket.close();
  });
}

// On polling a message travels as "4" + text: a payload of exactly
// maxPayload bytes is a message of maxPayload - 1 characters. The same
// limit holds on a WebSocket (the frame is "4" + text).
for (const transports of [["polling"], ["websocket"]]) {
  await run(`a payload of exactly maxPayload (${transports[0]})`, async () => {
    const socket = open({ transports });
    await opened(socket);
    await echo(socket, "x".repeat(MAX - 1));
    socket.close();
  });
  await run(`a payload over maxPayload is refused (${transports[0]})`, async () => {
    const socket = open({ transports });
    await opened(socket);
    const reason = closed(socket, 5000);
    let echoed = false;
    socket.on("message", () => { echoed = true; });
    socket.send("x".repeat(MAX));
    const why = await reason;
    if (echoed) throw new Error("an oversized message was echoed");
    console.log(`   (client saw: ${why})`);
  });
}

for (const transports of [["polling"], ["websocket"]]) {
  await run(`heartbeat timeout when the client stops answering (${transports[0]})`, async () => {
    const socket = open({ transports });
    await opened(socket);
    const sid = socket.id;
    // Stop answering pings: drop every pong the client would send.
    const send = socket._sendPacket.bind(socket);
    socket._sendPacket = (type, ...rest) => (type === "pong" ? undefined : send(type, ...rest));
    const started = Date.now();
    // The server pings every 300 ms and waits 200 ms: it must close well
    // before the client's own timer (pingInterval + pingTimeout after the
    // last ping) would.
    const why = await closed(socket, 5000);
    if (why === "ping timeout") throw new Error("the client timed out, not the server");
    const r = await fetch(`${base}/engine.io/?EIO=4&transport=polling&sid=${sid}`);
    const body = await r.text();
    if (r.status !== 400 || !body.includes('"code":1')) {
      throw new Error(`the session still answers: ${r.status} ${body}`);
    }
    console.log(`   (closed after ${Date.now() - started} ms; client saw: ${why})`);
  });
}

// permessage-deflate: engine.io-client under Node offers it through ws
// (perMessageDeflate, threshold 1024 bytes), and ch05-eio-server accepts
// it by default; ws reports what was agreed in `extensions`.
for (const transports of [["websocket"], ["polling", "websocket"]]) {
  await run(`permessage-deflate negotiated (${transports.join(" then ")})`, async () => {
    const socket = open({ transports });
    await opened(socket);
    if (socket.transport.name !== "websocket") {
      await within(5000, "upgrade", (ok) => socket.on("upgrade", ok));
    }
    const agreed = socket.transport.ws.extensions;
    if (!String(agreed).includes("permessage-deflate")) {
      throw new Error(`not negotiated: extensions = ${JSON.stringify(agreed)}`);
    }
    // Over the threshold: compressed both ways.
    await echo(socket, "compress me, ".repeat(1000));
    await echo(socket, new Uint8Array(5000).fill(9));
    await echo(socket, "small");
    console.log(`   (ws agreed: ${agreed})`);
    socket.close();
  });
}

process.exit(failed ? 1 : 0);
