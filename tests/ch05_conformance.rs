//! Chapter 5: the protocol behaviours that the official Engine.IO and
//! Socket.IO conformance suites check, checked here in our own words,
//! byte for byte over raw HTTP and WebSocket, against the real
//! `ch05-eio-server` and `ch05-sio-server` on both drivers, run the way the
//! suites run a server: `--ping-interval-ms 300 --ping-timeout-ms 200
//! --max-payload 1000000`.
//!
//! The suites themselves (mocha, third-party code) are not part of the
//! project; `book/src/testing.md` says how to run them as a referee. These
//! tests keep the project passing without them: the behaviours the suites
//! found wrong (a client's close packet ends its held poll with a noop; a
//! second WebSocket for a session that has one is accepted and closed; a
//! request after the pong deadline finds the session gone; the server's
//! `auth`, `message-back` and `message-with-ack` on `/` and `/custom`) and
//! the ones around them.

mod common;

use common::{IO_TIMEOUT, Server, serve};
use netladder::engineio::{OpenInfo, Sid, Transport};
use netladder::socketio::glue::engine_config;
use netladder::socketio::{Config, Handlers, Server as SioServer, SocketIo, Value};
use netladder::ws::client::{self, WsClient};
use netladder::ws::{Config as WsConfig, WsMessage};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

const EIO_SERVER: &str = env!("CARGO_BIN_EXE_ch05-eio-server");
const SIO_SERVER: &str = env!("CARGO_BIN_EXE_ch05-sio-server");
const DRIVERS: [&str; 2] = ["threads", "mio"];
/// The suites' settings.
const PING_INTERVAL: Duration = Duration::from_millis(300);
const PING_TIMEOUT: Duration = Duration::from_millis(200);

/// A server as the suites want it: `pingInterval` 300 ms, `pingTimeout`
/// 200 ms, `maxPayload` 1,000,000 bytes.
fn start(binary: &str, driver: &str) -> Server {
    Server::start(
        binary,
        &[
            "--driver",
            driver,
            "--ping-interval-ms",
            "300",
            "--ping-timeout-ms",
            "200",
            "--max-payload",
            "1000000",
        ],
    )
}

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

/// Engine.IO under `path` (`/engine.io/` or `/socket.io/`).
struct Eio {
    addr: SocketAddr,
    path: &'static str,
}

impl Eio {
    /// Engine.IO at its own path, as `ch05-eio-server` serves it.
    fn engine_io(addr: SocketAddr) -> Eio {
        Eio {
            addr,
            path: "/engine.io/",
        }
    }

    /// Engine.IO under Socket.IO's path.
    fn socketio(addr: SocketAddr) -> Eio {
        Eio {
            addr,
            path: "/socket.io/",
        }
    }

    /// A poll held on a connection of its own (answered on a thread),
    /// after giving the server 200 ms to receive it.
    fn hold_poll(&self, sid: &Sid) -> thread::JoinHandle<(u16, Vec<u8>)> {
        let (addr, target) = (self.addr, self.polling(sid));
        let held = thread::spawn(move || http(addr, "GET", &target, b""));
        thread::sleep(Duration::from_millis(200));
        held
    }

    fn target(&self, query: &str) -> String {
        format!("{}?{query}", self.path)
    }

    fn polling(&self, sid: &Sid) -> String {
        self.target(&format!("EIO=4&transport=polling&sid={}", sid.as_str()))
    }

    fn get(&self, query: &str) -> (u16, Vec<u8>) {
        http(self.addr, "GET", &self.target(query), b"")
    }

    /// A polling handshake: the open packet's contents.
    fn handshake(&self) -> OpenInfo {
        let (status, body) = self.get("EIO=4&transport=polling");
        assert_eq!(status, 200);
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with('0'), "{text}");
        OpenInfo::from_json(&text[1..]).unwrap()
    }

    fn poll(&self, sid: &Sid) -> (u16, Vec<u8>) {
        http(self.addr, "GET", &self.polling(sid), b"")
    }

    fn post(&self, sid: &Sid, body: &[u8]) -> (u16, Vec<u8>) {
        http(self.addr, "POST", &self.polling(sid), body)
    }

    /// A WebSocket on `query`; `Err` if the handshake is refused.
    fn try_websocket(&self, query: &str) -> std::io::Result<WsClient> {
        let url = format!("ws://{}{}", self.addr, self.target(query));
        let ws = client::connect(&url, &[], WsConfig::default())?;
        ws.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Ok(ws)
    }

    fn websocket(&self, query: &str) -> WsClient {
        self.try_websocket(query).unwrap()
    }

    /// A WebSocket-only session, past its open packet.
    fn websocket_session(&self) -> WsClient {
        let mut ws = self.websocket("EIO=4&transport=websocket");
        let WsMessage::Text(open) = next(&mut ws) else {
            panic!("no open packet")
        };
        assert!(open.starts_with('0'), "{open}");
        ws
    }
}

