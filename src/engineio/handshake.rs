//! Reading an Engine.IO request: which transport, which session, and what
//! the request asks for (a handshake, a poll, a post, an upgrade, a CORS
//! preflight); the open packet's JSON; session ids.

use super::error::ErrorCode;
use base64::Engine as _;
use std::fmt;
use std::time::Duration;

/// The default path the Engine.IO endpoint lives under.
pub const DEFAULT_PATH: &str = "/engine.io/";

/// The two transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// HTTP long-polling: GETs to receive, POSTs to send.
    Polling,
    /// One WebSocket connection.
    WebSocket,
}

impl Transport {
    /// The name in the query string and the `upgrades` list.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
        }
    }

    /// The transport called `name`.
    pub fn from_name(name: &str) -> Option<Transport> {
        match name {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::WebSocket),
            _ => None,
        }
    }
}

/// A session id: 20 URL-safe characters from 15 random bytes (120 bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(String);

/// The random bytes in a generated [`Sid`].
pub const SID_BYTES: usize = 15;

impl Sid {
    /// A new unguessable id from the operating system's CSPRNG.
    pub fn generate() -> Result<Sid, getrandom::Error> {
        let mut bytes = [0u8; SID_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Sid::from_bytes(&bytes))
    }

    /// The id for given random bytes (tests; the generator).
    pub fn from_bytes(bytes: &[u8]) -> Sid {
        Sid(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// An id as a client sent it. Nothing is checked: an id is only ever
    /// looked up.
    pub fn new(id: impl Into<String>) -> Sid {
        Sid(id.into())
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The request methods Engine.IO tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`: a handshake, a poll, or a WebSocket upgrade.
    Get,
    /// `POST`: packets from the client.
    Post,
    /// `OPTIONS`: a CORS preflight.
    Options,
    /// Anything else.
    Other,
}

impl Method {
    /// The method for its name (case-sensitive, as HTTP is).
    pub fn parse(name: &str) -> Method {
        match name {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// The query parameters Engine.IO reads. Others (`t`, the cache buster;
/// whatever the application adds) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `EIO`: the protocol version.
    pub eio: Option<String>,
    /// `transport`.
    pub transport: Option<String>,
    /// `sid`.
    pub sid: Option<String>,
}

impl Query {
    /// Reads the query of a request target (`/engine.io/?EIO=4&...`); the
    /// part after `?`, if any. Values are percent-decoded.
    pub fn parse(target: &str) -> Query {
        let mut query = Query::default();
        let Some((_, q)) = target.split_once('?') else {
            return query;
        };
        for pair in q.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "EIO" => &mut query.eio,
                "transport" => &mut query.transport,
                "sid" => &mut query.sid,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(percent_decode(value));
            }
        }
        query
    }
}

/// `%XX` escapes and `+` decoded; invalid escapes kept as they are.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `target`'s path is the Engine.IO endpoint `path` (like
/// `/engine.io/`; the trailing slash is optional on the request).
pub fn matches_path(target: &str, path: &str) -> bool {
    let request_path = target.split('?').next().unwrap_or("");
    let base = path.trim_end_matches('/');
    request_path == base || request_path == path
}

// ANCHOR: classify
/// What an Engine.IO request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EioRequest {
    /// `OPTIONS`: answer the CORS preflight, nothing else.
    Preflight,
    /// No `sid`: open a new session on `transport` (a WebSocket handshake
    /// carries the upgrade headers).
    Handshake(Transport),
    /// `GET`, polling, with a `sid`: hold until packets are ready.
    Poll(Sid),
    /// `POST`, polling, with a `sid`: packets from the client.
    Post(Sid),
    /// `GET` with WebSocket upgrade headers and a `sid`: the probe
    /// transport of an upgrade.
    Upgrade(Sid),
}

/// Classifies a request to the Engine.IO path. `websocket_upgrade` says the
/// request carries WebSocket upgrade headers (`Upgrade: websocket`).
///
/// Whether the `sid` exists is the registry's question; whether it is on
/// the right transport, the session's: [`Session::on_get`], [`Session::begin_post`] and
/// [`Session::begin_upgrade`] refuse the wrong transport with code 3.
///
/// [`Session::on_get`]: super::session::Session::on_get
/// [`Session::begin_post`]: super::session::Session::begin_post
/// [`Session::begin_upgrade`]: super::session::Session::begin_upgrade
pub fn classify(
    method: Method,
    target: &str,
    websocket_upgrade: bool,
) -> Result<EioRequest, ErrorCode> {
    if method == Method::Options {
        return Ok(EioRequest::Preflight);
    }
    let query = Query::parse(target);
    let transport = query
        .transport
        .as_deref()
        .and_then(Transport::from_name)
        .ok_or(ErrorCode::UnknownTransport)?;
    if query.eio.as_deref() != Some("4") {
        return Err(ErrorCode::UnsupportedProtocolVersion);
    }
    match (transport, websocket_upgrade) {
        (Transport::WebSocket, false) | (Transport::Polling, true) => {
            return Err(ErrorCode::BadRequest);
        }
        _ => {}
    }
    let Some(sid) = query.sid.filter(|s| !s.is_empty()) else {
        return match method {
            Method::Get => Ok(EioRequest::Handshake(transport)),
            _ => Err(ErrorCode::BadHandshakeMethod),
        };
    };
    let sid = Sid::new(sid);
    match (method, transport) {
        (Method::Get, Transport::Polling) => Ok(EioRequest::Poll(sid)),
        (Method::Post, Transport::Polling) => Ok(EioRequest::Post(sid)),
        (Method::Get, Transport::WebSocket) => Ok(EioRequest::Upgrade(sid)),
        _ => Err(ErrorCode::BadRequest),
    }
}
// ANCHOR_END: classify

// ANCHOR: open
/// The handshake data in the open packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInfo {
    /// The new session's id.
    pub sid: Sid,
    /// The transports the client may upgrade to (`["websocket"]` on
    /// polling, `[]` once on a WebSocket).
    pub upgrades: Vec<Transport>,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// How long the server waits for the pong.
    pub ping_timeout: Duration,
    /// The largest payload either side accepts, in bytes.
    pub max_payload: usize,
}

impl OpenInfo {
    /// The JSON after the `0`, keys in the order Node's server sends them.
    pub fn to_json(&self) -> String {
        let upgrades: Vec<&str> = self.upgrades.iter().map(|t| t.name()).collect();
        format!(
            r#"{{"sid":{},"upgrades":{},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            serde_json::Value::from(self.sid.as_str()),
            serde_json::Value::from(upgrades),
            self.ping_interval.as_millis(),
            self.ping_timeout.as_millis(),
            self.max_payload,
        )
    }
}
// ANCHOR_END: open

impl OpenInfo {
    /// Reads the JSON of an open packet (the client's side). `None` if a
    /// field is missing or of the wrong type; unknown upgrades are skipped.
    pub fn from_json(json: &str) -> Option<OpenInfo> {
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        let ms = |name: &str| v.get(name)?.as_u64().map(Duration::from_millis);
        Some(OpenInfo {
            sid: Sid::new(v.get("sid")?.as_str()?),
            upgrades: v
                .get("upgrades")?
                .as_array()?
                .iter()
                .filter_map(|t| t.as_str().and_then(Transport::from_name))
                .collect(),
            ping_interval: ms("pingInterval")?,
            ping_timeout: ms("pingTimeout")?,
            max_payload: v
                .get("maxPayload")
                .and_then(|m| m.as_u64())
                .map_or(1_000_000, |m| usize::try_from(m).unwrap_or(usize::MAX)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: Method = Method::Get;
    const POST: Method = Method::Post;

    #[test]
    fn handshakes_polls_posts_upgrades() {
        use EioRequest::*;
        let sid = || Sid::new("abc");
        let cases = [
            (
                GET,
                "/engine.io/?EIO=4&transport=polling",
                false,
                Ok(Handshake(Transport::Polling)),
            ),
            (
                GET,
                "/engine.io/?EIO=4&transport=polling&t=Nx1",
                false,
                Ok(Handshake(Transport::Polling)),
            ),
            (
                GET,
                "/engine.io/?EIO=4&transport=websocket",
                true,
                Ok(Handshake(Transport::WebSocket)),
            ),
            (
                GET,
                "/engine.io/?EIO=4&transport=polling&sid=abc",
                false,
                Ok(Poll(sid())),
            ),
            (
                POST,
                "/engine.io/?EIO=4&transport=polling&sid=abc",
                false,
                Ok(Post(sid())),
            ),
            (
                GET,
                "/engine.io/?EIO=4&transport=websocket&sid=abc",
                true,
                Ok(Upgrade(sid())),
            ),
            (
                Method::Options,
                "/engine.io/?anything",
                false,
                Ok(Preflight),
            ),
        ];
        for (method, target, upgrade, expected) in cases {
            assert_eq!(
                classify(method, target, upgrade),
                expected,
                "{method:?} {target}"
            );
        }
    }

    #[test]
    fn each_error_code_has_its_request() {
        use ErrorCode::*;
        let cases = [
            (GET, "/engine.io/?EIO=4", false, UnknownTransport),
            (
                GET,
                "/engine.io/?EIO=4&transport=flashsocket",
                false,
                UnknownTransport,
            ),
            (GET, "/engine.io/", false, UnknownTransport),
            (
                POST,
                "/engine.io/?EIO=4&transport=polling",
                false,
                BadHandshakeMethod,
            ),
            (
                Method::Other,
                "/engine.io/?EIO=4&transport=polling",
                false,
                BadHandshakeMethod,
            ),
            (
                GET,
                "/engine.io/?EIO=3&transport=polling",
                false,
                UnsupportedProtocolVersion,
            ),
            (
                GET,
                "/engine.io/?transport=polling",
                false,
                UnsupportedProtocolVersion,
            ),
            (
                GET,
                "/engine.io/?EIO=4&transport=websocket",
                false,
                BadRequest,
            ),
            (
                GET,
                "/engine.io/?EIO=4&transport=polling&sid=x",
                true,
                BadRequest,
            ),
            (
                Method::Other,
                "/engine.io/?EIO=4&transport=polling&sid=x",
                false,
                BadRequest,
            ),
            (
                POST,
                "/engine.io/?EIO=4&transport=websocket&sid=x",
                true,
                BadRequest,
            ),
        ];
        for (method, target, upgrade, code) in cases {
            assert_eq!(
                classify(method, target, upgrade),
                Err(code),
                "{method:?} {target}"
            );
        }
    }

    #[test]
    fn query_values_are_percent_decoded_and_first_wins() {
        let q = Query::parse("/e/?sid=a%2Db+c&sid=zz&transport=polling&EIO=4&x=%zz");
        assert_eq!(q.sid.as_deref(), Some("a-b c"));
        assert_eq!(q.transport.as_deref(), Some("polling"));
        assert_eq!(Query::parse("/e/?sid=%4").sid.as_deref(), Some("%4"));
        assert_eq!(Query::parse("/e/?sid=%").sid.as_deref(), Some("%"));
        assert_eq!(Query::parse("/e/?sid=%41").sid.as_deref(), Some("A"));
        assert_eq!(Query::parse("/e/").sid, None);
    }

    #[test]
    fn the_path_is_matched_with_or_without_its_slash() {
        assert!(matches_path("/engine.io/?EIO=4", DEFAULT_PATH));
        assert!(matches_path("/engine.io?EIO=4", DEFAULT_PATH));
        assert!(matches_path("/engine.io/", DEFAULT_PATH));
        assert!(!matches_path("/engine.io/x", DEFAULT_PATH));
        assert!(!matches_path("/", DEFAULT_PATH));
    }

    #[test]
    fn open_json_round_trips() {
        let info = OpenInfo {
            sid: Sid::new("lv_VI97HAXpY6yYWAAAC"),
            upgrades: vec![Transport::WebSocket],
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
        };
        assert_eq!(
            info.to_json(),
            r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        assert_eq!(OpenInfo::from_json(&info.to_json()), Some(info));
        assert_eq!(OpenInfo::from_json(r#"{"sid":"a"}"#), None);
        assert_eq!(OpenInfo::from_json("not json"), None);
    }

    #[test]
    fn sids_are_20_url_safe_chars_and_differ() {
        let a = Sid::generate().unwrap();
        let b = Sid::generate().unwrap();
        assert_ne!(a, b);
        for sid in [&a, &b] {
            assert_eq!(sid.as_str().len(), 20, "15 bytes = 120 bits");
            assert!(
                sid.as_str()
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            );
        }
        assert_eq!(
            Sid::from_bytes(&[0xfb; 15]).as_str(),
            "-_v7-_v7-_v7-_v7-_v7"
        );
    }
}
