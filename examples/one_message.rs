//! One chat line, `hello`, on the wire three ways: on a raw TCP socket with
//! chapter 1's framing, in a WebSocket frame (chapter 3), and as a
//! Socket.IO event inside an Engine.IO packet, inside a WebSocket frame or a
//! long-polling HTTP response (chapter 5).
//!
//! Every byte comes from the project's own encoders, and each step checks
//! its bytes and decodes them back. The comparison page
//! (`book/src/socket-vs-websocket-vs-socketio.md`) shows this code and what
//! it prints:
//!
//! ```text
//! cargo run --example one_message
//! ```
//!
//! `cargo test --example one_message` (and `cargo test --workspace`) checks
//! that the output is exactly `examples/one_message.txt` (less the `ANCHOR`
//! lines the book's includes use), so the page cannot drift from the
//! program.

use netladder::engineio::HttpCompression;
use netladder::engineio::packet::{self as eio, WsFrame};
use netladder::engineio::session::poll_response;
use netladder::framing::Framing;
use netladder::http::Version;
use netladder::http::response::{Answering, write_response};
use netladder::socketio::{Packet, Value, packet as sio};
use netladder::ws::frame::{Opcode, decode_header, encode_frame};
use std::fmt::Write as _;

/// The chat line every layer carries.
const LINE: &str = "hello";

/// A client's masking key. Real clients pick a random one per frame; this
/// is the key of RFC 6455's own example (§5.7), fixed so that the output
/// is the same on every run.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn main() {
    print!("{}", trace());
}

/// Everything the program prints.
fn trace() -> String {
    let mut out = String::new();
    tcp(&mut out);
    websocket(&mut out);
    socketio(&mut out);
    plain_websocket_client(&mut out);
    out
}

// ANCHOR: tcp
/// Chapter 1: TCP carries bytes, so the message needs framing of our own.
fn tcp(out: &mut String) {
    heading(out, "1. A TCP socket: bytes, framed by us (chapter 1)");
    for (name, framing) in [
        ("newline-delimited", Framing::Line),
        ("length-prefixed", Framing::LengthPrefixed),
    ] {
        let mut wire = Vec::new();
        framing.encode(LINE.as_bytes(), &mut wire);
        // The decoder finds the message again, and uses every byte.
        let decoded = framing.decode(&wire, 1024).expect("within the limit");
        assert_eq!(decoded, Some((LINE.as_bytes(), wire.len())));
        dump(out, &format!("{name}, {} bytes", wire.len()), &wire);
    }
}
// ANCHOR_END: tcp

// ANCHOR: websocket
/// Chapter 3: one text frame; a server sends it as is, a client masks it.
fn websocket(out: &mut String) {
    heading(out, "2. WebSocket: one text frame (chapter 3)");
    let mut from_server = Vec::new();
    encode_frame(&mut from_server, true, Opcode::Text, LINE.as_bytes(), None);
    assert_eq!(from_server, b"\x81\x05hello");
    describe_frame(out, "server to client", &from_server);
    let mut from_client = Vec::new();
    encode_frame(
        &mut from_client,
        true,
        Opcode::Text,
        LINE.as_bytes(),
        Some(KEY),
    );
    assert_eq!(
        from_client,
        [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x5f, 0x9f, 0x4d, 0x51, 0x58
        ]
    );
    describe_frame(out, "client to server", &from_client);
}
// ANCHOR_END: websocket

