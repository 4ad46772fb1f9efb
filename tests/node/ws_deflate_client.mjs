// Node's `ws` as a compressing client of a netladder WebSocket server:
// requires permessage-deflate to be negotiated, then checks echoes of chat
// JSON, a large text, binary and an empty message, and a clean close.
// Usage: node ws_deflate_client.mjs ws://127.0.0.1:PORT/echo
import WebSocket from "ws";

const url = process.argv[2];
const socket = new WebSocket(url, { perMessageDeflate: { threshold: 0 } });
const chat = JSON.stringify({ user: "ada", room: "lobby", text: "hello, hello, everyone" });
const messages = [chat, chat, "x".repeat(300000), Buffer.from([...Array(256).keys()]), "", chat];
const fail = (why) => {
  console.error("node ws client: " + why);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 20000).unref();
socket.on("error", (error) => fail(String(error)));
socket.on("open", () => {
  if (!socket.extensions.startsWith("permessage-deflate")) fail("no compression: " + socket.extensions);
  socket.send(messages[0]);
});
let index = 0;
socket.on("message", (data, isBinary) => {
  const sent = messages[index];
  const same = typeof sent === "string" ? !isBinary && data.toString() === sent : isBinary && data.equals(sent);
  if (!same) fail(`echo ${index} differs`);
  index += 1;
  if (index < messages.length) socket.send(messages[index]);
  else socket.close(1000);
});
socket.on("close", (code) => {
  if (index !== messages.length || code !== 1000) fail(`closed with ${code} after ${index} echoes`);
  console.log(`node ws client: ${index} echoes ok, extensions: ${socket.extensions}`);
  process.exit(0);
});
