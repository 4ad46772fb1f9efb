//! The catalogue's tools: chapter servers started in-process on either
//! driver with short timeouts, a healthy client that keeps asking while an
//! attack runs, and raw HTTP and WebSocket speech for the attacks.

use netladder::driver::{NewProtocol, Shutdown, mio, threads};
use netladder::http::{HttpProtocol, Limits, Reply, Request, Responder};
use netladder::ws::{ServerConfig, WsContext, WsHandler, WsMessage, WsServerProtocol};
use std::fs;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

#[path = "../../chapters/ch02/long_poll.rs"]
#[allow(dead_code)]
mod long_poll;
#[path = "../../chapters/ch02/static_files.rs"]
#[allow(dead_code)]
mod static_files;

/// The two drivers every case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Threads,
    Mio,
}

pub const DRIVERS: [Driver; 2] = [Driver::Threads, Driver::Mio];

/// How long a healthy client may wait for any answer while an attack runs.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(1);

/// A read timeout for attack sockets: a hang fails the case, not the run.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The drivers' own limits, shortened so that a peer that stops reading is
/// dropped within the test's time.
pub const WRITE_STALL: Duration = Duration::from_millis(500);

/// A server running in this process, stopped when this drops.
pub struct Server {
    pub addr: SocketAddr,
    pub driver: Driver,
    shutdown: Shutdown,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

pub fn start<N: NewProtocol>(driver: Driver, new_protocol: N) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (ready, shutdown) = mpsc::channel();
    let ready = move |shutdown: Shutdown| ready.send(shutdown).unwrap();
    match driver {
        Driver::Threads => {
            let config = threads::Config {
                write_timeout: WRITE_STALL,
                ..threads::Config::default()
            };
            thread::spawn(move || {
                threads::serve_with_shutdown(listener, new_protocol, config, ready)
            });
        }
        Driver::Mio => {
            let config = mio::Config {
                stall_timeout: WRITE_STALL,
                ..mio::Config::default()
            };
            thread::spawn(move || mio::serve_with_shutdown(listener, new_protocol, config, ready));
        }
    }
    Server {
        addr,
        driver,
        shutdown: shutdown.recv().expect("the server started"),
    }
}

// ---------------------------------------------------------------------------
// Chapter 2's server: static files and the long-polling demo.

/// A served folder `www/` (with `hello.txt` and a larger `big.bin`) and a
/// secret file beside it, outside the root.
pub struct Site {
    pub dir: PathBuf,
}

