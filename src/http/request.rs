//! Requests: the owned type handlers receive, and the parser for request
//! heads, built on `httparse`.
//!
//! `httparse` does the byte-level work (tokens, the request line, header
//! syntax) without copying. On top of it this file decides what HTTP/1.1
//! says the head *means*: how the body is framed, whether the connection
//! persists, and which malformed or oversized heads get which status.

use super::error::RequestError;
use super::headers::{Headers, Version};
use super::limits::Limits;

/// A complete request, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, like `GET` (case-sensitive, as HTTP says).
    pub method: String,
    /// The request target as sent: usually a path with an optional query,
    /// like `/poll?since=3`.
    pub target: String,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// Header fields, in order.
    pub headers: Headers,
    /// The body, after chunked decoding. Empty when there is none.
    pub body: Vec<u8>,
    /// Trailer fields sent after a chunked body. Kept apart from `headers`
    /// because a trailer must not override framing or routing fields.
    pub trailers: Headers,
}

impl Request {
    /// The target's path: everything before any `?`.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The target's query string, after the `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }
}

/// How the request body is delimited (RFC 9112 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body at all.
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed head, with the decisions the server takes from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: String,
    /// The request target.
    pub target: String,
    /// The version.
    pub version: Version,
    /// The header fields.
    pub headers: Headers,
    /// How the body is framed.
    pub body: BodyKind,
    /// The connection persists after the response: HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// The client sent `Expect: 100-continue` and waits for a `100 Continue`
    /// before sending the body.
    pub expects_continue: bool,
}

impl RequestHead {
    /// The request, with its body.
    pub fn into_request(self, body: Vec<u8>, trailers: Headers) -> Request {
        Request {
            method: self.method,
            target: self.target,
            version: self.version,
            headers: self.headers,
            body,
            trailers,
        }
    }
}

// ANCHOR: parse_head
/// Parses the request head at the start of `buf`. `Ok(None)` means "not all
/// here yet" and consumes nothing; `Ok(Some((head, len)))` gives the head and
/// its length in bytes. The checks against `limits` happen here, so that an
/// oversized head is refused as soon as it passes the limit.
pub fn parse_head(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(RequestHead, usize)>, RequestError> {
    // Only ever look at `max_head_bytes`: a head that has not ended by then
    // is too large, however much more is buffered.
    let window = &buf[..buf.len().min(limits.max_head_bytes)];
    let mut fields = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut parsed = httparse::Request::new(&mut fields);
    let len = match parsed.parse(window) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if window.len() >= limits.max_head_bytes => {
            return Err(too_large(window));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        // httparse knows only HTTP/1.0 and 1.1: we tell a version we do not
        // speak (505) from a request line that is not HTTP at all (400).
        Err(httparse::Error::Version) => return version_error(window),
        Err(httparse::Error::Token) => return Err(RequestError::BadRequest("invalid token")),
        Err(_) => return Err(RequestError::BadRequest("invalid request head")),
    };
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        // A complete parse always fills these; never trust it blindly.
        return Err(RequestError::BadRequest("incomplete request line"));
    };
    let version = Version::from_minor(minor).ok_or(RequestError::UnsupportedVersion)?;
    let headers = Headers::from_parsed(parsed.headers);
    let head = interpret(method, target, version, headers, limits)?;
    Ok(Some((head, len)))
}
// ANCHOR_END: parse_head

/// A head over the limit. If its request line has not even ended, the
/// target is what is too long, and RFC 9112 §3 asks for 414 (URI Too Long);
/// otherwise the fields are, and the answer is 431.
fn too_large(window: &[u8]) -> RequestError {
    let line_ended = window.contains(&b'\n');
    let in_target = window.contains(&b' ');
    if !line_ended && in_target {
        RequestError::UriTooLong
    } else {
        RequestError::HeadTooLarge
    }
}

