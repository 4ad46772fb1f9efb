//! What the handshake request carried: the query, the headers, the peer,
//! the URL and the time of the request that opened a session (for a
//! WebSocket-only session, its upgrade request). Node keeps this as
//! `socket.handshake`, python-socketio as the WSGI `environ`; Socket.IO
//! middleware reads it to check an `Origin`, a cookie or a token.
//!
//! It is copied once, when the session opens, from a request the HTTP
//! layer has already bounded (its header count, line and field sizes), so
//! it needs no limits of its own.

use super::handshake::percent_decode;
use crate::http::Request;
use std::net::SocketAddr;
use std::time::SystemTime;

// ANCHOR: handshake_request
/// The request that opened an Engine.IO session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeRequest {
    /// The request target as sent (`/socket.io/?EIO=4&transport=polling`).
    pub url: String,
    /// The query's pairs, in order, percent-decoded (repeats kept).
    pub query: Vec<(String, String)>,
    /// The header fields, in order; names in lower case, values as text
    /// (bytes that are not UTF-8 replaced).
    pub headers: Vec<(String, String)>,
    /// The peer's address, when known.
    pub address: Option<SocketAddr>,
    /// When the request arrived (wall-clock time).
    pub time: SystemTime,
}
// ANCHOR_END: handshake_request

impl Default for HandshakeRequest {
    /// Nothing known: no URL, query, headers or peer; the epoch as time.
    fn default() -> HandshakeRequest {
        HandshakeRequest {
            url: String::new(),
            query: Vec::new(),
            headers: Vec::new(),
            address: None,
            time: SystemTime::UNIX_EPOCH,
        }
    }
}

impl HandshakeRequest {
    /// Copies what the application may want of `request`, received from
    /// `peer` at `time`.
    pub fn new(request: &Request, peer: Option<SocketAddr>, time: SystemTime) -> HandshakeRequest {
        HandshakeRequest {
            url: request.target.clone(),
            query: query_pairs(&request.target),
            headers: request
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value).into_owned();
                    (name.to_ascii_lowercase(), value)
                })
                .collect(),
            address: peer,
            time,
        }
    }

    /// The first header field called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        first(&self.headers, |k| k.eq_ignore_ascii_case(name))
    }

    /// The first query parameter called `name` (exact case).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        first(&self.query, |k| k == name)
    }
}

fn first(pairs: &[(String, String)], is: impl Fn(&str) -> bool) -> Option<&str> {
    pairs.iter().find(|(k, _)| is(k)).map(|(_, v)| v.as_str())
}

/// The pairs of `target`'s query (after `?`, before any `#`), in order,
/// percent-decoded; a name without `=` gets an empty value, empty pieces
/// are skipped.
pub fn query_pairs(target: &str) -> Vec<(String, String)> {
    let Some((_, query)) = target.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Headers, Version};
    use std::time::Duration;

    fn request(target: &str, headers: &[(&str, &[u8])]) -> Request {
        let mut h = Headers::new();
        for (name, value) in headers {
            h.push(*name, value.to_vec());
        }
        Request {
            method: "GET".into(),
            target: target.into(),
            version: Version::Http11,
            headers: h,
            body: Vec::new(),
            trailers: Headers::new(),
        }
    }

    #[test]
    fn query_pairs_are_decoded_in_order() {
        assert_eq!(
            query_pairs("/socket.io/?EIO=4&token=a%20b+c&flag&&x=1=2&token=2#frag"),
            vec![
                ("EIO".to_string(), "4".to_string()),
                ("token".to_string(), "a b c".to_string()),
                ("flag".to_string(), String::new()),
                ("x".to_string(), "1=2".to_string()),
                ("token".to_string(), "2".to_string()),
            ]
        );
        assert!(query_pairs("/socket.io/").is_empty());
        assert!(query_pairs("/socket.io/?").is_empty());
    }

    #[test]
    fn captures_the_request() {
        let peer: SocketAddr = "127.0.0.1:4567".parse().unwrap();
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let req = request(
            "/socket.io/?EIO=4&transport=polling&token=s3cret",
            &[
                ("Origin", b"http://example.com"),
                ("X-Token", b"abc"),
                ("Cookie", b"a=1; b=2"),
                ("X-Bin", b"\xff"),
            ],
        );
        let h = HandshakeRequest::new(&req, Some(peer), time);
        assert_eq!(h.url, "/socket.io/?EIO=4&transport=polling&token=s3cret");
        assert_eq!(h.query_param("token"), Some("s3cret"));
        assert_eq!(h.query_param("Token"), None);
        assert_eq!(h.header("origin"), Some("http://example.com"));
        assert_eq!(h.header("X-TOKEN"), Some("abc"));
        assert_eq!(h.header("cookie"), Some("a=1; b=2"));
        assert_eq!(h.header("x-bin"), Some("\u{fffd}"));
        assert_eq!(h.header("missing"), None);
        assert!(h.headers.iter().all(|(k, _)| k == &k.to_ascii_lowercase()));
        assert_eq!(h.address, Some(peer));
        assert_eq!(h.time, time);
    }
}
