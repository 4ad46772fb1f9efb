// Headless Chromium (Debian's) against ch05-sio-server, which this script
// starts and restarts itself:
//   1. the chat page at / with its hand-written Socket.IO client: three
//      browser contexts, alice and bob in #general, carol in #random; who
//      receives what, typing notices, delivered ticks, the room list with
//      members, and reconnection after the server restarts; screenshots;
//   2. the official socket.io-client browser bundle (dist/socket.io.min.js)
//      on a page from another origin (the server runs with --cors-origin):
//      default transports, polling only, WebSocket only; `echo` with binary,
//      and the /chat namespace between two bundle sockets.
// Usage: node sio_browser.mjs SERVER_BINARY threads|mio [SCREENSHOT_DIR]
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { readFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const [binary, driver, shots] = process.argv.slice(2);
if (!binary || !driver) {
  console.error("usage: node sio_browser.mjs SERVER_BINARY threads|mio [SCREENSHOT_DIR]");
  process.exit(2);
}
const bundle = readFileSync(fileURLToPath(new URL("node_modules/socket.io-client/dist/socket.io.min.js", import.meta.url)));

// The page from another origin: the bundle and an empty page to run it in.
const other = createServer((req, res) => {
  if (req.url === "/socket.io.min.js") {
    res.writeHead(200, { "Content-Type": "text/javascript" });
    res.end(bundle);
  } else {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end('<!doctype html><meta charset="utf-8"><title>bundle</title><script src="/socket.io.min.js"></script>');
  }
});
await new Promise((resolve) => other.listen(0, "127.0.0.1", resolve));
const otherOrigin = `http://127.0.0.1:${other.address().port}`;

let server = null;
// Starts the server on `addr`; resolves with the address it listens on.
function start(addr) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [
      "--driver", driver, "--addr", addr, "--cors-origin", otherOrigin,
      "--ping-interval-ms", "1000", "--ping-timeout-ms", "1000",
    ], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" } });
    server = child;
    let out = "";
    const timer = setTimeout(() => reject(new Error("the server did not start")), 10000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = /listening on (\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error("the server exited: " + code)); });
  });
}
function stop() {
  return new Promise((resolve) => {
    if (!server || server.exitCode !== null) return resolve();
    server.removeAllListeners("exit");
    server.on("exit", resolve);
    server.kill();
  });
}

const addr = await start("127.0.0.1:0");
const url = `http://${addr}/`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const T = { timeout: 10000 };
let status = 0;
const step = (text) => console.log("ok: " + text);