impl Site {
    pub fn new(name: &str) -> Site {
        let dir =
            std::env::temp_dir().join(format!("netladder-hostile-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("www/sub")).unwrap();
        fs::write(dir.join("www/hello.txt"), "hello, http\n").unwrap();
        fs::write(dir.join("www/big.bin"), vec![b'x'; 64 * 1024]).unwrap();
        fs::write(dir.join("secret.txt"), "TOP SECRET\n").unwrap();
        Site { dir }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The limits the HTTP cases run with: the defaults, with timeouts short
/// enough to watch them fire.
pub fn http_limits() -> Limits {
    Limits {
        head_timeout: Duration::from_millis(700),
        body_timeout: Duration::from_millis(700),
        ..Limits::default()
    }
}

/// Chapter 2's routes (`chapters/ch02/http_server.rs`) over its own
/// static-file and long-poll modules.
pub fn start_http(driver: Driver, site: &Site, limits: Limits) -> Server {
    let root = site.dir.join("www");
    let long_poll = long_poll::LongPoll::new(Duration::from_secs(5));
    let handler = move |request: Request, responder: Responder| match (
        request.method.as_str(),
        request.path(),
    ) {
        ("GET", "/poll") => long_poll.poll(&request, responder),
        ("POST", "/send") => Reply::Now(long_poll.send(&request)),
        _ => Reply::Now(static_files::serve(&root, &request)),
    };
    start(driver, HttpProtocol::factory(handler, limits))
}

/// One response read from `stream`: status, head, body (by Content-Length).
pub fn read_response(stream: &mut impl Read) -> io::Result<(u16, String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                format!("closed mid-head: {:?}", String::from_utf8_lossy(&head)),
            ));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    Ok((status, head, body))
}

/// Reads what is left until the server closes. A reset counts as closed:
/// either way nothing more came.
pub fn read_rest(stream: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return rest,
            Ok(n) => rest.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == ErrorKind::ConnectionReset => return rest,
            Err(err) => panic!("waiting for the server to close: {err}"),
        }
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Writes `bytes` and ignores a failure: a server that has already answered
/// and closed may reset a connection that keeps sending.
pub fn send(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes);
}

/// Sends `request` on a new connection and returns the one answer, after
/// checking that the server then closed the connection with nothing more.
pub fn answer_then_close(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = connect(addr);
    send(&mut stream, request);
    let (status, head, body) = read_response(&mut stream).expect("an answer");
    let rest = read_rest(&mut stream);
    assert!(
        rest.is_empty(),
        "nothing may follow the answer {status}: {:?}",
        String::from_utf8_lossy(&rest)
    );
    (status, head + &String::from_utf8_lossy(&body))
}

// ---------------------------------------------------------------------------
// Chapter 3's server: every path echoes (its `/chat` room is not needed here).

/// Chapter 3's echo (`chapters/ch03/ws_server.rs`, `App` outside `/chat`).
pub struct Echo;

impl WsHandler for Echo {
    fn on_message(&mut self, message: WsMessage, ws: &mut WsContext<'_>) {
        match message {
            WsMessage::Text(text) => {
                let _ = ws.send_text(&text);
            }
            WsMessage::Binary(data) => {
                let _ = ws.send_binary(&data);
            }
            _ => {} // pings are answered by the connection itself
        }
    }
}

/// The WebSocket config the cases run with: the defaults, with a short
/// handshake timeout.
pub fn ws_config() -> ServerConfig {
    ServerConfig {
        http_limits: Limits {
            head_timeout: Duration::from_millis(700),
            ..Limits::default()
        },
        ..ServerConfig::default()
    }
}

pub fn start_ws(driver: Driver, config: ServerConfig) -> Server {
    let config = Arc::new(config);
    start(driver, move |_peer| {
        WsServerProtocol::new(Echo, Arc::clone(&config))
    })
}

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// An upgrade request with `fields` (full lines, CRLF-ended) in place of
/// the key and version lines.
pub fn upgrade_with(fields: &str) -> String {
    format!(
        "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{fields}\r\n"
    )
}

pub fn upgrade_request() -> String {
    upgrade_with(&format!(
        "Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    ))
}

/// A connection past its handshake (the 101 is read and checked).
pub fn ws_open(addr: SocketAddr) -> TcpStream {
    let mut stream = connect(addr);
    stream.write_all(upgrade_request().as_bytes()).unwrap();
    let (status, head, _) = read_response(&mut stream).unwrap();
    assert_eq!(status, 101, "{head}");
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    stream
}

pub const FIN: u8 = 0x80;
pub const CONT: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame: first byte `b0` (FIN, RSV, opcode), masked with `MASK`,
/// with the shortest length encoding.
pub fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(b0, payload.len() as u64, Some(MASK));
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// An unmasked frame, as only a server may send.
pub fn unmasked_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(b0, payload.len() as u64, None);
    out.extend_from_slice(payload);
    out
}

/// A frame header claiming `len` payload bytes.
pub fn header(b0: u8, len: u64, mask: Option<[u8; 4]>) -> Vec<u8> {
    let bit = if mask.is_some() { 0x80 } else { 0 };
    let mut out = vec![b0];
    match len {
        0..=125 => out.push(bit | len as u8),
        126..=0xffff => {
            out.push(bit | 126);
            out.extend((len as u16).to_be_bytes());
        }
        _ => {
            out.push(bit | 127);
            out.extend(len.to_be_bytes());
        }
    }
    if let Some(mask) = mask {
        out.extend(mask);
    }
    out
}

/// A close frame's payload.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut out = code.to_be_bytes().to_vec();
    out.extend_from_slice(reason);
    out
}

/// One frame from the server: first byte and payload.
pub fn read_frame(stream: &mut impl Read) -> io::Result<(u8, Vec<u8>)> {
    let mut two = [0u8; 2];
    stream.read_exact(&mut two)?;
    assert_eq!(two[1] & 0x80, 0, "a server frame must not be masked");
    let len = match two[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            stream.read_exact(&mut b)?;
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            stream.read_exact(&mut b)?;
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    assert!(len <= 64 << 20, "a {len}-byte frame from the server");
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload)?;
    Ok((two[0], payload))
}

/// The next frame must be a close with `code`, and then the server must
/// close the TCP connection. Returns the close reason.
pub fn expect_close(stream: &mut TcpStream, code: u16) -> String {
    let (b0, payload) = read_frame(stream).expect("a close frame");
    assert_eq!(
        b0,
        FIN | CLOSE,
        "expected a close frame, got {b0:#x} {payload:?}"
    );
    assert!(payload.len() >= 2, "a close without a code");
    let got = u16::from_be_bytes([payload[0], payload[1]]);
    let reason = String::from_utf8_lossy(&payload[2..]).into_owned();
    assert_eq!(got, code, "close code (reason {reason:?})");
    let rest = read_rest(stream);
    assert!(rest.is_empty(), "bytes after the close frame: {rest:?}");
    reason
}

// ---------------------------------------------------------------------------
// The healthy client.

/// What kind of healthy client to run.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `GET /hello.txt` on one kept-alive connection.
    Http,
    /// A text message echoed on one WebSocket.
    Ws,
    /// An Engine.IO message (`4...`) echoed on a session over its
    /// WebSocket, the client answering the server's pings on the way.
    Eio,
    /// A Socket.IO event (`42["echo",...]`) emitted back to a socket of
    /// the main namespace, over Engine.IO on a WebSocket.
    Sio,
}

