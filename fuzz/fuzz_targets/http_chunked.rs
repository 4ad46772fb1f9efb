//! The chunked transfer coding (`netladder::http::chunked`), on its own.
//!
//! - any input: the same body, trailers, end and error whether it arrives
//!   whole or one byte at a time; the body never exceeds `max_body`;
//! - decode(encode(chunks)) == their concatenation, with every byte used.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netladder::http::Headers;
use netladder::http::chunked::{
    ChunkedDecoder, ChunkedError, ChunkedLimits, write_chunk, write_last_chunk,
};
use netladder_fuzz::{Feed, LIMIT, feed_bytewise, feed_whole};

#[derive(Debug, PartialEq)]
struct Run {
    body: Vec<u8>,
    trailers: Headers,
    done: bool,
    error: Option<ChunkedError>,
    left: usize,
}

fn run(limits: ChunkedLimits, input: &[u8], feed: Feed) -> Run {
    let mut decoder = ChunkedDecoder::new(limits);
    let mut body = Vec::new();
    let mut trailers = Headers::new();
    let mut done = false;
    let mut error = None;
    let left = feed(input, &mut |buf| {
        if done {
            return None;
        }
        match decoder.decode(buf, &mut body, &mut trailers) {
            Ok(progress) => {
                done = progress.done;
                assert_eq!(done, decoder.is_done());
                Some(progress.consumed)
            }
            Err(e) => {
                error = Some(e);
                None
            }
        }
    });
    assert!(body.len() <= limits.max_body, "body over the limit");
    assert!(trailers.len() <= limits.max_trailers, "too many trailers");
    Run {
        body,
        trailers,
        done,
        error,
        left,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let limits = if selector & 1 == 1 {
        ChunkedLimits {
            max_body: usize::from(selector >> 1),
            max_line: usize::from(selector >> 4),
            max_trailer_bytes: usize::from(selector >> 2),
            max_trailers: usize::from(selector >> 5),
        }
    } else {
        // What the server uses by default.
        ChunkedLimits {
            max_body: LIMIT,
            max_line: 1024,
            max_trailer_bytes: 16 * 1024,
            max_trailers: 64,
        }
    };
    let a = run(limits, input, feed_whole);
    let mut b = run(limits, input, feed_bytewise);
    if a.error.is_some() || a.done {
        // Where the decoder stopped, the leftovers of the two feeds differ
        // by design (the whole feed never offered what followed).
        b.left = a.left;
    }
    assert_eq!(a, b, "whole and byte-by-byte input differ");

    // decode(encode(x)) == x: the input, cut at 0xff bytes, as chunks.
    let chunks: Vec<&[u8]> = input.split(|&b| b == 0xff).collect();
    let mut encoded = Vec::new();
    for chunk in &chunks {
        write_chunk(chunk, &mut encoded);
    }
    write_last_chunk(&mut encoded);
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let decoded = run(limits, &encoded, feed_whole);
    if total <= limits.max_body && limits.max_line >= 16 && limits.max_trailer_bytes >= 2 {
        assert_eq!(decoded.error, None, "an encoded body was refused");
        assert!(decoded.done);
        assert_eq!(decoded.left, 0);
        assert_eq!(decoded.body, chunks.concat());
        assert!(decoded.trailers.is_empty());
    }
});
