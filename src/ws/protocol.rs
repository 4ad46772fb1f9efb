//! WebSocket on a driver: [`WsProtocol`] runs a [`WsConnection`] behind the
//! driver's [`Protocol`] trait and calls your [`WsHandler`].
//!
//! The handler sees messages, never frames, and answers through a
//! [`WsContext`]. Other connections (or threads) reach it by sending an
//! [`Outgoing`] to its [`Mailbox`]: by default it is sent straight to the
//! peer, which is all a chat broadcast needs (see [`super::broadcast`]).

use super::close::code;
use super::connection::{Config, ProtocolError, Role, State, WsConnection, WsMessage, WsSendError};
use super::shared::SharedFrame;
use crate::driver::{CloseReason, Ctx, Mailbox, Protocol};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

// ANCHOR: outgoing
/// A message for a connection to send, arriving through its [`Mailbox`].
/// The payloads are shared (`Arc`), so broadcasting one message to a
/// thousand connections copies a pointer a thousand times, not the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// Send a text message (framed, and compressed, by each connection).
    Text(Arc<str>),
    /// Send a binary message (framed, and compressed, by each connection).
    Binary(Arc<[u8]>),
    /// Send a message framed once for every connection that sends it the
    /// same way, compression included (see [`super::shared`]): the way to
    /// broadcast.
    Shared(Arc<SharedFrame>),
    /// Send a ping.
    Ping(Vec<u8>),
    /// Start the close handshake with this code and reason.
    Close(u16, String),
}
// ANCHOR_END: outgoing

impl Outgoing {
    /// A text message to broadcast: one [`Outgoing::Shared`] for everyone.
    pub fn shared_text(text: impl Into<String>) -> Outgoing {
        Outgoing::Shared(Arc::new(SharedFrame::text(text)))
    }

    /// A binary message to broadcast.
    pub fn shared_binary(bytes: impl Into<Vec<u8>>) -> Outgoing {
        Outgoing::Shared(Arc::new(SharedFrame::binary(bytes)))
    }
}

/// What the opening handshake settled, for the handler to look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeInfo {
    /// The request's path (with its query), such as `/chat?room=1`.
    pub path: String,
    /// The negotiated subprotocol, if any.
    pub subprotocol: Option<String>,
    /// The `Origin` the client sent, if any.
    pub origin: Option<String>,
}

/// What a handler can do during a callback.
pub struct WsContext<'a> {
    conn: &'a mut WsConnection,
    mailbox: &'a Mailbox<Outgoing>,
    info: &'a HandshakeInfo,
    ctx: &'a mut Ctx,
}

impl WsContext<'_> {
    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), WsSendError> {
        self.conn.send_text(text)
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), WsSendError> {
        self.conn.send_binary(data)
    }

    /// Sends a ping (at most 125 bytes).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), WsSendError> {
        self.conn.send_ping(payload)
    }

    // ANCHOR: send_outgoing
    /// Sends an [`Outgoing`] message.
    pub fn send(&mut self, message: &Outgoing) -> Result<(), WsSendError> {
        match message {
            Outgoing::Text(text) => self.conn.send_text(text),
            Outgoing::Binary(data) => self.conn.send_binary(data),
            Outgoing::Shared(message) => {
                let sent = self.conn.send_shared(message)?;
                if let Some(frame) = sent.frame {
                    // What the connection queued before goes first.
                    self.conn.drain_output_into(self.ctx.send_buffer());
                    self.ctx.send_shared(frame);
                }
                Ok(())
            }
            Outgoing::Ping(payload) => self.conn.send_ping(payload),
            Outgoing::Close(code, reason) => self.conn.close(*code, reason),
        }
    }
    // ANCHOR_END: send_outgoing

    /// Starts the close handshake.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), WsSendError> {
        self.conn.close(code, reason)
    }

    /// This connection's mailbox: hand a clone to a registry (say a
    /// [`super::Broadcast`]) to be sent messages from elsewhere.
    pub fn mailbox(&self) -> &Mailbox<Outgoing> {
        self.mailbox
    }

    /// Where the close handshake is.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// What the opening handshake settled.
    pub fn info(&self) -> &HandshakeInfo {
        self.info
    }

    /// The time of this callback.
    pub fn now(&self) -> Instant {
        self.ctx.now()
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.ctx.peer()
    }
}