/// A client that keeps asking the server something simple, on its own
/// connection, while an attack runs. Every answer must come within
/// [`HEALTHY_WITHIN`].
pub struct Healthy {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<(usize, Duration), String>>,
    started: Instant,
}

/// One exchange of the healthy client.
fn ask(kind: Kind, stream: &mut TcpStream, round: usize) -> Result<(), String> {
    match kind {
        Kind::Http => {
            stream
                .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                .map_err(|e| format!("write: {e}"))?;
            let (status, _, body) = read_response(stream).map_err(|e| format!("read: {e}"))?;
            if status != 200 || body != b"hello, http\n" {
                return Err(format!("got {status} {body:?}"));
            }
        }
        Kind::Ws => {
            let text = format!("healthy {round}");
            stream
                .write_all(&frame(FIN | TEXT, text.as_bytes()))
                .map_err(|e| format!("write: {e}"))?;
            let (b0, payload) = read_frame(stream).map_err(|e| format!("read: {e}"))?;
            if b0 != FIN | TEXT || payload != text.as_bytes() {
                return Err(format!("got {b0:#x} {payload:?}"));
            }
        }
        Kind::Eio => {
            let text = format!("4healthy {round}");
            stream
                .write_all(&frame(FIN | TEXT, text.as_bytes()))
                .map_err(|e| format!("write: {e}"))?;
            eio_ws_expect(stream, &text)?;
        }
        Kind::Sio => {
            let text = format!(r#"42["echo","healthy {round}"]"#);
            stream
                .write_all(&frame(FIN | TEXT, text.as_bytes()))
                .map_err(|e| format!("write: {e}"))?;
            eio_ws_expect(stream, &text)?;
        }
    }
    Ok(())
}

impl Healthy {
    /// Connects and gets a first answer before returning, so the attack
    /// starts against a server that is known to answer.
    pub fn start(kind: Kind, addr: SocketAddr) -> Healthy {
        let mut stream = match kind {
            Kind::Http => TcpStream::connect(addr).unwrap(),
            Kind::Ws => ws_open(addr),
            Kind::Eio => eio_ws_open(addr).0,
            Kind::Sio => sio_open(addr).0,
        };
        stream.set_read_timeout(Some(HEALTHY_WITHIN)).unwrap();
        stream.set_write_timeout(Some(HEALTHY_WITHIN)).unwrap();
        ask(kind, &mut stream, 0).expect("the healthy client's first answer");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut rounds = 1;
            let mut worst = Duration::ZERO;
            loop {
                // One more round after the stop: the server must still answer
                // once the attack is over.
                let last = stopping.load(Ordering::Acquire);
                let asked = Instant::now();
                ask(kind, &mut stream, rounds)
                    .map_err(|e| format!("round {rounds} after {:?}: {e}", asked.elapsed()))?;
                let took = asked.elapsed();
                worst = worst.max(took);
                if took > HEALTHY_WITHIN {
                    return Err(format!("round {rounds} took {took:?}"));
                }
                rounds += 1;
                if last {
                    return Ok((rounds, worst));
                }
                thread::sleep(Duration::from_millis(20));
            }
        });
        Healthy {
            stop,
            thread,
            started: Instant::now(),
        }
    }

    /// Stops the client and checks that every answer came in time.
    pub fn finish(self, case: &str) {
        self.stop.store(true, Ordering::Release);
        match self.thread.join().expect("the healthy client panicked") {
            Ok((rounds, worst)) => {
                assert!(rounds >= 2, "{case}: only {rounds} healthy rounds");
                eprintln!(
                    "{case}: healthy client {rounds} answers over {:?}, slowest {worst:?}",
                    self.started.elapsed()
                );
            }
            Err(err) => panic!("{case}: the healthy client was not served: {err}"),
        }
    }
}

