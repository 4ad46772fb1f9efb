//! What the interop tests (`scripts/sio-interop`: Node's and Python's
//! official clients) drive, in namespaces of their own so that the page's
//! application on `/` stays the page's:
//!
//! - `/auth`: middleware refuses a `CONNECT` without a string `token` in
//!   its `auth` (`connect_error` "not authorized", data `{"reason":"no
//!   token"}`); `whoami` acks the token (kept as `socket.data`).
//! - `/interop`, every event acked:
//!   - `echo`: the same arguments back;
//!   - `join` / `leave` `(room)`: the socket's rooms after;
//!   - `broadcast` `({room, except?, event, args})`: `io.of("/interop")
//!     .to(room).except(except).emit(event, ...args)`, acks how many
//!     sockets it reached;
//!   - `ask` `({event, args, timeout_ms})`: the server `emitWithAck`s
//!     `event` to the asker and reports with an `asked` event:
//!     `{ok: true, args}` or `{ok: false}` on timeout;
//!   - `disconnect_me` `(close)`: `socket.disconnect(close)`;
//!   - `disconnects`: the last disconnect reasons the server saw here, as
//!     `[[id, reason], ...]`;
//!   - `never`: has no handler, so an ack never comes (a client's timeout).

use netladder::socketio::{ConnectError, Handlers, Server, SioHandle, Value};
use serde::Deserialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The interop namespace.
const NSP: &str = "/interop";

// ANCHOR: auth
/// The `/auth` namespace's middleware.
pub fn setup(server: &mut Server) {
    server.namespace("/auth").middleware(|c| {
        match c.auth.to_json().get("token").and_then(|t| t.as_str()) {
            Some(token) => {
                *c.data = serde_json::Value::from(token);
                Ok(())
            }
            None => Err(ConnectError::new("not authorized")
                .with_data(serde_json::json!({"reason": "no token"}).into())),
        }
    });
    server.namespace(NSP);
}
// ANCHOR_END: auth

#[derive(Deserialize)]
struct Broadcast {
    room: String,
    #[serde(default)]
    except: Option<String>,
    event: String,
    #[serde(default)]
    args: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Ask {
    event: String,
    #[serde(default)]
    args: Vec<serde_json::Value>,
    timeout_ms: u64,
}

/// The handlers.
pub fn handlers(handlers: &mut Handlers, handle: &SioHandle) {
    let reasons: Arc<Mutex<VecDeque<(String, String)>>> = Arc::default();
    let seen = Arc::clone(&reasons);
    handlers
        .on("/auth", "whoami", |io, ctx| {
            let token = io.data(&ctx.socket).cloned().unwrap_or_default();
            let _ = ctx.ack(io, vec![token.into()]);
        })
        .on(NSP, "echo", |io, ctx| {
            let args = ctx.args.0.clone();
            let _ = ctx.ack(io, args);
        })
        .on(NSP, "join", |io, ctx| {
            let room: String = ctx.args.get(0).unwrap_or_default();
            let _ = io.join(&ctx.socket, &room);
            let rooms = io.rooms(&ctx.socket).unwrap_or_default();
            let _ = ctx.ack(io, vec![serde_json::json!(rooms).into()]);
        })
        .on(NSP, "leave", |io, ctx| {
            let room: String = ctx.args.get(0).unwrap_or_default();
            let _ = io.leave(&ctx.socket, &room);
            let rooms = io.rooms(&ctx.socket).unwrap_or_default();
            let _ = ctx.ack(io, vec![serde_json::json!(rooms).into()]);
        })
        .on(NSP, "broadcast", |io, ctx| {
            let answer = match ctx.args.get::<Broadcast>(0) {
                Ok(b) => {
                    let mut to = io.of(NSP).to(&b.room);
                    if let Some(except) = &b.except {
                        to = to.except(except);
                    }
                    let args = b.args.into_iter().map(Value::from).collect();
                    match to.emit(&b.event, args) {
                        Ok(n) => Value::from(n as u64),
                        Err(e) => Value::from(e.to_string()),
                    }
                }
                Err(e) => Value::from(e.to_string()),
            };
            let _ = ctx.ack(io, vec![answer]);
        });
    // emitWithAck from a handler: the ack callback needs the handlers,
    // which are busy running this one, so it is registered right after
    // through the handle's `defer`.
    let later = handle.clone();
    handlers.on(NSP, "ask", move |io, ctx| {
        let Ok(ask) = ctx.args.get::<Ask>(0) else {
            let _ = ctx.ack(io, vec![Value::from(false)]);
            return;
        };
        let _ = ctx.ack(io, vec![Value::from(true)]);
        let socket = ctx.socket.clone();
        later.defer(move |io, handlers, now| {
            let args = ask.args.into_iter().map(Value::from).collect();
            let timeout = Duration::from_millis(ask.timeout_ms);
            let Ok(id) = io.emit_with_ack(&socket, &ask.event, args, timeout, now) else {
                return;
            };
            let asker = socket.clone();
            handlers.on_ack(&socket, id, move |io, answer| {
                let report = match answer {
                    Ok(args) => {
                        let args: Vec<_> = args.0.iter().map(Value::to_json).collect();
                        serde_json::json!({"ok": true, "args": args})
                    }
                    Err(_) => serde_json::json!({"ok": false}),
                };
                let _ = io.emit(&asker, "asked", vec![report.into()]);
            });
        });
    });
    handlers
        .on(NSP, "disconnect_me", |io, ctx| {
            let close: bool = ctx.args.get(0).unwrap_or(false);
            let _ = io.disconnect(&ctx.socket, close, ctx.now);
        })
        .on(NSP, "disconnects", move |io, ctx| {
            let list: Vec<_> = reasons
                .lock()
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default();
            let _ = ctx.ack(io, vec![serde_json::json!(list).into()]);
        })
        .on_disconnect(NSP, move |_, socket, reason| {
            if let Ok(mut r) = seen.lock() {
                if r.len() >= 64 {
                    r.pop_front();
                }
                r.push_back((socket.to_string(), reason.as_str().to_string()));
            }
        });
}
