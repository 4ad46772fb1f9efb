//! Responses: the owned type handlers build, and the writer that turns one
//! into bytes.

use super::headers::{Headers, Version, is_token};
use tracing::warn;

/// A response: status, reason phrase, header fields and a whole body.
///
/// The writer owns the framing: it sets `Content-Length` (or
/// `Transfer-Encoding`) itself, so any such fields set here are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, like 200 or 404.
    pub status: u16,
    /// The reason phrase. Clients ignore it; people read it.
    pub reason: String,
    /// Header fields, in order.
    pub headers: Headers,
    /// The body. For a `HEAD` request it is measured, not sent.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response with `status` and its usual reason phrase.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            reason: reason_phrase(status).to_string(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header field.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Response {
        self.headers.push(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// Sets a UTF-8 text body and its `Content-Type`.
    pub fn text(self, text: impl Into<String>) -> Response {
        self.header("Content-Type", "text/plain; charset=utf-8")
            .body(text.into())
    }

    /// Replaces the reason phrase.
    pub fn reason(mut self, reason: impl Into<String>) -> Response {
        self.reason = reason.into();
        self
    }

    /// Whether the handler asked to end the connection after this response.
    pub fn closes_connection(&self) -> bool {
        self.headers.has_token("Connection", "close")
    }
}

/// The usual reason phrase for `status` ("" for codes without one: a reason
/// phrase is optional).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Whether responses with `status` never have a body (RFC 9112 §6.3):
/// informational ones, 204 No Content and 304 Not Modified.
pub fn status_has_no_body(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// How the writer marks where the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// `Content-Length: n`.
    Length(usize),
    /// `Transfer-Encoding: chunked`: the body follows as chunks.
    Chunked,
    /// No length at all: the body ends when the connection closes. Only for
    /// streaming to HTTP/1.0 clients, which cannot read chunks.
    UntilClose,
}

/// What the writer must know about the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answering {
    /// The request was `HEAD`: send the head only, with the length the body
    /// would have had.
    pub head_only: bool,
    /// The connection stays open after this response.
    pub keep_alive: bool,
    /// The request's version (HTTP/1.0 needs `Connection: keep-alive`
    /// spelled out).
    pub version: Version,
}

// ANCHOR: write_response
/// Writes a whole response (head, then body unless `HEAD` or a bodiless
/// status) to `out`.
pub fn write_response(response: &Response, to: Answering, out: &mut Vec<u8>) {
    write_head(response, BodyFraming::Length(response.body.len()), to, out);
    if !to.head_only && !status_has_no_body(response.status) {
        out.extend_from_slice(&response.body);
    }
}

