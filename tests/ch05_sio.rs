//! Chapter 5 integration tests: Socket.IO v5 over real sockets on both
//! drivers. The real `ch05-sio-server` binary, spoken to in raw Engine.IO
//! (the project's blocking client) with Socket.IO packets on top, over
//! polling and WebSocket; and an in-process [`SocketIo`] for what needs
//! the server's counters or its handle: a broadcast encoded once for 50
//! clients, and emits from a plain thread.

mod common;

use common::{IO_TIMEOUT, Server, serve};
use netladder::engineio::Payload;
use netladder::engineio::blocking::BlockingClient;
use netladder::engineio::client::{ClientConfig, ClientEvent, Transports};
use netladder::socketio::glue::{DEFAULT_PATH, engine_config};
use netladder::socketio::{
    Config, Decoder, Handlers, Limits, Packet, PacketType, Server as SioServer, SioHandle,
    SocketId, SocketIo, Value,
};
use netladder::ws::DeflateConfig;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_ch05-sio-server");
const DRIVERS: [&str; 2] = ["threads", "mio"];
const TRANSPORTS: [Transports; 3] = [
    Transports::PollingOnly,
    Transports::WebSocketOnly,
    Transports::PollingThenUpgrade,
];

/// A raw Socket.IO client: Engine.IO underneath, packets encoded and
/// decoded by hand with the project's packet module.
struct Sio {
    eio: BlockingClient,
    decoder: Decoder,
}

impl Sio {
    fn connect(addr: SocketAddr, transports: Transports) -> Sio {
        let config = ClientConfig {
            path: DEFAULT_PATH.to_string(),
            transports,
            ..ClientConfig::default()
        };
        let mut eio = BlockingClient::connect(&addr.to_string(), config);
        match eio.next_event(IO_TIMEOUT) {
            Some(ClientEvent::Open(_)) => {}
            other => panic!("no Engine.IO open: {other:?}"),
        }
        Sio {
            eio,
            decoder: Decoder::new(Limits::default()),
        }
    }

    fn send(&mut self, packet: &Packet) {
        for payload in packet.encode().payloads() {
            self.eio.send(payload).expect("queued");
        }
    }

    /// The next Socket.IO packet (attachments put back in place).
    fn next(&mut self) -> Packet {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.eio.next_event(left) {
                Some(ClientEvent::Message(m)) => {
                    if let Some(p) = self.decoder.feed(m).expect("a valid packet") {
                        return p;
                    }
                }
                Some(ClientEvent::Upgraded) => {}
                other => panic!("expected a packet, got {other:?}"),
            }
        }
    }

    /// `CONNECT` to `nsp`; returns the socket id from the answer.
    fn join(&mut self, nsp: &str, auth: Option<Value>) -> String {
        self.send(&Packet::connect(nsp, auth));
        let answer = self.next();
        assert_eq!(answer.kind, PacketType::Connect, "{answer:?}");
        assert_eq!(answer.nsp, nsp);
        let data = answer.data.expect("CONNECT answer data").to_json();
        data["sid"].as_str().expect("a sid").to_string()
    }
}

fn nested_binary() -> Vec<Value> {
    vec![
        Value::from("text"),
        Value::from(serde_json::json!({"n": 1})),
        Value::Object(
            [
                ("bytes".to_string(), Value::binary(vec![0u8, 1, 2, 255])),
                (
                    "list".to_string(),
                    Value::Array(vec![Value::binary(b"more".to_vec()), Value::from(7u64)]),
                ),
            ]
            .into_iter()
            .collect(),
        ),
    ]
}

