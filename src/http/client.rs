//! The client side: a request writer, a sans-IO response parser, and a
//! blocking [`get`] for `http://` URLs over `std::net`.
//!
//! Chapter 3's WebSocket handshake reuses the first two: it writes its
//! upgrade request with [`write_request_head`] and reads the `101` answer
//! with [`parse_response_head`], which hands back the bytes after the head
//! (the first WebSocket frames may arrive in the same read).

use super::chunked::{ChunkedDecoder, ChunkedLimits};
use super::headers::{Headers, Version, is_token};
use super::response::{is_field_value, status_has_no_body, write_field};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The largest response head the client accepts. 64 KiB: servers send
/// bigger heads than clients (cookies, security policies).
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// The most header fields the client accepts in a response head.
pub const MAX_RESPONSE_HEADERS: usize = 128;
/// The default largest response body [`ResponseParser`] accepts: 16 MiB.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

/// The server's answer broke HTTP (or a client limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidResponse(pub &'static str);

impl fmt::Display for InvalidResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid HTTP response: {}", self.0)
    }
}

impl std::error::Error for InvalidResponse {}

impl From<InvalidResponse> for io::Error {
    fn from(error: InvalidResponse) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

// ANCHOR: write_request
/// Writes a request head: the request line, `headers` as given (include
/// `Host`: HTTP/1.1 requires it), and the empty line. Fields with invalid
/// names or values (a CR or LF would smuggle extra lines) are skipped.
pub fn write_request_head(method: &str, target: &str, headers: &Headers, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{method} {target} HTTP/1.1\r\n").as_bytes());
    for (name, value) in headers.iter() {
        if is_token(name.as_bytes()) && is_field_value(value) {
            write_field(out, name, value);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes a whole request with a `Content-Length` body (any length fields in
/// `headers` are replaced).
pub fn write_request(
    method: &str,
    target: &str,
    headers: &Headers,
    body: &[u8],
    out: &mut Vec<u8>,
) {
    let mut headers = headers.clone();
    headers.remove("Content-Length");
    headers.remove("Transfer-Encoding");
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        headers.push("Content-Length", body.len().to_string());
    }
    write_request_head(method, target, &headers, out);
    out.extend_from_slice(body);
}
// ANCHOR_END: write_request

/// A response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The server's version.
    pub version: Version,
    /// The status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// Header fields, in order.
    pub headers: Headers,
}

/// A whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientResponse {
    /// The server's version.
    pub version: Version,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Header fields.
    pub headers: Headers,
    /// The body, after chunked decoding.
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body.
    pub trailers: Headers,
}

// ANCHOR: parse_response_head
/// Parses the response head at the start of `buf`: `Ok(None)` while it is
/// incomplete, else the head and the bytes after it.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<(ResponseHead, &[u8])>, InvalidResponse> {
    let window = &buf[..buf.len().min(MAX_RESPONSE_HEAD)];
    let mut fields = vec![httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut parsed = httparse::Response::new(&mut fields);
    let len = match parsed.parse(window) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if window.len() >= MAX_RESPONSE_HEAD => {
            return Err(InvalidResponse("head too large"));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(InvalidResponse("too many header fields"));
        }
        Err(_) => return Err(InvalidResponse("malformed head")),
    };
    let (Some(minor), Some(status)) = (parsed.version, parsed.code) else {
        return Err(InvalidResponse("incomplete status line"));
    };
    let head = ResponseHead {
        version: Version::from_minor(minor).ok_or(InvalidResponse("unknown version"))?,
        status,
        reason: parsed.reason.unwrap_or("").to_string(),
        headers: Headers::from_parsed(parsed.headers),
    };
    Ok(Some((head, &buf[len..])))
}
// ANCHOR_END: parse_response_head

/// How a response body ends (RFC 9112 §6.3, the client's view).
#[derive(Debug)]
enum Body {
    Length(u64),
    Chunked(ChunkedDecoder, Headers),
    UntilEof,
}

#[derive(Debug)]
enum State {
    Head,
    Body {
        head: ResponseHead,
        body: Vec<u8>,
        framing: Body,
    },
    Done,
}

/// Reads one response, sans-IO: fed bytes, it returns the response once
/// complete. A body without length ends at end of stream: tell the parser
/// with [`ResponseParser::finish`].
#[derive(Debug)]
pub struct ResponseParser {
    head_request: bool,
    max_body: usize,
    state: State,
}

impl ResponseParser {
    /// A parser for the response to a request with `method`: a response to
    /// `HEAD` has no body, whatever its fields say.
    pub fn new(method: &str) -> ResponseParser {
        ResponseParser {
            head_request: method.eq_ignore_ascii_case("HEAD"),
            max_body: DEFAULT_MAX_BODY,
            state: State::Head,
        }
    }

