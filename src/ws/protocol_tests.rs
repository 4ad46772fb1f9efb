//! Tests of [`super::WsProtocol`] with a made-up driver: a [`Ctx`] per
//! callback and a mailbox that is never used from outside.

use super::*;
use crate::driver::{Close, CloseReason, Deliver, MailboxError, TimerRequest};
use crate::ws::frame::{self, Opcode};
use crate::ws::mask::apply_mask;
use std::sync::Mutex;
use std::time::Duration;

/// Records every callback; echoes text and binary; on "close" closes.
#[derive(Default)]
struct Recorder {
    log: Arc<Mutex<Vec<String>>>,
}

impl WsHandler for Recorder {
    fn on_open(&mut self, ws: &mut WsContext<'_>) {
        self.log
            .lock()
            .unwrap()
            .push(format!("open {}", ws.info().path));
    }

    fn on_message(&mut self, message: WsMessage, ws: &mut WsContext<'_>) {
        self.log.lock().unwrap().push(format!("{message:?}"));
        match message {
            WsMessage::Text(text) if text == "close" => ws.close(4000, "asked").unwrap(),
            WsMessage::Text(text) => ws.send_text(&text).unwrap(),
            WsMessage::Binary(data) => ws.send_binary(&data).unwrap(),
            _ => {}
        }
    }

    fn on_close(&mut self, code: u16, reason: &str) {
        self.log
            .lock()
            .unwrap()
            .push(format!("close {code} {reason}"));
    }
}

struct Nowhere;

impl Deliver<Outgoing> for Nowhere {
    fn deliver(&self, message: Outgoing) -> Result<(), MailboxError<Outgoing>> {
        Err(MailboxError::Closed(message))
    }
}

fn ctx(now: Instant) -> Ctx {
    Ctx::new(now, "127.0.0.1:9".parse().unwrap())
}

fn open() -> (WsProtocol<Recorder>, Arc<Mutex<Vec<String>>>, Instant) {
    let recorder = Recorder::default();
    let log = Arc::clone(&recorder.log);
    let info = HandshakeInfo {
        path: "/chat".into(),
        ..HandshakeInfo::default()
    };
    let mut ws = WsProtocol::new(Role::Server, recorder, Config::default(), info);
    let now = Instant::now();
    let mut c = ctx(now);
    ws.on_open(Mailbox::new(Nowhere), &mut c);
    assert!(&c.queued()[..].is_empty());
    assert_eq!(c.close_request(), None);
    (ws, log, now)
}

fn masked(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_frame(&mut out, true, opcode, payload, Some([1, 2, 3, 4]));
    out
}

/// The frames in a server's output, as (opcode, payload).
fn frames(mut bytes: &[u8]) -> Vec<(Opcode, Vec<u8>)> {
    let mut found = Vec::new();
    while let Some((h, n)) = frame::decode_header(bytes).unwrap() {
        let end = n + h.payload_len as usize;
        let mut payload = bytes[n..end].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        found.push((h.opcode, payload));
        bytes = &bytes[end..];
    }
    assert!(bytes.is_empty());
    found
}

fn log(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    log.lock().unwrap().clone()
}

#[test]
fn messages_reach_the_handler_and_its_answers_the_peer() {
    let (mut ws, events, now) = open();
    let mut input = masked(Opcode::Text, b"hi");
    input.extend(masked(Opcode::Ping, b"p"));
    input.extend(masked(Opcode::Binary, &[1, 2]));
    input.extend(&[0x81]); // the start of a next header
    let mut c = ctx(now);
    assert_eq!(
        ws.on_bytes(&input, &mut c),
        input.len() - 1,
        "the partial header waits"
    );
    // The pong is queued while reading, so it goes out before the handler's
    // answers to messages of the same read: the order RFC 6455 cares about
    // is only that of each kind of frame, which holds.
    assert_eq!(
        frames(&c.queued()[..]),
        [
            (Opcode::Pong, b"p".to_vec()),
            (Opcode::Text, b"hi".to_vec()),
            (Opcode::Binary, vec![1, 2])
        ]
    );
    assert_eq!(c.close_request(), None);
    assert_eq!(
        log(&events),
        [
            "open /chat",
            "Text(\"hi\")",
            "Ping([112])",
            "Binary([1, 2])"
        ]
    );
}

