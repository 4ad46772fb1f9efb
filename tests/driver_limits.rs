//! The drivers keep their promises under load, on both drivers: a flooding
//! peer cannot starve another connection or its own timer, a timer re-armed
//! in the past cannot freeze the server, unsent bytes are bounded
//! server-wide, connections beyond `max_conns` are refused, and a shutdown
//! lets every connection say goodbye.
//!
//! Each test was written against the driver before its fix and failed
//! there (the numbers are in chapter 4 and in the commit that fixed it).

use netladder::driver::{CloseReason, Ctx, Mailbox, Protocol, Shutdown, mio, threads};
use netladder::echo::Echo;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown as NetShutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The tests here measure latency: they run one at a time, so that one
/// test's flood is not another's noise.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, Copy)]
enum Driver {
    Threads,
    Mio,
}

const DRIVERS: [Driver; 2] = [Driver::Threads, Driver::Mio];

/// The limits both drivers share, for one test.
#[derive(Clone)]
struct Limits {
    max_unsent_total: usize,
    max_conns: usize,
    refusal: &'static [u8],
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_unsent_total: 256 * 1024 * 1024,
            max_conns: 10_000,
            refusal: b"",
        }
    }
}

/// Starts a server with a shutdown handle; returns its address and handle.
fn start<P, F>(driver: Driver, limits: Limits, factory: F) -> (SocketAddr, Shutdown)
where
    P: Protocol,
    F: Fn(SocketAddr) -> P + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    match driver {
        Driver::Threads => {
            let config = threads::Config {
                max_unsent_total: limits.max_unsent_total,
                max_conns: limits.max_conns,
                refusal: Arc::from(limits.refusal),
                shutdown_grace: Duration::from_secs(2),
                ..threads::Config::default()
            };
            thread::spawn(move || {
                threads::serve_with_shutdown(listener, factory, config, |s| tx.send(s).unwrap())
            });
        }
        Driver::Mio => {
            let config = mio::Config {
                // A smaller turn than the default 64 KiB: the flood tests
                // crunch every byte, and a debug build on a busy machine
                // takes a while for 64 KiB.
                read_budget: 16 * 1024,
                max_unsent_total: limits.max_unsent_total,
                max_conns: limits.max_conns,
                refusal: Arc::from(limits.refusal),
                shutdown_grace: Duration::from_secs(2),
                ..mio::Config::default()
            };
            thread::spawn(move || {
                mio::serve_with_shutdown(listener, factory, config, |s| tx.send(s).unwrap())
            });
        }
    }
    let shutdown = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    (addr, shutdown)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Work a protocol does per byte (a hash), standing in for real parsing:
/// enough that a peer can send faster than the server takes its bytes, so
/// the socket never runs dry.
fn crunch(input: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &byte in input {
        for _ in 0..8 {
            hash = std::hint::black_box((hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3));
        }
    }
    hash
}

/// Echoes, after crunching every byte.
struct CrunchEcho;

impl Protocol for CrunchEcho {
    type Mail = ();

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        std::hint::black_box(crunch(input));
        ctx.send(input);
        input.len()
    }
}

