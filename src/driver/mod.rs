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
//!   order after the callback returns. [`Ctx::send_shared`] queues a shared
//!   buffer (`Arc<[u8]>`) in the same order without copying it: a broadcast
//!   is encoded once and written to every connection from the one buffer,
//!   with vectored writes. [`Ctx::unsent`] tells how many bytes wait for this
//!   peer, so a protocol can drop what may be dropped (a volatile message)
//!   instead of queueing more for a peer that is not reading;
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
//!   events. A send that cannot be delivered (the connection is gone, or its
//!   inbox is full) hands the message back inside [`MailboxError`], so the
//!   sender can give it to someone else: nothing is silently lost.
//!   A send from inside a callback (to its own connection or another on the
//!   same driver) is allowed and never calls a protocol back at once: the
//!   message is delivered after the callback returns. On the mio driver such
//!   a send costs no wake-up: the loop's own thread only marks its queue,
//!   and the loop delivers before it next sleeps. This is what lets a layer
//!   above run its application on the thread that read the bytes (Engine.IO's
//!   [`EngineIo::on_events`](crate::engineio::EngineIo::on_events)) and
//!   answer through the same mailboxes as any other thread;
//! - **learns why it ended**: [`Protocol::on_closed`] receives a
//!   [`CloseReason`], so a layer above can tell its application "transport
//!   close" from "transport error".
//!
//! # The contract, for drivers
//!
//! A driver calls [`Protocol::on_open`] once, then `on_bytes`, `on_timer` and
//! `on_message` as things happen, then [`Protocol::on_eof`] when the peer
//! half-closes, and [`Protocol::on_shutdown`] when the server is asked to
//! stop (through a [`Shutdown`] handle, which Ctrl-C triggers on every
//! chapter server). Whatever ends the connection, its last call is
//! [`Protocol::on_closed`], with the reason. After any callback it writes
//! [`Ctx`]'s bytes in order, applies the timer request, and closes if asked.
//! It never calls a protocol again after closing. It reports `now` in every
//! [`Ctx`] so that protocols never read the clock themselves (which keeps
//! them testable with made-up times).
//!
//! A driver also keeps its promises under load:
//!
//! - **fairness**: one peer that never stops sending cannot starve the
//!   others or delay their timers (the mio driver reads a bounded amount per
//!   turn and serves connections with data left round-robin);
//! - **timers keep their word**: a timer fires when it is due even while
//!   events keep arriving, and a protocol that re-arms its timer in the past
//!   is called again on the next turn, not in a loop that starves the rest;
//! - **bounded memory**: unsent bytes are capped per connection and across
//!   the whole server (a broadcast to many stalled peers cannot hold
//!   gigabytes), input a protocol leaves unconsumed is capped, mailboxes are
//!   bounded, and so is the number of connections (`--max-conns`), beyond
//!   which a newcomer gets a short refusal (a 503 for HTTP servers) and is
//!   closed.
//!
//! Two drivers keep this contract: [`threads`] (chapter 1: a thread per
//! connection over blocking `std::net`) and [`mio`] (chapter 4: one thread,
//! an event loop on `mio`). Because protocols only see this contract, the same HTTP, WebSocket
//! and Socket.IO code runs on both, and benchmarks compare only the
//! concurrency model.

mod connector;
pub mod mio;
mod output;
pub mod threads;

pub use connector::Connector;
pub use output::Output;
use output::Piece;

use std::borrow::Cow;
use std::fmt;
use std::io;
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

    /// The connection is gone, for `reason` (a close asked for, a reset, a
    /// failed write, a limit). No callback follows, and nothing can be sent:
    /// this is for letting go of things kept elsewhere, such as a chat room's
    /// membership. The default does nothing.
    fn on_closed(&mut self, reason: CloseReason) {
        let _ = reason;
    }
}

