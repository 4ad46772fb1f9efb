//! Tests of [`super::WsConnection`], kept in their own file so that the
//! state machine stays short enough to read in one sitting.

use super::*;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame as a client sends it: masked.
fn masked(fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_frame(&mut out, fin, opcode, payload, Some(KEY));
    out
}

/// A frame as a server sends it: unmasked.
fn unmasked(fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_frame(&mut out, fin, opcode, payload, None);
    out
}

fn server() -> WsConnection {
    WsConnection::new(Role::Server, Config::default())
}

/// Feeds `bytes` as one read, as the driver would: unconsumed bytes stay
/// in front of the next read.
fn feed(conn: &mut WsConnection, bytes: &[u8]) -> (Vec<WsMessage>, Result<usize, ProtocolError>) {
    let mut messages = Vec::new();
    let result = conn.receive(bytes, &mut messages);
    (messages, result)
}

/// Feeds `bytes` one at a time, keeping what is not consumed, as a driver
/// does. Stops at the first error.
fn feed_bytewise(
    conn: &mut WsConnection,
    bytes: &[u8],
) -> (Vec<WsMessage>, Result<(), ProtocolError>) {
    let mut buffered = Vec::new();
    let mut messages = Vec::new();
    for &byte in bytes {
        buffered.push(byte);
        match conn.receive(&buffered, &mut messages) {
            Ok(used) => {
                assert!(used <= buffered.len());
                buffered.drain(..used);
            }
            Err(err) => return (messages, Err(err)),
        }
    }
    assert!(
        buffered.len() < frame::MAX_HEADER_LEN,
        "only a header may wait"
    );
    (messages, Ok(()))
}

/// Decodes the frames a server queued (unmasked), as (opcode, fin, payload).
fn sent_frames(bytes: &[u8]) -> Vec<(Opcode, bool, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let (h, n) = frame::decode_header(&bytes[pos..])
            .unwrap()
            .expect("whole header");
        let start = pos + n;
        let end = start + h.payload_len as usize;
        let mut payload = bytes[start..end].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push((h.opcode, h.fin, payload));
        pos = end;
    }
    frames
}

fn close_frame(code: u16) -> (Opcode, bool, Vec<u8>) {
    (Opcode::Close, true, code.to_be_bytes().to_vec())
}

/// Asserts the connection failed with `code` and queued a close with it.
fn assert_failed(conn: &WsConnection, result: Result<impl fmt::Debug, ProtocolError>, code: u16) {
    let err = result.expect_err("a protocol error");
    assert_eq!(err.code, code, "{}", err.reason);
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.failed());
    assert!(conn.should_close_transport());
    let frames = sent_frames(conn.output());
    let (opcode, _, payload) = frames.last().expect("a close frame");
    assert_eq!(*opcode, Opcode::Close);
    assert_eq!(payload[..2], code.to_be_bytes());
}

// ---- every frame type, one byte at a time -------------------------------

#[test]
fn every_frame_type_fed_one_byte_at_a_time() {
    let mut stream = Vec::new();
    stream.extend(masked(true, Opcode::Text, "héllo".as_bytes()));
    stream.extend(masked(true, Opcode::Binary, &[0, 1, 2, 255]));
    stream.extend(masked(true, Opcode::Ping, b"are you there"));
    stream.extend(masked(true, Opcode::Pong, b"beat"));
    stream.extend(masked(false, Opcode::Text, "frag".as_bytes()));
    stream.extend(masked(true, Opcode::Ping, b"in between"));
    stream.extend(masked(false, Opcode::Continuation, &[0xe2, 0x82])); // '€' split
    stream.extend(masked(true, Opcode::Continuation, &[0xac, b'!']));
    stream.extend(masked(true, Opcode::Text, b""));
    stream.extend(masked(
        true,
        Opcode::Close,
        &close::close_payload(1000, "bye"),
    ));
    let mut conn = server();
    let (messages, result) = feed_bytewise(&mut conn, &stream);
    result.unwrap();
    assert_eq!(
        messages,
        [
            WsMessage::Text("héllo".into()),
            WsMessage::Binary(vec![0, 1, 2, 255]),
            WsMessage::Ping(b"are you there".to_vec()),
            WsMessage::Pong(b"beat".to_vec()),
            WsMessage::Ping(b"in between".to_vec()),
            WsMessage::Text("frag€!".into()),
            WsMessage::Text(String::new()),
            WsMessage::Close(1000, "bye".into()),
        ]
    );
    assert_eq!(
        sent_frames(conn.output()),
        [
            (Opcode::Pong, true, b"are you there".to_vec()),
            (Opcode::Pong, true, b"in between".to_vec()),
            close_frame(1000),
        ]
    );
    assert_eq!(conn.state(), State::ClosingByPeer);
}

