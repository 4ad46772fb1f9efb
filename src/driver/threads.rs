//! The thread-per-connection driver, over blocking `std::net`.
//!
//! Each connection gets two threads:
//!
//! - a **reader** that blocks in `read` and forwards what it reads;
//! - an **owner** that holds the [`Protocol`], waits on one inbox for the
//!   reader's bytes, [`Mailbox`] messages and its timer (`recv_timeout`), calls
//!   the protocol, and writes what it asks for.
//!
//! Why two: a blocking thread can wait for only one thing at a time. A thread
//! stuck in `read` cannot also notice a broadcast or a deadline, so the
//! reader turns the socket into channel messages and the owner waits on the
//! channel. This is the price of the blocking model that chapter 4's event
//! loop avoids: one `epoll_wait` waits for all sockets, timers and wake-ups.
//!
//! Bytes and messages share the owner's one channel but not its limits: the
//! reader may run [`Config::read_ahead`] chunks ahead of the owner, then it
//! waits, so TCP's flow control slows the peer; mailbox messages have their
//! own [`Config::inbox_capacity`], so a peer that floods its own connection
//! with bytes cannot make [`Mailbox::send`] fail for everyone who writes to
//! it. The owner checks its timer before taking the next event, so a timer
//! fires on time however busy the connection is. Writes block (up to
//! [`Config::write_timeout`]); the bytes being written count against a
//! server-wide [`Config::max_unsent_total`].

