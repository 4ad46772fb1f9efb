//! What can be wrong with a request, and the status code that says so.

use super::response::Response;
use std::fmt;

/// A request the server will not serve. Each kind maps to one status code;
/// the server answers with it and then closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// Malformed syntax or framing: 400. The text says what, for the body
    /// of the answer and the log.
    BadRequest(&'static str),
    /// The head did not fit in `Limits::max_head_bytes`: 431.
    HeadTooLarge,
    /// The request line alone did not fit in `Limits::max_head_bytes`: its
    /// target is too long, 414 (RFC 9112 §3).
    UriTooLong,
    /// More fields than `Limits::max_headers`: 431.
    TooManyHeaders,
    /// The body would exceed `Limits::max_body_bytes`: 413.
    BodyTooLarge,
    /// A transfer coding other than `chunked` (or `identity`): 501.
    UnsupportedTransferCoding,
    /// A well-formed version other than HTTP/1.0 and HTTP/1.1: 505.
    UnsupportedVersion,
    /// An `Expect` other than `100-continue`: 417.
    ExpectationFailed,
    /// The head (or body) came too slowly: 408.
    Timeout,
}

impl RequestError {
    /// The status code that answers this error.
    pub fn status(self) -> u16 {
        match self {
            RequestError::BadRequest(_) => 400,
            RequestError::HeadTooLarge | RequestError::TooManyHeaders => 431,
            RequestError::BodyTooLarge => 413,
            RequestError::UriTooLong => 414,
            RequestError::UnsupportedTransferCoding => 501,
            RequestError::UnsupportedVersion => 505,
            RequestError::ExpectationFailed => 417,
            RequestError::Timeout => 408,
        }
    }

    /// The answer: the status, with the reason as a short text body.
    pub fn response(self) -> Response {
        Response::new(self.status()).text(format!("{self}\n"))
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::BadRequest(what) => write!(f, "bad request: {what}"),
            RequestError::HeadTooLarge => f.write_str("request head too large"),
            RequestError::UriTooLong => f.write_str("request target too long"),
            RequestError::TooManyHeaders => f.write_str("too many header fields"),
            RequestError::BodyTooLarge => f.write_str("request body too large"),
            RequestError::UnsupportedTransferCoding => {
                f.write_str("unsupported transfer coding (only chunked)")
            }
            RequestError::UnsupportedVersion => {
                f.write_str("HTTP version not supported (only 1.0 and 1.1)")
            }
            RequestError::ExpectationFailed => f.write_str("only 100-continue can be expected"),
            RequestError::Timeout => f.write_str("request not received in time"),
        }
    }
}

impl std::error::Error for RequestError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status_and_says_why() {
        let cases = [
            (RequestError::BadRequest("x"), 400),
            (RequestError::HeadTooLarge, 431),
            (RequestError::UriTooLong, 414),
            (RequestError::TooManyHeaders, 431),
            (RequestError::BodyTooLarge, 413),
            (RequestError::UnsupportedTransferCoding, 501),
            (RequestError::UnsupportedVersion, 505),
            (RequestError::ExpectationFailed, 417),
            (RequestError::Timeout, 408),
        ];
        for (error, status) in cases {
            let response = error.response();
            assert_eq!(response.status, status);
            assert_eq!(response.body, format!("{error}\n").into_bytes());
        }
    }
}
