//! The client's half of the handshake: render the upgrade request, then
//! check that the server's answer really is a WebSocket accepting *our* key.

use super::accept_key;
use crate::http::Headers;
use crate::http::headers::is_token;
use crate::ws::deflate::{ClientOffer, DeflateConfig, DeflateParams};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::fmt;

/// Why a handshake could not start or did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// The operating system's random generator failed: no key.
    Random,
    /// A host, path, origin or subprotocol that cannot go in a request
    /// (control characters, a path not starting with `/`, a bad token).
    InvalidRequest(&'static str),
    /// The response is not valid HTTP.
    Malformed,
    /// The server answered with another status than 101.
    Status(u16),
    /// `Upgrade: websocket` or `Connection: upgrade` is missing.
    NotUpgraded,
    /// `Sec-WebSocket-Accept` is missing or does not match our key.
    BadAccept,
    /// The server chose a subprotocol we did not offer (or several).
    UnexpectedSubprotocol(String),
    /// The server answered with an extension; we offered none.
    UnexpectedExtension,
    /// The server's `Sec-WebSocket-Extensions` answer breaks our offer.
    BadExtension(String),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Random => f.write_str("no random bytes for the key"),
            HandshakeError::InvalidRequest(what) => write!(f, "invalid {what} for a request"),
            HandshakeError::Malformed => f.write_str("malformed HTTP response"),
            HandshakeError::Status(status) => write!(f, "server answered {status}, not 101"),
            HandshakeError::NotUpgraded => f.write_str("response does not upgrade to websocket"),
            HandshakeError::BadAccept => f.write_str("Sec-WebSocket-Accept does not match"),
            HandshakeError::UnexpectedSubprotocol(p) => write!(f, "subprotocol {p:?} not offered"),
            HandshakeError::UnexpectedExtension => f.write_str("extension not offered"),
            HandshakeError::BadExtension(why) => write!(f, "bad extension answer: {why}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// A client's opening handshake in progress.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    key: String,
    request: Vec<u8>,
    subprotocols: Vec<String>,
    deflate: Option<ClientOffer>,
}

/// Host, path and origin end up inside request lines: a CR or LF in them
/// would let the caller's input forge headers.
fn is_safe_field(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| b.is_ascii_control())
}

impl ClientHandshake {
    /// A handshake for `ws://host/path` with a fresh random key from the
    /// operating system's CSPRNG. `host` is what goes in the `Host` header
    /// (with the port, if not 80); `origin` is sent if given, as browsers do.
    pub fn new(
        host: &str,
        path: &str,
        subprotocols: &[&str],
        origin: Option<&str>,
    ) -> Result<ClientHandshake, HandshakeError> {
        let mut nonce = [0; 16];
        getrandom::fill(&mut nonce).map_err(|_| HandshakeError::Random)?;
        ClientHandshake::with_nonce(nonce, host, path, subprotocols, origin)
    }

