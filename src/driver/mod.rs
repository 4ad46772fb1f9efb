//! Drivers move bytes between sockets and sans-IO protocols.
//!
//! A protocol (HTTP, WebSocket, Socket.IO, or plain [`crate::echo`]) is a
//! state machine behind the [`Protocol`] trait. It never sees a socket: it is
//! handed the bytes that arrived and a [`Ctx`] in which it leaves what it
//! wants done. A driver owns the sockets and carries those wishes out.
//!
//! # The contract, for protocols
//!
//! Every callback runs on one connection at a time, never concurrently with
//! another callback of the same connection, and gets a [`Ctx`] through which it:
//!
//! - **sends bytes**: [`Ctx::send`] queues bytes; the driver writes them in
//!   order after the callback returns;
//! - **asks for more bytes**: [`Protocol::on_bytes`] returns how many bytes of
//!   `input` it consumed. Whatever it leaves is kept by the driver and offered
//!   again, in front of the next bytes to arrive. Returning `0` means "a
//!   partial message: I need more". The protocol consumes every complete unit
//!   it can in one call, and it enforces its own size limits, because it sees
//!   everything that is buffered;
//! - **closes after flushing**: [`Ctx::close`] writes everything queued, then
//!   half-closes the socket (FIN), waits briefly for the peer to close its
//!   side, and drops the connection. [`Ctx::abort`] drops it at once;
//! - **asks to be woken at time T**: [`Ctx::wake_at`] sets the connection's one
//!   timer (a later call replaces it; [`Ctx::cancel_timer`] clears it). When T
//!   passes, [`Protocol::on_timer`] runs. A protocol with several deadlines
//!   (handshake, idle, heartbeat) keeps them itself and asks for the earliest;
//! - **hears from outside**: [`Protocol::on_open`] receives a [`Mailbox`] for
//!   its own connection. Any thread may [`Mailbox::send`] a
//!   [`Protocol::Mail`] to it, say a chat broadcast, and the driver delivers
//!   it through [`Protocol::on_message`], in order with the connection's other
//!   events.
//!
//! # The contract, for drivers
//!
//! A driver calls [`Protocol::on_open`] once, then `on_bytes`, `on_timer` and
//! `on_message` as things happen, then [`Protocol::on_eof`] when the peer
//! half-closes, and [`Protocol::on_shutdown`] when the server is asked to
//! stop (the mio driver's [`mio::Shutdown`]). Whatever ends the connection,
//! its last call is [`Protocol::on_closed`]. After any callback it writes [`Ctx`]'s bytes in order, applies
//! the timer request, and closes if asked. It never calls a protocol again
//! after closing. It reports `now` in every [`Ctx`] so that protocols never read
//! the clock themselves (which keeps them testable with made-up times).
//!
//! Two drivers keep this contract: [`threads`] (chapter 1: a thread per
//! connection over blocking `std::net`) and [`mio`] (chapter 4: one thread,
//! an event loop on `mio`). Because protocols only see this contract, the same HTTP, WebSocket
//! and Socket.IO code runs on both, and benchmarks compare only the
//! concurrency model.

pub mod mio;
pub mod threads;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// A sans-IO connection state machine.
pub trait Protocol: Send + 'static {
    /// What other threads may send to this connection through its [`Mailbox`].
    type Mail: Send + 'static;

    /// The connection is open. `mailbox` reaches this connection from outside;
    /// keep a clone (or hand it to a registry) to receive broadcasts.
    fn on_open(&mut self, mailbox: Mailbox<Self::Mail>, ctx: &mut Ctx) {
        let _ = (mailbox, ctx);
    }

    /// Bytes arrived: `input` is everything buffered so far. Returns how many
    /// bytes were consumed; the rest is offered again with the next bytes.
    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize;

    /// The peer closed its sending side (a read returned 0 bytes). Bytes the
    /// protocol left unconsumed are still in `input`. The default closes after
    /// flushing.
    fn on_eof(&mut self, input: &[u8], ctx: &mut Ctx) {
        let _ = input;
        ctx.close();
    }

    /// The time asked for with [`Ctx::wake_at`] has come.
    fn on_timer(&mut self, ctx: &mut Ctx) {
        let _ = ctx;
    }

    /// A message sent to this connection's [`Mailbox`].
    fn on_message(&mut self, message: Self::Mail, ctx: &mut Ctx) {
        let _ = (message, ctx);
    }

    /// The server is shutting down: say goodbye the protocol's way (a
    /// WebSocket sends close 1001). The default closes after flushing.
    fn on_shutdown(&mut self, ctx: &mut Ctx) {
        ctx.close();
    }

    /// The connection is gone, for whatever reason (a close asked for, a
    /// reset, a failed write, a limit). No callback follows, and nothing can
    /// be sent: this is for letting go of things kept elsewhere, such as a
    /// chat room's membership. The default does nothing.
    fn on_closed(&mut self) {}
}