/// Why a connection ended: what [`Protocol::on_closed`] hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The protocol asked to close ([`Ctx::close`]) and the close finished:
    /// everything queued was written. The peer may or may not have said
    /// goodbye first.
    Closed,
    /// The protocol dropped the connection at once ([`Ctx::abort`]).
    Aborted,
    /// Reading failed: usually the peer reset the connection.
    ReadFailed(io::ErrorKind),
    /// Writing failed: usually the peer reset the connection.
    WriteFailed(io::ErrorKind),
    /// An outbound connection could not be established.
    ConnectFailed(io::ErrorKind),
    /// The peer stopped taking our bytes for too long.
    Stalled,
    /// More unsent bytes piled up for this peer than one connection may hold.
    TooMuchUnsent,
    /// The server's budget for unsent bytes, shared by all connections, ran
    /// out while this peer was behind.
    OverBudget,
    /// The protocol left more input unconsumed than a connection may hold.
    TooMuchInput,
    /// The server shut down before the connection finished closing.
    Shutdown,
}

impl CloseReason {
    /// Whether the connection ended the way a protocol asked it to.
    pub fn is_clean(self) -> bool {
        self == CloseReason::Closed
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Closed => f.write_str("closed"),
            CloseReason::Aborted => f.write_str("aborted by the protocol"),
            CloseReason::ReadFailed(kind) => write!(f, "read failed: {kind}"),
            CloseReason::WriteFailed(kind) => write!(f, "write failed: {kind}"),
            CloseReason::ConnectFailed(kind) => write!(f, "connect failed: {kind}"),
            CloseReason::Stalled => f.write_str("stalled: the peer is not reading"),
            CloseReason::TooMuchUnsent => f.write_str("too many unsent bytes for one peer"),
            CloseReason::OverBudget => {
                f.write_str("the server's unsent-bytes budget ran out while this peer was behind")
            }
            CloseReason::TooMuchInput => f.write_str("too much input left unconsumed"),
            CloseReason::Shutdown => f.write_str("server shut down"),
        }
    }
}

/// Stops a running server, from any thread (a Ctrl-C handler, say): it
/// stops accepting, lets every connection say goodbye
/// ([`Protocol::on_shutdown`]), waits a grace period for them to close, and
/// then the serving function returns. Cheap to clone; both drivers make one.
#[derive(Clone)]
pub struct Shutdown {
    trigger: Arc<dyn Fn() + Send + Sync>,
}

impl Shutdown {
    /// A handle that runs `trigger` when asked. Drivers make these.
    pub fn new(trigger: impl Fn() + Send + Sync + 'static) -> Shutdown {
        Shutdown {
            trigger: Arc::new(trigger),
        }
    }

