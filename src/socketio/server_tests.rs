use super::*;
use serde_json::json;

const A: ClientId = ClientId(1);
const B: ClientId = ClientId(2);
const C: ClientId = ClientId(3);

fn t0() -> Instant {
    Instant::now()
}

/// Every transmit so far, as (client, text, attachments) or a close.
fn drain(server: &mut Server) -> Vec<(ClientId, String)> {
    let mut out = Vec::new();
    while let Some(t) = server.poll_transmit() {
        match t {
            Transmit::Send { client, packet, .. } => out.push((client, packet.text.clone())),
            Transmit::Close { client, why } => out.push((client, format!("CLOSE {why:?}"))),
        }
    }
    out
}

fn events(server: &mut Server) -> Vec<Event> {
    std::iter::from_fn(|| server.poll_event()).collect()
}

fn text(s: &str) -> Payload {
    Payload::Text(s.to_owned())
}

/// Open `client` and connect it to `nsp`; returns its socket id.
fn join(server: &mut Server, client: ClientId, nsp: &str, now: Instant) -> SocketId {
    if !server.clients.contains_key(&client) {
        server.on_open(client, Environ::default(), now);
    }
    let connect = Packet::connect(nsp, None).encode().text;
    server.on_message(client, text(&connect), now);
    let sent = drain(server);
    let (_, reply) = sent.last().expect("an answer");
    let packet = super::super::packet::decode(reply).expect("a packet");
    assert_eq!(packet.kind, PacketType::Connect, "{reply}");
    let Some(Value::Object(map)) = packet.data else {
        panic!("{reply}")
    };
    let id = SocketId::new(map["sid"].as_str().unwrap());
    let evs = events(server);
    assert!(
        matches!(&evs[..], [Event::Connect { socket, .. }] if *socket == id),
        "{evs:?}"
    );
    id
}

