//! Chapter 5's Socket.IO server (`socketio::glue::SocketIo` over Engine.IO,
//! on both drivers) against hostile packets. Each case names the exact
//! answer the client sees (a `CONNECT_ERROR`, an ack, or Engine.IO's close
//! packet and the WebSocket's close) and the socket's `DisconnectReason`,
//! while a healthy socket beside it keeps getting its events echoed within
//! a second. Where the server closes a client for a malformed packet, the
//! same messages are also fed to the sans-IO `socketio::Server`, to check
//! the exact `PacketError` it closed for (the glue only logs it).
//!
//! The application is the chapter's own (`chapters/ch05/sio_app.rs`:
//! `echo` emits its arguments back, or acks them when asked) plus one
//! test-only event, `join`, which joins the rooms it is given and answers
//! how many it joined and the first refusal (the chapter's server has no
//! room events).

use crate::harness::*;
use netladder::engineio::{Payload, SessionConfig};
use netladder::http::Response;
use netladder::socketio::glue::engine_config;
use netladder::socketio::{
    self, ClientId, CloseWhy, Config, DisconnectReason, Environ, Handlers, PacketError, SocketIo,
    Transmit, Value,
};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

#[path = "../../chapters/ch05/sio_app.rs"]
mod sio_app;

/// A client must CONNECT within this (Node: 45 s).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Engine.IO's `maxPayload`: over a MiB, so that a 1 MiB room name
/// reaches Socket.IO (at Node's default of 1,000,000 bytes Engine.IO
/// refuses the message first, with 1009).
const MAX_PAYLOAD: usize = 2_000_000;

fn config() -> Config {
    Config {
        connect_timeout: CONNECT_TIMEOUT,
        ..Config::default()
    }
}

struct SioServer {
    server: Server,
    io: SocketIo,
    /// Sockets that left `/`, and why.
    left: Receiver<(String, DisconnectReason)>,
}

impl Drop for SioServer {
    fn drop(&mut self) {
        self.io.shutdown();
    }
}

impl SioServer {
    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Socket `id` left its namespace (within a second), and why.
    fn left(&self, id: &str) -> DisconnectReason {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.left.recv_timeout(wait) {
                Ok((socket, reason)) if socket == id => return reason,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("socket {id} still there after 1 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("the server stopped"),
            }
        }
    }
}

fn start_sio(driver: Driver) -> SioServer {
    let mut engine = engine_config();
    engine.session = SessionConfig {
        max_payload: MAX_PAYLOAD,
        ..SessionConfig::default()
    };
    let mut server = socketio::Server::new(config());
    sio_app::setup(&mut server);
    let (gone, left) = channel();
    let io = SocketIo::start(engine, server, |handle| {
        let mut handlers = Handlers::default();
        sio_app::handlers(&mut handlers, handle);
        handlers
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
                let _ = gone.send((socket.as_str().to_string(), reason));
            });
        handlers
    });
    let factory = io.factory(|_request| Response::new(404).text("not found\n"));
    SioServer {
        server: start(driver, factory),
        io,
        left,
    }
}

/// What the sans-IO server does with `messages` from a client connected
/// to `/`: the reason it closes the client for, if it does.
fn sans_io_close(messages: &[&[u8]]) -> Option<CloseWhy> {
    let mut io = socketio::Server::new(config());
    let (client, now) = (ClientId(1), Instant::now());
    io.on_open(client, Environ::default(), now);
    io.on_message(client, Payload::Text("0".into()), now);
    for message in messages {
        let payload = match message.strip_prefix(b"\0") {
            Some(bytes) => Payload::Binary(bytes.to_vec()),
            None => Payload::Text(String::from_utf8(message.to_vec()).unwrap()),
        };
        io.on_message(client, payload, now);
    }
    std::iter::from_fn(|| io.poll_transmit()).find_map(|t| match t {
        Transmit::Close { why, .. } => Some(why),
        Transmit::Send { .. } => None,
    })
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

/// An Engine.IO session at `/socket.io/`, on a WebSocket.
fn session(server: &SioServer) -> TcpStream {
    eio_ws_open_at(server.addr(), "/socket.io/").0
}

/// A socket on `/`: the stream and the socket's id.
fn connected(server: &SioServer) -> (TcpStream, String) {
    sio_open(server.addr())
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
    assert_eq!(
        sans_io_close(messages),
        Some(CloseWhy::Malformed(error)),
        "{messages:?}"
    );
    let (mut stream, socket) = connected(server);
    for message in messages {
        match message.strip_prefix(b"\0") {
            Some(bytes) => binary(&mut stream, bytes),
            None => text(&mut stream, std::str::from_utf8(message).unwrap()),
        }
    }
    sees_close(&mut stream);
    assert_eq!(server.left(&socket), DisconnectReason::ParseError);
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
        let mut stream = session(server);
        text(&mut stream, "0/nope,");
        assert_eq!(
            eio_ws_next_text(&mut stream).unwrap(),
            r#"44/nope,{"message":"Invalid namespace"}"#
        );
        // The client stays, and may still connect where it can.
        text(&mut stream, "0");
        let answer = eio_ws_next_text(&mut stream).unwrap();
        assert!(answer.starts_with(r#"40{"sid":""#), "{answer}");
        assert_eq!(eio_ws_next_text(&mut stream).unwrap(), r#"42["auth",{}]"#);
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
        let mut stream = session(server);
        let began = Instant::now();
        sees_close(&mut stream);
        let took = began.elapsed();
        assert!(
            took >= CONNECT_TIMEOUT - Duration::from_millis(50),
            "{took:?}"
        );
    });
}

#[test]
fn an_ack_id_of_2_to_the_64_closes_the_client() {
    sio_case("sio-ack-id-2^64", |server| {
        // 2^64 - 1 is an ack id like any other.
        let (mut stream, _socket) = connected(server);
        text(&mut stream, r#"218446744073709551615["echo","x"]"#);
        assert_eq!(
            eio_ws_next_text(&mut stream).unwrap(),
            r#"4318446744073709551615["x"]"#
        );
        malformed(
            server,
            &[br#"218446744073709551616["echo","x"]"#],
            PacketError::AckIdTooLarge,
        );
    });
}

#[test]
fn a_room_name_of_1_mib_is_refused_and_the_socket_stays() {
    sio_case("sio-room-1mib", |server| {
        let (mut stream, _socket) = connected(server);
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
        let (mut stream, _socket) = connected(server);
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
            match sans_io_close(&[bad]) {
                Some(CloseWhy::Malformed(PacketError::Json(_))) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
            let (mut stream, socket) = connected(server);
            text(&mut stream, std::str::from_utf8(bad).unwrap());
            sees_close(&mut stream);
            assert_eq!(server.left(&socket), DisconnectReason::ParseError);
        }
    });
}

#[test]
fn attachments_over_the_byte_cap_close_the_client() {
    sio_case("sio-attachments-1mb", |server| {
        // Two attachments of 600,000 bytes: each fits in Engine.IO's
        // maxPayload, together they pass Socket.IO's 1,000,000.
        let two = format!(r#"52-["up",{},{}]"#, placeholder(0), placeholder(1));
        let mut big = vec![7u8; 600_001];
        big[0] = 0; // the \0 that marks a binary message here
        malformed(
            server,
            &[two.as_bytes(), &big, &big],
            PacketError::AttachmentsTooLarge { max: 1_000_000 },
        );
    });
}
