//! A WebSocket server connection from its first byte: the HTTP upgrade,
//! then [`WsProtocol`].
//!
//! [`WsServerProtocol`] reads the request head (up to `\r\n\r\n`), parses it
//! with `httparse`, and then either
//!
//! - answers `101 Switching Protocols` and runs the WebSocket from the very
//!   next byte (a client may send its first frame right behind the request);
//! - refuses with the handshake's HTTP error and closes; or
//! - for a plain request (no `Upgrade: websocket`), calls the
//!   [`ServerConfig::http`] fallback, so that one port can serve the page
//!   that opens the WebSocket, answers and closes.
//!
//! A client that does not finish its request head within
//! [`ServerConfig::handshake_timeout`] gets `408` and is closed.

use super::connection::{Config, Role};
use super::deflate::{self, Deflate};
use super::handshake::server::{
    HandshakePolicy, Rejection, is_websocket_upgrade, validate_upgrade,
};
use super::handshake::{HeaderSlice, render_response};
use super::protocol::{HandshakeInfo, Outgoing, WsHandler, WsProtocol};
use crate::driver::{CloseReason, Ctx, Mailbox, Protocol};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A plain HTTP request that did not ask for a WebSocket.
#[derive(Debug)]
pub struct HttpRequest<'a> {
    /// `GET` or `HEAD` (others never reach the fallback).
    pub method: &'a str,
    /// The request target, such as `/` or `/app.js?v=2`.
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a HeaderSlice<'a>,
}

/// The fallback's answer. The connection closes after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// 200, 404...
    pub status: u16,
    /// Such as `text/html; charset=utf-8`.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A `200 OK` HTML page.
    pub fn html(body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: "text/html; charset=utf-8".to_string(),
            body: body.into(),
        }
    }

    /// A plain-text response with any status.
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse {
            status,
            content_type: "text/plain; charset=utf-8".to_string(),
            body: body.into(),
        }
    }
}

/// Answers plain HTTP requests on a WebSocket port.
pub type HttpFallback = Arc<dyn Fn(&HttpRequest<'_>) -> HttpResponse + Send + Sync>;

/// Settings shared by every connection of a server.
#[derive(Clone)]
pub struct ServerConfig {
    /// What handshakes to accept: origins, subprotocols.
    pub handshake: HandshakePolicy,
    /// Limits of the WebSocket itself.
    pub ws: Config,
    /// How long a client has to send its whole request head. Default 10 s.
    pub handshake_timeout: Duration,
    /// The largest request head accepted; larger gets `431`. Default 8 KiB.
    pub max_head_size: usize,
    /// Answers `GET` and `HEAD` requests that do not ask for a WebSocket.
    /// `None` (the default): they get `426 Upgrade Required`.
    pub http: Option<HttpFallback>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            handshake: HandshakePolicy::default(),
            ws: Config::default(),
            handshake_timeout: Duration::from_secs(10),
            max_head_size: 8 * 1024,
            http: None,
        }
    }
}

impl ServerConfig {
    /// Sets the plain-HTTP fallback.
    pub fn with_http(
        mut self,
        fallback: impl Fn(&HttpRequest<'_>) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.http = Some(Arc::new(fallback));
        self
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("handshake", &self.handshake)
            .field("ws", &self.ws)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_head_size", &self.max_head_size)
            .field("http", &self.http.as_ref().map(|_| ".."))
            .finish()
    }
}

/// A request head over the limit: `414` if the request line alone has not
/// ended within it (its target is too long, RFC 9112 §3), else `431`.
fn too_large(window: &[u8]) -> Rejection {
    if !window.contains(&b'\n') && window.contains(&b' ') {
        Rejection::new(414, "request target too long")
    } else {
        Rejection::new(431, "request head too large")
    }
}

/// The most request headers parsed; more gets `431`.
const MAX_HEADERS: usize = 64;

#[allow(
    clippy::large_enum_variant,
    reason = "one per connection, which spends its life in Open: boxing would only add an allocation"
)]
enum Phase<H> {
    /// Waiting for the request head. The handler waits here until it has a
    /// WebSocket to handle.
    Handshake(H),
    /// Upgraded.
    Open(WsProtocol<H>),
    /// Answered over HTTP (or refused): closing.
    Done,
}

/// One server connection: handshake, then WebSocket.
pub struct WsServerProtocol<H> {
    phase: Phase<H>,
    config: Arc<ServerConfig>,
    mailbox: Option<Mailbox<Outgoing>>,
}

impl<H: WsHandler> WsServerProtocol<H> {
    /// A connection that will run `handler` once upgraded.
    pub fn new(handler: H, config: Arc<ServerConfig>) -> WsServerProtocol<H> {
        WsServerProtocol {
            phase: Phase::Handshake(handler),
            config,
            mailbox: None,
        }
    }

    /// The WebSocket, once upgraded.
    pub fn websocket(&self) -> Option<&WsProtocol<H>> {
        match &self.phase {
            Phase::Open(ws) => Some(ws),
            _ => None,
        }
    }

    /// Sends `response` and closes: the end of a non-WebSocket connection.
    fn answer(&mut self, response: Vec<u8>, ctx: &mut Ctx) {
        ctx.send(&response);
        ctx.cancel_timer();
        ctx.close();
        self.phase = Phase::Done;
    }

    fn refuse(&mut self, rejection: Rejection, ctx: &mut Ctx) {
        tracing::debug!("{}: handshake refused: {rejection}", ctx.peer());
        self.answer(rejection.response_bytes(), ctx);
    }