// ANCHOR: handler
/// An application on top of WebSocket: what to do with messages.
///
/// Every callback of one connection runs on one thread at a time, in order.
pub trait WsHandler: Send + 'static {
    /// The connection is open (the handshake is done).
    fn on_open(&mut self, ws: &mut WsContext<'_>) {
        let _ = ws;
    }

    /// A message from the peer: text, binary, or a ping or pong (pings are
    /// already answered). Close frames go to [`WsHandler::on_close`].
    fn on_message(&mut self, message: WsMessage, ws: &mut WsContext<'_>);

    /// A message from this connection's mailbox. The default sends it.
    fn on_outgoing(&mut self, message: Outgoing, ws: &mut WsContext<'_>) {
        let _ = ws.send(&message);
    }

    /// The connection is over, called once: `code` is the peer's close code
    /// (1005 if it gave none), the code we failed the connection with (1002,
    /// 1007, 1009), or 1006 if it ended without a close handshake.
    fn on_close(&mut self, code: u16, reason: &str) {
        let _ = (code, reason);
    }
}
// ANCHOR_END: handler

// ANCHOR: receive_loop
/// Feeds `input` to `conn` and hands each batch of completed messages to
/// `deliver` (which takes them out of the vector) as soon as it is read.
/// The connection stops in front of a bad frame so that the messages before
/// it are answered before the close frame it then queues: so go round once
/// more after every batch. Returns the bytes consumed (all of them once the
/// connection failed) and the error that failed it, if any.
///
/// [`WsProtocol`] and the Engine.IO glue's WebSocket transport both read
/// frames through this one loop.
pub fn receive_messages(
    conn: &mut WsConnection,
    input: &[u8],
    messages: &mut Vec<WsMessage>,
    mut deliver: impl FnMut(&mut WsConnection, &mut Vec<WsMessage>),
) -> (usize, Option<ProtocolError>) {
    let mut consumed = 0;
    loop {
        let result = conn.receive(&input[consumed..], messages);
        let delivered = !messages.is_empty();
        // Deliver what arrived before any error: it was valid.
        if delivered {
            deliver(conn, messages);
            messages.clear();
        }
        match result {
            Ok(used) if delivered && consumed + used < input.len() => consumed += used,
            Ok(used) => return (consumed + used, None),
            Err(err) => return (input.len(), Some(err)),
        }
    }
}
// ANCHOR_END: receive_loop

/// A WebSocket connection after its handshake, as a driver [`Protocol`].
pub struct WsProtocol<H> {
    conn: WsConnection,
    handler: H,
    close_timeout: std::time::Duration,
    info: HandshakeInfo,
    mailbox: Option<Mailbox<Outgoing>>,
    close_reported: bool,
    close_timer_set: bool,
    /// With context takeover, how long compression state may sit unused.
    idle_timeout: Option<std::time::Duration>,
    /// Reused between reads so that a busy connection does not allocate a
    /// new vector for every batch of messages.
    messages: Vec<WsMessage>,
}

impl<H: WsHandler> WsProtocol<H> {
    /// A connection in `role` whose handshake is already done.
    pub fn new(role: Role, handler: H, config: Config, info: HandshakeInfo) -> WsProtocol<H> {
        WsProtocol::from_connection(WsConnection::new(role, config), handler, info)
    }

    /// Runs `conn` (a connection the handshake just made, such as
    /// [`super::handover::Handover::connection`]) with `handler`.
    pub fn from_connection(conn: WsConnection, handler: H, info: HandshakeInfo) -> WsProtocol<H> {
        let config = conn.config();
        WsProtocol {
            close_timeout: config.close_timeout,
            idle_timeout: config.deflate.as_ref().map(|d| d.idle_timeout),
            conn,
            handler,
            info,
            mailbox: None,
            close_reported: false,
            close_timer_set: false,
            messages: Vec::new(),
        }
    }