async function user(name, room) {
  const context = await browser.newContext({ viewport: { width: 900, height: 560 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => { console.error(`${name}'s page error: ${error}`); status = 1; });
  // Offline-ready: the page asks nothing of any other origin.
  page.on("request", (request) => {
    const origin = new URL(request.url()).host;
    if (origin !== addr) { console.error(`${name}'s page asked ${request.url()}`); status = 1; }
  });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector("#status").textContent === "connected", null, T);
  await page.fill("#name", name);
  await page.click("#set-name");
  await page.waitForFunction((n) => document.querySelector("#whoami").textContent === "you are " + n, name, T);
  await page.fill("#new-room", room);
  await page.click("#join-room");
  await page.waitForFunction((r) => document.querySelector("#current").textContent === r, room, T);
  return page;
}
const members = (page, room) => page.evaluate((r) => {
  const li = document.querySelector(`#rooms li[data-room="${r}"] .members`);
  return li ? li.textContent : null;
}, room);
const texts = (page) => page.evaluate(() => [...document.querySelectorAll("#messages li.msg .text")].map((e) => e.textContent));
async function say(page, text) {
  await page.fill("#text", text);
  await page.click("#send");
  // The delivered tick: the server's ack, with how many others got it.
  await page.waitForFunction((t) => [...document.querySelectorAll("#messages li.msg")]
    .some((li) => li.querySelector(".text").textContent === t && li.querySelector(".tick").dataset.state === "delivered"), text, T);
  return page.evaluate((t) => [...document.querySelectorAll("#messages li.msg")]
    .find((li) => li.querySelector(".text").textContent === t).querySelector(".tick").textContent, text);
}
const sees = (page, text) => page.waitForFunction((t) => [...document.querySelectorAll("#messages li.msg .text")]
  .some((e) => e.textContent === t), text, T);

try {
  // ---- 1. the page's own client ------------------------------------------
  const alice = await user("alice", "general");
  const bob = await user("bob", "general");
  const carol = await user("carol", "random");
  await alice.waitForFunction(() => {
    const m = (r) => document.querySelector(`#rooms li[data-room="${r}"] .members`)?.textContent;
    return m("general") === "alice, bob" && m("random") === "carol";
  }, null, T);
  step(`room list with members: #general "${await members(alice, "general")}", #random "${await members(alice, "random")}"`);

  await bob.type("#text", "hel");
  await alice.waitForFunction(() => document.querySelector("#typing").textContent === "bob is typing\u2026", null, T);
  step("alice sees bob typing");

  const tickA = await say(alice, "hello from alice");
  await sees(bob, "hello from alice");
  const tickB = await say(bob, "hi alice");
  await sees(alice, "hi alice");
  const tickC = await say(carol, "anyone in random?");
  // Everything carol sent was acked before this point, and everything the
  // others sent too: what has not arrived by now is not coming.
  const [a, b, c] = [await texts(alice), await texts(bob), await texts(carol)];
  const want = (got, list) => JSON.stringify(got) === JSON.stringify(list);
  if (!want(a, ["hello from alice", "hi alice"])) throw new Error("alice's room shows " + JSON.stringify(a));
  if (!want(b, ["hello from alice", "hi alice"])) throw new Error("bob's room shows " + JSON.stringify(b));
  if (!want(c, ["anyone in random?"])) throw new Error("carol's room shows " + JSON.stringify(c));
  if (tickA !== "\u2713 1" || tickB !== "\u2713 1" || tickC !== "\u2713 0") {
    throw new Error(`ticks: alice ${tickA}, bob ${tickB}, carol ${tickC}`);
  }
  step(`alice and bob get #general's messages, carol only #random's; ticks ${tickA} / ${tickB} / ${tickC}`);
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await alice.screenshot({ path: `${shots}/chat-alice.png` });
    await carol.screenshot({ path: `${shots}/chat-carol.png` });
  }

  // Bob leaves #general: alice is told, and the list follows.
  await bob.click("#leave");
  await alice.waitForFunction(() => [...document.querySelectorAll("#messages li.system")].some((e) => e.textContent === "bob left"), null, T);
  await alice.waitForFunction(() => document.querySelector('#rooms li[data-room="general"] .members').textContent === "alice", null, T);
  await bob.fill("#new-room", "general");
  await bob.click("#join-room");
  await alice.waitForFunction(() => document.querySelector('#rooms li[data-room="general"] .members').textContent === "alice, bob", null, T);
  step("bob leaves and rejoins #general; alice sees both");

  // The server restarts on the same address: every page shows it, then
  // reconnects, says who it is again and rejoins its rooms.
  await stop();
  await alice.waitForFunction(() => document.querySelector("#status").className !== "connected", null, T);
  const shown = await alice.evaluate(() => document.querySelector("#status").textContent);
  await start(addr);
  for (const page of [alice, bob, carol]) {
    await page.waitForFunction(() => document.querySelector("#status").textContent === "connected", null, { timeout: 15000 });
  }
  await alice.waitForFunction(() => document.querySelector('#rooms li[data-room="general"] .members')?.textContent === "alice, bob"
    && document.querySelector('#rooms li[data-room="random"] .members')?.textContent === "carol", null, T);
  await say(bob, "back again");
  await sees(alice, "back again");
  const log = await alice.evaluate(() => [...document.querySelectorAll("#events li")].map((e) => e.textContent.replace(/^\S+ /, "")).reverse());
  if (!log.some((l) => l.startsWith("reconnected"))) throw new Error("alice's log: " + log.join(" | "));
  step(`server restart: the page showed "${shown}", reconnected, rejoined, and messages flow again`);
  if (shots) await alice.screenshot({ path: `${shots}/chat-reconnected.png` });

  // ---- 2. the official browser bundle, from another origin -----------------
  const page = await browser.newPage();
  page.on("pageerror", (error) => { console.error("bundle page error: " + error); status = 1; });
  await page.goto(otherOrigin + "/");
  for (const transports of [null, ["polling"], ["websocket"]]) {
    const result = await page.evaluate(([origin, transports]) => new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error("timed out")), 10000);
      const opts = transports ? { transports, forceNew: true } : { forceNew: true };
      const socket = io(origin, opts);
      socket.on("connect_error", (e) => reject(new Error("connect_error: " + e.message)));
      socket.on("connect", () => {
        const bytes = new Uint8Array([1, 2, 3, 255]);
        // emitWithAck keeps only the first argument of the answer: a callback sees all.
        socket.timeout(5000).emit("echo", "text", { nested: bytes }, 42, (err, ...answer) => {
        if (err) return reject(err);
        const nested = new Uint8Array(answer[1].nested);
        const transport = socket.io.engine.transport.name;
        socket.disconnect();
        resolve(`${transport}: echo ${JSON.stringify(answer[0])} [${Array.from(nested)}] ${answer[2]}`);
        });
      });
    }), [`http://${addr}`, transports]);
    if (!result.endsWith(': echo "text" [1,2,3,255] 42')) throw new Error("bundle echo: " + result);
    step(`official bundle (transports ${transports ? transports.join(",") : "default"}) from ${otherOrigin}: ${result}`);
  }
  // The async-mode events answer from where they ran; bad requests are refused.
  const slow = await page.evaluate(async (origin) => {
    const socket = io(origin, { forceNew: true, transports: ["websocket"] });
    const ask = (event, arg) => socket.timeout(5000).emitWithAck(event, arg);
    const answers = [await ask("slow", { ms: 20 }), await ask("slow-offload", { ms: 20 }), await ask("slow-offload", { ms: 999999 })];
    socket.disconnect();
    return answers.map((a) => a.ok ? `${a.where} ${a.ms} ms` : "refused").join(", ");
  }, `http://${addr}`);
  if (slow !== "inline 20 ms, worker 20 ms, refused") throw new Error("slow events: " + slow);
  step("slow events: " + slow);
  const chat = await page.evaluate((origin) => new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error("timed out")), 10000);
    const one = io(origin + "/chat", { forceNew: true });
    const two = io(origin + "/chat", { forceNew: true });
    let ready = 0;
    const setup = async (socket, name) => {
      const named = await socket.emitWithAck("name", name);
      const joined = await socket.emitWithAck("join", "bundle");
      if (!named.ok || !joined.ok) reject(new Error("refused: " + JSON.stringify([named, joined])));
      if (++ready === 2) {
        const ack = await one.emitWithAck("chat", { room: "bundle", text: "from the bundle" });
        if (!ack.ok) reject(new Error("chat refused"));
        const m = await heard;
        one.disconnect();
        two.disconnect();
        resolve(`${m.from} -> #${m.room}: ${m.text} (ack ok ${ack.ok}, to ${ack.to})`);
      }
    };
    const heard = new Promise((got) => two.on("chat", got));
    one.on("connect", () => setup(one, "bundle-1"));
    two.on("connect", () => setup(two, "bundle-2"));
  }), `http://${addr}`);
  if (chat !== "bundle-1 -> #bundle: from the bundle (ack ok true, to 1)") throw new Error("bundle chat: " + chat);
  step("official bundle on /chat: " + chat);
} catch (error) {
  console.log("FAILED: headless Chromium (" + driver + "): " + error);
  status = 1;
}
await browser.close();
await stop();
other.close();
process.exit(status);
