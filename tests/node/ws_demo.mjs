// Headless Chromium (Debian's) against ch03-ws-server's demo page:
// the echo works, and a chat message from one tab reaches another.
// Usage: node ws_demo.mjs http://127.0.0.1:PORT/
import { chromium } from "playwright-core";

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const fail = async (message) => {
  console.error("browser test failed: " + message);
  await browser.close();
  process.exit(1);
};
try {
  const context = await browser.newContext();
  const [first, second] = [await context.newPage(), await context.newPage()];
  for (const page of [first, second]) {
    page.on("pageerror", (error) => console.error("page error: " + error));
    await page.goto(url);
    await page.waitForFunction(() => document.querySelector("#status").textContent.includes("connected"), null, { timeout: 10000 });
  }
  // The browser offered permessage-deflate and the page saw it accepted.
  const wanted = process.env.EXPECT_EXTENSIONS || "permessage-deflate";
  const status = await first.textContent("#status");
  if (!status.includes("compression: " + wanted)) await fail("status says: " + status);
  const long = "a compressed echo, ".repeat(40);
  await first.fill("#echo-text", long);
  await first.click("#echo-send");
  await first.waitForFunction((text) => document.querySelector("#echo-log").textContent.includes("← " + text), long, { timeout: 10000 });
  await first.fill("#echo-text", "hello from chromium");
  await first.click("#echo-send");
  await first.waitForFunction(() => document.querySelector("#echo-log").textContent.includes("hello from chromium"), null, { timeout: 10000 });
  await first.fill("#chat-text", "broadcast ✓");
  await first.click("#chat-send");
  await second.waitForFunction(() => document.querySelector("#chat-log").textContent.includes("broadcast ✓"), null, { timeout: 10000 });
  console.log("browser: echo and broadcast seen in headless Chromium; " + status);
} catch (error) {
  await fail(String(error));
}
await browser.close();
