//! The client fed the server's packets by hand, through the real encoder
//! and decoder.

use super::*;
use crate::socketio::packet;

fn config() -> ClientConfig {
    ClientConfig {
        seed: Some(7),
        ..ClientConfig::default()
    }
}

/// Everything the client asked to send, as text (binary as `<bin N>`).
fn sent(client: &mut Client) -> Vec<String> {
    std::iter::from_fn(|| client.poll_output())
        .map(|o| match o {
            Output::Send(Payload::Text(t)) => t,
            Output::Send(Payload::Binary(b)) => format!("<bin {}>", b.len()),
            Output::Open => "<open>".into(),
            Output::Close => "<close>".into(),
        })
        .collect()
}

fn events(client: &mut Client) -> Vec<ClientEvent> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

fn text(client: &mut Client, t: &str, now: Instant) {
    client.on_message(Payload::Text(t.into()), now);
}

/// A client connected to `/` with sid `s1`.
fn connected(now: Instant) -> Client {
    let mut c = Client::new(config());
    c.connect("/", None).unwrap();
    assert_eq!(sent(&mut c), ["<open>"]);
    c.on_open(now);
    assert_eq!(sent(&mut c), ["0"]);
    text(&mut c, r#"0{"sid":"s1"}"#, now);
    assert_eq!(
        events(&mut c),
        [ClientEvent::Connect {
            nsp: "/".into(),
            sid: "s1".into(),
            recovered: false
        }]
    );
    c
}

#[test]
fn connect_sends_auth_per_namespace_and_reports_the_sid() {
    let now = Instant::now();
    let mut c = Client::new(config());
    c.connect("/", None).unwrap();
    let auth = Value::from(serde_json::json!({"token": "abc"}));
    c.connect("/chat", Some(auth)).unwrap();
    assert_eq!(sent(&mut c), ["<open>"]);
    c.on_open(now);
    assert_eq!(sent(&mut c), ["0", r#"0/chat,{"token":"abc"}"#]);
    text(&mut c, r#"0/chat,{"sid":"x"}"#, now);
    assert!(c.is_connected("/chat"));
    assert!(!c.is_connected("/"));
    assert_eq!(c.sid("/chat"), Some("x"));
}

#[test]
fn emits_before_connecting_wait_in_the_buffer() {
    let now = Instant::now();
    let mut c = Client::new(config());
    c.connect("/", None).unwrap();
    c.emit("/", "early", vec![1i64.into()]).unwrap();
    c.on_open(now);
    assert_eq!(sent(&mut c), ["<open>", "0"]);
    text(&mut c, r#"0{"sid":"s1"}"#, now);
    assert_eq!(sent(&mut c), [r#"2["early",1]"#]);
}

#[test]
fn events_acks_and_binary_both_ways() {
    let now = Instant::now();
    let mut c = connected(now);
    // Our event with an ack, binary nested inside.
    let arg = Value::from(serde_json::json!({"a": [1, 2]}));
    let id = c
        .emit_with_ack(
            "/",
            "echo",
            vec![arg, Value::binary(vec![1, 2, 3])],
            None,
            now,
        )
        .unwrap();
    assert_eq!(
        sent(&mut c),
        [
            r#"51-0["echo",{"a":[1,2]},{"_placeholder":true,"num":0}]"#,
            "<bin 3>"
        ]
    );
    // The server's binary ack: text, then its attachment.
    text(
        &mut c,
        &format!(r#"61-{id}[{{"_placeholder":true,"num":0}}]"#),
        now,
    );
    assert!(events(&mut c).is_empty(), "waits for the attachment");
    c.on_message(Payload::Binary(vec![9, 9]), now);
    assert_eq!(
        events(&mut c),
        [ClientEvent::Ack {
            nsp: "/".into(),
            id,
            args: vec![Value::binary(vec![9, 9])]
        }]
    );
    // A second ack with the same id is dropped.
    text(&mut c, &format!("3{id}[]"), now);
    assert!(events(&mut c).is_empty());
    // The server's event asking for an ack; we answer it.
    text(&mut c, r#"27["ask","q",2]"#, now);
    assert_eq!(
        events(&mut c),
        [ClientEvent::Event {
            nsp: "/".into(),
            name: "ask".into(),
            args: vec!["q".into(), 2i64.into()],
            ack: Some(7)
        }]
    );
    c.ack("/", 7, vec!["answer".into()]).unwrap();
    assert_eq!(sent(&mut c), [r#"37["answer"]"#]);
}

#[test]
fn an_ack_times_out_once() {
    let now = Instant::now();
    let mut c = connected(now);
    let id = c
        .emit_with_ack("/", "slow", vec![], Some(Duration::from_millis(100)), now)
        .unwrap();
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_millis(100)));
    c.handle_timeout(now + Duration::from_millis(99));
    assert!(events(&mut c).is_empty());
    c.handle_timeout(now + Duration::from_millis(100));
    assert_eq!(
        events(&mut c),
        [ClientEvent::AckTimeout {
            nsp: "/".into(),
            id
        }]
    );
    assert_eq!(c.poll_timeout(), None);
    // A late answer is dropped.
    text(&mut c, &format!("3{id}[1]"), now);
    assert!(events(&mut c).is_empty());
}

#[test]
fn reserved_names_and_unknown_namespaces_are_refused() {
    let now = Instant::now();
    let mut c = connected(now);
    assert_eq!(
        c.emit("/", "disconnect", vec![]),
        Err(ClientError::ReservedEvent("disconnect".into()))
    );
    assert_eq!(
        c.emit("/nope", "x", vec![]),
        Err(ClientError::UnknownNamespace("/nope".into()))
    );
}

#[test]
fn connect_error_carries_message_and_data_and_is_not_retried() {
    let now = Instant::now();
    let mut c = Client::new(config());
    c.connect("/admin", None).unwrap();
    c.on_open(now);
    sent(&mut c);
    text(
        &mut c,
        r#"4/admin,{"message":"not authorized","data":{"code":7}}"#,
        now,
    );
    assert_eq!(
        events(&mut c),
        [ClientEvent::ConnectError {
            nsp: "/admin".into(),
            message: "not authorized".into(),
            data: Some(Value::from(serde_json::json!({"code": 7})))
        }]
    );
    // The session is lost and reopened: /admin is not asked again.
    c.on_close(&ClientCloseReason::TransportClose, now);
    c.handle_timeout(now + Duration::from_secs(10));
    c.on_open(now + Duration::from_secs(10));
    assert_eq!(sent(&mut c), ["<open>"]);
    // Until the application asks again.
    c.connect("/admin", None).unwrap();
    assert_eq!(sent(&mut c), ["0/admin,"]);
}

#[test]
fn a_lost_session_reconnects_with_growing_jittered_waits() {
    let start = Instant::now();
    let mut c = connected(start);
    let mut now = start;
    let mut delays = Vec::new();
    c.on_close(&ClientCloseReason::TransportClose, now);
    for attempt in 1..=5u32 {
        let evs = events(&mut c);
        if attempt == 1 {
            assert_eq!(
                evs[0],
                ClientEvent::Disconnect {
                    nsp: "/".into(),
                    reason: DisconnectReason::TransportClose
                }
            );
        }
        let Some(ClientEvent::Reconnecting { attempt: a, delay }) = evs.last().cloned() else {
            panic!("{evs:?}");
        };
        assert_eq!(a, attempt);
        delays.push(delay);
        assert_eq!(c.poll_timeout(), Some(now + delay));
        now += delay;
        c.handle_timeout(now);
        assert_eq!(sent(&mut c), ["<open>"]);
        // The server is still down.
        c.on_close(&ClientCloseReason::TransportError(None), now);
    }
    // 1 s, 2 s, 4 s, then capped at 5 s; each within ±50 %.
    for (i, d) in delays.iter().enumerate() {
        let base = 1000.0 * 2f64.powi(i as i32);
        let ms = d.as_secs_f64() * 1000.0;
        assert!(
            ms >= (base * 0.5).min(5000.0) && ms <= (base * 1.5).min(5000.0),
            "{i}: {ms}"
        );
    }
    assert!(delays.iter().any(|d| d.subsec_millis() != 0), "jittered");
    // The server is back.
    now += Duration::from_secs(5);
    c.handle_timeout(now);
    events(&mut c);
    assert_eq!(sent(&mut c), ["<open>"]);
    c.on_open(now);
    assert_eq!(sent(&mut c), ["0"]);
    text(&mut c, r#"0{"sid":"s2"}"#, now);
    assert_eq!(
        events(&mut c),
        [
            ClientEvent::Reconnected { attempts: 6 },
            ClientEvent::Connect {
                nsp: "/".into(),
                sid: "s2".into(),
                recovered: false
            }
        ]
    );
}

#[test]
fn two_clients_draw_different_jitter() {
    let d = |seed| {
        let mut c = Client::new(ClientConfig {
            seed: Some(seed),
            ..ClientConfig::default()
        });
        c.backoff(1)
    };
    assert_ne!(d(1), d(2));
}

#[test]
fn reconnection_gives_up_after_the_attempts() {
    let now = Instant::now();
    let mut c = Client::new(ClientConfig {
        reconnection_attempts: Some(2),
        ..config()
    });
    c.connect("/", None).unwrap();
    for _ in 0..2 {
        c.on_close(&ClientCloseReason::TransportError(None), now);
        c.handle_timeout(now + Duration::from_secs(60));
    }
    c.on_close(&ClientCloseReason::TransportError(None), now);
    assert_eq!(events(&mut c).last(), Some(&ClientEvent::ReconnectFailed));
    assert!(c.is_closed());
    assert_eq!(c.emit("/", "x", vec![]), Err(ClientError::Closed));
}

#[test]
fn a_server_disconnect_is_not_reconnected_and_fails_acks() {
    let now = Instant::now();
    let mut c = connected(now);
    let id = c.emit_with_ack("/", "q", vec![], None, now).unwrap();
    sent(&mut c);
    text(&mut c, "1", now);
    assert_eq!(
        events(&mut c),
        [
            ClientEvent::Disconnect {
                nsp: "/".into(),
                reason: DisconnectReason::IoServerDisconnect
            },
            ClientEvent::AckTimeout {
                nsp: "/".into(),
                id
            }
        ]
    );
    assert!(!c.is_connected("/"));
}

#[test]
fn close_disconnects_and_never_reconnects() {
    let now = Instant::now();
    let mut c = connected(now);
    c.close();
    assert_eq!(sent(&mut c), ["1", "<close>"]);
    c.on_close(&ClientCloseReason::ForcedClose, now);
    assert_eq!(
        events(&mut c),
        [ClientEvent::Disconnect {
            nsp: "/".into(),
            reason: DisconnectReason::IoClientDisconnect
        }]
    );
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn recovery_sends_pid_and_last_offset_and_reports_recovered() {
    let now = Instant::now();
    let mut c = Client::new(config());
    let auth = Value::from(serde_json::json!({"token": "t"}));
    c.connect("/", Some(auth)).unwrap();
    c.on_open(now);
    sent(&mut c);
    text(&mut c, r#"0{"sid":"s1","pid":"p1"}"#, now);
    text(&mut c, r#"2["news","a","off-1"]"#, now);
    text(&mut c, r#"2["news","b","off-2"]"#, now);
    // An event that wants an ack is never stamped (it cannot be replayed):
    // its last string is an argument, not an offset. Node's client sees an
    // ack callback there and keeps the offset it had.
    text(&mut c, r#"27["question","why?"]"#, now);
    events(&mut c);
    c.on_close(&ClientCloseReason::TransportClose, now);
    c.handle_timeout(now + Duration::from_secs(10));
    c.on_open(now + Duration::from_secs(10));
    assert_eq!(
        sent(&mut c),
        ["<open>", r#"0{"offset":"off-2","pid":"p1","token":"t"}"#]
    );
    events(&mut c);
    text(&mut c, r#"0{"sid":"s1","pid":"p1"}"#, now);
    assert_eq!(
        events(&mut c),
        [ClientEvent::Connect {
            nsp: "/".into(),
            sid: "s1".into(),
            recovered: true
        }]
    );
    assert!(c.recovered("/"));
    // A server that could not recover gives a new pid.
    c.on_close(&ClientCloseReason::TransportClose, now);
    c.handle_timeout(now + Duration::from_secs(20));
    c.on_open(now + Duration::from_secs(20));
    events(&mut c);
    sent(&mut c);
    text(&mut c, r#"0{"sid":"s9","pid":"p9"}"#, now);
    assert!(!c.recovered("/"));
}

#[test]
fn a_malformed_packet_closes_the_session_and_reconnects() {
    let now = Instant::now();
    let mut c = connected(now);
    text(&mut c, "9garbage", now);
    assert_eq!(sent(&mut c), ["<close>"]);
    let evs = events(&mut c);
    assert_eq!(
        evs[0],
        ClientEvent::Disconnect {
            nsp: "/".into(),
            reason: DisconnectReason::ParseError
        }
    );
    assert!(matches!(
        evs[1],
        ClientEvent::Reconnecting { attempt: 1, .. }
    ));
}

#[test]
fn too_many_attachments_are_a_parse_error_not_a_buffer() {
    let now = Instant::now();
    let mut c = Client::new(ClientConfig {
        limits: packet::Limits {
            max_attachments: 2,
            max_attachment_bytes: 10,
        },
        ..config()
    });
    c.connect("/", None).unwrap();
    c.on_open(now);
    text(&mut c, r#"0{"sid":"s1"}"#, now);
    text(&mut c, r#"53-["x"]"#, now);
    assert!(sent(&mut c).contains(&"<close>".to_string()));
}