#[test]
fn echo_with_ack_text_and_binary_on_every_transport_and_driver() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        for transports in TRANSPORTS {
            let mut sio = Sio::connect(server.addr, transports);
            let sid = sio.join("/", None);
            assert!(!sid.is_empty());
            // The chapter's application greets every socket on `/` with
            // its handshake's auth (what the protocol suite expects).
            let auth = sio.next();
            assert_eq!(auth.kind, PacketType::Event, "{driver} {transports:?}");
            assert_eq!(
                auth.data.map(|d| d.to_json()),
                Some(serde_json::json!(["auth", {}]))
            );
            let args = vec![Value::from("hello"), Value::from(42u64)];
            sio.send(&Packet::event("/", "echo", args.clone(), Some(1)));
            let ack = sio.next();
            assert_eq!(ack.kind, PacketType::Ack, "{driver} {transports:?}");
            assert_eq!(ack.id, Some(1));
            assert_eq!(ack.data, Some(Value::Array(args)));
            let args = nested_binary();
            sio.send(&Packet::event("/", "echo", args.clone(), Some(2)));
            let ack = sio.next();
            assert_eq!(ack.kind, PacketType::BinaryAck, "{driver} {transports:?}");
            assert_eq!(ack.id, Some(2));
            assert_eq!(ack.data, Some(Value::Array(args)));
            sio.eio.close();
        }
    }
}