use super::{
    Close, CloseReason, Connector, Ctx, Deliver, Mailbox, MailboxError, NewProtocol, Protocol,
    Shutdown, TimerRequest, connector,
};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{self, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Limits and sizes of the threaded driver. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct Config {
    /// Mailbox messages queued per connection before sends fail with
    /// `Full`. Default 256.
    pub inbox_capacity: usize,
    /// Chunks the reader may read ahead of the owner before it waits.
    /// Default 4.
    pub read_ahead: usize,
    /// Bytes read per `read` call. Default 16 KiB.
    pub read_chunk: usize,
    /// Bytes a protocol may leave unconsumed before the connection is dropped:
    /// a backstop under each protocol's own limits. Default 1 MiB.
    pub max_buffered_input: usize,
    /// How long a write may block (a peer that does not read) before the
    /// connection is dropped. Default 30 s.
    pub write_timeout: Duration,
    /// Bytes being written, over all connections, above which a connection
    /// with more to write is dropped instead (one write alone always may).
    /// Default 256 MiB.
    pub max_unsent_total: usize,
    /// Connections served at once (each costs two threads); a newcomer
    /// beyond this gets [`Config::refusal`] and is closed. Default 10,000.
    pub max_conns: usize,
    /// What a connection refused for [`Config::max_conns`] is sent before it
    /// is closed. Default: nothing (the chapter servers set a 503).
    pub refusal: Arc<[u8]>,
    /// After half-closing, how long to wait for the peer's FIN before
    /// dropping the socket. Default 2 s.
    pub linger: Duration,
    /// On shutdown, how long connections get to say goodbye before the
    /// serving function returns anyway. Default 5 s.
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            inbox_capacity: 256,
            read_ahead: 4,
            read_chunk: 16 * 1024,
            max_buffered_input: 1024 * 1024,
            write_timeout: Duration::from_secs(30),
            max_unsent_total: 256 * 1024 * 1024,
            max_conns: 10_000,
            refusal: Arc::from(&b""[..]),
            linger: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Accepts connections forever, running one protocol per connection, each on
/// its own threads. Returns only if the listener fails for good.
pub fn serve<N: NewProtocol>(
    listener: TcpListener,
    new_protocol: N,
    config: Config,
) -> io::Result<()> {
    serve_with_shutdown(listener, new_protocol, config, |_| {})
}

/// Runs `serve` on a background thread.
pub fn spawn<N: NewProtocol>(
    listener: TcpListener,
    new_protocol: N,
    config: Config,
) -> thread::JoinHandle<io::Result<()>> {
    thread::spawn(move || serve(listener, new_protocol, config))
}

/// What every connection of one server shares.
struct Server<M> {
    config: Config,
    /// Each live connection's channel, to tell it about a shutdown.
    conns: Mutex<HashMap<u64, Sender<Event<M>>>>,
    next_id: AtomicU64,
    /// Connections running now.
    active: Mutex<usize>,
    /// Signalled when `active` drops.
    idle: Condvar,
    stopping: AtomicBool,
    /// Bytes being written now, over all connections.
    unsent_total: AtomicUsize,
}

impl<M> Server<M> {
    fn finished(&self) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        *active -= 1;
        self.idle.notify_all();
    }
}

/// Serves on the calling thread until `shutdown` is triggered from elsewhere,
/// handing the handle to `ready` first (to install a signal handler, say).
/// On shutdown it stops accepting, calls every connection's
/// [`Protocol::on_shutdown`], and returns once they have closed or
/// [`Config::shutdown_grace`] has passed.
pub fn serve_with_shutdown<N: NewProtocol>(
    listener: TcpListener,
    new_protocol: N,
    config: Config,
    ready: impl FnOnce(Shutdown),
) -> io::Result<()> {
    let server: Arc<Server<<N::Protocol as Protocol>::Mail>> = Arc::new(Server {
        config,
        conns: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
        active: Mutex::new(0),
        idle: Condvar::new(),
        stopping: AtomicBool::new(false),
        unsent_total: AtomicUsize::new(0),
    });
    // A blocked `accept` notices nothing; a connection to ourselves wakes it.
    let mut wake_addr = listener.local_addr()?;
    if wake_addr.ip().is_unspecified() {
        wake_addr.set_ip(net::Ipv4Addr::LOCALHOST.into());
    }
    let trigger = Arc::clone(&server);
    ready(Shutdown::new(move || {
        if trigger.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        let conns = trigger.conns.lock().unwrap_or_else(|e| e.into_inner());
        info!("shutting down: {} connection(s) to close", conns.len());
        for tx in conns.values() {
            let _ = tx.send(Event::Shutdown);
        }
        drop(conns);
        let _ = TcpStream::connect_timeout(&wake_addr, Duration::from_secs(1));
    }));
    let refuser = spawn_refuser(Arc::clone(&server.config.refusal));
    let new_protocol = Arc::new(new_protocol);
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors or a connection reset before accept:
                // log, pause a moment, and keep serving everyone else.
                warn!("accept failed: {err}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if server.stopping.load(Ordering::Acquire) {
            break;
        }
        {
            let mut active = server.active.lock().unwrap_or_else(|e| e.into_inner());
            if *active >= server.config.max_conns {
                warn!(
                    "refused {peer}: already serving {} connections (--max-conns)",
                    server.config.max_conns
                );
                // Told so and closed on the refuser's thread; if even that
                // is behind, the connection is simply dropped.
                let _ = refuser.try_send(stream);
                continue;
            }
            *active += 1;
        }
        info!("accepted {peer}");
        // Replies leave as soon as they are written: no waiting to batch
        // small writes (Nagle), which would add latency to request/response.
        let _ = stream.set_nodelay(true);
        let new_protocol = Arc::clone(&new_protocol);
        let conn_server = Arc::clone(&server);
        let spawned = thread::Builder::new()
            .name(format!("conn {peer}"))
            .spawn(move || {
                let protocol = new_protocol.new_protocol(peer);
                let reason = run(stream, peer, protocol, &conn_server);
                info!("closed {peer}: {reason}");
                conn_server.finished();
            });
        if let Err(err) = spawned {
            warn!("could not start a thread for {peer}: {err}");
            server.finished();
        }
    }
    drop(listener);
    let deadline = Instant::now() + server.config.shutdown_grace;
    let mut active = server.active.lock().unwrap_or_else(|e| e.into_inner());
    while *active > 0 {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            warn!(
                "shutdown grace over with {} connection(s) still open",
                *active
            );
            break;
        }
        active = match server.idle.wait_timeout(active, wait) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
    Ok(())
}

