//! The errors an Engine.IO server answers requests with: HTTP 400 and a
//! small JSON body, `{"code":N,"message":"..."}`, that clients can read.

use crate::http::Response;

// ANCHOR: codes
/// The protocol's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: `transport` is missing or not `polling`/`websocket`.
    UnknownTransport = 0,
    /// 1: `sid` names no live session.
    UnknownSid = 1,
    /// 2: a handshake (no `sid`) that is not a `GET`.
    BadHandshakeMethod = 2,
    /// 3: anything else wrong with the request (wrong transport for the
    /// session, a second poll, a bad body...).
    BadRequest = 3,
    /// 4: refused by the application's `allow_request` hook (an Origin
    /// check, for example).
    Forbidden = 4,
    /// 5: `EIO` is not 4 (v3 clients say `EIO=3`).
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// Every code, in order.
    pub const ALL: [ErrorCode; 6] = [
        ErrorCode::UnknownTransport,
        ErrorCode::UnknownSid,
        ErrorCode::BadHandshakeMethod,
        ErrorCode::BadRequest,
        ErrorCode::Forbidden,
        ErrorCode::UnsupportedProtocolVersion,
    ];

    /// The number in the JSON body.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The message in the JSON body.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status: 400 for every code. (Node's `engine.io` answers
    /// `Forbidden` with 403; clients only look at the body.)
    pub fn status(self) -> u16 {
        400
    }

    /// The JSON body.
    pub fn json(self) -> String {
        serde_json::json!({ "code": self.code(), "message": self.message() }).to_string()
    }

    /// The whole response.
    pub fn response(self) -> Response {
        Response::new(self.status())
            .header("Content-Type", "application/json")
            .body(self.json())
    }
}
// ANCHOR_END: codes

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message(), self.code())
    }
}

impl std::error::Error for ErrorCode {}

/// The answer to a POST body over `maxPayload`: 413, no session change.
pub fn payload_too_large() -> Response {
    Response::new(413).text("payload over maxPayload")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_a_400_with_its_json() {
        let expected = [
            (0, "Transport unknown"),
            (1, "Session ID unknown"),
            (2, "Bad handshake method"),
            (3, "Bad request"),
            (4, "Forbidden"),
            (5, "Unsupported protocol version"),
        ];
        for (code, (n, message)) in ErrorCode::ALL.iter().zip(expected) {
            let response = code.response();
            assert_eq!(response.status, 400);
            assert_eq!(response.reason, "Bad Request");
            assert_eq!(
                response.headers.get_str("content-type"),
                Some("application/json")
            );
            let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            assert_eq!(body, serde_json::json!({ "code": n, "message": message }));
            assert_eq!(
                String::from_utf8(response.body).unwrap(),
                format!(r#"{{"code":{n},"message":"{message}"}}"#),
                "compact, code first"
            );
        }
    }

    #[test]
    fn too_large_is_413() {
        assert_eq!(payload_too_large().status, 413);
    }
}
