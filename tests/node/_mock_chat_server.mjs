// TEMPORARY (not committed): a Node stand-in for ch05-sio-server's chat, to try the page.
import { Server } from "socket.io";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
const args = process.argv.slice(2);
const get = (k) => args[args.indexOf(k) + 1];
const [host, port] = get("--addr").split(":");
const page = readFileSync(new URL("../../chapters/ch05/sio_chat.html", import.meta.url));
const http = createServer((req, res) => { if (req.url === "/") { res.end(page); } else { res.writeHead(404); res.end(); } });
const io = new Server(http, { cors: { origin: get("--cors-origin") } });
io.on("connection", (s) => s.on("echo", (...a) => { const cb = a.pop(); cb(...a); }));
const users = new Map();
let id = 0;
const list = () => { const m = new Map([["lobby", []]]); for (const u of users.values()) for (const r of u.rooms) { if (!m.has(r)) m.set(r, []); m.get(r).push(u.name); } return [...m].sort().map(([room, members]) => ({ room, members: members.sort() })); };
const chat = io.of("/chat");
chat.on("connection", (s) => {
  users.set(s.id, { name: null, rooms: new Set() });
  s.emit("rooms", list());
  s.on("name", (n, cb) => { users.get(s.id).name = n; cb({ ok: true, name: n }); chat.emit("rooms", list()); });
  s.on("join", (r, cb) => { const u = users.get(s.id); u.rooms.add(r); s.join("#" + r); cb({ ok: true, room: r }); s.to("#" + r).emit("system", { room: r, text: u.name + " joined" }); chat.emit("rooms", list()); });
  s.on("leave", (r, cb) => { const u = users.get(s.id); u.rooms.delete(r); s.leave("#" + r); cb({ ok: true, room: r }); chat.to("#" + r).emit("system", { room: r, text: u.name + " left" }); chat.emit("rooms", list()); });
  s.on("chat", ({ room, text }, cb) => { const n = ++id; const to = (chat.adapter.rooms.get("#" + room)?.size || 1) - 1; s.to("#" + room).emit("chat", { room, from: users.get(s.id).name, text, id: n }); cb({ ok: true, id: n, to }); });
  s.on("typing", ({ room, typing }) => s.to("#" + room).volatile.emit("typing", { room, name: users.get(s.id).name, typing }));
  s.on("disconnect", () => { users.delete(s.id); chat.emit("rooms", list()); });
});
http.listen(Number(port), host, () => console.log("listening on " + host + ":" + http.address().port));
