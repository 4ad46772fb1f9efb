// The official socket.io-client (npm) against ch05-sio-server.
// Usage: node sio_interop.mjs SERVER_BINARY DRIVER
// It starts the server itself (on a free port, with short heartbeats) so
// that it can restart it on the same port for the reconnection case.
// The server's test namespaces are described in chapters/ch05/sio_interop.rs.
// Each case prints "ok: ..." or "FAILED: ..."; the exit status is 1 if any failed.
import { io } from "socket.io-client";
import { spawn } from "node:child_process";
import { isDeepStrictEqual } from "node:util";

const [binary, driver] = process.argv.slice(2);
let failed = 0;
let server = null;
let base = null;

async function startServer(addr) {
  server = spawn(binary, [
    "--driver", driver, "--addr", addr,
    "--ping-interval-ms", "500", "--ping-timeout-ms", "400",
  ], { stdio: ["ignore", "pipe", "ignore"] });
  const line = await within(10000, "the listening line", (ok, fail) => {
    let buffer = "";
    server.stdout.on("data", (chunk) => {
      buffer += chunk;
      const m = buffer.match(/^listening on (\S+)\n/m);
      if (m) ok(m[1]);
    });
    server.on("exit", (code) => fail(new Error(`server exited (${code})`)));
  });
  base = `http://${line}`;
  return line;
}

async function stopServer() {
  const s = server;
  server = null;
  if (!s || s.exitCode !== null) return;
  const exited = new Promise((ok) => s.on("exit", ok));
  s.kill("SIGKILL");
  await exited;
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

// Waits until `check()` (sync or async) is true.
async function until(ms, what, check) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((ok) => setTimeout(ok, 10));
  }
}

const sockets = [];
function open(nsp, options = {}) {
  const socket = io(base + nsp, { forceNew: true, reconnection: false, ...options });
  sockets.push(socket);
  return socket;
}

const connected = (socket) => within(5000, "connect", (ok, fail) => {
  if (socket.connected) return ok();
  socket.once("connect", ok);
  socket.once("connect_error", fail);
});

const next = (socket, event, ms = 5000) => within(ms, `event ${event}`, (ok) => socket.once(event, (...args) => ok(args)));

