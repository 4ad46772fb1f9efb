// The async-mode lesson, measured: while one client keeps a slow handler
// busy, how long do everybody else's echoes take?
//
// Phases, each `--seconds` long, on a fresh set of connections:
//   none          N bystanders echo (closed loop, `echo` with an ack); nothing slow
//   slow          the same, while one more client emits `slow {ms}` back to
//                 back: its handler sleeps on the server's loop
//   slow-offload  the same with `slow-offload {ms}`: a worker thread sleeps
//                 and the answer comes back through the ack
// Prints one line per phase: echoes done, echo latency p50/p99/max, and
// how many slow calls finished.
// Usage: node sio_stall.mjs http://127.0.0.1:7005 [--clients 4] [--seconds 3] [--slow-ms 100]
import { io } from "socket.io-client";

const argv = process.argv.slice(2);
const url = argv[0];
const opt = (name, dflt, max) => {
  const i = argv.indexOf("--" + name);
  const v = i < 0 ? dflt : Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0 || v > max) {
    console.error(`--${name} is a number from 1 to ${max}`);
    process.exit(2);
  }
  return v;
};
if (!url || !url.startsWith("http")) {
  console.error("usage: node sio_stall.mjs http://HOST:PORT [--clients N] [--seconds S] [--slow-ms MS]");
  process.exit(2);
}
const clients = opt("clients", 4, 50);
const seconds = opt("seconds", 3, 10);
const slowMs = opt("slow-ms", 100, 2000);

function connect() {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
    const timer = setTimeout(() => reject(new Error("could not connect to " + url)), 5000);
    socket.on("connect", () => { clearTimeout(timer); resolve(socket); });
    socket.on("connect_error", (e) => { clearTimeout(timer); reject(e); });
  });
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function phase(event) {
  const sockets = await Promise.all(Array.from({ length: clients + 1 }, connect));
  const [staller, ...bystanders] = sockets;
  const end = Date.now() + seconds * 1000;
  const latencies = [];
  let slowDone = 0, slowFailed = 0;
  const bystander = async (socket) => {
    while (Date.now() < end) {
      const t0 = performance.now();
      await socket.timeout(15000).emitWithAck("echo", "ping");
      latencies.push(performance.now() - t0);
    }
  };
  const stall = async () => {
    while (event !== "none" && Date.now() < end) {
      const answer = await staller.timeout(15000).emitWithAck(event, { ms: slowMs });
      if (answer && answer.ok) slowDone += 1; else slowFailed += 1;
    }
  };
  await Promise.all([stall(), ...bystanders.map(bystander)]);
  for (const s of sockets) s.disconnect();
  latencies.sort((a, b) => a - b);
  const ms = (v) => v.toFixed(2);
  console.log([
    event.padEnd(12),
    `echoes ${String(latencies.length).padStart(6)}`,
    `p50 ${ms(quantile(latencies, 0.5)).padStart(7)} ms`,
    `p99 ${ms(quantile(latencies, 0.99)).padStart(7)} ms`,
    `max ${ms(latencies[latencies.length - 1]).padStart(7)} ms`,
    `slow calls done ${slowDone}` + (slowFailed ? ` (refused ${slowFailed})` : ""),
  ].join("  "));
}

console.log(`${clients} bystanders echoing for ${seconds} s per phase; slow calls of ${slowMs} ms, back to back, from one more client`);
try {
  for (const event of ["none", "slow", "slow-offload"]) await phase(event);
  process.exit(0);
} catch (error) {
  console.error("FAILED: " + error.message);
  process.exit(1);
}
