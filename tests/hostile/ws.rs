//! Chapter 3's WebSocket server against hostile handshakes and frames. Each
//! case names the exact HTTP status or close code it must get, and a
//! healthy WebSocket client beside it must keep getting its echoes.

use crate::harness::*;
use netladder::ws::ServerConfig;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

/// Runs `attack` against the default chapter 3 server on both drivers.
fn ws_case(name: &str, attack: impl Fn(&Server)) {
    ws_case_with(name, ws_config, attack);
}

fn ws_case_with(name: &str, config: impl Fn() -> ServerConfig, attack: impl Fn(&Server)) {
    each_driver(name, Kind::Ws, |driver| start_ws(driver, config()), attack);
}

/// A handshake with these key and version lines gets `status`.
fn handshake_refused(name: &str, fields: &str, status: u16, header: Option<&str>) {
    let request = upgrade_with(fields);
    ws_case(name, |server| {
        let (got, response) = answer_then_close(server.addr, request.as_bytes());
        assert_eq!(got, status, "{response}");
        if let Some(header) = header {
            assert!(response.contains(header), "{header} missing: {response}");
        }
    });
}

/// Frames sent after a good handshake get close `code`, then TCP closes.
fn frames_refused(name: &str, frames: &[u8], code: u16) {
    ws_case(name, |server| {
        let mut stream = ws_open(server.addr);
        send(&mut stream, frames);
        expect_close(&mut stream, code);
    });
}

#[test]
fn a_short_key_gets_400() {
    // base64 of 8 bytes, not 16.
    handshake_refused(
        "key-short",
        "Sec-WebSocket-Key: AAAAAAAAAAA=\r\nSec-WebSocket-Version: 13\r\n",
        400,
        None,
    );
}

#[test]
fn a_long_key_gets_400() {
    let key = "A".repeat(4000);
    handshake_refused(
        "key-long",
        &format!("Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"),
        400,
        None,
    );
}

#[test]
fn a_non_base64_key_gets_400() {
    handshake_refused(
        "key-not-base64",
        "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\nSec-WebSocket-Version: 13\r\n",
        400,
        None,
    );
}

#[test]
fn a_missing_version_gets_400() {
    handshake_refused(
        "version-missing",
        &format!("Sec-WebSocket-Key: {KEY}\r\n"),
        400,
        None,
    );
}

#[test]
fn a_wrong_version_gets_426_naming_13() {
    // RFC 6455 §4.4: answer with the versions we speak.
    handshake_refused(
        "version-8",
        &format!("Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n"),
        426,
        Some("Sec-WebSocket-Version: 13"),
    );
}

#[test]
fn a_64_kib_handshake_head_gets_431() {
    let padding = format!("X-Pad: {}\r\n", "a".repeat(64 * 1024));
    handshake_refused(
        "handshake-64k",
        &format!("{padding}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"),
        431,
        None,
    );
}

#[test]
fn a_64_kib_handshake_target_gets_414() {
    let request = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(64 * 1024));
    ws_case("handshake-target-64k", |server| {
        let (got, response) = answer_then_close(server.addr, request.as_bytes());
        assert_eq!(got, 414, "{response}");
    });
}

#[test]
fn a_slow_handshake_gets_408() {
    ws_case("handshake-slowloris", |server| {
        let mut stream = connect(server.addr);
        let began = Instant::now();
        stream
            .write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let (status, head, _) = read_response(&mut stream).expect("an answer");
        let took = began.elapsed();
        assert_eq!(status, 408, "{head}");
        assert!(
            took >= Duration::from_millis(650) && took < Duration::from_secs(5),
            "408 after {took:?}"
        );
        assert!(read_rest(&mut stream).is_empty());
    });
}

#[test]
fn an_unmasked_client_frame_gets_1002() {
    frames_refused("unmasked", &unmasked_frame(FIN | TEXT, b"hello"), 1002);
}

#[test]
fn a_length_of_2_63_gets_1002() {
    // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
    frames_refused(
        "length-2-63",
        &header(FIN | BINARY, 1 << 63, Some(MASK)),
        1002,
    );
}

#[test]
fn a_length_of_1_tib_gets_1009_before_the_payload() {
    frames_refused(
        "length-1-tib",
        &header(FIN | BINARY, 1 << 40, Some(MASK)),
        1009,
    );
}

