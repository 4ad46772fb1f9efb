//! The WebSocket frame codec (`netladder::ws::frame`, `mask`, `close`).
//!
//! - any input: `decode_header` on the input's prefixes answers "not yet"
//!   until the first answer, which is the whole input's answer (the same
//!   header, length or error however the bytes are split); a decoded header
//!   re-encodes to the same bytes (lengths are minimal, so there is one
//!   encoding);
//! - decode(encode(x)) == x for headers, whole frames (masked or not) and
//!   close payloads;
//! - the word-at-a-time mask equals the bytewise one at every offset, and
//!   masking in pieces equals masking at once.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use netladder::ws::close::{close_payload, is_valid_code, parse_close_payload};
use netladder::ws::frame::{
    FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, Opcode, decode_header, encode_frame,
    encode_header,
};
use netladder::ws::mask::{apply_mask, apply_mask_bytewise};

const OPCODES: [Opcode; 6] = [
    Opcode::Continuation,
    Opcode::Text,
    Opcode::Binary,
    Opcode::Close,
    Opcode::Ping,
    Opcode::Pong,
];

fn any_input(input: &[u8]) {
    let full = decode_header(input);
    let first = (0..=input.len())
        .map(|k| decode_header(&input[..k]))
        .find(|r| !matches!(r, Ok(None)))
        .unwrap_or(Ok(None));
    assert_eq!(first, full, "a prefix answered differently");
    if let Ok(Some((header, len))) = full {
        assert!(len <= MAX_HEADER_LEN);
        assert!(header.payload_len >> 63 == 0);
        if header.opcode.is_control() {
            assert!(header.fin && header.payload_len <= MAX_CONTROL_PAYLOAD as u64);
        }
        // One encoding per header: the decoder refuses non-minimal lengths.
        // (encode_header takes a usize length; this is a 64-bit target.)
        let mut again = Vec::new();
        encode_header(
            &mut again,
            header.fin,
            header.opcode,
            header.payload_len as usize,
            header.mask,
        );
        if header.rsv == 0 {
            assert_eq!(
                again,
                &input[..len],
                "decode then encode changed the header"
            );
        }
    }
    // Close payloads: valid ones re-encode to themselves.
    if let Ok(Some((code, reason))) = parse_close_payload(input) {
        assert!(is_valid_code(code));
        assert_eq!(close_payload(code, reason), input);
    }
}

fn round_trip(u: &mut Unstructured<'_>) -> Result<()> {
    let opcode = *u.choose(&OPCODES)?;
    let fin = opcode.is_control() || u.arbitrary()?;
    let mask: Option<[u8; 4]> = u.arbitrary()?;
    let mut payload: Vec<u8> = u.arbitrary()?;
    if opcode.is_control() {
        payload.truncate(MAX_CONTROL_PAYLOAD);
    }
    // Headers alone, for lengths up to 2^63 - 1.
    let len = if opcode.is_control() {
        u.int_in_range(0..=MAX_CONTROL_PAYLOAD as u64)?
    } else {
        u.int_in_range(0..=u64::MAX >> 1)?
    };
    let mut bytes = Vec::new();
    encode_header(&mut bytes, fin, opcode, len as usize, mask);
    let want = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len: len,
    };
    assert_eq!(decode_header(&bytes), Ok(Some((want, bytes.len()))));

    // A whole frame.
    let mut frame = Vec::new();
    encode_frame(&mut frame, fin, opcode, &payload, mask);
    let (header, used) = decode_header(&frame).unwrap().unwrap();
    assert_eq!(header.payload_len, payload.len() as u64);
    assert_eq!(
        (header.fin, header.opcode, header.mask),
        (fin, opcode, mask)
    );
    let mut body = frame[used..].to_vec();
    assert_eq!(body.len(), payload.len());
    // Unmask in two pieces, the way payloads arrive.
    if let Some(key) = mask {
        let cut = u.int_in_range(0..=body.len())?;
        let (a, b) = body.split_at_mut(cut);
        apply_mask(a, key, 0);
        apply_mask(b, key, cut % 4);
    }
    assert_eq!(body, payload, "decode(encode(frame)) != frame");

    // Word-at-a-time masking equals the bytewise reference.
    let key: [u8; 4] = u.arbitrary()?;
    let offset = u.int_in_range(0..=7)?;
    let mut fast = payload.clone();
    let mut slow = payload.clone();
    apply_mask(&mut fast, key, offset);
    apply_mask_bytewise(&mut slow, key, offset);
    assert_eq!(fast, slow);

    // Close payloads.
    let code: u16 = u.arbitrary()?;
    let reason: String = u.arbitrary()?;
    let bytes = close_payload(code, &reason);
    match parse_close_payload(&bytes) {
        Ok(Some((c, r))) => assert_eq!((c, r), (code, reason.as_str())),
        Ok(None) => panic!("a close payload with a code read as empty"),
        Err(_) => assert!(!is_valid_code(code)),
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    any_input(data);
    let _ = round_trip(&mut Unstructured::new(data));
});
