//! Socket.IO packets with binary attachments (`netladder::socketio::packet`).
//!
//! The input is cut into Engine.IO messages (text or binary) fed in order to
//! one `Decoder`, with limits of at most 1 MiB of attachments:
//!
//! - no input panics, and every error is a typed `PacketError`;
//! - every packet that decodes re-encodes into messages that decode to the
//!   same packet (decode(encode(x)) == x), with binary back in place. The
//!   one difference allowed: encoding picks the type by the data, so a
//!   binary event or ack that carries no binary (`50-[...]`, which Node's
//!   parser also accepts) comes back as a plain event or ack;
//! - an attachment count over the cap, or attachments over the byte cap,
//!   is refused before they are kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netladder::engineio::packet::Payload;
use netladder::socketio::packet::{Decoder, Limits, Packet, PacketType};

/// The packet as encoding will type it: binary types only with binary.
fn normalized(packet: &Packet) -> Packet {
    let mut packet = packet.clone();
    let binary = packet.data.as_ref().is_some_and(|data| data.has_binary());
    packet.kind = match (packet.kind, binary) {
        (PacketType::BinaryEvent, false) => PacketType::Event,
        (PacketType::BinaryAck, false) => PacketType::Ack,
        (kind, _) => kind,
    };
    packet
}

/// Decodes `packet.encode()` again: it must be the same packet.
fn round_trip(packet: &Packet, limits: Limits) {
    let encoded = packet.encode();
    let mut decoder = Decoder::new(limits);
    let mut back = None;
    for message in encoded.payloads() {
        assert!(back.is_none(), "a packet ended before its last message");
        back = decoder.feed(message).expect("our own encoding decodes");
    }
    assert_eq!(back, Some(normalized(packet)), "decode(encode(x)) != x");
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_attachments: usize::from(selector % 16),
        max_attachment_bytes: if selector & 0x80 != 0 {
            64
        } else {
            netladder_fuzz::LIMIT
        },
    };
    let mut decoder = Decoder::new(limits);
    // Each message: a kind byte (even: text, odd: binary), a length byte,
    // then that many bytes.
    while let [kind, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (body, after) = tail.split_at(len);
        rest = after;
        let message = if kind & 1 == 0 {
            Payload::Text(String::from_utf8_lossy(body).into_owned())
        } else {
            Payload::Binary(body.to_vec())
        };
        match decoder.feed(message) {
            Ok(Some(packet)) => round_trip(&packet, limits),
            Ok(None) => {}
            Err(_) => decoder = Decoder::new(limits),
        }
    }
});