#[test]
fn a_non_minimal_length_gets_1002() {
    let mut bytes = vec![FIN | TEXT, 0x80 | 126, 0, 5];
    bytes.extend(MASK);
    bytes.extend(b"hello".iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    frames_refused("length-non-minimal", &bytes, 1002);
}

#[test]
fn reserved_bits_and_opcodes_get_1002() {
    frames_refused("rsv1", &frame(FIN | 0x40 | TEXT, b"hi"), 1002);
    frames_refused("opcode-3", &frame(FIN | 0x3, b"hi"), 1002);
    frames_refused("opcode-b", &frame(FIN | 0xB, b""), 1002);
}

#[test]
fn two_hundred_thousand_tiny_fragments_arrive_as_one_message() {
    ws_case("fragments-200000", |server| {
        let mut stream = ws_open(server.addr);
        let count = 200_000;
        let mut bytes = frame(TEXT, b"a");
        for i in 1..count {
            let b0 = if i == count - 1 { FIN | CONT } else { CONT };
            bytes.extend(frame(b0, b"a"));
        }
        let mut writer = stream.try_clone().unwrap();
        let sender = thread::spawn(move || writer.write_all(&bytes));
        let (b0, payload) = read_frame(&mut stream).expect("the echo");
        sender.join().unwrap().unwrap();
        assert_eq!(b0, FIN | TEXT);
        assert_eq!(payload.len(), count);
        assert!(payload.iter().all(|&b| b == b'a'));
    });
}

#[test]
fn tiny_fragments_past_the_message_limit_get_1009() {
    ws_case_with(
        "fragments-over-limit",
        || {
            let mut config = ws_config();
            config.ws.max_message_size = 100_000;
            config
        },
        |server| {
            let mut stream = ws_open(server.addr);
            let mut bytes = frame(BINARY, b"a");
            for _ in 1..200_000 {
                bytes.extend(frame(CONT, b"a"));
            }
            let mut writer = stream.try_clone().unwrap();
            thread::spawn(move || writer.write_all(&bytes));
            expect_close(&mut stream, 1009);
        },
    );
}

#[test]
fn control_frames_between_fragments_are_answered_in_place() {
    ws_case("interleaved-control", |server| {
        let mut stream = ws_open(server.addr);
        let mut bytes = frame(TEXT, b"Hel");
        bytes.extend(frame(FIN | PING, b"p1"));
        bytes.extend(frame(CONT, b"lo, "));
        bytes.extend(frame(FIN | PONG, b"unasked"));
        bytes.extend(frame(FIN | PING, b"p2"));
        bytes.extend(frame(FIN | CONT, b"world"));
        stream.write_all(&bytes).unwrap();
        assert_eq!(
            read_frame(&mut stream).unwrap(),
            (FIN | PONG, b"p1".to_vec())
        );
        assert_eq!(
            read_frame(&mut stream).unwrap(),
            (FIN | PONG, b"p2".to_vec())
        );
        assert_eq!(
            read_frame(&mut stream).unwrap(),
            (FIN | TEXT, b"Hello, world".to_vec())
        );
        stream
            .write_all(&frame(FIN | CLOSE, &close_payload(1000, b"")))
            .unwrap();
        expect_close(&mut stream, 1000);
    });
}

#[test]
fn a_fragmented_control_frame_gets_1002() {
    let mut bytes = frame(TEXT, b"Hel");
    bytes.extend(frame(PING, b"p")); // no FIN on a control frame
    frames_refused("control-fragmented", &bytes, 1002);
}

#[test]
fn a_new_message_inside_a_fragmented_one_gets_1002() {
    let mut bytes = frame(TEXT, b"Hel");
    bytes.extend(frame(FIN | TEXT, b"lo"));
    frames_refused("data-inside-fragments", &bytes, 1002);
}

#[test]
fn a_continuation_with_nothing_to_continue_gets_1002() {
    frames_refused("orphan-continuation", &frame(FIN | CONT, b"lo"), 1002);
}

#[test]
fn invalid_utf8_split_across_fragments_gets_1007() {
    // U+1F600 is F0 9F 98 80: the first fragment ends inside it, and the
    // second continues it wrongly. Fails at the bad byte, before FIN.
    let mut bytes = frame(TEXT, b"smile \xf0\x9f");
    bytes.extend(frame(CONT, b"\x98\x28 and more"));
    frames_refused("utf8-split-bad", &bytes, 1007);
}

#[test]
fn utf8_cut_short_at_the_last_fragment_gets_1007() {
    let mut bytes = frame(TEXT, b"euro \xe2");
    bytes.extend(frame(FIN | CONT, b"\x82"));
    frames_refused("utf8-truncated", &bytes, 1007);
}

#[test]
fn a_character_split_across_fragments_is_fine() {
    ws_case("utf8-split-good", |server| {
        let mut stream = ws_open(server.addr);
        let mut bytes = frame(TEXT, b"smile \xf0\x9f");
        bytes.extend(frame(CONT, b"\x98"));
        bytes.extend(frame(FIN | CONT, b"\x80!"));
        stream.write_all(&bytes).unwrap();
        assert_eq!(
            read_frame(&mut stream).unwrap(),
            (FIN | TEXT, "smile \u{1F600}!".as_bytes().to_vec())
        );
    });
}

#[test]
fn bad_close_codes_get_1002() {
    // Never sent on the wire (§7.4.1), reserved, or not assigned.
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        frames_refused(
            &format!("close-code-{code}"),
            &frame(FIN | CLOSE, &close_payload(code, b"")),
            1002,
        );
    }
}

#[test]
fn a_close_with_a_one_byte_payload_gets_1002() {
    frames_refused("close-1-byte", &frame(FIN | CLOSE, &[0x03]), 1002);
}

