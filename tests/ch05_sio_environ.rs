//! Chapter 5: a Socket.IO middleware reads the handshake request (Node's
//! `socket.handshake`, python-socketio's `environ`). An in-process
//! [`SocketIo`] on both drivers refuses a `CONNECT` whose handshake has no
//! token (`CONNECT_ERROR`) and accepts one that has it: in an `X-Token`
//! header on polling (raw HTTP), in the query on a WebSocket-only client
//! (whose handshake request is its upgrade request).

mod common;

use common::{IO_TIMEOUT, serve};
use netladder::engineio::OpenInfo;
use netladder::socketio::glue::engine_config;
use netladder::socketio::{Config, ConnectError, Environ, Handlers, Server as SioServer, SocketIo};
use netladder::ws::client::{self, WsClient};
use netladder::ws::{Config as WsConfig, WsMessage};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::mpsc;

const DRIVERS: [&str; 2] = ["threads", "mio"];

/// A server whose `/` middleware wants `s3cret` in the query's `token` or
/// the `X-Token` header; each connected socket's environ goes to `seen`.
fn guarded(seen: mpsc::Sender<Environ>) -> SocketIo {
    let mut server = SioServer::new(Config::default());
    server.namespace("/").middleware(|c| {
        let token = c
            .environ
            .query_param("token")
            .or(c.environ.header("x-token"));
        match token {
            Some("s3cret") => Ok(()),
            _ => Err(ConnectError::new("no token")),
        }
    });
    let seen = Mutex::new(seen);
    SocketIo::start(engine_config(), server, |_| {
        let mut handlers = Handlers::default();
        handlers.on_connect("/", move |io, socket, _| {
            let environ = io.environ(socket).expect("a live socket").clone();
            let _ = seen.lock().unwrap().send(environ);
        });
        handlers
    })
}

/// One request on its own connection: status and body.
fn http(addr: SocketAddr, method: &str, target: &str, extra: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n{extra}\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole head");
    (head[9..12].parse().unwrap(), body.to_string())
}

/// A polling client's handshake (with `extra` header lines), `CONNECT`,
/// and the server's answer packet.
fn polling_connect(addr: SocketAddr, extra: &str) -> String {
    let (status, open) = http(
        addr,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        extra,
        "",
    );
    assert_eq!(status, 200, "{open}");
    let sid = OpenInfo::from_json(&open[1..]).expect("an open packet").sid;
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={}", sid.as_str());
    assert_eq!(http(addr, "POST", &target, "", "40"), (200, "ok".into()));
    let (status, answer) = http(addr, "GET", &target, "", "");
    assert_eq!(status, 200, "{answer}");
    answer
}

fn next_text(ws: &mut WsClient) -> String {
    loop {
        match ws.recv().unwrap() {
            Some(WsMessage::Text(t)) => return t,
            Some(WsMessage::Ping(_) | WsMessage::Pong(_)) => continue,
            other => panic!("expected text, got {other:?}"),
        }
    }
}

/// A WebSocket-only client's handshake with `query`, `CONNECT`, and the
/// server's answer packet.
fn websocket_connect(addr: SocketAddr, query: &str) -> String {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket{query}");
    let mut ws = client::connect(&url, &[], WsConfig::default()).unwrap();
    ws.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let open = next_text(&mut ws);
    assert!(open.starts_with("0{"), "{open}");
    ws.send_text("40").unwrap();
    next_text(&mut ws)
}

#[test]
fn middleware_checks_a_handshake_token_on_both_transports_and_drivers() {
    for driver in DRIVERS {
        let (tx, seen) = mpsc::channel();
        let io = guarded(tx);
        let (addr, shutdown) = serve(io.engine(), driver);

        // Polling: the token in a header of the handshake GET.
        let refused = polling_connect(addr, "");
        assert_eq!(refused, r#"44{"message":"no token"}"#, "{driver}");
        let accepted = polling_connect(addr, "X-Token: s3cret\r\nOrigin: http://a.example\r\n");
        assert!(
            accepted.starts_with(r#"40{"sid":""#),
            "{driver}: {accepted}"
        );
        let environ = seen.recv_timeout(IO_TIMEOUT).unwrap();
        assert_eq!(environ.address.as_deref(), Some("127.0.0.1"), "{driver}");
        assert_eq!(environ.header("origin"), Some("http://a.example"));
        assert_eq!(environ.url, "/socket.io/?EIO=4&transport=polling");
        assert!(environ.time.is_some());

        // WebSocket only: the token in the upgrade request's query.
        let refused = websocket_connect(addr, "&token=wrong");
        assert_eq!(refused, r#"44{"message":"no token"}"#, "{driver}");
        let accepted = websocket_connect(addr, "&token=s3cret");
        assert!(
            accepted.starts_with(r#"40{"sid":""#),
            "{driver}: {accepted}"
        );
        let environ = seen.recv_timeout(IO_TIMEOUT).unwrap();
        assert_eq!(environ.query_param("transport"), Some("websocket"));
        assert_eq!(environ.query_param("token"), Some("s3cret"));
        assert!(environ.header("upgrade").is_some(), "{driver}: {environ:?}");
        assert!(
            seen.try_recv().is_err(),
            "{driver}: refused sockets never connect"
        );

        io.shutdown();
        shutdown.shutdown();
    }
}
