// The official engine.io-client (npm) through ch06-balancer, in front of
// several ch05-eio-server backends.
// Usage: node eio_balancer.mjs http://127.0.0.1:PORT
// Each case prints "ok: ..." or "FAILED: ..."; the exit status is 1 if any failed.
import { Socket } from "engine.io-client";

const [base] = process.argv.slice(2);
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

// Sends `count` messages and waits for all their echoes, in order.
async function echoes(socket, label, count) {
  const got = [];
  const all = within(15000, `${count} echoes`, (ok, fail) => {
    socket.on("message", (m) => { got.push(m); if (got.length === count) ok(); });
    socket.on("close", (reason) => fail(new Error(`closed: ${reason}`)));
  });
  const sent = [];
  for (let i = 0; i < count; i++) {
    sent.push(`${label} ${i}`);
    socket.send(`${label} ${i}`);
  }
  await all;
  if (got.join("|") !== sent.join("|")) throw new Error(`echoes differ for ${label}`);
}

async function run(name, f) {
  try {
    await f();
    console.log(`ok: engine.io-client through the balancer: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED: engine.io-client through the balancer: ${name}: ${e.message}`);
  }
}

await run("six polling-only sessions at once, 50 messages each", async () => {
  const sockets = Array.from({ length: 6 }, () => open({ transports: ["polling"] }));
  await Promise.all(sockets.map(opened));
  await Promise.all(sockets.map((s, i) => echoes(s, `poller${i}`, 50)));
  // Across a few heartbeats (pingInterval 1 s in the tests): the sessions live on.
  await new Promise((r) => setTimeout(r, 2500));
  await Promise.all(sockets.map((s, i) => echoes(s, `again${i}`, 5)));
  for (const s of sockets) {
    if (s.transport.name !== "polling") throw new Error("left polling");
    s.close();
  }
});

await run("default transports: polling, then the upgrade to websocket", async () => {
  const sockets = Array.from({ length: 3 }, () => open({}));
  await Promise.all(sockets.map(opened));
  for (const s of sockets) {
    if (s.transport.name !== "websocket") {
      await within(5000, "upgrade", (ok) => s.on("upgrade", ok));
    }
  }
  await Promise.all(sockets.map((s, i) => echoes(s, `upgraded${i}`, 100)));
  for (const s of sockets) s.close();
});

await run("websocket only", async () => {
  const socket = open({ transports: ["websocket"] });
  await opened(socket);
  if (socket.transport.name !== "websocket") throw new Error(`on ${socket.transport.name}`);
  await echoes(socket, "ws", 50);
  socket.close();
});

process.exit(failed === 0 ? 0 : 1);
