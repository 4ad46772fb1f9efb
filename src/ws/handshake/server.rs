//! The server's half of the handshake: is this request a valid WebSocket
//! upgrade, and what do we answer?

use super::{accept_key, render_response};
use crate::http::{Headers, Version};
use crate::ws::deflate::DeflateParams;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// A custom origin rule: gets the `Origin` value (`None` when absent) and
/// says whether to let the page in.
pub type OriginRule = Arc<dyn Fn(Option<&str>) -> bool + Send + Sync>;

/// Which pages may open a WebSocket to us.
///
/// Browsers let any page open a WebSocket to any server, sending the page's
/// origin along; unlike `fetch`, no CORS check stops it. A server that trusts
/// its visitors' cookies must therefore check `Origin` itself, or any site a
/// user visits could talk to it as that user (cross-site WebSocket
/// hijacking). Non-browser clients send no `Origin` (or any they like), so
/// this protects browser users only, which is exactly its job.
#[derive(Clone, Default)]
pub enum OriginPolicy {
    /// Every origin.
    Any,
    /// No `Origin` header, or one whose host is `localhost`, `*.localhost`
    /// or a loopback address: pages served from this machine. The default.
    #[default]
    Local,
    /// No `Origin` header, or one of these origins exactly (compared without
    /// regard to case), such as `"https://chat.example"`.
    AllowList(Vec<String>),
    /// Your own rule; it gets the `Origin` value, `None` when absent.
    Custom(OriginRule),
}

impl fmt::Debug for OriginPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPolicy::Any => f.write_str("Any"),
            OriginPolicy::Local => f.write_str("Local"),
            OriginPolicy::AllowList(list) => f.debug_tuple("AllowList").field(list).finish(),
            OriginPolicy::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

// ANCHOR: origin
impl OriginPolicy {
    /// Does the policy let a page with this `Origin` in?
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match (self, origin) {
            (OriginPolicy::Custom(rule), origin) => rule(origin),
            (_, None) | (OriginPolicy::Any, _) => true,
            (OriginPolicy::Local, Some(origin)) => origin_host(origin).is_some_and(is_local_host),
            (OriginPolicy::AllowList(list), Some(origin)) => list
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin)),
        }
    }
}

/// The host of an origin like `http://127.0.0.1:8080` or `http://[::1]`.
fn origin_host(origin: &str) -> Option<&str> {
    let (_scheme, authority) = origin.split_once("://")?;
    match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map(|(host, _port)| host),
        None => authority.split(':').next(),
    }
}

/// `localhost`, a name under `.localhost` (RFC 6761 keeps them on this
/// machine), or a loopback IP address. Anything else, including
/// `localhost.evil.example` and `localhost@evil.example`, is not.
fn is_local_host(host: &str) -> bool {
    let lower = host.to_ascii_lowercase();
    lower == "localhost"
        || lower.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
// ANCHOR_END: origin

/// What the server accepts in a handshake.
#[derive(Debug, Clone, Default)]
pub struct HandshakePolicy {
    /// Subprotocols we speak, most preferred first. Empty: we speak none and
    /// never answer with `Sec-WebSocket-Protocol`.
    pub subprotocols: Vec<String>,
    /// Which origins may connect. Default: [`OriginPolicy::Local`].
    pub origin: OriginPolicy,
}

/// A valid upgrade request: what to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
    /// The subprotocol chosen, if the client offered one we speak.
    pub subprotocol: Option<String>,
    /// The `Origin` the client sent, if any.
    pub origin: Option<String>,
    /// The compression agreed, if any: [`validate_upgrade`] leaves it
    /// `None`; the server sets it from [`crate::ws::deflate::accept_offers`].
    pub deflate: Option<DeflateParams>,
}

