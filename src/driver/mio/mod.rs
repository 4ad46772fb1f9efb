//! The event-loop driver: one thread, many sockets, on `mio`.
//!
//! One thread asks the kernel (epoll on Linux, through `mio::Poll`) "which of
//! these sockets can I read or write now?", and only ever does work that will
//! not block. Every connection is a small struct in a slab; there are no
//! per-connection threads or stacks. The same [`Protocol`]s as under
//! [`super::threads`] run here unchanged.
//!
//! The pieces, one file each:
//!
//! - `event_loop.rs`: the loop itself: `poll`, accept, read, write, and the
//!   list of connections that still have bytes to read.
//! - `conn.rs`: one connection's state, as an explicit `Phase` enum,
//!   and its output.
//! - `timers.rs`: the timer heap, with lazy deletion and compaction.
//! - `inbox.rs`: mailboxes: other threads queue messages and wake the loop.
//!
//! What the loop promises:
//!
//! - **Tokens** name what became ready: `LISTENER`, `WAKER`, or a slab index.
//! - **Reads** go into one shared scratch buffer; only a partial message the
//!   protocol leaves unconsumed is copied into the connection. An idle
//!   connection holds no buffers at all.
//! - **Fairness**: a connection reads at most [`Config::read_budget`] bytes
//!   per turn. One that still has data goes on a ready list, served
//!   round-robin, and while the list is not empty the loop polls without
//!   sleeping (with edge-triggered readiness no new event would come).
//! - **Writes** are tried at once; what the kernel will not take waits in the
//!   connection's output, with WRITABLE interest until it drains.
//! - **Backpressure**: past [`Config::pause_above`] unsent bytes the loop
//!   stops reading from that peer, so a client that sends but does not read
//!   slows itself down. A peer whose output makes no progress for
//!   [`Config::stall_timeout`], or that piles up more than
//!   [`Config::max_unsent`], is dropped, and so is a peer that is behind
//!   when the whole server holds more than [`Config::max_unsent_total`].
//! - **Timers** live in a heap of (deadline, connection); `poll` sleeps until
//!   the earliest. A pass fires only what was due when it began.
//! - **Mailboxes** push into a shared queue and wake `poll` with a `Waker`;
//!   the loop's own thread (a callback mailing a connection) only marks the
//!   queue, and the loop delivers before it sleeps again.
//! - **Reads** stop at a short read: it emptied the socket (epoll(7)), and
//!   new bytes raise a new edge; after a FIN or an error the loop reads on
//!   to the end.

mod conn;
mod event_loop;
mod inbox;
mod timers;

