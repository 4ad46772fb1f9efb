//! Engine.IO packets and polling payloads (`netladder::engineio::packet`).
//!
//! - any input: `decode_payload` on the whole body and `PayloadDecoder` fed
//!   one byte at a time agree (the same packets; an error for both; the
//!   same error when the body is within the limit, since the whole decoder
//!   checks the size first); a WebSocket frame decodes like its text;
//! - decode(encode(packets)) == packets, over polling and over WebSocket.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use netladder::engineio::packet::{
    Packet, PacketError, Payload, PayloadDecoder, SEPARATOR, WsFrame, decode_payload,
    encode_payload,
};

fn bytewise(input: &[u8], limit: usize) -> std::result::Result<Vec<Packet>, PacketError> {
    let mut decoder = PayloadDecoder::new(limit);
    let mut packets = Vec::new();
    for byte in input {
        packets.extend(decoder.feed(std::slice::from_ref(byte))?);
    }
    packets.push(decoder.finish()?);
    Ok(packets)
}

/// Text without the record separator, which no packet may carry.
fn text(u: &mut Unstructured<'_>) -> Result<String> {
    let s: String = u.arbitrary()?;
    Ok(s.replace(char::from(SEPARATOR), ""))
}

fn round_trip(u: &mut Unstructured<'_>, limit: usize) -> Result<()> {
    let mut packets = Vec::new();
    for _ in 0..u.int_in_range(1..=6)? {
        packets.push(match u.int_in_range(0..=7)? {
            0 => Packet::Open(text(u)?),
            1 => Packet::Close,
            2 => Packet::Ping(text(u)?),
            3 => Packet::Pong(text(u)?),
            4 => Packet::Message(Payload::Text(text(u)?)),
            5 => Packet::Message(Payload::Binary(u.arbitrary()?)),
            6 => Packet::Upgrade,
            _ => Packet::Noop,
        });
    }
    let mut body = Vec::new();
    encode_payload(&packets, &mut body);
    if body.len() <= limit {
        assert_eq!(decode_payload(&body, limit), Ok(packets.clone()));
        assert_eq!(bytewise(&body, limit), Ok(packets.clone()));
    } else {
        assert_eq!(
            decode_payload(&body, limit),
            Err(PacketError::TooLarge { limit })
        );
    }
    for packet in packets {
        let frame = packet.to_ws_frame();
        let len = match &frame {
            WsFrame::Text(t) => t.len(),
            WsFrame::Binary(b) => b.len(),
        };
        match Packet::from_ws_frame(frame, limit) {
            Ok(back) => assert_eq!(back, packet),
            Err(e) => assert!(len > limit, "{e:?}"),
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    // Small limits reach TooLarge; 1 MiB is well above Engine.IO's default.
    let limit = if selector & 1 == 1 {
        usize::from(selector >> 1)
    } else {
        netladder_fuzz::LIMIT
    };
    let whole = decode_payload(input, limit);
    let split = bytewise(input, limit);
    match (&whole, &split) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "packets differ when fed byte by byte"),
        (Err(a), Err(b)) if input.len() <= limit => assert_eq!(a, b, "errors differ"),
        (Err(_), Err(_)) => {}
        _ => panic!("whole {whole:?} but byte by byte {split:?}"),
    }
    if let Ok(text) = std::str::from_utf8(input) {
        let frame = Packet::from_ws_frame(WsFrame::Text(text.to_string()), limit);
        if input.len() <= limit && !input.contains(&SEPARATOR) && !input.starts_with(b"b") {
            assert_eq!(frame, Packet::decode_polling(input));
        }
    }
    let _ = round_trip(&mut Unstructured::new(input), limit);
});
