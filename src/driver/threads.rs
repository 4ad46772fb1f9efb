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
//! The inbox is bounded ([`Config::inbox_capacity`]): a reader that gets ahead
//! of its owner blocks, so TCP's flow control slows the peer, and a
//! [`Mailbox::send`] to a connection that is not keeping up fails with
//! [`SendError::Full`] instead of growing memory without bound.

use super::{Close, Ctx, Deliver, Mailbox, NewProtocol, Protocol, SendError, TimerRequest};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Limits and sizes of the threaded driver. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct Config {
    /// Events (reads, messages) queued per connection before the reader
    /// blocks and mailbox sends fail with `Full`. Default 256.
    pub inbox_capacity: usize,
    /// Bytes read per `read` call. Default 16 KiB.
    pub read_chunk: usize,
    /// Bytes a protocol may leave unconsumed before the connection is dropped:
    /// a backstop under each protocol's own limits. Default 1 MiB.
    pub max_buffered_input: usize,
    /// How long a write may block (a peer that does not read) before the
    /// connection is dropped. Default 30 s.
    pub write_timeout: Duration,
    /// After half-closing, how long to wait for the peer's FIN before
    /// dropping the socket. Default 2 s.
    pub linger: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            inbox_capacity: 256,
            read_chunk: 16 * 1024,
            max_buffered_input: 1024 * 1024,
            write_timeout: Duration::from_secs(30),
            linger: Duration::from_secs(2),
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
    let new_protocol = Arc::new(new_protocol);
    let config = Arc::new(config);
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
        info!("accepted {peer}");
        // Replies leave as soon as they are written: no waiting to batch
        // small writes (Nagle), which would add latency to request/response.
        let _ = stream.set_nodelay(true);
        let new_protocol = Arc::clone(&new_protocol);
        let config = Arc::clone(&config);
        let spawned = thread::Builder::new()
            .name(format!("conn {peer}"))
            .spawn(move || {
                let protocol = new_protocol.new_protocol(peer);
                let reason = run_connection(stream, peer, protocol, &config);
                info!("closed {peer}: {reason}");
            });
        if let Err(err) = spawned {
            warn!("could not start a thread for {peer}: {err}");
        }
    }
}

/// Runs `serve` on a background thread.
pub fn spawn<N: NewProtocol>(
    listener: TcpListener,
    new_protocol: N,
    config: Config,
) -> thread::JoinHandle<io::Result<()>> {
    thread::spawn(move || serve(listener, new_protocol, config))
}

/// What reaches a connection's owner thread.
enum Event<M> {
    Bytes(Vec<u8>),
    Eof,
    ReadFailed(io::Error),
    Message(M),
}

/// A [`Mailbox`] backend: a message goes into the owner's inbox.
struct Inbox<M> {
    tx: SyncSender<Event<M>>,
}

impl<M: Send> Deliver<M> for Inbox<M> {
    fn deliver(&self, message: M) -> Result<(), SendError> {
        self.tx
            .try_send(Event::Message(message))
            .map_err(|err| match err {
                TrySendError::Full(_) => SendError::Full,
                TrySendError::Disconnected(_) => SendError::Closed,
            })
    }
}

/// Runs one connection to the end on the calling (owner) thread. Returns why
/// it ended, for the log.
pub fn run_connection<P: Protocol>(
    stream: TcpStream,
    peer: SocketAddr,
    mut protocol: P,
    config: &Config,
) -> String {
    let (tx, rx) = sync_channel(config.inbox_capacity.max(1));
    let reader = match stream.try_clone() {
        Ok(reader) => reader,
        Err(err) => return format!("could not clone the socket: {err}"),
    };
    let _ = stream.set_write_timeout(Some(config.write_timeout));
    let reader_tx = tx.clone();
    let chunk = config.read_chunk.max(1);
    let reader_thread = thread::Builder::new()
        .name(format!("read {peer}"))
        .spawn(move || read_loop(reader, reader_tx, chunk));
    if let Err(err) = reader_thread {
        return format!("could not start the reader thread: {err}");
    }
    let mut owner = Owner {
        stream,
        peer,
        rx,
        input: Vec::new(),
        timer: None,
        eof_seen: false,
        config,
    };
    let mut ctx = Ctx::new(Instant::now(), peer);
    protocol.on_open(Mailbox::new(Inbox { tx }), &mut ctx);
    let reason = match owner.apply(ctx) {
        Step::Continue => owner.event_loop(&mut protocol),
        Step::Stop(reason) => reason,
    };
    protocol.on_closed();
    // Wakes the reader if it is still blocked in `read`; it then finds the
    // inbox gone and exits.
    let _ = owner.stream.shutdown(Shutdown::Both);
    reason
}

