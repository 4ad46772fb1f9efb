//! The chapter 5 server's application on `/` (and the page's `echo`), plus
//! what the official Socket.IO protocol test suite expects of a server
//! (the setup its README gives for Node), so that the suite can referee
//! this server as it is:
//!
//! - `echo` on `/`: an ack with the same arguments, binary included
//!   (without an ack wanted: an `echo` event back). Tests and benchmarks
//!   use it.
//! - on connection to `/` or to `/custom`: an `auth` event carrying the
//!   `CONNECT`'s auth object (`{}` when it had none), Node's
//!   `socket.emit("auth", socket.handshake.auth)`;
//! - `message` on `/`: a `message-back` event with the same arguments;
//! - `message-with-ack` on `/`: an ack with the same arguments.

use netladder::socketio::{Handlers, Server, SioHandle, Value};

/// The namespace the protocol suite connects to besides `/`.
pub const CUSTOM: &str = "/custom";

/// Namespaces and middleware.
pub fn setup(server: &mut Server) {
    server.namespace(CUSTOM);
}

/// What a socket's handshake shows as its `auth`: the `CONNECT`'s
/// payload, or an empty object when there was none (as in Node).
fn handshake_auth(auth: &Value) -> Value {
    match auth {
        Value::Null => Value::Object(Default::default()),
        auth => auth.clone(),
    }
}

/// Event handlers: [`echo`], and [`suite`]'s.
pub fn handlers(handlers: &mut Handlers, handle: &SioHandle) {
    let _ = handle;
    echo(handlers);
    suite(handlers);
}

// ANCHOR: echo
/// `echo` answers with an ack carrying the same arguments, binary included
/// (without an ack wanted: an `echo` event back).
pub fn echo(handlers: &mut Handlers) {
    handlers.on("/", "echo", |io, ctx| {
        let args = ctx.args.0.clone();
        let sent = if ctx.wants_ack() {
            ctx.ack(io, args)
        } else {
            io.emit(&ctx.socket, "echo", args)
        };
        if let Err(e) = sent {
            tracing::debug!("{}: echo not sent: {e}", ctx.socket);
        }
    });
}
// ANCHOR_END: echo

// ANCHOR: suite
/// What the official protocol suite expects: `auth` on connection to `/`
/// and `/custom`, `message` → `message-back`, `message-with-ack` → an ack.
pub fn suite(handlers: &mut Handlers) {
    for nsp in ["/", CUSTOM] {
        handlers.on_connect(nsp, |io, socket, auth| {
            if let Err(e) = io.emit(socket, "auth", vec![handshake_auth(auth)]) {
                tracing::debug!("{socket}: auth not sent: {e}");
            }
        });
    }
    handlers
        .on("/", "message", |io, ctx| {
            let args = ctx.args.0.clone();
            if let Err(e) = io.emit(&ctx.socket, "message-back", args) {
                tracing::debug!("{}: message-back not sent: {e}", ctx.socket);
            }
        })
        .on("/", "message-with-ack", |io, ctx| {
            let args = ctx.args.0.clone();
            if let Err(e) = ctx.ack(io, args) {
                tracing::debug!("{}: ack not sent: {e}", ctx.socket);
            }
        });
}
// ANCHOR_END: suite
