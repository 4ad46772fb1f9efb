//! Chapter 5 integration tests: Engine.IO v4 over real sockets on both
//! drivers. The real `ch05-eio-server` binary for the protocol's rules, and
//! an in-process [`EngineIo`] for sends from another thread during an
//! upgrade.

mod common;

use common::{IO_TIMEOUT, Server, serve};
use netladder::engineio::{
    EioEvent, EngineIo, EngineIoConfig, OpenInfo, Payload, SessionConfig, Sid, Transport,
};
use netladder::ws::client::{self, WsClient};
use netladder::ws::{Config as WsConfig, WsMessage};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_ch05-eio-server");
const DRIVERS: [&str; 2] = ["threads", "mio"];

/// One request on its own connection: the status and the body.
fn http(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head[9..12].parse().unwrap();
    (status, response[split + 4..].to_vec())
}

fn handshake(addr: SocketAddr) -> OpenInfo {
    let (status, body) = http(addr, "GET", "/engine.io/?EIO=4&transport=polling", b"");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with('0'), "{text}");
    OpenInfo::from_json(&text[1..]).unwrap()
}

fn target(sid: &Sid) -> String {
    format!("/engine.io/?EIO=4&transport=polling&sid={}", sid.as_str())
}

fn poll(addr: SocketAddr, sid: &Sid) -> (u16, Vec<u8>) {
    http(addr, "GET", &target(sid), b"")
}

fn post(addr: SocketAddr, sid: &Sid, body: &[u8]) -> (u16, Vec<u8>) {
    http(addr, "POST", &target(sid), body)
}

fn websocket(addr: SocketAddr, query: &str) -> WsClient {
    let ws = client::connect(
        &format!("ws://{addr}/engine.io/?EIO=4&transport=websocket{query}"),
        &[],
        WsConfig::default(),
    )
    .unwrap();
    ws.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    ws
}

/// The next text or binary message (or the close code as `Close`).
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
fn handshake_and_polling_echo_text_and_binary() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let info = handshake(server.addr);
        assert_eq!(info.upgrades, vec![Transport::WebSocket]);
        assert_eq!(info.ping_interval, Duration::from_secs(25));
        assert_eq!(info.ping_timeout, Duration::from_secs(20));
        assert_eq!(info.max_payload, 1_000_000);
        assert!(info.sid.as_str().len() >= 20, "120 bits or more");
        let sid = info.sid;
        assert_eq!(post(server.addr, &sid, b"4hello"), (200, b"ok".to_vec()));
        assert_eq!(
            poll(server.addr, &sid),
            (200, b"4hello".to_vec()),
            "{driver}"
        );
        // Two packets in one POST, a binary one among them (1, 2, 3, 255).
        let (status, _) = post(server.addr, &sid, b"4caf\xc3\xa9\x1ebAQID/w==");
        assert_eq!(status, 200);
        // The echoes are sent one by one: a poll may catch only the first.
        let mut echoed = Vec::new();
        while echoed.len() < 2 {
            let (status, body) = poll(server.addr, &sid);
            assert_eq!(status, 200, "{driver}");
            echoed.extend(body.split(|&b| b == 0x1e).map(<[u8]>::to_vec));
        }
        assert_eq!(
            echoed,
            vec!["4café".as_bytes().to_vec(), b"bAQID/w==".to_vec()],
            "{driver}"
        );
        // The page is plain HTTP on the same port.
        let (status, page) = http(server.addr, "GET", "/", b"");
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&page).contains("Engine.IO"));
        assert_eq!(http(server.addr, "GET", "/nope", b"").0, 404);
    }
}

/// A poll held on one connection is answered by a POST on another.
#[test]
fn a_held_poll_is_answered_by_a_post_on_another_connection() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let addr = server.addr;
        let sid = handshake(addr).sid;
        let s = sid.clone();
        let held = thread::spawn(move || poll(addr, &s));
        thread::sleep(Duration::from_millis(200));
        assert_eq!(post(addr, &sid, b"4later").0, 200);
        assert_eq!(held.join().unwrap(), (200, b"4later".to_vec()), "{driver}");
    }
}