function expect(what, got, want) {
  if (!isDeepStrictEqual(got, want)) {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

async function run(name, f) {
  try {
    await f();
    console.log(`ok: socket.io-client ${name} (${driver})`);
  } catch (e) {
    failed++;
    console.log(`FAILED: socket.io-client ${name} (${driver}): ${e.message}`);
  }
  for (const s of sockets.splice(0)) s.disconnect();
}

// Several arguments, binary nested in objects and arrays.
const ARGS = [
  "text", 42, null, true,
  { bytes: Buffer.from([0, 1, 2, 255]), list: [Buffer.from("more"), { deep: Buffer.alloc(3, 7) }] },
  [1, "two", Buffer.from([3])],
];

await startServer("127.0.0.1:0");

for (const [label, transports, final] of [
  ["default transports (polling, then websocket)", undefined, "websocket"],
  ["polling only", ["polling"], "polling"],
  ["websocket only", ["websocket"], "websocket"],
]) {
  await run(`${label}: echo with ack, several args and nested binary`, async () => {
    const s = open("/", transports ? { transports } : {});
    await connected(s);
    // emitWithAck resolves with the first argument; a callback sees all.
    const all = await within(5000, "echo ack", (ok) => s.emit("echo", ...ARGS, (...got) => ok(got)));
    expect("echo", all, ARGS);
    if (final === "websocket" && s.io.engine.transport.name !== "websocket") {
      await within(5000, "upgrade", (ok) => s.io.engine.once("upgrade", ok));
    }
    expect("transport", s.io.engine.transport.name, final);
    const again = await s.timeout(5000).emitWithAck("echo", { n: Buffer.from("x") });
    expect("emitWithAck", again, { n: Buffer.from("x") });
  });
}

await run("namespaces multiplexed on one connection, auth, connect_error from middleware", async () => {
  const manager = io(base, { forceNew: true, reconnection: false, autoConnect: false }).io;
  const main = manager.socket("/");
  const interop = manager.socket("/interop");
  const auth = manager.socket("/auth", { auth: { token: "s3cret" } });
  // A manager keeps one socket per namespace: the refusal gets its own.
  const refused = io(base + "/auth", { forceNew: true, reconnection: false, autoConnect: false });
  const nowhere = manager.socket("/nowhere");
  sockets.push(main, interop, auth, refused, nowhere);
  const errors = [within(5000, "connect_error", (ok) => refused.once("connect_error", ok)),
    within(5000, "connect_error", (ok) => nowhere.once("connect_error", ok))];
  for (const s of [main, interop, auth, refused, nowhere]) s.connect();
  await Promise.all([connected(main), connected(interop), connected(auth)]);
  const [denied, invalid] = await Promise.all(errors);
  expect("refusal", [denied.message, denied.data], ["not authorized", { reason: "no token" }]);
  expect("unknown namespace", invalid.message, "Invalid namespace");
  expect("one connection", new Set([main, interop, auth].map((s) => s.io.engine.id)).size, 1);
  expect("whoami", await auth.timeout(5000).emitWithAck("whoami"), "s3cret");
  expect("ids differ per namespace", main.id !== interop.id, true);
});

await run("acks both ways and ack timeouts on both sides", async () => {
  const s = open("/interop");
  await connected(s);
  s.on("question", (n, cb) => cb(n + 1, Buffer.from("ans")));
  s.on("silence", () => {});
  let asked = next(s, "asked");
  await s.timeout(5000).emitWithAck("ask", { event: "question", args: [41], timeout_ms: 3000 });
  const [report] = await asked;
  if (!report.ok || report.args[0] !== 42) throw new Error(`ask report ${JSON.stringify(report)}`);
  asked = next(s, "asked");
  await s.timeout(5000).emitWithAck("ask", { event: "silence", args: [], timeout_ms: 200 });
  expect("server ack timeout", (await asked)[0], { ok: false });
  const err = await within(3000, "client ack timeout", (ok) => s.timeout(200).emit("never", (e) => ok(e)));
  expect("client ack timeout", err instanceof Error && /timed out/.test(err.message), true);
});

await run("room broadcasts with except (a room, a socket id)", async () => {
  const [a, b, c] = [open("/interop"), open("/interop"), open("/interop")];
  await Promise.all([a, b, c].map(connected));
  for (const s of [a, b, c]) await s.timeout(5000).emitWithAck("join", "room1");
  expect("rooms", await b.timeout(5000).emitWithAck("join", "vip"), [b.id, "room1", "vip"].sort());
  const got = { a: [], b: [], c: [] };
  for (const [k, s] of Object.entries({ a, b, c })) s.onAny((event, ...args) => got[k].push([event, ...args]));
  const n1 = await a.timeout(5000).emitWithAck("broadcast", { room: "room1", except: "vip", event: "news", args: [1, "x"] });
  const n2 = await a.timeout(5000).emitWithAck("broadcast", { room: "room1", except: c.id, event: "news", args: [2] });
  const n3 = await a.timeout(5000).emitWithAck("broadcast", { room: "room1", event: "end", args: [] });
  expect("reached", [n1, n2, n3], [2, 2, 3]);
  await until(5000, "every end", () => Object.values(got).every((l) => l.some((e) => e[0] === "end")));
  expect("a", got.a, [["news", 1, "x"], ["news", 2], ["end"]]);
  expect("b", got.b, [["news", 2], ["end"]]);
  expect("c", got.c, [["news", 1, "x"], ["end"]]);
  expect("after leave", await c.timeout(5000).emitWithAck("leave", "room1"), [c.id]);
  expect("reached after leave", await a.timeout(5000).emitWithAck("broadcast", { room: "room1", event: "x" }), 2);
});

await run("disconnects from either side, with reasons", async () => {
  const watcher = open("/interop");
  const [byClient, byServer, byServerClose] = [open("/interop"), open("/interop"), open("/interop")];
  await Promise.all([watcher, byClient, byServer, byServerClose].map(connected));
  const ids = [byClient.id, byServer.id, byServerClose.id];
  const reasons = [byClient, byServer, byServerClose].map((s) => next(s, "disconnect"));
  byClient.disconnect();
  byServer.emit("disconnect_me", false);
  byServerClose.emit("disconnect_me", true);
  const [[r1], [r2], [r3]] = await Promise.all(reasons);
  expect("client-side reasons", [r1, r2, r3], ["io client disconnect", "io server disconnect", "io server disconnect"]);
  let seen = [];
  await until(5000, "server reasons", async () => {
    const list = await watcher.timeout(5000).emitWithAck("disconnects");
    seen = ids.map((id) => (list.find((e) => e[0] === id) || [])[1]);
    return seen.every(Boolean);
  });
  expect("server-side reasons", seen, ["client namespace disconnect", "server namespace disconnect", "server namespace disconnect"]);
});

await run("reconnection after a server restart", async () => {
  const s = open("/", { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200, transports: ["websocket"] });
  await connected(s);
  const firstId = s.id;
  const gone = next(s, "disconnect");
  const addr = base.slice("http://".length);
  await stopServer();
  expect("reason", (await gone)[0], "transport close");
  const back = within(10000, "reconnect", (ok) => s.io.once("reconnect", ok));
  await startServer(addr);
  await back;
  await connected(s);
  expect("a new socket id", s.id !== firstId, true);
  expect("echo after reconnect", await s.timeout(5000).emitWithAck("echo", "again"), "again");
});

// Connection state recovery (socket.recovered) is checked by
// sio_recovery.mjs, which scripts/sio-interop runs against a server started
// with --recovery-ms.

await stopServer();
process.exit(failed ? 1 : 0);