    /// Starts the shutdown; returns at once.
    pub fn shutdown(&self) {
        (self.trigger)();
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Shutdown")
    }
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
    /// Bytes already waiting for the peer when the callback began.
    unsent: usize,
    /// Shared buffers (and the owned bytes queued before them), in order.
    sealed: Vec<Piece>,
    /// Bytes in `sealed`.
    sealed_len: usize,
    /// Owned bytes queued after everything in `sealed`.
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
        Ctx::for_driver(now, peer, 0)
    }

    /// A context for a callback on a connection for which `unsent` bytes
    /// already wait. Drivers call this.
    pub fn for_driver(now: Instant, peer: SocketAddr, unsent: usize) -> Ctx {
        Ctx {
            now,
            peer,
            unsent,
            sealed: Vec::new(),
            sealed_len: 0,
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

    /// Queues a shared buffer, in order with the other bytes, without
    /// copying it: the way to send one encoding to many connections.
    pub fn send_shared(&mut self, bytes: Arc<[u8]>) {
        if !self.out.is_empty() {
            self.sealed_len += self.out.len();
            self.sealed
                .push(Piece::Owned(std::mem::take(&mut self.out)));
        }
        if !bytes.is_empty() {
            self.sealed_len += bytes.len();
            self.sealed.push(Piece::Shared(bytes));
        }
    }

    /// The queue's owned tail, for protocols that encode straight into it.
    pub fn send_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Bytes waiting for the peer: what the driver had not written when the
    /// callback began, plus what this callback has queued so far. A
    /// protocol can drop a message that may be dropped (a volatile one)
    /// instead of queueing it behind a peer that is not reading.
    pub fn unsent(&self) -> usize {
        self.unsent + self.sealed_len + self.out.len()
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

    /// Bytes queued so far, in order (copied together only if shared
    /// buffers are among them).
    pub fn queued(&self) -> Cow<'_, [u8]> {
        if self.sealed.is_empty() {
            Cow::Borrowed(&self.out)
        } else {
            let mut all = Vec::with_capacity(self.sealed_len + self.out.len());
            for piece in &self.sealed {
                all.extend_from_slice(piece.bytes());
            }
            all.extend_from_slice(&self.out);
            Cow::Owned(all)
        }
    }

    /// The close asked for, if any.
    pub fn close_request(&self) -> Option<Close> {
        self.close
    }

    /// The timer change asked for.
    pub fn timer_request(&self) -> TimerRequest {
        self.timer
    }

    /// Hands the context an empty buffer to build its output in (a driver
    /// reusing the last reply's allocation). Drivers call this.
    #[inline]
    pub fn lend_buffer(&mut self, buffer: Vec<u8>) {
        if self.out.is_empty() && self.out.capacity() == 0 {
            self.out = buffer;
            self.out.clear();
        }
    }

    /// Takes back a lent buffer that was not used. Drivers call this after
    /// [`Ctx::drain_output_into`].
    #[inline]
    pub fn reclaim_buffer(&mut self) -> Option<Vec<u8>> {
        (self.out.is_empty() && self.out.capacity() > 0).then(|| std::mem::take(&mut self.out))
    }

    /// Moves the queued bytes to the end of `output`, leaving the queue
    /// empty. Drivers call this.
    #[inline]
    pub fn drain_output_into(&mut self, output: &mut Output) {
        if !self.sealed.is_empty() {
            for piece in self.sealed.drain(..) {
                output.push_piece(piece);
            }
            self.sealed_len = 0;
        }
        if !self.out.is_empty() {
            output.push_owned(std::mem::take(&mut self.out));
        }
    }

    /// Takes the queued bytes, leaving the queue empty.
    pub fn take_output(&mut self) -> Output {
        let mut output = Output::new();
        self.drain_output_into(&mut output);
        output
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

/// Why a [`Mailbox::send`] did not deliver, with the message given back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MailboxError<M> {
    /// The connection has closed.
    Closed(M),
    /// The connection's inbox is full: it is not keeping up. The sender
    /// decides what to do (drop the message, or close the slow connection).
    Full(M),
}

impl<M> MailboxError<M> {
    /// The message that was not delivered.
    pub fn into_message(self) -> M {
        match self {
            MailboxError::Closed(message) | MailboxError::Full(message) => message,
        }
    }

    /// Whether the connection is gone (rather than only behind).
    pub fn is_closed(&self) -> bool {
        matches!(self, MailboxError::Closed(_))
    }
}

impl<M> fmt::Debug for MailboxError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailboxError::Closed(_) => f.write_str("Closed(..)"),
            MailboxError::Full(_) => f.write_str("Full(..)"),
        }
    }
}

impl<M> fmt::Display for MailboxError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailboxError::Closed(_) => f.write_str("connection closed"),
            MailboxError::Full(_) => f.write_str("connection inbox full"),
        }
    }
}

impl<M> std::error::Error for MailboxError<M> {}

impl<M> Mailbox<M> {
    /// A mailbox backed by a driver's own delivery mechanism.
    pub fn new(deliver: impl Deliver<M> + 'static) -> Mailbox<M> {
        Mailbox {
            inner: Arc::new(deliver),
        }
    }

    /// Queues `message` for the connection without blocking; gives it back
    /// if it cannot be delivered.
    pub fn send(&self, message: M) -> Result<(), MailboxError<M>> {
        self.inner.deliver(message)
    }
}

/// How a driver hands a message to a connection. Never blocks.
pub trait Deliver<M>: Send + Sync {
    /// Queue the message, or say why not and give it back.
    fn deliver(&self, message: M) -> Result<(), MailboxError<M>>;
}
