//! Chapter 5, more of Engine.IO on the real `ch05-eio-server`, both
//! drivers: gzip/deflate on polling answers, permessage-deflate on the
//! WebSocket transport, and what a client hears when the server stops
//! (SIGTERM): a held poll gets the close packet `1`, a WebSocket the close
//! packet and then close 1001.

mod common;

use common::{IO_TIMEOUT, Server};
use flate2::read::{GzDecoder, ZlibDecoder};
use netladder::engineio::{OpenInfo, Sid};
use netladder::ws::client::{self, WsClient};
use netladder::ws::{Config as WsConfig, WsMessage};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_ch05-eio-server");
const DRIVERS: [&str; 2] = ["threads", "mio"];

/// An answer: status, head (lowercase), body as sent.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            (n.trim() == name).then(|| v.trim())
        })
    }
}

fn send(stream: &mut TcpStream, method: &str, target: &str, extra: &str, body: &[u8]) {
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n{extra}\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head");
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    Answer {
        status: head[9..12].parse().unwrap(),
        head,
        body: response[split + 4..].to_vec(),
    }
}

fn http(addr: SocketAddr, method: &str, target: &str, extra: &str, body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    send(&mut stream, method, target, extra, body);
    read_answer(&mut stream)
}

fn handshake(addr: SocketAddr) -> Sid {
    let a = http(addr, "GET", "/engine.io/?EIO=4&transport=polling", "", b"");
    assert_eq!(a.status, 200);
    let text = String::from_utf8(a.body).unwrap();
    OpenInfo::from_json(&text[1..]).unwrap().sid
}

fn target(sid: &Sid) -> String {
    format!("/engine.io/?EIO=4&transport=polling&sid={}", sid.as_str())
}

/// A message of `n` bytes that compresses well.
fn chat(n: usize) -> String {
    let line = "{\"user\":\"ada\",\"text\":\"hello, polling world\"} ";
    line.repeat(n / line.len() + 1)[..n].to_string()
}

/// Posts `message`, then polls its echo with `accept` as Accept-Encoding.
fn echo_polled(addr: SocketAddr, sid: &Sid, message: &str, accept: &str) -> Answer {
    let posted = http(
        addr,
        "POST",
        &target(sid),
        "",
        format!("4{message}").as_bytes(),
    );
    assert_eq!(posted.status, 200);
    let extra = format!("Accept-Encoding: {accept}\r\n");
    http(addr, "GET", &target(sid), &extra, b"")
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(body).read_to_end(&mut out).unwrap();
    out
}

#[test]
fn polling_answers_are_compressed_when_asked_and_large() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let sid = handshake(server.addr);
        let big = chat(5000);
        let a = echo_polled(server.addr, &sid, &big, "gzip, deflate, br");
        assert_eq!(a.status, 200, "{driver}");
        assert_eq!(a.header("content-encoding"), Some("gzip"), "{driver}");
        assert_eq!(a.header("vary"), Some("accept-encoding"));
        let length: usize = a.header("content-length").unwrap().parse().unwrap();
        assert_eq!(length, a.body.len());
        assert!(a.body.len() < 1000, "{driver}: {} bytes", a.body.len());
        assert_eq!(gunzip(&a.body), format!("4{big}").as_bytes());
        // deflate is the zlib format.
        let a = echo_polled(server.addr, &sid, &big, "deflate");
        assert_eq!(a.header("content-encoding"), Some("deflate"), "{driver}");
        let mut plain = Vec::new();
        ZlibDecoder::new(&a.body[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, format!("4{big}").as_bytes());
        // Under the threshold (1024 bytes), or not accepted: as it is.
        let small = chat(500);
        let a = echo_polled(server.addr, &sid, &small, "gzip");
        assert_eq!(a.header("content-encoding"), None, "{driver}");
        assert_eq!(a.body, format!("4{small}").as_bytes());
        let a = echo_polled(server.addr, &sid, &big, "gzip;q=0, identity");
        assert_eq!(a.header("content-encoding"), None, "{driver}");
        assert_eq!(a.body, format!("4{big}").as_bytes());
    }
}

