use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config() -> SessionConfig {
    SessionConfig {
        ping_interval: ms(300),
        ping_timeout: ms(200),
        max_payload: 100,
        max_queue: 8,
        upgrade_timeout: ms(1000),
        allow_upgrades: true,
    }
}

fn open(now: Instant) -> Session {
    let (mut s, body) = Session::open_polling(Sid::new("s1"), config(), now);
    assert!(body.starts_with(br#"0{"sid":"s1","upgrades":["websocket"],"pingInterval":300"#));
    assert_eq!(s.poll_event(), Some(Event::Open));
    assert_eq!(s.state(), State::Polling);
    s
}

fn text(s: &str) -> Payload {
    Payload::Text(s.into())
}

fn hold(s: &mut Session, now: Instant) -> GetToken {
    match s.on_get(now) {
        Ok(GetOutcome::Hold(t)) => t,
        other => panic!("expected a held GET, got {other:?}"),
    }
}

fn transmits(s: &mut Session) -> Vec<Transmit> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

#[test]
fn a_held_get_is_answered_once_when_a_message_is_sent() {
    let now = Instant::now();
    let mut s = open(now);
    let get = hold(&mut s, now);
    assert_eq!(s.poll_transmit(), None, "nothing to say yet");
    s.send(text("hi")).unwrap();
    let t = s.poll_transmit().unwrap();
    assert_eq!(
        t,
        Transmit::Poll {
            token: get,
            packets: vec![Packet::text("hi")]
        }
    );
    assert_eq!(t.body(), b"4hi");
    s.send(text("again")).unwrap();
    assert_eq!(
        s.poll_transmit(),
        None,
        "the GET was answered; the next waits"
    );
    assert_eq!(s.on_get(now), Ok(GetOutcome::Respond(b"4again".to_vec())));
}

#[test]
fn a_poll_answer_fits_max_payload_but_always_carries_one_packet() {
    let now = Instant::now();
    let mut s = open(now);
    s.send(text(&"a".repeat(60))).unwrap();
    s.send(text(&"b".repeat(60))).unwrap();
    s.send(text(&"c".repeat(200))).unwrap();
    let body = |o| match o {
        Ok(GetOutcome::Respond(b)) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(body(s.on_get(now)).len(), 61, "two would be 123 > 100");
    assert_eq!(body(s.on_get(now)).len(), 61);
    assert_eq!(
        body(s.on_get(now)).len(),
        201,
        "one oversized packet still goes"
    );
    assert!(matches!(s.on_get(now), Ok(GetOutcome::Hold(_))));
}

#[test]
fn a_second_concurrent_get_closes_the_session() {
    let now = Instant::now();
    let mut s = open(now);
    s.send(text("lost")).ok();
    let _ = s.on_get(now); // takes "lost"
    let first = hold(&mut s, now);
    assert_eq!(s.on_get(now), Err(ErrorCode::BadRequest));
    assert_eq!(s.state(), State::Closed);
    assert_eq!(
        events(&mut s),
        vec![Event::Close(CloseReason::TransportError(
            TransportFault::ConcurrentGet
        ))]
    );
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::Poll {
            token: first,
            packets: vec![Packet::Close]
        }],
        "the held GET learns the session is over"
    );
    assert!(s.is_finished());
    assert_eq!(s.on_get(now), Err(ErrorCode::UnknownSid));
}

#[test]
fn a_second_concurrent_post_closes_the_session() {
    let now = Instant::now();
    let mut s = open(now);
    let first = s.begin_post(now).unwrap();
    assert_eq!(s.begin_post(now), Err(ErrorCode::BadRequest));
    assert_eq!(
        s.close_reason(),
        Some(CloseReason::TransportError(TransportFault::ConcurrentPost))
    );
    assert_eq!(
        s.finish_post(first, b"4x", now),
        Err(PostError::Code(ErrorCode::BadRequest))
    );
}

#[test]
fn posts_deliver_messages_in_order_and_one_after_another_is_fine() {
    let now = Instant::now();
    let mut s = open(now);
    s.on_post(b"4one\x1ebAQID\x1e6", now).unwrap();
    s.on_post("4€".as_bytes(), now).unwrap();
    assert_eq!(
        events(&mut s),
        vec![
            Event::Message(text("one")),
            Event::Message(Payload::Binary(vec![1, 2, 3])),
            Event::Message(text("€")),
        ]
    );
    let t = s.begin_post(now).unwrap();
    s.abort_post(t);
    assert!(s.begin_post(now).is_ok(), "an aborted POST frees the slot");
    assert_eq!(post_response().body, b"ok");
}

#[test]
fn an_oversized_post_is_413_and_the_session_lives() {
    let now = Instant::now();
    let mut s = open(now);
    let body = vec![b'4'; 101];
    let err = s.on_post(&body, now).unwrap_err();
    assert_eq!(err, PostError::TooLarge);
    assert_eq!(err.response().status, 413);
    assert_eq!(s.state(), State::Polling);
    assert!(
        s.on_post(&body[..100], now).is_ok(),
        "exactly maxPayload is fine"
    );
}

#[test]
fn a_bad_post_body_is_400_and_a_parse_error() {
    let now = Instant::now();
    let mut s = open(now);
    let get = hold(&mut s, now);
    let err = s.on_post(b"4ok\x1e9bad", now).unwrap_err();
    assert_eq!(err, PostError::Parse(PacketError::UnknownType(b'9')));
    assert_eq!(err.response().status, 400);
    assert_eq!(
        events(&mut s),
        vec![Event::Close(CloseReason::ParseError)],
        "no message from a bad body is delivered"
    );
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::Poll {
            token: get,
            packets: vec![Packet::Close]
        }]
    );
}

