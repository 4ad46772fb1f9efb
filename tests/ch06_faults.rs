//! Chapter 6's faults with real processes: `ch05-sio-server --redis`
//! servers, clients over TCP (the project's blocking Socket.IO client) and
//! a `redis-server` of the test's own.
//!
//! - **Readiness.** A server says `listening` only once Redis has
//!   confirmed its subscriptions: not while Redis is frozen, and with a
//!   clear error, within a bound, when Redis is unreachable (classic and
//!   `--redis-sharded`).
//!
//! Skipped with a message when redis-server is not installed.

#[path = "support/cluster.rs"]
#[allow(dead_code)] // each test file uses its own subset
mod cluster;
#[path = "support/redis.rs"]
#[allow(dead_code)] // the restart helpers serve tests/ch06_cluster.rs
mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use cluster::{Launch, Sio};
use netladder::socketio::Value;
use netladder::socketio::blocking::{Client, ClientBuilder};
use netladder::socketio::client::ClientEvent;
use support::Redis;

const WAIT: Duration = Duration::from_secs(10);
const NSP: &str = "/cluster";

/// A client on `server`'s `/cluster` (and `/`, for `echo`), in `room`.
fn client(server: &Sio, room: &str) -> Client {
    let mut c = ClientBuilder::new(&server.url())
        .unwrap()
        .namespace(NSP)
        .reconnection(false)
        .connect()
        .unwrap_or_else(|e| panic!("a client connects to {}: {e}", server.addr));
    c.connect_namespace("/", None).unwrap();
    let rooms = c.call("join", vec![room.into()], WAIT).unwrap();
    assert!(
        format!("{rooms:?}").contains(room),
        "joined {room}: {rooms:?}"
    );
    c
}

/// `socket.to(room).emit("said", text)` from `c`; the ack counts the
/// sockets reached on `c`'s own server.
fn say(c: &mut Client, room: &str, text: &str) -> i64 {
    let ack = c.call("say", vec![room.into(), text.into()], WAIT).unwrap();
    match ack.first() {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
        other => panic!("say's ack: {other:?}"),
    }
}

/// The `said` texts `c` receives within `max` (stops early at `until`).
fn said(c: &mut Client, max: Duration, until: Option<&str>) -> Vec<String> {
    let deadline = Instant::now() + max;
    let mut out = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(ClientEvent::Event { name, args, .. }) =
            c.next_event(left.min(Duration::from_millis(50)))
            && name == "said"
        {
            let text = match args.first() {
                Some(Value::String(s)) => s.clone(),
                other => format!("{other:?}"),
            };
            let stop = until == Some(text.as_str());
            out.push(text);
            if stop {
                break;
            }
        }
    }
    out
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

#[test]
fn a_server_listens_only_once_redis_confirmed_its_subscriptions() {
    let Some(redis) = Redis::start() else { return };
    // Frozen, Redis accepts the connection (the kernel does) but confirms
    // nothing: the server must not say it is listening yet.
    redis.pause();
    let launch = Launch::new(&redis.url(), &[]);
    let early = launch.first_line(Duration::from_millis(1500));
    redis.resume();
    assert!(
        early.is_err(),
        "the server spoke while Redis confirmed nothing: {early:?}"
    );
    let server = launch.listening(WAIT);
    // The moment it says so, every namespace's channels are subscribed:
    // a message published from now on reaches it.
    for nsp in ["/", "/chat", NSP] {
        let channel = format!("socket.io-request#{nsp}#");
        assert_eq!(redis.numsub(&channel), 1, "{channel} at `listening`");
    }
    // And a second server, started normally, hears the first one's
    // clients' broadcasts at once: no warm-up.
    let other = Sio::start(&redis.url(), &[]);
    let mut a = client(&server, "r");
    let mut b = client(&other, "r");
    assert_eq!(say(&mut a, "r", "first"), 0, "b is on the other server");
    assert_eq!(said(&mut b, WAIT, Some("first")), ["first"]);
}

#[test]
fn an_unreachable_redis_is_a_clear_error_within_a_bound() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    for extra in [&[][..], &["--redis-sharded"][..]] {
        let started = Instant::now();
        let launch = Launch::new(&url, extra);
        let line = launch.first_line(Duration::from_secs(20));
        assert_eq!(line, Ok(None), "{extra:?}: no `listening` without Redis");
        let status = launch.exit(WAIT).expect("the server exits");
        assert_eq!(status.code(), Some(2), "{extra:?}: {status}");
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(15),
            "{extra:?}: gave up after {took:?}"
        );
    }
}
