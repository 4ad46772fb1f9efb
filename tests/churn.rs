//! Churn and leaks (issue 12, part 4): WebSocket connections opened and
//! closed by the thousand, cleanly or cut off mid-handshake, must leave the
//! server as they found it.
//!
//! - In this process, with a wrapper protocol that counts: `on_closed` runs
//!   exactly once per accepted connection, and this process's open file
//!   descriptors come back to where they were.
//! - Against the real `ch03-ws-server` binary: its descriptors come back to
//!   the baseline, and its resident memory after the run is within 2 MiB of
//!   what it was after a warm-up of 1,000 cycles.
//!
//! `cargo test` runs a scaled-down version (a few seconds). `scripts/churn`
//! runs the full size (100,000 cycles on mio, 10,000 on threads) by setting
//! `NETLADDER_CHURN=full`; its numbers are in the book's testing appendix.

mod common;

use netladder::driver::{CloseReason, Ctx, Mailbox, Protocol, Shutdown, mio, threads};
use netladder::ws::{ServerConfig, WsContext, WsHandler, WsMessage, WsServerProtocol};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_ch03-ws-server");

/// The tests in this file count this process's descriptors: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    Threads,
    Mio,
}

impl Driver {
    fn flag(self) -> &'static str {
        match self {
            Driver::Threads => "threads",
            Driver::Mio => "mio",
        }
    }
}

/// How many cycles of each kind, and the time they must finish in.
#[derive(Debug, Clone, Copy)]
struct Size {
    warm_up: usize,
    clean: usize,
    reset: usize,
    abandoned: usize,
    within: Duration,
}

fn full() -> bool {
    std::env::var("NETLADDER_CHURN").is_ok_and(|v| v == "full")
}

fn size(driver: Driver) -> Size {
    match (full(), driver) {
        (true, Driver::Mio) => Size {
            warm_up: 1_000,
            clean: 100_000,
            reset: 20_000,
            abandoned: 20_000,
            within: Duration::from_secs(600),
        },
        (true, Driver::Threads) => Size {
            warm_up: 1_000,
            clean: 10_000,
            reset: 2_000,
            abandoned: 2_000,
            within: Duration::from_secs(300),
        },
        (false, Driver::Mio) => Size {
            warm_up: 1_000,
            clean: 2_000,
            reset: 300,
            abandoned: 300,
            within: Duration::from_secs(60),
        },
        (false, Driver::Threads) => Size {
            warm_up: 300,
            clean: 600,
            reset: 100,
            abandoned: 100,
            within: Duration::from_secs(60),
        },
    }
}

const REQUEST: &[u8] = b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// A masked close frame with code 1000 (mask 0: the payload reads as is).
const CLOSE_1000: &[u8] = &[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8];

/// The ways one cycle can go.
#[derive(Debug, Clone, Copy)]
enum Cycle {
    /// Handshake, close 1000 both ways, TCP closed by the server.
    Clean,
    /// Request sent; once the 101 has arrived, the socket is dropped
    /// unread, which makes the kernel send a reset.
    Reset,
    /// Half a request head, then FIN.
    Abandoned,
}

fn cycle(addr: SocketAddr, kind: Cycle) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_nodelay(true)?;
    match kind {
        Cycle::Clean => {
            stream.write_all(REQUEST)?;
            let mut head = Vec::new();
            let mut buf = [0u8; 512];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    return Err(io::Error::other("closed during the handshake"));
                }
                head.extend_from_slice(&buf[..n]);
            }
            if !head.starts_with(b"HTTP/1.1 101 ") {
                return Err(io::Error::other(
                    String::from_utf8_lossy(&head).into_owned(),
                ));
            }
            stream.write_all(CLOSE_1000)?;
            let mut close = [0u8; 4];
            stream.read_exact(&mut close)?;
            if close != [0x88, 0x02, 0x03, 0xe8] {
                return Err(io::Error::other(format!("close answered with {close:?}")));
            }
            if stream.read(&mut buf)? != 0 {
                return Err(io::Error::other("bytes after the close"));
            }
        }
        Cycle::Reset => {
            stream.write_all(REQUEST)?;
            stream.peek(&mut [0u8; 1])?;
        }
        Cycle::Abandoned => {
            stream.write_all(&REQUEST[..40])?;
            stream.shutdown(std::net::Shutdown::Write)?;
        }
    }
    Ok(())
}

