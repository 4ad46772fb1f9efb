//! Chapter 5b: netladder's Rust Socket.IO client against netladder's own
//! `ch05-sio-server`, on both drivers and all transports: echo with
//! nested binary, acks both ways and an ack timeout (`/interop`), auth and
//! a middleware's `connect_error` (`/auth`), a room broadcast, a server
//! disconnect, reconnection after a server restart, and connection state
//! recovery (`--recovery-ms`) after the client's TCP connection is cut
//! under it. (ch05_sio_client.rs tests recovery against Node's server.)

mod common;

use common::Server;
use netladder::engineio::client::Transports;
use netladder::socketio::Value;
use netladder::socketio::blocking::{Client, ClientBuilder, Error};
use netladder::socketio::client::{ClientConfig, ClientEvent, DisconnectReason};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_ch05-sio-server");
const WAIT: Duration = Duration::from_secs(10);
const DRIVERS: [&str; 2] = ["threads", "mio"];
const TRANSPORTS: [Transports; 3] = [
    Transports::PollingOnly,
    Transports::WebSocketOnly,
    Transports::PollingThenUpgrade,
];

fn url(server: &Server) -> String {
    format!("http://{}", server.addr)
}

fn wait_for<T>(client: &mut Client, mut pick: impl FnMut(&ClientEvent) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Some(event) = client.next_event(Duration::from_millis(200)) {
            if let Some(t) = pick(&event) {
                return t;
            }
            seen.push(event);
        }
    }
    panic!("not seen in time; got {seen:?}");
}

fn rich_args() -> Vec<Value> {
    let mut nested = Value::from(json!({"list": [1, "two", null]}));
    if let Value::Object(map) = &mut nested {
        map.insert(
            "blob".into(),
            Value::Array(vec![Value::binary(vec![0u8, 1, 255]), Value::from(3i64)]),
        );
    }
    vec![
        Value::from("text"),
        Value::from(42i64),
        nested,
        Value::binary(vec![9u8; 3000]),
    ]
}

#[test]
fn echo_acks_both_ways_and_timeouts_on_every_driver_and_transport() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        for transports in TRANSPORTS {
            let what = format!("{driver} {transports:?}");
            // "/": echo, binary nested, several arguments.
            let mut io = ClientBuilder::new(&url(&server))
                .unwrap()
                .transports(transports)
                .connect()
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                io.call("echo", rich_args(), WAIT).unwrap(),
                rich_args(),
                "{what}"
            );
            for i in 0..20i64 {
                assert_eq!(
                    io.call("echo", vec![i.into()], WAIT).unwrap(),
                    vec![i.into()]
                );
            }
            // /interop on the same session: the server asks us, we answer.
            io.connect_namespace("/interop", None).unwrap();
            wait_for(&mut io, |e| {
                matches!(e, ClientEvent::Connect { nsp, .. } if nsp == "/interop").then_some(())
            });
            let asked = json!({"event": "question", "args": ["why?"], "timeout_ms": 3000});
            assert_eq!(
                io.call_in("/interop", "ask", vec![asked.into()], WAIT)
                    .unwrap(),
                vec![Value::from(true)]
            );
            let (id, args) = wait_for(&mut io, |e| match e {
                ClientEvent::Event {
                    name,
                    args,
                    ack: Some(id),
                    ..
                } if name == "question" => Some((*id, args.clone())),
                _ => None,
            });
            assert_eq!(args, vec![Value::from("why?")]);
            io.ack_in("/interop", id, vec!["because".into()]).unwrap();
            let report = wait_for(&mut io, |e| match e {
                ClientEvent::Event { name, args, .. } if name == "asked" => Some(args.clone()),
                _ => None,
            });
            assert_eq!(
                report[0].to_json(),
                json!({"ok": true, "args": ["because"]})
            );
            // `never` has no handler: our ack timeout fires.
            assert_eq!(
                io.call_in("/interop", "never", vec![], Duration::from_millis(300)),
                Err(Error::Timeout)
            );
            let transport = io.transport();
            let want = match transports {
                Transports::PollingOnly => "polling",
                _ => "websocket",
            };
            assert_eq!(transport, Some(want), "{what}");
            io.close();
        }
    }
}

