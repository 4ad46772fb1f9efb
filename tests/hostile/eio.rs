//! Chapter 5's Engine.IO server (`chapters/ch05/eio_server.rs`: every
//! message echoed on its session) against hostile requests, payloads and
//! frames. Each case names the exact answer (an HTTP status and Engine.IO
//! error code, a WebSocket close code, the session's close reason) and a
//! healthy Engine.IO session beside it, on its WebSocket, must keep getting
//! its echoes (and pings) within a second.

use crate::harness::*;
use netladder::engineio::{
    CloseReason, EioEvent, EngineIo, EngineIoConfig, SessionConfig, Sid, TransportFault,
};
use netladder::http::Response;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

/// `maxPayload` in the cases: small enough to send a little over it fast.
const MAX_PAYLOAD: usize = 100_000;
/// Heartbeats, shortened in the cases about them so that a session that
/// never polls dies within the test: pinged after `PING_INTERVAL`, closed
/// `PING_TIMEOUT` later. The other cases keep pings out of their way.
const PING_INTERVAL: Duration = Duration::from_millis(300);
const PING_TIMEOUT: Duration = Duration::from_millis(300);

fn config() -> EngineIoConfig {
    EngineIoConfig {
        session: SessionConfig {
            ping_interval: Duration::from_secs(20),
            ping_timeout: Duration::from_secs(10),
            max_payload: MAX_PAYLOAD,
            ..SessionConfig::default()
        },
        ..EngineIoConfig::default()
    }
}

/// [`config`] with heartbeats of `interval` and [`PING_TIMEOUT`].
fn pinging(interval: Duration) -> EngineIoConfig {
    let mut config = config();
    config.session.ping_interval = interval;
    config.session.ping_timeout = PING_TIMEOUT;
    config
}

/// The chapter 5 server in this process, with the application's close
/// events kept for the cases to check.
struct EioServer {
    server: Server,
    engine: EngineIo,
    closes: Receiver<(Sid, CloseReason)>,
}

impl Drop for EioServer {
    fn drop(&mut self) {
        self.engine.shutdown();
    }
}

impl EioServer {
    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Waits (up to `within`) for session `sid` to close, and says why.
    fn closed(&self, sid: &str, within: Duration) -> CloseReason {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.closes.recv_timeout(left) {
                Ok((s, reason)) if s.as_str() == sid => return reason,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("session {sid} still open after {within:?}")
                }
                Err(RecvTimeoutError::Disconnected) => panic!("the application stopped"),
            }
        }
    }
}

fn start_eio(driver: Driver, config: EngineIoConfig) -> EioServer {
    let (engine, events) = EngineIo::new(config);
    let (closed, closes) = channel();
    let app = engine.clone();
    thread::spawn(move || {
        for event in events {
            match event {
                EioEvent::Message(sid, message) => {
                    let _ = app.send(&sid, message); // a full queue drops it
                }
                EioEvent::Close(sid, reason) => {
                    let _ = closed.send((sid, reason));
                }
                EioEvent::Open(..) | EioEvent::Upgraded(_) => {}
            }
        }
    });
    let factory = engine.factory(|_request| Response::new(404).text("not found\n"));
    EioServer {
        server: start(driver, factory),
        engine,
        closes,
    }
}

/// Runs `attack` on both drivers against a fresh chapter 5 server with
/// `config`, with a healthy Engine.IO session beside it.
fn eio_case_with(name: &str, config: impl Fn() -> EngineIoConfig, attack: impl Fn(&EioServer)) {
    for driver in DRIVERS {
        let server = start_eio(driver, config());
        let healthy = Healthy::start(Kind::Eio, server.addr());
        attack(&server);
        healthy.finish(&format!("{name} on {driver:?}"));
    }
}

fn eio_case(name: &str, attack: impl Fn(&EioServer)) {
    eio_case_with(name, config, attack);
}

// ---------------------------------------------------------------------------
// Polling speech.

fn polling(sid: &str) -> String {
    format!("/engine.io/?EIO=4&transport=polling&sid={sid}")
}

fn get_request(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
}

