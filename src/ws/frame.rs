//! Frames: the units a WebSocket message travels in (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               | Masking-key, if MASK set to 1 |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! This module decodes and encodes *headers* only, plus whole frames for
//! sending. The payload is left to the caller, which may receive it in many
//! pieces (see [`super::connection`]). Rules that depend on the connection
//! (who must mask, which extensions allow RSV bits, whether a continuation
//! has something to continue) are checked there, not here.

use std::fmt;

/// What a frame carries (RFC 6455 §5.2). Opcodes 3-7 and 0xB-0xF are
/// reserved: [`decode_header`] refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// 0x0: the next piece of a fragmented message.
    Continuation,
    /// 0x1: the first (or only) frame of a UTF-8 text message.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: the close handshake.
    Close,
    /// 0x9: a ping; the peer answers with a pong.
    Ping,
    /// 0xA: a pong, answering a ping (or unsolicited, as a heartbeat).
    Pong,
}

impl Opcode {
    /// The opcode for the 4 bits `bits`, or `None` for a reserved one.
    pub fn from_bits(bits: u8) -> Option<Opcode> {
        match bits {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xA => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// The 4 bits on the wire.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Control frames (close, ping, pong) have the high opcode bit set.
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }
}

/// The most payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest header: 2 bytes, a 64-bit length, a 4-byte mask.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The last frame of its message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the low three bits. Only extensions may set them.
    pub rsv: u8,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// Payload bytes following the header.
    pub payload_len: u64,
}

/// A header that breaks RFC 6455 whatever the connection's state: the
/// connection fails with 1002 (protocol error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Opcode 3-7 or 0xB-0xF.
    ReservedOpcode(u8),
    /// A 64-bit length with its most significant bit set (§5.2 forbids it).
    LengthHighBit,
    /// A length written in more bytes than needed: 126 followed by a value
    /// under 126, or 127 followed by a value that fits in 16 bits.
    NonMinimalLength,
    /// A control frame with more than 125 bytes of payload.
    ControlTooLong,
    /// A control frame without FIN: control frames are never fragmented.
    ControlFragmented,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::ReservedOpcode(bits) => write!(f, "reserved opcode {bits:#x}"),
            HeaderError::LengthHighBit => f.write_str("64-bit length with the high bit set"),
            HeaderError::NonMinimalLength => f.write_str("length not in its shortest form"),
            HeaderError::ControlTooLong => f.write_str("control frame over 125 bytes"),
            HeaderError::ControlFragmented => f.write_str("fragmented control frame"),
        }
    }
}

impl std::error::Error for HeaderError {}

// ANCHOR: decode_header
/// Decodes the frame header at the start of `buf`: `Ok(None)` while it is
/// incomplete (nothing is consumed: call again with more bytes), else the
/// header and its length in bytes.
///
/// Non-minimal lengths are refused. RFC 6455 §5.2 says the minimal number of
/// bytes MUST be used; a peer that does otherwise is broken or probing, and
/// accepting one form per length keeps the decoder simple to reason about.
pub fn decode_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, HeaderError> {
    let Some(&[b0, b1]) = buf.first_chunk::<2>() else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0x7;
    let opcode = Opcode::from_bits(b0 & 0x0f).ok_or(HeaderError::ReservedOpcode(b0 & 0x0f))?;
    let masked = b1 & 0x80 != 0;
    let short_len = b1 & 0x7f;
    if opcode.is_control() {
        // Checked before reading further: these need no more bytes.
        if !fin {
            return Err(HeaderError::ControlFragmented);
        }
        if usize::from(short_len) > MAX_CONTROL_PAYLOAD {
            return Err(HeaderError::ControlTooLong);
        }
    }
    let rest = &buf[2..];
    let (payload_len, len_bytes) = match short_len {
        126 => {
            let Some(bytes) = rest.first_chunk::<2>() else {
                return Ok(None);
            };
            let len = u16::from_be_bytes(*bytes);
            if len < 126 {
                return Err(HeaderError::NonMinimalLength);
            }
            (u64::from(len), 2)
        }
        127 => {
            let Some(bytes) = rest.first_chunk::<8>() else {
                return Ok(None);
            };
            let len = u64::from_be_bytes(*bytes);
            if len >> 63 != 0 {
                return Err(HeaderError::LengthHighBit);
            }
            if len <= u64::from(u16::MAX) {
                return Err(HeaderError::NonMinimalLength);
            }
            (len, 8)
        }
        len => (u64::from(len), 0),
    };
    let rest = &rest[len_bytes..];
    let mask = if masked {
        let Some(key) = rest.first_chunk::<4>() else {
            return Ok(None);
        };
        Some(*key)
    } else {
        None
    };
    let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len,
    };
    Ok(Some((header, header_len)))
}
// ANCHOR_END: decode_header

