//! Close frames: status codes and reasons (RFC 6455 §5.5.1, §7.4).
//!
//! A close frame's payload is empty, or a 2-byte big-endian status code
//! followed by a UTF-8 reason. Some codes exist only to *report* a situation
//! to the local application and must never appear on the wire: 1005 ("no
//! status code was present"), 1006 ("closed without a close frame") and 1015
//! ("TLS handshake failed").

/// Status codes with a name in RFC 6455 §7.4.1.
pub mod code {
    /// The purpose of the connection has been fulfilled.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away: a server shutting down, a page closed.
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A kind of data this endpoint does not accept (say, binary).
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Reported locally when a close frame had no code. Never sent.
    pub const NO_STATUS: u16 = 1005;
    /// Reported locally when the connection ended without a close frame.
    /// Never sent.
    pub const ABNORMAL: u16 = 1006;
    /// A message's data did not match its type: text that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A message broke this endpoint's policy.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A message too big to process.
    pub const TOO_BIG: u16 = 1009;
    /// (Client) the server did not negotiate an extension the client needs.
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// (Server) an unexpected condition stopped it from fulfilling the request.
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// The longest reason that fits in a control frame after the 2-byte code.
pub const MAX_REASON_LEN: usize = 123;

// ANCHOR: valid_code
/// May `code` appear in a close frame on the wire?
///
/// - 1000-1003 and 1007-1011: defined by RFC 6455 and its registry;
/// - 3000-3999: registered with IANA for libraries and frameworks;
/// - 4000-4999: private use, for applications to agree on.
///
/// Everything else is refused: under 1000 (unused), 1004 (reserved), 1005,
/// 1006 and 1015 (local reports only), 1012-2999 (reserved for future
/// standards; 1012-1014 were registered later, but Autobahn's 7.9.x cases
/// expect them refused, as the RFC's own list does), 5000 and up (out of range).
pub fn is_valid_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}
// ANCHOR_END: valid_code

/// Why a received close payload is unacceptable, with the code to fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseError {
    /// 1 byte: half a code. Fail with 1002.
    OneBytePayload,
    /// A code that must not be sent. Fail with 1002.
    InvalidCode(u16),
    /// The reason is not UTF-8. Fail with 1007.
    InvalidReason,
}

impl CloseError {
    /// The close code to fail the connection with.
    pub fn close_code(self) -> u16 {
        match self {
            CloseError::OneBytePayload | CloseError::InvalidCode(_) => code::PROTOCOL_ERROR,
            CloseError::InvalidReason => code::INVALID_PAYLOAD,
        }
    }
}

impl std::fmt::Display for CloseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseError::OneBytePayload => f.write_str("close payload of 1 byte"),
            CloseError::InvalidCode(code) => write!(f, "invalid close code {code}"),
            CloseError::InvalidReason => f.write_str("close reason is not UTF-8"),
        }
    }
}

impl std::error::Error for CloseError {}

// ANCHOR: parse_close
/// Reads a received close payload: `None` when it is empty (the application
/// then sees [`code::NO_STATUS`]), else the code and the reason.
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<(u16, &str)>, CloseError> {
    let Some((&[hi, lo], reason)) = payload.split_first_chunk::<2>() else {
        return if payload.is_empty() {
            Ok(None)
        } else {
            Err(CloseError::OneBytePayload)
        };
    };
    let code = u16::from_be_bytes([hi, lo]);
    if !is_valid_code(code) {
        return Err(CloseError::InvalidCode(code));
    }
    let reason = std::str::from_utf8(reason).map_err(|_| CloseError::InvalidReason)?;
    Ok(Some((code, reason)))
}
// ANCHOR_END: parse_close

/// The payload of a close frame we send. The caller has checked the code
/// with [`is_valid_code`] and the reason's length.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(reason.as_bytes());
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_autobahn_7_7_expects_accepted() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            assert!(is_valid_code(code), "{code}");
            let payload = close_payload(code, "ok");
            assert_eq!(parse_close_payload(&payload), Ok(Some((code, "ok"))));
        }
    }

    #[test]
    fn the_codes_autobahn_7_9_expects_refused() {
        let refused = [
            0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999,
        ];
        for code in refused.into_iter().chain([5000, 65535]) {
            assert!(!is_valid_code(code), "{code}");
            let payload = close_payload(code, "");
            assert_eq!(
                parse_close_payload(&payload),
                Err(CloseError::InvalidCode(code))
            );
            assert_eq!(
                CloseError::InvalidCode(code).close_code(),
                code::PROTOCOL_ERROR
            );
        }
    }

    #[test]
    fn every_code_at_the_range_edges() {
        for (code, valid) in [
            (999, false),
            (1000, true),
            (1003, true),
            (1004, false),
            (1006, false),
        ]
        .into_iter()
        .chain([
            (1007, true),
            (1011, true),
            (1012, false),
            (2999, false),
            (3000, true),
        ])
        .chain([(4999, true), (5000, false)])
        {
            assert_eq!(is_valid_code(code), valid, "{code}");
        }
    }

    #[test]
    fn empty_payload_means_no_status() {
        assert_eq!(parse_close_payload(b""), Ok(None));
    }

    #[test]
    fn one_byte_payload_is_a_protocol_error() {
        assert_eq!(
            parse_close_payload(&[0x03]),
            Err(CloseError::OneBytePayload)
        );
        assert_eq!(
            CloseError::OneBytePayload.close_code(),
            code::PROTOCOL_ERROR
        );
    }

    #[test]
    fn a_reason_that_is_not_utf8_is_invalid_payload() {
        let payload = [0x03, 0xe8, b'o', 0xff, b'k'];
        assert_eq!(
            parse_close_payload(&payload),
            Err(CloseError::InvalidReason)
        );
        assert_eq!(
            CloseError::InvalidReason.close_code(),
            code::INVALID_PAYLOAD
        );
    }

    #[test]
    fn a_utf8_reason_comes_through() {
        let payload = close_payload(1001, "κόσμε");
        assert_eq!(parse_close_payload(&payload), Ok(Some((1001, "κόσμε"))));
    }
}