    // ANCHOR: handshake
    /// Reads the request head; returns the bytes consumed.
    fn handshake(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut storage);
        // Only ever look at `max_head_size` bytes, so that the answer does
        // not depend on how the bytes were split: a head still unfinished
        // there is too large, whatever follows it.
        let window = &input[..input.len().min(self.config.max_head_size)];
        let head_len = match request.parse(window) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if window.len() < self.config.max_head_size => return 0,
            Ok(_) | Err(httparse::Error::TooManyHeaders) => {
                self.refuse(
                    too_large(&input[..input.len().min(self.config.max_head_size)]),
                    ctx,
                );
                return input.len();
            }
            Err(err) => {
                self.refuse(
                    Rejection::new(400, format!("malformed request: {err}")),
                    ctx,
                );
                return input.len();
            }
        };
        // A complete parse always has these; default rather than unwrap.
        let method = request.method.unwrap_or_default();
        let path = request.path.unwrap_or("/");
        let version = request.version.unwrap_or(1);
        let headers: Vec<(&str, &[u8])> =
            request.headers.iter().map(|h| (h.name, h.value)).collect();

        if !is_websocket_upgrade(&headers) {
            let response = self.plain_http(method, path, &headers);
            self.answer(response, ctx);
            return input.len();
        }
        let mut accepted = match validate_upgrade(method, version, &headers, &self.config.handshake)
        {
            Ok(accepted) => accepted,
            Err(rejection) => {
                self.refuse(rejection, ctx);
                return input.len();
            }
        };
        // Compression: the first offer we can honour, if any.
        let deflate_config = self.config.ws.deflate.as_ref();
        accepted.deflate = deflate_config.and_then(|ours| deflate::accept_offers(&headers, ours));
        accepted.write_response(ctx.send_buffer());
        ctx.cancel_timer();
        let info = HandshakeInfo {
            path: path.to_string(),
            subprotocol: accepted.subprotocol,
            origin: accepted.origin,
        };
        let Phase::Handshake(handler) = std::mem::replace(&mut self.phase, Phase::Done) else {
            return input.len(); // not reached: only called in the handshake phase
        };
        let mut ws = WsProtocol::new(Role::Server, handler, self.config.ws.clone(), info);
        if let (Some(params), Some(ours)) = (accepted.deflate, deflate_config) {
            ws.set_deflate(Deflate::new(Role::Server, params, ours));
        }
        if let Some(mailbox) = self.mailbox.take() {
            ws.on_open(mailbox, ctx);
        }
        // Frames may follow the head in the same read: run them now, as the
        // driver contract asks us to consume every complete unit we can.
        let rest = &input[head_len..];
        let used = if rest.is_empty() || ctx.close_request().is_some() {
            0
        } else {
            ws.on_bytes(rest, ctx)
        };
        self.phase = Phase::Open(ws);
        head_len + used
    }
    // ANCHOR_END: handshake

    /// The answer to a request that does not ask for a WebSocket.
    fn plain_http(&self, method: &str, path: &str, headers: &HeaderSlice<'_>) -> Vec<u8> {
        match (&self.config.http, method) {
            (Some(fallback), "GET" | "HEAD") => {
                let response = fallback(&HttpRequest {
                    method,
                    path,
                    headers,
                });
                let mut bytes =
                    render_response(response.status, &[], &response.content_type, &response.body);
                if method == "HEAD" {
                    bytes.truncate(bytes.len() - response.body.len());
                }
                bytes
            }
            (None, "GET" | "HEAD") => Rejection::new(426, "this endpoint speaks WebSocket only")
                .with_header("Upgrade", "websocket")
                .with_header("Connection", "Upgrade")
                .response_bytes(),
            _ => Rejection::new(405, "method not allowed")
                .with_header("Allow", "GET, HEAD")
                .response_bytes(),
        }
    }
}

impl<H: WsHandler> Protocol for WsServerProtocol<H> {
    type Mail = Outgoing;

    fn on_open(&mut self, mailbox: Mailbox<Outgoing>, ctx: &mut Ctx) {
        self.mailbox = Some(mailbox);
        ctx.wake_at(ctx.now() + self.config.handshake_timeout);
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        match &mut self.phase {
            Phase::Handshake(_) => self.handshake(input, ctx),
            Phase::Open(ws) => ws.on_bytes(input, ctx),
            Phase::Done => input.len(), // closing: whatever else came is moot
        }
    }

    fn on_eof(&mut self, input: &[u8], ctx: &mut Ctx) {
        match &mut self.phase {
            Phase::Open(ws) => ws.on_eof(input, ctx),
            Phase::Handshake(_) | Phase::Done => ctx.close(),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        match &mut self.phase {
            Phase::Handshake(_) => {
                let timeout = Rejection::new(408, "no complete request in time");
                self.refuse(timeout, ctx);
            }
            Phase::Open(ws) => ws.on_timer(ctx),
            Phase::Done => {}
        }
    }

    fn on_message(&mut self, message: Outgoing, ctx: &mut Ctx) {
        // Before the upgrade there is no WebSocket to send on: a broadcast
        // cannot arrive then anyway, as the mailbox is only handed to the
        // handler once open.
        if let Phase::Open(ws) = &mut self.phase {
            ws.on_message(message, ctx);
        }
    }

    fn on_closed(&mut self, reason: CloseReason) {
        if let Phase::Open(ws) = &mut self.phase {
            ws.on_closed(reason);
        }
    }

    fn on_shutdown(&mut self, ctx: &mut Ctx) {
        match &mut self.phase {
            Phase::Open(ws) => ws.on_shutdown(ctx),
            _ => ctx.close(),
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
