//! The driver contract (see `netladder::driver`), checked the same way on
//! both drivers: partial input, timers, mailboxes, close after flush.

use netladder::driver::{CloseReason, Ctx, Mailbox, Protocol, mio, threads};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

type Registry = Arc<Mutex<Vec<Mailbox<String>>>>;

/// Echoes lines, answers "wake" with a timer that sends "tick", "shout"
/// with a message to every connection's mailbox, and "quit" with a close:
/// every part of the contract in one protocol.
struct Probe {
    registry: Registry,
    /// Counts `on_closed` calls, for every connection of the server.
    closed: Arc<std::sync::atomic::AtomicUsize>,
}

impl Protocol for Probe {
    type Mail = String;

    fn on_open(&mut self, mailbox: Mailbox<String>, ctx: &mut Ctx) {
        self.registry.lock().unwrap().push(mailbox);
        ctx.send(b"hello\n");
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        let mut consumed = 0;
        while let Some(end) = input[consumed..].iter().position(|&b| b == b'\n') {
            match &input[consumed..consumed + end] {
                b"wake" => ctx.wake_at(ctx.now() + Duration::from_millis(20)),
                b"quit" => ctx.close(),
                b"shout" => {
                    for mailbox in self.registry.lock().unwrap().iter() {
                        let _ = mailbox.send("shouted".to_string());
                    }
                }
                line => {
                    let line = line.to_vec();
                    ctx.send(&line);
                    ctx.send(b"\n");
                }
            }
            consumed += end + 1;
        }
        consumed
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        ctx.send(b"tick\n");
    }

    fn on_message(&mut self, message: String, ctx: &mut Ctx) {
        ctx.send(message.as_bytes());
        ctx.send(b"\n");
    }

    fn on_closed(&mut self, _reason: CloseReason) {
        self.closed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[derive(Clone, Copy, Debug)]
enum Driver {
    Threads,
    Mio,
}

fn start(driver: Driver) -> (SocketAddr, Registry) {
    let (addr, registry, _) = start_counting(driver);
    (addr, registry)
}

fn start_counting(driver: Driver) -> (SocketAddr, Registry, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let registry = Registry::default();
    let shared = Arc::clone(&registry);
    let closed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&closed);
    let new_probe = move |_| Probe {
        registry: Arc::clone(&shared),
        closed: Arc::clone(&counter),
    };
    match driver {
        Driver::Threads => drop(threads::spawn(
            listener,
            new_probe,
            threads::Config::default(),
        )),
        Driver::Mio => drop(mio::spawn(listener, new_probe, mio::Config::default())),
    }
    (addr, registry, closed)
}

fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let reader = BufReader::new(stream.try_clone().unwrap());
    (stream, reader)
}

fn line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

const DRIVERS: [Driver; 2] = [Driver::Threads, Driver::Mio];

#[test]
fn partial_lines_wait_for_more_bytes() {
    for driver in DRIVERS {
        let (addr, _) = start(driver);
        let (mut stream, mut reader) = connect(addr);
        assert_eq!(line(&mut reader), "hello\n");
        stream.write_all(b"ab").unwrap();
        thread::sleep(Duration::from_millis(20));
        stream.write_all(b"c\nde").unwrap();
        thread::sleep(Duration::from_millis(20));
        stream.write_all(b"f\n").unwrap();
        assert_eq!(line(&mut reader), "abc\n", "{driver:?}");
        assert_eq!(line(&mut reader), "def\n", "{driver:?}");
    }
}

#[test]
fn timer_fires_after_it_was_asked_for() {
    for driver in DRIVERS {
        let (addr, _) = start(driver);
        let (mut stream, mut reader) = connect(addr);
        line(&mut reader);
        let asked = Instant::now();
        stream.write_all(b"wake\n").unwrap();
        assert_eq!(line(&mut reader), "tick\n", "{driver:?}");
        assert!(asked.elapsed() >= Duration::from_millis(20), "{driver:?}");
    }
}

#[test]
fn mailbox_reaches_every_connection() {
    for driver in DRIVERS {
        let (addr, _) = start(driver);
        let (mut a, mut a_reader) = connect(addr);
        let (_b, mut b_reader) = connect(addr);
        line(&mut a_reader);
        line(&mut b_reader);
        a.write_all(b"shout\n").unwrap();
        assert_eq!(line(&mut a_reader), "shouted\n", "{driver:?}");
        assert_eq!(line(&mut b_reader), "shouted\n", "{driver:?}");
    }
}

#[test]
fn close_flushes_then_sends_fin_and_the_mailbox_closes() {
    for driver in DRIVERS {
        let (addr, registry) = start(driver);
        let (mut stream, mut reader) = connect(addr);
        line(&mut reader);
        stream.write_all(b"last\nquit\n").unwrap();
        assert_eq!(line(&mut reader), "last\n", "{driver:?}");
        assert_eq!(
            line(&mut reader),
            "",
            "{driver:?}: EOF after the flushed reply"
        );
        // Once we close our side too, the connection ends and its inbox goes.
        drop((stream, reader));
        let mailbox = registry.lock().unwrap()[0].clone();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !mailbox
            .send("late".to_string())
            .is_err_and(|err| err.is_closed())
        {
            assert!(
                Instant::now() < deadline,
                "{driver:?}: the connection never closed"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn on_closed_comes_last_even_after_a_reset() {
    for driver in DRIVERS {
        let (addr, _, closed) = start_counting(driver);
        let (mut stream, mut reader) = connect(addr);
        line(&mut reader);
        // Unread bytes in our receive buffer make the close a reset (RST).
        stream.write_all(b"unread echo\n").unwrap();
        thread::sleep(Duration::from_millis(50));
        drop((stream, reader));
        let deadline = Instant::now() + Duration::from_secs(5);
        while closed.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            assert!(
                Instant::now() < deadline,
                "{driver:?}: on_closed never came"
            );
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            closed.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "{driver:?}"
        );
    }
}
