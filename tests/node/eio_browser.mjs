// Headless Chromium (Debian's) against ch05-eio-server:
//   1. the official engine.io-client browser bundle (dist/engine.io.min.js),
//      loaded into the server's own page: polling, upgrade (with
//      permessage-deflate negotiated by the browser), text and binary;
//   2. the page's own hand-written client: open, upgrade, echo, shown in its log.
// Usage: node eio_browser.mjs http://127.0.0.1:PORT/
import { chromium } from "playwright-core";
import { fileURLToPath } from "node:url";

const url = process.argv[2];
const bundle = fileURLToPath(new URL("node_modules/engine.io-client/dist/engine.io.min.js", import.meta.url));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let status = 0;
try {
  const page = await browser.newPage();
  page.on("pageerror", (error) => console.error("page error: " + error));
  await page.goto(url);
  await page.addScriptTag({ path: bundle });
  const result = await page.evaluate(() => new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error("timed out")), 10000);
    const socket = eio(location.origin, { path: "/engine.io/" });
    const seen = [];
    socket.binaryType = "arraybuffer";
    socket.on("open", () => {
      seen.push("open on " + socket.transport.name);
      socket.send("hello from the bundle");
    });
    socket.on("upgrade", () => {
      seen.push("upgraded to " + socket.transport.name);
      seen.push("extensions " + socket.transport.ws.extensions);
      socket.send(new Uint8Array([1, 2, 3, 255]));
    });
    socket.on("message", (m) => {
      seen.push(typeof m === "string" ? "text " + m : "binary " + Array.from(new Uint8Array(m)).join(","));
      if (typeof m !== "string") { socket.close(); resolve(seen); }
    });
  }));
  const expected = ["open on polling", "text hello from the bundle", "upgraded to websocket", "binary 1,2,3,255"];
  const sorted = (a) => [...a].sort().join("|");
  // The browser offered permessage-deflate and the server accepted it.
  const extensions = result.filter((s) => s.startsWith("extensions "));
  if (extensions.length !== 1 || !extensions[0].startsWith("extensions permessage-deflate")) {
    throw new Error("permessage-deflate not negotiated: " + result.join("; "));
  }
  const rest = result.filter((s) => !s.startsWith("extensions "));
  if (sorted(rest) !== sorted(expected)) throw new Error("the bundle saw: " + result.join("; "));
  console.log("ok: headless Chromium, engine.io-client browser bundle: " + result.join("; "));

  const own = await browser.newPage();
  own.on("pageerror", (error) => console.error("page error: " + error));
  await own.goto(url);
  await own.click("#open");
  await own.waitForFunction(() => document.querySelector("#transport").textContent === "websocket", null, { timeout: 10000 });
  await own.fill("#text", "hello from the page");
  await own.click("#send");
  await own.waitForFunction(() => document.querySelector("#log").textContent.includes('message "hello from the page"'), null, { timeout: 10000 });
  await own.click("#binary");
  await own.waitForFunction(() => document.querySelector("#log").textContent.includes("message binary 4 bytes"), null, { timeout: 10000 });
  console.log("ok: headless Chromium, the page's own client: polling, upgrade, text and binary echo");
} catch (error) {
  console.log("FAILED: headless Chromium: " + error);
  status = 1;
}
await browser.close();
process.exit(status);