// ANCHOR: encode
/// Appends a frame header for a payload of `payload_len` bytes to `out`,
/// always in the shortest length form.
pub fn encode_header(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: Opcode,
    payload_len: usize,
    mask: Option<[u8; 4]>,
) {
    let b0 = if fin { 0x80 } else { 0 } | opcode.bits();
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    out.push(b0);
    match payload_len {
        0..=125 => out.push(mask_bit | payload_len as u8),
        126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(payload_len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(payload_len as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// Appends a whole frame to `out`: header, then the payload, masked with
/// `mask` if given (clients must mask, servers must not).
pub fn encode_frame(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: Opcode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    // One allocation for the whole frame (14 bytes is the largest header),
    // not a regrowth per header byte and another for the payload.
    out.reserve(14 + payload.len());
    encode_header(out, fin, opcode, payload.len(), mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        super::mask::apply_mask(&mut out[start..], key, 0);
    }
}
// ANCHOR_END: encode

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fin: bool, opcode: Opcode, mask: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len,
        }
    }

    /// Decodes `bytes`, checking that every shorter prefix is "incomplete".
    fn decode_bytewise(bytes: &[u8]) -> Result<(FrameHeader, usize), HeaderError> {
        for end in 0..bytes.len() {
            match decode_header(&bytes[..end]) {
                Ok(None) => {}
                Ok(Some(found)) => return Ok(found),
                Err(err) => return Err(err),
            }
        }
        decode_header(bytes).map(|found| found.expect("a whole header"))
    }

    #[test]
    fn rfc_single_frame_unmasked_hello() {
        let (h, n) = decode_bytewise(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]).unwrap();
        assert_eq!((h, n), (header(true, Opcode::Text, None, 5), 2));
    }

    #[test]
    fn rfc_single_frame_masked_hello() {
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = decode_bytewise(&frame).unwrap();
        assert_eq!(n, 6);
        assert_eq!(
            h,
            header(true, Opcode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5)
        );
    }

    #[test]
    fn rfc_fragmented_hello() {
        let (first, _) = decode_bytewise(&[0x01, 0x03, 0x48, 0x65, 0x6c]).unwrap();
        assert_eq!(first, header(false, Opcode::Text, None, 3));
        let (second, _) = decode_bytewise(&[0x80, 0x02, 0x6c, 0x6f]).unwrap();
        assert_eq!(second, header(true, Opcode::Continuation, None, 2));
    }

    #[test]
    fn rfc_ping_and_pong() {
        let (ping, _) = decode_bytewise(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]).unwrap();
        assert_eq!(ping, header(true, Opcode::Ping, None, 5));
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (pong, _) = decode_bytewise(&pong).unwrap();
        assert_eq!(
            pong,
            header(true, Opcode::Pong, Some([0x37, 0xfa, 0x21, 0x3d]), 5)
        );
    }

    #[test]
    fn rfc_256_bytes_and_64_kib_lengths() {
        let (h, n) = decode_bytewise(&[0x82, 0x7e, 0x01, 0x00]).unwrap();
        assert_eq!((h, n), (header(true, Opcode::Binary, None, 256), 4));
        let bytes = [0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        let (h, n) = decode_bytewise(&bytes).unwrap();
        assert_eq!((h, n), (header(true, Opcode::Binary, None, 65536), 10));
    }

    #[test]
    fn encode_matches_the_rfc_examples() {
        let mut out = Vec::new();
        encode_frame(&mut out, true, Opcode::Text, b"Hello", None);
        assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        encode_frame(
            &mut out,
            true,
            Opcode::Text,
            b"Hello",
            Some([0x37, 0xfa, 0x21, 0x3d]),
        );
        assert_eq!(
            out,
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
        out.clear();
        encode_header(&mut out, true, Opcode::Binary, 256, None);
        assert_eq!(out, [0x82, 0x7e, 0x01, 0x00]);
        out.clear();
        encode_header(&mut out, true, Opcode::Binary, 65536, None);
        assert_eq!(out, [0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
    }

    #[test]
    fn encode_then_decode_round_trips_at_the_length_boundaries() {
        for len in [0, 1, 125, 126, 127, 0xffff, 0x10000] {
            for mask in [None, Some([9, 8, 7, 6])] {
                let mut out = Vec::new();
                encode_header(&mut out, false, Opcode::Binary, len, mask);
                let (h, n) = decode_bytewise(&out).unwrap();
                assert_eq!(n, out.len());
                assert_eq!(h, header(false, Opcode::Binary, mask, len as u64));
            }
        }
    }

    #[test]
    fn rsv_bits_are_reported_not_judged() {
        let (h, _) = decode_header(&[0xf1, 0x00]).unwrap().unwrap();
        assert_eq!(h.rsv, 0b111);
        let (h, _) = decode_header(&[0xc1, 0x00]).unwrap().unwrap();
        assert_eq!(h.rsv, 0b100, "RSV1 is the highest of the three");
    }

    #[test]
    fn reserved_opcodes_are_refused() {
        for bits in (3..=7).chain(0xb..=0xf) {
            assert_eq!(
                decode_header(&[0x80 | bits, 0]),
                Err(HeaderError::ReservedOpcode(bits))
            );
        }
    }

    #[test]
    fn control_frame_rules() {
        // Ping with 126 bytes (16-bit length form): too long, refused before
        // the extended length even arrives.
        assert_eq!(
            decode_header(&[0x89, 0x7e]),
            Err(HeaderError::ControlTooLong)
        );
        assert_eq!(
            decode_header(&[0x88, 0x7f]),
            Err(HeaderError::ControlTooLong)
        );
        // 125 is fine.
        assert!(decode_header(&[0x89, 0x7d]).unwrap().is_some());
        // A ping without FIN.
        assert_eq!(
            decode_header(&[0x09, 0x00]),
            Err(HeaderError::ControlFragmented)
        );
    }

    #[test]
    fn bad_lengths_are_refused() {
        assert_eq!(
            decode_header(&[0x82, 0x7e, 0x00, 0x7d]),
            Err(HeaderError::NonMinimalLength)
        );
        let sixteen_bit_in_64 = [0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
        assert_eq!(
            decode_header(&sixteen_bit_in_64),
            Err(HeaderError::NonMinimalLength)
        );
        let high_bit = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(decode_header(&high_bit), Err(HeaderError::LengthHighBit));
    }

    #[test]
    fn a_partial_header_is_incomplete_at_every_length() {
        let mut whole = Vec::new();
        encode_header(&mut whole, true, Opcode::Binary, 70_000, Some([1, 2, 3, 4]));
        assert_eq!(whole.len(), MAX_HEADER_LEN);
        for end in 0..whole.len() {
            assert_eq!(decode_header(&whole[..end]), Ok(None), "prefix of {end}");
        }
    }
}
