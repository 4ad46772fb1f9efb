//! Exercise ch05-open-packet: a session id, and the open packet.
//!
//! An Engine.IO session starts with the server's open packet: the digit `0`
//! and a JSON object saying who the session is and how it will be kept
//! alive:
//!
//! ```text
//! 0{"sid":"…","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
//! ```
//!
//! The `sid` is the session's only credential: every later request (on any
//! connection) names it, so it must be unguessable: random bytes from the
//! operating system (120 bits at least), written in base64's URL-safe
//! alphabet (`-` and `_` instead of `+` and `/`) without `=` padding, so it
//! can sit in a query string, and in JSON, without any escaping.
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch05-open-packet`. Stuck? `cargo learn hint ch05-open-packet`.
#![allow(unused_variables, unused_imports, dead_code)] // the stub does not use them yet

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A session id for `random` (the caller draws the bytes from a CSPRNG;
/// here they are passed in so the tests can check the result).
pub fn sid_from_bytes(random: &[u8]) -> String {
    todo!("base64, URL-safe alphabet, no padding")
}

/// The open packet, `0` and its JSON, keys in this order: `sid`,
/// `upgrades`, `pingInterval`, `pingTimeout` (milliseconds), `maxPayload`.
/// `sid` and `upgrades` are URL-safe words: no JSON escaping is needed.
pub fn open_packet(
    sid: &str,
    upgrades: &[&str],
    ping_interval_ms: u64,
    ping_timeout_ms: u64,
    max_payload: usize,
) -> String {
    todo!("format! the JSON; `{{` is a literal brace")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteen_bytes_make_twenty_url_safe_characters() {
        assert_eq!(sid_from_bytes(&[0; 15]), "AAAAAAAAAAAAAAAAAAAA");
        let sid = sid_from_bytes(&[
            0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 1, 2, 3, 4, 5, 6, 7, 8, 9,
        ]);
        assert_eq!(sid.len(), 20);
        assert!(sid.starts_with("-_-_-_-_"), "{sid}");
        assert!(
            sid.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{sid}"
        );
    }

    #[test]
    fn no_padding() {
        assert_eq!(sid_from_bytes(&[1; 16]), "AQEBAQEBAQEBAQEBAQEBAQ");
    }

    #[test]
    fn the_open_packet_on_polling() {
        assert_eq!(
            open_packet(
                "lv_VI97HAXpY6yYWAAAC",
                &["websocket"],
                25000,
                20000,
                1_000_000
            ),
            r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
    }

    #[test]
    fn the_open_packet_on_a_websocket_offers_no_upgrade() {
        assert_eq!(
            open_packet("abc", &[], 300, 200, 1000),
            r#"0{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000}"#
        );
    }

    #[test]
    fn several_upgrades_are_comma_separated() {
        assert_eq!(
            open_packet("s", &["websocket", "webtransport"], 1, 2, 3),
            r#"0{"sid":"s","upgrades":["websocket","webtransport"],"pingInterval":1,"pingTimeout":2,"maxPayload":3}"#
        );
    }
}