#[test]
fn the_wire_bytes_of_connect_and_an_acked_echo() {
    let server = Server::start(SERVER, &["--driver", "mio"]);
    let mut eio = BlockingClient::connect(
        &server.addr.to_string(),
        ClientConfig {
            path: DEFAULT_PATH.to_string(),
            transports: Transports::WebSocketOnly,
            ..ClientConfig::default()
        },
    );
    assert!(matches!(
        eio.next_event(IO_TIMEOUT),
        Some(ClientEvent::Open(_))
    ));
    let next_text = |eio: &mut BlockingClient| match eio.next_event(IO_TIMEOUT) {
        Some(ClientEvent::Message(Payload::Text(t))) => t,
        other => panic!("{other:?}"),
    };
    eio.send(Payload::Text("0".into())).unwrap();
    let connected = next_text(&mut eio);
    assert!(connected.starts_with(r#"0{"sid":""#), "{connected}");
    assert_eq!(next_text(&mut eio), r#"2["auth",{}]"#);
    eio.send(Payload::Text(r#"27["echo","hi",{"n":1}]"#.into()))
        .unwrap();
    assert_eq!(next_text(&mut eio), r#"37["hi",{"n":1}]"#);
    // An unknown namespace is refused with CONNECT_ERROR.
    eio.send(Payload::Text("0/nowhere,".into())).unwrap();
    assert_eq!(
        next_text(&mut eio),
        r#"4/nowhere,{"message":"Invalid namespace"}"#
    );
}

#[test]
fn middleware_refuses_without_a_token_and_accepts_with_one() {
    let server = Server::start(SERVER, &["--driver", "threads"]);
    let mut sio = Sio::connect(server.addr, Transports::WebSocketOnly);
    sio.send(&Packet::connect("/auth", None));
    let refused = sio.next();
    assert_eq!(refused.kind, PacketType::ConnectError);
    assert_eq!(
        refused.data.unwrap().to_json(),
        serde_json::json!({"message": "not authorized", "data": {"reason": "no token"}})
    );
    sio.join("/auth", Some(serde_json::json!({"token": "t0k"}).into()));
    sio.send(&Packet::event("/auth", "whoami", vec![], Some(5)));
    let ack = sio.next();
    assert_eq!(ack.data.unwrap().to_json(), serde_json::json!(["t0k"]));
}

/// A server whose `/` sockets join room `r` and report their id on a
/// channel; `echo` acks its arguments.
fn room_server(joined: mpsc::Sender<SocketId>) -> SocketIo {
    room_server_with(engine_config(), joined)
}

fn room_server_with(
    config: netladder::engineio::EngineIoConfig,
    joined: mpsc::Sender<SocketId>,
) -> SocketIo {
    let joined = Mutex::new(joined);
    SocketIo::start(config, SioServer::new(Config::default()), |_| {
        let mut handlers = Handlers::default();
        handlers.on_connect("/", move |io, socket, _| {
            io.join(socket, "r").unwrap();
            let _ = joined.lock().unwrap().send(socket.clone());
        });
        handlers.on("/", "echo", |io, ctx| {
            let args = ctx.args.0.clone();
            ctx.ack(io, args).unwrap();
        });
        handlers.on("/", "boom", |_, _| panic!("a handler bug"));
        handlers
    })
}

// ANCHOR: encoded_once
#[test]
fn a_broadcast_to_50_websockets_is_encoded_once_and_framed_once() {
    const N: usize = 50;
    // Both messages of the packet are over the 64-byte compression threshold.
    let args = vec![
        Value::from("news ".repeat(20)),
        Value::binary(b"tick ".repeat(20)),
    ];
    // Per server setting, the shared frames built and the compressions one
    // broadcast costs. (A connection that keeps its compression context
    // compresses for itself: `src/ws/shared_tests.rs` tests that, as the
    // project's client asks the server not to keep one.)
    let settings = [
        // No compression: one plain frame per message.
        ("deflate off", None, 2, 0),
        // The default, no context takeover: one compressed frame per
        // message, compressed once, shared by all 50.
        ("deflate", Some(DeflateConfig::default()), 2, 2),
    ];
    for driver in DRIVERS {
        for (name, ws_deflate, frames_built, compressions) in settings.clone() {
            let (joined_tx, joined) = mpsc::channel();
            let compressing = ws_deflate.is_some();
            let config = netladder::engineio::EngineIoConfig {
                ws_deflate,
                ..engine_config()
            };
            let io = room_server_with(config, joined_tx);
            let (addr, shutdown) = serve(io.engine(), driver);
            let mut clients: Vec<Sio> = (0..N)
                .map(|_| {
                    let mut c = Sio::connect(addr, Transports::WebSocketOnly);
                    c.join("/", None);
                    // The project's client offers permessage-deflate.
                    let agreed = c.eio.ws_deflate().map(|p| p.server_no_context_takeover);
                    assert_eq!(agreed, compressing.then_some(true), "{driver} {name}");
                    c
                })
                .collect();
            for _ in 0..N {
                joined.recv_timeout(IO_TIMEOUT).unwrap();
            }
            let handle = io.handle();
            let engine = handle.engine();
            let before = (
                handle.encode_count().unwrap(),
                engine.shared_frames_built(),
                engine.shared_compressions(),
            );
            let reached = handle.emit_to("/", "r", "tick", args.clone()).unwrap();
            assert_eq!(reached, N);
            for c in &mut clients {
                let p = c.next();
                assert_eq!(
                    p.event_parts(),
                    Some(("tick", &args[..])),
                    "{driver} {name}"
                );
            }
            // One encoding of the packet, whatever the number of recipients;
            // frames and compressions as the setting says.
            let after = (
                handle.encode_count().unwrap(),
                engine.shared_frames_built(),
                engine.shared_compressions(),
            );
            assert_eq!(after.0 - before.0, 1, "{driver} {name}: encodes");
            assert_eq!(
                after.2 - before.2,
                compressions,
                "{driver} {name}: compressions"
            );
            assert_eq!(after.1 - before.1, frames_built, "{driver} {name}: frames");
            io.shutdown();
            shutdown.shutdown();
        }
    }
}
// ANCHOR_END: encoded_once

// ANCHOR: any_thread
#[test]
fn a_plain_thread_emits_to_a_room_through_the_handle() {
    for driver in DRIVERS {
        let (joined_tx, joined) = mpsc::channel();
        let io = room_server(joined_tx);
        let (addr, shutdown) = serve(io.engine(), driver);
        let mut polling = Sio::connect(addr, Transports::PollingOnly);
        polling.join("/", None);
        let mut ws = Sio::connect(addr, Transports::WebSocketOnly);
        ws.join("/", None);
        let ids = [
            joined.recv_timeout(IO_TIMEOUT).unwrap(),
            joined.recv_timeout(IO_TIMEOUT).unwrap(),
        ];
        let handle: SioHandle = io.handle();
        let worker = thread::spawn(move || {
            for i in 0..3u64 {
                handle
                    .emit_to("/", "r", "tick", vec![Value::from(i)])
                    .unwrap();
            }
            // One socket only, by id (every socket is in its own room).
            handle.emit(&ids[0], "only", vec![]).unwrap();
            handle.leave(&ids[1], "r").unwrap();
            handle.emit_to("/", "r", "after", vec![]).unwrap()
        });
        let reached_after_leave = worker.join().unwrap();
        assert_eq!(reached_after_leave, 1);
        for c in [&mut polling, &mut ws] {
            for i in 0..3u64 {
                let p = c.next();
                assert_eq!(
                    p.event_parts(),
                    Some(("tick", &[Value::from(i)][..])),
                    "{driver}"
                );
            }
        }
        assert_eq!(polling.next().event_parts().map(|e| e.0), Some("only"));
        assert_eq!(polling.next().event_parts().map(|e| e.0), Some("after"));
        // The one that left hears nothing more: its next packet is the
        // answer to a later echo.
        ws.send(&Packet::event("/", "ping", vec![], None));
        ws.send(&Packet::event("/", "echo", vec![], Some(9)));
        assert_eq!(ws.next().kind, PacketType::Ack, "{driver}");
        io.shutdown();
        shutdown.shutdown();
    }
}
// ANCHOR_END: any_thread

#[test]
fn an_ack_awaited_from_another_thread_arrives_or_times_out() {
    let (joined_tx, joined) = mpsc::channel();
    let io = room_server(joined_tx);
    let (addr, shutdown) = serve(io.engine(), "mio");
    let mut c = Sio::connect(addr, Transports::WebSocketOnly);
    c.join("/", None);
    let id = joined.recv_timeout(IO_TIMEOUT).unwrap();
    let handle = io.handle();
    let (tx, answers) = mpsc::channel();
    for (name, timeout) in [
        ("answer-me", IO_TIMEOUT),
        ("ignore-me", Duration::from_millis(200)),
    ] {
        let tx = tx.clone();
        handle
            .emit_with_ack(&id, name, vec![], timeout, move |_, result| {
                tx.send((name, result.map(|a| a.0))).unwrap();
            })
            .unwrap();
    }
    let first = c.next();
    assert_eq!(first.event_parts().map(|e| e.0), Some("answer-me"));
    let second = c.next();
    assert_eq!(second.event_parts().map(|e| e.0), Some("ignore-me"));
    c.send(&Packet::ack(
        "/",
        first.id.unwrap(),
        vec![Value::from("yes")],
    ));
    let mut got = vec![
        answers.recv_timeout(IO_TIMEOUT).unwrap(),
        answers.recv_timeout(IO_TIMEOUT).unwrap(),
    ];
    got.sort_by_key(|g| g.0);
    assert_eq!(got[0], ("answer-me", Ok(vec![Value::from("yes")])));
    assert!(got[1].1.is_err(), "{got:?}");
    // Inside a handler the handle refuses rather than deadlock.
    let refused = Arc::new(Mutex::new(None));
    let r = Arc::clone(&refused);
    let h2 = handle.clone();
    handle.defer(move |_, _, _| {
        *r.lock().unwrap() = Some(h2.with(|_| ()).is_err());
    });
    assert_eq!(*refused.lock().unwrap(), Some(true));
    io.shutdown();
    shutdown.shutdown();
}

#[test]
fn a_panicking_handler_loses_its_event_not_the_server() {
    let (joined_tx, joined) = mpsc::channel();
    let io = room_server(joined_tx);
    let (addr, shutdown) = serve(io.engine(), "threads");
    let mut c = Sio::connect(addr, Transports::WebSocketOnly);
    c.join("/", None);
    joined.recv_timeout(IO_TIMEOUT).unwrap();
    c.send(&Packet::event("/", "boom", vec![], None));
    c.send(&Packet::event(
        "/",
        "echo",
        vec![Value::from("still here")],
        Some(3),
    ));
    let ack = c.next();
    assert_eq!((ack.kind, ack.id), (PacketType::Ack, Some(3)));
    assert_eq!(
        ack.data,
        Some(Value::Array(vec![Value::from("still here")]))
    );
    io.shutdown();
    shutdown.shutdown();
}
