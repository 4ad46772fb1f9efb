//! A WebSocket server connection from its first byte: the HTTP upgrade,
//! then [`WsProtocol`].
//!
//! [`WsServerProtocol`] reads the request head with chapter 2's parser
//! ([`parse_head`], under [`ServerConfig::http_limits`]: a head that is
//! malformed or too large gets chapter 2's status), and then either
//!
//! - hands over to the WebSocket ([`handover`]): answers `101 Switching
//!   Protocols` and runs the WebSocket from the very next byte (a client
//!   may send its first frame right behind the request);
//! - refuses with the handshake's HTTP error and closes; or
//! - for a plain request (no `Upgrade: websocket`), calls the
//!   [`ServerConfig::http`] fallback, so that one port can serve the page
//!   that opens the WebSocket, answers and closes.
//!
//! A client that does not finish its request head within the limits'
//! [`head_timeout`](Limits::head_timeout) gets `408` and is closed.

use super::connection::Config;
use super::handover::handover;
use super::handshake::render_response;
use super::handshake::server::{HandshakePolicy, Rejection, is_websocket_upgrade};
use super::protocol::{HandshakeInfo, Outgoing, WsHandler, WsProtocol};
use crate::driver::{CloseReason, Ctx, Mailbox, Protocol};
use crate::http::request::parse_head;
use crate::http::{Headers, Limits, RequestError};
use std::fmt;
use std::sync::Arc;

/// A plain HTTP request that did not ask for a WebSocket.
#[derive(Debug)]
pub struct HttpRequest<'a> {
    /// `GET` or `HEAD` (others never reach the fallback).
    pub method: &'a str,
    /// The request target, such as `/` or `/app.js?v=2`.
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a Headers,
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

/// Settings shared by every connection of a server. The default: local
/// origins, no subprotocol, chapter 2's default limits, no HTTP fallback.
#[derive(Clone, Default)]
pub struct ServerConfig {
    /// What handshakes to accept: origins, subprotocols.
    pub handshake: HandshakePolicy,
    /// Limits of the WebSocket itself.
    pub ws: Config,
    /// The request head's limits, chapter 2's: `head_timeout` to send it
    /// (then `408`), `max_head_bytes` and `max_headers` (then `431`, or
    /// `414` for a request line that alone is too long). Default:
    /// [`Limits::default`], 10 s, 16 KiB and 64 fields. A handshake has no
    /// body; the body limits matter only to a plain request's
    /// `Content-Length` (then `413`).
    pub http_limits: Limits,
    /// Answers `GET` and `HEAD` requests that do not ask for a WebSocket.
    /// `None` (the default): they get `426 Upgrade Required`.
    pub http: Option<HttpFallback>,
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
            .field("http_limits", &self.http_limits)
            .field("http", &self.http.as_ref().map(|_| ".."))
            .finish()
    }
}

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
        // Chapter 2's parser: it looks at no more than `max_head_bytes`, so
        // the answer does not depend on how the bytes were split.
        let (head, head_len) = match parse_head(input, &self.config.http_limits) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return 0,
            Err(error) => {
                self.refuse(error.into(), ctx);
                return input.len();
            }
        };
        if !is_websocket_upgrade(&head.headers) {
            let response = self.plain_http(&head.method, &head.target, &head.headers);
            self.answer(response, ctx);
            return input.len();
        }
        let handover = match handover((&head).into(), &self.config.handshake, &self.config.ws) {
            Ok(handover) => handover,
            Err(rejection) => {
                self.refuse(rejection, ctx);
                return input.len();
            }
        };
        let accepted = handover.accepted;
        accepted.write_response(ctx.send_buffer());
        ctx.cancel_timer();
        let info = HandshakeInfo {
            path: head.target,
            subprotocol: accepted.subprotocol,
            origin: accepted.origin,
        };
        let Phase::Handshake(handler) = std::mem::replace(&mut self.phase, Phase::Done) else {
            return input.len(); // not reached: only called in the handshake phase
        };
        let mut ws = WsProtocol::from_connection(handover.connection, handler, info);
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
    fn plain_http(&self, method: &str, path: &str, headers: &Headers) -> Vec<u8> {
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
        ctx.wake_at(ctx.now() + self.config.http_limits.head_timeout);
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
                self.refuse(RequestError::Timeout.into(), ctx);
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