/// `httparse` refused the version. If the request line is not complete yet
/// and could still become `HTTP/d.d`, wait for more; a complete `HTTP/d.d` is
/// a version we do not support (505); anything else is not HTTP (400).
fn version_error(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, RequestError> {
    // The line ends at CR or LF: either one ends the version token, so the
    // answer is the same however the bytes were split.
    let (line, complete) = match buf.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(end) => (&buf[..end], true),
        None => (buf, false),
    };
    // The version is the third of exactly three parts: `GE T / HTTP/1.1`
    // also fails on its "version", but it is not a request line at all.
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [_, _, token] = parts.as_slice() else {
        return Err(RequestError::BadRequest("invalid request line"));
    };
    const SHAPE: &[u8] = b"HTTP/d.d";
    let fits = token.len() <= SHAPE.len()
        && token.iter().zip(SHAPE).all(|(&b, &want)| match want {
            b'd' => b.is_ascii_digit(),
            _ => b == want,
        });
    match (fits, complete, token.len() == SHAPE.len()) {
        (true, true, true) => Err(RequestError::UnsupportedVersion),
        (true, false, _) => Ok(None),
        _ => Err(RequestError::BadRequest("invalid request line")),
    }
}

// ANCHOR: interpret_head
/// What the fields of a syntactically valid head mean for framing and the
/// connection. Every ambiguity that two servers could resolve differently is
/// refused, because that difference is what request smuggling exploits.
fn interpret(
    method: &str,
    target: &str,
    version: Version,
    headers: Headers,
    limits: &Limits,
) -> Result<RequestHead, RequestError> {
    let hosts = headers.get_all("Host").count();
    if hosts > 1 || (version == Version::Http11 && hosts == 0) {
        return Err(RequestError::BadRequest("HTTP/1.1 needs exactly one Host"));
    }
    let body = body_kind(&headers, version, limits)?;
    let connection_close = headers.has_token("Connection", "close");
    let keep_alive = match version {
        Version::Http11 => !connection_close,
        Version::Http10 => !connection_close && headers.has_token("Connection", "keep-alive"),
    };
    // HTTP/1.0 clients do not know 100-continue: the field is ignored.
    let expects_continue = match headers.get("Expect") {
        None => false,
        Some(_) if version == Version::Http10 => false,
        Some(value) if value.trim_ascii().eq_ignore_ascii_case(b"100-continue") => true,
        Some(_) => return Err(RequestError::ExpectationFailed),
    };
    Ok(RequestHead {
        method: method.to_string(),
        target: target.to_string(),
        version,
        headers,
        body,
        keep_alive,
        expects_continue,
    })
}