    /// Sets the largest body accepted (default [`DEFAULT_MAX_BODY`]).
    pub fn max_body(mut self, max_body: usize) -> ResponseParser {
        self.max_body = max_body;
        self
    }

    /// Feeds `input` (everything buffered): the bytes used and, once it is
    /// whole, the response. Interim (1xx) responses are skipped, except
    /// `101 Switching Protocols`, which ends HTTP on this connection and is
    /// returned; the bytes after it are left unconsumed.
    pub fn feed(
        &mut self,
        input: &[u8],
    ) -> Result<(usize, Option<ClientResponse>), InvalidResponse> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match &mut self.state {
                State::Done => return Ok((used, None)),
                State::Head => {
                    let Some((head, after)) = parse_response_head(rest)? else {
                        return Ok((used, None));
                    };
                    used += rest.len() - after.len();
                    if (100..200).contains(&head.status) && head.status != 101 {
                        continue; // 100 Continue and friends: the real answer follows
                    }
                    let framing = self.framing(&head)?;
                    self.state = State::Body {
                        head,
                        body: Vec::new(),
                        framing,
                    };
                }
                State::Body { body, framing, .. } => {
                    let (len, done) = match framing {
                        Body::Length(remaining) => {
                            let take = (*remaining).min(rest.len() as u64) as usize;
                            body.extend_from_slice(&rest[..take]);
                            *remaining -= take as u64;
                            (take, *remaining == 0)
                        }
                        Body::Chunked(decoder, trailers) => {
                            let progress = decoder
                                .decode(rest, body, trailers)
                                .map_err(|_| InvalidResponse("bad chunked body"))?;
                            (progress.consumed, progress.done)
                        }
                        Body::UntilEof => {
                            if body.len() + rest.len() > self.max_body {
                                return Err(InvalidResponse("body too large"));
                            }
                            body.extend_from_slice(rest);
                            (rest.len(), false)
                        }
                    };
                    used += len;
                    return Ok((used, if done { Some(self.complete()) } else { None }));
                }
            }
        }
    }

    /// The stream ended. Completes a body delimited by the end of the stream;
    /// anything else unfinished is an error.
    pub fn finish(&mut self) -> Result<ClientResponse, InvalidResponse> {
        match &self.state {
            State::Body {
                framing: Body::UntilEof,
                ..
            } => Ok(self.complete()),
            State::Body { .. } => Err(InvalidResponse("connection closed inside the body")),
            State::Head => Err(InvalidResponse("connection closed before a response")),
            State::Done => Err(InvalidResponse("response already returned")),
        }
    }

    /// How `head`'s body is framed.
    fn framing(&self, head: &ResponseHead) -> Result<Body, InvalidResponse> {
        if self.head_request || status_has_no_body(head.status) {
            return Ok(Body::Length(0));
        }
        if head.headers.contains("Transfer-Encoding") {
            // Only chunked as the final coding delimits a body; we decode no
            // other codings, so anything else is refused.
            let codings: Vec<&[u8]> = head.headers.tokens("Transfer-Encoding").collect();
            return match codings.as_slice() {
                [only] if only.eq_ignore_ascii_case(b"chunked") => Ok(Body::Chunked(
                    ChunkedDecoder::new(ChunkedLimits {
                        max_body: self.max_body,
                        max_line: 4096,
                        max_trailer_bytes: MAX_RESPONSE_HEAD,
                        max_trailers: MAX_RESPONSE_HEADERS,
                    }),
                    Headers::new(),
                )),
                _ => Err(InvalidResponse("unsupported transfer coding")),
            };
        }
        let lengths: Vec<&[u8]> = head.headers.get_all("Content-Length").collect();
        match lengths.as_slice() {
            [] => Ok(Body::UntilEof),
            [value] => {
                let len = std::str::from_utf8(value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or(InvalidResponse("bad Content-Length"))?;
                if len > self.max_body as u64 {
                    return Err(InvalidResponse("body too large"));
                }
                Ok(Body::Length(len))
            }
            _ => Err(InvalidResponse("more than one Content-Length")),
        }
    }

    /// Hands out the finished response; the parser is done.
    fn complete(&mut self) -> ClientResponse {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Body {
                head,
                body,
                framing,
            } => ClientResponse {
                version: head.version,
                status: head.status,
                reason: head.reason,
                headers: head.headers,
                body,
                trailers: match framing {
                    Body::Chunked(_, trailers) => trailers,
                    _ => Headers::new(),
                },
            },
            // Only called from the body state; an empty answer beats a panic.
            _ => ClientResponse {
                version: Version::Http11,
                status: 0,
                reason: String::new(),
                headers: Headers::new(),
                body: Vec::new(),
                trailers: Headers::new(),
            },
        }
    }
}

