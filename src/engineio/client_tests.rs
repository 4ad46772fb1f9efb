//! The client against the server's [`Session`], wired together in memory:
//! every request, response and frame goes through the real encoders.

use super::*;
use crate::engineio::handshake::{EioRequest, Method, Sid, classify};
use crate::engineio::session::{GetOutcome, GetToken, Session, SessionConfig, Transmit, WsToken};
use crate::engineio::{ErrorCode, Event};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A server with one session, and the client's connections to it.
struct Wire {
    client: Client,
    server: Option<Session>,
    config: SessionConfig,
    /// The client's poll the server is holding.
    held: Option<GetToken>,
    /// The client's WebSocket, as the server knows it.
    ws: Option<WsToken>,
    /// Everything the server's application heard.
    server_events: Vec<Event>,
    /// The bytes of every HTTP body and frame, in order, for inspection.
    log: Vec<String>,
    now: Instant,
    /// Let the WebSocket connect only once everything else is quiet (a
    /// slow WebSocket: the first poll is held before the probe).
    slow_ws: bool,
    ws_connecting: bool,
}

impl Wire {
    fn new(transports: Transports) -> Wire {
        let config = SessionConfig {
            ping_interval: ms(300),
            ping_timeout: ms(200),
            ..SessionConfig::default()
        };
        Wire {
            client: Client::new(ClientConfig {
                transports,
                ..ClientConfig::default()
            }),
            server: None,
            config,
            held: None,
            ws: None,
            server_events: Vec::new(),
            log: Vec::new(),
            now: Instant::now(),
            slow_ws: false,
            ws_connecting: false,
        }
    }

    fn server(&mut self) -> &mut Session {
        self.server.as_mut().expect("a session")
    }

    /// Runs every action and transmit until both sides are quiet, one
    /// client action at a time with the server's answers in between (as a
    /// real network would interleave them).
    fn pump(&mut self) {
        loop {
            assert!(
                self.log.len() < 100_000,
                "runaway: {:?}",
                &self.log[self.log.len() - 20..]
            );
            let mut busy = false;
            if let Some(action) = self.client.poll_action() {
                busy = true;
                self.act(action);
            }
            if self.server.is_some() {
                while let Some(t) = self.server().poll_transmit() {
                    busy = true;
                    self.deliver(t);
                }
                let server = self.server.as_mut().unwrap();
                while let Some(e) = server.poll_event() {
                    self.server_events.push(e);
                }
            }
            if !busy && self.ws_connecting {
                self.ws_connecting = false;
                self.client.on_ws_open();
                busy = true;
            }
            if !busy {
                return;
            }
        }
    }

