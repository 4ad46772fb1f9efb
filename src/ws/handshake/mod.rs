//! The opening handshake (RFC 6455 §4): an HTTP/1.1 request that asks to
//! switch protocols, and the `101 Switching Protocols` answer.
//!
//! This module knows nothing of any HTTP library: headers come in as plain
//! `(name, value)` pairs, `&[(&str, &[u8])]`, which `httparse`, chapter 2's
//! parser or a test can all produce. [`server`] checks a request and renders
//! the answer; [`client`] renders a request and checks the answer.

pub mod client;
pub mod server;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

/// Request or response headers: names (any case) and raw values, in order.
/// A header may appear several times.
pub type HeaderSlice<'a> = [(&'a str, &'a [u8])];

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

/// Every value of the header `name` (matched without regard to case).
pub fn header_values<'h>(
    headers: &'h HeaderSlice<'h>,
    name: &str,
) -> impl Iterator<Item = &'h [u8]> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| *value)
}

/// The comma-separated elements of every `name` header, trimmed, empty ones
/// skipped: `Connection: keep-alive, Upgrade` and two `Connection` headers
/// mean the same thing (RFC 9110 §5.3).
pub fn header_tokens<'h>(
    headers: &'h HeaderSlice<'h>,
    name: &str,
) -> impl Iterator<Item = &'h [u8]> {
    header_values(headers, name)
        .flat_map(|value| value.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|token| !token.is_empty())
}

/// Does some `name` header list `token` (case-insensitive)?
pub fn has_token(headers: &HeaderSlice<'_>, name: &str, token: &str) -> bool {
    header_tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// A header that must appear at most once appeared more often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated;

/// The one value of a header that must not repeat, trimmed: `Ok(None)` when
/// absent.
pub fn single_value<'h>(
    headers: &'h HeaderSlice<'h>,
    name: &str,
) -> Result<Option<&'h [u8]>, Repeated> {
    let mut values = header_values(headers, name);
    let first = values.next();
    match values.next() {
        Some(_) => Err(Repeated),
        None => Ok(first.map(<[u8]>::trim_ascii)),
    }
}

/// Is `s` an HTTP token (RFC 9110 §5.6.2), as subprotocol names must be?
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

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
    fn tokens_span_comma_lists_and_repeated_headers() {
        let headers: &HeaderSlice = &[
            ("connection", b"keep-alive, "),
            ("Host", b"x"),
            ("CONNECTION", b" ,Upgrade"),
        ];
        let tokens: Vec<&[u8]> = header_tokens(headers, "Connection").collect();
        assert_eq!(tokens, [&b"keep-alive"[..], b"Upgrade"]);
        assert!(has_token(headers, "connection", "upgrade"));
        assert!(!has_token(headers, "connection", "close"));
        assert!(!has_token(headers, "host", "upgrade"));
    }

    #[test]
    fn single_values_refuse_repeats() {
        let headers: &HeaderSlice = &[("A", b" one "), ("B", b"x"), ("b", b"y")];
        assert_eq!(single_value(headers, "a"), Ok(Some(&b"one"[..])));
        assert_eq!(single_value(headers, "b"), Err(Repeated));
        assert_eq!(single_value(headers, "c"), Ok(None));
    }

    #[test]
    fn tokens_are_checked() {
        assert!(is_token("chat.v2"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a,b"));
        assert!(!is_token("a\r\nX: y"));
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