/// Runs `count` cycles of `kind` from two client threads, all before
/// `deadline`.
fn run(addr: SocketAddr, kind: Cycle, count: usize, deadline: Instant) {
    let clients = 2;
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            thread::spawn(move || {
                let mine = count / clients + usize::from(c < count % clients);
                for i in 0..mine {
                    assert!(
                        Instant::now() < deadline,
                        "{kind:?}: only {i} of {mine} cycles in time"
                    );
                    cycle(addr, kind).unwrap_or_else(|e| panic!("{kind:?} cycle {i}: {e}"));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}

fn open_fds(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Waits until `pid` has at most `baseline` descriptors open; returns the
/// last count seen.
fn settle_fds(pid: &str, baseline: usize, within: Duration) -> usize {
    let until = Instant::now() + within;
    loop {
        let now = open_fds(pid);
        if now <= baseline || Instant::now() > until {
            return now;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// In process: on_closed once per connection.

/// Chapter 3's echo.
struct Echo;

impl WsHandler for Echo {
    fn on_message(&mut self, message: WsMessage, ws: &mut WsContext<'_>) {
        match message {
            WsMessage::Text(text) => drop(ws.send_text(&text)),
            WsMessage::Binary(data) => drop(ws.send_binary(&data)),
            _ => {}
        }
    }
}

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    closed: AtomicUsize,
    twice: AtomicUsize,
    /// How many connections ended for each reason, for the report.
    reasons: Mutex<BTreeMap<String, usize>>,
}

/// Runs `inner`, counting how often the driver calls `on_closed`.
struct Counted<P> {
    inner: P,
    counts: Arc<Counts>,
    closed: bool,
}

impl<P: Protocol> Protocol for Counted<P> {
    type Mail = P::Mail;

    fn on_open(&mut self, mailbox: Mailbox<P::Mail>, ctx: &mut Ctx) {
        self.inner.on_open(mailbox, ctx);
    }
    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        self.inner.on_bytes(input, ctx)
    }
    fn on_eof(&mut self, input: &[u8], ctx: &mut Ctx) {
        self.inner.on_eof(input, ctx);
    }
    fn on_timer(&mut self, ctx: &mut Ctx) {
        self.inner.on_timer(ctx);
    }
    fn on_message(&mut self, message: P::Mail, ctx: &mut Ctx) {
        self.inner.on_message(message, ctx);
    }
    fn on_shutdown(&mut self, ctx: &mut Ctx) {
        self.inner.on_shutdown(ctx);
    }
    fn on_closed(&mut self, reason: CloseReason) {
        if self.closed {
            self.counts.twice.fetch_add(1, Ordering::SeqCst);
        }
        self.closed = true;
        *self
            .counts
            .reasons
            .lock()
            .unwrap()
            .entry(format!("{reason:?}"))
            .or_default() += 1;
        self.counts.closed.fetch_add(1, Ordering::SeqCst);
        self.inner.on_closed(reason);
    }
}

fn in_process(driver: Driver) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let size = size(driver);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let config = Arc::new(ServerConfig::default());
    let counting = Arc::clone(&counts);
    let new_protocol = move |_peer| {
        counting.accepted.fetch_add(1, Ordering::SeqCst);
        Counted {
            inner: WsServerProtocol::new(Echo, Arc::clone(&config)),
            counts: Arc::clone(&counting),
            closed: false,
        }
    };
    let (ready, shutdown) = std::sync::mpsc::channel::<Shutdown>();
    let server = match driver {
        Driver::Threads => thread::spawn(move || {
            threads::serve_with_shutdown(listener, new_protocol, threads::Config::default(), |s| {
                ready.send(s).unwrap()
            })
        }),
        Driver::Mio => thread::spawn(move || {
            mio::serve_with_shutdown(listener, new_protocol, mio::Config::default(), |s| {
                ready.send(s).unwrap()
            })
        }),
    };
    let shutdown = shutdown.recv().unwrap();
    let baseline = open_fds("self");
    let began = Instant::now();
    let deadline = began + size.within;
    run(addr, Cycle::Clean, size.warm_up, deadline);
    run(addr, Cycle::Clean, size.clean, deadline);
    run(addr, Cycle::Reset, size.reset, deadline);
    run(addr, Cycle::Abandoned, size.abandoned, deadline);
    let total = size.warm_up + size.clean + size.reset + size.abandoned;
    // Every connection ends within the driver's linger (2 s) of its cycle.
    let until = Instant::now() + Duration::from_secs(10);
    while counts.closed.load(Ordering::SeqCst) < total && Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
    }
    let fds = settle_fds("self", baseline, Duration::from_secs(10));
    let took = began.elapsed();
    let accepted = counts.accepted.load(Ordering::SeqCst);
    let closed = counts.closed.load(Ordering::SeqCst);
    let twice = counts.twice.load(Ordering::SeqCst);
    eprintln!(
        "churn in-process {}: {total} cycles ({} clean, {} reset, {} abandoned) in {took:.1?}; \
         accepted {accepted}, on_closed {closed} ({:?}), twice {twice}; fds {baseline} -> {fds}",
        driver.flag(),
        size.warm_up + size.clean,
        size.reset,
        size.abandoned,
        counts.reasons.lock().unwrap()
    );
    assert_eq!(accepted, total, "every cycle reached the server");
    assert_eq!(closed, total, "on_closed once per connection");
    assert_eq!(twice, 0, "on_closed twice on one connection");
    // The reason is typed: every reset cycle ended in a failed read, every
    // other one in a close the protocol asked for.
    let reasons = counts.reasons.lock().unwrap().clone();
    let expected = BTreeMap::from([
        ("Closed".to_string(), total - size.reset),
        ("ReadFailed(ConnectionReset)".to_string(), size.reset),
    ]);
    assert_eq!(reasons, expected, "why the connections ended");
    assert!(
        fds <= baseline,
        "descriptors: {baseline} before, {fds} after"
    );
    shutdown.shutdown();
    server.join().unwrap().unwrap();
}

#[test]
fn in_process_on_mio_on_closed_runs_once_per_connection_and_fds_return() {
    in_process(Driver::Mio);
}

#[test]
fn in_process_on_threads_on_closed_runs_once_per_connection_and_fds_return() {
    in_process(Driver::Threads);
}

// ---------------------------------------------------------------------------
// The real binary: descriptors and resident memory.

fn server_process(driver: Driver) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let size = size(driver);
    let server = common::Server::start(SERVER, &["--driver", driver.flag()]);
    let pid = server.pid();
    let proc_pid = pid.to_string();
    let began = Instant::now();
    let deadline = began + size.within;
    // The first warm-up cycle alone: the event loop opens its own
    // descriptors (epoll, a waker) after printing its address.
    run(server.addr, Cycle::Clean, 1, deadline);
    thread::sleep(Duration::from_millis(200));
    let fds_at_start = open_fds(&proc_pid);
    run(server.addr, Cycle::Clean, size.warm_up - 1, deadline);
    let baseline = settle_fds(&proc_pid, fds_at_start, Duration::from_secs(10));
    let rss_warm = rss_kib(pid);
    run(server.addr, Cycle::Clean, size.clean, deadline);
    run(server.addr, Cycle::Reset, size.reset, deadline);
    run(server.addr, Cycle::Abandoned, size.abandoned, deadline);
    let fds = settle_fds(&proc_pid, baseline, Duration::from_secs(10));
    let rss_after = rss_kib(pid);
    let took = began.elapsed();
    let cycles = size.warm_up + size.clean + size.reset + size.abandoned;
    eprintln!(
        "churn ch03-ws-server --driver {}: {cycles} cycles ({} clean, {} reset, {} abandoned) \
         in {took:.1?}; fds {fds_at_start} at start, {baseline} after warm-up, {fds} after; \
         RSS {rss_warm} KiB after warm-up, {rss_after} KiB after ({:+} KiB)",
        driver.flag(),
        size.warm_up + size.clean,
        size.reset,
        size.abandoned,
        rss_after as i64 - rss_warm as i64
    );
    assert!(
        fds <= fds_at_start,
        "descriptors: {fds_at_start} before, {fds} after"
    );
    assert!(
        rss_after <= rss_warm + 2048,
        "RSS grew from {rss_warm} KiB to {rss_after} KiB"
    );
}

#[test]
fn ch03_server_on_mio_keeps_fds_and_memory_flat() {
    server_process(Driver::Mio);
}

#[test]
fn ch03_server_on_threads_keeps_fds_and_memory_flat() {
    server_process(Driver::Threads);
}
