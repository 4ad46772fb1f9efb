//! With `--redis URL`: the server joins a cluster through Redis, wire
//! compatible with Node's `@socket.io/redis-adapter` (chapter 6), and the
//! `/cluster` namespace offers what the mixed-cluster test drives. Every
//! event is acked:
//!
//! - `join` `(room)`: the socket's rooms after;
//! - `say` `(room, text)`: `socket.to(room).emit("said", text)`, every
//!   socket of the room on every server but the sender;
//! - `say_except` `(room, except, text)`:
//!   `io.of("/cluster").to(room).except(except).emit("said", text)`;
//! - `fetch` `(room)`: `fetchSockets()` across the cluster, acks
//!   `{ids, rooms: {id: [...]}, expected, answered, timed_out}`;
//! - `sockets_join` `(room, new)`: `in(room).socketsJoin(new)`;
//! - `disconnect_room` `(room)`: `in(room).disconnectSockets()`;
//! - `ask` `(room, timeout_ms)`: `to(room).timeout(t).emitWithAck("question")`,
//!   acks `{answers: [...], complete}`;
//! - `hello_servers` `()`: `serverSideEmitWithAck("hello")` to the other
//!   servers, acks `{answers: [...], expected, answered, responders,
//!   timed_out}`;
//!
//! and a server-side `hello` from another server is answered `"netladder"`.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use netladder::socketio::redis::{RedisHub, RedisOptions, ShardedHub};
use netladder::socketio::{Answers, Handlers, Server, SioHandle, Value};

/// The namespace.
const NSP: &str = "/cluster";

// ANCHOR: redis
/// Connect `server` to Redis: its adapters publish and subscribe there.
/// Redis messages wake the Socket.IO state through `handle` (set once the
/// server runs; until then they wait in the mailboxes).
pub fn connect(
    server: &mut Server,
    url: &str,
    handle: Arc<OnceLock<SioHandle>>,
) -> Result<RedisHub, String> {
    let wake = Arc::new(move || {
        if let Some(h) = handle.get() {
            let _ = h.with(|io| io.handle_remote(Instant::now()));
        }
    });
    let hub = RedisHub::start(RedisOptions::new(url), wake).map_err(|e| e.to_string())?;
    server.set_adapter(hub.factory());
    server.namespace(NSP);
    Ok(hub)
}
// ANCHOR_END: redis

// ANCHOR: redis_sharded
/// The same on a Redis 7 Cluster's sharded pub/sub (`--redis-sharded`):
/// `url` is any node of the cluster.
pub fn connect_sharded(
    server: &mut Server,
    url: &str,
    handle: Arc<OnceLock<SioHandle>>,
) -> Result<ShardedHub, String> {
    let wake = Arc::new(move || {
        if let Some(h) = handle.get() {
            let _ = h.with(|io| io.handle_remote(Instant::now()));
        }
    });
    let hub = ShardedHub::start(RedisOptions::new(url), wake).map_err(|e| e.to_string())?;
    server.set_adapter(hub.factory());
    server.namespace(NSP);
    Ok(hub)
}
// ANCHOR_END: redis_sharded

// ANCHOR: ready
/// How long a server waits for Redis to confirm its subscriptions before
/// it gives up (and says so) instead of listening.
pub const READY_WITHIN: Duration = Duration::from_secs(5);