#[test]
fn auth_connect_error_broadcast_and_server_disconnect() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let refused = ClientBuilder::new(&url(&server))
            .unwrap()
            .namespace("/auth")
            .connect()
            .unwrap_err();
        assert_eq!(
            refused,
            Error::Refused {
                message: "not authorized".into(),
                data: Some(Value::from(json!({"reason": "no token"}))),
            },
            "{driver}"
        );
        let mut authed = ClientBuilder::new(&url(&server))
            .unwrap()
            .namespace("/auth")
            .auth(Value::from(json!({"token": "t-1"})))
            .connect()
            .unwrap();
        assert_eq!(
            authed.call("whoami", vec![], WAIT).unwrap(),
            vec![Value::from("t-1")]
        );
        // A room broadcast with except.
        let join = |io: &mut Client, room: &str| {
            io.call("join", vec![room.into()], WAIT).unwrap();
        };
        let mut a = ClientBuilder::new(&url(&server))
            .unwrap()
            .namespace("/interop")
            .transports(Transports::WebSocketOnly)
            .connect()
            .unwrap();
        let mut b = ClientBuilder::new(&url(&server))
            .unwrap()
            .namespace("/interop")
            .transports(Transports::PollingOnly)
            .connect()
            .unwrap();
        join(&mut a, "r");
        join(&mut b, "r");
        let sender_sid = a.sid().unwrap().to_owned();
        let reached = a
            .call(
                "broadcast",
                vec![
                    json!({"room": "r", "except": sender_sid, "event": "news", "args": [1, "x"]})
                        .into(),
                ],
                WAIT,
            )
            .unwrap();
        assert_eq!(reached, vec![Value::from(1u64)], "{driver}: b only");
        let got = wait_for(&mut b, |e| match e {
            ClientEvent::Event { name, args, .. } if name == "news" => Some(args.clone()),
            _ => None,
        });
        assert_eq!(got, vec![Value::from(1i64), Value::from("x")]);
        // The server disconnects b: final, no reconnection.
        b.emit("disconnect_me", vec![false.into()]).unwrap();
        let reason = wait_for(&mut b, |e| match e {
            ClientEvent::Disconnect { reason, .. } => Some(*reason),
            _ => None,
        });
        assert_eq!(reason, DisconnectReason::IoServerDisconnect);
        assert!(!b.is_connected());
    }
}

#[test]
fn reconnection_after_a_restart_of_our_server() {
    for driver in DRIVERS {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let start = || {
            let mut child = std::process::Command::new(SERVER)
                .args(["--driver", driver, "--addr", &addr])
                .env("RUST_LOG", "error")
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(child.stdout.take().unwrap()),
                &mut line,
            )
            .unwrap();
            assert!(line.starts_with("listening on"), "{line}");
            child
        };
        let mut first = start();
        let mut io = ClientBuilder::new(&format!("http://{addr}"))
            .unwrap()
            .config(ClientConfig {
                reconnection_delay: Duration::from_millis(100),
                reconnection_delay_max: Duration::from_millis(500),
                ..ClientConfig::default()
            })
            .transports(Transports::WebSocketOnly)
            .connect()
            .unwrap();
        let old_sid = io.sid().unwrap().to_owned();
        first.kill().unwrap();
        first.wait().unwrap();
        wait_for(&mut io, |e| {
            matches!(e, ClientEvent::Disconnect { .. }).then_some(())
        });
        std::thread::sleep(Duration::from_millis(400));
        let mut second = start();
        let sid = wait_for(&mut io, |e| match e {
            ClientEvent::Connect { sid, .. } => Some(sid.clone()),
            _ => None,
        });
        assert_ne!(sid, old_sid);
        assert_eq!(
            io.call("echo", vec!["again".into()], WAIT).unwrap(),
            vec![Value::from("again")],
            "{driver}"
        );
        drop(io);
        let _ = second.kill();
        let _ = second.wait();
    }
}

/// A TCP relay between a client and the server that can cut every
/// connection through it at once, the way a dropped network or a killed
/// process does: no WebSocket close frame, no Engine.IO close packet, just
/// the TCP connections ending under both sides (shut down in both
/// directions, so each side reads the end of the stream). New connections
/// are relayed as before, so the client can come back through it.
struct Relay {
    addr: SocketAddr,
    live: Arc<Mutex<Vec<Relayed>>>,
}

/// One connection through the relay.
struct Relayed {
    client: TcpStream,
    server: TcpStream,
    /// The first bytes the client sent (its request line, for HTTP).
    head: Arc<Mutex<Vec<u8>>>,
    /// Either direction has ended.
    ended: Arc<AtomicBool>,
}