/// A thread that tells refused connections so, half-closes them, and waits
/// briefly for their FIN (closing at once could turn the answer into a
/// reset), one at a time.
fn spawn_refuser(refusal: Arc<[u8]>) -> SyncSender<TcpStream> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<TcpStream>(64);
    let _ = thread::Builder::new()
        .name("refuser".into())
        .spawn(move || {
            for mut stream in rx {
                let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
                let _ = stream.write_all(&refusal);
                let _ = stream.shutdown(net::Shutdown::Write);
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                let mut sink = [0; 4096];
                let until = Instant::now() + Duration::from_secs(1);
                while Instant::now() < until {
                    match stream.read(&mut sink) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
        });
    tx
}

/// What reaches a connection's owner thread.
enum Event<M> {
    Bytes(Vec<u8>),
    Eof,
    ReadFailed(io::Error),
    Mail(M),
    Shutdown,
}

/// How far the reader may run ahead of the owner.
struct Credit {
    state: Mutex<(usize, bool)>,
    changed: Condvar,
    limit: usize,
}

impl Credit {
    /// Waits for room for one more chunk; false once the owner is gone.
    fn acquire(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let (in_flight, closed) = *state;
            if closed {
                return false;
            }
            if in_flight < self.limit {
                state.0 += 1;
                return true;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn release(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = state.0.saturating_sub(1);
        self.changed.notify_all();
    }

    fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 = true;
        self.changed.notify_all();
    }
}

/// A [`Mailbox`] backend: a message goes into the owner's inbox.
struct Inbox<M> {
    tx: Sender<Event<M>>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl<M: Send> Deliver<M> for Inbox<M> {
    fn deliver(&self, message: M) -> Result<(), MailboxError<M>> {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(MailboxError::Full(message));
        }
        self.tx.send(Event::Mail(message)).map_err(|err| {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            match err.0 {
                Event::Mail(message) => MailboxError::Closed(message),
                _ => unreachable!("only mail is sent here"),
            }
        })
    }
}

/// How long a [`connector`]'s blocking connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Connector`] for this driver: each connect gets its own owner thread,
/// which connects (blocking, at most 5 s) and then runs the connection like
/// [`run_connection`] does, with `config`'s limits. Unlike the mio loop's,
/// the protocol opens only once the connect has succeeded; a failed connect
/// is told through [`Protocol::on_closed`] alone. These connections are not
/// part of a server's shutdown or its unsent-bytes budget.
pub fn connector<P: Protocol>(config: Config) -> Connector<P> {
    Connector::new(move |addr, protocol| {
        let config = config.clone();
        // Shared so that a thread that cannot start gives the protocol back.
        let slot = Arc::new(Mutex::new(Some(protocol)));
        let mine = Arc::clone(&slot);
        let spawned = thread::Builder::new()
            .name(format!("conn {addr}"))
            .spawn(move || {
                let Some(protocol) = mine.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                    return;
                };
                match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        let reason = run_connection(stream, addr, protocol, &config);
                        info!("closed {addr}: {reason}");
                    }
                    Err(err) => connector::refused(protocol, err.kind()),
                }
            });
        match spawned {
            Ok(_) => Ok(()),
            Err(err) => {
                warn!("could not start a thread to connect to {addr}: {err}");
                let taken = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                taken.map_or(Ok(()), Err)
            }
        }
    })
}

/// Runs one connection to the end on the calling (owner) thread, on its own
/// (not part of a server: no shutdown, no server-wide budget). Returns why
/// it ended.
pub fn run_connection<P: Protocol>(
    stream: TcpStream,
    peer: SocketAddr,
    protocol: P,
    config: &Config,
) -> CloseReason {
    let server = Server::<P::Mail> {
        config: config.clone(),
        conns: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
        active: Mutex::new(1),
        idle: Condvar::new(),
        stopping: AtomicBool::new(false),
        unsent_total: AtomicUsize::new(0),
    };
    run(stream, peer, protocol, &server)
}

