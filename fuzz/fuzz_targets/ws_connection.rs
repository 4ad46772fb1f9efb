//! The whole WebSocket connection state machine (`netladder::ws::
//! WsConnection`), server and client roles, driven with arbitrary input.
//!
//! - any input: the same messages, error, state and output whether it
//!   arrives whole or one byte at a time; no message over the limits;
//! - any input, interleaved with the application's sends and closes: no
//!   panic, sends refused once closing, and everything we put on the wire is
//!   valid WebSocket, which a peer of the other role reads without error;
//! - decode(encode(x)) == x: messages sent by one role arrive unchanged at
//!   the other, the close handshake included.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use netladder::ws::close::is_valid_code;
use netladder::ws::frame::MAX_CONTROL_PAYLOAD;
use netladder::ws::{Config, ProtocolError, Role, State, WsConnection, WsMessage, WsSendError};
use netladder_fuzz::{Feed, LIMIT, feed_bytewise, feed_whole, ws_config};

#[derive(Debug, PartialEq)]
struct Run {
    messages: Vec<WsMessage>,
    error: Option<ProtocolError>,
    state: State,
    failed: bool,
    output: Vec<u8>,
}

/// Feeds `input` to `conn` as a driver would: offer what is buffered again
/// until the connection takes no more.
fn receive_all(
    conn: &mut WsConnection,
    input: &[u8],
    feed: Feed,
) -> (Vec<WsMessage>, Option<ProtocolError>) {
    let mut messages = Vec::new();
    let mut error = None;
    feed(input, &mut |buf| match conn.receive(buf, &mut messages) {
        Ok(used) => Some(used),
        Err(e) => {
            error = Some(e);
            None
        }
    });
    (messages, error)
}

fn run(role: Role, config: &Config, input: &[u8], feed: Feed) -> Run {
    let mut conn = WsConnection::new(role, config.clone());
    let (messages, error) = receive_all(&mut conn, input, feed);
    for message in &messages {
        let len = match message {
            WsMessage::Text(t) => t.len(),
            WsMessage::Binary(b) => b.len(),
            WsMessage::Ping(p) | WsMessage::Pong(p) => p.len(),
            WsMessage::Close(_, reason) => reason.len(),
        };
        assert!(
            len <= config.max_message_size.min(LIMIT),
            "a message over the limit"
        );
    }
    let mut output = conn.take_output();
    if role == Role::Client {
        // A client masks with a fresh random key: compare the shape only.
        output.iter_mut().for_each(|b| *b = 0);
    }
    Run {
        messages,
        error,
        state: conn.state(),
        failed: conn.failed(),
        output,
    }
}

fn other(role: Role) -> Role {
    match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    }
}

/// The application's side, interleaved with arbitrary input. Whatever we
/// send must be valid for a peer of the other role.
fn interleaved(role: Role, config: &Config, u: &mut Unstructured<'_>) -> Result<()> {
    let mut conn = WsConnection::new(role, config.clone());
    let mut peer = WsConnection::new(other(role), ws_config());
    let mut wire = Vec::new();
    let mut pending = Vec::new();
    while !u.is_empty() {
        let open = conn.state() == State::Open;
        let sent = match u.int_in_range(0..=6)? {
            0 => {
                let chunk: Vec<u8> = u.arbitrary()?;
                pending.extend_from_slice(&chunk);
                let mut messages = Vec::new();
                let before = conn.state();
                match conn.receive(&pending, &mut messages) {
                    Ok(used) => {
                        pending.drain(..used);
                    }
                    Err(_) => {
                        assert_eq!(conn.state(), State::Closed);
                        pending.clear();
                    }
                }
                if matches!(before, State::ClosingByPeer | State::Closed) {
                    assert!(messages.is_empty(), "a message after the close");
                }
                continue;
            }
            1 => conn.send_text(u.arbitrary()?),
            2 => conn.send_binary(u.arbitrary()?),
            3 => {
                let payload: &[u8] = u.arbitrary()?;
                let result = conn.send_ping(payload);
                if open && payload.len() > MAX_CONTROL_PAYLOAD {
                    assert_eq!(result, Err(WsSendError::ControlTooLong));
                }
                result
            }
            4 => conn.send_pong(u.arbitrary()?),
            5 => {
                let code: u16 = u.arbitrary()?;
                let reason: &str = u.arbitrary()?;
                let result = conn.close(code, reason);
                if open && !is_valid_code(code) {
                    assert_eq!(result, Err(WsSendError::InvalidCloseCode(code)));
                }
                if result.is_ok() {
                    assert_eq!(conn.state(), State::ClosingByUs);
                }
                result
            }
            _ => {
                conn.transport_closed();
                assert_eq!(conn.state(), State::Closed);
                Err(WsSendError::NotOpen)
            }
        };
        if !open {
            assert_eq!(sent, Err(WsSendError::NotOpen), "sent while closing");
        }
        conn.drain_output_into(&mut wire);
    }
    // Everything we wrote is valid WebSocket for the other role.
    let (_, error) = receive_all(&mut peer, &wire, feed_whole);
    assert_eq!(error, None, "we wrote invalid WebSocket");
    Ok(())
}

