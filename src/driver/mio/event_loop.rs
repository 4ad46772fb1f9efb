//! The loop: `poll`, then accept, read, write and fire timers, on one thread.

use super::Config;
use super::conn::{Conn, Phase, Reading, Stall};
use super::inbox::{InboxState, Key, LoopInbox, Shared};
use super::timers::{Entry, TimerKind, Timers};
use crate::driver::{
    Close, CloseReason, Connector, Ctx, Mailbox, NewProtocol, Output, Protocol, Shutdown,
    TimerRequest, connector,
};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{self, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);

/// What a readiness event says about reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readable {
    No,
    /// Bytes wait: a short read means they have all been read.
    Yes,
    /// Read until the socket says `WouldBlock` or ends: the peer's FIN or
    /// an error is already reported (no further edge will come), or the
    /// bytes are left from an earlier turn.
    ToTheEnd,
}

/// Refused connections waiting for the peer's FIN, at most.
const MAX_REFUSED: usize = 1024;
/// How long a refused connection may wait for the peer's FIN.
const REFUSED_LINGER: Duration = Duration::from_secs(1);
/// How often the loop looks at refused connections while there are some.
const REFUSED_TICK: Duration = Duration::from_millis(20);

/// Makes the protocol for each accepted connection.
type Factory<P> = Box<dyn Fn(SocketAddr) -> P + Send>;

pub(super) struct EventLoop<P: Protocol> {
    poll: Poll,
    /// The listening socket, when serving (none for a client-only loop).
    listener: Option<(TcpListener, Factory<P>)>,
    config: Config,
    slots: Vec<Option<Conn<P>>>,
    free: Vec<usize>,
    next_generation: u64,
    /// Connections open now: a client-only loop ends when it reaches 0.
    open: usize,
    /// Set by a [`Shutdown`] handle.
    stop_requested: Arc<AtomicBool>,
    /// Once shutting down: when the loop closes the rest and returns.
    stopping_until: Option<Instant>,
    /// When to try `accept` again after it failed (out of descriptors).
    accept_retry: Option<Instant>,
    timers: Timers,
    shared: Arc<Shared<P::Mail>>,
    scratch: Vec<u8>,
    /// Connections that used their read budget with bytes left to read.
    ready: VecDeque<Key>,
    /// Unsent bytes over all connections.
    unsent_total: usize,
    /// Connections refused for `max_conns`, told so, waiting for their FIN.
    refused: Vec<(TcpStream, Instant)>,
    /// The last reply's buffer, emptied, for the next callback to build its
    /// reply in (one allocation saved per message).
    spare: Vec<u8>,
    /// Outbound connections asked for through a [`Connector`], waiting for
    /// the loop to start them.
    connects: Arc<Mutex<Vec<(SocketAddr, P)>>>,
}

/// Whether a timer entry still belongs to a live connection's deadline.
fn is_live<P>(slots: &[Option<Conn<P>>], &(at, key, kind): &Entry) -> bool {
    match slots.get(key.slot).and_then(Option::as_ref) {
        Some(conn) if conn.generation == key.generation => conn.has_deadline(at, kind),
        _ => false,
    }
}