impl Accepted {
    /// Appends the `101 Switching Protocols` response to `out`.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
        out.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
        out.extend_from_slice(format!("Sec-WebSocket-Accept: {}\r\n", self.accept).as_bytes());
        if let Some(protocol) = &self.subprotocol {
            out.extend_from_slice(format!("Sec-WebSocket-Protocol: {protocol}\r\n").as_bytes());
        }
        if let Some(deflate) = &self.deflate {
            let value = deflate.response_header();
            out.extend_from_slice(format!("Sec-WebSocket-Extensions: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The `101 Switching Protocols` response.
    pub fn response_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_response(&mut out);
        out
    }
}

/// An invalid or unwelcome upgrade request: the HTTP error to answer with,
/// after which the connection closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 400, 403, 405, 426...
    pub status: u16,
    /// Why, in a few words: the response body, and for logs.
    pub reason: String,
    /// Headers the status calls for: `Allow` with 405,
    /// `Sec-WebSocket-Version` with 426.
    pub headers: Vec<(String, String)>,
}

impl Rejection {
    /// A rejection with no extra headers.
    pub fn new(status: u16, reason: impl Into<String>) -> Rejection {
        Rejection {
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    /// Adds a header to the response.
    pub fn with_header(mut self, name: &str, value: &str) -> Rejection {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The complete HTTP response, with the reason as a plain-text body.
    pub fn response_bytes(&self) -> Vec<u8> {
        let body = format!("{}\n", self.reason);
        render_response(
            self.status,
            &self.headers,
            "text/plain; charset=utf-8",
            body.as_bytes(),
        )
    }
}

/// A request chapter 2's parser refused: its status, and why.
impl From<crate::http::RequestError> for Rejection {
    fn from(error: crate::http::RequestError) -> Rejection {
        Rejection::new(error.status(), error.to_string())
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

impl std::error::Error for Rejection {}

/// Does the request ask for a WebSocket at all (an `Upgrade: websocket`
/// header)? A server that also serves plain HTTP on the same port uses this
/// to choose.
pub fn is_websocket_upgrade(headers: &Headers) -> bool {
    headers.has_token("Upgrade", "websocket")
}

// ANCHOR: validate_upgrade
/// Checks an upgrade request (RFC 6455 §4.2.1) given its method, HTTP
/// version and header fields.
pub fn validate_upgrade(
    method: &str,
    version: Version,
    headers: &Headers,
    policy: &HandshakePolicy,
) -> Result<Accepted, Rejection> {
    if method != "GET" {
        return Err(
            Rejection::new(405, "a WebSocket handshake is a GET").with_header("Allow", "GET")
        );
    }
    if version != Version::Http11 {
        return Err(Rejection::new(400, "a WebSocket handshake needs HTTP/1.1"));
    }
    // Host is one value, not a list: `Host: ,` is present (if odd).
    if headers
        .get_all("Host")
        .all(|host| host.trim_ascii().is_empty())
    {
        return Err(Rejection::new(400, "missing Host"));
    }
    if !headers.has_token("Upgrade", "websocket") {
        return Err(Rejection::new(400, "missing Upgrade: websocket"));
    }
    if !headers.has_token("Connection", "upgrade") {
        return Err(Rejection::new(400, "missing Connection: upgrade"));
    }
    // 426 tells the client which version we speak, so that it can retry.
    let ws_version = headers
        .get_single("Sec-WebSocket-Version")
        .map_err(|_| Rejection::new(400, "repeated Sec-WebSocket-Version"))?;
    match ws_version {
        None => return Err(Rejection::new(400, "missing Sec-WebSocket-Version")),
        Some(b"13") => {}
        Some(_) => {
            return Err(
                Rejection::new(426, "only WebSocket version 13 is supported")
                    .with_header("Sec-WebSocket-Version", "13"),
            );
        }
    }
    let key = headers
        .get_single("Sec-WebSocket-Key")
        .map_err(|_| Rejection::new(400, "repeated Sec-WebSocket-Key"))?
        .ok_or_else(|| Rejection::new(400, "missing Sec-WebSocket-Key"))?;
    // The key must be base64 of 16 bytes (§4.1): 24 characters. We hash the
    // text as sent, but refusing anything else catches broken clients early.
    let key = std::str::from_utf8(key)
        .ok()
        .filter(|key| BASE64.decode(key).is_ok_and(|raw| raw.len() == 16))
        .ok_or_else(|| Rejection::new(400, "Sec-WebSocket-Key is not base64 of 16 bytes"))?;
    let origin = headers
        .get_single("Origin")
        .map_err(|_| Rejection::new(403, "repeated Origin"))?
        .map(|origin| {
            std::str::from_utf8(origin).map_err(|_| Rejection::new(403, "Origin is not text"))
        })
        .transpose()?;
    if !policy.origin.allows(origin) {
        return Err(Rejection::new(403, "origin not allowed"));
    }
    // Our preference decides among what the client offered. No overlap is
    // not an error here: we answer without the header, and the client
    // decides whether it can live without a subprotocol (§4.2.2).
    let offered: Vec<&[u8]> = headers.tokens("Sec-WebSocket-Protocol").collect();
    let subprotocol = policy
        .subprotocols
        .iter()
        .find(|ours| offered.contains(&ours.as_bytes()))
        .cloned();
    Ok(Accepted {
        accept: accept_key(key),
        subprotocol,
        origin: origin.map(str::to_string),
        deflate: None,
    })
}
// ANCHOR_END: validate_upgrade

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"dGhlIHNhbXBsZSBub25jZQ==";

    /// The RFC's example request (§1.2), minus what `replace` changes.
    fn request(replace: &[(&str, Option<&[u8]>)]) -> Headers {
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("Host", b"server.example.com"),
            ("Upgrade", b"websocket"),
            ("Connection", b"Upgrade"),
            ("Sec-WebSocket-Key", KEY),
            ("Origin", b"http://localhost:8080"),
            ("Sec-WebSocket-Protocol", b"chat, superchat"),
            ("Sec-WebSocket-Version", b"13"),
        ];
        for (name, value) in replace {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            if let Some(value) = value {
                headers.push((name, value));
            }
        }
        headers.into_iter().collect()
    }

    fn check(headers: &Headers) -> Result<Accepted, Rejection> {
        validate_upgrade("GET", Version::Http11, headers, &HandshakePolicy::default())
    }

    fn status(result: Result<Accepted, Rejection>) -> u16 {
        result.expect_err("a rejection").status
    }

    #[test]
    fn the_rfc_example_is_accepted() {
        let accepted = check(&request(&[])).unwrap();
        assert_eq!(accepted.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(accepted.subprotocol, None, "we speak no subprotocol");
        assert_eq!(accepted.origin.as_deref(), Some("http://localhost:8080"));
        assert_eq!(
            String::from_utf8(accepted.response_bytes()).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn header_names_and_tokens_ignore_case_and_lists() {
        let headers = request(&[
            ("Upgrade", Some(b"WebSocket")),
            ("connection", Some(b"keep-alive, UPGRADE")),
        ]);
        assert!(check(&headers).is_ok());
        // Connection split over two headers.
        let mut headers = request(&[("Connection", Some(b"keep-alive"))]);
        headers.push("Connection", "upgrade");
        assert!(check(&headers).is_ok());
    }

    #[test]
    fn a_method_other_than_get_is_405_with_allow() {
        let rejection = validate_upgrade(
            "POST",
            Version::Http11,
            &request(&[]),
            &HandshakePolicy::default(),
        )
        .unwrap_err();
        assert_eq!(rejection.status, 405);
        assert_eq!(
            rejection.headers,
            [("Allow".to_string(), "GET".to_string())]
        );
    }

    #[test]
    fn http_1_0_is_400() {
        let result = validate_upgrade(
            "GET",
            Version::Http10,
            &request(&[]),
            &HandshakePolicy::default(),
        );
        assert_eq!(status(result), 400);
    }

    #[test]
    fn missing_or_wrong_upgrade_headers_are_400() {
        for replace in [
            ("Upgrade", None),
            ("Upgrade", Some(&b"h2c"[..])),
            ("Connection", None),
            ("Connection", Some(b"keep-alive")),
            ("Host", None),
            ("Sec-WebSocket-Key", None),
            ("Sec-WebSocket-Version", None),
        ] {
            assert_eq!(status(check(&request(&[replace]))), 400, "{replace:?}");
        }
    }

    /// Found by the `ws_handshake_client` fuzz target: a host the client
    /// may write (`,` is a valid reg-name character) was refused as missing,
    /// because Host was read as a comma-separated list.
    #[test]
    fn a_host_is_one_value_not_a_list() {
        assert!(check(&request(&[("Host", Some(b","))])).is_ok());
        assert_eq!(status(check(&request(&[("Host", Some(b" "))]))), 400);
    }

    #[test]
    fn a_key_that_is_not_16_bytes_of_base64_is_400() {
        for key in [
            &b"short"[..],
            b"dGhlIHNhbXBsZSBub25jZQ",
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            b"!!!!",
        ] {
            let result = check(&request(&[("Sec-WebSocket-Key", Some(key))]));
            assert_eq!(status(result), 400, "{:?}", String::from_utf8_lossy(key));
        }
        let mut twice = request(&[]);
        twice.push("Sec-WebSocket-Key", KEY);
        assert_eq!(status(check(&twice)), 400);
    }

    #[test]
    fn another_version_is_426_naming_13() {
        let rejection = check(&request(&[("Sec-WebSocket-Version", Some(b"8"))])).unwrap_err();
        assert_eq!(rejection.status, 426);
        assert_eq!(
            rejection.headers,
            [("Sec-WebSocket-Version".to_string(), "13".to_string())]
        );
        let response = String::from_utf8(rejection.response_bytes()).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{response}"
        );
        assert!(
            response.contains("\r\nSec-WebSocket-Version: 13\r\n"),
            "{response}"
        );
    }

    #[test]
    fn default_origin_policy_allows_local_pages_and_no_origin() {
        for origin in [
            &b"http://localhost"[..],
            b"http://LOCALHOST:3000",
            b"http://127.0.0.1:8080",
            b"http://127.3.4.5",
            b"https://[::1]:8443",
            b"http://app.localhost",
        ] {
            assert!(
                check(&request(&[("Origin", Some(origin))])).is_ok(),
                "{origin:?}"
            );
        }
        assert!(check(&request(&[("Origin", None)])).is_ok());
    }

    #[test]
    fn default_origin_policy_refuses_other_pages_with_403() {
        for origin in [
            &b"https://evil.example"[..],
            b"http://localhost.evil.example",
            b"http://localhost@evil.example",
            b"http://192.168.1.10:8080",
            b"null",
            b"http://[::2]",
        ] {
            assert_eq!(
                status(check(&request(&[("Origin", Some(origin))]))),
                403,
                "{origin:?}"
            );
        }
    }

    #[test]
    fn other_origin_policies() {
        let allow_list = HandshakePolicy {
            origin: OriginPolicy::AllowList(vec!["https://chat.example".into()]),
            ..HandshakePolicy::default()
        };
        let with = |origin: &'static [u8], policy: &HandshakePolicy| {
            validate_upgrade(
                "GET",
                Version::Http11,
                &request(&[("Origin", Some(origin))]),
                policy,
            )
        };
        assert!(with(b"https://CHAT.example", &allow_list).is_ok());
        assert_eq!(status(with(b"http://localhost", &allow_list)), 403);
        let any = HandshakePolicy {
            origin: OriginPolicy::Any,
            ..HandshakePolicy::default()
        };
        assert!(with(b"https://evil.example", &any).is_ok());
        let custom = HandshakePolicy {
            origin: OriginPolicy::Custom(Arc::new(|origin| {
                origin.is_some_and(|o| o.ends_with(".test"))
            })),
            ..HandshakePolicy::default()
        };
        assert!(with(b"http://a.test", &custom).is_ok());
        assert_eq!(status(with(b"http://a.example", &custom)), 403);
    }

    #[test]
    fn subprotocol_follows_the_servers_preference() {
        let policy = HandshakePolicy {
            subprotocols: vec!["superchat".into(), "chat".into()],
            ..HandshakePolicy::default()
        };
        let accepted = validate_upgrade("GET", Version::Http11, &request(&[]), &policy).unwrap();
        assert_eq!(accepted.subprotocol.as_deref(), Some("superchat"));
        let response = String::from_utf8(accepted.response_bytes()).unwrap();
        assert!(response.contains("\r\nSec-WebSocket-Protocol: superchat\r\n"));
        // Offered over two headers; only one matches.
        let mut headers = request(&[("Sec-WebSocket-Protocol", Some(b"v1"))]);
        headers.push("Sec-WebSocket-Protocol", "chat");
        let accepted = validate_upgrade("GET", Version::Http11, &headers, &policy).unwrap();
        assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
        // No overlap: accepted, without a subprotocol.
        let headers = request(&[("Sec-WebSocket-Protocol", Some(b"mqtt"))]);
        let accepted = validate_upgrade("GET", Version::Http11, &headers, &policy).unwrap();
        assert_eq!(accepted.subprotocol, None);
        assert!(
            !String::from_utf8(accepted.response_bytes())
                .unwrap()
                .contains("Sec-WebSocket-Protocol")
        );
    }

    #[test]
    fn plain_requests_are_told_apart_from_upgrades() {
        assert!(is_websocket_upgrade(&request(&[])));
        assert!(!is_websocket_upgrade(&request(&[("Upgrade", None)])));
    }
}
