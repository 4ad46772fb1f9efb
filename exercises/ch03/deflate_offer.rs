//! Exercise ch03-deflate-offer: read one `permessage-deflate` offer.
//!
//! A browser opening a WebSocket sends something like
//!
//! ```text
//! Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits
//! ```
//!
//! Each comma-separated element is an extension name followed by
//! `;`-separated parameters, each `name` or `name=value` (the value may be
//! in double quotes). RFC 7692 defines four parameters for
//! `permessage-deflate`; an offer with anything else, a parameter given
//! twice, or a bad value cannot be accepted (the server then tries the next
//! offer, or goes on without compression):
//!
//! - `server_no_context_takeover` and `client_no_context_takeover`: no value;
//! - `server_max_window_bits=N`: N is required, 8 to 15, no leading zero;
//! - `client_max_window_bits` or `client_max_window_bits=N`: N optional.
//!
//! Replace the `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch03-deflate-offer`. Stuck? `cargo learn hint ch03-deflate-offer`.
#![allow(unused_variables)] // the stub does not use them yet

/// One acceptable offer's parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeflateOffer {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    pub server_max_window_bits: Option<u8>,
    /// `Some(None)` for a bare `client_max_window_bits`.
    pub client_max_window_bits: Option<Option<u8>>,
}

/// Parses one element such as `permessage-deflate; server_max_window_bits=10`.
/// `Err` (with a few words why) if it is not `permessage-deflate` or cannot
/// be accepted.
pub fn parse_offer(element: &str) -> Result<DeflateOffer, String> {
    todo!("split on ';', check the name, then each parameter once")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_offer() {
        assert_eq!(
            parse_offer("permessage-deflate"),
            Ok(DeflateOffer::default())
        );
    }

    #[test]
    fn every_parameter() {
        assert_eq!(
            parse_offer(
                "permessage-deflate; server_no_context_takeover;client_no_context_takeover ; \
                 server_max_window_bits=10; client_max_window_bits"
            ),
            Ok(DeflateOffer {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: Some(10),
                client_max_window_bits: Some(None),
            })
        );
        assert_eq!(
            parse_offer("permessage-deflate; client_max_window_bits=\"9\""),
            Ok(DeflateOffer {
                client_max_window_bits: Some(Some(9)),
                ..DeflateOffer::default()
            })
        );
        assert_eq!(
            parse_offer("permessage-deflate; server_max_window_bits=8"),
            Ok(DeflateOffer {
                server_max_window_bits: Some(8),
                ..DeflateOffer::default()
            })
        );
    }

    #[test]
    fn offers_that_cannot_be_accepted() {
        for bad in [
            "x-webkit-deflate-frame",
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_no_context_takeover=1",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
        ] {
            assert!(parse_offer(bad).is_err(), "{bad}");
        }
    }
}
