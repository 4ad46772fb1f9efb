//! The server's side of the WebSocket handshake, through the whole server
//! connection (`netladder::ws::WsServerProtocol`): the request head, the
//! upgrade checks, the plain-HTTP answers and refusals, and the frames that
//! follow the head in the same read.
//!
//! - any input: the same bytes written, close and timer requests and end
//!   state whether the input arrives whole or one byte at a time;
//! - an accepted upgrade answers `101` with the accept key of the request's
//!   key; a refusal is a complete HTTP response that closes;
//! - the callbacks that end a connection never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netladder::driver::Close;
use netladder::http::client::parse_response_head;
use netladder::ws::handshake::accept_key;
use netladder_fuzz::server::{config, finish, run};
use netladder_fuzz::{feed_bytewise, feed_whole};
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let config = config(selector, vec!["chat".into(), "superchat".into()]);
    let now = Instant::now();
    let a = run(&config, now, input, feed_whole);
    let b = run(&config, now, input, feed_bytewise);
    assert_eq!(a, b, "whole and byte-by-byte input differ");

    if !a.output.is_empty() {
        // The first thing written is a whole HTTP response.
        let (head, _) = parse_response_head(&a.output)
            .expect("the server wrote a valid response head")
            .expect("the server wrote a whole response head");
        if head.status == 101 {
            assert!(a.ws.is_some(), "101 without a WebSocket");
            let key = httparse_key(input).expect("an upgrade had a key");
            let accept = head.headers.get("Sec-WebSocket-Accept");
            assert_eq!(accept, Some(accept_key(&key).as_bytes()));
        } else {
            assert_eq!(a.ws, None);
            assert_eq!(a.close, Some(Close::AfterFlush), "an HTTP answer closes");
        }
    }
    finish(&config, now, input);
});

/// The request's `Sec-WebSocket-Key`, read independently of the server.
fn httparse_key(input: &[u8]) -> Option<String> {
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut fields);
    request.parse(input).ok()?;
    let field = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("Sec-WebSocket-Key"))?;
    String::from_utf8(field.value.to_vec()).ok()
}
