//! Chapter 5b: netladder's Rust Socket.IO client against a real Node
//! `socket.io` 4.8 server (tests/node/sio_server.mjs): polling, WebSocket
//! and the upgrade; namespaces; auth and a middleware's `connect_error`;
//! several arguments with nested binary; acks both ways and an ack
//! timeout; a server-side disconnect; reconnection after a server restart;
//! connection state recovery. Without node or the npm packages (`npm ci`
//! in tests/node; scripts/test-all does it) the tests say so and pass as
//! skipped.

use netladder::engineio::client::Transports;
use netladder::socketio::Value;
use netladder::socketio::blocking::{Client, ClientBuilder, Error};
use netladder::socketio::client::{ClientConfig, ClientEvent, DisconnectReason};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// tests/node, if node and its packages are there.
fn node_peers() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let installed = dir.join("node_modules/socket.io").is_dir();
    let node = Command::new("node").arg("--version").output().is_ok();
    if installed && node {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: node or the npm package socket.io is missing (run `npm ci` in tests/node; \
             scripts/test-all does)"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: a check that CI sets up must not be skipped"
        );
        None
    }
}

/// A Node socket.io server, killed when dropped.
struct NodeServer {
    child: Child,
    port: u16,
}

impl NodeServer {
    fn start(port: u16, extra: &[&str]) -> Option<NodeServer> {
        let dir = node_peers()?;
        let mut child = Command::new("node")
            .arg(dir.join("sio_server.mjs"))
            .args(["--port", &port.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .expect("the port line");
        let port: serde_json::Value =
            serde_json::from_str(&first).unwrap_or_else(|_| panic!("first line: {first:?}"));
        let port = port["port"].as_u64().expect("a port") as u16;
        Some(NodeServer { child, port })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fast_reconnect() -> ClientConfig {
    ClientConfig {
        reconnection_delay: Duration::from_millis(100),
        reconnection_delay_max: Duration::from_millis(500),
        ..ClientConfig::default()
    }
}

/// The next event satisfying `pick`, skipping the rest.
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

fn event_args(name: &'static str) -> impl FnMut(&ClientEvent) -> Option<Vec<Value>> {
    move |e| match e {
        ClientEvent::Event { name: n, args, .. } if n == name => Some(args.clone()),
        _ => None,
    }
}

/// Several arguments, binary nested at several depths.
fn rich_args() -> Vec<Value> {
    let mut nested = Value::from(json!({"list": [1, "two", null], "deep": {}}));
    if let Value::Object(map) = &mut nested {
        map.insert(
            "blob".into(),
            Value::Array(vec![Value::binary(vec![0u8, 1, 255]), Value::from(3i64)]),
        );
        map.insert(
            "deep".into(),
            Value::Object([("inner".to_owned(), Value::binary(vec![7u8; 1000]))].into()),
        );
    }
    vec![
        Value::from("text"),
        Value::from(42i64),
        nested,
        Value::binary(b"top-level".to_vec()),
    ]
}

/// Echo with acks, binary, and a server-to-client ack, on `transports`.
fn exercise(url: &str, transports: Transports, expect_upgrade: bool) {
    let mut io = ClientBuilder::new(url)
        .unwrap()
        .transports(transports)
        .connect()
        .expect("connects");
    let sid = io.sid().expect("a sid").to_owned();
    // The server greets with our sid.
    let welcome = wait_for(&mut io, event_args("welcome"));
    assert_eq!(welcome[0].to_json()["sid"], json!(sid));
    // Acks client -> server, several arguments with nested binary.
    let answer = io.call("echo", rich_args(), WAIT).expect("echo acked");
    assert_eq!(answer, rich_args());
    // Acks server -> client: the server asks, we answer, it tells us what it got.
    io.emit("ask", vec!["what?".into()]).unwrap();
    let (id, question) = wait_for(&mut io, |e| match e {
        ClientEvent::Event {
            name,
            args,
            ack: Some(id),
            ..
        } if name == "question" => Some((*id, args.clone())),
        _ => None,
    });
    assert_eq!(question, vec![Value::from("what?")]);
    io.ack(
        id,
        vec![Value::from("because"), Value::binary(vec![1u8, 2])],
    )
    .unwrap();
    let answered = wait_for(&mut io, event_args("answered"));
    assert_eq!(answered, vec![Value::from("because")]);
    // An event nobody acks: the timeout fires, once.
    let started = Instant::now();
    assert_eq!(
        io.call("nobody-answers", vec![], Duration::from_millis(300)),
        Err(Error::Timeout)
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Many calls in a row, in order.
    for i in 0..50i64 {
        assert_eq!(
            io.call("echo", vec![i.into()], WAIT).unwrap(),
            vec![i.into()]
        );
    }
    let transport = io.transport();
    if expect_upgrade {
        assert_eq!(transport, Some("websocket"), "upgraded by now");
    } else {
        let want = match transports {
            Transports::PollingOnly => "polling",
            _ => "websocket",
        };
        assert_eq!(transport, Some(want));
    }
    io.close();
}

#[test]
fn polling_only() {
    let Some(server) = NodeServer::start(0, &[]) else {
        return;
    };
    exercise(&server.url(), Transports::PollingOnly, false);
}

#[test]
fn websocket_only() {
    let Some(server) = NodeServer::start(0, &[]) else {
        return;
    };
    exercise(&server.url(), Transports::WebSocketOnly, false);
}

#[test]
fn polling_then_upgrade() {
    let Some(server) = NodeServer::start(0, &[]) else {
        return;
    };
    exercise(&server.url(), Transports::PollingThenUpgrade, true);
}

#[test]
fn namespaces_share_one_session() {
    let Some(server) = NodeServer::start(0, &[]) else {
        return;
    };
    let mut io = ClientBuilder::new(&server.url())
        .unwrap()
        .namespace("/chat")
        .connect()
        .unwrap();
    assert_eq!(io.namespace(), "/chat");
    io.connect_namespace("/", None).unwrap();
    let root_sid = wait_for(&mut io, |e| match e {
        ClientEvent::Connect { nsp, sid, .. } if nsp == "/" => Some(sid.clone()),
        _ => None,
    });
    assert_ne!(
        Some(root_sid.as_str()),
        io.sid(),
        "one socket per namespace"
    );
    assert_eq!(
        io.call("echo", vec!["in chat".into()], WAIT).unwrap(),
        vec![Value::from("in chat")]
    );
    assert_eq!(
        io.call_in("/", "echo", vec!["in root".into()], WAIT)
            .unwrap(),
        vec![Value::from("in root")]
    );
    // Leaving one namespace leaves the other up.
    io.disconnect_namespace("/");
    assert!(!io.sans_io().is_connected("/"));
    assert_eq!(
        io.call("echo", vec![1i64.into()], WAIT).unwrap(),
        vec![1i64.into()]
    );
    // A room broadcast from another client reaches us in /chat.
    io.call("join", vec!["r".into()], WAIT).unwrap();
    // A WebSocket from the start: nobody pumps `other` after its emit, and
    // a polling client in the middle of its upgrade would hold the packet.
    let mut other = ClientBuilder::new(&server.url())
        .unwrap()
        .namespace("/chat")
        .transports(Transports::WebSocketOnly)
        .connect()
        .unwrap();
    other
        .emit("broadcast", vec!["r".into(), "to the room".into()])
        .unwrap();
    let got = wait_for(&mut io, event_args("broadcast"));
    assert_eq!(got, vec![Value::from("to the room")]);
}

#[test]
fn auth_and_a_middleware_connect_error() {
    let Some(server) = NodeServer::start(0, &[]) else {
        return;
    };
    let refused = ClientBuilder::new(&server.url())
        .unwrap()
        .namespace("/auth")
        .auth(Value::from(json!({"token": "bad"})))
        .connect()
        .unwrap_err();
    assert_eq!(
        refused,
        Error::Refused {
            message: "not authorized".into(),
            data: Some(Value::from(json!({"code": 42}))),
        }
    );
    let mut io = ClientBuilder::new(&server.url())
        .unwrap()
        .namespace("/auth")
        .auth(Value::from(json!({"token": "good"})))
        .connect()
        .unwrap();
    assert_eq!(
        io.call("echo", vec!["in".into()], WAIT).unwrap(),
        vec![Value::from("in")]
    );
    // The auth object reaches the server's handshake (the "/" greeting shows it).
    let mut root = ClientBuilder::new(&server.url())
        .unwrap()
        .auth(Value::from(json!({"user": "ann"})))
        .connect()
        .unwrap();
    let welcome = wait_for(&mut root, event_args("welcome"));
    assert_eq!(welcome[0].to_json()["auth"], json!({"user": "ann"}));
}

#[test]
fn a_server_disconnect_is_final() {
    let Some(server) = NodeServer::start(0, &[]) else {
        return;
    };
    let mut io = ClientBuilder::new(&server.url())
        .unwrap()
        .config(fast_reconnect())
        .transports(Transports::WebSocketOnly)
        .connect()
        .unwrap();
    io.emit("bye", vec![]).unwrap();
    let reason = wait_for(&mut io, |e| match e {
        ClientEvent::Disconnect { reason, .. } => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, DisconnectReason::IoServerDisconnect);
    // No reconnection of the namespace follows.
    while let Some(e) = io.next_event(Duration::from_millis(700)) {
        assert!(!matches!(e, ClientEvent::Connect { .. }), "{e:?}");
    }
    assert!(!io.is_connected());
}

/// A free loopback port (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn reconnects_after_a_restart(transports: Transports) {
    let port = free_port();
    let Some(server) = NodeServer::start(port, &[]) else {
        return;
    };
    let mut io = ClientBuilder::new(&server.url())
        .unwrap()
        .config(fast_reconnect())
        .transports(transports)
        .connect()
        .unwrap();
    let first_sid = io.sid().unwrap().to_owned();
    drop(server);
    let reason = wait_for(&mut io, |e| match e {
        ClientEvent::Disconnect { reason, .. } => Some(*reason),
        _ => None,
    });
    assert!(
        matches!(
            reason,
            DisconnectReason::TransportClose | DisconnectReason::TransportError
        ),
        "{reason:?}"
    );
    wait_for(&mut io, |e| {
        matches!(e, ClientEvent::Reconnecting { .. }).then_some(())
    });
    // Down for a while: a few attempts fail.
    std::thread::sleep(Duration::from_millis(600));
    let _server = NodeServer::start(port, &[]).unwrap();
    let (sid, recovered) = wait_for(&mut io, |e| match e {
        ClientEvent::Connect { sid, recovered, .. } => Some((sid.clone(), *recovered)),
        _ => None,
    });
    assert_ne!(sid, first_sid, "a new server, a new socket");
    assert!(!recovered);
    assert_eq!(
        io.call("echo", vec!["back".into()], WAIT).unwrap(),
        vec![Value::from("back")]
    );
}

#[test]
fn reconnection_after_a_server_restart_websocket() {
    reconnects_after_a_restart(Transports::WebSocketOnly);
}

#[test]
fn reconnection_after_a_server_restart_polling() {
    reconnects_after_a_restart(Transports::PollingOnly);
}

#[test]
fn connection_state_recovery() {
    let Some(server) = NodeServer::start(0, &["--recovery"]) else {
        return;
    };
    for transports in [Transports::WebSocketOnly, Transports::PollingThenUpgrade] {
        let mut io = ClientBuilder::new(&server.url())
            .unwrap()
            .config(fast_reconnect())
            .transports(transports)
            .connect()
            .unwrap();
        assert!(!io.recovered());
        let sid = io.sid().unwrap().to_owned();
        // An event with an offset (the server appends it).
        let welcome = wait_for(&mut io, event_args("welcome"));
        assert!(welcome.last().unwrap().as_str().is_some(), "{welcome:?}");
        // The server drops the transport; an io.emit happens while we are away.
        io.emit("drop", vec![]).unwrap();
        wait_for(&mut io, |e| match e {
            ClientEvent::Disconnect { reason, .. } => Some(*reason),
            _ => None,
        });
        let (new_sid, recovered) = wait_for(&mut io, |e| match e {
            ClientEvent::Connect { sid, recovered, .. } => Some((sid.clone(), *recovered)),
            _ => None,
        });
        assert!(recovered, "socket.recovered");
        assert!(io.recovered());
        assert_eq!(new_sid, sid, "the same socket id");
        // What was emitted while we were away is replayed.
        let missed = wait_for(&mut io, event_args("missed"));
        assert_eq!(missed[0], Value::from("while away"));
        io.close();
    }
}

#[test]
fn the_cli_prints_json_lines() {
    let Some(server) = NodeServer::start(0, &[]) else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_ch05-sio-client"))
        .args(["--url", &server.url(), "--namespace", "/chat"])
        .args([
            "--emit",
            "echo",
            r#"[1, {"b": {"$binary": "AAEC"}}]"#,
            "--ack",
        ])
        .args(["--emit", "join", r#""room""#])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "connect");
    assert_eq!(lines[0]["nsp"], "/chat");
    let ack = lines
        .iter()
        .find(|l| l["type"] == "ack")
        .expect("an ack line");
    assert_eq!(ack["args"], json!([1, {"b": {"$binary": "AAEC"}}]));
    // Refused: the connect_error line, and a failure exit.
    let out = Command::new(env!("CARGO_BIN_EXE_ch05-sio-client"))
        .args(["--url", &server.url(), "--namespace", "/auth"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(line["type"], "connect_error");
    assert_eq!(line["data"], json!({"code": 42}));
    // Listening: a broadcast to its room arrives as an event line.
    let mut listener = Command::new(env!("CARGO_BIN_EXE_ch05-sio-client"))
        .args(["--url", &server.url(), "--transport", "websocket"])
        .args(["--emit", "join", r#""news""#, "--listen", "--duration", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(listener.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.contains(r#""type":"connect""#), "{first}");
    std::thread::sleep(Duration::from_millis(300));
    let mut sender = ClientBuilder::new(&server.url())
        .unwrap()
        .transports(Transports::WebSocketOnly)
        .connect()
        .unwrap();
    sender
        .emit("broadcast", vec!["news".into(), "extra!".into()])
        .unwrap();
    let mut rest = String::new();
    let mut found = false;
    while reader.read_line(&mut rest).unwrap() > 0 {
        if rest.contains(r#""event":"broadcast""#) {
            found = rest.contains("extra!");
            break;
        }
        rest.clear();
    }
    let _ = listener.kill();
    let _ = listener.wait();
    assert!(found, "{rest}");
}