/// Builds one protocol per accepted connection.
pub trait NewProtocol: Send + Sync + 'static {
    /// The protocol each connection runs.
    type Protocol: Protocol;
    /// A fresh state machine for the connection from `peer`.
    fn new_protocol(&self, peer: SocketAddr) -> Self::Protocol;
}

impl<F, P> NewProtocol for F
where
    F: Fn(SocketAddr) -> P + Send + Sync + 'static,
    P: Protocol,
{
    type Protocol = P;
    fn new_protocol(&self, peer: SocketAddr) -> P {
        self(peer)
    }
}

/// How a protocol wants its connection to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Write everything queued, half-close, then drop.
    AfterFlush,
    /// Drop now, discarding anything queued.
    Abort,
}

/// What a protocol wants done, collected during one callback.
#[derive(Debug)]
pub struct Ctx {
    now: Instant,
    peer: SocketAddr,
    out: Vec<u8>,
    close: Option<Close>,
    timer: TimerRequest,
}

/// A change to the connection's timer asked for in one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerRequest {
    /// Leave the timer as it is.
    Keep,
    /// Wake the connection at this time (replacing any earlier request).
    At(Instant),
    /// Clear the timer.
    Cancel,
}

impl Ctx {
    /// A context for a callback happening at `now` on the connection to `peer`.
    /// Drivers (and tests) make these.
    pub fn new(now: Instant, peer: SocketAddr) -> Ctx {
        Ctx {
            now,
            peer,
            out: Vec::new(),
            close: None,
            timer: TimerRequest::Keep,
        }
    }

    /// The time of this callback, as the driver saw it.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The address of the peer.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Queues bytes to send.
    pub fn send(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// The queue itself, for protocols that encode straight into it.
    pub fn send_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Closes the connection once everything queued is written.
    pub fn close(&mut self) {
        if self.close.is_none() {
            self.close = Some(Close::AfterFlush);
        }
    }

    /// Drops the connection now, without writing what is queued.
    pub fn abort(&mut self) {
        self.close = Some(Close::Abort);
    }

    /// Asks for [`Protocol::on_timer`] at `at` (replacing any earlier request).
    pub fn wake_at(&mut self, at: Instant) {
        self.timer = TimerRequest::At(at);
    }

    /// Clears the connection's timer.
    pub fn cancel_timer(&mut self) {
        self.timer = TimerRequest::Cancel;
    }

    /// Bytes queued so far.
    pub fn queued(&self) -> &[u8] {
        &self.out
    }

    /// The close asked for, if any.
    pub fn close_request(&self) -> Option<Close> {
        self.close
    }

    /// The timer change asked for.
    pub fn timer_request(&self) -> TimerRequest {
        self.timer
    }

    /// Takes the queued bytes, leaving the queue empty. Drivers call this.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

/// Sends messages to one connection from anywhere (other connections, other
/// threads). Cheap to clone.
pub struct Mailbox<M> {
    inner: Arc<dyn Deliver<M>>,
}

impl<M> Clone for Mailbox<M> {
    fn clone(&self) -> Self {
        Mailbox {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<M> fmt::Debug for Mailbox<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mailbox")
    }
}

/// Why a [`Mailbox::send`] did not deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The connection has closed.
    Closed,
    /// The connection's inbox is full: it is not keeping up. The sender
    /// decides what to do (drop the message, or close the slow connection).
    Full,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("connection closed"),
            SendError::Full => f.write_str("connection inbox full"),
        }
    }
}

impl std::error::Error for SendError {}

impl<M> Mailbox<M> {
    /// A mailbox backed by a driver's own delivery mechanism.
    pub fn new(deliver: impl Deliver<M> + 'static) -> Mailbox<M> {
        Mailbox {
            inner: Arc::new(deliver),
        }
    }

    /// Queues `message` for the connection without blocking.
    pub fn send(&self, message: M) -> Result<(), SendError> {
        self.inner.deliver(message)
    }
}

/// How a driver hands a message to a connection. Never blocks.
pub trait Deliver<M>: Send + Sync {
    /// Queue the message, or say why not.
    fn deliver(&self, message: M) -> Result<(), SendError>;
}
