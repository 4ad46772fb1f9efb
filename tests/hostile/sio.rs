//! Socket.IO (`netladder::socketio::Server`) on Engine.IO on both drivers,
//! against hostile packets. Each case names the exact answer the client
//! sees (a `CONNECT_ERROR`, an ack, or the close packet and the
//! WebSocket's close) and why the server closed it (the `CloseWhy` and the
//! socket's `DisconnectReason`), while a healthy socket beside it keeps
//! getting its events echoed within a second.
//!
//! The server is the sans-IO `socketio::Server` behind a small glue of its
//! own here (one thread: Engine.IO's events in, `poll_transmit` out, its
//! timers), with the application the cases need: `echo` emits its
//! arguments back, `ack` answers them, `join` joins the rooms it is given
//! and answers how many it joined and the first refusal.

use crate::harness::*;
use netladder::engineio::{EioEvent, EngineIo, EngineIoConfig, SessionConfig, Sid};
use netladder::http::Response;
use netladder::socketio::{
    self, ClientId, CloseWhy, Config, DisconnectReason, Environ, Handlers, PacketError, Transmit,
    Value,
};
use std::collections::HashMap;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A client must CONNECT within this (Node: 45 s).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Engine.IO's `maxPayload`: over a MiB, so that a 1 MiB room name
/// reaches Socket.IO (at Node's default of 1,000,000 bytes Engine.IO
/// refuses the message first, with 1009).
const MAX_PAYLOAD: usize = 2_000_000;

/// What the server did about one client.
#[derive(Debug, PartialEq)]
enum Heard {
    /// It closed the client's session.
    Closed(String, CloseWhy),
    /// A socket of the client left its namespace.
    Left(String, DisconnectReason),
}

struct SioServer {
    server: Server,
    engine: EngineIo,
    heard: Receiver<Heard>,
    stop: Arc<AtomicBool>,
}

impl Drop for SioServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.engine.shutdown();
    }
}