fn post_request(target: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// One request on a kept-alive `stream`: status and body.
fn exchange(stream: &mut TcpStream, request: &[u8]) -> (u16, String) {
    stream.write_all(request).unwrap();
    let (status, head, body) = read_response(stream).expect("an answer");
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "the connection stays open after {status}: {head}"
    );
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The JSON body of Engine.IO error `code`.
fn error_body(code: u8) -> String {
    let message = match code {
        0 => "Transport unknown",
        1 => "Session ID unknown",
        2 => "Bad handshake method",
        3 => "Bad request",
        4 => "Forbidden",
        5 => "Unsupported protocol version",
        _ => unreachable!(),
    };
    format!(r#"{{"code":{code},"message":"{message}"}}"#)
}

/// `request` on its own connection gets 400 with Engine.IO error `code`,
/// and the connection stays usable.
fn refused_with(server: &EioServer, request: &[u8], code: u8) {
    let mut stream = connect(server.addr());
    let (status, body) = exchange(&mut stream, request);
    assert_eq!((status, body.as_str()), (400, error_body(code).as_str()));
    let (status, _) = exchange(&mut stream, get_request("/other").as_bytes());
    assert_eq!(status, 404, "the connection still serves requests");
}

/// A polling handshake on `stream`: the new sid.
fn handshake(stream: &mut TcpStream) -> String {
    let (status, body) = exchange(
        stream,
        get_request("/engine.io/?EIO=4&transport=polling").as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let open: serde_json::Value = serde_json::from_str(
        body.strip_prefix('0')
            .unwrap_or_else(|| panic!("not an open packet: {body}")),
    )
    .unwrap();
    open["sid"].as_str().unwrap().to_string()
}

/// A polling session on its own connection: the connection and the sid.
fn polling_session(server: &EioServer) -> (TcpStream, String) {
    let mut stream = connect(server.addr());
    let sid = handshake(&mut stream);
    (stream, sid)
}

/// The session `sid` is gone: a poll gets error 1.
fn gone(server: &EioServer, sid: &str) {
    refused_with(server, get_request(&polling(sid)).as_bytes(), 1);
}

/// A POST of `body` then a poll: the session echoes it.
fn echoes(stream: &mut TcpStream, sid: &str, body: &str) {
    let (status, answer) = exchange(stream, &post_request(&polling(sid), body.as_bytes()));
    assert_eq!((status, answer.as_str()), (200, "ok"));
    let (status, answer) = exchange(stream, get_request(&polling(sid)).as_bytes());
    assert_eq!((status, answer.as_str()), (200, body));
}

// ---------------------------------------------------------------------------
// The request line: code 0, 2, 5, and 1.

#[test]
fn an_unknown_transport_is_code_0() {
    eio_case("eio-bad-transport", |server| {
        refused_with(
            server,
            get_request("/engine.io/?EIO=4&transport=carrier-pigeon").as_bytes(),
            0,
        );
        refused_with(server, get_request("/engine.io/?EIO=4").as_bytes(), 0);
    });
}

#[test]
fn a_handshake_that_is_not_a_get_is_code_2() {
    eio_case("eio-bad-handshake-method", |server| {
        let post = post_request("/engine.io/?EIO=4&transport=polling", b"4hi");
        refused_with(server, &post, 2);
        let put = b"PUT /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
        refused_with(server, put, 2);
    });
}

#[test]
fn engine_io_v3_is_code_5() {
    eio_case("eio-v3", |server| {
        refused_with(
            server,
            get_request("/engine.io/?EIO=3&transport=polling").as_bytes(),
            5,
        );
        refused_with(
            server,
            get_request("/engine.io/?transport=polling").as_bytes(),
            5,
        );
    });
}

#[test]
fn an_unknown_sid_is_code_1() {
    eio_case("eio-unknown-sid", |server| {
        let sid = "AAAAAAAAAAAAAAAAAAAA";
        refused_with(server, get_request(&polling(sid)).as_bytes(), 1);
        refused_with(server, &post_request(&polling(sid), b"4hello"), 1);
        // An upgrade for a session that does not exist gets no 101.
        let upgrade = format!(
            "GET /engine.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: x\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        let mut stream = connect(server.addr());
        stream.write_all(upgrade.as_bytes()).unwrap();
        let (status, _, body) = read_response(&mut stream).unwrap();
        assert_eq!((status, body), (400, error_body(1).into_bytes()));
    });
}

// ---------------------------------------------------------------------------
// Sessions misused.

#[test]
fn a_second_concurrent_get_closes_the_session() {
    eio_case("eio-concurrent-get", |server| {
        let (first, sid) = polling_session(server);
        let second = connect(server.addr());
        // Two polls at once, on two connections: whichever the server
        // sees first is held (nothing is queued), the other is a broken
        // client's. It gets 400 code 3, the session closes (as Node's
        // does), and the held poll is answered with a close packet.
        let polls: Vec<_> = [first, second]
            .into_iter()
            .enumerate()
            .map(|(i, mut stream)| {
                let request = get_request(&polling(&sid));
                thread::spawn(move || {
                    if i == 1 {
                        thread::sleep(Duration::from_millis(50));
                    }
                    stream.write_all(request.as_bytes()).unwrap();
                    let (status, _, body) = read_response(&mut stream).unwrap();
                    (status, String::from_utf8(body).unwrap())
                })
            })
            .collect();
        let mut answers: Vec<(u16, String)> =
            polls.into_iter().map(|t| t.join().unwrap()).collect();
        answers.sort();
        assert_eq!(answers, [(200, "1".to_string()), (400, error_body(3))]);
        assert_eq!(
            server.closed(&sid, Duration::from_secs(1)),
            CloseReason::TransportError(TransportFault::ConcurrentGet)
        );
        gone(server, &sid);
    });
}

#[test]
fn a_post_over_max_payload_is_413_and_the_session_lives() {
    eio_case("eio-post-over-max-payload", |server| {
        let (mut stream, sid) = polling_session(server);
        let mut big = vec![b'x'; MAX_PAYLOAD + 1];
        big[0] = b'4';
        let (status, _) = exchange(&mut stream, &post_request(&polling(&sid), &big));
        assert_eq!(status, 413);
        // Exactly maxPayload is fine, and the session still echoes.
        echoes(
            &mut stream,
            &sid,
            &String::from_utf8_lossy(&big[..MAX_PAYLOAD]),
        );
        // A body far over the limit is refused from its Content-Length,
        // unread, and that connection closes.
        let huge = format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\n4",
            polling(&sid)
        );
        let (status, _) = answer_then_close(server.addr(), huge.as_bytes());
        assert_eq!(status, 413);
        echoes(&mut stream, &sid, "4still here");
    });
}

#[test]
fn a_bad_packet_type_in_a_post_closes_the_session() {
    eio_case("eio-post-bad-packet-type", |server| {
        for body in ["9", "4ok\u{1e}7x", "", "\u{1e}\u{1e}"] {
            let (mut stream, sid) = polling_session(server);
            let (status, answer) =
                exchange(&mut stream, &post_request(&polling(&sid), body.as_bytes()));
            assert_eq!(
                (status, answer.as_str()),
                (400, error_body(3).as_str()),
                "{body:?}"
            );
            assert_eq!(
                server.closed(&sid, Duration::from_secs(1)),
                CloseReason::ParseError,
                "{body:?}"
            );
            gone(server, &sid);
        }
    });
}

#[test]
fn garbage_and_lying_base64_in_a_post_close_the_session() {
    eio_case("eio-post-garbage", |server| {
        let bodies: [&[u8]; 5] = [
            b"bAQID!!!",            // not base64
            b"bA",                  // base64 of no whole byte
            b"bAQ==IDBA\x1e4ok",    // padding in the middle
            b"\xff\xfe\x00garbage", // not UTF-8
            b"\x00\x01\x02\x03",
        ];
        for body in bodies {
            let (mut stream, sid) = polling_session(server);
            let (status, answer) = exchange(&mut stream, &post_request(&polling(&sid), body));
            assert_eq!(
                (status, answer.as_str()),
                (400, error_body(3).as_str()),
                "{body:?}"
            );
            assert_eq!(
                server.closed(&sid, Duration::from_secs(1)),
                CloseReason::ParseError
            );
            gone(server, &sid);
        }
    });
}

#[test]
fn a_session_that_never_polls_times_out() {
    eio_case_with(
        "eio-never-polls",
        || pinging(PING_INTERVAL),
        |server| {
            let (_stream, sid) = polling_session(server);
            let began = Instant::now();
            assert_eq!(
                server.closed(&sid, PING_INTERVAL + PING_TIMEOUT + Duration::from_secs(1)),
                CloseReason::PingTimeout
            );
            let took = began.elapsed();
            assert!(
                took >= PING_INTERVAL + PING_TIMEOUT - Duration::from_millis(50),
                "closed after {took:?}, before the ping could be answered"
            );
            gone(server, &sid);
        },
    );
}

#[test]
fn a_flood_of_posts_is_answered_and_the_queue_stays_bounded() {
    const POSTS: usize = 5_000;
    const MAX_QUEUE: usize = 64;
    let config = || {
        let mut config = config();
        config.session.max_queue = MAX_QUEUE;
        config
    };
    eio_case_with("eio-post-flood", config, |server| {
        let (stream, sid) = polling_session(server);
        let mut reader = stream.try_clone().unwrap();
        let target = polling(&sid);
        // Pipelined, written from another thread while this one reads.
        let writer = {
            let mut stream = stream;
            thread::spawn(move || {
                for i in 0..POSTS {
                    let body = format!("4flood {i}\u{1e}4more {i}");
                    stream
                        .write_all(&post_request(&target, body.as_bytes()))
                        .unwrap();
                }
                stream
            })
        };
        for i in 0..POSTS {
            let (status, _, body) = read_response(&mut reader).unwrap();
            assert_eq!((status, body.as_slice()), (200, &b"ok"[..]), "POST {i}");
        }
        let mut stream = writer.join().unwrap();
        // The echoes beyond max_queue were refused to the application
        // (it drops them): one poll takes what is queued, at most
        // max_queue packets, in order.
        let (status, body) = exchange(&mut stream, get_request(&polling(&sid)).as_bytes());
        assert_eq!(status, 200);
        let packets: Vec<&str> = body.split('\u{1e}').collect();
        assert!(
            packets.len() <= MAX_QUEUE && packets.len() >= 2,
            "{} packets queued",
            packets.len()
        );
        assert_eq!(packets[0], "4flood 0");
        assert_eq!(packets[1], "4more 0");
        echoes(&mut stream, &sid, "4after the flood");
    });
}

#[test]
fn thousands_of_idle_handshakes_are_bounded_and_expire() {
    const MAX_SESSIONS: usize = 1_000;
    // Long enough to open them all before the first expires.
    const INTERVAL: Duration = Duration::from_millis(2_000);
    let config = || EngineIoConfig {
        max_sessions: MAX_SESSIONS,
        ..pinging(INTERVAL)
    };
    eio_case_with("eio-handshake-flood", config, |server| {
        let mut stream = connect(server.addr());
        let request = get_request("/engine.io/?EIO=4&transport=polling");
        // The healthy session holds one place.
        let began = Instant::now();
        for _ in 1..MAX_SESSIONS {
            handshake(&mut stream);
        }
        let took = began.elapsed();
        eprintln!("{} handshakes in {took:?}", MAX_SESSIONS - 1);
        assert!(took < INTERVAL, "too slow to test: the first ones expired");
        assert_eq!(server.engine.sessions(), MAX_SESSIONS);
        let (status, body) = exchange(&mut stream, request.as_bytes());
        assert_eq!((status, body.as_str()), (503, "too many sessions"));
        // None of them polls: each is pinged, misses its pong, and goes.
        let deadline = Instant::now() + INTERVAL + PING_TIMEOUT + Duration::from_secs(2);
        while server.engine.sessions() > 1 {
            assert!(
                Instant::now() < deadline,
                "{} sessions left",
                server.engine.sessions()
            );
            thread::sleep(Duration::from_millis(20));
        }
        handshake(&mut stream);
    });
}

// ---------------------------------------------------------------------------
// The WebSocket transport.

#[test]
fn a_websocket_message_over_max_payload_gets_1009() {
    eio_case("eio-ws-over-max-payload", |server| {
        // One byte over: the session refuses it. Far over: the WebSocket
        // layer does, from the frame's length. Either way 1009, and the
        // session closes with a transport error.
        for size in [MAX_PAYLOAD + 1, 16 * MAX_PAYLOAD] {
            let (mut stream, open) = eio_ws_open(server.addr());
            let sid = open["sid"].as_str().unwrap().to_string();
            if size == MAX_PAYLOAD + 1 {
                let mut message = vec![b'x'; size];
                message[0] = b'4';
                send(&mut stream, &frame(FIN | TEXT, &message));
            } else {
                // The header alone says enough.
                send(&mut stream, &header(FIN | TEXT, size as u64, Some(MASK)));
                send(&mut stream, b"4xxx");
            }
            close_replied(&mut stream, 1009);
            assert_eq!(
                server.closed(&sid, Duration::from_secs(1)),
                CloseReason::TransportError(TransportFault::PayloadTooLarge),
                "{size} bytes"
            );
        }
    });
}

#[test]
fn a_bad_packet_on_a_websocket_gets_1002() {
    eio_case("eio-ws-bad-packet", |server| {
        let frames: [Vec<u8>; 3] = [
            frame(FIN | TEXT, b"9"),
            frame(FIN | TEXT, b""),
            frame(FIN | TEXT, b"x4hello"),
        ];
        for bad in frames {
            let (mut stream, open) = eio_ws_open(server.addr());
            let sid = open["sid"].as_str().unwrap().to_string();
            send(&mut stream, &bad);
            close_replied(&mut stream, 1002);
            assert_eq!(
                server.closed(&sid, Duration::from_secs(1)),
                CloseReason::ParseError
            );
        }
    });
}

#[test]
fn a_websocket_without_upgrade_headers_is_code_3() {
    eio_case("eio-ws-no-upgrade", |server| {
        refused_with(
            server,
            get_request("/engine.io/?EIO=4&transport=websocket").as_bytes(),
            3,
        );
    });
}

/// The next frame is a close with `code`; the client answers it as a
/// client should, and the server then closes the TCP connection.
fn close_replied(stream: &mut TcpStream, code: u16) {
    let (b0, payload) = read_frame(stream).expect("a close frame");
    assert_eq!(b0, FIN | CLOSE, "expected a close, got {b0:#x} {payload:?}");
    assert_eq!(
        payload.get(..2),
        Some(&code.to_be_bytes()[..]),
        "{payload:?}"
    );
    send(stream, &frame(FIN | CLOSE, &payload[..2]));
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "bytes after the close: {rest:?}");
}

#[test]
fn a_bad_upgrade_probe_fails_the_upgrade_and_the_session_stays() {
    eio_case("eio-bad-probe", |server| {
        let (mut polling_conn, sid) = polling_session(server);
        let upgrade = format!(
            "GET /engine.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: x\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        let mut probe = connect(server.addr());
        probe.write_all(upgrade.as_bytes()).unwrap();
        let (status, head, _) = read_response(&mut probe).unwrap();
        assert_eq!(status, 101, "{head}");
        // A second upgrade while one is under way: accepted, then closed
        // at once with 1008 (as Node's engine.io ignores it), the probe
        // untouched.
        let mut second = connect(server.addr());
        second.write_all(upgrade.as_bytes()).unwrap();
        let (status, head, _) = read_response(&mut second).unwrap();
        assert_eq!(status, 101, "{head}");
        close_replied(&mut second, 1008);
        // The probe must be `2probe`: anything else ends the attempt with
        // 1002 and the session stays on polling, unharmed.
        send(&mut probe, &frame(FIN | TEXT, b"2nonsense"));
        close_replied(&mut probe, 1002);
        echoes(&mut polling_conn, &sid, "4still polling");
    });
}