#[test]
fn error_codes_are_400_with_json() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let addr = server.addr;
        let cases: [(&str, &str, &[u8]); 4] = [
            (
                "GET",
                "/engine.io/?EIO=4&transport=carrier-pigeon",
                br#"{"code":0,"message":"Transport unknown"}"#,
            ),
            (
                "GET",
                "/engine.io/?EIO=4&transport=polling&sid=nope",
                br#"{"code":1,"message":"Session ID unknown"}"#,
            ),
            (
                "POST",
                "/engine.io/?EIO=4&transport=polling",
                br#"{"code":2,"message":"Bad handshake method"}"#,
            ),
            (
                "GET",
                "/engine.io/?EIO=3&transport=polling",
                br#"{"code":5,"message":"Unsupported protocol version"}"#,
            ),
        ];
        for (method, target, json) in cases {
            let (status, body) = http(addr, method, target, b"");
            assert_eq!(status, 400, "{driver} {target}");
            assert_eq!(body, json, "{driver} {target}");
        }
        // Code 3: a WebSocket transport without the upgrade.
        let sid = handshake(addr).sid;
        let (status, body) = http(
            addr,
            "GET",
            &format!("/engine.io/?EIO=4&transport=websocket&sid={}", sid.as_str()),
            b"",
        );
        assert_eq!(status, 400);
        assert_eq!(body, br#"{"code":3,"message":"Bad request"}"#);
        // Two polls at once: the second is a protocol error that closes the
        // session, and the held one is answered with a close packet.
        let s = sid.clone();
        let held = thread::spawn(move || poll(addr, &s));
        thread::sleep(Duration::from_millis(200));
        let second = poll(addr, &sid);
        let mut both = [held.join().unwrap(), second];
        both.sort(); // whichever arrived first is the held one
        assert_eq!(both[0], (200, b"1".to_vec()), "{driver}");
        assert_eq!(both[1].0, 400, "{driver}");
    }
}

#[test]
fn payloads_over_max_payload_are_refused() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver, "--max-payload", "1000"]);
        let addr = server.addr;
        let sid = handshake(addr).sid;
        let mut exactly = vec![b'x'; 1000];
        exactly[0] = b'4';
        assert_eq!(post(addr, &sid, &exactly).0, 200, "{driver}");
        let over = [exactly.clone(), b"x".to_vec()].concat();
        assert_eq!(post(addr, &sid, &over).0, 413, "{driver}");
        // The session survives a 413.
        assert_eq!(poll(addr, &sid).1, exactly, "{driver}");
        // On a WebSocket, too large a message closes the session with 1009.
        let mut ws = websocket(addr, "");
        assert!(matches!(next(&mut ws), WsMessage::Text(open) if open.starts_with('0')));
        ws.send_text(&"4".repeat(1001)).unwrap();
        assert!(
            matches!(next(&mut ws), WsMessage::Close(1009, _)),
            "{driver}"
        );
    }
}

#[test]
fn upgrade_from_polling_to_websocket() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let addr = server.addr;
        let sid = handshake(addr).sid;
        let s = sid.clone();
        let held = thread::spawn(move || poll(addr, &s));
        thread::sleep(Duration::from_millis(100));
        let mut ws = websocket(addr, &format!("&sid={}", sid.as_str()));
        ws.send_text("2probe").unwrap();
        assert_eq!(next(&mut ws), text("3probe"), "{driver}");
        // The held poll is let go with a noop, then the client upgrades.
        assert_eq!(held.join().unwrap(), (200, b"6".to_vec()), "{driver}");
        ws.send_text("5").unwrap();
        ws.send_text("4on the websocket").unwrap();
        assert_eq!(next(&mut ws), text("4on the websocket"), "{driver}");
        ws.send_binary(&[0, 1, 2, 255]).unwrap();
        assert_eq!(next(&mut ws), WsMessage::Binary(vec![0, 1, 2, 255]));
        // Polling is over for this session.
        assert_eq!(poll(addr, &sid).0, 400);
    }
}