impl SioServer {
    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The next thing the server did about session `sid` (within 1 s).
    fn next_about(&self, sid: &str) -> Heard {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.heard.recv_timeout(left) {
                Ok(heard @ (Heard::Closed(..) | Heard::Left(..))) if about(&heard) == sid => {
                    return heard;
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("nothing about {sid} within 1 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("the glue stopped"),
            }
        }
    }

    /// The server closed session `sid` for `why`, its socket (if it had
    /// one) leaving with `reason`.
    fn closed_for(&self, sid: &str, why: CloseWhy, reason: DisconnectReason) {
        assert_eq!(self.next_about(sid), Heard::Left(sid.into(), reason));
        assert_eq!(self.next_about(sid), Heard::Closed(sid.into(), why));
    }
}

fn about(heard: &Heard) -> &str {
    match heard {
        Heard::Closed(sid, _) | Heard::Left(sid, _) => sid,
    }
}

/// Socket ids to the sessions they live on, for the reports.
type Sockets = Arc<Mutex<HashMap<String, String>>>;

/// The cases' application. `current` is the session whose message is
/// being handled (a CONNECT's socket belongs to it).
fn handlers(heard: Sender<Heard>, sockets: Sockets, current: Arc<Mutex<String>>) -> Handlers {
    let mut handlers = Handlers::default();
    let known = Arc::clone(&sockets);
    handlers
        .on_connect("/", move |_io, socket, _auth| {
            let sid = current.lock().unwrap().clone();
            known
                .lock()
                .unwrap()
                .insert(socket.as_str().to_string(), sid);
        })
        .on("/", "echo", |io, ctx| {
            let _ = io.emit(&ctx.socket, "echo", ctx.args.0.clone());
        })
        .on("/", "ack", |io, ctx| {
            let args = ctx.args.0.clone();
            let _ = ctx.ack(io, args);
        })
        .on("/", "join", |io, ctx| {
            let rooms: Vec<String> = match ctx.args.get::<Vec<String>>(0) {
                Ok(rooms) => rooms,
                Err(_) => ctx.args.get::<String>(0).into_iter().collect(),
            };
            let mut joined = 0u64;
            let mut refused = Value::Null;
            for room in &rooms {
                match io.join(&ctx.socket, room) {
                    Ok(()) => joined += 1,
                    Err(e) => {
                        refused = Value::from(e.to_string());
                        break;
                    }
                }
            }
            let _ = ctx.ack(io, vec![Value::from(joined), refused]);
        })
        .on_disconnect("/", move |_io, socket, reason| {
            let sid = sockets.lock().unwrap().remove(socket.as_str());
            if let Some(sid) = sid {
                let _ = heard.send(Heard::Left(sid, reason));
            }
        });
    handlers
}

/// The glue: Engine.IO's events in, Socket.IO's transmits out.
fn run(engine: EngineIo, events: Receiver<EioEvent>, heard: Sender<Heard>, stop: Arc<AtomicBool>) {
    let mut io = socketio::Server::new(Config {
        connect_timeout: CONNECT_TIMEOUT,
        ..Config::default()
    });
    let current = Arc::new(Mutex::new(String::new()));
    let mut handlers = handlers(heard.clone(), Sockets::default(), Arc::clone(&current));
    let mut clients: HashMap<Sid, ClientId> = HashMap::new();
    let mut sids: HashMap<ClientId, Sid> = HashMap::new();
    let mut next = 0;
    while !stop.load(Ordering::Acquire) {
        let wait = io
            .poll_timeout()
            .map_or(Duration::from_millis(100), |at| {
                at.saturating_duration_since(Instant::now())
            })
            .min(Duration::from_millis(100));
        let event = match events.recv_timeout(wait) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let now = Instant::now();
        match event {
            Some(EioEvent::Open(sid)) => {
                next += 1;
                let client = ClientId(next);
                clients.insert(sid.clone(), client);
                sids.insert(client, sid);
                io.on_open(client, Environ::default(), now);
            }
            Some(EioEvent::Message(sid, message)) => {
                sid.as_str().clone_into(&mut current.lock().unwrap());
                if let Some(&client) = clients.get(&sid) {
                    io.on_message(client, message, now);
                }
            }
            Some(EioEvent::Close(sid, reason)) => {
                if let Some(client) = clients.remove(&sid) {
                    sids.remove(&client);
                    io.on_close(client, reason.into(), now);
                }
            }
            Some(EioEvent::Upgraded(_)) | None => {}
        }
        if io.poll_timeout().is_some_and(|at| at <= now) {
            io.handle_timeout(now);
        }
        handlers.dispatch(&mut io, now);
        while let Some(transmit) = io.poll_transmit() {
            match transmit {
                Transmit::Send { client, packet, .. } => {
                    if let Some(sid) = sids.get(&client) {
                        for message in packet.payloads() {
                            let _ = engine.send(sid, message);
                        }
                    }
                }
                Transmit::Close { client, why } => {
                    if let Some(sid) = sids.get(&client) {
                        let _ = heard.send(Heard::Closed(sid.as_str().to_string(), why));
                        engine.close(sid);
                    }
                }
            }
        }
    }
}

fn start_sio(driver: Driver) -> SioServer {
    let (engine, events) = EngineIo::new(EngineIoConfig {
        session: SessionConfig {
            max_payload: MAX_PAYLOAD,
            ..SessionConfig::default()
        },
        ..EngineIoConfig::default()
    });
    let (heard_tx, heard) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (engine, stop) = (engine.clone(), Arc::clone(&stop));
        thread::spawn(move || run(engine, events, heard_tx, stop));
    }
    let factory = engine.factory(|_request| Response::new(404).text("not found\n"));
    SioServer {
        server: start(driver, factory),
        engine,
        heard,
        stop,
    }
}

/// Runs `attack` on both drivers, with a healthy socket beside it.
fn sio_case(name: &str, attack: impl Fn(&SioServer)) {
    for driver in DRIVERS {
        let server = start_sio(driver);
        let healthy = Healthy::start(Kind::Sio, server.addr());
        attack(&server);
        healthy.finish(&format!("{name} on {driver:?}"));
    }
}

/// A Socket.IO packet's text message, in an Engine.IO message (`4`).
fn text(stream: &mut TcpStream, packet: &str) {
    send(stream, &frame(FIN | TEXT, format!("4{packet}").as_bytes()));
}

/// A binary message: Engine.IO over a WebSocket sends it as is.
fn binary(stream: &mut TcpStream, message: &[u8]) {
    send(stream, &frame(FIN | BINARY, message));
}

/// The client's Engine.IO session id, from its open packet.
fn session(server: &SioServer) -> (TcpStream, String) {
    let (stream, open) = eio_ws_open(server.addr());
    (stream, open["sid"].as_str().unwrap().to_string())
}

