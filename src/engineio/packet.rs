//! Engine.IO v4 packets, and their two wire forms.
//!
//! A packet is a type digit (`0` open ... `6` noop) and optional data.
//!
//! - On the **WebSocket** transport every packet is one frame. A text packet
//!   is a text frame holding the digit and the data (`4hello`); a binary
//!   message is a binary frame holding the raw bytes and nothing else (v4
//!   dropped v3's leading type byte: only messages can be binary).
//! - On the **polling** transport several packets share one HTTP body, a
//!   *payload*, joined by the record separator `0x1e`. The separator can
//!   never occur inside a packet: text packets are UTF-8, whose multi-byte
//!   sequences only use bytes `>= 0x80`, and a binary message travels as
//!   `b` followed by its base64 text.
//!
//! Decoding is bounded: a payload longer than `max_payload` bytes is refused
//! before it is stored, and [`PayloadDecoder`] takes a body in pieces of any
//! size (one byte at a time included) without ever holding more than that.

use crate::ws::shared::SharedFrame;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The record separator that joins packets in a polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// Standard base64, padded on output, padding optional on input.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The seven packet types, with their wire digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: the server's handshake, JSON data.
    Open = 0,
    /// `1`: ends the session.
    Close = 1,
    /// `2`: heartbeat request (server to client in v4), or the upgrade probe.
    Ping = 2,
    /// `3`: heartbeat answer, or the answer to the probe.
    Pong = 3,
    /// `4`: application data, text or binary.
    Message = 4,
    /// `5`: the client switches the session to the new transport.
    Upgrade = 5,
    /// `6`: nothing; ends a held poll during an upgrade.
    Noop = 6,
}

impl PacketType {
    /// The type for a wire digit (`b'0'..=b'6'`).
    pub fn from_digit(digit: u8) -> Result<PacketType, PacketError> {
        Ok(match digit {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            other => return Err(PacketError::UnknownType(other)),
        })
    }

    /// The wire digit.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// A message's data: Engine.IO keeps text and binary apart end to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Binary(Vec<u8>),
}

impl Payload {
    /// The data's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Payload::Text(t) => t.len(),
            Payload::Binary(b) => b.len(),
        }
    }

    /// Whether there is no data.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data as bytes (a text's UTF-8).
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Payload::Text(t) => t.into_bytes(),
            Payload::Binary(b) => b,
        }
    }
}

