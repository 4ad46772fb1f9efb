// Prints the test vectors of src/socketio/redis/tests.rs: the bytes Node's
// @socket.io/redis-adapter 8.3.0 and @socket.io/redis-emitter 5.1.0 publish,
// built the way their dist/index.js build them (notepack.io 3.0.1 for
// msgpack, JSON.stringify for requests). tests/ch06_redis.rs runs it from
// tests/node and compares our bytes:
//   cd tests/node && npm ci && node redis_vectors.cjs
const msgpack = require("notepack.io");
const hex = (b) => Buffer.from(b).toString("hex");
const out = (name, bytes) => console.log(`${name} ${hex(bytes)}`);

// RedisAdapter.broadcast: [uid, packet, {rooms, except, flags}], the packet
// {type, data} from socket.io's BroadcastOperator with nsp set by the adapter.
out("adapter_plain", msgpack.encode(["abc123", { type: 2, data: ["chat", "hello"], nsp: "/" },
  { rooms: ["room1"], except: [], flags: {} }]));
out("adapter_binary", msgpack.encode(["abc123",
  { type: 2, data: ["file", Buffer.from([1, 2, 3]), { f: 1.5, n: 1, x: -5 }], nsp: "/admin" },
  { rooms: ["a", "b"], except: ["c"], flags: { volatile: true, compress: false, local: true, timeout: 1000 } }]));
// Emitter: [UID, {type, data, nsp}, {rooms, flags, except}]
out("emitter", msgpack.encode(["emitter", { type: 2, data: ["news", { a: 1 }], nsp: "/" },
  { rooms: ["r"], flags: {}, except: [] }]));
out("numbers", msgpack.encode([300, 70000, 5000000000, -33, -200, -40000, -3000000000, 2.5, null, true]));
// broadcastWithAck's request (msgpack), and its BROADCAST_ACK response.
out("broadcast_request", msgpack.encode({ uid: "abc123", requestId: "q1w2e3", type: 7,
  packet: { type: 2, data: ["ping"], nsp: "/" }, opts: { rooms: [], except: [], flags: { timeout: 5000 } } }));
out("broadcast_ack", msgpack.encode({ type: 9, requestId: "q1w2e3", packet: ["pong", Buffer.from([9])] }));
// JSON requests and responses.
console.log("join " + JSON.stringify({ uid: "abc123", type: 2, opts: { rooms: ["a"], except: ["b"] }, rooms: ["c", "d"] }));
console.log("emitter_join " + JSON.stringify({ type: 2, opts: { rooms: [], except: [] }, rooms: ["c"] }));
console.log("disconnect " + JSON.stringify({ uid: "abc123", type: 4, opts: { rooms: ["a"], except: [] }, close: true }));
console.log("fetch " + JSON.stringify({ uid: "abc123", requestId: "q1w2e3", type: 5, opts: { rooms: ["a"], except: [] } }));
console.log("all_rooms " + JSON.stringify({ uid: "abc123", requestId: "q1w2e3", type: 1 }));
console.log("sse " + JSON.stringify({ uid: "emitter", type: 6, data: ["hi", 1] }));
console.log("sse_ack " + JSON.stringify({ uid: "abc123", requestId: "q1w2e3", type: 6, data: ["hi"] }));
console.log("count " + JSON.stringify({ type: 8, requestId: "q1w2e3", clientCount: 3 }));