/// A peer that sends as fast as it can (and reads and discards whatever
/// comes back) until `stop` is set.
fn flood(addr: SocketAddr, stop: Arc<AtomicBool>) -> Vec<thread::JoinHandle<()>> {
    let stream = connect(addr);
    let mut reader = stream.try_clone().unwrap();
    let mut writer = stream;
    let stop_writer = Arc::clone(&stop);
    let write = thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        while !stop_writer.load(Ordering::Relaxed) {
            if writer.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = writer.shutdown(NetShutdown::Both);
    });
    let read = thread::spawn(move || {
        let mut sink = vec![0; 64 * 1024];
        while !stop.load(Ordering::Relaxed) {
            match reader.read(&mut sink) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    vec![write, read]
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

#[test]
fn a_flooding_peer_does_not_starve_an_echo() {
    let _serial = one_at_a_time();
    for driver in DRIVERS {
        let (addr, shutdown) = start(driver, Limits::default(), |_| CrunchEcho);
        let stop = Arc::new(AtomicBool::new(false));
        let flooders = flood(addr, Arc::clone(&stop));
        thread::sleep(Duration::from_millis(200)); // let the flood build up
        let mut echo = connect(addr);
        let mut reader = BufReader::new(echo.try_clone().unwrap());
        let mut rtts = Vec::new();
        for i in 0..200 {
            let line = format!("ping {i}\n");
            let start = Instant::now();
            echo.write_all(line.as_bytes()).unwrap();
            let mut back = String::new();
            reader.read_line(&mut back).unwrap();
            rtts.push(start.elapsed());
            assert_eq!(back, line, "{driver:?}");
        }
        stop.store(true, Ordering::Relaxed);
        for flooder in flooders {
            flooder.join().unwrap();
        }
        shutdown.shutdown();
        let p99 = p99(rtts);
        eprintln!("{driver:?}: echo p99 {p99:?} beside a flooding peer");
        assert!(
            p99 < Duration::from_millis(50),
            "{driver:?}: echo p99 {p99:?} beside a flooding peer"
        );
    }
}

/// Asks for a timer 50 ms after opening and reports how late it fired;
/// crunches and swallows whatever arrives.
struct TimerProbe {
    due: Option<Instant>,
    lateness: mpsc::Sender<Duration>,
}

impl Protocol for TimerProbe {
    type Mail = ();

    fn on_open(&mut self, _mailbox: Mailbox<()>, ctx: &mut Ctx) {
        let due = ctx.now() + Duration::from_millis(50);
        self.due = Some(due);
        ctx.wake_at(due);
    }

    fn on_bytes(&mut self, input: &[u8], _ctx: &mut Ctx) -> usize {
        std::hint::black_box(crunch(input));
        input.len()
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        if let Some(due) = self.due.take() {
            let _ = self.lateness.send(ctx.now().saturating_duration_since(due));
        }
    }
}

#[test]
fn a_timer_fires_on_time_while_its_connection_is_flooded() {
    let _serial = one_at_a_time();
    for driver in DRIVERS {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let (addr, shutdown) = start(driver, Limits::default(), move |_| TimerProbe {
            due: None,
            lateness: tx.lock().unwrap().clone(),
        });
        // One connection floods itself from the first instant.
        let stop = Arc::new(AtomicBool::new(false));
        let flooders = flood(addr, Arc::clone(&stop));
        let lateness = rx.recv_timeout(Duration::from_secs(10));
        stop.store(true, Ordering::Relaxed);
        for flooder in flooders {
            flooder.join().unwrap();
        }
        shutdown.shutdown();
        let lateness = lateness.unwrap_or_else(|_| panic!("{driver:?}: the timer never fired"));
        eprintln!("{driver:?}: a 50 ms timer fired {lateness:?} late under load");
        assert!(
            lateness < Duration::from_millis(150),
            "{driver:?}: a 50 ms timer fired {lateness:?} late under load"
        );
    }
}

/// The first connection re-arms its timer in the past every time it fires;
/// every other connection echoes.
enum RearmOrEcho {
    Rearm(Arc<AtomicUsize>),
    Echo,
}

impl Protocol for RearmOrEcho {
    type Mail = ();

    fn on_open(&mut self, _mailbox: Mailbox<()>, ctx: &mut Ctx) {
        if let RearmOrEcho::Rearm(_) = self {
            ctx.wake_at(ctx.now());
        }
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        if let RearmOrEcho::Echo = self {
            ctx.send(input);
        }
        input.len()
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        if let RearmOrEcho::Rearm(fired) = self {
            fired.fetch_add(1, Ordering::Relaxed);
            let past = ctx
                .now()
                .checked_sub(Duration::from_millis(1))
                .unwrap_or(ctx.now());
            ctx.wake_at(past);
        }
    }
}

#[test]
fn a_timer_rearmed_in_the_past_does_not_freeze_the_server() {
    let _serial = one_at_a_time();
    for driver in DRIVERS {
        let fired = Arc::new(AtomicUsize::new(0));
        let first = Arc::new(AtomicBool::new(true));
        let fired_in = Arc::clone(&fired);
        let (addr, shutdown) = start(driver, Limits::default(), move |_| {
            if first.swap(false, Ordering::SeqCst) {
                RearmOrEcho::Rearm(Arc::clone(&fired_in))
            } else {
                RearmOrEcho::Echo
            }
        });
        let rearming = connect(addr);
        let deadline = Instant::now() + Duration::from_secs(5);
        while fired.load(Ordering::Relaxed) < 10 {
            assert!(
                Instant::now() < deadline,
                "{driver:?}: the timer never fired"
            );
            thread::sleep(Duration::from_millis(1));
        }
        // The server still answers someone else, quickly.
        let mut other = connect(addr);
        other
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let start = Instant::now();
        other.write_all(b"still there?\n").unwrap();
        let mut line = String::new();
        BufReader::new(&other)
            .read_line(&mut line)
            .unwrap_or_else(|err| panic!("{driver:?}: no echo while a timer spins: {err}"));
        assert_eq!(line, "still there?\n");
        assert!(start.elapsed() < Duration::from_secs(1), "{driver:?}");
        // And the spinning connection still hears its own peer leave.
        drop(rearming);
        shutdown.shutdown();
    }
}

/// Answers every byte with 16 MiB, and reports how it ended.
struct Big {
    closes: Arc<Mutex<Vec<CloseReason>>>,
}

impl Protocol for Big {
    type Mail = ();

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        for _ in input {
            ctx.send_shared(Arc::from(vec![b'b'; 16 * 1024 * 1024]));
        }
        input.len()
    }

    fn on_closed(&mut self, reason: CloseReason) {
        self.closes.lock().unwrap().push(reason);
    }
}

#[test]
fn unsent_bytes_are_bounded_across_the_whole_server() {
    let _serial = one_at_a_time();
    for driver in DRIVERS {
        let closes = Arc::new(Mutex::new(Vec::new()));
        let closes_in = Arc::clone(&closes);
        let limits = Limits {
            max_unsent_total: 8 * 1024 * 1024,
            ..Limits::default()
        };
        let (addr, shutdown) = start(driver, limits, move |_| Big {
            closes: Arc::clone(&closes_in),
        });
        // Four clients ask for 16 MiB each and never read it.
        let clients: Vec<TcpStream> = (0..4)
            .map(|_| {
                let mut stream = connect(addr);
                stream.write_all(b"?").unwrap();
                stream
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !closes.lock().unwrap().contains(&CloseReason::OverBudget) {
            assert!(
                Instant::now() < deadline,
                "{driver:?}: 64 MiB asked for against an 8 MiB budget, closes: {:?}",
                closes.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(10));
        }
        drop(clients);
        shutdown.shutdown();
    }
}

/// Answers a byte with how many bytes waited for the peer before it.
struct Unsent;

impl Protocol for Unsent {
    type Mail = ();

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        for byte in input {
            if *byte == b'q' {
                ctx.send(&vec![b'.'; 1024 * 1024]);
            } else {
                let report = format!("[{}]", ctx.unsent());
                ctx.send(report.as_bytes());
            }
        }
        input.len()
    }
}

#[test]
fn a_protocol_sees_how_many_bytes_wait_for_its_peer() {
    let _serial = one_at_a_time();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = mio::Config {
        pause_above: 64 * 1024 * 1024,
        ..mio::Config::default()
    };
    let running = mio::start(listener, |_| Unsent, config).unwrap();
    let mut stream = connect(addr);
    // 32 MiB asked for, not read: more than the kernel's buffers take.
    stream.write_all(&[b'q'; 16]).unwrap();
    thread::sleep(Duration::from_millis(300));
    stream.write_all(b"u").unwrap();
    let mut all = Vec::new();
    let mut chunk = vec![0; 1024 * 1024];
    while !all.ends_with(b"]") {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0);
        all.extend_from_slice(&chunk[..n]);
    }
    let open = all.iter().rposition(|b| *b == b'[').unwrap();
    let unsent: usize = std::str::from_utf8(&all[open + 1..all.len() - 1])
        .unwrap()
        .parse()
        .unwrap();
    assert!(unsent > 1024 * 1024, "reported {unsent} bytes waiting");
    assert_eq!(open, 16 * 1024 * 1024, "the report comes after the 16 MiB");
    running.shutdown.shutdown();
}

#[test]
fn connections_beyond_max_conns_are_refused_with_a_message() {
    let _serial = one_at_a_time();
    for driver in DRIVERS {
        let limits = Limits {
            max_conns: 2,
            refusal: b"busy\n",
            ..Limits::default()
        };
        let (addr, shutdown) = start(driver, limits, |_| Echo);
        let echo_line = |stream: &mut TcpStream| {
            stream.write_all(b"hi\n").unwrap();
            let mut line = String::new();
            BufReader::new(&*stream).read_line(&mut line).unwrap();
            line
        };
        let mut one = connect(addr);
        let mut two = connect(addr);
        assert_eq!(echo_line(&mut one), "hi\n");
        assert_eq!(echo_line(&mut two), "hi\n");
        let mut three = connect(addr);
        three.write_all(b"me too\n").unwrap();
        let mut told = String::new();
        three.read_to_string(&mut told).unwrap();
        assert_eq!(told, "busy\n", "{driver:?}");
        // A place frees up: the next one is served.
        drop(one);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut four = connect(addr);
            if echo_line(&mut four) == "hi\n" {
                break;
            }
            assert!(Instant::now() < deadline, "{driver:?}: never served again");
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(echo_line(&mut two), "hi\n");
        shutdown.shutdown();
    }
}

/// Says "bye" when the server shuts down, and reports how it ended.
struct Goodbye {
    closes: Arc<Mutex<Vec<CloseReason>>>,
}

impl Protocol for Goodbye {
    type Mail = ();

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        ctx.send(input);
        input.len()
    }

    fn on_shutdown(&mut self, ctx: &mut Ctx) {
        ctx.send(b"bye\n");
        ctx.close();
    }

    fn on_closed(&mut self, reason: CloseReason) {
        self.closes.lock().unwrap().push(reason);
    }
}

#[test]
fn shutdown_lets_every_connection_say_goodbye_on_both_drivers() {
    let _serial = one_at_a_time();
    for driver in DRIVERS {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let closes = Arc::new(Mutex::new(Vec::new()));
        let closes_in = Arc::clone(&closes);
        let factory = move |_| Goodbye {
            closes: Arc::clone(&closes_in),
        };
        let (tx, rx) = mpsc::channel();
        let server = match driver {
            Driver::Threads => thread::spawn(move || {
                threads::serve_with_shutdown(listener, factory, threads::Config::default(), |s| {
                    tx.send(s).unwrap()
                })
            }),
            Driver::Mio => thread::spawn(move || {
                mio::serve_with_shutdown(listener, factory, mio::Config::default(), |s| {
                    tx.send(s).unwrap()
                })
            }),
        };
        let shutdown = rx.recv().unwrap();
        let mut clients: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
        for client in &mut clients {
            client.write_all(b"hello\n").unwrap();
            let mut line = String::new();
            BufReader::new(&*client).read_line(&mut line).unwrap();
        }
        shutdown.shutdown();
        for client in &mut clients {
            let mut rest = String::new();
            client.read_to_string(&mut rest).unwrap();
            assert_eq!(rest, "bye\n", "{driver:?}");
        }
        let started = Instant::now();
        server.join().unwrap().unwrap();
        assert!(started.elapsed() < Duration::from_secs(3), "{driver:?}");
        let closes = closes.lock().unwrap();
        assert_eq!(closes.len(), 3, "{driver:?}: {closes:?}");
        assert!(closes.iter().all(|reason| *reason == CloseReason::Closed));
        // The listener is gone.
        assert!(TcpStream::connect(addr).is_err(), "{driver:?}");
    }
}
