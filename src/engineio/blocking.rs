//! A blocking Engine.IO client over `std::net`: it drives the sans-IO
//! [`Client`] with real sockets.
//!
//! Polling needs two requests in flight at once (the held `GET` and a
//! `POST`), so each HTTP request runs on a short-lived thread of its own,
//! on its own connection, and reports back through a channel. The
//! WebSocket is read on the caller's thread, with a short read timeout so
//! that HTTP answers and timers are served in between.

use super::client::{Action, Client, ClientConfig, ClientEvent, PollingRequest, RequestKind};
use super::packet::{Payload, WsFrame};
use crate::http::client::parse_response_head;
use crate::ws::client::{self as ws_client, WsClient};
use crate::ws::{Config as WsConfig, WsMessage};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// How long one wait for input lasts before timers are looked at again.
const TICK: Duration = Duration::from_millis(10);

/// An HTTP request's outcome, from its thread.
struct HttpDone {
    kind: RequestKind,
    result: io::Result<(u16, Vec<u8>)>,
}

/// A blocking client session to one server.
pub struct BlockingClient {
    client: Client,
    /// `HOST:PORT`.
    authority: String,
    done_tx: Sender<HttpDone>,
    done_rx: Receiver<HttpDone>,
    ws: Option<WsClient>,
}

impl std::fmt::Debug for BlockingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingClient")
            .field("client", &self.client)
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl BlockingClient {
    /// Starts a session with the server at `authority` (`HOST:PORT`). Wait
    /// for [`ClientEvent::Open`] with [`BlockingClient::next_event`].
    pub fn connect(authority: &str, config: ClientConfig) -> BlockingClient {
        let (done_tx, done_rx) = channel();
        let mut blocking = BlockingClient {
            client: Client::new(config),
            authority: authority.to_string(),
            done_tx,
            done_rx,
            ws: None,
        };
        blocking.act();
        blocking
    }

    /// The sans-IO client (its state, its handshake).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The compression its WebSocket agreed on, if it has one open and
    /// the server accepted `permessage-deflate`.
    pub fn ws_deflate(&self) -> Option<&crate::ws::DeflateParams> {
        self.ws.as_ref().and_then(WsClient::deflate)
    }

    /// Queues a message; `Err` gives it back (closed, or the queue is full).
    pub fn send(&mut self, message: Payload) -> Result<(), Payload> {
        let result = self.client.send(message);
        self.act();
        result
    }

    /// Ends the session (what is queued goes first).
    pub fn close(&mut self) {
        self.client.close();
        self.act();
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_event(&mut self, timeout: Duration) -> Option<ClientEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            self.act();
            if let Some(event) = self.client.poll_event() {
                return Some(event);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            if self.client.poll_timeout().is_some_and(|at| at <= now) {
                self.client.handle_timeout(now);
                continue;
            }
            self.wait_for_input();
        }
    }

    /// Waits a moment for an HTTP answer or a WebSocket frame.
    fn wait_for_input(&mut self) {
        let wait = if self.ws.is_some() {
            Duration::ZERO
        } else {
            TICK
        };
        match self.done_rx.recv_timeout(wait) {
            Ok(done) => {
                self.on_http_done(done);
                return;
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
        let Some(ws) = &mut self.ws else {
            return;
        };
        match ws.recv() {
            Ok(Some(WsMessage::Text(text))) => {
                self.client.on_ws_frame(WsFrame::Text(text), Instant::now());
            }
            Ok(Some(WsMessage::Binary(bytes))) => {
                self.client
                    .on_ws_frame(WsFrame::Binary(bytes), Instant::now());
            }
            Ok(Some(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
            Ok(Some(WsMessage::Close(..)) | None) => {
                self.ws = None;
                self.client.on_ws_closed();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                self.ws = None;
                self.client.on_ws_closed();
            }
        }
    }

    fn on_http_done(&mut self, done: HttpDone) {
        match done.result {
            Ok((status, body)) => {
                self.client
                    .on_http_response(done.kind, status, &body, Instant::now());
            }
            Err(_) => self.client.on_http_failed(done.kind),
        }
    }

    /// Carries out everything the client asks for.
    fn act(&mut self) {
        while let Some(action) = self.client.poll_action() {
            match action {
                Action::Http(request) => {
                    let authority = self.authority.clone();
                    let done = self.done_tx.clone();
                    std::thread::spawn(move || {
                        let kind = request.kind;
                        let result = http(&authority, &request);
                        let _ = done.send(HttpDone { kind, result });
                    });
                }
                Action::OpenWebSocket { target } => {
                    let url = format!("ws://{}{target}", self.authority);
                    match ws_client::connect(&url, &[], WsConfig::default()) {
                        Ok(ws) if ws.set_read_timeout(Some(TICK)).is_ok() => {
                            self.ws = Some(ws);
                            self.client.on_ws_open();
                        }
                        _ => self.client.on_ws_closed(),
                    }
                }
                Action::Frame(frame) => {
                    let sent = match (&mut self.ws, frame) {
                        (Some(ws), WsFrame::Text(text)) => ws.send_text(&text).is_ok(),
                        (Some(ws), WsFrame::Binary(bytes)) => ws.send_binary(&bytes).is_ok(),
                        (None, _) => false,
                    };
                    if !sent {
                        self.ws = None;
                        self.client.on_ws_closed();
                    }
                }
                Action::CloseWebSocket => {
                    if let Some(mut ws) = self.ws.take() {
                        let _ = ws.close(1000, "");
                    }
                }
            }
        }
    }
}

/// One request on its own connection: the status and the body.
fn http(authority: &str, request: &PollingRequest) -> io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let head = format!(
        "{} {} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: text/plain;charset=UTF-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.method,
        request.target,
        request.body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&request.body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let (head, body) = parse_response_head(&response)
        .map_err(|e| io::Error::other(e.to_string()))?
        .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
    let length = head
        .headers
        .get_str("content-length")
        .and_then(|l| l.trim().parse::<usize>().ok())
        .unwrap_or(body.len())
        .min(body.len());
    Ok((head.status, body[..length].to_vec()))
}