#[test]
fn the_peers_close_is_answered_reported_and_the_server_closes_tcp() {
    let (mut ws, events, now) = open();
    let mut close = vec![0x03, 0xe8];
    close.extend_from_slice(b"bye");
    let mut c = ctx(now);
    let input = masked(Opcode::Close, &close);
    assert_eq!(ws.on_bytes(&input, &mut c), input.len());
    assert_eq!(frames(&c.queued()[..]), [(Opcode::Close, vec![0x03, 0xe8])]);
    assert_eq!(c.close_request(), Some(Close::AfterFlush));
    assert_eq!(log(&events).last().unwrap(), "close 1000 bye");
    // The driver's EOF afterwards does not report a second time.
    ws.on_eof(&[], &mut ctx(now));
    assert_eq!(log(&events).len(), 2);
}

#[test]
fn a_protocol_error_closes_with_its_code_and_reports_it() {
    let (mut ws, events, now) = open();
    let mut c = ctx(now);
    let unmasked = [0x81, 0x01, b'x'];
    assert_eq!(ws.on_bytes(&unmasked, &mut c), 3);
    let sent = frames(&c.queued()[..]);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, Opcode::Close);
    assert_eq!(sent[0].1[..2], 1002u16.to_be_bytes());
    assert_eq!(c.close_request(), Some(Close::AfterFlush));
    assert_eq!(
        log(&events).last().unwrap(),
        "close 1002 unmasked frame from a client"
    );
}

#[test]
fn our_close_waits_for_the_answer_then_closes_tcp() {
    let (mut ws, events, now) = open();
    let mut c = ctx(now);
    ws.on_bytes(&masked(Opcode::Text, b"close"), &mut c);
    assert_eq!(frames(&c.queued()[..])[0].0, Opcode::Close);
    assert_eq!(
        c.timer_request(),
        TimerRequest::At(now + Duration::from_secs(5))
    );
    assert_eq!(c.close_request(), None, "wait for the peer's close");
    let mut c = ctx(now);
    ws.on_bytes(&masked(Opcode::Close, &4000u16.to_be_bytes()), &mut c);
    assert!(&c.queued()[..].is_empty(), "no second close frame");
    assert_eq!(c.close_request(), Some(Close::AfterFlush));
    assert_eq!(c.timer_request(), TimerRequest::Cancel);
    assert_eq!(log(&events).last().unwrap(), "close 4000 ");
}

#[test]
fn a_peer_that_never_answers_our_close_is_dropped_at_the_timeout() {
    let (mut ws, events, now) = open();
    ws.on_bytes(&masked(Opcode::Text, b"close"), &mut ctx(now));
    let mut c = ctx(now + Duration::from_secs(5));
    ws.on_timer(&mut c);
    assert_eq!(c.close_request(), Some(Close::AfterFlush));
    assert_eq!(
        log(&events).last().unwrap(),
        "close 1006 no answer to our close frame"
    );
}

#[test]
fn eof_without_a_close_is_abnormal() {
    let (mut ws, events, now) = open();
    let mut c = ctx(now);
    ws.on_eof(&[0x81], &mut c);
    assert_eq!(c.close_request(), Some(Close::AfterFlush));
    assert_eq!(
        log(&events).last().unwrap(),
        "close 1006 connection closed without a close frame"
    );
}

#[test]
fn mailbox_messages_are_sent_by_default() {
    let (mut ws, _, now) = open();
    let mut c = ctx(now);
    ws.on_message(Outgoing::Text(Arc::from("broadcast")), &mut c);
    ws.on_message(Outgoing::Binary(Arc::from(&[9u8][..])), &mut c);
    ws.on_message(Outgoing::Close(1001, "shutting down".into()), &mut c);
    ws.on_message(Outgoing::Text(Arc::from("too late")), &mut c);
    let sent = frames(&c.queued()[..]);
    assert_eq!(sent.len(), 3, "nothing after our close: {sent:?}");
    assert_eq!(sent[0], (Opcode::Text, b"broadcast".to_vec()));
    assert_eq!(sent[1], (Opcode::Binary, vec![9]));
    assert_eq!(sent[2].0, Opcode::Close);
}