#[test]
fn a_close_packet_from_the_client_is_transport_close() {
    let now = Instant::now();
    let mut s = open(now);
    s.send(text("dropped")).unwrap();
    s.on_post(b"1", now).unwrap();
    assert_eq!(s.close_reason(), Some(CloseReason::TransportClose));
    assert_eq!(s.close_reason().unwrap().as_str(), "transport close");
    assert!(s.is_finished(), "the client left: its queue is dropped");
    assert_eq!(s.send(text("late")), Err(SendError::Closed(text("late"))));
}

#[test]
fn a_close_packet_from_the_client_ends_its_held_poll_with_a_noop() {
    let now = Instant::now();
    let mut s = open(now);
    let get = hold(&mut s, now);
    s.on_post(b"1", now).unwrap();
    assert_eq!(s.close_reason(), Some(CloseReason::TransportClose));
    // The client asked to close: its poll ends quietly, not with a close
    // packet of the server's (as Node's engine.io answers it).
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::Poll {
            token: get,
            packets: vec![Packet::Noop]
        }]
    );
    assert!(s.is_finished());
    assert_eq!(s.on_get(now), Err(ErrorCode::UnknownSid));
}

#[test]
fn a_late_timer_does_not_move_the_pong_deadline() {
    let t0 = Instant::now();
    let mut s = open(t0);
    // The ping was due at 300 but the timer ran at 350: the pong is still
    // due at 300 + 200.
    s.handle_timeout(t0 + ms(350));
    assert_eq!(s.queued(), 1);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(500)));
    s.handle_timeout(t0 + ms(500));
    assert_eq!(s.close_reason(), Some(CloseReason::PingTimeout));
    // A timer later than half of pingTimeout leaves the client that half.
    let mut s = open(t0);
    s.handle_timeout(t0 + ms(450));
    assert_eq!(s.poll_timeout(), Some(t0 + ms(550)));
    s.handle_timeout(t0 + ms(549));
    assert_eq!(s.state(), State::Polling);
}

#[test]
fn a_second_websocket_after_the_upgrade_is_closed_and_changes_nothing() {
    let now = Instant::now();
    let mut s = open(now);
    let ws = s.begin_upgrade(now).unwrap();
    s.on_ws_frame(ws, WsFrame::Text("2probe".into()), now);
    s.on_ws_frame(ws, WsFrame::Text("5".into()), now);
    transmits(&mut s);
    events(&mut s);
    assert_eq!(s.state(), State::WebSocket);
    let late = s.begin_upgrade(now).unwrap();
    assert_ne!(late, ws);
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::CloseWebSocket {
            token: late,
            code: REFUSED_WEBSOCKET
        }]
    );
    // Its frames and its end are not the session's.
    s.on_ws_frame(late, WsFrame::Text("4intruder".into()), now);
    s.on_ws_frame(late, WsFrame::Text("1".into()), now);
    s.ws_closed(late, now);
    assert_eq!(events(&mut s), vec![]);
    assert_eq!(s.state(), State::WebSocket);
    // The session's own WebSocket carries on.
    s.on_ws_frame(ws, WsFrame::Text("4hello".into()), now);
    assert_eq!(events(&mut s), vec![Event::Message(text("hello"))]);
    s.send(text("back")).unwrap();
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::Frames {
            token: ws,
            packets: vec![Packet::text("back")]
        }]
    );
}