/// Writes the status line and header fields of `response` (its body is not
/// touched), framing the body as `framing`.
pub fn write_head(response: &Response, framing: BodyFraming, to: Answering, out: &mut Vec<u8>) {
    let reason = if is_field_value(response.reason.as_bytes()) {
        response.reason.as_str()
    } else {
        warn!("dropping a reason phrase with control characters");
        reason_phrase(response.status)
    };
    // We always say HTTP/1.1, even to a 1.0 client: the status line names
    // the version the server supports, and `to.version` decides what we use.
    out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", response.status, reason).as_bytes());
    for (name, value) in response.headers.iter() {
        // The writer frames the body itself: a handler's own length could
        // disagree with the body and desynchronize the connection.
        if name.eq_ignore_ascii_case("Content-Length")
            || name.eq_ignore_ascii_case("Transfer-Encoding")
        {
            continue;
        }
        // A CR or LF in a field would let whoever chose the value write
        // extra fields, or a whole extra response ("response splitting").
        if !is_token(name.as_bytes()) || !is_field_value(value) {
            warn!("dropping an invalid response header field {name:?}");
            continue;
        }
        write_field(out, name, value);
    }
    if !response.headers.contains("Server") {
        write_field(out, "Server", b"netladder");
    }
    if !status_has_no_body(response.status) {
        match framing {
            BodyFraming::Length(len) => {
                write_field(out, "Content-Length", len.to_string().as_bytes());
            }
            BodyFraming::Chunked => write_field(out, "Transfer-Encoding", b"chunked"),
            BodyFraming::UntilClose => {}
        }
    }
    let connection = &response.headers;
    if !to.keep_alive && !connection.has_token("Connection", "close") {
        write_field(out, "Connection", b"close");
    } else if to.keep_alive
        && to.version == Version::Http10
        && !connection.has_token("Connection", "keep-alive")
    {
        write_field(out, "Connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
}
// ANCHOR_END: write_response

/// Writes one `name: value` line.
pub(crate) fn write_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A header value (or reason phrase): no control characters but tab.
pub(crate) fn is_field_value(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP_11: Answering = Answering {
        head_only: false,
        keep_alive: true,
        version: Version::Http11,
    };

    fn written(response: &Response, to: Answering) -> String {
        let mut out = Vec::new();
        write_response(response, to, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_status_fields_length_and_body() {
        let response = Response::new(200).header("X-A", "1").body("hi");
        assert_eq!(
            written(&response, KEEP_11),
            "HTTP/1.1 200 OK\r\nX-A: 1\r\nServer: netladder\r\nContent-Length: 2\r\n\r\nhi"
        );
    }

    #[test]
    fn head_gets_the_length_but_no_body() {
        let response = Response::new(200).body("hello");
        let to = Answering {
            head_only: true,
            ..KEEP_11
        };
        assert_eq!(
            written(&response, to),
            "HTTP/1.1 200 OK\r\nServer: netladder\r\nContent-Length: 5\r\n\r\n"
        );
    }

    #[test]
    fn connection_fields_follow_the_keep_alive_decision() {
        let close = Answering {
            keep_alive: false,
            ..KEEP_11
        };
        assert!(written(&Response::new(200), close).contains("Connection: close\r\n"));
        let keep_10 = Answering {
            version: Version::Http10,
            ..KEEP_11
        };
        assert!(written(&Response::new(200), keep_10).contains("Connection: keep-alive\r\n"));
        assert!(!written(&Response::new(200), KEEP_11).contains("Connection"));
        // A handler's own `Connection: close` is not repeated.
        let own = Response::new(200).header("Connection", "close");
        assert_eq!(written(&own, close).matches("Connection").count(), 1);
    }

    #[test]
    fn handler_framing_fields_and_injected_lines_are_dropped() {
        let response = Response::new(204)
            .header("Content-Length", "99")
            .header("Transfer-Encoding", "chunked")
            .header("X-Evil", "a\r\nSet-Cookie: x")
            .header("Bad Name", "v")
            .reason("No\r\nContent")
            .body("ignored");
        assert_eq!(
            written(&response, KEEP_11),
            "HTTP/1.1 204 No Content\r\nServer: netladder\r\n\r\n"
        );
    }

    #[test]
    fn chunked_and_until_close_framing() {
        let mut out = Vec::new();
        write_head(&Response::new(200), BodyFraming::Chunked, KEEP_11, &mut out);
        assert!(out.ends_with(b"Transfer-Encoding: chunked\r\n\r\n"));
        out.clear();
        write_head(
            &Response::new(200),
            BodyFraming::UntilClose,
            KEEP_11,
            &mut out,
        );
        assert_eq!(out, b"HTTP/1.1 200 OK\r\nServer: netladder\r\n\r\n");
    }

    #[test]
    fn builders_set_what_they_say() {
        let response = Response::new(404).text("gone");
        assert_eq!(response.reason, "Not Found");
        assert_eq!(
            response.headers.get_str("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(response.body, b"gone");
        assert!(!response.closes_connection());
        assert!(
            Response::new(200)
                .header("Connection", "close")
                .closes_connection()
        );
        assert_eq!(Response::new(599).reason, "");
    }
}
