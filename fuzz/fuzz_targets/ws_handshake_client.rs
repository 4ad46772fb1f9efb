//! The client's side of the WebSocket handshake
//! (`netladder::ws::handshake::client`), and both sides together.
//!
//! - any response bytes: `parse_response_head` answers "not yet" on the
//!   input's prefixes until its first answer, which is the whole input's;
//!   `check_response` never panics, and accepts only a `101` with the
//!   accept key of our key;
//! - decode(encode(x)) == x: any request the client agrees to write is
//!   accepted by the server (`WsServerProtocol`), whose `101` the client
//!   accepts with the subprotocol the server chose.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use netladder::http::client::{InvalidResponse, ResponseHead, parse_response_head};
use netladder::ws::State;
use netladder::ws::handshake::accept_key;
use netladder::ws::handshake::client::{ClientHandshake, HandshakeError};
use netladder_fuzz::server::{config, run};
use netladder_fuzz::{TOKEN, feed_whole, string_from, token};
use std::time::Instant;

/// The RFC 6455 example nonce: key `dGhlIHNhbXBsZSBub25jZQ==`.
const NONCE: [u8; 16] = *b"the sample nonce";

/// A parse result with the head's length instead of the slice after it.
type Shape = std::result::Result<Option<(ResponseHead, usize)>, InvalidResponse>;

fn shape(buf: &[u8]) -> Shape {
    parse_response_head(buf).map(|r| r.map(|(head, rest)| (head, buf.len() - rest.len())))
}

fn any_response(input: &[u8]) {
    let full = parse_response_head(input);
    let first = (0..=input.len())
        .map(|k| shape(&input[..k]))
        .find(|r| !matches!(r, Ok(None)))
        .unwrap_or(Ok(None));
    assert_eq!(first, shape(input), "a prefix answered differently");
    let Ok(Some((head, _))) = full else {
        return;
    };
    let client = ClientHandshake::with_nonce(NONCE, "localhost", "/", &["chat"], None).unwrap();
    match client.check_response(head.status, &head.headers) {
        Ok(subprotocol) => {
            assert_eq!(head.status, 101);
            assert_eq!(
                head.headers.get("Sec-WebSocket-Accept"),
                Some(accept_key(client.key()).as_bytes())
            );
            assert!(subprotocol.is_none_or(|p| p == "chat"));
        }
        Err(HandshakeError::Status(status)) => assert_ne!(status, 101),
        Err(_) => {}
    }
}

fn round_trip(u: &mut Unstructured<'_>) -> Result<()> {
    let nonce: [u8; 16] = u.arbitrary()?;
    let host: &str = u.arbitrary()?;
    let path = format!("/{}", u.arbitrary::<&str>()?);
    let offered: Vec<String> = (0..u.int_in_range(0..=3)?)
        .map(|_| token(u, 8))
        .collect::<Result<_>>()?;
    let ours: Vec<String> = (0..u.int_in_range(0..=3)?)
        .map(|_| string_from(u, TOKEN, 8))
        .collect::<Result<_>>()?;
    let origin: Option<&str> = u.arbitrary()?;
    let offered_refs: Vec<&str> = offered.iter().map(String::as_str).collect();
    let client = match ClientHandshake::with_nonce(nonce, host, &path, &offered_refs, origin) {
        Ok(client) => client,
        Err(HandshakeError::InvalidRequest(_)) => return Ok(()),
        Err(e) => panic!("unexpected {e:?}"),
    };
    // Any origin: the origin policy is not what is tested here.
    let config = config(4, ours.clone());
    let server = run(&config, Instant::now(), client.request_bytes(), feed_whole);
    let (head, rest) = parse_response_head(&server.output)
        .expect("the server's answer is HTTP")
        .expect("the server's answer is complete");
    assert_eq!(
        head.status,
        101,
        "the server refused what the client wrote: {:?} -> {}",
        String::from_utf8_lossy(client.request_bytes()),
        String::from_utf8_lossy(&server.output)
    );
    assert!(rest.is_empty());
    assert_eq!(server.ws, Some(State::Open));
    let chosen = client
        .check_response(head.status, &head.headers)
        .expect("the client accepts the 101");
    let expected = ours.iter().find(|p| offered.contains(p)).cloned();
    assert_eq!(chosen, expected);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((_selector, input)) = data.split_first() else {
        return;
    };
    any_response(input);
    let _ = round_trip(&mut Unstructured::new(input));
});