fn run<P: Protocol>(
    stream: TcpStream,
    peer: SocketAddr,
    mut protocol: P,
    server: &Server<P::Mail>,
) -> CloseReason {
    let config = &server.config;
    let (tx, rx) = channel();
    let reader = match stream.try_clone() {
        Ok(reader) => reader,
        Err(err) => {
            // Nothing was opened, so nothing to close: the protocol never ran.
            warn!("{peer}: could not clone the socket: {err}");
            return CloseReason::ReadFailed(err.kind());
        }
    };
    let _ = stream.set_write_timeout(Some(config.write_timeout));
    let credit = Arc::new(Credit {
        state: Mutex::new((0, false)),
        changed: Condvar::new(),
        limit: config.read_ahead.max(1),
    });
    let reader_tx = tx.clone();
    let reader_credit = Arc::clone(&credit);
    let chunk = config.read_chunk.max(1);
    let reader_thread = thread::Builder::new()
        .name(format!("read {peer}"))
        .spawn(move || read_loop(reader, reader_tx, chunk, &reader_credit));
    if let Err(err) = reader_thread {
        warn!("{peer}: could not start the reader thread: {err}");
        return CloseReason::ReadFailed(err.kind());
    }
    let id = server.next_id.fetch_add(1, Ordering::Relaxed);
    server
        .conns
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, tx.clone());
    if server.stopping.load(Ordering::Acquire) {
        // The shutdown began between our accept and our registration.
        let _ = tx.send(Event::Shutdown);
    }
    let queued = Arc::new(AtomicUsize::new(0));
    let mut owner = Owner {
        stream,
        peer,
        rx,
        queued: Arc::clone(&queued),
        credit: Arc::clone(&credit),
        input: Vec::new(),
        timer: None,
        eof_seen: false,
        timer_fired_last: false,
        server,
    };
    let mailbox = Mailbox::new(Inbox {
        tx,
        queued,
        capacity: config.inbox_capacity.max(1),
    });
    let mut ctx = Ctx::new(Instant::now(), peer);
    protocol.on_open(mailbox, &mut ctx);
    let reason = match owner.apply(&mut ctx) {
        Step::Continue => owner.event_loop(&mut protocol),
        Step::Stop(reason) => reason,
    };
    server
        .conns
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    protocol.on_closed(reason);
    credit.close();
    // Wakes the reader if it is still blocked in `read`; it then finds the
    // credit closed and exits.
    let _ = owner.stream.shutdown(net::Shutdown::Both);
    reason
}

/// The reader thread: blocking reads, forwarded to the owner.
fn read_loop<M>(mut stream: TcpStream, tx: Sender<Event<M>>, chunk: usize, credit: &Credit) {
    let mut buf = vec![0; chunk];
    loop {
        // Waits while the owner is `read_ahead` chunks behind: that is the
        // backpressure (the kernel's buffers fill, and TCP slows the peer).
        if !credit.acquire() {
            return;
        }
        let event = match stream.read(&mut buf) {
            Ok(0) => Event::Eof,
            Ok(n) => Event::Bytes(buf[..n].to_vec()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                credit.release();
                continue;
            }
            Err(err) => Event::ReadFailed(err),
        };
        let last = !matches!(event, Event::Bytes(_));
        if last {
            credit.release();
        }
        if tx.send(event).is_err() || last {
            return;
        }
    }
}

enum Step {
    Continue,
    Stop(CloseReason),
}

/// What wakes the owner.
enum Wakeup<M> {
    Event(Event<M>),
    Timer,
}

struct Owner<'a, M> {
    stream: TcpStream,
    peer: SocketAddr,
    rx: Receiver<Event<M>>,
    /// Mailbox messages in the channel.
    queued: Arc<AtomicUsize>,
    credit: Arc<Credit>,
    /// Bytes the protocol left unconsumed: a partial message.
    input: Vec<u8>,
    timer: Option<Instant>,
    /// The peer's FIN has arrived: nothing more will, no need to linger.
    eof_seen: bool,
    /// The last wake-up was the timer: a waiting event goes next, so that a
    /// timer re-armed in the past cannot starve the connection's events.
    timer_fired_last: bool,
    server: &'a Server<M>,
}

impl<M: Send + 'static> Owner<'_, M> {
    fn event_loop<P: Protocol<Mail = M>>(&mut self, protocol: &mut P) -> CloseReason {
        let max_input = self.server.config.max_buffered_input;
        loop {
            let Some(wakeup) = self.next_wakeup() else {
                return CloseReason::Closed; // every sender is gone
            };
            let mut ctx = Ctx::new(Instant::now(), self.peer);
            self.timer_fired_last = matches!(wakeup, Wakeup::Timer);
            match wakeup {
                Wakeup::Event(Event::Bytes(bytes)) => {
                    self.credit.release();
                    if self.input.is_empty() {
                        self.input = bytes;
                    } else {
                        self.input.extend_from_slice(&bytes);
                    }
                    let consumed = protocol
                        .on_bytes(&self.input, &mut ctx)
                        .min(self.input.len());
                    self.input.drain(..consumed);
                    if self.input.len() > max_input {
                        warn!("{}: more than {max_input} bytes left unconsumed", self.peer);
                        return CloseReason::TooMuchInput;
                    }
                }
                Wakeup::Event(Event::Eof) => {
                    self.eof_seen = true;
                    protocol.on_eof(&self.input, &mut ctx);
                }
                Wakeup::Event(Event::ReadFailed(err)) => {
                    return CloseReason::ReadFailed(err.kind());
                }
                Wakeup::Event(Event::Mail(message)) => {
                    self.queued.fetch_sub(1, Ordering::AcqRel);
                    protocol.on_message(message, &mut ctx);
                }
                Wakeup::Event(Event::Shutdown) => protocol.on_shutdown(&mut ctx),
                Wakeup::Timer => {
                    self.timer = None;
                    protocol.on_timer(&mut ctx);
                }
            }
            if let Step::Stop(reason) = self.apply(&mut ctx) {
                return reason;
            }
        }
    }

