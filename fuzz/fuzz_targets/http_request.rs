//! The HTTP/1.1 server connection (`netladder::http::ServerConn`): request
//! heads, `Content-Length` and chunked bodies, pipelining, `Expect`, and the
//! error answers, driven with arbitrary bytes.
//!
//! - any input: the same requests, the same bytes written (interim and error
//!   answers and our responses) and the same end state, whether the input
//!   arrives whole or one byte at a time; no body over `max_body_bytes`;
//! - decode(encode(x)) == x: a request written by the client's writer
//!   (`write_request`) is read back by the server unchanged.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use netladder::http::client::write_request;
use netladder::http::{Headers, Limits, Outcome, Request, Response, ServerConn};
use netladder_fuzz::{Feed, LIMIT, feed_bytewise, feed_whole, string_from, token, visible};
use std::time::{Duration, Instant};

/// What the connection did with the input.
#[derive(Debug, PartialEq)]
struct Run {
    requests: Vec<Request>,
    stopped: bool,
    written: Vec<u8>,
    should_close: bool,
    unanswered: usize,
}

/// Runs a connection over `input`, answering each request at once with its
/// body echoed back, the way a handler would.
fn run(limits: &Limits, now: Instant, input: &[u8], feed: Feed) -> Run {
    let mut conn = ServerConn::new(limits.clone(), now);
    let mut requests = Vec::new();
    let mut written = Vec::new();
    let mut stopped = false;
    feed(input, &mut |buf| {
        let progress = conn.receive(buf, now, &mut written);
        match progress.outcome {
            Outcome::NeedMore => Some(progress.consumed),
            Outcome::Request(request) => {
                assert!(
                    request.body.len() <= limits.max_body_bytes,
                    "body over the limit"
                );
                let response = Response::new(200).body(request.body.clone());
                conn.respond(&response, now, &mut written)
                    .expect("a request handed out owes a response");
                requests.push(request);
                // A request may use no bytes only if it came with an empty
                // body behind a head that was already counted: never.
                assert!(progress.consumed > 0, "a request from no bytes");
                Some(progress.consumed)
            }
            Outcome::Stopped => {
                stopped = true;
                None
            }
        }
    });
    Run {
        requests,
        stopped,
        written,
        should_close: conn.should_close(),
        unanswered: conn.unanswered(),
    }
}

/// Small limits reach every refusal quickly; the defaults are what servers run.
fn limits(selector: u8) -> Limits {
    let mut limits = Limits::default();
    assert!(limits.max_body_bytes <= LIMIT);
    if selector & 1 == 1 {
        limits.max_head_bytes = 64 + usize::from(selector >> 1);
        limits.max_headers = usize::from(selector >> 5);
        limits.max_body_bytes = usize::from(selector >> 2);
        limits.max_chunk_line = usize::from(selector >> 4);
    }
    limits
}

/// A request the client's writer can express, with names that do not change
/// the framing or the connection (those are what the writer itself sets).
fn round_trip(u: &mut Unstructured<'_>, now: Instant) -> Result<()> {
    let method = token(u, 8)?;
    let target = format!("/{}", string_from(u, &visible(), 40)?);
    let mut headers = Headers::new();
    headers.push("Host", "fuzz.example");
    for _ in 0..u.int_in_range(0..=6)? {
        let name = token(u, 12)?;
        let reserved = [
            "host",
            "content-length",
            "transfer-encoding",
            "expect",
            "connection",
        ];
        if reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) {
            continue;
        }
        // Values as httparse returns them: no leading or trailing spaces.
        let mut value = string_from(u, &visible(), 20)?;
        if u.arbitrary()? && value.len() >= 2 {
            value.insert(value.len() / 2, ' ');
        }
        headers.push(name, value);
    }
    let body: Vec<u8> = u.arbitrary()?;
    let mut bytes = Vec::new();
    write_request(&method, &target, &headers, &body, &mut bytes);

    let mut conn = ServerConn::new(Limits::default(), now);
    let mut out = Vec::new();
    let progress = conn.receive(&bytes, now, &mut out);
    let Outcome::Request(request) = progress.outcome else {
        panic!(
            "a written request was not read back: {:?}",
            String::from_utf8_lossy(&out)
        );
    };
    assert_eq!(progress.consumed, bytes.len());
    assert_eq!(request.method, method);
    assert_eq!(request.target, target);
    assert_eq!(request.body, body);
    let mut expected = headers.clone();
    if !body.is_empty() || matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        expected.push("Content-Length", body.len().to_string());
    }
    assert_eq!(request.headers, expected);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let limits = limits(selector);
    let now = Instant::now();
    let whole = run(&limits, now, input, feed_whole);
    let split = run(&limits, now, input, feed_bytewise);
    assert_eq!(whole, split, "whole and byte-by-byte input differ");

    // A late timer answers an unfinished request with 408 and never panics.
    let mut conn = ServerConn::new(limits.clone(), now);
    let mut out = Vec::new();
    let _ = conn.receive(input, now, &mut out);
    conn.on_timer(now + Duration::from_secs(3600), &mut out);

    let _ = round_trip(&mut Unstructured::new(input), now);
});
