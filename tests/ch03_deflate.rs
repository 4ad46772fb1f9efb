//! Chapter 3 compression over real sockets: `ch03-ws-server` on both
//! drivers with our client, with and without context takeover, chat (a
//! compressed broadcast), `--deflate off`, and a bomb closed with 1009.

mod common;

use common::{IO_TIMEOUT, Server};
use netladder::ws::client::{self, WsClient};
use netladder::ws::{Config, DeflateConfig, DeflateParams, WsMessage};
use std::io::{Read, Write};
use std::net::TcpStream;

const SERVER: &str = env!("CARGO_BIN_EXE_ch03-ws-server");
const DRIVERS: [&str; 2] = ["threads", "mio"];

fn connect(server: &Server, path: &str, deflate: Option<DeflateConfig>) -> WsClient {
    let config = Config {
        deflate,
        ..Config::default()
    };
    let ws = client::connect(&format!("ws://{}{path}", server.addr), &[], config).unwrap();
    ws.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    ws
}

fn echoes(ws: &mut WsClient) {
    let chat = r#"{"type":"message","room":"lobby","user":"ada","text":"hello, hello"}"#;
    let big = "compressible text ".repeat(50_000);
    for text in [chat, "", "short", chat, big.as_str()] {
        ws.send_text(text).unwrap();
        assert_eq!(ws.recv().unwrap(), Some(WsMessage::Text(text.into())));
    }
    let binary: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    ws.send_binary(&binary).unwrap();
    assert_eq!(ws.recv().unwrap(), Some(WsMessage::Binary(binary)));
    ws.close(1000, "done").unwrap();
    assert!(matches!(
        ws.recv().unwrap(),
        Some(WsMessage::Close(1000, _))
    ));
}

#[test]
fn compressed_echo_on_both_drivers_with_and_without_takeover() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let mut ws = connect(&server, "/echo", Some(DeflateConfig::default()));
        assert_eq!(
            ws.deflate(),
            Some(&DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
            }),
            "{driver}"
        );
        echoes(&mut ws);

        let server = Server::start(
            SERVER,
            &[
                "--driver",
                driver,
                "--deflate-takeover",
                "--deflate-window-bits",
                "10",
            ],
        );
        let mut ws = connect(
            &server,
            "/echo",
            Some(DeflateConfig::default().with_context_takeover()),
        );
        let params = ws.deflate().copied().expect("compression agreed");
        assert!(!params.server_no_context_takeover, "{driver}");
        assert_eq!(params.server_max_window_bits, 10, "{driver}");
        assert_eq!(params.client_max_window_bits, 10, "{driver}");
        echoes(&mut ws);
    }
}

#[test]
fn chat_broadcast_is_compressed_per_member_and_off_means_off() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let mut alice = connect(&server, "/chat", Some(DeflateConfig::default()));
        let mut bob = connect(&server, "/chat", None);
        assert!(bob.deflate().is_none());
        let text = "a chat message long enough to be compressed, ".repeat(4);
        bob.send_text("bob here").unwrap();
        assert_eq!(
            alice.recv().unwrap(),
            Some(WsMessage::Text("bob here".into()))
        );
        assert_eq!(
            bob.recv().unwrap(),
            Some(WsMessage::Text("bob here".into()))
        );
        alice.send_text(&text).unwrap();
        assert_eq!(alice.recv().unwrap(), Some(WsMessage::Text(text.clone())));
        assert_eq!(bob.recv().unwrap(), Some(WsMessage::Text(text.clone())));

        let server = Server::start(SERVER, &["--driver", driver, "--deflate", "off"]);
        let mut ws = connect(&server, "/echo", Some(DeflateConfig::default()));
        assert!(ws.deflate().is_none(), "{driver}: declined");
        echoes(&mut ws);
    }
}

/// A raw client: handshake offering compression, then a compressed frame
/// that inflates to 16 MiB against a 1 MiB limit.
#[test]
fn a_bomb_is_closed_with_1009() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver, "--max-message", "1048576"]);
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        write!(
            stream,
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        )
        .unwrap();
        // 16 MiB of zeros, compressed by our own codec.
        let mut codec = netladder::ws::deflate::Deflate::new(
            netladder::ws::Role::Client,
            DeflateParams::default(),
            &DeflateConfig::default(),
        );
        let mut payload = Vec::new();
        codec.compress(&vec![0u8; 16 << 20], &mut payload);
        let mut frame = Vec::new();
        netladder::ws::frame::encode_frame(
            &mut frame,
            true,
            netladder::ws::frame::Opcode::Binary,
            &payload,
            Some([1, 2, 3, 4]),
        );
        frame[0] |= 0x40; // RSV1: compressed
        // The server may close before it has read it all: ignore write errors.
        let _ = stream.write_all(&frame);
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        let text = String::from_utf8_lossy(&reply);
        assert!(
            text.contains("Sec-WebSocket-Extensions: permessage-deflate"),
            "{text}"
        );
        let head_end = text.find("\r\n\r\n").unwrap() + 4;
        let close = &reply[head_end..];
        assert_eq!(close[0], 0x88, "{driver}: a close frame");
        assert_eq!(&close[2..4], &1009u16.to_be_bytes(), "{driver}");
    }
}