    /// Like [`ClientHandshake::new`] with a chosen 16-byte nonce: for tests.
    /// A real client must use a fresh random one per connection.
    pub fn with_nonce(
        nonce: [u8; 16],
        host: &str,
        path: &str,
        subprotocols: &[&str],
        origin: Option<&str>,
    ) -> Result<ClientHandshake, HandshakeError> {
        // A host has no spaces: `Host:  ` would reach the server empty.
        if !is_safe_field(host) || host.contains(' ') {
            return Err(HandshakeError::InvalidRequest("host"));
        }
        if !path.starts_with('/') || !is_safe_field(path) || path.contains(' ') {
            return Err(HandshakeError::InvalidRequest("path"));
        }
        if origin.is_some_and(|origin| !is_safe_field(origin)) {
            return Err(HandshakeError::InvalidRequest("origin"));
        }
        if !subprotocols.iter().all(|p| is_token(p.as_bytes())) {
            return Err(HandshakeError::InvalidRequest("subprotocol"));
        }
        let key = BASE64.encode(nonce);
        let mut request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        );
        if let Some(origin) = origin {
            request.push_str(&format!("Origin: {origin}\r\n"));
        }
        if !subprotocols.is_empty() {
            request.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                subprotocols.join(", ")
            ));
        }
        request.push_str("\r\n");
        Ok(ClientHandshake {
            key,
            request: request.into_bytes(),
            subprotocols: subprotocols.iter().map(|p| p.to_string()).collect(),
            deflate: None,
        })
    }

    /// Offers compression (`permessage-deflate`) made from `config`.
    pub fn with_deflate(mut self, config: DeflateConfig) -> ClientHandshake {
        let offer = ClientOffer::new(config);
        // The request ends with its blank line: the header goes before it.
        self.request.truncate(self.request.len() - 2);
        self.request.extend_from_slice(
            format!("Sec-WebSocket-Extensions: {}\r\n\r\n", offer.header_value()).as_bytes(),
        );
        self.deflate = Some(offer);
        self
    }

    /// The compression the server agreed to, from its (already checked)
    /// response headers: `None` if it declined or we offered none.
    pub fn deflate_params(&self, headers: &Headers) -> Option<DeflateParams> {
        self.deflate.as_ref()?.check_answer(headers).ok().flatten()
    }

    /// What we offered for compression, if anything.
    pub fn deflate_offer(&self) -> Option<&ClientOffer> {
        self.deflate.as_ref()
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The request to send.
    pub fn request_bytes(&self) -> &[u8] {
        &self.request
    }

    // ANCHOR: check_response
    /// Checks the server's response status and headers (RFC 6455 §4.1).
    /// Returns the subprotocol the server chose, if any.
    pub fn check_response(
        &self,
        status: u16,
        headers: &Headers,
    ) -> Result<Option<String>, HandshakeError> {
        if status != 101 {
            return Err(HandshakeError::Status(status));
        }
        if !headers.has_token("Upgrade", "websocket") || !headers.has_token("Connection", "upgrade")
        {
            return Err(HandshakeError::NotUpgraded);
        }
        let accept = headers
            .get_single("Sec-WebSocket-Accept")
            .map_err(|_| HandshakeError::BadAccept)?;
        if accept != Some(accept_key(&self.key).as_bytes()) {
            return Err(HandshakeError::BadAccept);
        }
        match &self.deflate {
            Some(offer) => {
                offer
                    .check_answer(headers)
                    .map_err(|err| HandshakeError::BadExtension(err.to_string()))?;
            }
            None if headers.contains("Sec-WebSocket-Extensions") => {
                return Err(HandshakeError::UnexpectedExtension);
            }
            None => {}
        }
        let chosen = headers
            .get_single("Sec-WebSocket-Protocol")
            .map_err(|_| HandshakeError::UnexpectedSubprotocol("several".to_string()))?;
        match chosen {
            None => Ok(None),
            Some(chosen) => {
                let chosen = String::from_utf8_lossy(chosen).into_owned();
                if self.subprotocols.contains(&chosen) {
                    Ok(Some(chosen))
                } else {
                    Err(HandshakeError::UnexpectedSubprotocol(chosen))
                }
            }
        }
    }
    // ANCHOR_END: check_response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::client::parse_response_head;
    use crate::http::request::parse_head;
    use crate::http::{Limits, Version};
    use crate::ws::handshake::server::{HandshakePolicy, validate_upgrade};

    /// The RFC's example nonce: key "dGhlIHNhbXBsZSBub25jZQ==".
    const NONCE: [u8; 16] = *b"the sample nonce";
    const ACCEPT: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn handshake(subprotocols: &[&str]) -> ClientHandshake {
        ClientHandshake::with_nonce(NONCE, "server.example.com", "/chat", subprotocols, None)
            .unwrap()
    }

    fn response(extra: &[(&str, &[u8])]) -> Headers {
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("Upgrade", b"websocket"),
            ("Connection", b"Upgrade"),
            ("Sec-WebSocket-Accept", ACCEPT),
        ];
        headers.extend_from_slice(extra);
        headers.into_iter().collect()
    }

    fn fields(fields: &[(&str, &[u8])]) -> Headers {
        fields.iter().copied().collect()
    }

    #[test]
    fn the_request_is_what_the_rfc_shows() {
        let hs = ClientHandshake::with_nonce(
            NONCE,
            "server.example.com",
            "/chat",
            &["chat", "superchat"],
            Some("http://example.com"),
        )
        .unwrap();
        assert_eq!(hs.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            std::str::from_utf8(hs.request_bytes()).unwrap(),
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\
             Sec-WebSocket-Protocol: chat, superchat\r\n\r\n"
        );
    }

    #[test]
    fn random_keys_differ_and_are_16_bytes() {
        let a = ClientHandshake::new("h", "/", &[], None).unwrap();
        let b = ClientHandshake::new("h", "/", &[], None).unwrap();
        assert_ne!(a.key(), b.key());
        assert_eq!(BASE64.decode(a.key()).unwrap().len(), 16);
    }

    #[test]
    fn fields_that_could_forge_headers_are_refused() {
        let bad = |host, path, protocols: &[&str], origin| {
            ClientHandshake::with_nonce(NONCE, host, path, protocols, origin).unwrap_err()
        };
        assert_eq!(
            bad("h\r\nX: y", "/", &[], None),
            HandshakeError::InvalidRequest("host")
        );
        assert_eq!(
            bad("h", "no-slash", &[], None),
            HandshakeError::InvalidRequest("path")
        );
        assert_eq!(
            bad("h", "/a b", &[], None),
            HandshakeError::InvalidRequest("path")
        );
        assert_eq!(
            bad("h", "/", &["a,b"], None),
            HandshakeError::InvalidRequest("subprotocol")
        );
        assert_eq!(
            bad("h", "/", &[], Some("o\n")),
            HandshakeError::InvalidRequest("origin")
        );
    }

    /// Found by the `ws_handshake_client` fuzz target: a blank host was
    /// written as `Host:  `, which every server refuses as missing.
    #[test]
    fn a_host_with_spaces_is_refused() {
        for host in [" ", "a b", " h"] {
            assert_eq!(
                ClientHandshake::with_nonce(NONCE, host, "/", &[], None).unwrap_err(),
                HandshakeError::InvalidRequest("host"),
                "{host:?}"
            );
        }
    }

    #[test]
    fn a_correct_response_is_accepted() {
        assert_eq!(handshake(&[]).check_response(101, &response(&[])), Ok(None));
    }

    #[test]
    fn wrong_responses_are_refused() {
        let hs = handshake(&[]);
        assert_eq!(
            hs.check_response(200, &response(&[])),
            Err(HandshakeError::Status(200))
        );
        let no_upgrade = [
            ("Connection", &b"Upgrade"[..]),
            ("Sec-WebSocket-Accept", ACCEPT),
        ];
        assert_eq!(
            hs.check_response(101, &fields(&no_upgrade)),
            Err(HandshakeError::NotUpgraded)
        );
        let no_connection = [
            ("Upgrade", &b"websocket"[..]),
            ("Sec-WebSocket-Accept", ACCEPT),
        ];
        assert_eq!(
            hs.check_response(101, &fields(&no_connection)),
            Err(HandshakeError::NotUpgraded)
        );
        let wrong_accept = [
            ("Upgrade", &b"websocket"[..]),
            ("Connection", b"upgrade"),
            ("Sec-WebSocket-Accept", b"AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ];
        assert_eq!(
            hs.check_response(101, &fields(&wrong_accept)),
            Err(HandshakeError::BadAccept)
        );
        let missing_accept = [("Upgrade", &b"websocket"[..]), ("Connection", b"upgrade")];
        assert_eq!(
            hs.check_response(101, &fields(&missing_accept)),
            Err(HandshakeError::BadAccept)
        );
        let extension = response(&[("Sec-WebSocket-Extensions", b"permessage-deflate")]);
        assert_eq!(
            hs.check_response(101, &extension),
            Err(HandshakeError::UnexpectedExtension)
        );
    }

    #[test]
    fn the_chosen_subprotocol_must_be_one_offered() {
        let hs = handshake(&["chat", "superchat"]);
        let chosen = response(&[("Sec-WebSocket-Protocol", b"chat")]);
        assert_eq!(
            hs.check_response(101, &chosen),
            Ok(Some("chat".to_string()))
        );
        let other = response(&[("Sec-WebSocket-Protocol", b"mqtt")]);
        assert_eq!(
            hs.check_response(101, &other),
            Err(HandshakeError::UnexpectedSubprotocol("mqtt".to_string()))
        );
        let none_offered = handshake(&[]);
        assert!(none_offered.check_response(101, &chosen).is_err());
    }

    #[test]
    fn our_client_and_our_server_agree() {
        let hs = ClientHandshake::new("localhost:9000", "/", &["v2", "v1"], None).unwrap();
        let (request, _) = parse_head(hs.request_bytes(), &Limits::default())
            .unwrap()
            .expect("a whole request");
        assert_eq!(request.version, Version::Http11);
        let policy = HandshakePolicy {
            subprotocols: vec!["v1".into()],
            ..HandshakePolicy::default()
        };
        let accepted =
            validate_upgrade(&request.method, request.version, &request.headers, &policy).unwrap();
        let bytes = accepted.response_bytes();
        let (response, rest) = parse_response_head(&bytes)
            .unwrap()
            .expect("a whole response");
        assert!(rest.is_empty());
        assert_eq!(
            hs.check_response(response.status, &response.headers),
            Ok(Some("v1".into()))
        );
    }
}
