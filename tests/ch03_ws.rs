//! Chapter 3 integration tests: the real `ch03-ws-server` binary on both
//! drivers, against `tungstenite` (a peer implementation) and our own client;
//! our client against a `tungstenite` server; handshake refusals; limits.

mod common;

use common::{IO_TIMEOUT, Server};
use netladder::ws::client;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

const SERVER: &str = env!("CARGO_BIN_EXE_ch03-ws-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_ch03-ws-client");
const DRIVERS: [&str; 2] = ["threads", "mio"];

type Peer = WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

fn tungstenite_client(server: &Server, path: &str) -> Peer {
    let (ws, response) = tungstenite::connect(format!("ws://{}{path}", server.addr)).unwrap();
    assert_eq!(response.status(), 101);
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = ws.get_ref() {
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    }
    ws
}

/// The next data message, skipping pongs.
fn next_data(ws: &mut Peer) -> Message {
    loop {
        match ws.read().unwrap() {
            Message::Pong(_) | Message::Ping(_) => continue,
            message => return message,
        }
    }
}

#[test]
fn tungstenite_client_gets_every_kind_of_echo() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let mut ws = tungstenite_client(&server, "/echo");
        let big = "ü".repeat(500_000); // 1 MB of two-byte characters
        let messages = [
            Message::text("hello"),
            Message::text(""),
            Message::binary(vec![0u8, 1, 2, 255]),
            Message::text(big.clone()),
        ];
        for message in messages {
            ws.send(message.clone()).unwrap();
            assert_eq!(next_data(&mut ws), message, "{driver}");
        }
        ws.send(Message::Ping(b"are you there".to_vec().into()))
            .unwrap();
        match ws.read().unwrap() {
            Message::Pong(payload) => assert_eq!(&payload[..], b"are you there"),
            other => panic!("{driver}: expected a pong, got {other:?}"),
        }
        ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .unwrap();
        match ws.read() {
            Ok(Message::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::Normal, "{driver}")
            }
            other => panic!("{driver}: expected the close echoed, got {other:?}"),
        }
    }
}

#[test]
fn chat_broadcasts_to_every_member() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let mut alice = tungstenite_client(&server, "/chat");
        let mut bob = tungstenite_client(&server, "/chat");
        let mut echo_only = tungstenite_client(&server, "/echo");
        // Bob joined after Alice: make sure both are in the room first.
        bob.send(Message::text("bob here")).unwrap();
        assert_eq!(next_data(&mut alice), Message::text("bob here"), "{driver}");
        assert_eq!(next_data(&mut bob), Message::text("bob here"), "{driver}");
        alice.send(Message::text("hi all")).unwrap();
        assert_eq!(next_data(&mut bob), Message::text("hi all"), "{driver}");
        assert_eq!(next_data(&mut alice), Message::text("hi all"), "{driver}");
        // The echo path is not in the room.
        echo_only.send(Message::text("just me")).unwrap();
        assert_eq!(next_data(&mut echo_only), Message::text("just me"));
    }
}

#[test]
fn our_client_against_our_server_and_the_client_binary() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let mut ws = client::connect(
            &format!("ws://{}/echo", server.addr),
            &[],
            Default::default(),
        )
        .unwrap();
        ws.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        ws.send_text("round trip").unwrap();
        assert_eq!(
            ws.recv().unwrap(),
            Some(netladder::ws::WsMessage::Text("round trip".into()))
        );
        ws.close(1000, "done").unwrap();
        assert!(matches!(
            ws.recv().unwrap(),
            Some(netladder::ws::WsMessage::Close(1000, _))
        ));
        assert_eq!(ws.recv().unwrap(), None);

        let output = Command::new(CLIENT)
            .args([&format!("ws://{}/echo", server.addr), "--message", "hello"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\n");
    }
}

#[test]
fn our_client_against_a_tungstenite_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        while let Ok(message) = ws.read() {
            if message.is_text() || message.is_binary() {
                ws.send(message).unwrap();
            }
        }
    });
    let mut ws = client::connect(&format!("ws://{addr}/"), &[], Default::default()).unwrap();
    ws.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let big = vec![7u8; 300_000];
    ws.send_binary(&big).unwrap();
    assert_eq!(
        ws.recv().unwrap(),
        Some(netladder::ws::WsMessage::Binary(big))
    );
    ws.send_text("ünïcode").unwrap();
    assert_eq!(
        ws.recv().unwrap(),
        Some(netladder::ws::WsMessage::Text("ünïcode".into()))
    );
    ws.close(1000, "").unwrap();
    assert!(matches!(
        ws.recv().unwrap(),
        Some(netladder::ws::WsMessage::Close(1000, _))
    ));
}

/// Sends a raw request and returns the whole response.
fn raw(server: &Server, request: &str) -> String {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

#[test]
fn bad_handshakes_get_clear_http_errors_and_the_page_is_served() {
    let server = Server::start(SERVER, &[]);
    let upgrade = |extra: &str| {
        format!(
            "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{extra}\r\n"
        )
    };
    let wrong_version = raw(
        &server,
        &upgrade("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"),
    );
    assert!(wrong_version.starts_with("HTTP/1.1 426"), "{wrong_version}");
    assert!(
        wrong_version.contains("Sec-WebSocket-Version: 13"),
        "{wrong_version}"
    );
    let short_key = raw(
        &server,
        &upgrade("Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n"),
    );
    assert!(short_key.starts_with("HTTP/1.1 400"), "{short_key}");
    let foreign = raw(
        &server,
        &upgrade(
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n",
        ),
    );
    assert!(foreign.starts_with("HTTP/1.1 403"), "{foreign}");
    let accepted = raw(
        &server,
        &upgrade(
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost:7003\r\n",
        ),
    );
    assert!(accepted.starts_with("HTTP/1.1 101"), "{accepted}");
    assert!(
        accepted.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{accepted}"
    );
    let page = raw(&server, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("new WebSocket"),
        "{page}"
    );
}

#[test]
fn a_message_over_the_limit_closes_with_1009() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver, "--max-message", "1000"]);
        let mut ws = tungstenite_client(&server, "/echo");
        ws.send(Message::binary(vec![1u8; 2000])).unwrap();
        match ws.read() {
            Ok(Message::Close(Some(frame))) => {
                assert_eq!(u16::from(frame.code), 1009, "{driver}")
            }
            other => panic!("{driver}: expected close 1009, got {other:?}"),
        }
    }
}
