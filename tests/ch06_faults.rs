//! Chapter 6's faults with real processes: `ch05-sio-server --redis`
//! servers, clients over TCP (the project's blocking Socket.IO client) and
//! a `redis-server` of the test's own.
//!
//! - **Readiness.** A server says `listening` only once Redis has
//!   confirmed its subscriptions: not while Redis is frozen, and with a
//!   clear error, within a bound, when Redis is unreachable (classic and
//!   `--redis-sharded`).
//! - **Redis restarts** (SIGKILL, then a new redis-server on the same
//!   port): the servers stay up and keep serving their own clients, what
//!   was published meanwhile is lost, and a cross-server room broadcast
//!   works again within a bounded time.
//! - **Redis hangs** (SIGSTOP): a server's own clients still get their
//!   echo within a second, on either driver.
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

/// An `echo` on `/` with an ack: how long the answer took.
fn echo(c: &mut Client, text: &str) -> Duration {
    let started = Instant::now();
    let answer = c
        .call_in("/", "echo", vec![text.into()], WAIT)
        .unwrap_or_else(|e| panic!("echo {text}: {e}"));
    assert_eq!(answer, vec![Value::from(text)]);
    started.elapsed()
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

#[test]
fn a_redis_restart_is_survived_by_real_servers_on_threads() {
    redis_restart("threads");
}

#[test]
fn a_redis_restart_is_survived_by_real_servers_on_mio() {
    redis_restart("mio");
}

fn redis_restart(driver: &str) {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let mut a = Sio::start(&redis.url(), &["--driver", driver]);
    let mut b = Sio::start(&redis.url(), &["--driver", driver]);
    let mut a1 = client(&a, "r");
    let mut a2 = client(&a, "r");
    let mut b1 = client(&b, "r");
    assert_eq!(say(&mut a1, "r", "before"), 1, "a2 is local");
    assert_eq!(said(&mut b1, WAIT, Some("before")), ["before"]);
    assert_eq!(said(&mut a2, WAIT, Some("before")), ["before"]);

    redis.stop(); // SIGKILL: every connection to it breaks
    // The servers stay up and serve their own clients: an echo, and a
    // room broadcast between two clients of one server.
    echo(&mut a1, "still here");
    echo(&mut b1, "still here");
    assert_eq!(say(&mut a1, "r", "lost"), 1);
    assert_eq!(said(&mut a2, WAIT, Some("lost")), ["lost"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(a.running() && b.running(), "a server died with Redis");

    redis.restart(); // the same port
    // Within a bounded time the adapters are back: a broadcast crosses
    // again, both ways.
    let mut got = crosses(&mut a1, &mut b1, "a");
    crosses(&mut b1, &mut a1, "b");
    // Pub/sub is at-most-once: what A published during the outage is gone.
    got.extend(said(&mut b1, Duration::from_millis(300), None));
    assert!(
        !got.contains(&"lost".to_owned()),
        "a message from the outage came back: {got:?}"
    );
    assert!(a.running() && b.running());
}

/// `from` says `back from LABEL N` every 200 ms (as a user would try
/// again) until `to`, on another server, hears one; at most 15 s. Returns
/// what `to` heard.
fn crosses(from: &mut Client, to: &mut Client, label: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let prefix = format!("back from {label} ");
    let mut got: Vec<String> = Vec::new();
    for i in 0.. {
        if got.iter().any(|t| t.starts_with(&prefix)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nothing from {label} crossed within 15 s of the restart: {got:?}"
        );
        say(from, "r", &format!("{prefix}{i}"));
        got.extend(said(to, Duration::from_millis(200), None));
    }
    got
}

#[test]
fn a_frozen_redis_does_not_stall_the_loop_on_mio() {
    frozen_redis("mio");
}

#[test]
fn a_frozen_redis_does_not_stall_the_server_on_threads() {
    frozen_redis("threads");
}

fn frozen_redis(driver: &str) {
    let Some(redis) = Redis::start() else { return };
    let mut a = Sio::start(&redis.url(), &["--driver", driver]);
    let b = Sio::start(&redis.url(), &["--driver", driver]);
    let mut a1 = client(&a, "r");
    let mut a2 = client(&a, "r");
    let _b1 = client(&b, "r");
    echo(&mut a1, "warm");
    redis.pause(); // SIGSTOP: connections stay open, nothing answers
    // For about 3 s, work that goes to Redis (broadcasts to publish, and
    // the requests behind fetchSockets) and local echoes, interleaved:
    // every echo answers within a second.
    let frozen = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut n = 0;
    while frozen.elapsed() < Duration::from_secs(3) {
        assert_eq!(say(&mut a1, "r", &format!("m{n}")), 1, "a2 is local");
        // fetchSockets across the cluster: answered at its timeout.
        a1.emit_with_ack(NSP, "fetch", vec!["r".into()], Some(WAIT))
            .unwrap();
        slowest = slowest.max(echo(&mut a1, &format!("e{n}")));
        slowest = slowest.max(echo(&mut a2, &format!("e{n}")));
        n += 1;
    }
    // A new client connects meanwhile, too.
    let mut a3 = client(&a, "r");
    slowest = slowest.max(echo(&mut a3, "new"));
    redis.resume();
    assert!(
        slowest < Duration::from_secs(1),
        "an echo waited {slowest:?} while Redis was frozen ({n} rounds)"
    );
    let local = said(&mut a2, Duration::from_millis(500), None);
    assert!(
        local.iter().filter(|t| t.starts_with('m')).count() >= n,
        "a2 heard its neighbour's {n} messages: {local:?}"
    );
    assert!(a.running());
}