/// Runs `attack` on each driver against a fresh server from `start`, with a
/// healthy client of `kind` beside it.
pub fn each_driver(
    name: &str,
    kind: Kind,
    start: impl Fn(Driver) -> Server,
    attack: impl Fn(&Server),
) {
    for driver in DRIVERS {
        on_driver(name, kind, driver, &start, &attack);
    }
}

/// Runs `attack` on one driver, with a healthy client of `kind` beside it.
pub fn on_driver(
    name: &str,
    kind: Kind,
    driver: Driver,
    start: impl Fn(Driver) -> Server,
    attack: impl Fn(&Server),
) {
    let server = start(driver);
    let healthy = Healthy::start(kind, server.addr);
    attack(&server);
    healthy.finish(&format!("{name} on {driver:?}"));
}

// ---------------------------------------------------------------------------
// Engine.IO over a raw WebSocket.

/// A new Engine.IO session on a WebSocket (`transport=websocket`, no
/// polling first): the stream after its 101, and the open packet's JSON.
pub fn eio_ws_open(addr: SocketAddr) -> (TcpStream, serde_json::Value) {
    eio_ws_open_at(addr, "/engine.io/")
}

/// [`eio_ws_open`] on the Engine.IO endpoint at `path`.
pub fn eio_ws_open_at(addr: SocketAddr, path: &str) -> (TcpStream, serde_json::Value) {
    let mut stream = connect(addr);
    let request = format!(
        "GET {path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let (status, head, _) = read_response(&mut stream).unwrap();
    assert_eq!(status, 101, "{head}");
    let (b0, payload) = read_frame(&mut stream).expect("the open packet");
    assert_eq!(b0, FIN | TEXT);
    let open = String::from_utf8(payload).expect("a text open packet");
    let json = open
        .strip_prefix('0')
        .unwrap_or_else(|| panic!("not an open packet: {open:?}"));
    (
        stream,
        serde_json::from_str(json).expect("the open packet's JSON"),
    )
}

/// Reads frames until the text frame `expected`, answering pings (`2`)
/// with pongs (`3`) on the way. Anything else is an error.
pub fn eio_ws_expect(stream: &mut TcpStream, expected: &str) -> Result<(), String> {
    loop {
        let (b0, payload) = read_frame(stream).map_err(|e| format!("read: {e}"))?;
        if b0 == FIN | TEXT && payload == b"2" {
            stream
                .write_all(&frame(FIN | TEXT, b"3"))
                .map_err(|e| format!("write pong: {e}"))?;
            continue;
        }
        if b0 != FIN | TEXT || payload != expected.as_bytes() {
            return Err(format!(
                "expected {expected:?}, got {b0:#x} {:?}",
                String::from_utf8_lossy(&payload)
            ));
        }
        return Ok(());
    }
}

/// A Socket.IO socket on the main namespace, over Engine.IO on a
/// WebSocket at `/socket.io/`, past its `auth` greeting: the stream and
/// the socket's id from the CONNECT's answer.
pub fn sio_open(addr: SocketAddr) -> (TcpStream, String) {
    let (mut stream, _) = eio_ws_open_at(addr, "/socket.io/");
    stream.write_all(&frame(FIN | TEXT, b"40")).unwrap();
    let text = eio_ws_next_text(&mut stream).expect("the CONNECT's answer");
    let json = text
        .strip_prefix("40")
        .unwrap_or_else(|| panic!("not a CONNECT answer: {text:?}"));
    let answer: serde_json::Value = serde_json::from_str(json).expect("the CONNECT's JSON");
    // The chapter's application greets every socket on `/` with its auth.
    assert_eq!(
        eio_ws_next_text(&mut stream).expect("the auth greeting"),
        r#"42["auth",{}]"#
    );
    (stream, answer["sid"].as_str().expect("a sid").to_string())
}

/// The next text frame that is not a ping (pings are answered).
pub fn eio_ws_next_text(stream: &mut TcpStream) -> Result<String, String> {
    loop {
        let (b0, payload) = read_frame(stream).map_err(|e| format!("read: {e}"))?;
        if b0 == FIN | TEXT && payload == b"2" {
            stream
                .write_all(&frame(FIN | TEXT, b"3"))
                .map_err(|e| format!("write pong: {e}"))?;
            continue;
        }
        if b0 != FIN | TEXT {
            return Err(format!("expected text, got {b0:#x} {payload:?}"));
        }
        return String::from_utf8(payload).map_err(|e| format!("not UTF-8: {e}"));
    }
}