#[test]
fn a_close_reason_that_is_not_utf8_gets_1007() {
    frames_refused(
        "close-reason-not-utf8",
        &frame(FIN | CLOSE, &close_payload(1000, b"\xff\xfe")),
        1007,
    );
}

#[test]
fn valid_close_codes_are_echoed() {
    for code in [1000u16, 1001, 1003, 1011, 3000, 4999] {
        ws_case(&format!("close-echo-{code}"), |server| {
            let mut stream = ws_open(server.addr);
            stream
                .write_all(&frame(FIN | CLOSE, &close_payload(code, b"bye")))
                .unwrap();
            expect_close(&mut stream, code);
        });
    }
}

#[test]
fn a_close_with_a_124_byte_payload_is_echoed() {
    // 2 bytes of code and a 122-byte reason: within the 125 of a control
    // frame, so it is a valid close and answered with its code.
    ws_case("close-124", |server| {
        let mut stream = ws_open(server.addr);
        let payload = close_payload(1000, &[b'r'; 122]);
        assert_eq!(payload.len(), 124);
        stream.write_all(&frame(FIN | CLOSE, &payload)).unwrap();
        expect_close(&mut stream, 1000);
    });
}

#[test]
fn a_close_with_a_126_byte_payload_gets_1002() {
    // Over the 125 allowed in a control frame (RFC 6455 §5.5).
    frames_refused(
        "close-126",
        &frame(FIN | CLOSE, &close_payload(1000, &[b'r'; 124])),
        1002,
    );
}

#[test]
fn a_ping_flood_is_answered_in_order() {
    ws_case("ping-flood", |server| {
        let mut stream = ws_open(server.addr);
        let count = 20_000;
        let mut writer = stream.try_clone().unwrap();
        let sender = thread::spawn(move || {
            let mut bytes = Vec::new();
            for i in 0..count {
                let mut payload = format!("{i:08}").into_bytes();
                payload.resize(125, b'.');
                bytes.extend(frame(FIN | PING, &payload));
            }
            writer.write_all(&bytes)
        });
        for i in 0..count {
            let (b0, payload) = read_frame(&mut stream).expect("a pong");
            assert_eq!(b0, FIN | PONG);
            assert_eq!(&payload[..8], format!("{i:08}").as_bytes());
            assert_eq!(payload.len(), 125);
        }
        sender.join().unwrap().unwrap();
    });
}

#[test]
fn a_client_that_never_reads_is_dropped() {
    // 1 MiB messages echoed to a peer that never reads: the server must
    // stop, and drop the connection once its writes stall, instead of
    // queueing the echoes.
    ws_case("never-reading", |server| {
        let stream = ws_open(server.addr);
        let mut writer = stream.try_clone().unwrap();
        let began = Instant::now();
        let message = frame(FIN | BINARY, &vec![7u8; 1024 * 1024]);
        let sender = thread::spawn(move || {
            let mut sent = 0usize;
            loop {
                if sent == 2000 {
                    return (sent, None);
                }
                if let Err(err) = writer.write_all(&message) {
                    return (sent, Some(err.kind()));
                }
                sent += 1;
            }
        });
        let (sent, error) = sender.join().unwrap();
        let took = began.elapsed();
        assert!(
            matches!(
                error,
                Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
            ),
            "after {sent} MiB: the server must drop the connection, the write got {error:?}"
        );
        assert!(took < WRITE_STALL * 10, "dropped after {took:?}");
        let mut stream = stream;
        read_rest(&mut stream);
        eprintln!(
            "never-reading on {:?}: dropped after {sent} MiB sent, {took:?}",
            server.driver
        );
    });
}

#[test]
fn a_full_speed_stream_does_not_starve_the_others() {
    // One client sends 64 KiB messages as fast as the server takes them and
    // reads the echoes as fast as they come, for 3 s. Nothing is wrong with
    // any one frame: the attack is the volume, and the other connection's
    // echo must still come within a second. (On mio this failed before the
    // loop had a read budget: the healthy echo waited over a second.)
    ws_case("full-speed-stream", |server| {
        let mut stream = ws_open(server.addr);
        let mut writer = stream.try_clone().unwrap();
        let until = Instant::now() + Duration::from_secs(3);
        let sender = thread::spawn(move || {
            let message = frame(FIN | BINARY, &[5u8; 64 * 1024]);
            let mut sent = 0usize;
            while Instant::now() < until {
                writer.write_all(&message).unwrap();
                sent += 1;
            }
            sent
        });
        let mut echoed = 0usize;
        loop {
            let (b0, payload) = read_frame(&mut stream).expect("an echo");
            assert_eq!((b0, payload.len()), (FIN | BINARY, 64 * 1024));
            echoed += 1;
            if sender.is_finished() {
                break;
            }
        }
        let sent = sender.join().unwrap();
        while echoed < sent {
            read_frame(&mut stream).expect("an echo");
            echoed += 1;
        }
        eprintln!(
            "full-speed-stream on {:?}: {sent} messages of 64 KiB echoed",
            server.driver
        );
    });
}
