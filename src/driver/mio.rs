//! The event-loop driver: one thread, many sockets, on `mio`.
//!
//! One thread asks the kernel (epoll on Linux, through `mio::Poll`) "which of
//! these sockets can I read or write now?", and only ever does work that will
//! not block. Every connection is a small struct in a slab; there are no
//! per-connection threads or stacks. The same [`Protocol`]s as under
//! [`super::threads`] run here unchanged.
//!
//! - **Tokens** name what became ready: `LISTENER`, `WAKER`, or a slab index.
//! - **Reads** go into one shared scratch buffer; only a partial message the
//!   protocol leaves unconsumed is copied into the connection. An idle
//!   connection holds no buffers at all.
//! - **Writes** are tried at once; what the kernel will not take waits in the
//!   connection's output, with WRITABLE interest until it drains.
//! - **Backpressure**: past [`Config::pause_above`] unsent bytes the loop
//!   stops reading from that peer (it is logged), so a client that sends but
//!   does not read slows itself down. A peer whose output makes no progress
//!   for [`Config::stall_timeout`], or that piles up more than
//!   [`Config::max_unsent`], is dropped: one slow client cannot grow the
//!   server's memory without bound.
//! - **Timers** live in a heap of (deadline, connection); `poll` sleeps until
//!   the earliest.
//! - **Mailboxes** push into a shared queue and wake `poll` with a `Waker`.

use super::{Close, Ctx, Deliver, Mailbox, NewProtocol, Protocol, SendError, TimerRequest};
use ::mio::net::{TcpListener, TcpStream};
use ::mio::{Events, Interest, Poll, Token, Waker};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::{self, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Limits and sizes of the event loop. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct Config {
    /// Unsent bytes above which the loop stops reading from the peer until
    /// its output drains. Default 1 MiB.
    pub pause_above: usize,
    /// Unsent bytes above which the peer is dropped: it must exceed the
    /// largest reply one message can cause (a 16 MiB WebSocket echo, say).
    /// Default 32 MiB.
    pub max_unsent: usize,
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
    /// After half-closing, how long to wait for the peer's FIN. Default 2 s.
    pub linger: Duration,
    /// On shutdown, how long connections get to say goodbye before the
    /// loop returns anyway. Default 5 s.
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pause_above: 1024 * 1024,
            max_unsent: 32 * 1024 * 1024,
            stall_timeout: Duration::from_secs(30),
            max_buffered_input: 1024 * 1024,
            inbox_capacity: 256,
            scratch_size: 64 * 1024,
            linger: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);

/// A connection's slot and generation: a message for a connection that has
/// gone must not reach a newer one that reuses its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    slot: usize,
    generation: u64,
}

/// Messages from other threads, waiting for the loop.
struct Shared<M> {
    queue: Mutex<Vec<(Key, M)>>,
    waker: Arc<Waker>,
}

/// Asks a running loop to stop: it stops accepting, lets every connection
/// say goodbye ([`Protocol::on_shutdown`]), waits up to
/// [`Config::shutdown_grace`] for them to close, and returns. Cheap to clone;
/// callable from any thread (a Ctrl-C handler, say).
#[derive(Clone)]
pub struct Shutdown {
    requested: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Shutdown {
    /// Starts the shutdown; returns at once.
    pub fn shutdown(&self) {
        self.requested.store(true, Ordering::Release);
        let _ = self.waker.wake();
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

/// A [`Mailbox`] backend: queue the message and wake the loop.
struct LoopInbox<M> {
    key: Key,
    shared: Arc<Shared<M>>,
    closed: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl<M: Send> Deliver<M> for LoopInbox<M> {
    fn deliver(&self, message: M) -> Result<(), SendError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SendError::Closed);
        }
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(SendError::Full);
        }
        let was_empty = {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.push((self.key, message));
            queue.len() == 1
        };
        // One wake-up per batch: the loop drains the whole queue when it wakes.
        if was_empty {
            let _ = self.shared.waker.wake();
        }
        Ok(())
    }
}

