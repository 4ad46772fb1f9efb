//! The handover: an HTTP request that asks for a WebSocket becomes a server
//! WebSocket on the same connection.
//!
//! Two servers in netladder accept WebSockets, and both read the request
//! with chapter 2's one HTTP parser, under chapter 2's one set of
//! [`Limits`](crate::http::Limits):
//!
//! - chapter 3's [`WsServerProtocol`](super::WsServerProtocol) reads a
//!   single request head with [`parse_head`](crate::http::request::parse_head);
//! - Engine.IO's glue runs a whole HTTP connection
//!   ([`ServerConn`](crate::http::ServerConn)) until a request on its path
//!   asks for a WebSocket.
//!
//! Either way the parsed request comes here. [`handover`] checks it as
//! RFC 6455 §4.2.1 asks, agrees on compression, and builds the server
//! connection that runs from the byte after the request. The caller writes
//! the `101` ([`Accepted::write_response`]) and feeds that connection any
//! bytes it already read past the head: a client may send its first frame
//! right behind its request.

use super::connection::{Config, Role, WsConnection};
use super::deflate::{self, Deflate};
use super::handshake::server::{Accepted, HandshakePolicy, Rejection, validate_upgrade};
use crate::http::request::{BodyKind, Request, RequestHead};
use crate::http::{Headers, Version};

/// What the handover reads of a parsed request.
#[derive(Debug, Clone, Copy)]
pub struct UpgradeRequest<'a> {
    /// The method (a handshake is a `GET`).
    pub method: &'a str,
    /// The version (a handshake is HTTP/1.1).
    pub version: Version,
    /// The header fields.
    pub headers: &'a Headers,
    /// The head framed a body: a `Content-Length` over zero, or
    /// `Transfer-Encoding`.
    pub has_body: bool,
}

impl<'a> From<&'a RequestHead> for UpgradeRequest<'a> {
    /// A head from [`parse_head`](crate::http::request::parse_head), before
    /// any body is read.
    fn from(head: &'a RequestHead) -> UpgradeRequest<'a> {
        UpgradeRequest {
            method: &head.method,
            version: head.version,
            headers: &head.headers,
            has_body: head.body != BodyKind::Empty,
        }
    }
}

impl<'a> From<&'a Request> for UpgradeRequest<'a> {
    /// A whole request from [`ServerConn`](crate::http::ServerConn), which
    /// has read the body the head framed (a chunked body may be empty, but
    /// was framed all the same).
    fn from(request: &'a Request) -> UpgradeRequest<'a> {
        UpgradeRequest {
            method: &request.method,
            version: request.version,
            headers: &request.headers,
            has_body: !request.body.is_empty() || request.headers.contains("Transfer-Encoding"),
        }
    }
}

/// An upgrade request accepted: the answer and the connection after it.
#[derive(Debug)]
pub struct Handover {
    /// What to answer (write its `101` before any frame), with the
    /// subprotocol, origin and compression agreed.
    pub accepted: Accepted,
    /// The server connection, compression already set.
    pub connection: WsConnection,
}

// ANCHOR: handover
/// Checks an upgrade request under `policy`, and makes the server
/// connection it asks for, with `config`'s limits and compression. A
/// refusal is the HTTP error to answer with before closing.
pub fn handover(
    request: UpgradeRequest<'_>,
    policy: &HandshakePolicy,
    config: &Config,
) -> Result<Handover, Rejection> {
    let mut accepted = validate_upgrade(request.method, request.version, request.headers, policy)?;
    // Content in a GET has no defined meaning (RFC 9110 §9.3.1), and here
    // it would be worse: the bytes after the head are the WebSocket's. One
    // reader would take them as a body and another as frames, the kind of
    // disagreement request smuggling is made of.
    if request.has_body {
        return Err(Rejection::new(400, "a WebSocket handshake has no body"));
    }
    let mut connection = WsConnection::new(Role::Server, config.clone());
    // Compression: the first offer we can honour, if any.
    if let Some(ours) = &config.deflate {
        accepted.deflate = deflate::accept_offers(request.headers, ours);
        if let Some(params) = accepted.deflate {
            connection.set_deflate(Deflate::new(Role::Server, params, ours));
        }
    }
    Ok(Handover {
        accepted,
        connection,
    })
}
// ANCHOR_END: handover

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Limits;
    use crate::http::request::parse_head;
    use crate::ws::DeflateConfig;

    const REQUEST: &str = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                           Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                           Sec-WebSocket-Version: 13\r\n";

    fn head(extra: &str) -> RequestHead {
        let text = format!("{REQUEST}{extra}\r\n");
        match parse_head(text.as_bytes(), &Limits::default()) {
            Ok(Some((head, _))) => head,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    fn status(head: &RequestHead) -> Result<(), u16> {
        handover(head.into(), &HandshakePolicy::default(), &Config::default())
            .map(drop)
            .map_err(|rejection| rejection.status)
    }

    #[test]
    fn a_body_is_refused_whichever_way_it_is_framed() {
        assert_eq!(status(&head("")), Ok(()));
        assert_eq!(status(&head("Content-Length: 0\r\n")), Ok(()));
        assert_eq!(status(&head("Content-Length: 5\r\n")), Err(400));
        assert_eq!(status(&head("Transfer-Encoding: chunked\r\n")), Err(400));
        // The same through a whole request: an empty chunked body was
        // still framed.
        let mut request =
            head("Transfer-Encoding: chunked\r\n").into_request(vec![], Headers::new());
        assert!(UpgradeRequest::from(&request).has_body);
        request.headers.remove("Transfer-Encoding");
        assert!(!UpgradeRequest::from(&request).has_body);
        request.body = b"hello".to_vec();
        assert!(UpgradeRequest::from(&request).has_body);
    }

    #[test]
    fn compression_is_agreed_and_set_on_the_connection() {
        let offer = head("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        let config = Config {
            deflate: Some(DeflateConfig::default()),
            ..Config::default()
        };
        let policy = HandshakePolicy::default();
        let done = handover((&offer).into(), &policy, &config).unwrap();
        assert!(done.accepted.deflate.is_some());
        assert!(done.connection.deflate().is_some());
        let declined = Config {
            deflate: None,
            ..Config::default()
        };
        let done = handover((&offer).into(), &policy, &declined).unwrap();
        assert_eq!(done.accepted.deflate, None);
        assert!(done.connection.deflate().is_none());
        assert_eq!(done.connection.role(), Role::Server);
    }
}