// ANCHOR: socketio
/// Chapter 5: an event, in an Engine.IO message, in a frame or a poll.
fn socketio(out: &mut String) {
    heading(
        out,
        "3. Socket.IO: an event in an Engine.IO packet (chapter 5)",
    );
    // The Socket.IO packet: EVENT (2) on the main namespace, no ack id.
    let event = Packet::event("/", "chat", vec![Value::from(LINE)], None);
    let encoded = event.encode();
    assert_eq!(encoded.text, r#"2["chat","hello"]"#);
    assert!(encoded.attachments.is_empty());
    assert_eq!(sio::decode(&encoded.text), Ok(event));
    text(out, "Socket.IO EVENT packet", &encoded.text);

    // The Engine.IO packet: MESSAGE (4) + the Socket.IO text.
    let message = eio::Packet::text(encoded.text);
    let WsFrame::Text(eio_text) = message.to_ws_frame() else {
        unreachable!("a text message is a text frame");
    };
    assert_eq!(eio_text, r#"42["chat","hello"]"#);
    text(out, "in an Engine.IO MESSAGE packet", &eio_text);

    // On the WebSocket transport: the Engine.IO text is the frame's payload.
    let mut frame = Vec::new();
    encode_frame(&mut frame, true, Opcode::Text, eio_text.as_bytes(), None);
    assert_eq!(&frame[..2], [0x81, 18]);
    describe_frame(out, "in a WebSocket frame, server to client", &frame);
    let mut masked = Vec::new();
    encode_frame(
        &mut masked,
        true,
        Opcode::Text,
        eio_text.as_bytes(),
        Some(KEY),
    );
    assert_eq!(&masked[..6], [0x81, 0x80 | 18, 0x37, 0xfa, 0x21, 0x3d]);
    describe_frame(out, "in a WebSocket frame, client to server", &masked);

    // On the polling transport: the answer to the client's held GET. The
    // body is a payload of one packet; the head is what ch05-sio-server
    // writes to a client that did not ask for compression.
    let mut body = Vec::new();
    eio::encode_payload([&message], &mut body);
    assert_eq!(body, eio_text.as_bytes());
    let response = HttpCompression::default().apply(None, poll_response(body));
    let mut wire = Vec::new();
    let to = Answering {
        head_only: false,
        keep_alive: true,
        version: Version::Http11,
    };
    write_response(&response, to, &mut wire);
    assert!(wire.ends_with(b"Content-Length: 18\r\n\r\n42[\"chat\",\"hello\"]"));
    http(
        out,
        "in a long-polling HTTP response, server to client",
        &wire,
    );
}
// ANCHOR_END: socketio

// ANCHOR: plain
/// What a Socket.IO server makes of a plain WebSocket client's `hello`.
fn plain_websocket_client(out: &mut String) {
    heading(
        out,
        "4. A plain WebSocket client's hello, read by Socket.IO",
    );
    // The frame's text goes to Engine.IO first: `h` is not a packet type.
    let refused = eio::Packet::decode_text(LINE).expect_err("not Engine.IO");
    let _ = writeln!(out, "Engine.IO reads {LINE:?}: {refused}");
    // With the Engine.IO digit added, Socket.IO gets "hello": no better.
    let inner = eio::Packet::decode_text(&format!("4{LINE}")).expect("a message");
    assert_eq!(inner, eio::Packet::text(LINE));
    let _ = writeln!(
        out,
        "Engine.IO reads \"4{LINE}\": a MESSAGE packet, {LINE:?}"
    );
    let refused = sio::decode(LINE).expect_err("not Socket.IO");
    let _ = writeln!(out, "Socket.IO reads {LINE:?}: {refused}");
}
// ANCHOR_END: plain

fn heading(out: &mut String, title: &str) {
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{title}");
}

/// A text packet: its length and the text itself.
fn text(out: &mut String, what: &str, text: &str) {
    let _ = writeln!(out, "{what}, {} bytes:\n  {text}", text.len());
}

/// A frame's bytes, then its header as `decode_header` reads it back.
fn describe_frame(out: &mut String, what: &str, frame: &[u8]) {
    let (header, header_len) = decode_header(frame)
        .expect("a valid header")
        .expect("a whole header");
    assert_eq!(header_len as u64 + header.payload_len, frame.len() as u64);
    dump(out, &format!("{what}, {} bytes", frame.len()), frame);
    let mask = match header.mask {
        Some(key) => format!("key {}", hex(&key)),
        None => "none".to_string(),
    };
    let _ = writeln!(
        out,
        "  header: {header_len} bytes; fin: {}, opcode: {:?}, mask: {mask}, payload length: {}",
        header.fin, header.opcode, header.payload_len
    );
}

/// An HTTP response, line by line, with its `\r\n`s shown.
fn http(out: &mut String, what: &str, wire: &[u8]) {
    let _ = writeln!(out, "{what}, {} bytes:", wire.len());
    let text = std::str::from_utf8(wire).expect("ASCII");
    for line in text.split_inclusive("\r\n") {
        let _ = writeln!(out, "  {}", line.replace("\r\n", "\\r\\n"));
    }
}

/// `what`, then the bytes 16 to a line: hex, and as ASCII (`.` for the rest).
fn dump(out: &mut String, what: &str, bytes: &[u8]) {
    let _ = writeln!(out, "{what}:");
    for chunk in bytes.chunks(16) {
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        let _ = writeln!(out, "  {:<48}  {ascii}", hex(chunk));
    }
}

fn hex(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.join(" ")
}

#[cfg(test)]
mod tests {
    /// The book shows `one_message.txt`, piece by piece, as this program's
    /// output: without its `ANCHOR` lines (the markers the book's includes
    /// cut it at), it must be exactly what the program prints. After a
    /// deliberate change, run the example and put the new output between
    /// the same markers.
    #[test]
    fn prints_what_the_book_shows() {
        let shown: String = include_str!("one_message.txt")
            .lines()
            .filter(|line| !line.starts_with("ANCHOR"))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(super::trace(), shown);
    }
}
