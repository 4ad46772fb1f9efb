//! Chapter 5b: netladder's Rust Socket.IO client against netladder's own
//! `ch05-sio-server`, on both drivers and all transports: echo with
//! nested binary, acks both ways and an ack timeout (`/interop`), auth and
//! a middleware's `connect_error` (`/auth`), a room broadcast, a server
//! disconnect, and reconnection after a server restart. (Connection state
//! recovery is tested against Node's server in ch05_sio_client.rs.)

mod common;

use common::Server;
use netladder::engineio::client::Transports;
use netladder::socketio::Value;
use netladder::socketio::blocking::{Client, ClientBuilder, Error};
use netladder::socketio::client::{ClientConfig, ClientEvent, DisconnectReason};
use serde_json::json;
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
