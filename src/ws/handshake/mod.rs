//! The opening handshake (RFC 6455 §4): an HTTP/1.1 request that asks to
//! switch protocols, and the `101 Switching Protocols` answer.
//!
//! Header fields come in as chapter 2's [`Headers`](crate::http::Headers),
//! as chapter 2's parsers produce them (`parse_head` for a request,
//! `parse_response_head` for a response), and are read with its helpers
//! (`has_token`, `tokens`, `get_single`): the HTTP layer owns header
//! fields, this module only knows what WebSocket asks of them. [`server`]
//! checks a request and renders the answer; [`client`] renders a request
//! and checks the answer.

pub mod client;
pub mod server;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

/// The constant every server appends to the client's key (RFC 6455 §1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// ANCHOR: accept_key
/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`:
/// base64(SHA-1(key + GUID)).
///
/// The point is not secrecy (everything here is public) but proof: only a
/// server that read the key *and* knows WebSocket can produce the value, so
/// a client cannot be fooled by a plain HTTP server or a cache replaying an
/// old answer.
pub fn accept_key(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}
// ANCHOR_END: accept_key

/// Renders a complete HTTP/1.1 response that closes the connection after
/// its body: the handshake's refusals and the plain-HTTP fallback.
pub fn render_response(
    status: u16,
    headers: &[(String, String)],
    content_type: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\n",
        crate::http::response::reason_phrase(status)
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_the_rfc_example() {
        // RFC 6455 §1.3 (and §4.2.2), computed independently with Python's
        // hashlib as well.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn responses_carry_length_and_close() {
        let bytes = render_response(404, &[("X-A".into(), "1".into())], "text/plain", b"nope");
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 404 Not Found\r\nX-A: 1\r\nContent-Type: text/plain\r\n\
             Content-Length: 4\r\nConnection: close\r\n\r\nnope"
        );
    }
}
