//! Tests of negotiation and of the codec. The connection-level rules (RSV1,
//! fragments, control frames, limits) are at the end.

use super::*;
use crate::ws::close::code;
use crate::ws::connection::{Config, ProtocolError, WsConnection, WsMessage};
use crate::ws::frame::{self, Opcode};
use crate::ws::mask::apply_mask;

/// Header fields from a list of pairs.
fn fields(list: &[(&str, &[u8])]) -> Headers {
    list.iter().copied().collect()
}

fn offer(value: &[u8]) -> Headers {
    fields(&[("Host", b"h"), ("Sec-WebSocket-Extensions", value)])
}

fn accept(value: &'static [u8]) -> Option<DeflateParams> {
    accept_offers(&offer(value), &DeflateConfig::default())
}

fn takeover() -> DeflateConfig {
    DeflateConfig::default().with_context_takeover()
}

// ---- negotiation, server side ----

#[test]
fn a_bare_offer_gets_our_defaults() {
    let params = accept(b"permessage-deflate").unwrap();
    assert_eq!(
        params,
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    );
    assert_eq!(
        params.response_header(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    // With takeover allowed, a bare offer is answered bare.
    let params = accept_offers(&offer(b"permessage-deflate"), &takeover()).unwrap();
    assert_eq!(params, DeflateParams::default());
    assert_eq!(params.response_header(), "permessage-deflate");
}

#[test]
fn all_four_parameters_are_honoured() {
    let params = accept_offers(
        &offer(
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
              server_max_window_bits=10; client_max_window_bits=12",
        ),
        &takeover(),
    )
    .unwrap();
    assert_eq!(
        params,
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 10,
            client_max_window_bits: 12,
        }
    );
    assert_eq!(
        params.response_header(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=12"
    );
    // A bare client_max_window_bits lets us choose; our smaller window wins
    // on both sides.
    let ours = DeflateConfig {
        server_max_window_bits: 11,
        client_max_window_bits: 9,
        ..takeover()
    };
    let params = accept_offers(
        &offer(b"permessage-deflate; client_max_window_bits; server_max_window_bits=13"),
        &ours,
    )
    .unwrap();
    assert_eq!(params.server_max_window_bits, 11);
    assert_eq!(params.client_max_window_bits, 9);
    // Without client_max_window_bits in the offer we cannot limit the client.
    let params = accept_offers(&offer(b"permessage-deflate"), &ours).unwrap();
    assert_eq!(params.client_max_window_bits, 15);
}

#[test]
fn the_first_acceptable_offer_is_chosen() {
    let params = accept(
        b"permessage-deflate; foo, \
          permessage-deflate; server_max_window_bits=9; server_max_window_bits=9, \
          permessage-deflate; server_max_window_bits=12, \
          permessage-deflate; server_max_window_bits=10",
    )
    .unwrap();
    assert_eq!(params.server_max_window_bits, 12);
    // Offers over two headers are one list.
    let headers: Vec<(&str, &[u8])> = vec![
        ("Sec-WebSocket-Extensions", b"permessage-deflate; x=1"),
        (
            "Sec-WebSocket-Extensions",
            b"permessage-deflate; server_max_window_bits=14",
        ),
    ];
    let params = accept_offers(&fields(&headers), &DeflateConfig::default()).unwrap();
    assert_eq!(params.server_max_window_bits, 14);
}

#[test]
fn bad_or_duplicate_parameters_refuse_the_offer() {
    for bad in [
        &b"permessage-deflate; server_max_window_bits"[..],
        b"permessage-deflate; server_max_window_bits=7",
        b"permessage-deflate; server_max_window_bits=16",
        b"permessage-deflate; server_max_window_bits=08",
        b"permessage-deflate; server_max_window_bits=ten",
        b"permessage-deflate; client_max_window_bits=0",
        b"permessage-deflate; client_max_window_bits=\"16\"",
        b"permessage-deflate; server_no_context_takeover=1",
        b"permessage-deflate; client_no_context_takeover=true",
        b"permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        b"permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        b"permessage-deflate; mystery",
        b"permessage-deflate; a b", // not even well formed
    ] {
        assert_eq!(
            accept(bad),
            None,
            "{:?} should be declined",
            String::from_utf8_lossy(bad)
        );
    }
    // A quoted value is the same as a token.
    let params = accept(b"permessage-deflate; server_max_window_bits=\"10\"").unwrap();
    assert_eq!(params.server_max_window_bits, 10);
}

#[test]
fn unknown_extensions_are_ignored() {
    let params = accept(b"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits");
    assert!(params.is_some());
    assert_eq!(accept(b"x-webkit-deflate-frame; max_window_bits=10"), None);
    assert_eq!(
        accept_offers(&fields(&[("Host", b"h")]), &DeflateConfig::default()),
        None
    );
}

#[test]
fn parameter_errors_say_what_is_wrong() {
    let ext = |value: &[u8]| extensions::parse(value).unwrap().remove(0);
    assert_eq!(
        parse_params(&ext(b"permessage-deflate; x")),
        Err(ParamError::Unknown("x".into()))
    );
    assert_eq!(
        parse_params(&ext(
            b"permessage-deflate; server_no_context_takeover; server_no_context_takeover"
        )),
        Err(ParamError::Duplicate("server_no_context_takeover".into()))
    );
    assert_eq!(
        parse_params(&ext(b"permessage-deflate; client_max_window_bits=99")),
        Err(ParamError::BadValue("client_max_window_bits".into()))
    );
    assert_eq!(
        parse_params(&ext(b"permessage-deflate; client_max_window_bits")),
        Ok(Offer {
            client_max_window_bits: Some(None),
            ..Offer::default()
        })
    );
}

// ---- negotiation, client side ----

fn answer(value: &[u8]) -> Headers {
    fields(&[("Sec-WebSocket-Extensions", value)])
}

#[test]
fn the_client_offer_is_rendered_from_its_config() {
    assert_eq!(
        ClientOffer::new(DeflateConfig::default()).header_value(),
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover; \
         client_max_window_bits"
    );
    let config = DeflateConfig {
        server_max_window_bits: 10,
        ..takeover()
    };
    assert_eq!(
        ClientOffer::new(config).header_value(),
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits"
    );
}

#[test]
fn the_client_checks_the_answer() {
    let offer = ClientOffer::new(takeover());
    assert_eq!(
        offer.check_answer(&Headers::new()),
        Ok(None),
        "declined is fine"
    );
    assert_eq!(
        offer.check_answer(&answer(b"permessage-deflate")),
        Ok(Some(DeflateParams::default()))
    );
    assert_eq!(
        offer.check_answer(&answer(
            b"permessage-deflate; server_no_context_takeover; client_max_window_bits=9; \
              server_max_window_bits=12"
        )),
        Ok(Some(DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: 12,
            client_max_window_bits: 9,
        }))
    );
    for bad in [
        &b"x-foo"[..],
        b"permessage-deflate, permessage-deflate",
        b"permessage-deflate; client_max_window_bits",
        b"permessage-deflate; bogus",
        b"permessage-deflate; server_max_window_bits=7",
        b"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        b"permessage-deflate;",
    ] {
        let headers: Vec<(&str, &[u8])> = vec![("Sec-WebSocket-Extensions", bad)];
        assert!(
            offer.check_answer(&fields(&headers)).is_err(),
            "{:?} should fail",
            String::from_utf8_lossy(bad)
        );
    }
    // What we asked for must be answered.
    let asking = ClientOffer::new(DeflateConfig {
        server_max_window_bits: 10,
        ..DeflateConfig::default()
    });
    assert!(
        asking
            .check_answer(&answer(b"permessage-deflate; server_max_window_bits=10"))
            .is_err(),
        "server_no_context_takeover was asked for"
    );
    assert!(
        asking
            .check_answer(&answer(
                b"permessage-deflate; server_no_context_takeover; server_max_window_bits=11"
            ))
            .is_err(),
        "a larger window than asked"
    );
    let params = asking
        .check_answer(&answer(
            b"permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
        ))
        .unwrap()
        .unwrap();
    // We promised client_no_context_takeover in the offer: we keep it.
    assert!(params.client_no_context_takeover);
}

#[test]
fn our_client_offer_and_our_server_agree() {
    for config in [DeflateConfig::default(), takeover()] {
        let offer = ClientOffer::new(config.clone());
        let value = offer.header_value();
        let request: Vec<(&str, &[u8])> = vec![("Sec-WebSocket-Extensions", value.as_bytes())];
        let params = accept_offers(&fields(&request), &config).unwrap();
        let response = params.response_header();
        let headers: Vec<(&str, &[u8])> = vec![("Sec-WebSocket-Extensions", response.as_bytes())];
        assert_eq!(offer.check_answer(&fields(&headers)), Ok(Some(params)));
    }
}

// ---- the codec ----

fn codec(role: Role, params: DeflateParams) -> Deflate {
    Deflate::new(role, params, &DeflateConfig::default())
}

#[test]
fn hello_is_the_rfc_example_with_the_tail_removed() {
    // RFC 7692 §7.2.3.1: "Hello" compressed is f2 48 cd c9 c9 07 00.
    let mut sender = codec(Role::Server, DeflateParams::default());
    let mut out = Vec::new();
    sender.compress(b"Hello", &mut out);
    assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    // §7.2.3.2: with context takeover, the second "Hello" points back.
    let mut second = Vec::new();
    sender.compress(b"Hello", &mut second);
    assert_eq!(second, [0xf2, 0x00, 0x11, 0x00, 0x00]);

    let mut receiver = codec(Role::Client, DeflateParams::default());
    for bytes in [&out, &second] {
        let mut text = Vec::new();
        receiver.inflate(bytes, &mut text, 100).unwrap();
        receiver.finish_message(&mut text, 100).unwrap();
        assert_eq!(text, b"Hello");
    }
}

#[test]
fn the_rfc_stored_block_example_inflates() {
    // §7.2.3.3: "Hello" in a stored (uncompressed) DEFLATE block.
    let mut receiver = codec(Role::Client, DeflateParams::default());
    let mut text = Vec::new();
    receiver
        .inflate(
            &[
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ],
            &mut text,
            100,
        )
        .unwrap();
    receiver.finish_message(&mut text, 100).unwrap();
    assert_eq!(text, b"Hello");
    // §7.2.3.4: a final block (BFINAL) also ends a message.
    let mut text = Vec::new();
    receiver
        .inflate(
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            &mut text,
            100,
        )
        .unwrap();
    receiver.finish_message(&mut text, 100).unwrap();
    assert_eq!(text, b"Hello");
}

#[test]
fn no_context_takeover_resets_and_frees_after_each_message() {
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let mut sender = codec(Role::Server, params);
    let mut first = Vec::new();
    sender.compress(b"Hello", &mut first);
    assert_eq!(sender.holds_context(), (false, false), "freed at once");
    let mut second = Vec::new();
    sender.compress(b"Hello", &mut second);
    assert_eq!(first, second, "no back reference into the first message");

    let mut receiver = codec(Role::Client, params);
    let mut text = Vec::new();
    receiver.inflate(&first, &mut text, 100).unwrap();
    assert_eq!(
        receiver.holds_context(),
        (false, true),
        "in use mid-message"
    );
    receiver.finish_message(&mut text, 100).unwrap();
    assert_eq!(receiver.holds_context(), (false, false));
}

#[test]
fn with_takeover_idle_release_drops_only_what_is_safe() {
    let mut server = codec(Role::Server, DeflateParams::default());
    let mut client = codec(Role::Client, DeflateParams::default());
    let message = b"{\"type\":\"chat\",\"room\":\"lobby\",\"text\":\"hello there\"}";
    let mut wire = Vec::new();
    server.compress(message, &mut wire);
    let mut got = Vec::new();
    client.inflate(&wire, &mut got, 1000).unwrap();
    client.finish_message(&mut got, 1000).unwrap();
    assert_eq!(server.holds_context(), (true, false));
    assert_eq!(client.holds_context(), (false, true));
    // Idle: the server may drop its compressor; the client must keep its
    // decompressor (the server may point back into earlier messages).
    assert!(server.release_idle());
    assert!(!client.release_idle());
    assert_eq!(client.holds_context(), (false, true));
    // A fresh compressor's output continues the client's stream fine.
    for _ in 0..3 {
        let mut wire = Vec::new();
        server.compress(message, &mut wire);
        let mut got = Vec::new();
        client.inflate(&wire, &mut got, 1000).unwrap();
        client.finish_message(&mut got, 1000).unwrap();
        assert_eq!(got, message);
    }
}

#[test]
fn small_windows_round_trip_and_eight_bits_sends_plain() {
    for bits in 9..=15 {
        let params = DeflateParams {
            server_max_window_bits: bits,
            client_max_window_bits: bits,
            ..DeflateParams::default()
        };
        let mut server = codec(Role::Server, params);
        let mut client = codec(Role::Client, params);
        let text: Vec<u8> = (0..5000u32)
            .flat_map(|i| (i % 700).to_string().into_bytes())
            .collect();
        let mut wire = Vec::new();
        client.compress(&text, &mut wire);
        let mut got = Vec::new();
        server.inflate(&wire, &mut got, 1 << 20).unwrap();
        server.finish_message(&mut got, 1 << 20).unwrap();
        assert_eq!(got, text, "window {bits}");
    }
    let eight = DeflateParams {
        server_max_window_bits: 8,
        ..DeflateParams::default()
    };
    assert!(!codec(Role::Server, eight).should_compress(1000));
    assert!(codec(Role::Client, eight).should_compress(1000));
    assert!(
        !codec(Role::Client, eight).should_compress(63),
        "under the threshold"
    );
}

/// A compressed message that inflates to `size` zero bytes.
fn bomb(size: usize) -> Vec<u8> {
    let mut sender = codec(Role::Client, DeflateParams::default());
    let mut wire = Vec::new();
    sender.compress(&vec![0u8; size], &mut wire);
    wire
}

// ANCHOR: bomb_test
#[test]
fn a_bomb_stops_at_the_limit() {
    let wire = bomb(64 << 20); // 64 MiB of zeros, about 64 KiB compressed
    assert!(wire.len() < 100_000, "{}", wire.len());
    let limit = 1 << 20;
    let mut receiver = codec(Role::Server, DeflateParams::default());
    let mut out = Vec::new();
    assert_eq!(
        receiver.inflate(&wire, &mut out, limit),
        Err(InflateError::TooBig)
    );
    // It stopped at the limit: at most one byte over, never the 64 MiB.
    assert!(out.len() <= limit + 1, "{}", out.len());
    assert!(out.capacity() <= 2 * limit + 2, "{}", out.capacity());
}
// ANCHOR_END: bomb_test

#[test]
fn empty_blocks_forever_are_capped_too() {
    // 00 00 00 ff ff is an empty stored block: it inflates to nothing.
    let empties: Vec<u8> = std::iter::repeat_n([0x00, 0x00, 0x00, 0xff, 0xff], 1000)
        .flatten()
        .collect();
    let mut receiver = codec(Role::Server, DeflateParams::default());
    let mut out = Vec::new();
    assert_eq!(
        receiver.inflate(&empties, &mut out, 100),
        Err(InflateError::TooBig)
    );
}

#[test]
fn corrupt_data_is_an_error() {
    let mut receiver = codec(Role::Server, DeflateParams::default());
    let mut out = Vec::new();
    // BTYPE 11 is reserved.
    assert_eq!(
        receiver.inflate(&[0xff, 0xff, 0xff], &mut out, 100),
        Err(InflateError::Corrupt)
    );
}

// ---- on a connection ----

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A server connection with compression agreed.
fn server(params: DeflateParams, config: Config) -> WsConnection {
    let mut conn = WsConnection::new(Role::Server, config.clone());
    let deflate_config = config.deflate.unwrap_or_default();
    conn.set_deflate(Deflate::new(Role::Server, params, &deflate_config));
    conn
}

/// A masked client frame with the given RSV bits (RSV1 = 0b100).
fn frame_rsv(fin: bool, rsv: u8, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_frame(&mut out, fin, opcode, payload, Some(KEY));
    out[0] |= rsv << 4;
    out
}

fn feed(conn: &mut WsConnection, bytes: &[u8]) -> (Vec<WsMessage>, Result<usize, ProtocolError>) {
    let mut messages = Vec::new();
    let result = conn.receive(bytes, &mut messages);
    (messages, result)
}

/// Frames the server queued, as (rsv, opcode, payload).
fn sent(conn: &mut WsConnection) -> Vec<(u8, Opcode, Vec<u8>)> {
    let bytes = conn.take_output();
    let mut frames = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let (h, n) = frame::decode_header(&bytes[pos..]).unwrap().unwrap();
        let start = pos + n;
        let end = start + h.payload_len as usize;
        frames.push((h.rsv, h.opcode, bytes[start..end].to_vec()));
        pos = end;
    }
    frames
}