/// The reader thread: blocking reads, forwarded to the owner.
fn read_loop<M>(mut stream: TcpStream, tx: SyncSender<Event<M>>, chunk: usize) {
    let mut buf = vec![0; chunk];
    loop {
        let event = match stream.read(&mut buf) {
            Ok(0) => Event::Eof,
            Ok(n) => Event::Bytes(buf[..n].to_vec()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => Event::ReadFailed(err),
        };
        let last = !matches!(event, Event::Bytes(_));
        // `send` blocks while the inbox is full: that is the backpressure.
        if tx.send(event).is_err() || last {
            return;
        }
    }
}

enum Step {
    Continue,
    Stop(String),
}

struct Owner<'a, M> {
    stream: TcpStream,
    peer: SocketAddr,
    rx: Receiver<Event<M>>,
    /// Bytes the protocol left unconsumed: a partial message.
    input: Vec<u8>,
    timer: Option<Instant>,
    /// The peer's FIN has arrived: nothing more will, no need to linger.
    eof_seen: bool,
    config: &'a Config,
}

impl<M: Send + 'static> Owner<'_, M> {
    fn event_loop<P: Protocol<Mail = M>>(&mut self, protocol: &mut P) -> String {
        loop {
            let event = match self.next_event() {
                Some(event) => event,
                None => return "inbox closed".to_string(),
            };
            let mut ctx = Ctx::new(Instant::now(), self.peer);
            match event {
                Next::Event(Event::Bytes(bytes)) => {
                    if self.input.is_empty() {
                        self.input = bytes;
                    } else {
                        self.input.extend_from_slice(&bytes);
                    }
                    let consumed = protocol
                        .on_bytes(&self.input, &mut ctx)
                        .min(self.input.len());
                    self.input.drain(..consumed);
                    if self.input.len() > self.config.max_buffered_input {
                        return format!(
                            "more than {} bytes buffered unconsumed",
                            self.config.max_buffered_input
                        );
                    }
                }
                Next::Event(Event::Eof) => {
                    self.eof_seen = true;
                    protocol.on_eof(&self.input, &mut ctx);
                }
                Next::Event(Event::ReadFailed(err)) => return format!("read failed: {err}"),
                Next::Event(Event::Message(message)) => protocol.on_message(message, &mut ctx),
                Next::Timer => {
                    self.timer = None;
                    protocol.on_timer(&mut ctx);
                }
            }
            if let Step::Stop(reason) = self.apply(ctx) {
                return reason;
            }
        }
    }

    /// Waits for the next event, or for the timer.
    fn next_event(&self) -> Option<Next<M>> {
        match self.timer {
            None => self.rx.recv().ok().map(Next::Event),
            Some(deadline) => {
                let wait = deadline.saturating_duration_since(Instant::now());
                match self.rx.recv_timeout(wait) {
                    Ok(event) => Some(Next::Event(event)),
                    Err(RecvTimeoutError::Timeout) => Some(Next::Timer),
                    Err(RecvTimeoutError::Disconnected) => None,
                }
            }
        }
    }

    /// Carries out what the protocol asked for in `ctx`.
    fn apply(&mut self, mut ctx: Ctx) -> Step {
        if ctx.close_request() == Some(Close::Abort) {
            return Step::Stop("aborted by the protocol".to_string());
        }
        let out = ctx.take_output();
        if !out.is_empty()
            && let Err(err) = self.stream.write_all(&out)
        {
            return Step::Stop(format!("write failed: {err}"));
        }
        match ctx.timer_request() {
            TimerRequest::Keep => {}
            TimerRequest::At(at) => self.timer = Some(at),
            TimerRequest::Cancel => self.timer = None,
        }
        if ctx.close_request() == Some(Close::AfterFlush) {
            self.linger();
            return Step::Stop("closed by the protocol".to_string());
        }
        Step::Continue
    }

    /// A graceful close: send our FIN, then give the peer a moment to send
    /// theirs, so that the kernel does not answer late bytes with a reset
    /// that could destroy data the peer has not read yet.
    fn linger(&mut self) {
        if self.stream.shutdown(Shutdown::Write).is_err() || self.eof_seen {
            return;
        }
        let deadline = Instant::now() + self.config.linger;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(Event::Bytes(_)) | Ok(Event::Message(_)) => continue,
                // Their FIN, or the reader already saw it and is gone.
                Ok(Event::Eof) | Ok(Event::ReadFailed(_)) | Err(RecvTimeoutError::Disconnected) => {
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    debug!("{}: no FIN within {:?}", self.peer, self.config.linger);
                    return;
                }
            }
        }
    }
}

enum Next<M> {
    Event(Event<M>),
    Timer,
}
