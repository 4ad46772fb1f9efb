//! The HTTP client's response parser (`netladder::http::ResponseParser`):
//! status lines, interim responses, `Content-Length`, chunked and
//! until-close bodies.
//!
//! - any input: the same response (or error) whether it arrives whole or one
//!   byte at a time, then the end of the stream; no body over `max_body`;
//! - decode(encode(x)) == x: a response written by the server's writer
//!   (`write_response`, or a streamed one in chunks) is read back unchanged.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use netladder::http::chunked::{write_chunk, write_last_chunk};
use netladder::http::client::InvalidResponse;
use netladder::http::response::{
    Answering, BodyFraming, reason_phrase, status_has_no_body, write_head, write_response,
};
use netladder::http::{ClientResponse, Headers, Response, ResponseParser, Version};
use netladder_fuzz::{Feed, LIMIT, feed_bytewise, feed_whole, string_from, token, visible};

/// The response, or the error, and where the parser stopped.
type Outcome = (Result<ClientResponse, InvalidResponse>, bool);

fn run(method: &str, max_body: usize, input: &[u8], feed: Feed) -> Outcome {
    let mut parser = ResponseParser::new(method).max_body(max_body);
    let mut result = None;
    feed(input, &mut |buf| {
        if result.is_some() {
            return None;
        }
        match parser.feed(buf) {
            Ok((used, None)) => Some(used),
            Ok((used, Some(response))) => {
                result = Some(Ok(response));
                Some(used)
            }
            Err(e) => {
                result = Some(Err(e));
                None
            }
        }
    });
    let before_eof = result.is_some();
    let result = result.unwrap_or_else(|| parser.finish());
    if let Ok(response) = &result {
        assert!(response.body.len() <= max_body, "body over the limit");
    }
    (result, before_eof)
}

/// A response the server's writer can express, read back by the client.
fn round_trip(u: &mut Unstructured<'_>) -> Result<()> {
    let status = u.int_in_range(200..=599)?;
    let mut response = Response::new(status);
    let mut headers = Headers::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let name = token(u, 12)?;
        let reserved = [
            "content-length",
            "transfer-encoding",
            "server",
            "connection",
        ];
        if reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) {
            continue;
        }
        let value = string_from(u, &visible(), 20)?;
        headers.push(name, value);
    }
    response.headers = headers.clone();
    let body: Vec<u8> = u.arbitrary()?;
    response.body = body.clone();
    let to = Answering {
        head_only: false,
        keep_alive: true,
        version: Version::Http11,
    };
    let streamed: bool = u.arbitrary()?;
    let mut bytes = Vec::new();
    let mut expected = headers;
    expected.push("Server", "netladder");
    if streamed {
        write_head(&response, BodyFraming::Chunked, to, &mut bytes);
        if !status_has_no_body(status) {
            for piece in body.chunks(7) {
                write_chunk(piece, &mut bytes);
            }
            write_last_chunk(&mut bytes);
            expected.push("Transfer-Encoding", "chunked");
        }
    } else {
        write_response(&response, to, &mut bytes);
        if !status_has_no_body(status) {
            expected.push("Content-Length", body.len().to_string());
        }
    }
    let mut parser = ResponseParser::new("GET").max_body(LIMIT);
    let (used, parsed) = parser.feed(&bytes).expect("a written response is valid");
    let parsed = parsed.expect("a written response is complete");
    assert_eq!(used, bytes.len());
    assert_eq!(parsed.status, status);
    assert_eq!(parsed.reason, reason_phrase(status));
    assert_eq!(parsed.headers, expected);
    let want: &[u8] = if status_has_no_body(status) {
        &[]
    } else {
        &body
    };
    assert_eq!(parsed.body, want);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let method = if selector & 1 == 1 { "HEAD" } else { "GET" };
    let max_body = if selector & 2 == 2 {
        usize::from(selector >> 2)
    } else {
        LIMIT
    };
    let a = run(method, max_body, input, feed_whole);
    let b = run(method, max_body, input, feed_bytewise);
    assert_eq!(a, b, "whole and byte-by-byte input differ");

    let _ = round_trip(&mut Unstructured::new(input));
});