// ---- RFC 6455 §5.7 examples ------------------------------------------------

#[test]
fn rfc_unmasked_hello_reaches_a_client() {
    let mut client = WsConnection::new(Role::Client, Config::default());
    let (messages, result) =
        feed_bytewise(&mut client, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    result.unwrap();
    assert_eq!(messages, [WsMessage::Text("Hello".into())]);
}

#[test]
fn rfc_masked_hello_reaches_a_server() {
    let frame = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let mut conn = server();
    let (messages, result) = feed(&mut conn, &frame);
    assert_eq!(result, Ok(frame.len()));
    assert_eq!(messages, [WsMessage::Text("Hello".into())]);
}

#[test]
fn rfc_fragmented_hello() {
    let mut client = WsConnection::new(Role::Client, Config::default());
    let (messages, result) = feed(&mut client, &[0x01, 0x03, 0x48, 0x65, 0x6c]);
    assert_eq!(result, Ok(5));
    assert!(messages.is_empty(), "the message is not finished");
    let (messages, result) = feed(&mut client, &[0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(result, Ok(4));
    assert_eq!(messages, [WsMessage::Text("Hello".into())]);
}

#[test]
fn rfc_ping_is_answered_with_the_same_payload() {
    let mut client = WsConnection::new(Role::Client, Config::default());
    let (messages, result) = feed(&mut client, &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    result.unwrap();
    assert_eq!(messages, [WsMessage::Ping(b"Hello".to_vec())]);
    // The client's pong is masked: decode it with its own key.
    let out = client.output();
    let (h, n) = frame::decode_header(out).unwrap().unwrap();
    assert_eq!((h.opcode, h.fin, h.payload_len), (Opcode::Pong, true, 5));
    assert!(h.mask.is_some(), "clients mask every frame");
    assert_eq!(sent_frames(out), [(Opcode::Pong, true, b"Hello".to_vec())]);
    assert_eq!(out.len(), n + 5);
}

#[test]
fn rfc_256_byte_and_64_kib_binary_messages() {
    for len in [256, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut conn = server();
        let frame = masked(true, Opcode::Binary, &payload);
        // In uneven pieces, as TCP might deliver them.
        let mut messages = Vec::new();
        let mut buffered = Vec::new();
        for piece in frame.chunks(1000) {
            buffered.extend_from_slice(piece);
            let used = conn.receive(&buffered, &mut messages).unwrap();
            buffered.drain(..used);
        }
        assert!(buffered.is_empty());
        assert_eq!(messages, [WsMessage::Binary(payload)]);
    }
}

#[test]
fn payloads_are_consumed_as_they_arrive() {
    let mut conn = server();
    let frame = masked(true, Opcode::Binary, &[7; 1000]);
    // Header (4 bytes for a 16-bit length + 4 mask) plus 100 payload bytes.
    let (messages, result) = feed(&mut conn, &frame[..108]);
    assert_eq!(
        result,
        Ok(108),
        "the partial payload is taken, not left buffered"
    );
    assert!(messages.is_empty());
    let (messages, result) = feed(&mut conn, &frame[108..]);
    assert_eq!(result, Ok(frame.len() - 108));
    assert_eq!(messages, [WsMessage::Binary(vec![7; 1000])]);
}

#[test]
fn a_partial_header_consumes_nothing() {
    let mut conn = server();
    let frame = masked(true, Opcode::Text, b"hi");
    for end in 0..6 {
        let (messages, result) = feed(&mut conn, &frame[..end]);
        assert_eq!(result, Ok(0));
        assert!(messages.is_empty());
    }
}

// ---- masking rules --------------------------------------------------------

#[test]
fn server_fails_on_an_unmasked_client_frame() {
    let mut conn = server();
    let (_, result) = feed(&mut conn, &unmasked(true, Opcode::Text, b"hi"));
    assert_failed(&conn, result, code::PROTOCOL_ERROR);
}

#[test]
fn client_fails_on_a_masked_server_frame() {
    let mut client = WsConnection::new(Role::Client, Config::default());
    let (_, result) = feed(&mut client, &masked(true, Opcode::Text, b"hi"));
    assert_failed(&client, result, code::PROTOCOL_ERROR);
}

#[test]
fn client_frames_are_masked_and_server_frames_are_not() {
    let mut client = WsConnection::new(Role::Client, Config::default());
    client.send_text("hello").unwrap();
    let (h, _) = frame::decode_header(client.output()).unwrap().unwrap();
    assert!(h.mask.is_some());
    assert_eq!(
        sent_frames(client.output()),
        [(Opcode::Text, true, b"hello".to_vec())]
    );
    let mut server = server();
    server.send_binary(b"hello").unwrap();
    assert_eq!(server.output(), unmasked(true, Opcode::Binary, b"hello"));
}

// ---- fragmentation ----------------------------------------------------------

#[test]
fn a_continuation_with_nothing_to_continue_fails() {
    let mut conn = server();
    let (_, result) = feed(&mut conn, &masked(true, Opcode::Continuation, b"x"));
    assert_failed(&conn, result, code::PROTOCOL_ERROR);
}

#[test]
fn a_new_message_inside_a_fragmented_one_fails() {
    for opcode in [Opcode::Text, Opcode::Binary] {
        let mut conn = server();
        let (_, result) = feed(&mut conn, &masked(false, Opcode::Binary, b"part"));
        result.unwrap();
        let (_, result) = feed(&mut conn, &masked(true, opcode, b"new"));
        assert_failed(&conn, result, code::PROTOCOL_ERROR);
    }
}

#[test]
fn control_frames_may_interleave_with_fragments() {
    let mut stream = masked(false, Opcode::Binary, b"ab");
    stream.extend(masked(true, Opcode::Pong, b""));
    stream.extend(masked(false, Opcode::Continuation, b"cd"));
    stream.extend(masked(true, Opcode::Ping, b"p"));
    stream.extend(masked(true, Opcode::Continuation, b"ef"));
    let mut conn = server();
    let (messages, result) = feed(&mut conn, &stream);
    assert_eq!(result, Ok(stream.len()));
    assert_eq!(
        messages,
        [
            WsMessage::Pong(vec![]),
            WsMessage::Ping(b"p".to_vec()),
            WsMessage::Binary(b"abcdef".to_vec())
        ]
    );
}

#[test]
fn fragments_of_zero_length_are_fine() {
    let mut stream = masked(false, Opcode::Text, b"");
    stream.extend(masked(false, Opcode::Continuation, b""));
    stream.extend(masked(true, Opcode::Continuation, b""));
    let (messages, result) = feed_bytewise(&mut server(), &stream);
    result.unwrap();
    assert_eq!(messages, [WsMessage::Text(String::new())]);
}

// ---- control frame rules ------------------------------------------------

#[test]
fn a_control_frame_over_125_bytes_fails() {
    for opcode in [Opcode::Ping, Opcode::Pong, Opcode::Close] {
        let mut conn = server();
        let (_, result) = feed(&mut conn, &masked(true, opcode, &[b'a'; 126]));
        assert_failed(&conn, result, code::PROTOCOL_ERROR);
    }
    let mut conn = server();
    let (messages, result) = feed(&mut conn, &masked(true, Opcode::Ping, &[b'a'; 125]));
    result.unwrap();
    assert_eq!(messages, [WsMessage::Ping(vec![b'a'; 125])]);
}

#[test]
fn a_fragmented_control_frame_fails() {
    for opcode in [Opcode::Ping, Opcode::Pong, Opcode::Close] {
        let mut conn = server();
        let (_, result) = feed(&mut conn, &masked(false, opcode, b"x"));
        assert_failed(&conn, result, code::PROTOCOL_ERROR);
    }
}

#[test]
fn rsv_bits_without_an_extension_fail() {
    for rsv_bit in [0x40, 0x20, 0x10] {
        let mut frame = masked(true, Opcode::Text, b"hi");
        frame[0] |= rsv_bit;
        let mut conn = server();
        let (_, result) = feed(&mut conn, &frame);
        assert_failed(&conn, result, code::PROTOCOL_ERROR);
    }
}

#[test]
fn reserved_opcodes_fail() {
    for bits in (3..=7).chain(0xb..=0xf) {
        let mut conn = server();
        let (_, result) = feed(&mut conn, &[0x80 | bits, 0x80, 1, 2, 3, 4]);
        assert_failed(&conn, result, code::PROTOCOL_ERROR);
    }
}

// ---- UTF-8 -------------------------------------------------------------------

#[test]
fn bad_utf8_in_a_first_fragment_fails_before_the_message_ends() {
    let mut conn = server();
    let mut fragment = "κόσμε".as_bytes().to_vec();
    fragment.extend_from_slice(&[0xed, 0xa0, 0x80]); // a surrogate: never valid
    let (_, result) = feed(&mut conn, &masked(false, Opcode::Text, &fragment));
    assert_failed(&conn, result, code::INVALID_PAYLOAD);
}

#[test]
fn bad_utf8_fails_even_before_its_frame_is_complete() {
    let mut conn = server();
    let frame = masked(
        true,
        Opcode::Text,
        &[b'o', b'k', 0xf4, 0x90, 0x80, 0x80, b'x', b'y'],
    );
    // Header is 6 bytes; send up to and including 0xf4 0x90.
    let (_, result) = feed(&mut conn, &frame[..6 + 3]);
    assert_eq!(result, Ok(9), "0xf4 alone may still be fine");
    let (_, result) = feed(&mut conn, &frame[9..10]);
    assert_failed(&conn, result, code::INVALID_PAYLOAD);
}

#[test]
fn a_character_split_across_fragments_is_fine() {
    let euro = "€".as_bytes();
    let mut stream = masked(false, Opcode::Text, &euro[..1]);
    stream.extend(masked(false, Opcode::Continuation, &euro[1..2]));
    stream.extend(masked(true, Opcode::Continuation, &euro[2..]));
    let (messages, result) = feed(&mut server(), &stream);
    assert_eq!(result, Ok(stream.len()));
    assert_eq!(messages, [WsMessage::Text("€".into())]);
}

#[test]
fn a_message_ending_mid_character_fails() {
    let mut conn = server();
    let (_, result) = feed(&mut conn, &masked(true, Opcode::Text, &[b'a', 0xe2, 0x82]));
    assert_failed(&conn, result, code::INVALID_PAYLOAD);
}

#[test]
fn binary_messages_are_not_checked_for_utf8() {
    let (messages, result) = feed(&mut server(), &masked(true, Opcode::Binary, &[0xff, 0xfe]));
    result.unwrap();
    assert_eq!(messages, [WsMessage::Binary(vec![0xff, 0xfe])]);
}

// ---- size limits -------------------------------------------------------------

fn small() -> WsConnection {
    let config = Config {
        max_message_size: 10,
        max_frame_size: 8,
        ..Config::default()
    };
    WsConnection::new(Role::Server, config)
}

#[test]
fn a_frame_over_the_limit_fails_when_its_header_arrives() {
    let mut conn = small();
    let frame = masked(true, Opcode::Binary, &[0; 9]);
    let (_, result) = feed(&mut conn, &frame[..6]); // the header alone
    assert_failed(&conn, result, code::TOO_BIG);
    let mut conn = small();
    let (messages, result) = feed(&mut conn, &masked(true, Opcode::Binary, &[0; 8]));
    result.unwrap();
    assert_eq!(messages.len(), 1, "exactly the limit is fine");
}

#[test]
fn a_message_over_the_limit_fails_at_the_fragment_that_crosses_it() {
    let mut conn = small();
    let (_, result) = feed(&mut conn, &masked(false, Opcode::Text, b"12345"));
    result.unwrap();
    let (_, result) = feed(&mut conn, &masked(false, Opcode::Continuation, b"12345"));
    result.unwrap();
    let (_, result) = feed(&mut conn, &masked(true, Opcode::Continuation, b"1"));
    assert_failed(&conn, result, code::TOO_BIG);
}

#[test]
fn a_huge_64_bit_length_fails_without_allocating() {
    let mut conn = server();
    let mut frame = vec![0x82, 0xff];
    frame.extend_from_slice(&(1u64 << 62).to_be_bytes());
    frame.extend_from_slice(&KEY);
    let (_, result) = feed(&mut conn, &frame);
    assert_failed(&conn, result, code::TOO_BIG);
}

// ---- close handshake and codes ----------------------------------------------

#[test]
fn every_valid_close_code_is_echoed() {
    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        let mut conn = server();
        let payload = close::close_payload(code, "reason");
        let (messages, result) = feed(&mut conn, &masked(true, Opcode::Close, &payload));
        result.unwrap();
        assert_eq!(messages, [WsMessage::Close(code, "reason".into())]);
        assert_eq!(sent_frames(conn.output()), [close_frame(code)]);
        assert_eq!(conn.state(), State::ClosingByPeer);
        assert!(conn.should_close_transport());
        assert!(!conn.failed());
    }
}

#[test]
fn every_invalid_close_code_is_a_protocol_error() {
    let refused = [
        0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999,
    ];
    for code in refused.into_iter().chain([5000, 65535]) {
        let mut conn = server();
        let payload = close::close_payload(code, "");
        let (messages, result) = feed(&mut conn, &masked(true, Opcode::Close, &payload));
        assert!(messages.is_empty());
        assert_failed(&conn, result, code::PROTOCOL_ERROR);
    }
}

#[test]
fn an_empty_close_is_answered_with_an_empty_close() {
    let mut conn = server();
    let (messages, result) = feed(&mut conn, &masked(true, Opcode::Close, b""));
    result.unwrap();
    assert_eq!(messages, [WsMessage::Close(code::NO_STATUS, String::new())]);
    assert_eq!(sent_frames(conn.output()), [(Opcode::Close, true, vec![])]);
}

#[test]
fn a_one_byte_close_payload_is_a_protocol_error() {
    let mut conn = server();
    let (_, result) = feed(&mut conn, &masked(true, Opcode::Close, &[0x03]));
    assert_failed(&conn, result, code::PROTOCOL_ERROR);
}

#[test]
fn a_close_reason_that_is_not_utf8_is_invalid_payload() {
    let mut conn = server();
    let (_, result) = feed(&mut conn, &masked(true, Opcode::Close, &[0x03, 0xe8, 0xff]));
    assert_failed(&conn, result, code::INVALID_PAYLOAD);
}

// ---- the state machine ------------------------------------------------------

#[test]
fn closing_by_us_then_the_peer_answers() {
    let mut conn = server();
    conn.close(1000, "done").unwrap();
    assert_eq!(conn.state(), State::ClosingByUs);
    assert!(!conn.should_close_transport());
    assert_eq!(
        sent_frames(&conn.take_output()),
        [(Opcode::Close, true, close::close_payload(1000, "done"))]
    );
    // Nothing more may be sent.
    assert_eq!(conn.send_text("late"), Err(WsSendError::NotOpen));
    assert_eq!(conn.send_ping(b""), Err(WsSendError::NotOpen));
    assert_eq!(conn.close(1000, ""), Err(WsSendError::NotOpen));
    // The peer's data still arrives; its pings are not answered any more.
    let mut stream = masked(true, Opcode::Text, b"in flight");
    stream.extend(masked(true, Opcode::Ping, b"p"));
    let before_close = stream.len();
    stream.extend(masked(true, Opcode::Close, &close::close_payload(1000, "")));
    // The receive stops in front of the close so the messages can be
    // answered first; the caller offers the rest again.
    let (messages, result) = feed(&mut conn, &stream);
    assert_eq!(result, Ok(before_close));
    assert_eq!(
        messages,
        [
            WsMessage::Text("in flight".into()),
            WsMessage::Ping(b"p".to_vec())
        ]
    );
    let (messages, result) = feed(&mut conn, &stream[before_close..]);
    assert_eq!(result, Ok(stream.len() - before_close));
    assert_eq!(messages, [WsMessage::Close(1000, String::new())]);
    assert!(conn.output().is_empty(), "no pong and no second close");
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.should_close_transport());
    assert!(!conn.failed());
    assert!(conn.transport_closed(), "a clean close");
}

#[test]
fn data_after_the_peers_close_is_ignored() {
    let mut conn = server();
    let mut stream = masked(true, Opcode::Close, &close::close_payload(1001, ""));
    stream.extend(masked(true, Opcode::Text, b"ignored"));
    stream.extend(unmasked(true, Opcode::Text, b"even broken frames"));
    let (messages, result) = feed(&mut conn, &stream);
    assert_eq!(result, Ok(stream.len()));
    assert_eq!(messages, [WsMessage::Close(1001, String::new())]);
    assert_eq!(conn.state(), State::ClosingByPeer);
    assert_eq!(sent_frames(conn.output()), [close_frame(1001)]);
    assert_eq!(conn.send_text("late"), Err(WsSendError::NotOpen));
}

#[test]
fn after_a_failure_nothing_more_is_sent_or_delivered() {
    let mut conn = server();
    let (_, result) = feed(&mut conn, &unmasked(true, Opcode::Text, b"x"));
    assert!(result.is_err());
    let sent = conn.take_output();
    assert_eq!(sent_frames(&sent).len(), 1);
    let (messages, result) = feed(&mut conn, &masked(true, Opcode::Ping, b"p"));
    assert_eq!(result, Ok(7), "consumed and dropped");
    assert!(messages.is_empty());
    assert!(conn.output().is_empty());
    assert_eq!(conn.send_binary(b"x"), Err(WsSendError::NotOpen));
    assert!(!conn.transport_closed(), "a failure is not a clean close");
}

#[test]
fn a_failure_while_closing_by_us_sends_no_second_close() {
    let mut conn = server();
    conn.close(1000, "").unwrap();
    conn.take_output();
    let (_, result) = feed(&mut conn, &unmasked(true, Opcode::Text, b"x"));
    assert_eq!(result.unwrap_err().code, code::PROTOCOL_ERROR);
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.output().is_empty());
}

#[test]
fn eof_without_a_close_is_not_clean() {
    let mut conn = server();
    assert!(!conn.transport_closed());
    assert_eq!(conn.state(), State::Closed);
}

// ---- the sending API -----------------------------------------------------

#[test]
fn sending_checks_its_arguments() {
    let mut conn = server();
    assert_eq!(conn.send_ping(&[0; 126]), Err(WsSendError::ControlTooLong));
    assert_eq!(conn.send_pong(&[0; 126]), Err(WsSendError::ControlTooLong));
    assert_eq!(
        conn.close(1005, ""),
        Err(WsSendError::InvalidCloseCode(1005))
    );
    assert_eq!(
        conn.close(1000, &"x".repeat(124)),
        Err(WsSendError::ReasonTooLong)
    );
    assert!(conn.output().is_empty(), "nothing queued by a refused send");
    assert_eq!(conn.state(), State::Open);
    conn.send_ping(&[1; 125]).unwrap();
    conn.close(4000, &"x".repeat(123)).unwrap();
    let frames = sent_frames(conn.output());
    assert_eq!(frames[0], (Opcode::Ping, true, vec![1; 125]));
    assert_eq!(frames[1].2.len(), 125);
}

#[test]
fn a_long_failure_reason_is_cut_at_a_character_boundary() {
    let mut conn = server();
    let err = conn.fail(code::POLICY_VIOLATION, "é".repeat(100));
    assert_eq!(err.reason.len(), 200);
    let frames = sent_frames(conn.output());
    let reason = std::str::from_utf8(&frames[0].2[2..]).expect("still UTF-8");
    assert_eq!(reason.len(), 122, "61 two-byte characters fit in 123 bytes");
}

#[test]
fn drain_output_into_keeps_order() {
    let mut conn = server();
    conn.send_text("a").unwrap();
    let mut dst = b"before".to_vec();
    conn.drain_output_into(&mut dst);
    assert_eq!(&dst[..6], b"before");
    assert_eq!(&dst[6..], unmasked(true, Opcode::Text, b"a"));
    assert!(conn.output().is_empty());
}

#[test]
fn a_message_and_a_close_in_one_read_are_handed_over_in_two_steps() {
    let mut conn = server();
    let mut stream = masked(true, Opcode::Text, b"Hello");
    let close_at = stream.len();
    stream.extend(masked(true, Opcode::Close, &close::close_payload(1000, "")));
    let (messages, result) = feed(&mut conn, &stream);
    assert_eq!(result, Ok(close_at));
    assert_eq!(messages, [WsMessage::Text("Hello".into())]);
    // The application can still answer before the close is processed.
    conn.send_text("Hello").unwrap();
    let (messages, result) = feed(&mut conn, &stream[close_at..]);
    assert_eq!(result, Ok(stream.len() - close_at));
    assert_eq!(messages, [WsMessage::Close(1000, String::new())]);
    let frames = sent_frames(&conn.take_output());
    assert_eq!(frames[0].0, Opcode::Text, "the echo leaves first");
    assert_eq!(frames[1].0, Opcode::Close);
}