fn compressed(text: &[u8]) -> Vec<u8> {
    let mut sender = codec(Role::Client, DeflateParams::default());
    let mut out = Vec::new();
    sender.compress(text, &mut out);
    out
}

#[test]
fn a_compressed_message_arrives_whole_and_fragmented() {
    let mut conn = server(DeflateParams::default(), Config::default());
    let (messages, result) = feed(
        &mut conn,
        &frame_rsv(true, 0b100, Opcode::Text, &compressed(b"Hello")),
    );
    assert!(result.is_ok());
    assert_eq!(messages, [WsMessage::Text("Hello".into())]);

    // The same message in three fragments, RSV1 on the first only, a ping
    // between them, fed one byte at a time.
    let text = "a fragmented, compressed message, ".repeat(20);
    let wire = compressed(text.as_bytes());
    let (a, rest) = wire.split_at(5);
    let (b, c) = rest.split_at(rest.len() / 2);
    let mut bytes = frame_rsv(false, 0b100, Opcode::Text, a);
    bytes.extend(frame_rsv(false, 0, Opcode::Continuation, b));
    bytes.extend(frame_rsv(true, 0, Opcode::Ping, b"p"));
    bytes.extend(frame_rsv(true, 0, Opcode::Continuation, c));
    let mut buffered = Vec::new();
    let mut messages = Vec::new();
    for &byte in &bytes {
        buffered.push(byte);
        let used = conn.receive(&buffered, &mut messages).unwrap();
        buffered.drain(..used);
    }
    assert_eq!(
        messages,
        [WsMessage::Ping(b"p".to_vec()), WsMessage::Text(text)]
    );
    // The pong is a control frame: never compressed.
    let frames = sent(&mut conn);
    assert_eq!(frames, [(0, Opcode::Pong, b"p".to_vec())]);
}