    fn act(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::Http(req) => {
                let method = Method::parse(req.method);
                self.log.push(format!(
                    "> {} {}",
                    req.method,
                    String::from_utf8_lossy(&req.body)
                ));
                match classify(method, &req.target, false).unwrap() {
                    EioRequest::Handshake(_) => {
                        let (s, body) =
                            Session::open_polling(Sid::new("sid1"), self.config.clone(), now);
                        self.server = Some(s);
                        self.respond(req.kind, 200, body);
                    }
                    EioRequest::Poll(_) => match self.server().on_get(now) {
                        Ok(GetOutcome::Respond(body)) => self.respond(req.kind, 200, body),
                        Ok(GetOutcome::Hold(t)) => self.held = Some(t),
                        Err(code) => self.respond(req.kind, code.status(), code.json().into()),
                    },
                    EioRequest::Post(_) => match self.server().on_post(&req.body, now) {
                        Ok(()) => self.respond(req.kind, 200, b"ok".to_vec()),
                        Err(e) => {
                            let r = e.response();
                            self.respond(req.kind, r.status, r.body)
                        }
                    },
                    other => panic!("{other:?}"),
                }
            }
            Action::OpenWebSocket { target } => {
                match classify(Method::Get, &target, true).unwrap() {
                    EioRequest::Handshake(_) => {
                        let (s, ws) =
                            Session::open_websocket(Sid::new("sid1"), self.config.clone(), now);
                        self.server = Some(s);
                        self.ws = Some(ws);
                    }
                    EioRequest::Upgrade(_) => {
                        self.ws = Some(self.server().begin_upgrade(now).unwrap())
                    }
                    other => panic!("{other:?}"),
                }
                if self.slow_ws {
                    self.ws_connecting = true;
                } else {
                    self.client.on_ws_open();
                }
            }
            Action::Frame(frame) => {
                self.log.push(format!("> ws {frame:?}"));
                let ws = self.ws.expect("an open WebSocket");
                self.server().on_ws_frame(ws, frame, now);
            }
            Action::CloseWebSocket => {
                if let Some(ws) = self.ws.take() {
                    self.log.push("> ws close".into());
                    self.server().ws_closed(ws, now);
                }
            }
        }
    }

    fn respond(&mut self, kind: RequestKind, status: u16, body: Vec<u8>) {
        self.log
            .push(format!("< {status} {}", String::from_utf8_lossy(&body)));
        self.client.on_http_response(kind, status, &body, self.now);
    }

    fn deliver(&mut self, t: Transmit) {
        match t {
            Transmit::Poll { token, .. } => {
                assert_eq!(self.held.take(), Some(token), "answers only the held poll");
                let body = t.body();
                self.respond(RequestKind::Poll, 200, body);
            }
            Transmit::Frames { token, packets } => {
                assert_eq!(Some(token), self.ws);
                for p in packets {
                    self.log.push(format!("< ws {:?}", p.to_ws_frame()));
                    self.client.on_ws_frame(p.to_ws_frame(), self.now);
                }
            }
            Transmit::CloseWebSocket { token, .. } => {
                if self.ws == Some(token) {
                    self.ws = None;
                    self.client.on_ws_closed();
                }
            }
        }
    }

    fn client_events(&mut self) -> Vec<ClientEvent> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    fn server_messages(&mut self) -> Vec<Payload> {
        self.server_events
            .drain(..)
            .filter_map(|e| match e {
                Event::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        if let Some(s) = self.server.as_mut() {
            s.handle_timeout(now);
        }
        self.client.handle_timeout(now);
        self.pump();
    }
}

fn text(s: &str) -> Payload {
    Payload::Text(s.into())
}

#[test]
fn opens_on_polling_then_upgrades() {
    let mut w = Wire::new(Transports::PollingThenUpgrade);
    w.pump();
    assert_eq!(w.client.state(), ClientState::WebSocket);
    assert_eq!(w.server().state(), crate::engineio::State::WebSocket);
    let events = w.client_events();
    assert!(matches!(&events[0], ClientEvent::Open(info) if info.sid.as_str() == "sid1"));
    assert_eq!(events[1], ClientEvent::Upgraded);
    // The dance, on the wire.
    let log = w.log.join("\n");
    let probe = log.find(r#"> ws Text("2probe")"#).unwrap();
    let pong = log.find(r#"< ws Text("3probe")"#).unwrap();
    let upgrade = log.find(r#"> ws Text("5")"#).unwrap();
    assert!(probe < pong && pong < upgrade, "{log}");
    // Here the probe won the race with the first poll, so no poll was held
    // to be ended with a noop (the session tests cover that order).
    assert!(
        !log[pong..upgrade].contains("> GET"),
        "paused after 3probe: {log}"
    );
    // And messages both ways, text and binary, on the WebSocket.
    w.client.send(text("hello")).unwrap();
    w.client.send(Payload::Binary(vec![1, 2, 3])).unwrap();
    w.server().send(text("back")).unwrap();
    w.pump();
    assert_eq!(
        w.server_messages(),
        vec![text("hello"), Payload::Binary(vec![1, 2, 3])]
    );
    assert_eq!(w.client_events(), vec![ClientEvent::Message(text("back"))]);
    assert!(w.log.iter().any(|l| l == "> ws Binary([1, 2, 3])"));
}

#[test]
fn a_slow_websocket_upgrade_ends_the_held_poll_with_a_noop() {
    let mut w = Wire::new(Transports::PollingThenUpgrade);
    w.slow_ws = true;
    w.pump();
    assert_eq!(w.client.state(), ClientState::WebSocket);
    let log = w.log.join("\n");
    let held = log.find("> GET").unwrap();
    let probe = log.find(r#"> ws Text("2probe")"#).unwrap();
    let pong = log.find(r#"< ws Text("3probe")"#).unwrap();
    let noop = log.find("< 200 6").unwrap();
    let upgrade = log.find(r#"> ws Text("5")"#).unwrap();
    assert!(
        held < probe && probe < pong && pong < noop && noop < upgrade,
        "{log}"
    );
}

#[test]
fn polling_only_posts_and_polls() {
    let mut w = Wire::new(Transports::PollingOnly);
    w.pump();
    assert_eq!(w.client.state(), ClientState::Polling);
    w.client.send(text("a")).unwrap();
    w.client.send(Payload::Binary(vec![0xff])).unwrap();
    w.pump();
    assert!(
        w.log.iter().any(|l| l == "> POST 4a\u{1e}b/w=="),
        "{:?}",
        w.log
    );
    assert_eq!(
        w.server_messages(),
        vec![text("a"), Payload::Binary(vec![0xff])]
    );
    w.server().send(text("x")).unwrap();
    w.server().send(text("y")).unwrap();
    w.pump();
    let events = w.client_events();
    assert_eq!(
        &events[1..],
        [
            ClientEvent::Message(text("x")),
            ClientEvent::Message(text("y"))
        ]
    );
}

#[test]
fn websocket_only_opens_with_the_open_frame() {
    let mut w = Wire::new(Transports::WebSocketOnly);
    w.pump();
    assert_eq!(w.client.state(), ClientState::WebSocket);
    assert!(
        matches!(&w.client_events()[..], [ClientEvent::Open(info)] if info.upgrades.is_empty())
    );
    assert!(
        !w.log.iter().any(|l| l.starts_with("> GET")),
        "no HTTP at all"
    );
    w.client.send(text("ws")).unwrap();
    w.pump();
    assert_eq!(w.server_messages(), vec![text("ws")]);
}

#[test]
fn the_client_answers_pings_on_either_transport() {
    for transports in [
        Transports::PollingOnly,
        Transports::WebSocketOnly,
        Transports::PollingThenUpgrade,
    ] {
        let mut w = Wire::new(transports);
        w.pump();
        for _ in 0..5 {
            w.advance(ms(300));
        }
        assert_ne!(w.client.state(), ClientState::Closed, "{transports:?}");
        assert!(
            w.server.as_ref().unwrap().close_reason().is_none(),
            "{transports:?}"
        );
        let pongs = w
            .log
            .iter()
            .filter(|l| l.contains("> POST 3") || l.contains(r#"Text("3")"#))
            .count();
        assert_eq!(pongs, 5, "{transports:?}: {:?}", w.log);
    }
}

#[test]
fn a_client_that_stops_answering_is_a_ping_timeout_on_the_server() {
    let mut w = Wire::new(Transports::PollingOnly);
    w.pump();
    w.now += ms(300);
    let now = w.now;
    w.server().handle_timeout(now); // the ping is queued, the client never reads it
    w.now += ms(200);
    let now = w.now;
    w.server().handle_timeout(now);
    w.pump();
    assert!(
        w.server_events
            .contains(&Event::Close(crate::engineio::CloseReason::PingTimeout))
    );
}

#[test]
fn a_silent_server_is_a_ping_timeout_on_the_client() {
    let mut w = Wire::new(Transports::PollingOnly);
    w.pump();
    let open = w.client_events();
    assert_eq!(open.len(), 1);
    let deadline = w.client.poll_timeout().unwrap();
    assert_eq!(deadline, w.now + ms(500));
    w.client.handle_timeout(deadline - ms(1));
    assert_eq!(w.client.state(), ClientState::Polling);
    w.client.handle_timeout(deadline);
    assert_eq!(
        w.client_events(),
        vec![ClientEvent::Close(ClientCloseReason::PingTimeout)]
    );
}

#[test]
fn closing_from_the_client_is_transport_close_on_the_server() {
    for transports in [Transports::PollingOnly, Transports::PollingThenUpgrade] {
        let mut w = Wire::new(transports);
        w.pump();
        w.client.send(text("last words")).unwrap();
        w.client.close();
        w.pump();
        assert_eq!(w.client.state(), ClientState::Closed);
        assert_eq!(
            w.server_messages(),
            vec![text("last words")],
            "{transports:?}: queued before the close"
        );
        assert_eq!(
            w.server.as_ref().unwrap().close_reason(),
            Some(crate::engineio::CloseReason::TransportClose)
        );
    }
}

#[test]
fn closing_from_the_server_reaches_the_client() {
    for transports in [
        Transports::PollingOnly,
        Transports::PollingThenUpgrade,
        Transports::WebSocketOnly,
    ] {
        let mut w = Wire::new(transports);
        w.pump();
        w.client_events();
        let now = w.now;
        w.server().send(text("bye")).unwrap();
        w.server()
            .close(now, crate::engineio::CloseReason::ForcedClose);
        w.pump();
        assert_eq!(
            w.client_events(),
            vec![
                ClientEvent::Message(text("bye")),
                ClientEvent::Close(ClientCloseReason::TransportClose)
            ],
            "{transports:?}"
        );
        assert!(w.server().is_finished());
    }
}

/// Server messages queued while the client is mid-upgrade arrive in order.
#[test]
fn messages_sent_during_the_upgrade_arrive_in_order() {
    let mut w = Wire::new(Transports::PollingThenUpgrade);
    let mut sent = 0;
    // Step the wire one action at a time, sending between steps.
    for _ in 0..200 {
        if let Some(a) = w.client.poll_action() {
            w.act(a);
        }
        if let Some(s) = w.server.as_mut() {
            s.send(text(&sent.to_string())).unwrap();
            sent += 1;
            if let Some(t) = s.poll_transmit() {
                w.deliver(t);
            }
        }
    }
    w.pump();
    assert_eq!(w.client.state(), ClientState::WebSocket);
    let got: Vec<String> = w
        .client_events()
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::Message(Payload::Text(t)) => Some(t),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = (0..sent).map(|i| i.to_string()).collect();
    assert_eq!(got, expected);
}

#[test]
fn a_refused_handshake_closes_with_its_status() {
    let mut c = Client::new(ClientConfig::default());
    let Some(Action::Http(req)) = c.poll_action() else {
        panic!()
    };
    assert_eq!(req.target, "/engine.io/?EIO=4&transport=polling");
    let body = ErrorCode::UnsupportedProtocolVersion.json();
    c.on_http_response(req.kind, 400, body.as_bytes(), Instant::now());
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Close(ClientCloseReason::TransportError(Some(
            400
        ))))
    );
    assert_eq!(c.poll_action(), None);
}

#[test]
fn a_failed_probe_keeps_the_client_on_polling() {
    let mut c = Client::new(ClientConfig::default());
    let now = Instant::now();
    let Some(Action::Http(req)) = c.poll_action() else {
        panic!()
    };
    c.on_http_response(
        req.kind,
        200,
        br#"0{"sid":"s","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":100}"#,
        now,
    );
    assert!(
        matches!(c.poll_action(), Some(Action::OpenWebSocket { target }) if target.ends_with("transport=websocket&sid=s"))
    );
    assert!(matches!(
        c.poll_action(),
        Some(Action::Http(PollingRequest {
            kind: RequestKind::Poll,
            ..
        }))
    ));
    c.on_ws_closed();
    assert_eq!(c.state(), ClientState::Polling);
    c.send(text("still here")).unwrap();
    assert!(matches!(
        c.poll_action(),
        Some(Action::Http(PollingRequest {
            kind: RequestKind::Post,
            ..
        }))
    ));
}

#[test]
fn posts_are_split_at_the_servers_max_payload() {
    let mut c = Client::new(ClientConfig {
        transports: Transports::PollingOnly,
        ..ClientConfig::default()
    });
    let now = Instant::now();
    let Some(Action::Http(req)) = c.poll_action() else {
        panic!()
    };
    c.on_http_response(
        req.kind,
        200,
        br#"0{"sid":"s","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":11}"#,
        now,
    );
    for m in ["aaaa", "bbbb", "cccc"] {
        c.send(text(m)).unwrap();
    }
    let bodies: Vec<Vec<u8>> = std::iter::from_fn(|| c.poll_action())
        .filter_map(|a| match a {
            Action::Http(r) if r.kind == RequestKind::Post => Some(r.body),
            _ => None,
        })
        .collect();
    assert_eq!(
        bodies,
        vec![b"4aaaa\x1e4bbbb".to_vec()],
        "one POST in flight"
    );
    c.on_http_response(RequestKind::Post, 200, b"ok", now);
    let Some(Action::Http(r)) = c.poll_action() else {
        panic!()
    };
    assert_eq!(r.body, b"4cccc");
}
