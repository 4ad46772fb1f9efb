use super::*;
use crate::ws::connection::{Config, Role, WsConnection, WsMessage};
use crate::ws::deflate::{Deflate, DeflateConfig, DeflateParams};

/// A chat line long enough to be compressed (over the 64-byte threshold).
const LINE: &str =
    r#"{"type":"message","room":"lobby","user":"ada","text":"hello hello hello everyone"}"#;

fn params(takeover: bool, server_bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: 15,
    }
}

fn connection(role: Role, deflate: Option<DeflateParams>) -> WsConnection {
    let config = DeflateConfig::default();
    let mut conn = WsConnection::new(role, Config::default());
    if let Some(params) = deflate {
        conn.set_deflate(Deflate::new(role, params, &config));
    }
    conn
}

/// What a client that agreed `deflate` reads from `bytes`.
fn read(deflate: Option<DeflateParams>, bytes: &[u8]) -> Vec<WsMessage> {
    let mut client = connection(Role::Client, deflate);
    let mut messages = Vec::new();
    let used = client.receive(bytes, &mut messages).expect("valid frames");
    assert_eq!(used, bytes.len());
    messages
}

/// Sends `message` on `conn` and returns the bytes a driver would write:
/// the connection's output, then the shared frame.
fn send(conn: &mut WsConnection, message: &SharedFrame) -> (Vec<u8>, SharedSend) {
    let sent = conn.send_shared(message).expect("open");
    let mut wire = conn.take_output();
    if let Some(frame) = &sent.frame {
        wire.extend_from_slice(frame);
    }
    (wire, sent)
}

// ANCHOR: shared_test
#[test]
fn fifty_connections_without_context_takeover_share_one_compressed_frame() {
    let message = SharedFrame::text(LINE);
    let mut first = None;
    for i in 0..50 {
        let mut conn = connection(Role::Server, Some(params(false, 15)));
        let (wire, sent) = send(&mut conn, &message);
        // Compressed (RSV1), and readable by a client that agreed the same.
        assert_eq!(wire[0], 0x80 | 0x40 | 0x1, "FIN, RSV1, text");
        assert!(wire.len() < LINE.len());
        let read = read(Some(params(false, 15)), &wire);
        assert_eq!(read, [WsMessage::Text(LINE.into())]);
        // Only the first connection built it, and compressed.
        assert_eq!((sent.built, sent.compressed), (i == 0, i == 0));
        let frame = sent.frame.expect("a shared frame");
        let first = first.get_or_insert_with(|| Arc::clone(&frame));
        assert!(Arc::ptr_eq(first, &frame), "the same buffer, not a copy");
    }
}
// ANCHOR_END: shared_test

#[test]
fn each_window_size_gets_its_own_compressed_frame() {
    let message = SharedFrame::binary(LINE.repeat(4).into_bytes());
    let mut server_15 = connection(Role::Server, Some(params(false, 15)));
    let mut server_10 = connection(Role::Server, Some(params(false, 10)));
    let (wire_15, sent) = send(&mut server_15, &message);
    assert!(sent.built && sent.compressed);
    let (wire_10, sent) = send(&mut server_10, &message);
    assert!(sent.built && sent.compressed, "another key, another frame");
    let (_, sent) = send(
        &mut connection(Role::Server, Some(params(false, 10))),
        &message,
    );
    assert!(!sent.built && !sent.compressed);
    let expected = [WsMessage::Binary(LINE.repeat(4).into_bytes())];
    assert_eq!(read(Some(params(false, 15)), &wire_15), expected);
    assert_eq!(read(Some(params(false, 10)), &wire_10), expected);
    // A window of 8 bits: sent uncompressed, the plain frame shared.
    let (wire_8, sent) = send(
        &mut connection(Role::Server, Some(params(false, 8))),
        &message,
    );
    assert!(sent.built && !sent.compressed);
    assert_eq!(wire_8[0], 0x82, "FIN, binary, no RSV1");
    assert_eq!(read(Some(params(false, 8)), &wire_8), expected);
}

#[test]
fn a_short_message_and_a_connection_without_compression_share_the_plain_frame() {
    let message = SharedFrame::text("hi");
    let (wire, sent) = send(&mut connection(Role::Server, None), &message);
    assert_eq!(wire, b"\x81\x02hi");
    assert!(sent.built && !sent.compressed);
    // Under the threshold: the same plain frame, already built.
    let mut deflating = connection(Role::Server, Some(params(false, 15)));
    let (again, sent) = send(&mut deflating, &message);
    assert_eq!(again, wire);
    assert!(!sent.built && !sent.compressed);
    assert!(Arc::ptr_eq(&sent.frame.unwrap(), &message.plain().0));
}

#[test]
fn a_connection_with_context_takeover_compresses_for_itself() {
    let message = SharedFrame::text(LINE);
    let mut conn = connection(Role::Server, Some(params(true, 15)));
    // Its own message first, so that its compressor has a history.
    conn.send_text(LINE).unwrap();
    let (shared, sent) = send(&mut conn, &message);
    assert_eq!(sent.frame, None, "framed into its own output");
    assert!(sent.compressed && !sent.built);
    // The second copy points back into the first: only this connection's
    // peer can read it, which is why it cannot be shared.
    let read = read(Some(params(true, 15)), &shared);
    assert_eq!(read, [LINE, LINE].map(|l| WsMessage::Text(l.into())));
    assert!(message.compressed.lock().unwrap().is_empty());
}

#[test]
fn a_client_masks_so_it_frames_the_message_itself() {
    let message = SharedFrame::text("hi");
    let mut client = connection(Role::Client, None);
    let sent = client.send_shared(&message).unwrap();
    assert_eq!(sent.frame, None);
    let out = client.take_output();
    assert_eq!(out[1], 0x80 | 2, "masked, 2 bytes");
    client.close(1000, "").unwrap();
    assert!(client.send_shared(&message).is_err(), "closing: refused");
}