#[test]
fn rsv1_rules_are_enforced_with_1002() {
    let agreed = || server(DeflateParams::default(), Config::default());
    let cases: Vec<(&str, WsConnection, Vec<u8>)> = vec![
        (
            "RSV1 without an extension",
            WsConnection::new(Role::Server, Config::default()),
            frame_rsv(true, 0b100, Opcode::Text, &compressed(b"Hello")),
        ),
        (
            "RSV1 on a ping",
            agreed(),
            frame_rsv(true, 0b100, Opcode::Ping, b""),
        ),
        (
            "RSV1 on a close",
            agreed(),
            frame_rsv(true, 0b100, Opcode::Close, b""),
        ),
        ("RSV2", agreed(), frame_rsv(true, 0b010, Opcode::Text, b"x")),
        ("RSV3", agreed(), frame_rsv(true, 0b001, Opcode::Text, b"x")),
        ("RSV1 on a continuation", agreed(), {
            let mut bytes = frame_rsv(false, 0b100, Opcode::Text, &compressed(b"Hel"));
            bytes.extend(frame_rsv(true, 0b100, Opcode::Continuation, b"\x00"));
            bytes
        }),
    ];
    for (what, mut conn, bytes) in cases {
        let (_, result) = feed(&mut conn, &bytes);
        assert_eq!(result.expect_err(what).code, code::PROTOCOL_ERROR, "{what}");
    }
}