#[test]
fn a_shared_message_goes_out_in_order_as_the_shared_buffer() {
    let (mut ws, _, now) = open();
    let mut c = ctx(now);
    ws.on_message(Outgoing::Text(Arc::from("before")), &mut c);
    let shared = Outgoing::shared_text("everyone");
    ws.on_message(shared.clone(), &mut c);
    ws.on_message(Outgoing::Text(Arc::from("after")), &mut c);
    let sent = frames(&c.queued()[..]);
    assert_eq!(
        sent,
        ["before", "everyone", "after"].map(|t| (Opcode::Text, t.as_bytes().to_vec()))
    );
    // A second connection finds the frame already built.
    let Outgoing::Shared(message) = shared else {
        unreachable!()
    };
    assert!(!message.plain().1, "built once, by the first connection");
}

#[test]
fn a_client_role_masks_what_it_sends() {
    let mut ws = WsProtocol::new(
        Role::Client,
        Recorder::default(),
        Config::default(),
        HandshakeInfo::default(),
    );
    let now = Instant::now();
    ws.on_open(Mailbox::new(Nowhere), &mut ctx(now));
    let mut c = ctx(now);
    ws.on_bytes(&[0x81, 0x02, b'o', b'k'], &mut c);
    let (h, _) = frame::decode_header(&c.queued()[..]).unwrap().unwrap();
    assert!(h.mask.is_some());
    assert_eq!(frames(&c.queued()[..]), [(Opcode::Text, b"ok".to_vec())]);
}

#[test]
fn a_connection_lost_without_any_close_is_reported_once_as_abnormal() {
    let (mut ws, events, _now) = open();
    // The driver drops us after a reset: no close frame, no EOF.
    ws.on_closed(CloseReason::ReadFailed(std::io::ErrorKind::ConnectionReset));
    ws.on_closed(CloseReason::Closed);
    let closes: Vec<String> = log(&events)
        .into_iter()
        .filter(|e| e.starts_with("close"))
        .collect();
    assert_eq!(
        closes,
        ["close 1006 connection lost (read failed: connection reset)"]
    );
}

#[test]
fn shutdown_says_going_away() {
    let (mut ws, _events, now) = open();
    let mut c = ctx(now);
    ws.on_shutdown(&mut c);
    let sent = frames(&c.take_output().to_vec());
    assert_eq!(sent[0].0, Opcode::Close);
    assert_eq!(&sent[0].1[..2], &1001u16.to_be_bytes());
}

#[test]
fn with_takeover_an_idle_connection_drops_its_compressor_on_the_timer() {
    use crate::ws::deflate::{Deflate, DeflateConfig, DeflateParams};
    let (mut ws, _events, now) = open();
    let config = DeflateConfig::default().with_context_takeover();
    ws.set_deflate(Deflate::new(
        Role::Server,
        DeflateParams::default(),
        &config,
    ));
    // A compressed text from the client; the handler's echo is compressed.
    let text = "an idle chat connection, ".repeat(8);
    let mut sender = Deflate::new(Role::Client, DeflateParams::default(), &config);
    let mut payload = Vec::new();
    sender.compress(text.as_bytes(), &mut payload);
    let mut input = masked(Opcode::Text, &payload);
    input[0] |= 0x40; // RSV1
    let mut c = ctx(now);
    assert_eq!(ws.on_bytes(&input, &mut c), input.len());
    assert_eq!(c.queued()[0] & 0x40, 0x40, "the echo is compressed");
    let deflate = ws.connection().deflate().unwrap();
    assert_eq!(deflate.holds_context(), (true, true));
    // Both are kept for the next message, and a timer will free what it can.
    assert_eq!(
        c.timer_request(),
        TimerRequest::At(now + config.idle_timeout)
    );
    let mut c = ctx(now + config.idle_timeout);
    ws.on_timer(&mut c);
    assert_eq!(c.close_request(), None, "idle is not closed");
    let deflate = ws.connection().deflate().unwrap();
    assert_eq!(
        deflate.holds_context(),
        (false, true),
        "the decompressor stays"
    );
}

#[test]
fn without_takeover_no_compression_timer_is_set() {
    use crate::ws::deflate::{Deflate, DeflateConfig, DeflateParams};
    let (mut ws, _events, now) = open();
    let config = DeflateConfig::default();
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    ws.set_deflate(Deflate::new(Role::Server, params, &config));
    let text = "a chat message, long enough to compress. ".repeat(4);
    let input = masked(Opcode::Text, text.as_bytes());
    let mut c = ctx(now);
    assert_eq!(ws.on_bytes(&input, &mut c), input.len());
    assert_eq!(c.queued()[0] & 0x40, 0x40, "the echo is compressed");
    assert!(!ws.connection().holds_compression_context());
    assert_eq!(c.timer_request(), TimerRequest::Keep);
}