    /// Turns on the compression the handshake agreed on.
    pub fn set_deflate(&mut self, deflate: super::deflate::Deflate) {
        self.conn.set_deflate(deflate);
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The connection's state machine.
    pub fn connection(&self) -> &WsConnection {
        &self.conn
    }

    /// Runs `f` with the handler and a context, if the connection is open
    /// (it has its mailbox).
    fn with_handler(&mut self, ctx: &mut Ctx, f: impl FnOnce(&mut H, &mut WsContext<'_>)) {
        let Some(mailbox) = &self.mailbox else {
            return;
        };
        let mut ws = WsContext {
            conn: &mut self.conn,
            mailbox,
            info: &self.info,
            ctx,
        };
        f(&mut self.handler, &mut ws);
    }

    /// Tells the handler the connection is over, once.
    fn report_close(&mut self, code: u16, reason: &str) {
        if !self.close_reported {
            self.close_reported = true;
            self.handler.on_close(code, reason);
        }
    }

    // ANCHOR: after_callback
    /// After every callback: hand the queued frames to the driver, time the
    /// close handshake we started, close the transport once it is over.
    fn finish(&mut self, ctx: &mut Ctx) {
        self.conn.drain_output_into(ctx.send_buffer());
        if self.conn.state() == State::ClosingByUs && !self.close_timer_set {
            self.close_timer_set = true;
            ctx.wake_at(ctx.now() + self.close_timeout);
        } else if let Some(idle) = self
            .idle_timeout
            .filter(|_| self.conn.state() == State::Open && self.conn.holds_compression_context())
        {
            // Compression context kept between messages (context takeover):
            // free it once the connection has been quiet a while.
            ctx.wake_at(ctx.now() + idle);
        }
        if self.conn.should_close_transport() {
            // Server: the close handshake is complete (or failed), so we
            // close TCP first, as RFC 6455 §7.1.1 asks.
            ctx.cancel_timer();
            ctx.close();
        }
    }
    // ANCHOR_END: after_callback
}

impl<H: WsHandler> Protocol for WsProtocol<H> {
    type Mail = Outgoing;

    fn on_open(&mut self, mailbox: Mailbox<Outgoing>, ctx: &mut Ctx) {
        self.mailbox = Some(mailbox);
        self.with_handler(ctx, |handler, ws| handler.on_open(ws));
        self.finish(ctx);
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        let mut messages = std::mem::take(&mut self.messages);
        let mut peer_close = None;
        let (handler, mailbox, info) = (&mut self.handler, &self.mailbox, &self.info);
        let callback_ctx = &mut *ctx;
        let (consumed, failed) =
            receive_messages(&mut self.conn, input, &mut messages, |conn, batch| {
                for message in batch.drain(..) {
                    match message {
                        // Nothing follows a close frame.
                        WsMessage::Close(code, reason) => peer_close = Some((code, reason)),
                        message => {
                            let Some(mailbox) = mailbox else {
                                continue;
                            };
                            let mut ws = WsContext {
                                conn: &mut *conn,
                                mailbox,
                                info,
                                ctx: &mut *callback_ctx,
                            };
                            handler.on_message(message, &mut ws);
                        }
                    }
                }
            });
        self.messages = messages;
        if let Some((code, reason)) = peer_close {
            self.report_close(code, &reason);
        }
        if let Some(err) = failed {
            tracing::debug!("{}: websocket failed: {err}", ctx.peer());
            self.report_close(err.code, &err.reason);
        }
        self.finish(ctx);
        consumed
    }

    fn on_eof(&mut self, input: &[u8], ctx: &mut Ctx) {
        let _ = input; // a partial frame header: nothing to do with it
        self.conn.transport_closed();
        self.report_close(code::ABNORMAL, "connection closed without a close frame");
        ctx.close();
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        if self.conn.state() == State::Open {
            self.conn.release_idle();
            return;
        }
        if self.conn.state() == State::ClosingByUs {
            self.conn.transport_closed();
            self.report_close(code::ABNORMAL, "no answer to our close frame");
            ctx.close();
        }
    }

    fn on_message(&mut self, message: Outgoing, ctx: &mut Ctx) {
        self.with_handler(ctx, |handler, ws| handler.on_outgoing(message, ws));
        self.finish(ctx);
    }

    /// Gone without a close handshake we saw (a reset, a failed write): the
    /// handler still hears about it, with 1006, as its contract promises.
    fn on_closed(&mut self, reason: CloseReason) {
        self.report_close(code::ABNORMAL, &format!("connection lost ({reason})"));
    }

    /// The server is stopping: close with 1001 ("going away") and let the
    /// close handshake run; the driver drops us if it takes too long.
    fn on_shutdown(&mut self, ctx: &mut Ctx) {
        if self.conn.state() == State::Open {
            let _ = self.conn.close(code::GOING_AWAY, "server shutting down");
        }
        self.finish(ctx);
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