use super::{Connector, NewProtocol, Protocol, Shutdown};
use event_loop::EventLoop;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Limits and sizes of the event loop. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct Config {
    /// Unsent bytes above which the loop stops reading from the peer until
    /// its output drains. Default 1 MiB.
    pub pause_above: usize,
    /// Unsent bytes above which the peer is dropped: it must exceed the
    /// largest reply one message can cause (a 16 MiB WebSocket echo, say).
    /// Default 20 MiB.
    pub max_unsent: usize,
    /// Unsent bytes the whole server may hold. Past it, a connection whose
    /// output cannot be written at once is dropped
    /// ([`CloseReason::OverBudget`](super::CloseReason::OverBudget)).
    /// Shared buffers count once per connection. Default 256 MiB.
    pub max_unsent_total: usize,
    /// How long unsent bytes may wait without any being taken by the peer
    /// before it is dropped. Default 30 s.
    pub stall_timeout: Duration,
    /// Bytes a protocol may leave unconsumed before the connection is
    /// dropped: a backstop under each protocol's own limits. Default 1 MiB.
    pub max_buffered_input: usize,
    /// Mailbox messages queued for one connection before sends fail with
    /// `Full`. Default 256.
    pub inbox_capacity: usize,
    /// The shared read buffer. Default 64 KiB.
    pub scratch_size: usize,
    /// Bytes read from one connection before the others get their turn.
    /// Default 64 KiB.
    pub read_budget: usize,
    /// Connections served at once; a newcomer beyond this gets
    /// [`Config::refusal`] and is closed. Default 100,000.
    pub max_conns: usize,
    /// What a connection refused for [`Config::max_conns`] is sent before it
    /// is closed. Default: nothing (the chapter servers set a 503).
    pub refusal: Arc<[u8]>,
    /// After half-closing, how long to wait for the peer's FIN. Default 2 s.
    pub linger: Duration,
    /// On shutdown, how long connections get to say goodbye before the
    /// loop closes the rest and returns. Default 5 s.
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pause_above: 1024 * 1024,
            max_unsent: 20 * 1024 * 1024,
            max_unsent_total: 256 * 1024 * 1024,
            stall_timeout: Duration::from_secs(30),
            max_buffered_input: 1024 * 1024,
            inbox_capacity: 256,
            scratch_size: 64 * 1024,
            read_budget: 64 * 1024,
            max_conns: 100_000,
            refusal: Arc::from(&b""[..]),
            linger: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// A server loop running on its own thread.
pub struct Running {
    /// Stops the loop.
    pub shutdown: Shutdown,
    /// Ends when the loop has returned.
    pub thread: thread::JoinHandle<io::Result<()>>,
}

/// Starts serving on a background thread, with a [`Shutdown`] handle.
pub fn start<N: NewProtocol>(
    listener: std::net::TcpListener,
    new_protocol: N,
    config: Config,
) -> io::Result<Running> {
    let mut event_loop = EventLoop::new(config)?;
    event_loop.listen(listener, new_protocol)?;
    let shutdown = event_loop.shutdown_handle();
    let thread = thread::spawn(move || event_loop.run());
    Ok(Running { shutdown, thread })
}

/// Serves on the calling thread until `shutdown` is triggered from elsewhere,
/// handing the handle to `ready` first (to install a signal handler, say).
pub fn serve_with_shutdown<N: NewProtocol>(
    listener: std::net::TcpListener,
    new_protocol: N,
    config: Config,
    ready: impl FnOnce(Shutdown),
) -> io::Result<()> {
    let mut event_loop = EventLoop::new(config)?;
    event_loop.listen(listener, new_protocol)?;
    ready(event_loop.shutdown_handle());
    event_loop.run()
}

/// Like [`serve_with_shutdown`], for servers that also open connections
/// (a proxy): `make` receives the loop's [`Connector`] and returns the
/// factory for accepted connections.
pub fn serve_with_connector<P: Protocol, N: NewProtocol<Protocol = P>>(
    listener: std::net::TcpListener,
    make: impl FnOnce(Connector<P>) -> N,
    config: Config,
    ready: impl FnOnce(Shutdown),
) -> io::Result<()> {
    let mut event_loop = EventLoop::new(config)?;
    let new_protocol = make(event_loop.connector());
    event_loop.listen(listener, new_protocol)?;
    ready(event_loop.shutdown_handle());
    event_loop.run()
}

/// Accepts and serves connections on one thread, forever.
pub fn serve<N: NewProtocol>(
    listener: std::net::TcpListener,
    new_protocol: N,
    config: Config,
) -> io::Result<()> {
    serve_with_shutdown(listener, new_protocol, config, |_| {})
}

/// Opens a client connection to each address, running its protocol, all on
/// the calling thread; returns when every connection has closed. Load
/// generators and test clients use this side of the loop.
pub fn connect_all<P: Protocol>(targets: Vec<(SocketAddr, P)>, config: Config) -> io::Result<()> {
    let mut event_loop = EventLoop::new(config)?;
    for (addr, protocol) in targets {
        event_loop.connect(addr, protocol)?;
    }
    event_loop.run()
}

/// Runs `serve` on a background thread.
pub fn spawn<N: NewProtocol>(
    listener: std::net::TcpListener,
    new_protocol: N,
    config: Config,
) -> thread::JoinHandle<io::Result<()>> {
    thread::spawn(move || serve(listener, new_protocol, config))
}

#[cfg(test)]
mod tests;