#[test]
fn heartbeat_pings_every_interval_and_pongs_keep_it_alive() {
    let t0 = Instant::now();
    let mut s = open(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(300)));
    s.handle_timeout(t0 + ms(299));
    assert_eq!(s.queued(), 0, "too early");
    let get = hold(&mut s, t0 + ms(10));
    s.handle_timeout(t0 + ms(300));
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::Poll {
            token: get,
            packets: vec![Packet::Ping(String::new())]
        }]
    );
    assert_eq!(s.poll_timeout(), Some(t0 + ms(500)), "the pong deadline");
    s.on_post(b"3", t0 + ms(350)).unwrap();
    assert_eq!(
        s.poll_timeout(),
        Some(t0 + ms(650)),
        "next ping one interval after the pong"
    );
    s.handle_timeout(t0 + ms(500));
    assert_eq!(s.state(), State::Polling, "the pong came in time");
    s.handle_timeout(t0 + ms(650));
    assert_eq!(s.queued(), 1, "the second ping waits for a GET");
    s.handle_timeout(t0 + ms(849));
    assert_eq!(s.state(), State::Polling);
    s.handle_timeout(t0 + ms(850));
    assert_eq!(s.close_reason(), Some(CloseReason::PingTimeout));
    assert_eq!(s.close_reason().unwrap().to_string(), "ping timeout");
    assert_eq!(s.poll_timeout(), None);
    assert!(s.is_finished());
}

#[test]
fn a_pong_without_a_ping_does_not_schedule_another_ping() {
    let t0 = Instant::now();
    let mut s = open(t0);
    s.on_post(b"3\x1e3", t0 + ms(100)).unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + ms(300)));
}

/// The full dance, step by step, as the issue lists it.
#[test]
fn the_upgrade_dance() {
    let now = Instant::now();
    let mut s = open(now);
    let get = hold(&mut s, now);
    let ws = s.begin_upgrade(now).unwrap();
    assert_eq!(s.state(), State::Upgrading);
    // One probe at a time: a second WebSocket is accepted and closed at
    // once, and the probe carries on.
    let second = s.begin_upgrade(now).unwrap();
    assert_ne!(second, ws);
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::CloseWebSocket {
            token: second,
            code: REFUSED_WEBSOCKET
        }]
    );
    assert_eq!(s.state(), State::Upgrading);
    // 1. 2probe -> 3probe, and 2. the pending GET gets a noop.
    s.on_ws_frame(ws, WsFrame::Text("2probe".into()), now);
    assert_eq!(
        transmits(&mut s),
        vec![
            Transmit::Frames {
                token: ws,
                packets: vec![Packet::Pong("probe".into())]
            },
            Transmit::Poll {
                token: get,
                packets: vec![Packet::Noop]
            },
        ]
    );
    // Messages sent now wait for the WebSocket; a poll gets only a noop.
    s.send(text("during 1")).unwrap();
    s.send(text("during 2")).unwrap();
    assert_eq!(transmits(&mut s), vec![]);
    assert_eq!(s.on_get(now), Ok(GetOutcome::Respond(b"6".to_vec())));
    // 3. The client's upgrade packet switches the session.
    s.on_ws_frame(ws, WsFrame::Text("5".into()), now);
    assert_eq!(s.state(), State::WebSocket);
    assert_eq!(events(&mut s), vec![Event::Upgraded]);
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::Frames {
            token: ws,
            packets: vec![Packet::text("during 1"), Packet::text("during 2")]
        }]
    );
    assert_eq!(
        s.on_get(now),
        Err(ErrorCode::BadRequest),
        "no polling after the upgrade"
    );
    assert_eq!(s.begin_post(now), Err(ErrorCode::BadRequest));
    s.on_ws_frame(ws, WsFrame::Binary(vec![9]), now);
    assert_eq!(
        events(&mut s),
        vec![Event::Message(Payload::Binary(vec![9]))]
    );
    s.send(text("after")).unwrap();
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::Frames {
            token: ws,
            packets: vec![Packet::text("after")]
        }]
    );
}