/// Wait until `ready` (every subscription confirmed by Redis), polling,
/// at most `within`. Pub/sub delivers only to subscriptions that exist
/// when a message is published, so a server that said `listening` before
/// this would miss what the others publish meanwhile. On timeout the
/// error says what a direct `PING` to `url` gets.
pub fn wait_ready(url: &str, within: Duration, ready: impl Fn() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while !ready() {
        if Instant::now() >= deadline {
            let why = match ping(url) {
                Ok(()) => "it answers PING, but did not confirm them".to_owned(),
                Err(e) => format!("it is unreachable: {e}"),
            };
            return Err(format!(
                "Redis did not confirm the subscriptions within {} s ({why})",
                within.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
// ANCHOR_END: ready

fn ping(url: &str) -> Result<(), ::redis::RedisError> {
    let client = ::redis::Client::open(url)?;
    let mut con = client.get_connection_with_timeout(Duration::from_secs(1))?;
    con.set_read_timeout(Some(Duration::from_secs(1)))?;
    ::redis::cmd("PING").query::<String>(&mut con).map(drop)
}

fn text(v: &str) -> Value {
    Value::from(v)
}

/// The `/cluster` handlers.
pub fn handlers(handlers: &mut Handlers, handle: &SioHandle) {
    handlers.on_server_side(NSP, "hello", |io, _args, ack| {
        if let Some(ack) = ack {
            let _ = io.server_side_ack(ack, text("netladder"));
        }
    });
    handlers.on(NSP, "join", |io, ctx| {
        let room: String = ctx.args.get(0).unwrap_or_default();
        let _ = io.join(&ctx.socket, &room);
        let rooms = io.rooms(&ctx.socket).unwrap_or_default();
        let rooms = rooms.iter().map(|r| text(r)).collect();
        let _ = ctx.ack(io, vec![Value::Array(rooms)]);
    });
    handlers.on(NSP, "say", |io, ctx| {
        let room: String = ctx.args.get(0).unwrap_or_default();
        let said = ctx.args.0.get(1).cloned().unwrap_or(Value::Null);
        let n = io
            .broadcast_from(&ctx.socket)
            .and_then(|to| to.to(&room).emit("said", vec![said]));
        let _ = ctx.ack(io, vec![Value::from(n.unwrap_or(0) as i64)]);
    });
    handlers.on(NSP, "say_except", |io, ctx| {
        let room: String = ctx.args.get(0).unwrap_or_default();
        let except: String = ctx.args.get(1).unwrap_or_default();
        let said = ctx.args.0.get(2).cloned().unwrap_or(Value::Null);
        let n = io
            .of(NSP)
            .to(&room)
            .except(&except)
            .emit("said", vec![said]);
        let _ = ctx.ack(io, vec![Value::from(n.unwrap_or(0) as i64)]);
    });
    handlers.on(NSP, "sockets_join", |io, ctx| {
        let room: String = ctx.args.get(0).unwrap_or_default();
        let new: String = ctx.args.get(1).unwrap_or_default();
        io.of(NSP).to(&room).sockets_join(&[new.as_str()]);
        let _ = ctx.ack(io, vec![]);
    });
    handlers.on(NSP, "disconnect_room", |io, ctx| {
        let room: String = ctx.args.get(0).unwrap_or_default();
        let _ = ctx.ack(io, vec![]);
        io.of(NSP).to(&room).disconnect_sockets(false, ctx.now);
    });
    let h = handle.clone();
    handlers.on(NSP, "fetch", move |_, ctx| {
        let room: String = ctx.args.get(0).unwrap_or_default();
        let Some(ack) = ctx.take_ack() else { return };
        h.defer(move |io, handlers, now| {
            let Ok(id) = io.of(NSP).to(&room).fetch_all_sockets(now) else {
                return;
            };
            handlers.on_reply(id, move |io, answers, report| {
                let Answers::Sockets(sockets) = answers else {
                    return;
                };
                let ids: Vec<&str> = sockets.iter().map(|s| s.id.as_str()).collect();
                let rooms: serde_json::Map<String, serde_json::Value> = sockets
                    .iter()
                    .map(|s| (s.id.to_string(), serde_json::json!(s.rooms)))
                    .collect();
                let answer = serde_json::json!({
                    "ids": ids,
                    "rooms": rooms,
                    "expected": report.expected,
                    "answered": report.answered,
                    "responders": report.responders,
                    "timed_out": report.timed_out,
                });
                let _ = io.ack(ack, vec![Value::from(answer)]);
            });
        });
    });
    let h = handle.clone();
    handlers.on(NSP, "hello_servers", move |_, ctx| {
        let Some(ack) = ctx.take_ack() else { return };
        h.defer(move |io, handlers, now| {
            let Ok(id) = io.server_side_emit_with_ack(NSP, "hello", vec![], now) else {
                return;
            };
            handlers.on_reply(id, move |io, answers, report| {
                let Answers::Acks(acks) = answers else {
                    return;
                };
                let acks: Vec<serde_json::Value> = acks.iter().map(Value::to_json).collect();
                let answer = serde_json::json!({
                    "answers": acks,
                    "expected": report.expected,
                    "answered": report.answered,
                    "responders": report.responders,
                    "timed_out": report.timed_out,
                });
                let _ = io.ack(ack, vec![Value::from(answer)]);
            });
        });
    });
    let h = handle.clone();
    handlers.on(NSP, "ask", move |_, ctx| {
        let room: String = ctx.args.get(0).unwrap_or_default();
        let ms: u64 = ctx.args.get(1).unwrap_or(2000);
        let Some(ack) = ctx.take_ack() else { return };
        h.defer(move |io, handlers, now| {
            let timeout = Duration::from_millis(ms);
            let Ok(id) = io
                .of(NSP)
                .to(&room)
                .emit_with_ack("question", vec![], timeout, now)
            else {
                return;
            };
            handlers.on_broadcast_ack(id, move |io, answers, complete| {
                let answers: Vec<Value> = answers
                    .into_iter()
                    .map(|(_, args)| args.0.into_iter().next().unwrap_or(Value::Null))
                    .collect();
                let answer = Value::Object(
                    [
                        ("answers".to_owned(), Value::Array(answers)),
                        ("complete".to_owned(), Value::Bool(complete)),
                    ]
                    .into(),
                );
                let _ = io.ack(ack, vec![answer]);
            });
        });
    });
}