// ANCHOR: packet
/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0` + the handshake JSON (see [`super::handshake::OpenInfo`]).
    Open(String),
    /// `1`.
    Close,
    /// `2` + optional data (`2probe` during an upgrade).
    Ping(String),
    /// `3` + the ping's data (`3probe`).
    Pong(String),
    /// `4` + text, or a binary message.
    Message(Payload),
    /// A message sent to many sessions (a broadcast), encoded once per
    /// wire format and shared: only servers send these.
    Shared(Arc<SharedMessage>),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
}
// ANCHOR_END: packet

/// Why bytes are not a packet or a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketError {
    /// A packet with no type digit at all.
    Empty,
    /// The first byte is not one of `0`..`6` (nor `b` in a payload).
    UnknownType(u8),
    /// A text packet that is not UTF-8.
    InvalidUtf8,
    /// A `b` packet whose base64 does not decode.
    InvalidBase64,
    /// More than `limit` bytes.
    TooLarge {
        /// The limit that was passed.
        limit: usize,
    },
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketError::Empty => f.write_str("empty packet"),
            PacketError::UnknownType(b) if b.is_ascii_graphic() => {
                write!(f, "unknown packet type {:?}", *b as char)
            }
            PacketError::UnknownType(b) => write!(f, "unknown packet type byte 0x{b:02x}"),
            PacketError::InvalidUtf8 => f.write_str("text packet is not UTF-8"),
            PacketError::InvalidBase64 => f.write_str("binary packet is not valid base64"),
            PacketError::TooLarge { limit } => write!(f, "payload over {limit} bytes"),
        }
    }
}

impl std::error::Error for PacketError {}

/// A WebSocket frame's content, as Engine.IO uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsFrame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

impl Packet {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Packet {
        Packet::Message(Payload::Text(text.into()))
    }

    /// A binary message.
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Packet {
        Packet::Message(Payload::Binary(bytes.into()))
    }

    /// The packet's type.
    pub fn kind(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) | Packet::Shared(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// The text data after the digit (empty for packets without any).
    fn text_data(&self) -> &str {
        match self {
            Packet::Open(s) | Packet::Ping(s) | Packet::Pong(s) => s,
            Packet::Message(Payload::Text(s)) => s,
            Packet::Shared(m) => match &m.payload {
                Payload::Text(s) => s,
                Payload::Binary(_) => "",
            },
            _ => "",
        }
    }

    // ANCHOR: encode
    /// Appends the packet's polling form to `out`: the digit and the text,
    /// or `b` and base64 for a binary message.
    pub fn encode_polling(&self, out: &mut Vec<u8>) {
        match self {
            Packet::Message(Payload::Binary(bytes)) => encode_base64_record(bytes, out),
            Packet::Shared(m) => out.extend_from_slice(m.polling()),
            other => {
                out.push(other.kind().digit());
                out.extend_from_slice(other.text_data().as_bytes());
            }
        }
    }

    /// The packet as one WebSocket frame: binary messages are binary frames
    /// of raw bytes, everything else a text frame.
    pub fn to_ws_frame(&self) -> WsFrame {
        match self {
            Packet::Message(Payload::Binary(bytes)) => WsFrame::Binary(bytes.clone()),
            Packet::Shared(m) if matches!(m.payload, Payload::Binary(_)) => {
                WsFrame::Binary(m.payload.clone().into_bytes())
            }
            other => {
                let data = other.text_data();
                let mut s = String::with_capacity(1 + data.len());
                s.push(other.kind().digit() as char);
                s.push_str(data);
                WsFrame::Text(s)
            }
        }
    }
    // ANCHOR_END: encode

    /// Decodes a text packet (a WebSocket text frame, or one record of a
    /// polling payload without the `b` form).
    pub fn decode_text(text: &str) -> Result<Packet, PacketError> {
        let (&first, rest) = text.as_bytes().split_first().ok_or(PacketError::Empty)?;
        let kind = PacketType::from_digit(first)?;
        // The digit is ASCII, so byte 1 is a char boundary.
        let data = &text[1..];
        debug_assert_eq!(data.len(), rest.len());
        Ok(match kind {
            PacketType::Open => Packet::Open(data.to_string()),
            PacketType::Close => Packet::Close,
            PacketType::Ping => Packet::Ping(data.to_string()),
            PacketType::Pong => Packet::Pong(data.to_string()),
            PacketType::Message => Packet::Message(Payload::Text(data.to_string())),
            PacketType::Upgrade => Packet::Upgrade,
            PacketType::Noop => Packet::Noop,
        })
    }

    /// Decodes one record of a polling payload: `b` + base64 is a binary
    /// message, anything else a text packet.
    pub fn decode_polling(record: &[u8]) -> Result<Packet, PacketError> {
        match record.split_first() {
            None => Err(PacketError::Empty),
            Some((b'b', b64)) => BASE64
                .decode(b64)
                .map(Packet::binary)
                .map_err(|_| PacketError::InvalidBase64),
            Some(_) => {
                let text = std::str::from_utf8(record).map_err(|_| PacketError::InvalidUtf8)?;
                Packet::decode_text(text)
            }
        }
    }

    /// Decodes one WebSocket frame, refusing more than `max_payload` bytes.
    pub fn from_ws_frame(frame: WsFrame, max_payload: usize) -> Result<Packet, PacketError> {
        match frame {
            WsFrame::Binary(bytes) if bytes.len() > max_payload => {
                Err(PacketError::TooLarge { limit: max_payload })
            }
            WsFrame::Binary(bytes) => Ok(Packet::binary(bytes)),
            WsFrame::Text(text) if text.len() > max_payload => {
                Err(PacketError::TooLarge { limit: max_payload })
            }
            WsFrame::Text(text) => Packet::decode_text(&text),
        }
    }
}

// ANCHOR: payload
/// Appends `packets` to `out` as one polling payload.
pub fn encode_payload<'a>(packets: impl IntoIterator<Item = &'a Packet>, out: &mut Vec<u8>) {
    for (i, packet) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        packet.encode_polling(out);
    }
}

/// Decodes a whole polling payload of at most `max_payload` bytes.
pub fn decode_payload(body: &[u8], max_payload: usize) -> Result<Vec<Packet>, PacketError> {
    if body.len() > max_payload {
        return Err(PacketError::TooLarge { limit: max_payload });
    }
    body.split(|&b| b == SEPARATOR)
        .map(Packet::decode_polling)
        .collect()
}
// ANCHOR_END: payload

/// The length of a packet's polling form, without encoding it.
pub fn polling_len(packet: &Packet) -> usize {
    match packet {
        Packet::Message(Payload::Binary(b)) => 1 + base64::encoded_len(b.len(), true).unwrap_or(0),
        Packet::Shared(m) => m.polling().len(),
        other => 1 + other.text_data().len(),
    }
}

/// `b` and the base64 of `bytes`: a binary message in a polling payload.
fn encode_base64_record(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'b');
    let start = out.len();
    out.resize(
        start + base64::encoded_len(bytes.len(), true).unwrap_or(0),
        0,
    );
    let written = BASE64.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

// ANCHOR: shared_message
/// One message for many sessions: a broadcast's text or attachment.
///
/// Each wire form is built the first time a transport asks for it and then
/// shared. For WebSocket it is chapter 3's [`SharedFrame`]: the whole frame
/// a server sends (header and payload, unmasked), uncompressed or
/// compressed once per window size and level, as an `Arc<[u8]>` that
/// every connection queues with `Ctx::send_shared`. For polling it is the
/// record (`4text`, or `b` and base64) that every poll answer copies into
/// its body. So a broadcast to 1,000 WebSocket clients builds one frame
/// and compresses at most once, not 1,000 times.
#[derive(Debug)]
pub struct SharedMessage {
    payload: Payload,
    websocket: OnceLock<SharedFrame>,
    polling: OnceLock<Box<[u8]>>,
}

impl SharedMessage {
    /// A message to share; nothing is encoded yet.
    pub fn new(payload: Payload) -> Arc<SharedMessage> {
        Arc::new(SharedMessage {
            payload,
            websocket: OnceLock::new(),
            polling: OnceLock::new(),
        })
    }

    /// The message.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The WebSocket message: `4` and the text in a text frame, or the
    /// bytes in a binary frame. Its frames are built when a connection
    /// asks for them ([`crate::ws::WsConnection::send_shared`]).
    pub fn websocket(&self) -> &SharedFrame {
        self.websocket.get_or_init(|| match &self.payload {
            Payload::Text(text) => {
                let mut data = String::with_capacity(1 + text.len());
                data.push(char::from(PacketType::Message.digit()));
                data.push_str(text);
                SharedFrame::text(data)
            }
            Payload::Binary(bytes) => SharedFrame::binary(bytes.clone()),
        })
    }

    /// The whole uncompressed WebSocket frame, built on the first call; the
    /// flag says whether this call built it (for counting encodes).
    pub fn ws_frame(&self) -> (Arc<[u8]>, bool) {
        self.websocket().plain()
    }

    /// The polling record (no separator), built on the first call.
    pub fn polling(&self) -> &[u8] {
        self.polling.get_or_init(|| {
            let mut out = Vec::new();
            Packet::Message(self.payload.clone()).encode_polling(&mut out);
            out.into_boxed_slice()
        })
    }
}
// ANCHOR_END: shared_message

impl PartialEq for SharedMessage {
    fn eq(&self, other: &SharedMessage) -> bool {
        self.payload == other.payload
    }
}

impl Eq for SharedMessage {}

/// Decodes a polling payload that arrives in pieces of any size.
///
/// Feed it every piece of the body with [`PayloadDecoder::feed`], which
/// returns the packets completed so far, then call
/// [`PayloadDecoder::finish`] at the end of the body for the last one. It
/// holds at most one unfinished record, and refuses a body over the limit as
/// soon as the limit is crossed.
#[derive(Debug)]
pub struct PayloadDecoder {
    record: Vec<u8>,
    seen: usize,
    max_payload: usize,
    failed: bool,
}

impl PayloadDecoder {
    /// A decoder for one body of at most `max_payload` bytes.
    pub fn new(max_payload: usize) -> PayloadDecoder {
        PayloadDecoder {
            record: Vec::new(),
            seen: 0,
            max_payload,
            failed: false,
        }
    }

    /// Takes the next piece of the body. After an error, every later call
    /// fails too.
    pub fn feed(&mut self, piece: &[u8]) -> Result<Vec<Packet>, PacketError> {
        if self.failed {
            return Err(PacketError::Empty);
        }
        self.seen = self.seen.saturating_add(piece.len());
        if self.seen > self.max_payload {
            self.failed = true;
            return Err(PacketError::TooLarge {
                limit: self.max_payload,
            });
        }
        let mut packets = Vec::new();
        let mut rest = piece;
        while let Some(at) = rest.iter().position(|&b| b == SEPARATOR) {
            self.record.extend_from_slice(&rest[..at]);
            rest = &rest[at + 1..];
            let packet = Packet::decode_polling(&self.record);
            self.record.clear();
            match packet {
                Ok(p) => packets.push(p),
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            }
        }
        self.record.extend_from_slice(rest);
        Ok(packets)
    }

    /// Ends the body and decodes its last record.
    pub fn finish(mut self) -> Result<Packet, PacketError> {
        if self.failed {
            return Err(PacketError::Empty);
        }
        Packet::decode_polling(&std::mem::take(&mut self.record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(p: &Packet) -> Vec<u8> {
        let mut out = Vec::new();
        p.encode_polling(&mut out);
        out
    }

    #[test]
    fn a_shared_message_builds_each_wire_form_once_and_like_the_plain_one() {
        let text = SharedMessage::new(Payload::Text("hi".into()));
        let (frame, built) = text.ws_frame();
        assert!(built);
        // FIN + text opcode, unmasked length 3, then "4hi".
        assert_eq!(&frame[..], b"\x81\x034hi");
        let (again, built) = text.ws_frame();
        assert!(!built);
        assert!(Arc::ptr_eq(&frame, &again));
        let shared = Packet::Shared(Arc::clone(&text));
        assert_eq!(poll(&shared), poll(&Packet::text("hi")));
        assert_eq!(polling_len(&shared), polling_len(&Packet::text("hi")));
        assert_eq!(shared.to_ws_frame(), Packet::text("hi").to_ws_frame());
        let bytes = SharedMessage::new(Payload::Binary(vec![1, 2, 3]));
        assert_eq!(&bytes.ws_frame().0[..], b"\x82\x03\x01\x02\x03");
        let shared = Packet::Shared(bytes);
        assert_eq!(poll(&shared), b"bAQID");
        assert_eq!(shared.to_ws_frame(), WsFrame::Binary(vec![1, 2, 3]));
        assert_eq!(shared.kind(), PacketType::Message);
    }

    #[test]
    fn every_type_has_its_digit() {
        for (d, t) in (b'0'..=b'6').zip([
            PacketType::Open,
            PacketType::Close,
            PacketType::Ping,
            PacketType::Pong,
            PacketType::Message,
            PacketType::Upgrade,
            PacketType::Noop,
        ]) {
            assert_eq!(PacketType::from_digit(d), Ok(t));
            assert_eq!(t.digit(), d);
        }
        assert_eq!(
            PacketType::from_digit(b'7'),
            Err(PacketError::UnknownType(b'7'))
        );
        assert_eq!(
            PacketType::from_digit(b'x'),
            Err(PacketError::UnknownType(b'x'))
        );
    }

    #[test]
    fn text_packets_encode_as_digit_and_data() {
        assert_eq!(poll(&Packet::text("hello")), b"4hello");
        assert_eq!(poll(&Packet::Ping("probe".into())), b"2probe");
        assert_eq!(poll(&Packet::Pong("probe".into())), b"3probe");
        assert_eq!(poll(&Packet::Ping(String::new())), b"2");
        assert_eq!(poll(&Packet::Close), b"1");
        assert_eq!(poll(&Packet::Upgrade), b"5");
        assert_eq!(poll(&Packet::Noop), b"6");
        assert_eq!(poll(&Packet::Open("{}".into())), b"0{}");
        assert_eq!(poll(&Packet::text("€")), "4€".as_bytes());
    }

    #[test]
    fn binary_in_polling_is_b_and_base64() {
        assert_eq!(poll(&Packet::binary([1, 2, 3])), b"bAQID");
        assert_eq!(poll(&Packet::binary([1, 2, 3, 4])), b"bAQIDBA==");
        assert_eq!(poll(&Packet::binary([])), b"b");
        assert_eq!(
            Packet::decode_polling(b"bAQIDBA=="),
            Ok(Packet::binary([1, 2, 3, 4]))
        );
        assert_eq!(
            Packet::decode_polling(b"bAQIDBA"),
            Ok(Packet::binary([1, 2, 3, 4]))
        );
        assert_eq!(
            Packet::decode_polling(b"b!!"),
            Err(PacketError::InvalidBase64)
        );
    }

    #[test]
    fn polling_len_matches_the_encoding() {
        for p in [
            Packet::text("héllo"),
            Packet::binary(vec![7; 10]),
            Packet::binary(vec![]),
            Packet::Close,
            Packet::Ping("probe".into()),
        ] {
            assert_eq!(polling_len(&p), poll(&p).len(), "{p:?}");
        }
    }

    #[test]
    fn websocket_frames_carry_one_packet() {
        assert_eq!(
            Packet::text("hi").to_ws_frame(),
            WsFrame::Text("4hi".into())
        );
        assert_eq!(
            Packet::binary([1, 2]).to_ws_frame(),
            WsFrame::Binary(vec![1, 2])
        );
        assert_eq!(
            Packet::Ping("probe".into()).to_ws_frame(),
            WsFrame::Text("2probe".into())
        );
        assert_eq!(
            Packet::from_ws_frame(WsFrame::Binary(vec![0, 1]), 10),
            Ok(Packet::binary([0, 1])),
            "a binary frame is a message, its first byte is data"
        );
        assert_eq!(
            Packet::from_ws_frame(WsFrame::Text("3probe".into()), 10),
            Ok(Packet::Pong("probe".into()))
        );
        assert_eq!(
            Packet::from_ws_frame(WsFrame::Text("4hello world".into()), 5),
            Err(PacketError::TooLarge { limit: 5 })
        );
        assert_eq!(
            Packet::from_ws_frame(WsFrame::Binary(vec![0; 6]), 5),
            Err(PacketError::TooLarge { limit: 5 })
        );
        assert_eq!(
            Packet::from_ws_frame(WsFrame::Text(String::new()), 5),
            Err(PacketError::Empty)
        );
        assert_eq!(
            Packet::from_ws_frame(WsFrame::Text("9".into()), 5),
            Err(PacketError::UnknownType(b'9'))
        );
    }

    #[test]
    fn payloads_join_with_the_record_separator() {
        let packets = vec![
            Packet::text("hello"),
            Packet::binary([1, 2, 3]),
            Packet::text("€€€"),
            Packet::Ping(String::new()),
        ];
        let mut out = Vec::new();
        encode_payload(&packets, &mut out);
        assert_eq!(out, "4hello\x1ebAQID\x1e4€€€\x1e2".as_bytes());
        assert_eq!(decode_payload(&out, 1000), Ok(packets));
        let mut single = Vec::new();
        encode_payload(&[Packet::Noop], &mut single);
        assert_eq!(single, b"6", "no separator after the last packet");
    }

    #[test]
    fn bad_payloads_are_refused_with_their_reason() {
        assert_eq!(decode_payload(b"", 10), Err(PacketError::Empty));
        assert_eq!(decode_payload(b"4a\x1e\x1e4b", 10), Err(PacketError::Empty));
        assert_eq!(decode_payload(b"4a\x1e", 10), Err(PacketError::Empty));
        assert_eq!(
            decode_payload(b"4a\x1e9", 10),
            Err(PacketError::UnknownType(b'9'))
        );
        assert_eq!(decode_payload(b"4\xff", 10), Err(PacketError::InvalidUtf8));
        assert_eq!(
            decode_payload(b"4hello", 5),
            Err(PacketError::TooLarge { limit: 5 })
        );
        assert_eq!(decode_payload(b"4hell", 5), Ok(vec![Packet::text("hell")]));
        let msg = PacketError::UnknownType(0x1f).to_string();
        assert!(msg.contains("0x1f"), "{msg}");
    }

    /// Every way to cut a payload into pieces gives the same packets.
    #[test]
    fn the_decoder_takes_any_split_even_byte_by_byte() {
        let body = "4héllo\x1ebAQIDBA==\x1e2probe\x1e4€".as_bytes();
        let whole = decode_payload(body, 1000).unwrap();
        for cut in 0..=body.len() {
            let mut d = PayloadDecoder::new(1000);
            let mut got = d.feed(&body[..cut]).unwrap();
            got.extend(d.feed(&body[cut..]).unwrap());
            got.push(d.finish().unwrap());
            assert_eq!(got, whole, "cut at {cut}");
        }
        let mut d = PayloadDecoder::new(1000);
        let mut got = Vec::new();
        for b in body {
            got.extend(d.feed(std::slice::from_ref(b)).unwrap());
        }
        got.push(d.finish().unwrap());
        assert_eq!(got, whole);
    }

    #[test]
    fn the_decoder_stops_at_the_limit_and_stays_failed() {
        let mut d = PayloadDecoder::new(4);
        assert_eq!(d.feed(b"4ab"), Ok(vec![]));
        assert_eq!(d.feed(b"cd"), Err(PacketError::TooLarge { limit: 4 }));
        assert!(d.feed(b"").is_err());
        assert!(d.finish().is_err());
        let mut d = PayloadDecoder::new(100);
        assert_eq!(
            d.feed(b"4a\x1ez"),
            Ok(vec![Packet::text("a")]),
            "z is not ended yet"
        );
        assert_eq!(d.feed(b"\x1e"), Err(PacketError::UnknownType(b'z')));
        assert!(d.feed(b"\x1e4b").is_err());
    }
}