/// 1,000 messages sent before, during and after an upgrade arrive once
/// each, in order, across both transports (the sans-IO half of the issue's
/// concurrency test; the threaded half needs the server glue).
#[test]
fn no_message_is_lost_or_reordered_across_the_upgrade() {
    let now = Instant::now();
    let mut s = SessionConfig {
        max_queue: 2000,
        ..config()
    };
    s.max_payload = 50;
    let (mut s, _) = Session::open_polling(Sid::new("x"), s, now);
    let mut received: Vec<Packet> = Vec::new();
    let mut ws = None;
    let mut get = None;
    let deliver = |s: &mut Session, received: &mut Vec<Packet>, get: &mut Option<GetToken>| {
        while let Some(t) = s.poll_transmit() {
            match t {
                Transmit::Poll { token, packets } => {
                    assert_eq!(Some(token), get.take(), "only the held GET is answered");
                    received.extend(packets);
                }
                Transmit::Frames { packets, .. } => received.extend(packets),
                Transmit::CloseWebSocket { .. } => panic!("nothing closes"),
            }
        }
    };
    for i in 0..1000u32 {
        s.send(text(&i.to_string())).unwrap();
        match i {
            100 => ws = Some(s.begin_upgrade(now).unwrap()),
            300 => s.on_ws_frame(ws.unwrap(), WsFrame::Text("2probe".into()), now),
            700 => s.on_ws_frame(ws.unwrap(), WsFrame::Text("5".into()), now),
            _ => {}
        }
        if i % 7 == 0 && get.is_none() && s.state() != State::WebSocket {
            match s.on_get(now).unwrap() {
                GetOutcome::Respond(body) => {
                    received.extend(packet::decode_payload(&body, usize::MAX).unwrap())
                }
                GetOutcome::Hold(t) => get = Some(t),
            }
        }
        if i % 3 == 0 {
            deliver(&mut s, &mut received, &mut get);
        }
    }
    deliver(&mut s, &mut received, &mut get);
    let messages: Vec<String> = received
        .into_iter()
        .filter_map(|p| match p {
            Packet::Message(Payload::Text(t)) => Some(t),
            Packet::Noop | Packet::Pong(_) => None,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let expected: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    assert_eq!(messages, expected);
}

#[test]
fn a_wrong_packet_on_the_probe_abandons_the_upgrade_not_the_session() {
    let now = Instant::now();
    let mut s = open(now);
    let ws = s.begin_upgrade(now).unwrap();
    s.on_ws_frame(ws, WsFrame::Text("5".into()), now); // upgrade before probe
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::CloseWebSocket {
            token: ws,
            code: 1002
        }]
    );
    assert_eq!(s.state(), State::Polling);
    s.on_ws_frame(ws, WsFrame::Text("2probe".into()), now);
    assert_eq!(transmits(&mut s), vec![], "the old probe is ignored");
    let ws2 = s.begin_upgrade(now).unwrap();
    assert_ne!(ws, ws2);
    s.ws_closed(ws2, now);
    assert_eq!(
        s.state(),
        State::Polling,
        "a probe that closes is forgotten"
    );
}

#[test]
fn an_upgrade_that_takes_too_long_is_dropped() {
    let now = Instant::now();
    let mut s = open(now);
    let ws = s.begin_upgrade(now + ms(100)).unwrap();
    assert_eq!(
        s.poll_timeout(),
        Some(now + ms(300)),
        "the ping comes first"
    );
    s.handle_timeout(now + ms(300));
    s.on_post(b"3", now + ms(300)).unwrap();
    assert_eq!(s.poll_timeout(), Some(now + ms(600)));
    s.on_post(b"3", now + ms(300)).unwrap();
    s.handle_timeout(now + ms(600));
    s.on_post(b"3", now + ms(600)).unwrap();
    s.handle_timeout(now + ms(900));
    s.on_post(b"3", now + ms(900)).unwrap();
    assert_eq!(
        s.poll_timeout(),
        Some(now + ms(1100)),
        "the upgrade deadline"
    );
    s.handle_timeout(now + ms(1100));
    assert_eq!(s.state(), State::Polling);
    assert!(transmits(&mut s).contains(&Transmit::CloseWebSocket {
        token: ws,
        code: 1000
    }));
}