/// A socket on `/`: the stream and its Engine.IO sid.
fn connected(server: &SioServer) -> (TcpStream, String) {
    let (mut stream, sid) = session(server);
    text(&mut stream, "0");
    let answer = eio_ws_next_text(&mut stream).unwrap();
    assert!(answer.starts_with(r#"40{"sid":""#), "{answer}");
    (stream, sid)
}

/// What a closed client sees: Engine.IO's close packet `1`, then the
/// WebSocket's normal close; the client answers it, the server hangs up.
fn sees_close(stream: &mut TcpStream) {
    assert_eq!(eio_ws_next_text(stream).unwrap(), "1");
    let (b0, payload) = read_frame(stream).expect("a close frame");
    assert_eq!((b0, payload.get(..2)), (FIN | CLOSE, Some(&[3, 232][..])));
    send(stream, &frame(FIN | CLOSE, &payload[..2]));
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "bytes after the close: {rest:?}");
}

/// `messages` (text, or binary when they start with `\0`) from a socket
/// on `/` close its client with `error`.
fn malformed(server: &SioServer, messages: &[&[u8]], error: PacketError) {
    let (mut stream, sid) = connected(server);
    for message in messages {
        match message.strip_prefix(b"\0") {
            Some(bytes) => binary(&mut stream, bytes),
            None => text(&mut stream, std::str::from_utf8(message).unwrap()),
        }
    }
    sees_close(&mut stream);
    server.closed_for(
        &sid,
        CloseWhy::Malformed(error),
        DisconnectReason::ParseError,
    );
}

/// A placeholder for attachment `num`.
fn placeholder(num: usize) -> String {
    format!(r#"{{"_placeholder":true,"num":{num}}}"#)
}

#[test]
fn eleven_attachments_close_the_client() {
    sio_case("sio-11-attachments", |server| {
        let places: Vec<String> = (0..11).map(placeholder).collect();
        let header = format!(r#"511-["up",{}]"#, places.join(","));
        let mut messages: Vec<Vec<u8>> = vec![header.into_bytes()];
        messages.extend((0..11u8).map(|n| vec![0, n]));
        let messages: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        malformed(
            server,
            &messages,
            PacketError::TooManyAttachments { count: 11, max: 10 },
        );
        // A count past 2^64 is refused from its digits, saturated.
        malformed(
            server,
            &[br#"599999999999999999999999-["up"]"#],
            PacketError::TooManyAttachments {
                count: u64::MAX,
                max: 10,
            },
        );
    });
}

#[test]
fn an_attachment_count_that_lies_closes_the_client() {
    sio_case("sio-attachments-lie", |server| {
        let two = format!(r#"52-["up",{},{}]"#, placeholder(0), placeholder(1));
        // Fewer than announced: the next text comes while one is missing.
        malformed(
            server,
            &[two.as_bytes(), b"\0\x01", br#"2["echo","x"]"#],
            PacketError::UnexpectedText { missing: 1 },
        );
        // More than announced: the packet is whole, the extra is not
        // part of anything.
        let one = format!(r#"51-["up",{}]"#, placeholder(0));
        malformed(
            server,
            &[one.as_bytes(), b"\0\x01", b"\0\x02"],
            PacketError::UnexpectedBinary,
        );
        // Announced two, with one placeholder: attachment 1 is unused.
        let unused = format!(r#"52-["up",{}]"#, placeholder(0));
        malformed(
            server,
            &[unused.as_bytes(), b"\0\x01", b"\0\x02"],
            PacketError::UnusedAttachment { num: 1, count: 2 },
        );
        // A placeholder past the count.
        let past = format!(r#"51-["up",{}]"#, placeholder(7));
        malformed(
            server,
            &[past.as_bytes(), b"\0\x01"],
            PacketError::BadPlaceholder { count: 1 },
        );
    });
}

#[test]
fn a_namespace_that_does_not_exist_gets_connect_error() {
    sio_case("sio-unknown-namespace", |server| {
        let (mut stream, _sid) = session(server);
        text(&mut stream, "0/nope,");
        assert_eq!(
            eio_ws_next_text(&mut stream).unwrap(),
            r#"44/nope,{"message":"Invalid namespace"}"#
        );
        // The client stays, and may still connect where it can.
        text(&mut stream, "0");
        let answer = eio_ws_next_text(&mut stream).unwrap();
        assert!(answer.starts_with(r#"40{"sid":""#), "{answer}");
        text(&mut stream, r#"2["echo","still here"]"#);
        assert_eq!(
            eio_ws_next_text(&mut stream).unwrap(),
            r#"42["echo","still here"]"#
        );
    });
}

#[test]
fn a_connect_never_sent_times_out() {
    sio_case("sio-no-connect", |server| {
        let (mut stream, sid) = session(server);
        let began = Instant::now();
        sees_close(&mut stream);
        let took = began.elapsed();
        assert!(
            took >= CONNECT_TIMEOUT - Duration::from_millis(50),
            "{took:?}"
        );
        assert_eq!(
            server.next_about(&sid),
            Heard::Closed(sid.clone(), CloseWhy::ConnectTimeout)
        );
    });
}

#[test]
fn an_ack_id_of_2_to_the_64_closes_the_client() {
    sio_case("sio-ack-id-2^64", |server| {
        // 2^64 - 1 is an ack id like any other.
        let (mut stream, _sid) = connected(server);
        text(&mut stream, r#"218446744073709551615["ack","x"]"#);
        assert_eq!(
            eio_ws_next_text(&mut stream).unwrap(),
            r#"4318446744073709551615["x"]"#
        );
        malformed(
            server,
            &[br#"218446744073709551616["ack","x"]"#],
            PacketError::AckIdTooLarge,
        );
    });
}

#[test]
fn a_room_name_of_1_mib_is_refused_and_the_socket_stays() {
    sio_case("sio-room-1mib", |server| {
        let (mut stream, _sid) = connected(server);
        let room = "r".repeat(1 << 20);
        text(&mut stream, &format!(r#"21["join","{room}"]"#));
        assert_eq!(
            eio_ws_next_text(&mut stream).unwrap(),
            r#"431[0,"room name of 1048576 bytes, longer than 1024"]"#
        );
        text(&mut stream, r#"22["join","lobby"]"#);
        assert_eq!(eio_ws_next_text(&mut stream).unwrap(), "432[1,null]");
    });
}

#[test]
fn joining_100_000_rooms_stops_at_the_cap() {
    sio_case("sio-100k-rooms", |server| {
        let (mut stream, _sid) = connected(server);
        let rooms: Vec<String> = (0..100_000).map(|n| format!("room{n}")).collect();
        let message = format!("21{}", serde_json::json!(["join", rooms]));
        text(&mut stream, &message);
        // The socket's own room counts: 999 more fit in 1,000.
        assert_eq!(
            eio_ws_next_text(&mut stream).unwrap(),
            r#"431[999,"already in 1000 rooms"]"#
        );
        // One by one, too.
        for n in 0..1000 {
            text(&mut stream, &format!(r#"2{}["join","more{n}"]"#, n + 2));
        }
        for n in 0..1000 {
            assert_eq!(
                eio_ws_next_text(&mut stream).unwrap(),
                format!(r#"43{}[0,"already in 1000 rooms"]"#, n + 2)
            );
        }
    });
}

#[test]
fn malformed_packets_close_only_their_client() {
    sio_case("sio-malformed", |server| {
        malformed(server, &[b"7"], PacketError::UnknownType('7'));
        malformed(server, &[b""], PacketError::Empty);
        malformed(server, &[b"\0\x01\x02"], PacketError::UnexpectedBinary);
        malformed(server, &[b"5x-[\"up\"]"], PacketError::BadAttachmentCount);
        malformed(
            server,
            &[br#"2{"not":"an array"}"#],
            PacketError::BadData(socketio::PacketType::Event, "needs an array"),
        );
        malformed(
            server,
            &[b"2[1]"],
            PacketError::BadData(socketio::PacketType::Event, "an event starts with its name"),
        );
        malformed(
            server,
            &[br#"2["connect"]"#],
            PacketError::ReservedEvent("connect".into()),
        );
        malformed(
            server,
            &[br#"3["no id"]"#],
            PacketError::BadAckId(socketio::PacketType::Ack),
        );
    });
}

#[test]
fn bad_json_closes_the_client() {
    sio_case("sio-bad-json", |server| {
        for bad in [&br#"2["unterminated"#[..], b"2[1,2", b"0{\"token\":}"] {
            let (mut stream, sid) = connected(server);
            text(&mut stream, std::str::from_utf8(bad).unwrap());
            sees_close(&mut stream);
            let left = server.next_about(&sid);
            assert_eq!(left, Heard::Left(sid.clone(), DisconnectReason::ParseError));
            match server.next_about(&sid) {
                Heard::Closed(_, CloseWhy::Malformed(PacketError::Json(_))) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    });
}