/// The body framing from `Transfer-Encoding` and `Content-Length`.
fn body_kind(
    headers: &Headers,
    version: Version,
    limits: &Limits,
) -> Result<BodyKind, RequestError> {
    let lengths: Vec<&[u8]> = headers.get_all("Content-Length").collect();
    if headers.contains("Transfer-Encoding") {
        if !lengths.is_empty() {
            return Err(RequestError::BadRequest(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        if version == Version::Http10 {
            return Err(RequestError::BadRequest("Transfer-Encoding in HTTP/1.0"));
        }
        let mut chunked = 0;
        for coding in headers.tokens("Transfer-Encoding") {
            // A coding may carry parameters (`gzip;q=1`): the name is what counts.
            let name = coding
                .split(|&b| b == b';')
                .next()
                .unwrap_or(coding)
                .trim_ascii();
            if name.eq_ignore_ascii_case(b"chunked") {
                chunked += 1;
            } else if !name.eq_ignore_ascii_case(b"identity") {
                return Err(RequestError::UnsupportedTransferCoding);
            }
        }
        return match chunked {
            1 => Ok(BodyKind::Chunked),
            // `identity` alone means no coding, and then no length either.
            0 => Err(RequestError::BadRequest(
                "Transfer-Encoding without chunked",
            )),
            _ => Err(RequestError::BadRequest("chunked applied twice")),
        };
    }
    match lengths.as_slice() {
        [] => Ok(BodyKind::Empty),
        [value] => {
            let len = parse_content_length(value)?;
            if len > limits.max_body_bytes as u64 {
                return Err(RequestError::BodyTooLarge);
            }
            Ok(if len == 0 {
                BodyKind::Empty
            } else {
                BodyKind::Length(len)
            })
        }
        _ => Err(RequestError::BadRequest("more than one Content-Length")),
    }
}

/// `Content-Length` is one or more decimal digits, nothing else: no sign, no
/// list (`5, 5`), no overflow.
fn parse_content_length(value: &[u8]) -> Result<u64, RequestError> {
    const BAD: RequestError = RequestError::BadRequest("invalid Content-Length");
    if value.is_empty() || value.len() > 19 {
        return Err(BAD); // 19 digits always fit in a u64
    }
    value.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            Ok(acc * 10 + u64::from(b - b'0'))
        } else {
            Err(BAD)
        }
    })
}
// ANCHOR_END: interpret_head

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<Option<(RequestHead, usize)>, RequestError> {
        parse_head(input.as_bytes(), &Limits::default())
    }

    fn head(input: &str) -> RequestHead {
        match parse(input) {
            Ok(Some((head, len))) => {
                assert_eq!(len, input.len());
                head
            }
            other => panic!("{input:?} gave {other:?}"),
        }
    }

    #[test]
    fn parses_a_simple_head() {
        let head = head("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
        assert_eq!(head.method, "GET");
        assert_eq!(head.target, "/a?b=1");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.headers.get_str("accept"), Some("*/*"));
        assert_eq!(head.body, BodyKind::Empty);
        assert!(head.keep_alive);
        assert!(!head.expects_continue);
        let request = head.into_request(Vec::new(), Headers::new());
        assert_eq!(request.path(), "/a");
        assert_eq!(request.query(), Some("b=1"));
    }

    #[test]
    fn a_partial_head_needs_more() {
        let full = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n";
        for end in 0..full.len() {
            assert_eq!(parse(&full[..end]), Ok(None), "prefix {end}");
        }
        assert_eq!(head(full).body, BodyKind::Length(3));
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        let cases = [
            ("1.1", "", true),
            ("1.1", "Connection: close\r\n", false),
            ("1.1", "Connection: keep-alive\r\n", true),
            ("1.1", "Connection: Upgrade, CLOSE\r\n", false),
            ("1.0", "", false),
            ("1.0", "Connection: keep-alive\r\n", true),
            ("1.0", "Connection: Keep-Alive\r\n", true),
            ("1.0", "Connection: close\r\n", false),
        ];
        for (version, field, keep) in cases {
            let head = head(&format!("GET / HTTP/{version}\r\nHost: x\r\n{field}\r\n"));
            assert_eq!(head.keep_alive, keep, "HTTP/{version} with {field:?}");
        }
    }

    #[test]
    fn version_sniffing_waits_for_the_end_of_the_line() {
        // Four parts: the last looks like a version, but the line is not HTTP.
        assert!(matches!(
            parse("GE T / HTTP/1.1\r\n"),
            Err(RequestError::BadRequest(_))
        ));
        assert!(matches!(parse("GE T /"), Err(RequestError::BadRequest(_))));
        assert_eq!(parse("GET / HTTP/2"), Ok(None));
        assert_eq!(parse("GET / HTTP/2.0"), Ok(None));
        assert_eq!(
            parse("GET / HTTP/2.0\r\n"),
            Err(RequestError::UnsupportedVersion)
        );
        assert!(matches!(
            parse("GET / HTTP/2.00"),
            Err(RequestError::BadRequest(_))
        ));
        assert!(matches!(
            parse("GET / HTTP/2\r\n"),
            Err(RequestError::BadRequest(_))
        ));
        assert!(matches!(
            parse("GET / http/1.1\r\n"),
            Err(RequestError::BadRequest(_))
        ));
    }

    #[test]
    fn framing_decisions() {
        let chunked =
            head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, Chunked\r\n\r\n");
        assert_eq!(chunked.body, BodyKind::Chunked);
        let zero = head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(zero.body, BodyKind::Empty);
        let expect =
            head("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-Continue\r\n\r\n");
        assert!(expect.expects_continue);
        let old = head("PUT / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n");
        assert!(!old.expects_continue, "HTTP/1.0 ignores Expect");
    }

    #[test]
    fn a_request_line_over_the_limit_is_414_and_fields_are_431() {
        let limits = Limits {
            max_head_bytes: 64,
            ..Limits::default()
        };
        let long_target = format!("GET /{} HTTP/1.1\r\n", "a".repeat(100));
        assert_eq!(
            parse_head(long_target.as_bytes(), &limits),
            Err(RequestError::UriTooLong)
        );
        let long_field = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(100));
        assert_eq!(
            parse_head(long_field.as_bytes(), &limits),
            Err(RequestError::HeadTooLarge)
        );
    }

    #[test]
    fn content_length_must_be_plain_digits() {
        assert_eq!(parse_content_length(b"0"), Ok(0));
        assert_eq!(parse_content_length(b"1234"), Ok(1234));
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b"1 2",
            b"5, 5",
            b"0x10",
            b"99999999999999999999",
        ] {
            assert!(parse_content_length(bad).is_err(), "{bad:?}");
        }
    }
}