#[test]
fn a_held_poll_is_compressed_too() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let sid = handshake(server.addr);
        let mut held = TcpStream::connect(server.addr).unwrap();
        held.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        send(
            &mut held,
            "GET",
            &target(&sid),
            "Accept-Encoding: gzip\r\n",
            b"",
        );
        std::thread::sleep(Duration::from_millis(200));
        let big = chat(3000);
        let posted = http(
            server.addr,
            "POST",
            &target(&sid),
            "",
            format!("4{big}").as_bytes(),
        );
        assert_eq!(posted.status, 200);
        let a = read_answer(&mut held);
        assert_eq!(a.header("content-encoding"), Some("gzip"), "{driver}");
        assert_eq!(gunzip(&a.body), format!("4{big}").as_bytes());
    }
}

#[test]
fn http_compression_can_be_turned_off_or_retuned() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver, "--http-compression", "off"]);
        let sid = handshake(server.addr);
        let big = chat(5000);
        let a = echo_polled(server.addr, &sid, &big, "gzip");
        assert_eq!(a.header("content-encoding"), None, "{driver}");
        assert_eq!(a.header("vary"), None);
        assert_eq!(a.body, format!("4{big}").as_bytes());
        let server = Server::start(
            SERVER,
            &["--driver", driver, "--http-compression-threshold", "100"],
        );
        let sid = handshake(server.addr);
        let a = echo_polled(server.addr, &sid, &chat(200), "gzip");
        assert_eq!(a.header("content-encoding"), Some("gzip"), "{driver}");
    }
}

fn websocket(addr: SocketAddr, config: WsConfig) -> WsClient {
    let ws = client::connect(
        &format!("ws://{addr}/engine.io/?EIO=4&transport=websocket"),
        &[],
        config,
    )
    .unwrap();
    ws.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    ws
}

fn next(ws: &mut WsClient) -> WsMessage {
    loop {
        match ws.recv().unwrap() {
            Some(WsMessage::Ping(_) | WsMessage::Pong(_)) => continue,
            Some(message) => return message,
            None => return WsMessage::Close(1006, String::new()),
        }
    }
}

fn text(s: &str) -> WsMessage {
    WsMessage::Text(s.to_string())
}

#[test]
fn the_websocket_transport_negotiates_permessage_deflate() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        // Our client offers permessage-deflate by default.
        let mut ws = websocket(server.addr, WsConfig::default());
        let params = ws.deflate().copied();
        assert!(params.is_some(), "{driver}: not negotiated");
        assert!(params.unwrap().server_no_context_takeover);
        assert!(matches!(next(&mut ws), WsMessage::Text(t) if t.starts_with('0')));
        // Compressed both ways (over the 64-byte threshold), and small ones.
        let big = chat(20_000);
        ws.send_text(&format!("4{big}")).unwrap();
        assert_eq!(next(&mut ws), text(&format!("4{big}")), "{driver}");
        ws.send_binary(&[7; 300]).unwrap();
        assert_eq!(next(&mut ws), WsMessage::Binary(vec![7; 300]));
        ws.send_text("4hi").unwrap();
        assert_eq!(next(&mut ws), text("4hi"));
        // A client that offers nothing gets plain frames.
        let plain = WsConfig {
            deflate: None,
            ..WsConfig::default()
        };
        let mut ws = websocket(server.addr, plain);
        assert!(ws.deflate().is_none());
        assert!(matches!(next(&mut ws), WsMessage::Text(t) if t.starts_with('0')));
        ws.send_text(&format!("4{big}")).unwrap();
        assert_eq!(next(&mut ws), text(&format!("4{big}")), "{driver}");
    }
}