#[test]
fn an_oversized_websocket_message_closes_the_session() {
    let now = Instant::now();
    let (mut s, ws) = Session::open_websocket(Sid::new("w"), config(), now);
    let first = transmits(&mut s);
    match &first[..] {
        [Transmit::Frames { token, packets }] => {
            assert_eq!(*token, ws);
            match &packets[..] {
                [Packet::Open(json)] => assert!(json.contains(r#""upgrades":[]"#), "{json}"),
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    s.on_ws_frame(ws, WsFrame::Text(format!("4{}", "x".repeat(99))), now);
    assert_eq!(s.state(), State::WebSocket, "exactly maxPayload is fine");
    s.on_ws_frame(ws, WsFrame::Binary(vec![0; 101]), now);
    assert_eq!(
        s.close_reason(),
        Some(CloseReason::TransportError(TransportFault::PayloadTooLarge))
    );
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::CloseWebSocket {
            token: ws,
            code: 1009
        }]
    );
    assert!(s.is_finished());
}

#[test]
fn a_bad_websocket_packet_is_a_parse_error() {
    let now = Instant::now();
    let (mut s, ws) = Session::open_websocket(Sid::new("w"), config(), now);
    transmits(&mut s);
    s.on_ws_frame(ws, WsFrame::Text("x".into()), now);
    assert_eq!(s.close_reason(), Some(CloseReason::ParseError));
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::CloseWebSocket {
            token: ws,
            code: 1002
        }]
    );
}

#[test]
fn a_websocket_that_goes_away_is_transport_close() {
    let now = Instant::now();
    let (mut s, ws) = Session::open_websocket(Sid::new("w"), config(), now);
    s.ws_closed(ws, now);
    assert_eq!(s.close_reason(), Some(CloseReason::TransportClose));
    assert_eq!(
        transmits(&mut s),
        vec![],
        "nothing to send on a closed socket"
    );
    assert!(s.is_finished());
}

#[test]
fn an_undelivered_poll_answer_comes_back_in_order_for_the_next_poll() {
    let now = Instant::now();
    let mut s = open(now);
    hold(&mut s, now);
    s.send(text("a")).unwrap();
    s.send(text("b")).unwrap();
    let t = s.poll_transmit().unwrap();
    s.give_back(t, now);
    s.send(text("c")).unwrap();
    assert_eq!(
        s.state(),
        State::Polling,
        "the heartbeat decides if the client left"
    );
    assert_eq!(
        s.on_get(now),
        Ok(GetOutcome::Respond(b"4a\x1e4b\x1e4c".to_vec())),
        "once each, in order"
    );
}

#[test]
fn packets_given_back_to_a_closed_session_can_still_be_taken() {
    let now = Instant::now();
    let mut s = open(now);
    hold(&mut s, now);
    s.send(text("a")).unwrap();
    let t = s.poll_transmit().unwrap();
    s.close(now, CloseReason::ForcedClose);
    s.give_back(t, now);
    assert_eq!(s.take_unsent(), vec![Packet::text("a"), Packet::Close]);
    assert!(s.is_finished());
}

#[test]
fn undelivered_frames_mean_the_websocket_is_gone() {
    let now = Instant::now();
    let (mut s, ws) = Session::open_websocket(Sid::new("w"), config(), now);
    transmits(&mut s); // the open packet
    s.send(text("x")).unwrap();
    let t = s.poll_transmit().unwrap();
    s.give_back(t, now);
    assert_eq!(s.close_reason(), Some(CloseReason::TransportClose));
    assert_eq!(s.poll_transmit(), None, "the WebSocket is gone");
    assert!(!s.is_finished());
    assert_eq!(s.take_unsent(), vec![Packet::text("x")]);
    assert!(s.is_finished());
    let _ = ws;
}

#[test]
fn a_lost_or_released_get() {
    let now = Instant::now();
    let mut s = open(now);
    let g = hold(&mut s, now);
    s.release_get(g);
    let g2 = hold(&mut s, now);
    assert_ne!(g, g2);
    s.get_lost(g, now);
    assert_eq!(s.state(), State::Polling, "a stale token changes nothing");
    s.get_lost(g2, now);
    assert_eq!(
        s.close_reason(),
        Some(CloseReason::TransportError(
            TransportFault::PollConnectionLost
        ))
    );
    assert_eq!(transmits(&mut s), vec![], "the lost GET is not answered");
}

#[test]
fn the_queue_is_capped_and_the_message_given_back() {
    let now = Instant::now();
    let mut s = open(now);
    for i in 0..8 {
        s.send(text(&i.to_string())).unwrap();
    }
    let err = s.send(text("9th")).unwrap_err();
    assert_eq!(err, SendError::Full(text("9th")));
    assert_eq!(err.into_payload(), text("9th"));
    assert_eq!(s.queued(), 8);
}

#[test]
fn a_forced_close_on_polling_delivers_the_queue_then_a_close_packet() {
    let now = Instant::now();
    let mut s = open(now);
    s.send(text("last")).unwrap();
    s.close(now, CloseReason::ForcedClose);
    assert_eq!(events(&mut s), vec![Event::Close(CloseReason::ForcedClose)]);
    assert!(!s.is_finished(), "the last packets wait for a poll");
    assert_eq!(s.on_get(now), Ok(GetOutcome::Respond(b"4last".to_vec())));
    // The close packet comes alone, in the next poll (as Node's does).
    assert!(!s.is_finished());
    assert_eq!(s.on_get(now), Ok(GetOutcome::Respond(b"1".to_vec())));
    assert!(s.is_finished());
    // Without a poll, the packets are dropped after pingTimeout.
    let mut s = open(now);
    s.send(text("never")).unwrap();
    s.close(now, CloseReason::ServerShuttingDown);
    assert_eq!(s.poll_timeout(), Some(now + ms(200)));
    s.handle_timeout(now + ms(200));
    assert!(s.is_finished());
}

#[test]
fn a_shutdown_on_websocket_flushes_then_closes_with_1001() {
    let now = Instant::now();
    let (mut s, ws) = Session::open_websocket(Sid::new("w"), config(), now);
    transmits(&mut s);
    s.send(text("bye")).unwrap();
    s.close(now, CloseReason::ServerShuttingDown);
    assert_eq!(
        transmits(&mut s),
        vec![
            Transmit::Frames {
                token: ws,
                packets: vec![Packet::text("bye"), Packet::Close]
            },
            Transmit::CloseWebSocket {
                token: ws,
                code: 1001
            },
        ]
    );
    assert!(s.is_finished());
}

#[test]
fn closing_during_an_upgrade_closes_the_probe_once_the_last_packets_are_out() {
    let now = Instant::now();
    // The client keeps polling: the close packet goes on a poll, then the
    // probe closes.
    let mut s = open(now);
    let ws = s.begin_upgrade(now).unwrap();
    s.close(now, CloseReason::ForcedClose);
    assert_eq!(transmits(&mut s), vec![]);
    assert_eq!(s.begin_upgrade(now), Err(ErrorCode::UnknownSid));
    assert_eq!(s.on_get(now), Ok(GetOutcome::Respond(b"1".to_vec())));
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::CloseWebSocket {
            token: ws,
            code: 1000
        }]
    );
    assert!(s.is_finished());
    // The client paused polling for the upgrade (as Node's client does
    // after `3probe`): the last packets go on the new WebSocket.
    let mut s = open(now);
    s.send(text("last")).unwrap();
    let ws = s.begin_upgrade(now).unwrap();
    s.on_ws_frame(ws, WsFrame::Text("2probe".into()), now);
    transmits(&mut s);
    s.close(now, CloseReason::ForcedClose);
    s.on_ws_frame(ws, WsFrame::Text("5".into()), now);
    assert_eq!(
        transmits(&mut s),
        vec![
            Transmit::Frames {
                token: ws,
                packets: vec![Packet::text("last"), Packet::Close]
            },
            Transmit::CloseWebSocket {
                token: ws,
                code: 1000
            },
        ]
    );
    assert!(s.is_finished());
    // Nobody comes: after pingTimeout the probe closes anyway.
    let mut s = open(now);
    let ws = s.begin_upgrade(now).unwrap();
    s.close(now, CloseReason::ForcedClose);
    s.handle_timeout(now + ms(200));
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::CloseWebSocket {
            token: ws,
            code: 1000
        }]
    );
    assert!(s.is_finished());
}

