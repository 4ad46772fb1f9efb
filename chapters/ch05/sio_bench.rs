//! What `ch04-loadgen --protocol sio --sio-mode broadcast` drives, in a
//! namespace of its own (`/bench`) so that `/` stays the page's. The same
//! events exist in tests/node/sio_server.mjs and in netladder-compare's
//! socketioxide peer, so that all three are measured on the same work:
//!
//! - `echo(...args)`: acked with the same arguments;
//! - `join(room)`: joins, acked with `"joined"`;
//! - `broadcast(room, ...args)`: `socket.to(room).emit("broadcast",
//!   ...args)`, everyone in the room but the sender.

use netladder::socketio::{Handlers, Server, SioHandle};

/// The bench namespace.
const NSP: &str = "/bench";

/// Declares `/bench`.
pub fn setup(server: &mut Server) {
    server.namespace(NSP);
}

/// The bench events.
pub fn handlers(handlers: &mut Handlers, handle: &SioHandle) {
    let _ = handle;
    handlers
        .on(NSP, "echo", |io, ctx| {
            let args = ctx.args.0.clone();
            let _ = ctx.ack(io, args);
        })
        .on(NSP, "join", |io, ctx| {
            let room: String = ctx.args.get(0).unwrap_or_default();
            let _ = io.join(&ctx.socket, &room);
            let _ = ctx.ack(io, vec!["joined".into()]);
        })
        .on(NSP, "broadcast", |io, ctx| {
            let Some((room, args)) = ctx.args.0.split_first() else {
                return;
            };
            let Some(room) = room.as_str().map(str::to_owned) else {
                return;
            };
            let args = args.to_vec();
            if let Ok(to) = io.broadcast_from(&ctx.socket) {
                let _ = to.to(&room).emit("broadcast", args);
            }
        });
}