impl<P: Protocol> EventLoop<P> {
    pub fn new(config: Config) -> io::Result<Self> {
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
            timers: Timers::new(),
            shared: Arc::new(Shared {
                queue: Mutex::new(Vec::new()),
                waker,
                local: AtomicBool::new(false),
            }),
            ready: VecDeque::new(),
            unsent_total: 0,
            refused: Vec::new(),
            spare: Vec::new(),
            connects: Arc::new(Mutex::new(Vec::new())),
        })
    }

    pub fn listen<N: NewProtocol<Protocol = P>>(
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
    pub fn connect(&mut self, addr: SocketAddr, protocol: P) -> io::Result<()> {
        let stream = TcpStream::connect(addr)?;
        self.open(stream, addr, protocol, true);
        Ok(())
    }

    /// A handle that opens outbound connections on this loop from anywhere
    /// (a protocol's callback, another thread): queued, then started on the
    /// loop's thread after a wake-up.
    pub fn connector(&self) -> Connector<P> {
        let connects = Arc::clone(&self.connects);
        let waker = Arc::clone(&self.shared.waker);
        let stopping = Arc::clone(&self.stop_requested);
        Connector::new(move |addr, protocol| {
            if stopping.load(Ordering::Acquire) {
                return Err(protocol);
            }
            connects
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((addr, protocol));
            let _ = waker.wake();
            Ok(())
        })
    }

    /// Starts the connects a [`Connector`] queued.
    fn start_connects(&mut self) {
        let queued = std::mem::take(&mut *self.connects.lock().unwrap_or_else(|e| e.into_inner()));
        for (addr, protocol) in queued {
            if self.stopping_until.is_some() {
                connector::refused(protocol, io::ErrorKind::ConnectionAborted);
                continue;
            }
            match TcpStream::connect(addr) {
                Ok(stream) => self.open(stream, addr, protocol, true),
                Err(err) => connector::refused(protocol, err.kind()),
            }
        }
    }

    pub fn shutdown_handle(&self) -> Shutdown {
        let requested = Arc::clone(&self.stop_requested);
        let waker = Arc::clone(&self.shared.waker);
        Shutdown::new(move || {
            requested.store(true, Ordering::Release);
            let _ = waker.wake();
        })
    }

    fn conn_mut(&mut self, slot: usize) -> Option<&mut Conn<P>> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    fn push_timer(&mut self, entry: Entry) {
        let slots = &self.slots;
        self.timers.push(entry, |entry| is_live(slots, entry));
    }

    /// Stops accepting and asks every connection to say goodbye.
    fn begin_shutdown(&mut self) {
        if let Some((mut listener, _)) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.refused.clear();
        self.stopping_until = Some(Instant::now() + self.config.shutdown_grace);
        info!("shutting down: {} connection(s) to close", self.open);
        for slot in 0..self.slots.len() {
            if let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) {
                let mut ctx = Ctx::for_driver(Instant::now(), conn.peer, conn.output.len());
                ctx.lend_buffer(std::mem::take(&mut self.spare));
                conn.protocol.on_shutdown(&mut ctx);
                self.after_callback(slot, &mut ctx);
            }
        }
    }

    // ANCHOR: run
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let shared = Arc::clone(&self.shared);
        let _on_loop = shared.enter();
        while self.listener.is_some() || self.open > 0 {
            if self
                .stopping_until
                .is_some_and(|until| Instant::now() >= until)
            {
                warn!(
                    "shutdown grace over with {} connection(s) still open",
                    self.open
                );
                for slot in 0..self.slots.len() {
                    self.close(slot, CloseReason::Shutdown);
                }
                return Ok(());
            }
            // Sleep until a socket is ready, a mailbox wakes us, or the
            // earliest timer is due; not at all while connections still
            // have bytes to read from their last turn, or mail that this
            // thread queued waits.
            let timeout = if self.ready.is_empty() && !self.shared.has_local() {
                let slots = &self.slots;
                let refused_tick =
                    (!self.refused.is_empty()).then(|| Instant::now() + REFUSED_TICK);
                self.timers
                    .next(|entry| is_live(slots, entry))
                    .into_iter()
                    .chain(self.stopping_until)
                    .chain(self.accept_retry)
                    .chain(refused_tick)
                    .min()
                    .map(|at| at.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {
                        self.start_connects();
                        self.deliver_messages();
                        if self.stop_requested.load(Ordering::Acquire)
                            && self.stopping_until.is_none()
                        {
                            self.begin_shutdown();
                        }
                    }
                    Token(slot) => {
                        let readable = if !event.is_readable() {
                            Readable::No
                        } else if event.is_read_closed() || event.is_error() {
                            Readable::ToTheEnd
                        } else {
                            Readable::Yes
                        };
                        self.ready(slot, readable, event.is_writable());
                    }
                }
            }
            self.serve_ready_list();
            if self.shared.take_local() {
                self.deliver_messages();
            }
            self.fire_timers();
            if self.accept_retry.is_some_and(|at| Instant::now() >= at) {
                self.accept_retry = None;
                self.accept_all();
            }
            self.tend_refused();
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
                Ok((stream, peer)) if self.open >= self.config.max_conns => {
                    self.refuse(stream, peer);
                }
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

    /// One connection too many: tell it so, send our FIN, and wait a moment
    /// for the peer's (closing at once could turn our answer into a reset).
    fn refuse(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        warn!(
            "refused {peer}: already serving {} connections (--max-conns)",
            self.config.max_conns
        );
        let _ = stream.write(&self.config.refusal);
        let _ = stream.shutdown(net::Shutdown::Write);
        if self.refused.len() < MAX_REFUSED {
            self.refused.push((stream, Instant::now() + REFUSED_LINGER));
        }
    }

    /// Reads and discards what refused peers send; lets go of each at its
    /// FIN or when its time is up.
    fn tend_refused(&mut self) {
        if self.refused.is_empty() {
            return;
        }
        let now = Instant::now();
        let scratch = &mut self.scratch;
        self.refused.retain_mut(|(stream, until)| {
            if now >= *until {
                return false;
            }
            loop {
                match stream.read(scratch) {
                    Ok(0) => return false,
                    Ok(_) => continue,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => return true,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return false,
                }
            }
        });
    }

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
        let inbox = Arc::new(InboxState::default());
        let mailbox = Mailbox::new(LoopInbox {
            key,
            shared: Arc::clone(&self.shared),
            state: Arc::clone(&inbox),
            capacity: self.config.inbox_capacity.max(1),
        });
        let phase = if connecting {
            Phase::Connecting { close_after: false }
        } else {
            Phase::Open(Reading::Active)
        };
        self.slots[slot] = Some(Conn {
            stream,
            peer,
            generation: key.generation,
            protocol,
            phase,
            input: Vec::new(),
            output: Output::new(),
            timer: None,
            stall: None,
            writable_interest: connecting,
            on_ready_list: false,
            counted: 0,
            inbox,
        });
        let mut ctx = Ctx::new(Instant::now(), peer);
        if let Some(conn) = self.conn_mut(slot) {
            conn.protocol.on_open(mailbox, &mut ctx);
        }
        self.after_callback(slot, &mut ctx);
    }

    /// A socket became readable and/or writable.
    fn ready(&mut self, slot: usize, readable: Readable, writable: bool) {
        let pause_above = self.config.pause_above;
        let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return; // an event for a connection closed earlier in this batch
        };
        let result = match conn.phase {
            Phase::Connecting { .. } if writable || readable != Readable::No => {
                conn.finish_connect()
            }
            Phase::Connecting { .. } => Ok(()),
            _ if writable => conn.flush(&mut self.spare).map(|_| ()),
            _ => Ok(()),
        };
        if let Err(reason) = result {
            return self.close(slot, reason);
        }
        // Resume reading once the peer has taken half of what was waiting;
        // bytes that arrived meanwhile raise no new edge, so read now.
        let mut resumed = false;
        if conn.phase == Phase::Open(Reading::Paused) && conn.output.len() <= pause_above / 2 {
            conn.phase = Phase::Open(Reading::Active);
            resumed = true;
            debug!("{}: reading again", conn.peer);
        }
        if resumed {
            self.read(slot, Readable::ToTheEnd);
        } else if readable != Readable::No {
            self.read(slot, readable);
        }
        self.after_output(slot);
    }

    /// Gives every connection left with bytes to read its next turn, in the
    /// order they ran out of budget.
    fn serve_ready_list(&mut self) {
        for _ in 0..self.ready.len() {
            let Some(key) = self.ready.pop_front() else {
                return;
            };
            match self.conn_mut(key.slot) {
                Some(conn) if conn.generation == key.generation => conn.on_ready_list = false,
                _ => continue,
            }
            self.read(key.slot, Readable::ToTheEnd);
            self.after_output(key.slot);
        }
    }

    // ANCHOR: read
    /// Reads up to the read budget, handing each chunk to the protocol. A
    /// connection with bytes left goes on the ready list: with
    /// edge-triggered readiness no new event would tell us about them.
    ///
    /// A read that returns less than it asked for emptied the socket's
    /// receive queue (epoll(7) says so for stream sockets), so the loop
    /// stops there instead of asking again for a `WouldBlock`: one system
    /// call fewer per message, as tokio does. Bytes that arrive later raise
    /// a new edge. Not when the peer's FIN (or an error) is already known:
    /// its edge has been reported, so the loop reads on to the end.
    fn read(&mut self, slot: usize, readable: Readable) {
        let mut budget = self.config.read_budget.max(1);
        loop {
            let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            if !conn.wants_to_read() {
                return;
            }
            if budget == 0 {
                if !conn.on_ready_list {
                    conn.on_ready_list = true;
                    self.ready.push_back(Key {
                        slot,
                        generation: conn.generation,
                    });
                }
                return;
            }
            let want = budget.min(self.scratch.len());
            let n = match conn.stream.read(&mut self.scratch[..want]) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return self.close(slot, CloseReason::ReadFailed(err.kind())),
            };
            budget -= n;
            match conn.phase {
                // Closing: discard what the peer sends; its FIN ends it once
                // our output has drained (a FIN only closes their direction).
                Phase::Closing { .. } if n == 0 => {
                    conn.phase = Phase::Closing { peer_fin: true };
                    self.after_output(slot);
                    return;
                }
                Phase::Lingering { .. } if n == 0 => {
                    return self.close(slot, CloseReason::Closed);
                }
                Phase::Closing { .. } | Phase::Lingering { .. } => continue,
                Phase::Connecting { .. } | Phase::Open(_) => {}
            }
            let mut ctx = Ctx::for_driver(Instant::now(), conn.peer, conn.output.len());
            ctx.lend_buffer(std::mem::take(&mut self.spare));
            if n == 0 {
                conn.phase = Phase::Open(Reading::PeerFin);
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
                warn!("{}: more than {limit} bytes left unconsumed", conn.peer);
                return self.close(slot, CloseReason::TooMuchInput);
            }
            if !self.after_callback(slot, &mut ctx) {
                return;
            }
            if n < want && readable == Readable::Yes {
                return;
            }
        }
    }
    // ANCHOR_END: read

    /// Applies what a callback asked for. Returns whether the connection is
    /// still open.
    fn after_callback(&mut self, slot: usize, ctx: &mut Ctx) -> bool {
        let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return false;
        };
        if ctx.close_request() == Some(Close::Abort) {
            self.close(slot, CloseReason::Aborted);
            return false;
        }
        ctx.drain_output_into(&mut conn.output);
        if let Some(buffer) = ctx.reclaim_buffer() {
            self.spare = buffer;
        }
        let mut new_timer = None;
        match ctx.timer_request() {
            TimerRequest::Keep => {}
            TimerRequest::Cancel => conn.timer = None,
            // The same deadline again (a protocol re-arming after every
            // callback) needs no second heap entry.
            TimerRequest::At(at) if conn.timer == Some(at) => {}
            TimerRequest::At(at) => {
                conn.timer = Some(at);
                new_timer = Some((
                    at,
                    Key {
                        slot,
                        generation: conn.generation,
                    },
                    TimerKind::Protocol,
                ));
            }
        }
        if ctx.close_request() == Some(Close::AfterFlush) {
            conn.phase = match conn.phase {
                Phase::Connecting { .. } => Phase::Connecting { close_after: true },
                Phase::Open(reading) => Phase::Closing {
                    peer_fin: reading == Reading::PeerFin,
                },
                closing => closing,
            };
        }
        let flushed = conn.flush(&mut self.spare);
        if let Some(entry) = new_timer {
            self.push_timer(entry);
        }
        if let Err(reason) = flushed {
            self.close(slot, reason);
            return false;
        }
        self.after_output(slot)
    }

    /// Enforces the output limits, updates WRITABLE interest, and finishes a
    /// close once output drained. Returns whether the connection is still
    /// open.
    fn after_output(&mut self, slot: usize) -> bool {
        let Some(conn) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return false;
        };
        let unsent = conn.output.len();
        if unsent == 0
            && conn.counted == 0
            && !conn.writable_interest
            && conn.stall.is_none()
            && matches!(conn.phase, Phase::Open(_))
        {
            return true; // the common case: everything was written, nothing to do
        }
        self.unsent_total = self.unsent_total - conn.counted + unsent;
        conn.counted = unsent;
        let pending = unsent > 0;
        if unsent > self.config.max_unsent {
            warn!(
                "{}: dropped, {unsent} bytes unsent: the peer is not reading",
                conn.peer
            );
            self.close(slot, CloseReason::TooMuchUnsent);
            return false;
        }
        if pending && self.unsent_total > self.config.max_unsent_total {
            warn!(
                "{}: dropped, {unsent} bytes behind while the server holds {} unsent (budget {})",
                conn.peer, self.unsent_total, self.config.max_unsent_total
            );
            self.close(slot, CloseReason::OverBudget);
            return false;
        }
        if pending != conn.writable_interest {
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
                warn!("{}: reregister failed: {err}", conn.peer);
                self.close(slot, CloseReason::WriteFailed(err.kind()));
                return false;
            }
            conn.writable_interest = pending;
        }
        let key = Key {
            slot,
            generation: conn.generation,
        };
        // Backpressure: stop reading while too much waits to be sent, and
        // watch that the peer keeps taking some of it.
        let mut new_timer = None;
        if !pending {
            conn.stall = None;
        } else if conn.stall.is_none() {
            let now = Instant::now();
            let check_at = now + self.config.stall_timeout;
            conn.stall = Some(Stall {
                last_progress: now,
                check_at,
            });
            new_timer = Some((check_at, key, TimerKind::Stall));
        }
        if conn.phase == Phase::Open(Reading::Active) && unsent > self.config.pause_above {
            conn.phase = Phase::Open(Reading::Paused);
            warn!(
                "{}: {unsent} bytes unsent, pausing reads until the peer catches up",
                conn.peer
            );
        }
        let mut closed = false;
        match conn.phase {
            Phase::Closing { peer_fin } if !pending => {
                // Our FIN goes out; wait a little for theirs so that late
                // bytes from the peer are not answered with a reset.
                if peer_fin || conn.stream.shutdown(net::Shutdown::Write).is_err() {
                    closed = true;
                } else {
                    let until = Instant::now() + self.config.linger;
                    conn.phase = Phase::Lingering { until };
                    new_timer = Some((until, key, TimerKind::Linger));
                }
            }
            _ => {}
        }
        if let Some(entry) = new_timer {
            self.push_timer(entry);
        }
        if closed {
            self.close(slot, CloseReason::Closed);
            return false;
        }
        true
    }

    fn deliver_messages(&mut self) {
        for (key, message) in self.shared.take_all() {
            let Some(conn) = self.slots.get_mut(key.slot).and_then(Option::as_mut) else {
                continue;
            };
            if conn.generation != key.generation {
                continue;
            }
            conn.inbox.queued.fetch_sub(1, Ordering::AcqRel);
            if matches!(conn.phase, Phase::Closing { .. } | Phase::Lingering { .. }) {
                continue;
            }
            let mut ctx = Ctx::for_driver(Instant::now(), conn.peer, conn.output.len());
            ctx.lend_buffer(std::mem::take(&mut self.spare));
            conn.protocol.on_message(message, &mut ctx);
            self.after_callback(key.slot, &mut ctx);
        }
    }

    // ANCHOR: fire_timers
    /// Fires the timers that were due when this pass began. A protocol that
    /// re-arms its timer in the past is called again on the next pass,
    /// after the loop has looked at its sockets.
    fn fire_timers(&mut self) {
        let now = Instant::now();
        let stall_timeout = self.config.stall_timeout;
        let linger = self.config.linger;
        for (at, key, kind) in self.timers.take_due(now) {
            let Some(conn) = self.slots.get_mut(key.slot).and_then(Option::as_mut) else {
                continue;
            };
            if conn.generation != key.generation || !conn.has_deadline(at, kind) {
                continue; // stale: moved, cleared, or its connection is gone
            }
            match kind {
                TimerKind::Stall => {
                    let Some(stall) = conn.stall else {
                        continue;
                    };
                    if now.duration_since(stall.last_progress) >= stall_timeout {
                        warn!(
                            "{}: dropped, {} bytes unsent for {stall_timeout:?}: the peer is not reading",
                            conn.peer,
                            conn.output.len()
                        );
                        self.close(key.slot, CloseReason::Stalled);
                    } else {
                        let check_at = stall.last_progress + stall_timeout;
                        conn.stall = Some(Stall { check_at, ..stall });
                        self.push_timer((check_at, key, TimerKind::Stall));
                    }
                }
                TimerKind::Linger => {
                    debug!("{}: no FIN within {linger:?}", conn.peer);
                    self.close(key.slot, CloseReason::Closed);
                }
                TimerKind::Protocol => {
                    conn.timer = None;
                    let mut ctx = Ctx::for_driver(now, conn.peer, conn.output.len());
                    ctx.lend_buffer(std::mem::take(&mut self.spare));
                    conn.protocol.on_timer(&mut ctx);
                    self.after_callback(key.slot, &mut ctx);
                }
            }
        }
    }
    // ANCHOR_END: fire_timers

    fn close(&mut self, slot: usize, reason: CloseReason) {
        if let Some(mut conn) = self.slots.get_mut(slot).and_then(Option::take) {
            conn.inbox.closed.store(true, Ordering::Release);
            let _ = self.poll.registry().deregister(&mut conn.stream);
            self.open -= 1;
            self.unsent_total -= conn.counted;
            conn.protocol.on_closed(reason);
            info!("closed {}: {reason}", conn.peer);
            self.free.push(slot);
        }
    }
}