impl Relay {
    fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let live: Arc<Mutex<Vec<Relayed>>> = Arc::default();
        let conns = Arc::clone(&live);
        // The thread ends with the test binary; the relay has no other user.
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                // Connected and registered under the lock, so that `cut`
                // sees every connection the server has seen.
                let mut conns = conns.lock().unwrap();
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let relayed = Relayed {
                    client,
                    server,
                    head: Arc::default(),
                    ended: Arc::default(),
                };
                let (Ok(c1), Ok(s1), Ok(c2), Ok(s2)) = (
                    relayed.client.try_clone(),
                    relayed.server.try_clone(),
                    relayed.client.try_clone(),
                    relayed.server.try_clone(),
                ) else {
                    continue;
                };
                pump(c1, s1, Some(Arc::clone(&relayed.head)), &relayed.ended);
                pump(s2, c2, None, &relayed.ended);
                conns.retain(|c| !c.ended.load(Ordering::SeqCst));
                conns.push(relayed);
            }
        });
        Relay { addr, live }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until a polling `GET` of an open session (the poll the server
    /// holds until it has something to send) has gone through the relay and
    /// is still open.
    fn wait_for_poll(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let held = self.live.lock().unwrap().iter().any(|c| {
                let head = c.head.lock().unwrap();
                !c.ended.load(Ordering::SeqCst)
                    && head.starts_with(b"GET /socket.io/?")
                    && head.windows(17).any(|w| w == b"transport=polling")
                    && head.windows(5).any(|w| w == b"&sid=")
            });
            if held {
                return;
            }
            assert!(Instant::now() < deadline, "no poll through the relay");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Ends every connection relayed so far, under both of its ends.
    fn cut(&self) {
        for c in self.live.lock().unwrap().drain(..) {
            let _ = c.client.shutdown(Shutdown::Both);
            let _ = c.server.shutdown(Shutdown::Both);
        }
    }
}

/// Copies `from` to `to` on a thread of its own until either ends, keeping
/// the first bytes in `head`.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    head: Option<Arc<Mutex<Vec<u8>>>>,
    ended: &Arc<AtomicBool>,
) {
    let ended = Arc::clone(ended);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
            // After the write: what is in `head` has reached the server.
            if let Some(head) = &head {
                let mut head = head.lock().unwrap();
                let room = 256usize.saturating_sub(head.len());
                head.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        ended.store(true, Ordering::SeqCst);
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// The args of the next `news` event (other events are skipped, never a
/// `news`): one that comes twice or out of order shows as the wrong one.
fn next_news(client: &mut Client) -> Vec<Value> {
    wait_for(client, event_args("news"))
}

fn event_args(want: &'static str) -> impl FnMut(&ClientEvent) -> Option<Vec<Value>> {
    move |e| match e {
        ClientEvent::Event { name, args, .. } if name == want => Some(args.clone()),
        _ => None,
    }
}

/// `/interop`'s `broadcast`: emit `news(text)` to `room`; how many sockets
/// it reached.
fn broadcast(sender: &mut Client, room: &str, text: &str) -> Value {
    let asked = json!({"room": room, "event": "news", "args": [text]});
    let reached = sender.call("broadcast", vec![asked.into()], WAIT).unwrap();
    reached.into_iter().next().unwrap()
}

/// Connection state recovery with our client against our server: the
/// client joins a room, its TCP connection is cut (no close handshake of any
/// kind), the server emits to the room while it is gone, and the client
/// comes back through the relay. With `--recovery-ms` it must come back as
/// the same socket, `recovered`, and get exactly the missed events, in
/// order, once; without it, as a new socket that missed them.
fn recovery_after_a_cut(driver: &str, transports: Transports, recovery: bool) {
    let what = format!("{driver} {transports:?} recovery={recovery}");
    let mut args = vec!["--driver", driver];
    if recovery {
        args.extend(["--recovery-ms", "60000"]);
    }
    let server = Server::start(SERVER, &args);
    let relay = Relay::start(server.addr);
    let mut a = ClientBuilder::new(&relay.url())
        .unwrap()
        .namespace("/interop")
        .transports(transports)
        .config(ClientConfig {
            reconnection_delay: Duration::from_millis(50),
            reconnection_delay_max: Duration::from_millis(200),
            ..ClientConfig::default()
        })
        .connect()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut b = ClientBuilder::new(&url(&server))
        .unwrap()
        .namespace("/interop")
        .transports(Transports::WebSocketOnly)
        .connect()
        .unwrap();
    // A joins "r" on the server's side (its `join` handler) and gets one
    // broadcast: with recovery on, its last argument is the offset, which
    // the client keeps for the next CONNECT.
    let rooms = a.call("join", vec!["r".into()], WAIT).unwrap();
    assert!(
        rooms[0].to_json().to_string().contains("\"r\""),
        "{rooms:?}"
    );
    assert_eq!(
        broadcast(&mut b, "r", "before"),
        Value::from(1u64),
        "{what}"
    );
    let first = next_news(&mut a);
    assert_eq!(first[0], Value::from("before"), "{what}");
    assert_eq!(
        first.len(),
        if recovery { 2 } else { 1 },
        "{what}: the offset is there with recovery only: {first:?}"
    );
    let sid = a.sid().unwrap().to_owned();
    // Cut when the server can notice: on a WebSocket at once; on polling,
    // once A's next poll is held (between two polls there is nothing to
    // cut, and only the heartbeat would find A gone).
    match transports {
        Transports::PollingOnly => relay.wait_for_poll(),
        Transports::PollingThenUpgrade => {
            while a.transport() != Some("websocket") {
                if let Some(e) = a.next_event(Duration::from_millis(10)) {
                    panic!("{what}: unexpected {e:?}");
                }
            }
        }
        Transports::WebSocketOnly => {}
    }

    // Cut. A is not pumped until the emits below are done, so it cannot
    // come back before them; the server must first notice that it left.
    relay.cut();
    let deadline = Instant::now() + WAIT;
    let reason = loop {
        let seen = b.call("disconnects", vec![], WAIT).unwrap();
        let found = seen[0].to_json().as_array().and_then(|list| {
            list.iter()
                .find(|pair| pair[0] == sid.as_str())
                .map(|pair| pair[1].as_str().unwrap_or_default().to_owned())
        });
        if let Some(reason) = found {
            break reason;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the server never saw A go"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        reason == "transport close" || reason == "transport error",
        "{what}: an abrupt end is a transport close, not {reason:?}"
    );
    for (room, text) in [
        ("r", "missed 1"),
        ("elsewhere", "not for A"),
        ("r", "missed 2"),
    ] {
        assert_eq!(broadcast(&mut b, room, text), Value::from(0u64), "{what}");
    }

    // A notices, reconnects within the window, and says who it was.
    let lost = wait_for(&mut a, |e| match e {
        ClientEvent::Disconnect { reason, .. } => Some(*reason),
        _ => None,
    });
    assert!(
        matches!(
            lost,
            DisconnectReason::TransportClose | DisconnectReason::TransportError
        ),
        "{what}: {lost:?}"
    );
    let (new_sid, recovered) = wait_for(&mut a, |e| match e {
        ClientEvent::Connect { sid, recovered, .. } => Some((sid.clone(), *recovered)),
        _ => None,
    });
    assert_eq!(recovered, recovery, "{what}: recovered");
    assert_eq!(a.recovered(), recovery, "{what}");
    if recovery {
        assert_eq!(new_sid, sid, "{what}: the same socket");
        // The missed events, in order; nothing for the other room.
        let missed_1 = next_news(&mut a);
        assert_eq!(missed_1[0], Value::from("missed 1"), "{what}: {missed_1:?}");
        assert_eq!(next_news(&mut a)[0], Value::from("missed 2"), "{what}");
    } else {
        assert_ne!(new_sid, sid, "{what}: a new socket");
        // A new socket is in no room but its own: join again.
        a.call("join", vec!["r".into()], WAIT).unwrap();
    }
    // The next news is a live one: nothing was replayed twice, and the
    // socket is in "r" again.
    assert_eq!(broadcast(&mut b, "r", "after"), Value::from(1u64), "{what}");
    assert_eq!(next_news(&mut a)[0], Value::from("after"), "{what}");
    a.close();
    b.close();
}

#[test]
fn connection_state_recovery_after_a_cut_connection() {
    for driver in DRIVERS {
        for transports in TRANSPORTS {
            recovery_after_a_cut(driver, transports, true);
        }
    }
}

#[test]
fn without_recovery_a_cut_connection_comes_back_as_a_new_socket() {
    recovery_after_a_cut("threads", Transports::WebSocketOnly, false);
}
