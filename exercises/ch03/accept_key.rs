//! Exercise ch03-accept-key: the server's half of the opening handshake.
//!
//! A client asks for a WebSocket with a random `Sec-WebSocket-Key`. The
//! server proves it understood the request by answering with
//! `Sec-WebSocket-Accept`: the base64 of the SHA-1 of the key followed by
//! the fixed GUID `258EAFA5-E914-47DA-95CA-C5AB0DC85B11` (RFC 6455 §4.2.2).
//! A plain HTTP server could never produce it by accident.
//!
//! Replace the `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch03-accept-key`. Stuck? `cargo learn hint ch03-accept-key`.
#![allow(unused_variables, unused_imports)] // the stub does not use them yet

use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID every WebSocket server appends to the key.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    todo!("base64(sha1(key + GUID))")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn other_keys() {
        assert_eq!(
            accept_key("x3JJHMbDL1EzLkh9GBhXDw=="),
            "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
        );
        assert_eq!(
            accept_key("AQIDBAUGBwgJCgsMDQ4PEC=="),
            "OfS0wDaT5NoxF2gqm7Zj2YtetzM="
        );
    }

    #[test]
    fn is_base64_of_twenty_bytes() {
        let accept = accept_key("AAAAAAAAAAAAAAAAAAAAAA==");
        assert_eq!(
            accept.len(),
            28,
            "20 bytes of SHA-1 are 28 base64 characters"
        );
        assert!(accept.ends_with('='));
    }
}