#[test]
fn upgrades_can_be_turned_off() {
    let now = Instant::now();
    let config = SessionConfig {
        allow_upgrades: false,
        ..config()
    };
    let (mut s, body) = Session::open_polling(Sid::new("p"), config, now);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains(r#""upgrades":[]"#)
    );
    assert_eq!(s.begin_upgrade(now), Err(ErrorCode::BadRequest));
}

/// The same through a lock shared with a sending thread, the way the
/// server glue will share sessions: 1,000 messages sent from another
/// thread while the main thread polls, probes and upgrades arrive once
/// each, in order.
#[test]
fn messages_from_another_thread_survive_the_upgrade_in_order() {
    use std::sync::{Arc, Mutex};
    let now = Instant::now();
    let config = SessionConfig {
        max_queue: 1000,
        ..config()
    };
    let (session, _) = Session::open_polling(Sid::new("t"), config, now);
    let session = Arc::new(Mutex::new(session));
    let sender = {
        let session = Arc::clone(&session);
        std::thread::spawn(move || {
            for i in 0..1000u32 {
                let mut message = text(&i.to_string());
                // A full queue gives the message back: retry it.
                loop {
                    match session.lock().unwrap().send(message) {
                        Ok(()) => break,
                        Err(SendError::Full(m)) => message = m,
                        Err(SendError::Closed(_)) => panic!("closed"),
                    }
                    std::thread::yield_now();
                }
                if i % 50 == 0 {
                    std::thread::yield_now();
                }
            }
        })
    };
    let mut received = Vec::new();
    let mut get = None;
    let mut ws = None;
    let mut step = 0u32;
    while received.len() < 1000 {
        let mut s = session.lock().unwrap();
        step += 1;
        match step {
            20 => ws = Some(s.begin_upgrade(now).unwrap()),
            40 => s.on_ws_frame(ws.unwrap(), WsFrame::Text("2probe".into()), now),
            60 => s.on_ws_frame(ws.unwrap(), WsFrame::Text("5".into()), now),
            _ => {}
        }
        if get.is_none() && s.state() != State::WebSocket {
            match s.on_get(now).unwrap() {
                GetOutcome::Respond(body) => {
                    received.extend(packet::decode_payload(&body, usize::MAX).unwrap())
                }
                GetOutcome::Hold(t) => get = Some(t),
            }
        }
        while let Some(t) = s.poll_transmit() {
            match t {
                Transmit::Poll { token, packets } => {
                    assert_eq!(Some(token), get.take());
                    received.extend(packets);
                }
                Transmit::Frames { packets, .. } => received.extend(packets),
                Transmit::CloseWebSocket { .. } => panic!("nothing closes"),
            }
        }
        received.retain(|p| matches!(p, Packet::Message(_)));
        drop(s);
        std::thread::yield_now();
        assert!(step < 10_000_000, "stuck at {} messages", received.len());
    }
    sender.join().unwrap();
    let session = session.lock().unwrap();
    // maxPayload (100) keeps each poll to about 20 messages, so by the
    // probe (step 40) at most ~800 have arrived: the upgrade always happens
    // before the last message, however the threads are scheduled.
    assert_eq!(session.state(), State::WebSocket);
    assert_eq!(session.queued(), 0, "nothing sent twice or left over");
    let got: Vec<Packet> = received;
    let expected: Vec<Packet> = (0..1000).map(|i| Packet::text(i.to_string())).collect();
    assert_eq!(got, expected);
}

#[test]
fn the_opening_request_is_recorded_once() {
    use crate::engineio::HandshakeRequest;
    use std::sync::Arc;
    let now = Instant::now();
    let (mut s, _) = Session::open_polling(Sid::new("s"), SessionConfig::default(), now);
    assert!(s.request().is_none());
    let first = Arc::new(HandshakeRequest {
        url: "/engine.io/?EIO=4&transport=polling&k=1".into(),
        ..HandshakeRequest::default()
    });
    s.set_request(Arc::clone(&first));
    s.set_request(Arc::new(HandshakeRequest::default()));
    assert_eq!(s.request(), Some(&first));
    assert_eq!(s.poll_event(), Some(Event::Open));
}