#[test]
fn websocket_only_sessions_echo() {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        let mut ws = websocket(server.addr, "");
        let WsMessage::Text(open) = next(&mut ws) else {
            panic!("{driver}: no open packet")
        };
        let info = OpenInfo::from_json(&open[1..]).unwrap();
        assert!(info.upgrades.is_empty(), "{driver}");
        ws.send_text("4ws only").unwrap();
        assert_eq!(next(&mut ws), text("4ws only"));
        ws.send_binary(b"\x00bin").unwrap();
        assert_eq!(next(&mut ws), WsMessage::Binary(b"\x00bin".to_vec()));
        ws.send_text("1").unwrap(); // the client closes the session
        assert!(matches!(next(&mut ws), WsMessage::Close(..)), "{driver}");
    }
}

#[test]
fn a_client_that_stops_answering_pings_times_out() {
    for driver in DRIVERS {
        let server = Server::start(
            SERVER,
            &[
                "--driver",
                driver,
                "--ping-interval-ms",
                "200",
                "--ping-timeout-ms",
                "200",
            ],
        );
        let addr = server.addr;
        // Polling: the held poll is answered by the ping; no pong follows.
        let sid = handshake(addr).sid;
        assert_eq!(poll(addr, &sid), (200, b"2".to_vec()), "{driver}");
        thread::sleep(Duration::from_millis(600));
        assert_eq!(poll(addr, &sid).0, 400, "{driver}: the session is gone");
        // A client that answers keeps its session through several pings.
        let sid = handshake(addr).sid;
        for _ in 0..3 {
            assert_eq!(poll(addr, &sid), (200, b"2".to_vec()), "{driver}");
            assert_eq!(post(addr, &sid, b"3").0, 200);
        }
        // WebSocket: pings arrive, unanswered; the server closes.
        let mut ws = websocket(addr, "");
        assert!(matches!(next(&mut ws), WsMessage::Text(o) if o.starts_with('0')));
        assert_eq!(next(&mut ws), text("2"), "{driver}");
        let started = Instant::now();
        assert!(matches!(next(&mut ws), WsMessage::Close(..)), "{driver}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

/// The issue's test: 1,000 messages sent from another thread while the
/// client upgrades, all delivered, none twice, in order.
#[test]
fn a_thousand_messages_sent_during_the_upgrade_arrive_once_in_order() {
    const N: usize = 1000;
    for driver in DRIVERS {
        let (engine, events) = EngineIo::new(EngineIoConfig {
            session: SessionConfig {
                max_queue: 2 * N,
                ..SessionConfig::default()
            },
            ..EngineIoConfig::default()
        });
        let (addr, shutdown) = serve(&engine, driver);
        let sender = engine.clone();
        let app = thread::spawn(move || {
            let Ok(EioEvent::Open(sid, _)) = events.recv() else {
                panic!("no open event")
            };
            for i in 0..N {
                sender.send(&sid, Payload::Text(i.to_string())).unwrap();
                if i % 5 == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            events
        });
        let sid = handshake(addr).sid;
        let mut got: Vec<usize> = Vec::new();
        let take = |got: &mut Vec<usize>, packets: &str| {
            for p in packets.split('\x1e').filter(|p| p.starts_with('4')) {
                got.push(p[1..].parse().unwrap());
            }
        };
        // One poll, then the upgrade while the sender runs.
        let (_, body) = poll(addr, &sid);
        take(&mut got, &String::from_utf8(body).unwrap());
        let mut ws = websocket(addr, &format!("&sid={}", sid.as_str()));
        ws.send_text("2probe").unwrap();
        assert_eq!(next(&mut ws), text("3probe"));
        // Drain polling until the noop lets it go.
        loop {
            let (status, body) = poll(addr, &sid);
            assert_eq!(status, 200, "{driver}");
            let body = String::from_utf8(body).unwrap();
            take(&mut got, &body);
            if body.split('\x1e').any(|p| p == "6") {
                break;
            }
        }
        ws.send_text("5").unwrap();
        while got.len() < N {
            match next(&mut ws) {
                WsMessage::Text(t) => take(&mut got, &t),
                other => panic!("{driver}: {other:?}"),
            }
        }
        assert_eq!(got, (0..N).collect::<Vec<_>>(), "{driver}");
        let events = app.join().unwrap();
        assert!(matches!(events.recv().unwrap(), EioEvent::Upgraded(s) if s == sid));
        shutdown.shutdown();
        engine.shutdown();
    }
}