#[test]
fn deflate_off_declines_the_offer() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver, "--deflate", "off"]);
        let mut ws = websocket(server.addr, WsConfig::default());
        assert!(ws.deflate().is_none(), "{driver}");
        assert!(matches!(next(&mut ws), WsMessage::Text(t) if t.starts_with('0')));
        let big = chat(5000);
        ws.send_text(&format!("4{big}")).unwrap();
        assert_eq!(next(&mut ws), text(&format!("4{big}")), "{driver}");
    }
}

#[test]
fn a_compression_bomb_on_the_websocket_closes_the_session() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver, "--max-payload", "10000"]);
        let mut ws = websocket(server.addr, WsConfig::default());
        assert!(ws.deflate().is_some());
        assert!(matches!(next(&mut ws), WsMessage::Text(t) if t.starts_with('0')));
        // 1 MB of one letter deflates to about a kilobyte on the wire.
        ws.send_text(&format!("4{}", "a".repeat(1_000_000)))
            .unwrap();
        let got = next(&mut ws);
        assert!(
            matches!(got, WsMessage::Close(1009, _) | WsMessage::Close(1006, _)),
            "{driver}: {got:?}"
        );
    }
}

/// Sends `signal` (`"INT"`, Ctrl-C, or `"TERM"`) to the server.
fn signal(server: &Server, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn exits(mut server: Server) {
    let started = Instant::now();
    loop {
        match server.try_wait() {
            Some(status) => break assert!(status.success(), "{status:?}"),
            None if started.elapsed() > Duration::from_secs(15) => {
                panic!("the server did not exit")
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn shutdown_answers_a_held_poll_with_a_close_packet() {
    for (driver, sig) in DRIVERS.into_iter().flat_map(|d| [(d, "INT"), (d, "TERM")]) {
        let server = Server::start(SERVER, &["--driver", driver]);
        let sid = handshake(server.addr);
        let mut held = TcpStream::connect(server.addr).unwrap();
        send(&mut held, "GET", &target(&sid), "", b"");
        // Nothing to answer yet: the poll is held.
        held.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut byte = [0; 1];
        assert!(held.read(&mut byte).is_err(), "{driver}: answered early");
        held.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        signal(&server, sig);
        let a = read_answer(&mut held);
        assert_eq!(a.status, 200, "{driver} {sig}");
        assert_eq!(a.body, b"1", "{driver} {sig}: the close packet");
        exits(server);
    }
}

#[test]
fn a_held_poll_whose_client_stops_sending_ends_the_session() {
    // As Node's "poll connection closed prematurely": a client that
    // half-closes (or whose connection is cut) while its poll is held is
    // gone, and so is its session, at once rather than at the heartbeat.
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let sid = handshake(server.addr);
        let mut held = TcpStream::connect(server.addr).unwrap();
        send(&mut held, "GET", &target(&sid), "", b"");
        held.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut byte = [0; 1];
        assert!(held.read(&mut byte).is_err(), "{driver}: answered early");
        held.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        held.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        held.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{driver}: no answer to a poll given up");
        // The session is gone (its close runs as the connection closes).
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let a = http(server.addr, "GET", &target(&sid), "", b"");
            if a.status == 400 {
                assert_eq!(a.body, br#"{"code":1,"message":"Session ID unknown"}"#);
                break;
            }
            assert!(Instant::now() < deadline, "{driver}: the session lives on");
        }
    }
}

#[test]
fn shutdown_sends_a_websocket_the_close_packet_then_1001() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let mut ws = websocket(server.addr, WsConfig::default());
        assert!(matches!(next(&mut ws), WsMessage::Text(t) if t.starts_with('0')));
        ws.send_text("4ready").unwrap();
        assert_eq!(next(&mut ws), text("4ready"));
        signal(&server, "TERM");
        assert_eq!(next(&mut ws), text("1"), "{driver}: the close packet");
        match next(&mut ws) {
            WsMessage::Close(code, _) => assert_eq!(code, 1001, "{driver}"),
            other => panic!("{driver}: {other:?}"),
        }
        exits(server);
    }
}