#[test]
fn connect_to_the_main_namespace_answers_with_a_fresh_sid() {
    let mut s = Server::new(Config::default());
    let now = t0();
    s.on_open(A, Environ::default(), now);
    s.on_message(A, text(r#"0{"token":"abc"}"#), now);
    let sent = drain(&mut s);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.starts_with(r#"0{"sid":""#), "{sent:?}");
    let Event::Connect { socket, nsp, auth } = s.poll_event().unwrap() else {
        panic!()
    };
    assert_eq!(nsp, "/");
    assert_eq!(auth, Value::from(json!({"token":"abc"})));
    assert_eq!(sent[0].1, format!(r#"0{{"sid":"{socket}"}}"#));
    assert_eq!(
        s.rooms(&socket).unwrap(),
        [socket.as_str()],
        "a socket is in its own room"
    );
    // A second namespace on the same client: another id.
    s.namespace("/admin");
    let admin = join(&mut s, A, "/admin", now);
    assert_ne!(admin, socket);
    assert_eq!(s.socket_namespace(&admin), Some("/admin"));
}

#[test]
fn unknown_namespace_gets_connect_error_and_the_client_stays() {
    let mut s = Server::new(Config::default());
    let now = t0();
    s.on_open(A, Environ::default(), now);
    s.on_message(A, text("0/nope,"), now);
    assert_eq!(
        drain(&mut s),
        [(A, r#"4/nope,{"message":"Invalid namespace"}"#.to_owned())]
    );
    assert!(events(&mut s).is_empty());
    join(&mut s, A, "/", now);
}

#[test]
fn middleware_refuses_with_message_and_data_or_fills_socket_data() {
    let mut s = Server::new(Config::default());
    s.namespace("/private")
        .middleware(|c| {
            c.environ.headers.iter().for_each(drop);
            match c.auth.deserialize::<serde_json::Value>() {
                Ok(v) if v["token"] == "secret" => Ok(()),
                _ => {
                    Err(ConnectError::new("not authorized")
                        .with_data(json!({"retry": false}).into()))
                }
            }
        })
        .middleware(|c| {
            *c.data = json!({"user": c.auth.deserialize::<serde_json::Value>().unwrap()["user"]});
            Ok(())
        });
    let now = t0();
    s.on_open(A, Environ::default(), now);
    s.on_message(A, text(r#"0/private,{"token":"wrong"}"#), now);
    assert_eq!(
        drain(&mut s),
        [(
            A,
            r#"4/private,{"data":{"retry":false},"message":"not authorized"}"#.to_owned()
        )]
    );
    s.on_message(A, text(r#"0/private,{"token":"secret","user":"ann"}"#), now);
    let sent = drain(&mut s);
    assert!(sent[0].1.starts_with(r#"0/private,{"sid":"#), "{sent:?}");
    let Some(Event::Connect { socket, .. }) = s.poll_event() else {
        panic!()
    };
    assert_eq!(s.data(&socket).unwrap(), &json!({"user":"ann"}));
    s.data_mut(&socket).unwrap()["score"] = json!(3);
    assert_eq!(
        s.of("/private").fetch_sockets()[0].data,
        json!({"user":"ann","score":3})
    );
}

#[test]
fn dynamic_namespaces_come_and_go() {
    let mut s = Server::new(Config::default());
    s.dynamic_namespace(|name| name.starts_with("/team-"))
        .middleware(|c| {
            if c.nsp.ends_with("-blocked") {
                Err(ConnectError::new("blocked"))
            } else {
                Ok(())
            }
        });
    let now = t0();
    let id = join(&mut s, A, "/team-1", now);
    assert_eq!(s.namespaces(), ["/", "/team-1"]);
    s.on_message(A, text("0/team-blocked,"), now);
    assert_eq!(
        drain(&mut s),
        [(A, r#"4/team-blocked,{"message":"blocked"}"#.to_owned())]
    );
    assert_eq!(
        s.namespaces(),
        ["/", "/team-1"],
        "a refused dynamic namespace is not kept"
    );
    s.on_message(A, text("1/team-1,"), now);
    assert_eq!(
        events(&mut s),
        [Event::Disconnect {
            socket: id,
            nsp: "/team-1".into(),
            reason: DisconnectReason::ClientNamespaceDisconnect
        }]
    );
    assert_eq!(
        s.namespaces(),
        ["/"],
        "an empty dynamic namespace is dropped"
    );
    let long = format!("/team-{}", "x".repeat(300));
    s.on_message(A, text(&format!("0{long},")), now);
    assert!(
        drain(&mut s)[0].1.starts_with("4/team-"),
        "a name over max_namespace_len is refused"
    );
}

#[test]
fn the_connect_must_come_within_the_timeout() {
    let config = Config {
        connect_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let mut s = Server::new(config);
    let now = t0();
    s.on_open(A, Environ::default(), now);
    s.on_open(B, Environ::default(), now);
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(5)));
    join(&mut s, B, "/", now + Duration::from_secs(1));
    s.handle_timeout(now + Duration::from_millis(4999));
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(now + Duration::from_secs(5));
    assert_eq!(
        drain(&mut s),
        [(A, "CLOSE ConnectTimeout".to_owned())],
        "B connected in time"
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn events_and_acks_from_the_client() {
    let mut s = Server::new(Config::default());
    let now = t0();
    let id = join(&mut s, A, "/", now);
    s.on_message(A, text(r#"2["chat","hi",{"n":1}]"#), now);
    s.on_message(A, text(r#"212["echo",1]"#), now);
    let evs = events(&mut s);
    assert_eq!(
        evs[0],
        Event::Event {
            socket: id.clone(),
            nsp: "/".into(),
            name: "chat".into(),
            args: vec!["hi".into(), json!({"n":1}).into()],
            ack: None
        }
    );
    let Event::Event {
        name,
        args,
        ack: Some(request),
        ..
    } = &evs[1]
    else {
        panic!("{evs:?}")
    };
    assert_eq!((name.as_str(), request.id), ("echo", 12));
    let request = AckRequest {
        socket: request.socket.clone(),
        id: request.id,
    };
    s.ack(request, args.clone()).unwrap();
    assert_eq!(drain(&mut s), [(A, "312[1]".to_owned())]);
}

#[test]
fn binary_events_are_reassembled_from_the_following_messages() {
    let mut s = Server::new(Config::default());
    let now = t0();
    join(&mut s, A, "/", now);
    s.on_message(A, text(r#"51-["file",{"_placeholder":true,"num":0}]"#), now);
    assert!(events(&mut s).is_empty(), "waits for the attachment");
    s.on_message(A, Payload::Binary(vec![1, 2, 3]), now);
    let Some(Event::Event { name, args, .. }) = s.poll_event() else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), args),
        ("file", vec![Value::binary([1, 2, 3])])
    );
    let id = s.of("/").sockets()[0].clone();
    s.emit(&id, "file", vec![Value::binary([9])]).unwrap();
    let Some(Transmit::Send { packet, .. }) = s.poll_transmit() else {
        panic!()
    };
    assert_eq!(packet.text, r#"51-["file",{"_placeholder":true,"num":0}]"#);
    assert_eq!(packet.attachments, [vec![9]]);
}

#[test]
fn server_acks_arrive_or_time_out() {
    let mut s = Server::new(Config::default());
    let now = t0();
    let id = join(&mut s, A, "/", now);
    let second = Duration::from_secs(1);
    let first = s
        .emit_with_ack(&id, "q", vec![1i64.into()], second, now)
        .unwrap();
    let other = s
        .emit_with_ack(&id, "q", vec![2i64.into()], second, now)
        .unwrap();
    assert_eq!(
        drain(&mut s),
        [
            (A, r#"20["q",1]"#.to_owned()),
            (A, r#"21["q",2]"#.to_owned())
        ]
    );
    s.on_message(A, text(r#"30["yes"]"#), now);
    s.on_message(A, text(r#"30["again"]"#), now);
    assert_eq!(
        events(&mut s),
        [Event::Ack {
            socket: id.clone(),
            id: first,
            args: vec!["yes".into()]
        }]
    );
    s.handle_timeout(now + second);
    assert_eq!(
        events(&mut s),
        [Event::AckTimeout {
            socket: id.clone(),
            id: other
        }]
    );
    s.on_message(A, text(r#"31["late"]"#), now + second * 2);
    assert!(events(&mut s).is_empty(), "a late ack is ignored");
    // pending acks are capped and fail when the socket leaves
    let capped = Config {
        max_pending_acks: 2,
        ..Config::default()
    };
    let mut s = Server::new(capped);
    let id = join(&mut s, A, "/", now);
    let a = s.emit_with_ack(&id, "q", vec![], second, now).unwrap();
    s.emit_with_ack(&id, "q", vec![], second, now).unwrap();
    assert_eq!(
        s.emit_with_ack(&id, "q", vec![], second, now),
        Err(SioError::TooManyPendingAcks { max: 2 })
    );
    s.on_close(A, DisconnectReason::PingTimeout, now);
    let evs = events(&mut s);
    assert_eq!(
        evs[0],
        Event::AckTimeout {
            socket: id.clone(),
            id: a
        }
    );
    assert_eq!(
        evs[2],
        Event::Disconnect {
            socket: id,
            nsp: "/".into(),
            reason: DisconnectReason::PingTimeout
        }
    );
}

fn three_in_rooms(s: &mut Server, now: Instant) -> (SocketId, SocketId, SocketId) {
    let a = join(s, A, "/", now);
    let b = join(s, B, "/", now);
    let c = join(s, C, "/", now);
    s.join(&a, "red").unwrap();
    s.join(&b, "red").unwrap();
    s.join(&b, "blue").unwrap();
    s.join(&c, "blue").unwrap();
    (a, b, c)
}

/// Who got something (sorted: the adapter's order follows the random ids).
fn receivers(s: &mut Server) -> Vec<ClientId> {
    let mut got: Vec<ClientId> = drain(s).into_iter().map(|(c, _)| c).collect();
    got.sort();
    got
}

#[test]
fn rooms_to_and_except_chains() {
    let mut s = Server::new(Config::default());
    let now = t0();
    let (a, b, _c) = three_in_rooms(&mut s, now);
    let mut want = vec![b.to_string(), "blue".into(), "red".into()];
    want.sort();
    assert_eq!(s.rooms(&b).unwrap(), want);
    assert_eq!(s.of("/").to("red").emit("m", vec![]).unwrap(), 2);
    assert_eq!(receivers(&mut s), [A, B]);
    assert_eq!(s.of("/").to("red").to("blue").emit("m", vec![]).unwrap(), 3);
    assert_eq!(receivers(&mut s), [A, B, C]);
    s.of("/")
        .to("red")
        .to("blue")
        .except("blue")
        .emit("m", vec![])
        .unwrap();
    assert_eq!(receivers(&mut s), [A]);
    s.of("/").except("red").emit("m", vec![]).unwrap();
    assert_eq!(receivers(&mut s), [C]);
    s.of("/").to(a.as_str()).emit("m", vec![]).unwrap();
    assert_eq!(receivers(&mut s), [A], "the room named after a socket");
    s.broadcast_from(&b)
        .unwrap()
        .to("blue")
        .emit("m", vec![])
        .unwrap();
    assert_eq!(receivers(&mut s), [C], "a broadcast from b skips b");
    s.broadcast_from(&b).unwrap().emit("m", vec![]).unwrap();
    assert_eq!(receivers(&mut s), [A, C]);
    s.leave(&b, "blue").unwrap();
    s.of("/").to("blue").emit("m", vec![]).unwrap();
    assert_eq!(receivers(&mut s), [C]);
    assert_eq!(
        s.of("/").emit("connect", vec![]),
        Err(SioError::ReservedEvent("connect".into()))
    );
    assert_eq!(s.of("/nope").emit("m", vec![]), Ok(0));
}

#[test]
fn a_broadcast_is_encoded_once_and_shared() {
    let mut s = Server::new(Config::default());
    let now = t0();
    three_in_rooms(&mut s, now);
    let before = s.encode_count();
    s.of("/").emit("news", vec![Value::binary([1, 2])]).unwrap();
    assert_eq!(s.encode_count(), before + 1);
    let packets: Vec<Arc<Encoded>> = std::iter::from_fn(|| s.poll_transmit())
        .map(|t| match t {
            Transmit::Send { packet, .. } => packet,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(packets.len(), 3);
    assert!(
        packets.windows(2).all(|w| Arc::ptr_eq(&w[0], &w[1])),
        "one buffer for all"
    );
}

#[test]
fn room_caps_bound_hostile_joins() {
    let config = Config {
        max_rooms_per_socket: 100,
        ..Config::default()
    };
    let mut s = Server::new(config);
    let now = t0();
    let a = join(&mut s, A, "/", now);
    let huge = "r".repeat(1 << 20);
    assert_eq!(
        s.join(&a, &huge),
        Err(SioError::RoomNameTooLong {
            len: 1 << 20,
            max: 1024
        })
    );
    let mut refused = 0;
    for n in 0..100_000 {
        if s.join(&a, &format!("room{n}")) == Err(SioError::TooManyRooms { max: 100 }) {
            refused += 1;
        }
    }
    assert_eq!(refused, 100_000 - 99, "the own room counts: 99 more fit");
    assert_eq!(s.rooms(&a).unwrap().len(), 100);
    assert_eq!(
        s.join(&a, "room5"),
        Ok(()),
        "joining a room it is in is no new room"
    );
    assert_eq!(s.namespace_rooms("/").unwrap().len(), 100);
}

#[test]
fn broadcast_with_ack_collects_until_all_or_timeout() {
    let mut s = Server::new(Config::default());
    let now = t0();
    let (a, b, c) = three_in_rooms(&mut s, now);
    let gid = s
        .of("/")
        .to("blue")
        .emit_with_ack("poll", vec![], Duration::from_secs(2), now)
        .unwrap();
    let mut sent = drain(&mut s);
    sent.sort();
    assert_eq!(
        sent,
        [
            (B, r#"20["poll"]"#.to_owned()),
            (C, r#"20["poll"]"#.to_owned())
        ]
    );
    s.on_message(B, text(r#"30["b"]"#), now);
    assert!(events(&mut s).is_empty());
    s.on_message(C, text(r#"30["c"]"#), now);
    assert_eq!(
        events(&mut s),
        [Event::BroadcastAck {
            id: gid,
            responses: vec![(b.clone(), vec!["b".into()]), (c.clone(), vec!["c".into()])],
            remote: vec![],
            complete: true
        }]
    );
    let gid = s
        .of("/")
        .emit_with_ack("poll", vec![], Duration::from_secs(2), now)
        .unwrap();
    drain(&mut s);
    s.on_message(A, text(r#"31["a"]"#), now);
    s.handle_timeout(now + Duration::from_secs(2));
    assert_eq!(
        events(&mut s),
        [Event::BroadcastAck {
            id: gid,
            responses: vec![(a.clone(), vec!["a".into()])],
            remote: vec![],
            complete: false
        }]
    );
    s.on_message(B, text(r#"31["late"]"#), now + Duration::from_secs(3));
    assert!(events(&mut s).is_empty());
    // nobody selected: done at once
    let gid = s
        .of("/")
        .to("empty")
        .emit_with_ack("poll", vec![], Duration::from_secs(2), now)
        .unwrap();
    assert_eq!(
        events(&mut s),
        [Event::BroadcastAck {
            id: gid,
            responses: vec![],
            remote: vec![],
            complete: true
        }]
    );
}

#[test]
fn volatile_emits_skip_clients_that_cannot_take_them() {
    let mut s = Server::new(Config::default());
    let now = t0();
    three_in_rooms(&mut s, now);
    s.set_writable(B, false);
    assert_eq!(s.of("/").volatile().emit("tick", vec![]).unwrap(), 2);
    let sent: Vec<Transmit> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|t| t.drop_for(10) && !t.drop_for(0)));
    assert_eq!(
        s.of("/").emit("important", vec![]).unwrap(),
        3,
        "non-volatile reaches all"
    );
    assert!(std::iter::from_fn(|| s.poll_transmit()).all(|t| !t.drop_for(10)));
}

#[test]
fn disconnects_from_either_side_with_reasons() {
    let mut s = Server::new(Config::default());
    s.namespace("/admin");
    let now = t0();
    let a = join(&mut s, A, "/", now);
    let a2 = join(&mut s, A, "/admin", now);
    s.disconnect(&a2, false, now).unwrap();
    assert_eq!(drain(&mut s), [(A, "1/admin,".to_owned())]);
    assert_eq!(
        events(&mut s),
        [Event::Disconnect {
            socket: a2.clone(),
            nsp: "/admin".into(),
            reason: DisconnectReason::ServerNamespaceDisconnect
        }]
    );
    assert_eq!(s.emit(&a2, "x", vec![]), Err(SioError::NoSocket));
    s.on_message(A, text(r#"2/admin,["late"]"#), now);
    assert!(
        events(&mut s).is_empty() && drain(&mut s).is_empty(),
        "a packet racing the disconnect is ignored"
    );
    s.on_close(A, crate::engineio::CloseReason::TransportClose.into(), now);
    assert_eq!(
        events(&mut s),
        [Event::Disconnect {
            socket: a,
            nsp: "/".into(),
            reason: DisconnectReason::TransportClose
        }]
    );
    assert_eq!(
        DisconnectReason::ClientNamespaceDisconnect.as_str(),
        "client namespace disconnect"
    );
    assert_eq!(
        DisconnectReason::from(crate::engineio::CloseReason::PingTimeout).to_string(),
        "ping timeout"
    );
}

#[test]
fn server_side_operations_on_a_selection() {
    let mut s = Server::new(Config::default());
    let now = t0();
    let (a, b, c) = three_in_rooms(&mut s, now);
    let red: Vec<SocketId> = s
        .of("/")
        .to("red")
        .fetch_sockets()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(red.len(), 2);
    assert!(red.contains(&a) && red.contains(&b));
    assert!(s.of("/").to("blue").sockets_join(&["green"]).is_empty());
    let mut green = s.of("/").to("green").sockets();
    green.sort();
    let mut want = vec![b.clone(), c.clone()];
    want.sort();
    assert_eq!(green, want);
    s.of("/")
        .to("green")
        .except("red")
        .sockets_leave(&["green"]);
    assert_eq!(s.of("/").to("green").sockets(), std::slice::from_ref(&b));
    assert_eq!(s.of("/").to("green").disconnect_sockets(false, now), 1);
    assert_eq!(drain(&mut s), [(B, "1".to_owned())]);
    assert_eq!(s.of("/").to("blue").disconnect_sockets(true, now), 1);
    assert_eq!(
        drain(&mut s),
        [
            (C, "1".to_owned()),
            (C, "CLOSE ForcedServerClose".to_owned())
        ]
    );
    let reasons: Vec<DisconnectReason> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            Event::Disconnect { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            DisconnectReason::ServerNamespaceDisconnect,
            DisconnectReason::ServerNamespaceDisconnect
        ]
    );
    assert_eq!(s.of("/").sockets(), [a]);
}

#[test]
fn a_malformed_packet_closes_only_that_client() {
    let mut s = Server::new(Config::default());
    let now = t0();
    let (a, _b, _c) = three_in_rooms(&mut s, now);
    s.on_message(A, text(r#"2["unterminated"#), now);
    let sent = drain(&mut s);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.starts_with("CLOSE Malformed(Json("), "{sent:?}");
    assert_eq!(
        events(&mut s),
        [Event::Disconnect {
            socket: a,
            nsp: "/".into(),
            reason: DisconnectReason::ParseError
        }]
    );
    assert_eq!(
        s.of("/").to("red").emit("m", vec![]).unwrap(),
        1,
        "b is still there"
    );
    drain(&mut s);
    s.on_message(B, text("4{\"message\":\"x\"}"), now);
    assert!(
        drain(&mut s)[0]
            .1
            .starts_with("CLOSE Malformed(BadData(ConnectError")
    );
    s.on_message(C, Payload::Binary(vec![1]), now);
    assert_eq!(
        drain(&mut s),
        [(C, "CLOSE Malformed(UnexpectedBinary)".to_owned())]
    );
    assert!(s.of("/").sockets().is_empty());
    s.on_message(C, text("0"), now);
    assert!(drain(&mut s).is_empty(), "a closed client is forgotten");
}

#[test]
fn namespaces_per_client_are_capped() {
    let config = Config {
        max_namespaces_per_client: 2,
        ..Config::default()
    };
    let mut s = Server::new(config);
    s.dynamic_namespace(|_| true);
    let now = t0();
    join(&mut s, A, "/", now);
    join(&mut s, A, "/x", now);
    s.on_message(A, text("0/y,"), now);
    assert_eq!(
        drain(&mut s),
        [(A, r#"4/y,{"message":"Too many namespaces"}"#.to_owned())]
    );
    assert_eq!(s.namespaces(), ["/", "/x"]);
}

#[test]
fn shutdown_disconnects_everyone() {
    let mut s = Server::new(Config::default());
    let now = t0();
    three_in_rooms(&mut s, now);
    s.shutdown(now);
    let evs = events(&mut s);
    assert_eq!(evs.len(), 3);
    assert!(evs.iter().all(|e| matches!(
        e,
        Event::Disconnect {
            reason: DisconnectReason::ServerShuttingDown,
            ..
        }
    )));
}

#[test]
fn answered_and_finished_work_leaves_no_timers() {
    let mut s = Server::new(Config::default());
    let now = t0();
    let a = join(&mut s, A, "/", now);
    assert_eq!(
        s.poll_timeout(),
        None,
        "the connect timer goes with the CONNECT"
    );
    let id = s
        .emit_with_ack(&a, "q", vec![], Duration::from_secs(9), now)
        .unwrap();
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(9)));
    drain(&mut s);
    // the answer carries binary: a BINARY_ACK
    s.on_message(A, text(r#"61-0[{"_placeholder":true,"num":0}]"#), now);
    s.on_message(A, Payload::Binary(vec![5]), now);
    assert_eq!(
        events(&mut s),
        [Event::Ack {
            socket: a.clone(),
            id,
            args: vec![Value::binary([5])]
        }]
    );
    assert_eq!(s.poll_timeout(), None, "an answered ack's timer is gone");
    s.on_open(B, Environ::default(), now);
    s.on_close(B, DisconnectReason::TransportClose, now);
    assert_eq!(
        s.poll_timeout(),
        None,
        "a closed client's connect timer is gone"
    );
    s.emit_with_ack(&a, "q", vec![], Duration::from_secs(9), now)
        .unwrap();
    s.on_close(A, DisconnectReason::TransportClose, now);
    assert_eq!(
        s.poll_timeout(),
        None,
        "a departed socket's ack timers are gone"
    );
}

#[test]
fn a_broadcast_ack_ends_early_when_the_last_awaited_socket_leaves() {
    let mut s = Server::new(Config::default());
    let now = t0();
    let (a, _b, _c) = three_in_rooms(&mut s, now);
    let gid = s
        .of("/")
        .to("red")
        .emit_with_ack("poll", vec![], Duration::from_secs(5), now)
        .unwrap();
    drain(&mut s);
    s.on_message(A, text(r#"30["a"]"#), now);
    s.on_close(B, DisconnectReason::PingTimeout, now);
    let evs = events(&mut s);
    assert_eq!(
        evs[0],
        Event::BroadcastAck {
            id: gid,
            responses: vec![(a, vec!["a".into()])],
            remote: vec![],
            complete: false
        }
    );
    assert!(matches!(
        evs[1],
        Event::Disconnect {
            reason: DisconnectReason::PingTimeout,
            ..
        }
    ));
    s.handle_timeout(now + Duration::from_secs(5));
    assert!(events(&mut s).is_empty(), "reported once");
}

#[test]
fn a_client_closing_mid_binary_packet_is_just_gone() {
    let mut s = Server::new(Config::default());
    let now = t0();
    let a = join(&mut s, A, "/", now);
    s.on_message(
        A,
        text(r#"52-["f",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
        now,
    );
    s.on_message(A, Payload::Binary(vec![1]), now);
    s.on_close(A, DisconnectReason::TransportError, now);
    assert_eq!(
        events(&mut s),
        [Event::Disconnect {
            socket: a,
            nsp: "/".into(),
            reason: DisconnectReason::TransportError
        }]
    );
    s.on_message(A, Payload::Binary(vec![2]), now);
    assert!(events(&mut s).is_empty() && drain(&mut s).is_empty());
}

#[test]
fn the_server_and_its_handlers_can_move_to_another_thread() {
    fn send<T: Send>() {}
    send::<Server>();
    send::<super::super::handlers::Handlers>();
    send::<Transmit>();
}

#[test]
fn garbage_from_one_client_never_disturbs_the_others() {
    let mut s = Server::new(Config::default());
    s.namespace("/admin");
    let now = t0();
    let b = join(&mut s, B, "/", now);
    s.join(&b, "room").unwrap();
    let seeds = [
        r#"2["chat","hi"]"#,
        r#"21["echo",{"a":[1,2]}]"#,
        r#"0/admin,{"token":"x"}"#,
        r#"51-["f",{"_placeholder":true,"num":0}]"#,
        r#"30["late"]"#,
        "1/admin,",
        "1",
    ];
    let alphabet = b"0123456789-/,[]{}\":_placeholdernum";
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rand = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let (mut closed, mut rounds) = (0, 0);
    for round in 0..3000u64 {
        let client = ClientId(100 + round);
        s.on_open(client, Environ::default(), now);
        s.on_message(client, text("0"), now);
        for _ in 0..1 + rand(4) {
            let mut bytes = seeds[rand(seeds.len())].as_bytes().to_vec();
            let at = rand(bytes.len() + 1);
            match rand(4) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 if at < bytes.len() => bytes[at] = alphabet[rand(alphabet.len())],
                2 => bytes.insert(at, alphabet[rand(alphabet.len())]),
                _ => {}
            }
            let message = match String::from_utf8(bytes) {
                Ok(t) if rand(6) > 0 => Payload::Text(t),
                Ok(t) => Payload::Binary(t.into_bytes()),
                Err(e) => Payload::Binary(e.into_bytes()),
            };
            s.on_message(client, message, now);
        }
        let sent = drain(&mut s);
        closed += sent
            .iter()
            .filter(|(c, t)| *c == client && t.starts_with("CLOSE"))
            .count();
        assert!(
            sent.iter().all(|(c, _)| *c == client),
            "only the client itself hears: {sent:?}"
        );
        s.on_close(client, DisconnectReason::TransportClose, now);
        events(&mut s);
        rounds += 1;
        // b is untouched: still there, still in its room, still reachable
        assert_eq!(s.of("/").to("room").emit("ping", vec![]), Ok(1));
        assert_eq!(drain(&mut s), [(B, r#"2["ping"]"#.to_owned())]);
    }
    assert!(
        closed > 300 && closed < rounds,
        "both malformed and valid input were fed: {closed} of {rounds} closed"
    );
    assert_eq!(s.of("/").sockets(), [b]);
    assert_eq!(s.namespaces(), ["/", "/admin"]);
}

/// What the recording adapter saw (one test uses it).
static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The in-memory adapter, plus a log of what a cluster adapter would
/// publish: chapter 6's Redis adapter sits at this boundary.
#[derive(Default)]
struct Recording(InMemoryAdapter);

impl Adapter for Recording {
    fn add(&mut self, socket: &SocketId, room: &str) {
        self.0.add(socket, room)
    }
    fn del(&mut self, socket: &SocketId, room: &str) {
        self.0.del(socket, room)
    }
    fn del_all(&mut self, socket: &SocketId) {
        self.0.del_all(socket)
    }
    fn socket_rooms(&self, socket: &SocketId) -> Vec<String> {
        self.0.socket_rooms(socket)
    }
    fn contains(&self, socket: &SocketId, room: &str) -> bool {
        self.0.contains(socket, room)
    }
    fn room_count(&self, socket: &SocketId) -> usize {
        self.0.room_count(socket)
    }
    fn rooms(&self) -> Vec<String> {
        self.0.rooms()
    }
    fn select(&self, opts: &BroadcastOptions) -> Vec<SocketId> {
        self.0.select(opts)
    }
    fn broadcast(&mut self, packet: &Arc<Encoded>, opts: &BroadcastOptions) -> Vec<SocketId> {
        SEEN.lock().unwrap().push(format!(
            "publish {} to {:?} except {:?}",
            packet.text, opts.rooms, opts.except
        ));
        self.0.select(opts)
    }
    fn server_side(&mut self, op: &ServerSideOp, opts: &BroadcastOptions) {
        SEEN.lock()
            .unwrap()
            .push(format!("{op:?} on {:?}", opts.rooms));
    }
    fn cluster_request(&mut self, _id: RequestId, request: ClusterRequest, _now: Instant) -> bool {
        let what = match request {
            ClusterRequest::FetchSockets(opts) => format!("fetch {:?}", opts.rooms),
            ClusterRequest::BroadcastWithAck { opts, .. } => format!("ask {:?}", opts.rooms),
            other => format!("{other:?}"),
        };
        SEEN.lock().unwrap().push(format!("request {what}"));
        true
    }
}

#[test]
fn another_adapter_sees_each_broadcast_once_encoded_and_each_server_side_operation() {
    let mut s = Server::new(Config::default());
    s.set_adapter(|_| Box::new(Recording::default()));
    s.namespace("/cluster");
    let now = t0();
    let a = join(&mut s, A, "/cluster", now);
    join(&mut s, B, "/cluster", now);
    s.join(&a, "red").unwrap();
    assert_eq!(s.of("/cluster").to("red").emit("m", vec![]).unwrap(), 1);
    s.broadcast_from(&a).unwrap().emit("n", vec![]).unwrap();
    s.of("/cluster").to("red").sockets_join(&["blue"]);
    s.of("/cluster").to("blue").sockets_leave(&["blue"]);
    s.of("/cluster").to("red").fetch_all_sockets(now).unwrap();
    s.of("/cluster")
        .to("red")
        .emit_with_ack("q", vec![], Duration::from_secs(1), now)
        .unwrap();
    drain(&mut s);
    events(&mut s);
    // `local()`: this server's sockets only; the adapter publishes nothing.
    assert_eq!(
        s.of("/cluster").local().to("red").emit("here", vec![]),
        Ok(1)
    );
    assert_eq!(drain(&mut s), [(A, r#"2/cluster,["here"]"#.to_owned())]);
    s.of("/cluster").local().to("red").sockets_join(&["green"]);
    assert!(s.rooms(&a).unwrap().contains(&"green".to_owned()));
    s.of("/cluster")
        .local()
        .to("green")
        .sockets_leave(&["green"]);
    let id = s.of("/cluster").local().fetch_all_sockets(now).unwrap();
    let Some(Event::ClusterReply {
        id: replied,
        answers: Answers::Sockets(sockets),
        report,
    }) = s.poll_event()
    else {
        panic!("a local fetch is answered at once")
    };
    assert_eq!((replied, sockets.len(), report), (id, 2, Report::local()));
    s.of("/cluster")
        .local()
        .to("red")
        .emit_with_ack("q", vec![], Duration::from_secs(1), now)
        .unwrap();
    s.of("/cluster").to("red").disconnect_sockets(false, now);
    let seen = std::mem::take(&mut *SEEN.lock().unwrap());
    assert_eq!(
        seen,
        [
            r#"publish 2/cluster,["m"] to {"red"} except {}"#.to_owned(),
            format!(r#"publish 2/cluster,["n"] to {{}} except {{"{a}"}}"#),
            r#"Join(["blue"]) on {"red"}"#.to_owned(),
            r#"Leave(["blue"]) on {"blue"}"#.to_owned(),
            r#"request fetch {"red"}"#.to_owned(),
            r#"request ask {"red"}"#.to_owned(),
            r#"Disconnect { close: false } on {"red"}"#.to_owned(),
        ]
    );
}

#[test]
fn middleware_reads_the_handshake_and_handlers_see_the_environ() {
    use crate::engineio::HandshakeRequest;
    use std::time::{Duration, SystemTime};
    let mut s = Server::new(Config::default());
    s.namespace("/").middleware(|c| {
        let origin_ok = c.environ.header("Origin") == Some("http://good.example");
        let token_ok = c.environ.query_param("token") == Some("s3cret")
            || c.environ.header("x-token") == Some("s3cret");
        if origin_ok && token_ok {
            *c.data = json!({"url": c.environ.url});
            Ok(())
        } else {
            Err(ConnectError::new("bad handshake"))
        }
    });
    let time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    let request = |target: &str, headers: &[(&str, &str)]| HandshakeRequest {
        url: target.to_owned(),
        query: crate::engineio::handshake_request::query_pairs(target),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        address: Some("10.1.2.3:5555".parse().unwrap()),
        time,
    };
    let now = t0();
    // No token: refused.
    let bare = request("/socket.io/?EIO=4", &[("origin", "http://good.example")]);
    s.on_open(A, Environ::from(&bare), now);
    s.on_message(A, text("0"), now);
    assert_eq!(
        drain(&mut s),
        [(A, r#"4{"message":"bad handshake"}"#.to_owned())]
    );
    // A token but a foreign origin: refused.
    let foreign = request(
        "/socket.io/?EIO=4&token=s3cret",
        &[("Origin", "http://evil.example")],
    );
    s.on_open(B, Environ::from(&foreign), now);
    s.on_message(B, text("0"), now);
    assert_eq!(
        drain(&mut s),
        [(B, r#"4{"message":"bad handshake"}"#.to_owned())]
    );
    // The token in a header (any case) and the right origin: accepted.
    let good = request(
        "/socket.io/?EIO=4&transport=websocket",
        &[("Origin", "http://good.example"), ("X-Token", "s3cret")],
    );
    s.on_open(C, Environ::from(&good), now);
    s.on_message(C, text("0"), now);
    let sent = drain(&mut s);
    assert!(sent[0].1.starts_with(r#"0{"sid":"#), "{sent:?}");
    let Some(Event::Connect { socket, .. }) = s.poll_event() else {
        panic!()
    };
    assert_eq!(
        s.data(&socket).unwrap(),
        &json!({"url": "/socket.io/?EIO=4&transport=websocket"})
    );
    let environ = s.environ(&socket).unwrap();
    assert_eq!(environ.address.as_deref(), Some("10.1.2.3"));
    assert_eq!(environ.header("origin"), Some("http://good.example"));
    assert_eq!(environ.headers[1].0, "x-token", "names in lower case");
    assert_eq!(environ.query_param("transport"), Some("websocket"));
    assert_eq!(environ.time, Some(time));
    assert_eq!(environ.issued_ms(), 1_700_000_000_123);
    assert_eq!(s.environ(&SocketId::new("nobody")), Err(SioError::NoSocket));
    // What fetchSockets carries: Node's handshake shape.
    let hs = handshake(Some(environ), &Value::Null);
    assert_eq!(hs["address"], "10.1.2.3");
    assert_eq!(hs["url"], "/socket.io/?EIO=4&transport=websocket");
    assert_eq!(hs["issued"], 1_700_000_000_123u64);
    assert_eq!(hs["headers"]["x-token"], "s3cret");
    assert_eq!(hs["query"]["transport"], "websocket");
}