// ANCHOR: bomb_connection_test
#[test]
fn a_bomb_is_closed_with_1009_before_its_frame_has_even_arrived() {
    let config = Config {
        max_message_size: 1 << 20,
        ..Config::default()
    };
    let mut conn = server(DeflateParams::default(), config);
    let wire = bomb(64 << 20);
    let bytes = frame_rsv(true, 0b100, Opcode::Binary, &wire);
    // Only the first half of the frame arrives: already too big.
    let (messages, result) = feed(&mut conn, &bytes[..bytes.len() / 2]);
    assert!(messages.is_empty());
    assert_eq!(result.unwrap_err().code, code::TOO_BIG);
    let frames = sent(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].1, Opcode::Close);
    assert_eq!(frames[0].2[..2], code::TOO_BIG.to_be_bytes());
}
// ANCHOR_END: bomb_connection_test

#[test]
fn a_message_exactly_at_the_limit_inflates() {
    let config = Config {
        max_message_size: 100_000,
        ..Config::default()
    };
    let mut conn = server(DeflateParams::default(), config);
    let wire = bomb(100_000);
    let (messages, result) = feed(&mut conn, &frame_rsv(true, 0b100, Opcode::Binary, &wire));
    assert!(result.is_ok());
    assert_eq!(messages, [WsMessage::Binary(vec![0; 100_000])]);
    let mut conn = server(
        DeflateParams::default(),
        Config {
            max_message_size: 99_999,
            ..Config::default()
        },
    );
    let (_, result) = feed(&mut conn, &frame_rsv(true, 0b100, Opcode::Binary, &wire));
    assert_eq!(result.unwrap_err().code, code::TOO_BIG);
}