    // ANCHOR: next_wakeup
    /// Waits for the next event, or for the timer. A due timer comes first,
    /// even with events waiting: a busy connection must not starve it. (Just
    /// after it fired, one waiting event goes first: a timer re-armed in the
    /// past must not starve the events either.)
    fn next_wakeup(&self) -> Option<Wakeup<M>> {
        match self.timer {
            None => self.rx.recv().ok().map(Wakeup::Event),
            Some(deadline) => {
                let wait = deadline.saturating_duration_since(Instant::now());
                if wait.is_zero() {
                    if self.timer_fired_last
                        && let Ok(event) = self.rx.try_recv()
                    {
                        return Some(Wakeup::Event(event));
                    }
                    return Some(Wakeup::Timer);
                }
                match self.rx.recv_timeout(wait) {
                    Ok(event) => Some(Wakeup::Event(event)),
                    Err(RecvTimeoutError::Timeout) => Some(Wakeup::Timer),
                    Err(RecvTimeoutError::Disconnected) => None,
                }
            }
        }
    }
    // ANCHOR_END: next_wakeup

    /// Carries out what the protocol asked for in `ctx`.
    fn apply(&mut self, ctx: &mut Ctx) -> Step {
        if ctx.close_request() == Some(Close::Abort) {
            return Step::Stop(CloseReason::Aborted);
        }
        let mut out = ctx.take_output();
        if !out.is_empty() {
            let n = out.len();
            let total = &self.server.unsent_total;
            let before = total.fetch_add(n, Ordering::AcqRel);
            if before > 0 && before + n > self.server.config.max_unsent_total {
                total.fetch_sub(n, Ordering::AcqRel);
                warn!(
                    "{}: dropped, {n} bytes to write while {before} are being written (budget {})",
                    self.peer, self.server.config.max_unsent_total
                );
                return Step::Stop(CloseReason::OverBudget);
            }
            let written = out.write_to(&mut self.stream);
            total.fetch_sub(n, Ordering::AcqRel);
            match written {
                Err(err) => return Step::Stop(CloseReason::WriteFailed(err.kind())),
                // A blocking write that returns `WouldBlock` timed out.
                Ok(_) if !out.is_empty() => return Step::Stop(CloseReason::Stalled),
                Ok(_) => {}
            }
        }
        match ctx.timer_request() {
            TimerRequest::Keep => {}
            TimerRequest::At(at) => self.timer = Some(at),
            TimerRequest::Cancel => self.timer = None,
        }
        if ctx.close_request() == Some(Close::AfterFlush) {
            self.linger();
            return Step::Stop(CloseReason::Closed);
        }
        Step::Continue
    }

    /// A graceful close: send our FIN, then give the peer a moment to send
    /// theirs, so that the kernel does not answer late bytes with a reset
    /// that could destroy data the peer has not read yet.
    fn linger(&mut self) {
        if self.stream.shutdown(net::Shutdown::Write).is_err() || self.eof_seen {
            return;
        }
        let linger = self.server.config.linger;
        let deadline = Instant::now() + linger;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(Event::Bytes(_)) => self.credit.release(),
                Ok(Event::Mail(_)) => {
                    self.queued.fetch_sub(1, Ordering::AcqRel);
                }
                Ok(Event::Shutdown) => {}
                // Their FIN, or the reader already saw it and is gone.
                Ok(Event::Eof) | Ok(Event::ReadFailed(_)) | Err(RecvTimeoutError::Disconnected) => {
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    debug!("{}: no FIN within {linger:?}", self.peer);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "threads_tests.rs"]
mod tests;
