//! Exercise ch03-frame-header: decode a WebSocket frame header.
//!
//! Every WebSocket frame starts with 2 to 14 bytes (RFC 6455 §5.2):
//!
//! ```text
//! byte 0:  FIN | RSV1 | RSV2 | RSV3 | opcode (4 bits)
//! byte 1:  MASK | payload length (7 bits)
//!          126 -> the length is the next 2 bytes (big-endian)
//!          127 -> the length is the next 8 bytes (big-endian, top bit 0)
//! then:    the 4-byte masking key, if MASK is set
//! ```
//!
//! The header may arrive in pieces. Like every sans-IO parser here, the
//! decoder returns `Ok(None)` until the whole header is in, consuming
//! nothing.
//!
//! Replace the `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch03-frame-header`. Stuck? `cargo learn hint ch03-frame-header`.
#![allow(unused_variables)] // the stub does not use them yet

/// A decoded frame header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The last frame of a message.
    pub fin: bool,
    /// RSV1, RSV2 and RSV3 as the low 3 bits (0 without extensions).
    pub rsv: u8,
    /// The opcode: 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong.
    pub opcode: u8,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub len: u64,
}

/// A header no valid frame can have.
#[derive(Debug, PartialEq, Eq)]
pub struct BadHeader;

/// The header at the start of `buf` and its size in bytes, or `Ok(None)` if
/// it has not all arrived. A 64-bit length with its top bit set is
/// `Err(BadHeader)`.
pub fn decode_header(buf: &[u8]) -> Result<Option<(Header, usize)>, BadHeader> {
    todo!("2 bytes, then the extended length, then the mask")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fin: bool, opcode: u8, mask: Option<[u8; 4]>, len: u64) -> Header {
        Header {
            fin,
            rsv: 0,
            opcode,
            mask,
            len,
        }
    }

    #[test]
    fn a_short_unmasked_text_frame() {
        // RFC 6455 §5.7: "Hello", unmasked.
        let frame = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_eq!(
            decode_header(&frame),
            Ok(Some((header(true, 1, None, 5), 2)))
        );
    }

    #[test]
    fn a_masked_frame() {
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let expected = header(true, 1, Some([0x37, 0xfa, 0x21, 0x3d]), 5);
        assert_eq!(decode_header(&frame), Ok(Some((expected, 6))));
    }

    #[test]
    fn sixteen_and_sixty_four_bit_lengths() {
        assert_eq!(
            decode_header(&[0x82, 0x7e, 0x01, 0x00]),
            Ok(Some((header(true, 2, None, 256), 4)))
        );
        let long = [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(
            decode_header(&long),
            Ok(Some((header(true, 2, None, 65536), 10)))
        );
        let masked_long = [0x02, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        assert_eq!(
            decode_header(&masked_long),
            Ok(Some((header(false, 2, Some([1, 2, 3, 4]), 65536), 14)))
        );
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let masked_long = [0x02, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        for len in 0..masked_long.len() {
            assert_eq!(
                decode_header(&masked_long[..len]),
                Ok(None),
                "prefix of {len}"
            );
        }
        let short_masked = [0x89, 0x80, 9, 9, 9, 9];
        for len in 0..short_masked.len() {
            assert_eq!(
                decode_header(&short_masked[..len]),
                Ok(None),
                "prefix of {len}"
            );
        }
    }

    #[test]
    fn flags_and_opcodes() {
        let (ping, _) = decode_header(&[0x89, 0x00]).unwrap().unwrap();
        assert_eq!((ping.fin, ping.opcode, ping.len), (true, 9, 0));
        let (continuation, _) = decode_header(&[0x00, 0x03]).unwrap().unwrap();
        assert_eq!((continuation.fin, continuation.opcode), (false, 0));
        let (reserved, _) = decode_header(&[0xf1, 0x00]).unwrap().unwrap();
        assert_eq!(reserved.rsv, 0b111);
    }

    #[test]
    fn a_length_with_the_top_bit_set_is_refused() {
        assert_eq!(
            decode_header(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(BadHeader)
        );
    }
}