/// One connection's state between events.
struct Conn<P> {
    stream: TcpStream,
    peer: SocketAddr,
    generation: u64,
    protocol: P,
    /// A partial message the protocol left unconsumed (empty when idle).
    input: Vec<u8>,
    /// Bytes the kernel has not taken yet (empty when idle).
    output: Vec<u8>,
    timer: Option<Instant>,
    /// The peer sent FIN.
    eof: bool,
    /// We are closing: after `output` drains, half-close and linger.
    closing: bool,
    /// An outbound connect has not finished yet: nothing can be written.
    connecting: bool,
    /// When lingering ends, once our FIN is out.
    linger_until: Option<Instant>,
    /// Reading is paused: too many bytes wait to be sent.
    paused: bool,
    /// The last time the peer took some of our output.
    last_progress: Instant,
    /// When to check for a stall, while output is waiting.
    stall_check: Option<Instant>,
    wants_writable: bool,
    closed: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
}

/// Accepts and serves connections on one thread, forever.
pub fn serve<N: NewProtocol>(
    listener: std::net::TcpListener,
    new_protocol: N,
    config: Config,
) -> io::Result<()> {
    let mut event_loop = EventLoop::new(config)?;
    event_loop.listen(listener, new_protocol)?;
    event_loop.run()
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

/// Makes the protocol for each accepted connection.
type Factory<P> = Box<dyn Fn(SocketAddr) -> P + Send>;

struct EventLoop<P: Protocol> {
    poll: Poll,
    /// The listening socket, when serving (none for a client-only loop).
    listener: Option<(TcpListener, Factory<P>)>,
    config: Config,
    slots: Vec<Option<Conn<P>>>,
    /// Connections open now: a client-only loop ends when it reaches 0.
    open: usize,
    /// Set by a [`Shutdown`] handle.
    stop_requested: Arc<AtomicBool>,
    /// Once shutting down: when the loop returns even if connections remain.
    stopping_until: Option<Instant>,
    /// When to try `accept` again after it failed (out of descriptors).
    accept_retry: Option<Instant>,
    free: Vec<usize>,
    next_generation: u64,
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    shared: Arc<Shared<P::Mail>>,
    scratch: Vec<u8>,
}

/// What to do with a connection after handling an event.
enum Next {
    Keep,
    Drop(String),
}

impl<P: Protocol> EventLoop<P> {
    fn new(config: Config) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(EventLoop {
            poll,
            listener: None,
            open: 0,
            stop_requested: Arc::new(AtomicBool::new(false)),
            stopping_until: None,
            accept_retry: None,
            scratch: vec![0; config.scratch_size.max(1)],
            config,
            slots: Vec::new(),
            free: Vec::new(),
            next_generation: 0,
            timers: BinaryHeap::new(),
            shared: Arc::new(Shared {
                queue: Mutex::new(Vec::new()),
                waker,
            }),
        })
    }

    fn listen<N: NewProtocol<Protocol = P>>(
        &mut self,
        listener: std::net::TcpListener,
        new_protocol: N,
    ) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        self.poll
            .registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        self.listener = Some((
            listener,
            Box::new(move |peer| new_protocol.new_protocol(peer)),
        ));
        Ok(())
    }

    /// Starts a non-blocking connect; the protocol opens at once, and what it
    /// sends waits until the connection is established.
    fn connect(&mut self, addr: SocketAddr, protocol: P) -> io::Result<()> {
        let stream = TcpStream::connect(addr)?;
        self.open(stream, addr, protocol, true);
        Ok(())
    }

    fn shutdown_handle(&self) -> Shutdown {
        Shutdown {
            requested: Arc::clone(&self.stop_requested),
            waker: Arc::clone(&self.shared.waker),
        }
    }

    /// Stops accepting and asks every connection to say goodbye.
    fn begin_shutdown(&mut self) {
        if let Some((mut listener, _)) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let until = Instant::now() + self.config.shutdown_grace;
        self.stopping_until = Some(until);
        info!("shutting down: {} connection(s) to close", self.open);
        for slot in 0..self.slots.len() {
            if let Some(conn) = self.slots[slot].as_mut() {
                let mut ctx = Ctx::new(Instant::now(), conn.peer);
                conn.protocol.on_shutdown(&mut ctx);
                self.after_callback(slot, ctx);
            }
        }
    }

    // ANCHOR: run
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        while self.listener.is_some() || self.open > 0 {
            if self
                .stopping_until
                .is_some_and(|until| Instant::now() >= until)
            {
                warn!(
                    "shutdown grace over with {} connection(s) still open",
                    self.open
                );
                return Ok(());
            }
            // Sleep until a socket is ready, a mailbox wakes us, or the
            // earliest timer is due.
            let timeout = self
                .next_deadline()
                .into_iter()
                .chain(self.stopping_until)
                .chain(self.accept_retry)
                .min()
                .map(|at| at.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {
                        self.deliver_messages();
                        if self.stop_requested.load(Ordering::Acquire)
                            && self.stopping_until.is_none()
                        {
                            self.begin_shutdown();
                        }
                    }
                    Token(slot) => self.ready(slot, event.is_readable(), event.is_writable()),
                }
            }
            self.fire_timers();
            if self.accept_retry.is_some_and(|at| Instant::now() >= at) {
                self.accept_retry = None;
                self.accept_all();
            }
        }
        Ok(())
    }
    // ANCHOR_END: run

    // ANCHOR: accept
    /// Accepts until the kernel has no more waiting connections: with
    /// edge-triggered readiness, stopping early would lose the rest.
    fn accept_all(&mut self) {
        loop {
            let Some((listener, new_protocol)) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    let protocol = new_protocol(peer);
                    info!("accepted {peer}");
                    self.open(stream, peer, protocol, false);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    // Out of descriptors, say: keep serving those we have,
                    // and try again soon. The connections still queued
                    // raise no new edge, so waiting for one would stall.
                    warn!("accept failed: {err}; retrying in 10 ms");
                    self.accept_retry = Some(Instant::now() + Duration::from_millis(10));
                    return;
                }
            }
        }
    }
    // ANCHOR_END: accept

    /// Registers a connection and opens its protocol. `connecting`: an
    /// outbound connect still in progress (writable means it has finished).
    fn open(&mut self, mut stream: TcpStream, peer: SocketAddr, protocol: P, connecting: bool) {
        // Replies leave as soon as they are written: no waiting to batch
        // small writes (Nagle), which would add latency to request/response.
        let _ = stream.set_nodelay(true);
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let interest = if connecting {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if let Err(err) = self
            .poll
            .registry()
            .register(&mut stream, Token(slot), interest)
        {
            warn!("could not register {peer}: {err}");
            self.free.push(slot);
            return;
        }
        self.open += 1;
        self.next_generation += 1;
        let key = Key {
            slot,
            generation: self.next_generation,
        };
        let closed = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let mailbox = Mailbox::new(LoopInbox {
            key,
            shared: Arc::clone(&self.shared),
            closed: Arc::clone(&closed),
            queued: Arc::clone(&queued),
            capacity: self.config.inbox_capacity.max(1),
        });
        self.slots[slot] = Some(Conn {
            connecting,
            stream,
            peer,
            generation: key.generation,
            protocol,
            input: Vec::new(),
            output: Vec::new(),
            timer: None,
            eof: false,
            closing: false,
            linger_until: None,
            paused: false,
            last_progress: Instant::now(),
            stall_check: None,
            wants_writable: connecting,
            closed,
            queued,
        });
        let mut ctx = Ctx::new(Instant::now(), peer);
        if let Some(conn) = self.slots[slot].as_mut() {
            conn.protocol.on_open(mailbox, &mut ctx);
        }
        self.after_callback(slot, ctx);
    }

    /// A socket became readable and/or writable.
    fn ready(&mut self, slot: usize, readable: bool, writable: bool) {
        let next = match self.slots.get_mut(slot).and_then(Option::as_mut) {
            None => return, // an event for a connection closed earlier in this batch
            Some(conn) if conn.connecting && (writable || readable) => {
                conn.finish_connect(&self.config)
            }
            Some(conn) if writable => conn.flush(&self.config),
            Some(_) => Next::Keep,
        };
        if let Next::Drop(reason) = next {
            return self.close(slot, &reason);
        }
        // Resume reading once the peer has taken half of what was waiting;
        // bytes that arrived meanwhile raise no new edge, so read now.
        let mut resumed = false;
        if let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut)
            && conn.paused
            && conn.output.len() <= self.config.pause_above / 2
        {
            conn.paused = false;
            resumed = true;
            debug!("{}: reading again", conn.peer);
        }
        if readable || resumed {
            self.read(slot);
        }
        self.after_flush(slot);
    }

    // ANCHOR: read
    /// Reads until `WouldBlock`, handing each chunk to the protocol.
    fn read(&mut self, slot: usize) {
        loop {
            let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            if conn.eof || conn.paused {
                return;
            }
            let n = match conn.stream.read(&mut self.scratch) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return self.close(slot, &format!("read failed: {err}")),
            };
            let mut ctx = Ctx::new(Instant::now(), conn.peer);
            if conn.closing {
                // Closing: discard what the peer sends. Their FIN ends it,
                // unless our output is still draining (it may still be read:
                // a FIN only closes their direction).
                if n == 0 {
                    conn.eof = true;
                    if conn.output.is_empty() {
                        return self.close(slot, "closed");
                    }
                    return;
                }
                continue;
            }
            if n == 0 {
                conn.eof = true;
                conn.protocol.on_eof(&conn.input, &mut ctx);
            } else if conn.input.is_empty() {
                // The common case: no partial message is waiting, so the
                // protocol reads straight from the scratch buffer, and only
                // what it leaves is copied.
                let chunk = &self.scratch[..n];
                let used = conn.protocol.on_bytes(chunk, &mut ctx).min(n);
                conn.input.extend_from_slice(&chunk[used..]);
            } else {
                conn.input.extend_from_slice(&self.scratch[..n]);
                let used = conn
                    .protocol
                    .on_bytes(&conn.input, &mut ctx)
                    .min(conn.input.len());
                conn.input.drain(..used);
                if conn.input.is_empty() {
                    conn.input = Vec::new(); // give the memory back while idle
                }
            }
            if conn.input.len() > self.config.max_buffered_input {
                let limit = self.config.max_buffered_input;
                return self.close(
                    slot,
                    &format!("more than {limit} bytes buffered unconsumed"),
                );
            }
            if !self.after_callback(slot, ctx) {
                return;
            }
        }
    }
    // ANCHOR_END: read

    /// Applies what a callback asked for. Returns whether the connection is
    /// still open.
    fn after_callback(&mut self, slot: usize, mut ctx: Ctx) -> bool {
        let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return false;
        };
        if ctx.close_request() == Some(Close::Abort) {
            self.close(slot, "aborted by the protocol");
            return false;
        }
        let out = ctx.take_output();
        if conn.output.is_empty() {
            conn.output = out;
        } else {
            conn.output.extend_from_slice(&out);
        }
        match ctx.timer_request() {
            TimerRequest::Keep => {}
            TimerRequest::Cancel => conn.timer = None,
            // The same deadline again (a protocol re-arming after every
            // callback) needs no second heap entry.
            TimerRequest::At(at) if conn.timer == Some(at) => {}
            TimerRequest::At(at) => {
                conn.timer = Some(at);
                let key = Key {
                    slot,
                    generation: conn.generation,
                };
                self.timers.push(Reverse((at, key)));
            }
        }
        if ctx.close_request() == Some(Close::AfterFlush) {
            conn.closing = true;
        }
        if let Next::Drop(reason) = conn.flush(&self.config) {
            self.close(slot, &reason);
            return false;
        }
        self.after_flush(slot)
    }

    /// Updates WRITABLE interest and finishes a close once output drained.
    /// Returns whether the connection is still open.
    fn after_flush(&mut self, slot: usize) -> bool {
        let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return false;
        };
        let pending = !conn.output.is_empty();
        if pending != conn.wants_writable {
            let interest = if pending {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if let Err(err) =
                self.poll
                    .registry()
                    .reregister(&mut conn.stream, Token(slot), interest)
            {
                self.close(slot, &format!("reregister failed: {err}"));
                return false;
            }
            conn.wants_writable = pending;
        }
        // Backpressure: stop reading while too much waits to be sent, and
        // watch that the peer keeps taking some of it.
        if !pending {
            conn.stall_check = None;
        } else if conn.stall_check.is_none() {
            conn.last_progress = Instant::now();
            let check = conn.last_progress + self.config.stall_timeout;
            conn.stall_check = Some(check);
            let key = Key {
                slot,
                generation: conn.generation,
            };
            self.timers.push(Reverse((check, key)));
        }
        if !conn.paused && conn.output.len() > self.config.pause_above {
            conn.paused = true;
            warn!(
                "{}: {} bytes unsent, pausing reads until the peer catches up",
                conn.peer,
                conn.output.len()
            );
        }
        if conn.closing && !pending && conn.linger_until.is_none() {
            // Our FIN goes out; wait a little for theirs so that late bytes
            // from the peer are not answered with a reset.
            if conn.eof || conn.stream.shutdown(net::Shutdown::Write).is_err() {
                self.close(slot, "closed");
                return false;
            }
            let until = Instant::now() + self.config.linger;
            conn.linger_until = Some(until);
            let key = Key {
                slot,
                generation: conn.generation,
            };
            self.timers.push(Reverse((until, key)));
        }
        true
    }

    fn deliver_messages(&mut self) {
        let batch =
            std::mem::take(&mut *self.shared.queue.lock().unwrap_or_else(|e| e.into_inner()));
        for (key, message) in batch {
            let Some(conn) = self.slots.get_mut(key.slot).and_then(Option::as_mut) else {
                continue;
            };
            if conn.generation != key.generation || conn.closing {
                continue;
            }
            conn.queued.fetch_sub(1, Ordering::AcqRel);
            let mut ctx = Ctx::new(Instant::now(), conn.peer);
            conn.protocol.on_message(message, &mut ctx);
            self.after_callback(key.slot, ctx);
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        // Drop stale entries (timers replaced or connections gone) first.
        while let Some(Reverse((at, key))) = self.timers.peek().copied() {
            if self.timer_is_live(at, key) {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    fn timer_is_live(&self, at: Instant, key: Key) -> bool {
        match self.slots.get(key.slot).and_then(Option::as_ref) {
            Some(conn) if conn.generation == key.generation => {
                conn.timer == Some(at)
                    || conn.linger_until == Some(at)
                    || conn.stall_check == Some(at)
            }
            _ => false,
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, key))) = self.timers.peek().copied() {
            if at > now {
                return;
            }
            self.timers.pop();
            if !self.timer_is_live(at, key) {
                continue;
            }
            let Some(conn) = self.slots.get_mut(key.slot).and_then(Option::as_mut) else {
                continue;
            };
            if conn.stall_check == Some(at) {
                conn.stall_check = None;
                if conn.output.is_empty() {
                    continue;
                }
                if now.duration_since(conn.last_progress) >= self.config.stall_timeout {
                    let unsent = conn.output.len();
                    warn!(
                        "{}: dropped, {unsent} bytes unsent for {:?}: the peer is not reading",
                        conn.peer, self.config.stall_timeout
                    );
                    self.close(key.slot, "stalled: the peer is not reading");
                } else {
                    let check = conn.last_progress + self.config.stall_timeout;
                    conn.stall_check = Some(check);
                    self.timers.push(Reverse((check, key)));
                }
                continue;
            }
            if conn.linger_until == Some(at) {
                debug!("{}: no FIN within {:?}", conn.peer, self.config.linger);
                self.close(key.slot, "closed");
                continue;
            }
            conn.timer = None;
            let mut ctx = Ctx::new(now, conn.peer);
            conn.protocol.on_timer(&mut ctx);
            self.after_callback(key.slot, ctx);
        }
    }

    fn close(&mut self, slot: usize, reason: &str) {
        if let Some(mut conn) = self.slots.get_mut(slot).and_then(Option::take) {
            conn.closed.store(true, Ordering::Release);
            let _ = self.poll.registry().deregister(&mut conn.stream);
            self.open -= 1;
            conn.protocol.on_closed();
            info!("closed {}: {reason}", conn.peer);
            self.free.push(slot);
        }
    }
}

impl<P> Conn<P> {
    /// An outbound connect became ready: it either failed or is established.
    fn finish_connect(&mut self, config: &Config) -> Next {
        match self.stream.take_error() {
            Ok(Some(err)) | Err(err) => return Next::Drop(format!("connect failed: {err}")),
            Ok(None) => {}
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.connecting = false;
                self.flush(config)
            }
            // Not connected yet (a spurious wake-up): wait for the next event.
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Next::Keep,
            Err(err) => Next::Drop(format!("connect failed: {err}")),
        }
    }

    // ANCHOR: flush
    /// Writes as much output as the kernel takes now.
    fn flush(&mut self, config: &Config) -> Next {
        if self.connecting {
            return Next::Keep; // written once the connect completes
        }
        let mut written = 0;
        while written < self.output.len() {
            match self.stream.write(&self.output[written..]) {
                Ok(0) => return Next::Drop("write returned 0".into()),
                Ok(n) => written += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Next::Drop(format!("write failed: {err}")),
            }
        }
        if written > 0 {
            self.last_progress = Instant::now();
        }
        if written == self.output.len() {
            self.output = Vec::new(); // idle again: hold no buffer
        } else {
            self.output.drain(..written);
        }
        if self.output.len() > config.max_unsent {
            warn!(
                "{}: dropped, {} bytes unsent: the peer is not reading",
                self.peer,
                self.output.len()
            );
            return Next::Drop(format!("over {} unsent bytes", config.max_unsent));
        }
        Next::Keep
    }
    // ANCHOR_END: flush
}

#[cfg(test)]
#[path = "mio_tests.rs"]
mod tests;