/// The next text or binary message, or the close (`Close(1006)` if the
/// connection just ended or broke).
fn next(ws: &mut WsClient) -> WsMessage {
    loop {
        match ws.recv() {
            Ok(Some(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            Ok(Some(message)) => return message,
            Ok(None) => return WsMessage::Close(1006, String::new()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("nothing came in {IO_TIMEOUT:?}")
            }
            Err(_) => return WsMessage::Close(1006, String::new()),
        }
    }
}

/// Like [`next`], answering Engine.IO pings (`2`) on the way.
fn next_packet(ws: &mut WsClient) -> WsMessage {
    loop {
        match next(ws) {
            WsMessage::Text(t) if t == "2" => ws.send_text("3").unwrap(),
            other => return other,
        }
    }
}

fn text(s: &str) -> WsMessage {
    WsMessage::Text(s.to_string())
}

/// Whether the server closes the WebSocket next (after its Engine.IO
/// close packet `1`, if it sends one, and any ping, left unanswered).
fn closes(ws: &mut WsClient) -> bool {
    loop {
        match next(ws) {
            WsMessage::Close(..) => return true,
            WsMessage::Text(t) if t == "1" || t == "2" => continue,
            other => {
                eprintln!("instead of a close: {other:?}");
                return false;
            }
        }
    }
}

// --- Engine.IO ------------------------------------------------------------

#[test]
fn eio_handshakes_and_their_refusals() {
    for driver in DRIVERS {
        let server = start(EIO_SERVER, driver);
        let eio = Eio::engine_io(server.addr);
        let info = eio.handshake();
        assert_eq!(info.upgrades, vec![Transport::WebSocket]);
        assert_eq!(info.ping_interval, PING_INTERVAL);
        assert_eq!(info.ping_timeout, PING_TIMEOUT);
        assert_eq!(info.max_payload, 1_000_000);
        let mut ws = eio.websocket("EIO=4&transport=websocket");
        let WsMessage::Text(open) = next(&mut ws) else {
            panic!("{driver}: no open packet")
        };
        let info = OpenInfo::from_json(&open[1..]).unwrap();
        assert!(
            info.upgrades.is_empty(),
            "{driver}: no upgrade from a WebSocket"
        );
        // A missing or bad EIO or transport, a handshake by POST or PUT.
        for query in ["transport=polling", "EIO=abc&transport=polling"] {
            assert_eq!(eio.get(query).0, 400, "{driver} {query}");
        }
        for query in ["EIO=4", "EIO=4&transport=abc"] {
            assert_eq!(eio.get(query).0, 400, "{driver} {query}");
        }
        for method in ["POST", "PUT"] {
            let target = eio.target("EIO=4&transport=polling");
            assert_eq!(http(eio.addr, method, &target, b"").0, 400, "{method}");
        }
        for query in [
            "transport=websocket",
            "EIO=abc&transport=websocket",
            "EIO=4",
        ] {
            assert!(eio.try_websocket(query).is_err(), "{driver} {query}");
        }
    }
}

#[test]
fn eio_polling_payloads_and_what_ends_a_session() {
    for driver in DRIVERS {
        let server = start(EIO_SERVER, driver);
        let eio = Eio::engine_io(server.addr);
        for payload in [
            &b"4hello"[..],
            b"4test1\x1e4test2\x1e4test3",
            b"4hello\x1ebAQIDBA==",
        ] {
            let sid = eio.handshake().sid;
            assert_eq!(eio.post(&sid, payload), (200, b"ok".to_vec()), "{driver}");
            assert_eq!(eio.poll(&sid), (200, payload.to_vec()), "{driver}");
        }
        // A malformed payload: 400, and the session is gone.
        let sid = eio.handshake().sid;
        assert_eq!(eio.post(&sid, b"abc").0, 400, "{driver}");
        assert_eq!(eio.poll(&sid).0, 400, "{driver}");
        // A second concurrent poll: the first ends with a close packet,
        // the second is refused, and so is any after.
        let sid = eio.handshake().sid;
        let held = eio.hold_poll(&sid);
        assert_eq!(eio.poll(&sid).0, 400, "{driver}");
        assert_eq!(held.join().unwrap(), (200, b"1".to_vec()), "{driver}");
        assert_eq!(eio.poll(&sid).0, 400, "{driver}");
        // WebSocket: text and binary echo, and a malformed packet closes.
        let mut ws = eio.websocket_session();
        ws.send_text("4hello").unwrap();
        assert_eq!(next(&mut ws), text("4hello"), "{driver}");
        ws.send_binary(&[1, 2, 3, 4]).unwrap();
        assert_eq!(next(&mut ws), WsMessage::Binary(vec![1, 2, 3, 4]));
        ws.send_text("abc").unwrap();
        assert!(closes(&mut ws), "{driver}");
    }
}

/// The client's close packet on polling: the poll it holds ends with a
/// noop (it knows it is leaving), and the session is gone.
#[test]
fn a_client_close_ends_its_held_poll_with_a_noop() {
    for driver in DRIVERS {
        let server = start(EIO_SERVER, driver);
        let eio = Eio::engine_io(server.addr);
        let sid = eio.handshake().sid;
        let held = eio.hold_poll(&sid);
        assert_eq!(eio.post(&sid, b"1"), (200, b"ok".to_vec()), "{driver}");
        assert_eq!(held.join().unwrap(), (200, b"6".to_vec()), "{driver}");
        assert_eq!(eio.poll(&sid).0, 400, "{driver}");
        // On a WebSocket, the close packet closes it.
        let mut ws = eio.websocket_session();
        ws.send_text("1").unwrap();
        assert!(closes(&mut ws), "{driver}");
    }
}

#[test]
fn heartbeats_on_both_transports_and_their_timeout() {
    for driver in DRIVERS {
        let server = start(EIO_SERVER, driver);
        let eio = Eio::engine_io(server.addr);
        // Polling: three pings, each answered.
        let sid = eio.handshake().sid;
        for _ in 0..3 {
            assert_eq!(eio.poll(&sid), (200, b"2".to_vec()), "{driver}");
            assert_eq!(eio.post(&sid, b"3").0, 200, "{driver}");
        }
        // A client that never answers is gone `pingInterval +
        // pingTimeout` after the handshake, whenever it next asks.
        let sid = eio.handshake().sid;
        thread::sleep(PING_INTERVAL + PING_TIMEOUT);
        assert_eq!(eio.poll(&sid).0, 400, "{driver}");
        // WebSocket: the same.
        let mut ws = eio.websocket_session();
        for _ in 0..3 {
            assert_eq!(next(&mut ws), text("2"), "{driver}");
            ws.send_text("3").unwrap();
        }
        let mut silent = eio.websocket_session();
        assert!(closes(&mut silent), "{driver}");
    }
}

#[test]
fn the_upgrade_and_what_comes_after_it() {
    for driver in DRIVERS {
        let server = start(EIO_SERVER, driver);
        let eio = Eio::engine_io(server.addr);
        let sid = eio.handshake().sid;
        let mut ws = eio.websocket(&format!("EIO=4&transport=websocket&sid={}", sid.as_str()));
        ws.send_text("2probe").unwrap();
        assert_eq!(next(&mut ws), text("3probe"), "{driver}");
        // Polling is paused: a poll now is a noop.
        assert_eq!(eio.poll(&sid), (200, b"6".to_vec()), "{driver}");
        ws.send_text("5").unwrap();
        ws.send_text("4hello").unwrap();
        assert_eq!(next(&mut ws), text("4hello"), "{driver}");
        // After the upgrade, a poll on the sid is refused...
        assert_eq!(eio.poll(&sid).0, 400, "{driver}");
        // ...and so is a POST.
        assert_eq!(eio.post(&sid, b"4late").0, 400, "{driver}");
    }
}

/// A second WebSocket for a session that already has one is accepted,
/// then closed at once (1008); the session and its own WebSocket carry on.
#[test]
fn a_second_websocket_for_an_upgraded_session_is_closed_and_changes_nothing() {
    for driver in DRIVERS {
        let server = start(EIO_SERVER, driver);
        let eio = Eio::engine_io(server.addr);
        let sid = eio.handshake().sid;
        let query = format!("EIO=4&transport=websocket&sid={}", sid.as_str());
        let mut ws = eio.websocket(&query);
        ws.send_text("2probe").unwrap();
        assert_eq!(next(&mut ws), text("3probe"), "{driver}");
        ws.send_text("5").unwrap();
        ws.send_text("4first").unwrap();
        assert_eq!(next(&mut ws), text("4first"), "{driver}");
        let mut second = eio
            .try_websocket(&query)
            .unwrap_or_else(|e| panic!("{driver}: the handshake was refused: {e}"));
        assert_eq!(next(&mut second), WsMessage::Close(1008, String::new()));
        ws.send_text("4hello").unwrap();
        assert_eq!(next(&mut ws), text("4hello"), "{driver}");
    }
}

/// The same during the probe: the second WebSocket is closed, the probe
/// completes the upgrade.
#[test]
fn a_second_websocket_during_a_probe_is_closed_and_the_probe_goes_on() {
    for driver in DRIVERS {
        let server = start(EIO_SERVER, driver);
        let eio = Eio::engine_io(server.addr);
        let sid = eio.handshake().sid;
        let query = format!("EIO=4&transport=websocket&sid={}", sid.as_str());
        let mut probe = eio.websocket(&query);
        let mut second = eio
            .try_websocket(&query)
            .unwrap_or_else(|e| panic!("{driver}: the handshake was refused: {e}"));
        assert_eq!(next(&mut second), WsMessage::Close(1008, String::new()));
        probe.send_text("2probe").unwrap();
        assert_eq!(next(&mut probe), text("3probe"), "{driver}");
        probe.send_text("5").unwrap();
        probe.send_text("4on the probe").unwrap();
        assert_eq!(next(&mut probe), text("4on the probe"), "{driver}");
    }
}

// --- Socket.IO ------------------------------------------------------------

fn sio(server: &Server) -> Eio {
    Eio::socketio(server.addr)
}

/// A WebSocket session that sent `connect` (a CONNECT packet's text,
/// without the Engine.IO `4`) and got the answer; returns the answer.
fn sio_connect(ws: &mut WsClient, connect: &str) -> String {
    ws.send_text(&format!("4{connect}")).unwrap();
    match next_packet(ws) {
        WsMessage::Text(t) => t,
        other => panic!("no CONNECT answer: {other:?}"),
    }
}

/// The CONNECT answer `answer` for `nsp_prefix` (`40` or `40/custom,`):
/// its payload has exactly one key, `sid`, a string.
fn assert_connected(answer: &str, nsp_prefix: &str) {
    let json = answer
        .strip_prefix(nsp_prefix)
        .unwrap_or_else(|| panic!("{answer} does not start with {nsp_prefix}"));
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let object = value.as_object().expect("an object");
    assert_eq!(object.len(), 1, "{answer}");
    assert!(object["sid"].is_string(), "{answer}");
}

/// Connected to `/`, past the CONNECT answer and the `auth` event.
fn sio_session(eio: &Eio) -> WsClient {
    let mut ws = eio.websocket_session();
    assert_connected(&sio_connect(&mut ws, "0"), "40");
    assert_eq!(next_packet(&mut ws), text(r#"42["auth",{}]"#));
    ws
}

#[test]
fn connecting_to_main_and_custom_namespaces_echoes_the_auth() {
    for driver in DRIVERS {
        let server = start(SIO_SERVER, driver);
        let eio = sio(&server);
        for (connect, prefix, auth) in [
            ("0", "40", r#"42["auth",{}]"#),
            (r#"0{"token":"123"}"#, "40", r#"42["auth",{"token":"123"}]"#),
            ("0/custom,", "40/custom,", r#"42/custom,["auth",{}]"#),
            (
                r#"0/custom,{"token":"abc"}"#,
                "40/custom,",
                r#"42/custom,["auth",{"token":"abc"}]"#,
            ),
            // A namespace with nothing after it needs no comma.
            ("0/custom", "40/custom,", r#"42/custom,["auth",{}]"#),
        ] {
            let mut ws = eio.websocket_session();
            assert_connected(&sio_connect(&mut ws, connect), prefix);
            assert_eq!(next_packet(&mut ws), text(auth), "{driver} {connect}");
        }
        // An unknown namespace is refused; the connection stays.
        let mut ws = eio.websocket_session();
        assert_eq!(
            sio_connect(&mut ws, "0/random"),
            r#"44/random,{"message":"Invalid namespace"}"#
        );
        // A malformed first packet, or none at all, closes the connection.
        let mut ws = eio.websocket_session();
        ws.send_text("4abc").unwrap();
        assert!(closes(&mut ws), "{driver}");
        let mut ws = eio.websocket_session();
        assert!(closes(&mut ws), "{driver}: no CONNECT");
    }
}

#[test]
fn message_back_and_acks_with_text_and_binary() {
    for driver in DRIVERS {
        let server = start(SIO_SERVER, driver);
        let eio = sio(&server);
        let mut ws = sio_session(&eio);
        ws.send_text(r#"42["message",1,"2",{"3":[true]}]"#).unwrap();
        assert_eq!(
            next_packet(&mut ws),
            text(r#"42["message-back",1,"2",{"3":[true]}]"#),
            "{driver}"
        );
        ws.send_text(
            r#"452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        )
        .unwrap();
        ws.send_binary(&[1, 2, 3]).unwrap();
        ws.send_binary(&[4, 5, 6]).unwrap();
        assert_eq!(
            next_packet(&mut ws),
            text(
                r#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
            ),
            "{driver}"
        );
        assert_eq!(next_packet(&mut ws), WsMessage::Binary(vec![1, 2, 3]));
        assert_eq!(next_packet(&mut ws), WsMessage::Binary(vec![4, 5, 6]));
        ws.send_text(r#"42456["message-with-ack",1,"2",{"3":[false]}]"#)
            .unwrap();
        assert_eq!(
            next_packet(&mut ws),
            text(r#"43456[1,"2",{"3":[false]}]"#),
            "{driver}"
        );
        ws.send_text(
            r#"452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        )
        .unwrap();
        ws.send_binary(&[1, 2, 3]).unwrap();
        ws.send_binary(&[4, 5, 6]).unwrap();
        assert_eq!(
            next_packet(&mut ws),
            text(r#"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
            "{driver}"
        );
        assert_eq!(next_packet(&mut ws), WsMessage::Binary(vec![1, 2, 3]));
        assert_eq!(next_packet(&mut ws), WsMessage::Binary(vec![4, 5, 6]));
        // The chapter's own `echo` is still there.
        ws.send_text(r#"427["echo","hi"]"#).unwrap();
        assert_eq!(next_packet(&mut ws), text(r#"437["hi"]"#), "{driver}");
    }
}

#[test]
fn malformed_socketio_packets_close_the_connection() {
    for driver in DRIVERS {
        let server = start(SIO_SERVER, driver);
        let eio = sio(&server);
        for bad in [
            "4abc",
            "42{}",
            r#"42abc["message-with-ack",1,"2",{"3":[false]}]"#,
        ] {
            let mut ws = sio_session(&eio);
            ws.send_text(bad).unwrap();
            assert!(closes(&mut ws), "{driver}: {bad}");
        }
    }
}

#[test]
fn leaving_a_namespace_keeps_the_connection_and_the_others() {
    for driver in DRIVERS {
        let server = start(SIO_SERVER, driver);
        let eio = sio(&server);
        // Leaving `/`, the only namespace: the connection stays, and the
        // next thing to come is the server's ping.
        let mut ws = sio_session(&eio);
        ws.send_text("41").unwrap();
        assert_eq!(next(&mut ws), text("2"), "{driver}");
        // Joining /custom then leaving it: `/` still answers.
        let mut ws = sio_session(&eio);
        assert_connected(&sio_connect(&mut ws, "0/custom"), "40/custom,");
        assert_eq!(next_packet(&mut ws), text(r#"42/custom,["auth",{}]"#));
        ws.send_text("41/custom").unwrap();
        ws.send_text(r#"42["message","message to main namespace"]"#)
            .unwrap();
        assert_eq!(
            next_packet(&mut ws),
            text(r#"42["message-back","message to main namespace"]"#),
            "{driver}"
        );
    }
}

/// The Engine.IO rules hold the same under `/socket.io/`, where a polling
/// session's first poll carries only what the server has to say.
#[test]
fn socketio_engine_rules_under_its_own_path() {
    for driver in DRIVERS {
        let server = start(SIO_SERVER, driver);
        let eio = sio(&server);
        let info = eio.handshake();
        assert_eq!(info.upgrades, vec![Transport::WebSocket]);
        assert_eq!(
            (info.ping_interval, info.ping_timeout, info.max_payload),
            (PING_INTERVAL, PING_TIMEOUT, 1_000_000)
        );
        let sid = info.sid;
        let held = eio.hold_poll(&sid);
        assert_eq!(eio.post(&sid, b"1").0, 200, "{driver}");
        assert_eq!(held.join().unwrap(), (200, b"6".to_vec()), "{driver}");
        assert_eq!(eio.poll(&sid).0, 400, "{driver}");
        let sid = eio.handshake().sid;
        thread::sleep(PING_INTERVAL + PING_TIMEOUT);
        assert_eq!(eio.poll(&sid).0, 400, "{driver}");
    }
}

/// Where a handler runs: on the thread that read its packet, as the
/// Engine.IO hook hands it over. Under mio that is the event loop, so a
/// handler that blocks holds up every connection of the server, even a
/// plain HTTP request for a page (the async-mode lesson); under threads it
/// is the connection's own thread, and another connection's request is
/// answered meanwhile. (Before the hook, a thread of the glue's own ran
/// every handler, and the loop went on serving pages.)
#[test]
fn a_blocking_handler_stalls_the_event_loop_but_not_the_other_threads() {
    const BLOCK: Duration = Duration::from_millis(1500);
    for driver in DRIVERS {
        let (started_tx, started) = mpsc::channel::<()>();
        let started_tx = Mutex::new(started_tx);
        let io = SocketIo::start(engine_config(), SioServer::new(Config::default()), |_| {
            let mut handlers = Handlers::default();
            handlers.on("/", "block", move |_, _| {
                let _ = started_tx.lock().unwrap().send(());
                thread::sleep(BLOCK);
            });
            handlers
        });
        let (addr, shutdown) = serve(io.engine(), driver);
        let mut ws = Eio::socketio(addr).websocket_session();
        assert_connected(&sio_connect(&mut ws, "0"), "40");
        ws.send_text(r#"42["block"]"#).unwrap();
        started.recv_timeout(IO_TIMEOUT).unwrap();
        let asked = Instant::now();
        let (status, _) = http(addr, "GET", "/", b"");
        let took = asked.elapsed();
        assert_eq!(status, 404, "{driver}");
        match driver {
            "mio" => assert!(took >= BLOCK / 2, "mio answered in {took:?}"),
            _ => assert!(took < BLOCK / 2, "threads answered in {took:?}"),
        }
        io.shutdown();
        shutdown.shutdown();
    }
}

/// The CONNECT's answer leaves before the namespace's connection handlers
/// run, as Node's socket.io sends it before it emits `connection`: a
/// handler that waits until its client holds the answer does not wait in
/// vain. (Sent together after the handlers, the answer and the handler's
/// first emit reach the client in one read, which the official suite's
/// harness cannot take apart.)
#[test]
fn the_connect_answer_leaves_before_the_connection_handlers_run() {
    for driver in DRIVERS {
        let (client_has_it, handler_waits) = mpsc::channel::<()>();
        let handler_waits = Mutex::new(handler_waits);
        let io = SocketIo::start(engine_config(), SioServer::new(Config::default()), |_| {
            let mut handlers = Handlers::default();
            handlers.on_connect("/", move |io, socket, _| {
                let waits = handler_waits.lock().unwrap();
                let seen = waits.recv_timeout(Duration::from_secs(3)).is_ok();
                let _ = io.emit(socket, "answer-seen", vec![Value::from(seen)]);
            });
            handlers
        });
        let (addr, shutdown) = serve(io.engine(), driver);
        let mut ws = Eio::socketio(addr).websocket_session();
        let answer = sio_connect(&mut ws, "0");
        assert_connected(&answer, "40");
        client_has_it.send(()).unwrap();
        assert_eq!(
            next_packet(&mut ws),
            text(r#"42["answer-seen",true]"#),
            "{driver}"
        );
        io.shutdown();
        shutdown.shutdown();
    }
}