/// Messages one role sends arrive unchanged at the other.
fn round_trip(role: Role, u: &mut Unstructured<'_>) -> Result<()> {
    let mut sender = WsConnection::new(role, ws_config());
    let mut sent = Vec::new();
    for _ in 0..u.int_in_range(0..=8)? {
        let message = match u.int_in_range(0..=3)? {
            0 => {
                let text: String = u.arbitrary()?;
                sender.send_text(&text).unwrap();
                WsMessage::Text(text)
            }
            1 => {
                let data: Vec<u8> = u.arbitrary()?;
                sender.send_binary(&data).unwrap();
                WsMessage::Binary(data)
            }
            2 => {
                let mut data: Vec<u8> = u.arbitrary()?;
                data.truncate(MAX_CONTROL_PAYLOAD);
                sender.send_ping(&data).unwrap();
                WsMessage::Ping(data)
            }
            _ => {
                let mut data: Vec<u8> = u.arbitrary()?;
                data.truncate(MAX_CONTROL_PAYLOAD);
                sender.send_pong(&data).unwrap();
                WsMessage::Pong(data)
            }
        };
        sent.push(message);
    }
    let code = *u.choose(&[1000u16, 1001, 1003, 1011, 3000, 4999])?;
    let mut reason: String = u.arbitrary()?;
    while reason.len() > 123 {
        reason.pop();
    }
    sender.close(code, &reason).unwrap();
    sent.push(WsMessage::Close(code, reason));

    let mut receiver = WsConnection::new(other(role), ws_config());
    let wire = sender.take_output();
    let (got, error) = receive_all(&mut receiver, &wire, feed_whole);
    assert_eq!(error, None);
    assert_eq!(got, sent, "decode(encode(messages)) != messages");
    assert_eq!(receiver.state(), State::ClosingByPeer);
    // The receiver's answers (pongs, the close echo) end the handshake.
    let answers = receiver.take_output();
    let (echoed, error) = receive_all(&mut sender, &answers, feed_whole);
    assert_eq!(error, None);
    assert!(matches!(echoed.last(), Some(WsMessage::Close(c, _)) if *c == code));
    assert_eq!(sender.state(), State::Closed);
    assert!(!sender.failed() && !receiver.failed());
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let role = if selector & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let config = if selector & 2 == 2 {
        Config {
            max_message_size: usize::from(selector >> 2),
            max_frame_size: usize::from(selector >> 4),
            ..Config::default()
        }
    } else {
        ws_config()
    };
    let a = run(role, &config, input, feed_whole);
    let b = run(role, &config, input, feed_bytewise);
    assert_eq!(a, b, "whole and byte-by-byte input differ");

    let _ = interleaved(role, &config, &mut Unstructured::new(input));
    let _ = round_trip(role, &mut Unstructured::new(input));
});
