//! Chapter 1's framing codecs (`netladder::framing`): line-delimited and
//! length-prefixed.
//!
//! - any input: the same messages (and the same error) whether it arrives
//!   whole or one byte at a time; no message over the limit; no line with a
//!   `\n` in it;
//! - decode(encode(payloads)) == payloads, up to the first payload over the
//!   limit, which is `TooLong`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netladder::framing::{Framing, TooLong};
use netladder_fuzz::{Feed, LIMIT, feed_bytewise, feed_whole};

/// Every message decoded from `input` fed by `feed`, and the error that
/// stopped it, if any.
fn decode_all(
    framing: Framing,
    input: &[u8],
    limit: usize,
    feed: Feed,
) -> (Vec<Vec<u8>>, Option<TooLong>, usize) {
    let mut messages = Vec::new();
    let mut error = None;
    let left = feed(input, &mut |buf| match framing.decode(buf, limit) {
        Ok(Some((payload, used))) => {
            messages.push(payload.to_vec());
            Some(used)
        }
        Ok(None) => Some(0),
        Err(e) => {
            error = Some(e);
            None
        }
    });
    (messages, error, left)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let framing = if selector & 1 == 0 {
        Framing::Line
    } else {
        Framing::LengthPrefixed
    };
    // Small limits reach `TooLong` often; the large one is the real default.
    let limit = if selector & 0x80 != 0 {
        LIMIT
    } else {
        usize::from(selector >> 1)
    };

    // ANCHOR: properties
    // Whole and byte by byte agree.
    let (messages, error, left) = decode_all(framing, input, limit, feed_whole);
    let (messages_bw, error_bw, left_bw) = decode_all(framing, input, limit, feed_bytewise);
    assert_eq!(
        messages, messages_bw,
        "messages differ when fed byte by byte"
    );
    assert_eq!(error, error_bw, "errors differ when fed byte by byte");
    if error.is_none() {
        assert_eq!(left, left_bw, "leftover differs when fed byte by byte");
    }
    for message in &messages {
        assert!(message.len() <= limit, "a message over the limit");
        if framing == Framing::Line {
            assert!(!message.contains(&b'\n'), "a line with a newline in it");
        }
    }

    // decode(encode(x)) == x: the input, cut at 0xff bytes, as payloads.
    // A line cannot carry `\n`, nor end in `\r` (stripped as part of CRLF).
    let payloads: Vec<&[u8]> = input
        .split(|&b| b == 0xff)
        .filter(|p| {
            framing == Framing::LengthPrefixed || !(p.contains(&b'\n') || p.ends_with(b"\r"))
        })
        .collect();
    let mut stream = Vec::new();
    for payload in &payloads {
        framing.encode(payload, &mut stream);
    }
    let (decoded, error, left) = decode_all(framing, &stream, limit, feed_whole);
    let fitting = payloads.iter().take_while(|p| p.len() <= limit).count();
    assert_eq!(decoded, &payloads[..fitting], "decode(encode(x)) != x");
    if fitting < payloads.len() {
        assert_eq!(error, Some(TooLong { limit }));
    } else {
        assert_eq!((error, left), (None, 0));
    }
    // ANCHOR_END: properties
});