/// Where an `http://` URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// The host name or address (IPv6 without brackets).
    pub host: String,
    /// The port (80 when not given).
    pub port: u16,
    /// The request target: path and query, at least `/`.
    pub target: String,
    /// The `Host` field value, as the URL spelled it.
    pub authority: String,
}

/// Splits an `http://host[:port][/path][?query]` URL. `https://` is refused:
/// this client has no TLS.
pub fn parse_url(url: &str) -> io::Result<HttpUrl> {
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{why}: {url}"));
    let scheme_end = url
        .find("://")
        .ok_or_else(|| invalid("not an http:// URL"))?;
    let (scheme, rest) = (&url[..scheme_end], &url[scheme_end + 3..]);
    if scheme.eq_ignore_ascii_case("https") {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "https is not supported: netladder's client speaks plain HTTP only, no TLS: {url}"
            ),
        ));
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(invalid("only http:// URLs are supported"));
    }
    let rest = rest.split('#').next().unwrap_or("");
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(split);
    let target = match target {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    if authority.contains('@') {
        return Err(invalid("user names in URLs are not supported"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| invalid("unclosed ["))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    let port = match port {
        None => 80,
        Some(port) => port.parse().map_err(|_| invalid("bad port"))?,
    };
    Ok(HttpUrl {
        host: host.to_string(),
        port,
        target,
        authority: authority.to_string(),
    })
}

// ANCHOR: get
/// Fetches `url` (`http://` only: there is no TLS) with a blocking socket:
/// one request, `Connection: close`, read until the response is whole.
pub fn get(url: &str) -> io::Result<ClientResponse> {
    let url = parse_url(url)?;
    let mut stream = TcpStream::connect((url.host.as_str(), url.port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut headers = Headers::new();
    headers.push("Host", url.authority.as_str());
    headers.push("User-Agent", "netladder");
    headers.push("Accept", "*/*");
    headers.push("Connection", "close");
    let mut request = Vec::new();
    write_request_head("GET", &url.target, &headers, &mut request);
    stream.write_all(&request)?;

    let mut parser = ResponseParser::new("GET");
    let mut buffered = Vec::new();
    let mut chunk = [0; 16 * 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if n == 0 {
            return Ok(parser.finish()?);
        }
        buffered.extend_from_slice(&chunk[..n]);
        let (used, response) = parser.feed(&buffered)?;
        buffered.drain(..used);
        if let Some(response) = response {
            return Ok(response);
        }
    }
}
// ANCHOR_END: get

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