#[test]
fn compressed_text_is_checked_for_utf8_and_bad_data_is_1007() {
    let mut conn = server(DeflateParams::default(), Config::default());
    let (_, result) = feed(
        &mut conn,
        &frame_rsv(true, 0b100, Opcode::Text, &compressed(b"ok \xff")),
    );
    assert_eq!(result.unwrap_err().code, code::INVALID_PAYLOAD);
    let mut conn = server(DeflateParams::default(), Config::default());
    let (_, result) = feed(
        &mut conn,
        &frame_rsv(true, 0b100, Opcode::Binary, b"\xff\xff\xff"),
    );
    assert_eq!(result.unwrap_err().code, code::INVALID_PAYLOAD);
}

#[test]
fn sending_compresses_over_the_threshold_only() {
    let mut conn = server(DeflateParams::default(), Config::default());
    conn.send_text("short").unwrap();
    let long = "{\"user\":\"ada\",\"text\":\"hello, hello, hello\"} ".repeat(10);
    conn.send_text(&long).unwrap();
    conn.send_ping(b"ping").unwrap();
    let frames = sent(&mut conn);
    assert_eq!(frames[0], (0, Opcode::Text, b"short".to_vec()));
    assert_eq!(frames[1].0, 0b100, "RSV1 on the compressed message");
    assert!(frames[1].2.len() < long.len() / 3, "{}", frames[1].2.len());
    assert!(!frames[1].2.ends_with(&TAIL), "tail removed");
    assert_eq!(frames[2], (0, Opcode::Ping, b"ping".to_vec()));
    // And it inflates back.
    let mut receiver = codec(Role::Client, DeflateParams::default());
    let mut got = Vec::new();
    receiver.inflate(&frames[1].2, &mut got, 1 << 20).unwrap();
    receiver.finish_message(&mut got, 1 << 20).unwrap();
    assert_eq!(got, long.as_bytes());
}

