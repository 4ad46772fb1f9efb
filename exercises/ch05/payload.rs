//! Exercise ch05-payload: decode an Engine.IO polling payload.
//!
//! On the polling transport, one HTTP body carries several packets, joined
//! by the record separator byte `0x1e`. A text packet is its type digit
//! (`0` open ... `6` noop) followed by its data, like `4hello`; a binary
//! message is `b` followed by the bytes in base64, like `bAQID` for
//! `[1, 2, 3]`. The separator can never occur inside a packet: UTF-8 only
//! uses bytes of `0x80` and up in its multi-byte sequences, and base64 is
//! plain ASCII.
//!
//! A server must bound what it accepts: a body over `max` bytes is refused
//! before anything is decoded.
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch05-payload`. Stuck? `cargo learn hint ch05-payload`.
#![allow(unused_variables, unused_imports, dead_code)] // the stub does not use them yet

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// A text packet: its type digit (0 to 6) and its data.
    Text(u8, String),
    /// A binary message.
    Binary(Vec<u8>),
}

/// Why a body is not a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Over `max` bytes.
    TooLarge,
    /// An empty record (two separators in a row, or an empty body).
    Empty,
    /// A record starting with something other than `0`..`6` or `b`.
    UnknownType(u8),
    /// A text record that is not UTF-8.
    InvalidUtf8,
    /// A `b` record whose base64 does not decode.
    InvalidBase64,
}

/// Decodes one record (the bytes between separators).
pub fn decode_packet(record: &[u8]) -> Result<Packet, Error> {
    todo!("split off the first byte: `b` means base64, a digit means text")
}

/// Decodes a whole payload of at most `max` bytes.
pub fn decode_payload(body: &[u8], max: usize) -> Result<Vec<Packet>, Error> {
    todo!("check the limit, then split on 0x1e")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_text_packet() {
        assert_eq!(
            decode_packet(b"4hello"),
            Ok(Packet::Text(4, "hello".into()))
        );
        assert_eq!(
            decode_packet(b"2probe"),
            Ok(Packet::Text(2, "probe".into()))
        );
        assert_eq!(decode_packet(b"6"), Ok(Packet::Text(6, String::new())));
    }

    #[test]
    fn one_binary_packet() {
        assert_eq!(decode_packet(b"bAQID"), Ok(Packet::Binary(vec![1, 2, 3])));
        assert_eq!(decode_packet(b"b"), Ok(Packet::Binary(vec![])));
    }

    #[test]
    fn bad_packets() {
        assert_eq!(decode_packet(b""), Err(Error::Empty));
        assert_eq!(decode_packet(b"7"), Err(Error::UnknownType(b'7')));
        assert_eq!(decode_packet(b"x1"), Err(Error::UnknownType(b'x')));
        assert_eq!(decode_packet(b"4\xff"), Err(Error::InvalidUtf8));
        assert_eq!(decode_packet(b"b!!!"), Err(Error::InvalidBase64));
    }

    #[test]
    fn a_payload_of_several_packets() {
        assert_eq!(
            decode_payload("4hello\x1ebAQID\x1e4€€€\x1e2".as_bytes(), 100),
            Ok(vec![
                Packet::Text(4, "hello".into()),
                Packet::Binary(vec![1, 2, 3]),
                Packet::Text(4, "€€€".into()),
                Packet::Text(2, String::new()),
            ])
        );
        assert_eq!(
            decode_payload(b"3", 100),
            Ok(vec![Packet::Text(3, String::new())])
        );
    }

    #[test]
    fn bad_payloads() {
        assert_eq!(decode_payload(b"4a\x1e\x1e4b", 100), Err(Error::Empty));
        assert_eq!(decode_payload(b"", 100), Err(Error::Empty));
        assert_eq!(
            decode_payload(b"4a\x1e9", 100),
            Err(Error::UnknownType(b'9'))
        );
    }

    #[test]
    fn the_limit_is_checked_first() {
        assert_eq!(decode_payload(b"4hello", 5), Err(Error::TooLarge));
        assert_eq!(
            decode_payload(b"4hell", 5),
            Ok(vec![Packet::Text(4, "hell".into())])
        );
        assert_eq!(decode_payload(b"9999999", 5), Err(Error::TooLarge));
    }
}
