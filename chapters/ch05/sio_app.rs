//! The chapter 5 server's application: what `/` (and the page) use.

use netladder::socketio::{Handlers, Server, SioHandle};

/// Namespaces and middleware.
pub fn setup(server: &mut Server) {
    let _ = server;
}

// ANCHOR: echo
/// Event handlers. `echo` answers with an ack carrying the same
/// arguments, binary included (without an ack wanted: an `echo` event back).
pub fn handlers(handlers: &mut Handlers, handle: &SioHandle) {
    let _ = handle;
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