#[test]
fn a_client_masks_its_compressed_frames() {
    let mut conn = WsConnection::new(Role::Client, Config::default());
    conn.set_deflate(Deflate::new(
        Role::Client,
        DeflateParams::default(),
        &DeflateConfig::default(),
    ));
    let text = "masked and compressed ".repeat(10);
    conn.send_text(&text).unwrap();
    let bytes = conn.take_output();
    let (h, n) = frame::decode_header(&bytes).unwrap().unwrap();
    assert_eq!(h.rsv, 0b100);
    let mut payload = bytes[n..].to_vec();
    apply_mask(&mut payload, h.mask.expect("masked"), 0);
    let mut receiver = codec(Role::Server, DeflateParams::default());
    let mut got = Vec::new();
    receiver.inflate(&payload, &mut got, 1 << 20).unwrap();
    receiver.finish_message(&mut got, 1 << 20).unwrap();
    assert_eq!(got, text.as_bytes());
}

#[test]
fn an_idle_connection_holds_no_compressor_by_default() {
    let mut conn = server(
        accept(b"permessage-deflate; client_max_window_bits").unwrap(),
        Config::default(),
    );
    let text = "x".repeat(200);
    conn.send_text(&text).unwrap();
    let (_, result) = feed(
        &mut conn,
        &frame_rsv(true, 0b100, Opcode::Text, &compressed(text.as_bytes())),
    );
    assert!(result.is_ok());
    assert!(!conn.holds_compression_context());
    // With takeover both stay, until the idle release drops the compressor.
    let mut conn = server(DeflateParams::default(), Config::default());
    conn.send_text(&text).unwrap();
    let (_, result) = feed(
        &mut conn,
        &frame_rsv(true, 0b100, Opcode::Text, &compressed(text.as_bytes())),
    );
    assert!(result.is_ok());
    assert_eq!(conn.deflate().unwrap().holds_context(), (true, true));
    assert!(conn.release_idle());
    assert_eq!(conn.deflate().unwrap().holds_context(), (false, true));
}
