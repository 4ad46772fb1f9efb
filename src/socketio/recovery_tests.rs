//! Connection state recovery (see `recovery.rs`): what goes on the wire,
//! what is restored and replayed, and what is refused or forgotten.

use super::*;
use serde_json::json;

const A: ClientId = ClientId(1);
const B: ClientId = ClientId(2);
const C: ClientId = ClientId(3);

fn recovering() -> Config {
    Config {
        recovery: Some(RecoveryConfig::default()),
        ..Config::default()
    }
}

fn drain(server: &mut Server) -> Vec<(ClientId, Arc<Encoded>)> {
    let mut out = Vec::new();
    while let Some(t) = server.poll_transmit() {
        if let Transmit::Send { client, packet, .. } = t {
            out.push((client, packet));
        }
    }
    out
}

fn texts(server: &mut Server) -> Vec<(ClientId, String)> {
    drain(server)
        .into_iter()
        .map(|(c, p)| (c, p.text.clone()))
        .collect()
}

fn events(server: &mut Server) -> Vec<Event> {
    std::iter::from_fn(|| server.poll_event()).collect()
}

fn text(s: &str) -> Payload {
    Payload::Text(s.to_owned())
}

/// The JSON of a text packet after its type digit (and namespace).
fn json_of(packet: &str) -> serde_json::Value {
    let start = packet.find(['{', '[']).expect("data");
    serde_json::from_str(&packet[start..]).expect("json")
}

/// Open `client`, CONNECT to `nsp` with `auth`; the answer's JSON.
fn connect(
    server: &mut Server,
    client: ClientId,
    nsp: &str,
    auth: serde_json::Value,
    now: Instant,
) -> serde_json::Value {
    server.on_open(client, Environ::default(), now);
    let auth = (!auth.is_null()).then(|| Value::from(auth));
    let connect = Packet::connect(nsp, auth).encode().text;
    server.on_message(client, text(&connect), now);
    let sent = texts(server);
    let (_, answer) = sent.first().expect("an answer");
    assert!(answer.starts_with('0'), "{answer}");
    json_of(answer)
}

fn sid_of(answer: &serde_json::Value) -> SocketId {
    SocketId::new(answer["sid"].as_str().expect("sid"))
}

/// The offset a client would remember from an event it received: its
/// last argument.
fn last_arg(packet: &str) -> String {
    let json = json_of(packet);
    let items = json.as_array().expect("event");
    items.last().unwrap().as_str().expect("offset").to_owned()
}

#[test]
fn off_by_default_nothing_changes_on_the_wire() {
    let mut s = Server::new(Config::default());
    let now = Instant::now();
    let answer = connect(&mut s, A, "/", json!(null), now);
    assert!(answer.get("pid").is_none(), "{answer}");
    s.of("/").emit("news", vec![Value::from(1i64)]).unwrap();
    assert_eq!(texts(&mut s), vec![(A, r#"2["news",1]"#.to_owned())]);
    // A client sending pid/offset anyway just gets a new session.
    let again = connect(&mut s, B, "/", json!({"pid": "x", "offset": "1"}), now);
    assert_ne!(again["sid"], answer["sid"]);
    assert_eq!(s.recovery_retained(), (0, 0));
}

#[test]
fn connect_answer_carries_sid_and_pid_and_events_carry_offsets() {
    let mut s = Server::new(recovering());
    let now = Instant::now();
    let answer = connect(&mut s, A, "/", json!(null), now);
    let sid = sid_of(&answer);
    let pid = answer["pid"].as_str().expect("a pid");
    assert_ne!(pid, sid.as_str(), "the private id is not the public one");
    events(&mut s);

    // A broadcast: the offset is the last argument, a string.
    s.of("/").emit("news", vec![Value::from(1i64)]).unwrap();
    // An emit to one socket is kept too (Node routes it to the socket's room).
    s.emit(&sid, "hello", vec![]).unwrap();
    // Not kept, not stamped: an emit with an ack, and a volatile broadcast.
    s.emit_with_ack(&sid, "ask", vec![], Duration::from_secs(5), now)
        .unwrap();
    s.of("/").volatile().emit("tick", vec![]).unwrap();
    let sent: Vec<String> = texts(&mut s).into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        sent,
        vec![
            r#"2["news",1,"1"]"#,
            r#"2["hello","2"]"#,
            r#"20["ask"]"#,
            r#"2["tick"]"#
        ]
    );
    assert_eq!(s.recovery_retained(), (2, 0));
}

#[test]
fn a_broadcast_is_still_encoded_once_with_its_offset() {
    let mut s = Server::new(recovering());
    let now = Instant::now();
    connect(&mut s, A, "/", json!(null), now);
    connect(&mut s, B, "/", json!(null), now);
    let before = s.encode_count();
    s.of("/").emit("news", vec![]).unwrap();
    assert_eq!(s.encode_count(), before + 1);
    let sent = drain(&mut s);
    assert_eq!(sent.len(), 2);
    assert!(Arc::ptr_eq(&sent[0].1, &sent[1].1));
}

/// A in room "r" got offset `seen`, then its transport closed; the server
/// went on emitting. Returns (sid, pid, offset seen).
fn lose_transport_after_one_packet(s: &mut Server, now: Instant) -> (SocketId, String, String) {
    let answer = connect(s, A, "/", json!(null), now);
    let sid = sid_of(&answer);
    let pid = answer["pid"].as_str().unwrap().to_owned();
    s.join(&sid, "r").unwrap();
    *s.data_mut(&sid).unwrap() = json!({"name": "ann"});
    events(s);
    s.of("/")
        .to("r")
        .emit("m", vec![Value::from("before")])
        .unwrap();
    let seen = last_arg(&texts(s)[0].1);
    s.on_close(A, DisconnectReason::TransportClose, now);
    let evs = events(s);
    assert!(
        matches!(
            &evs[..],
            [Event::Disconnect {
                reason: DisconnectReason::TransportClose,
                ..
            }]
        ),
        "{evs:?}"
    );
    (sid, pid, seen)
}

#[test]
fn reconnecting_in_time_restores_id_rooms_data_and_replays_what_the_rooms_got() {
    let mut s = Server::new(recovering());
    let now = Instant::now();
    let (sid, pid, seen) = lose_transport_after_one_packet(&mut s, now);
    assert_eq!(s.recovery_retained(), (1, 1));

    // Meanwhile, with someone else connected in another room.
    let other = sid_of(&connect(&mut s, C, "/", json!(null), now));
    s.join(&other, "elsewhere").unwrap();
    events(&mut s);
    s.of("/")
        .to("r")
        .emit("m", vec![Value::from("missed 1")])
        .unwrap();
    s.of("/")
        .to("elsewhere")
        .emit("m", vec![Value::from("not for A")])
        .unwrap();
    s.of("/")
        .emit("all", vec![Value::from("missed 2")])
        .unwrap();
    s.of("/")
        .to("r")
        .except("r")
        .emit("m", vec![Value::from("excluded")])
        .unwrap();
    s.emit(&other, "private", vec![]).unwrap();
    texts(&mut s);

    // The official client's reconnect: CONNECT with {pid, offset}.
    let later = now + Duration::from_secs(30);
    let auth = json!({"pid": pid, "offset": seen, "token": "t"});
    s.on_open(B, Environ::default(), later);
    let connect = Packet::connect("/", Some(Value::from(auth.clone())))
        .encode()
        .text;
    s.on_message(B, text(&connect), later);
    let sent = texts(&mut s);
    let answer = json_of(&sent[0].1);
    assert_eq!(answer, json!({"sid": sid.as_str(), "pid": pid}));
    let replay: Vec<&str> = sent[1..]
        .iter()
        .map(|(c, t)| {
            assert_eq!(*c, B);
            t.as_str()
        })
        .collect();
    assert_eq!(
        replay,
        vec![r#"2["m","missed 1","2"]"#, r#"2["all","missed 2","4"]"#]
    );

    assert!(s.recovered(&sid));
    let mut rooms = s.rooms(&sid).unwrap();
    rooms.sort();
    let mut expected = vec!["r".to_owned(), sid.as_str().to_owned()];
    expected.sort();
    assert_eq!(rooms, expected);
    assert_eq!(s.data(&sid).unwrap(), &json!({"name": "ann"}));
    let evs = events(&mut s);
    assert!(
        matches!(&evs[..], [Event::Connect { socket, .. }] if *socket == sid),
        "{evs:?}"
    );
    // The session is live again, not kept twice.
    assert_eq!(s.recovery_retained().1, 0);
    // And it receives room broadcasts as before.
    s.of("/").to("r").emit("m", vec![]).unwrap();
    assert_eq!(texts(&mut s), vec![(B, r#"2["m","7"]"#.to_owned())]);
}

#[test]
fn binary_packets_are_replayed_with_their_attachments() {
    let mut s = Server::new(recovering());
    let now = Instant::now();
    let (_, pid, seen) = lose_transport_after_one_packet(&mut s, now);
    s.of("/")
        .to("r")
        .emit("file", vec![Value::binary(vec![1, 2, 3])])
        .unwrap();
    texts(&mut s);
    s.on_open(B, Environ::default(), now);
    let auth = Value::from(json!({"pid": pid, "offset": seen}));
    s.on_message(
        B,
        text(&Packet::connect("/", Some(auth)).encode().text),
        now,
    );
    let sent = drain(&mut s);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1].1.text,
        r#"51-["file",{"_placeholder":true,"num":0},"2"]"#
    );
    assert_eq!(sent[1].1.attachments, vec![vec![1, 2, 3]]);
}

#[test]
fn a_deliberate_disconnect_is_not_kept() {
    let mut s = Server::new(recovering());
    let now = Instant::now();
    let answer = connect(&mut s, A, "/", json!(null), now);
    s.of("/").emit("m", vec![]).unwrap();
    let seen = last_arg(&texts(&mut s)[0].1);
    // The client said goodbye (`socket.disconnect()`).
    s.on_message(A, text("1"), now);
    assert_eq!(s.recovery_retained().1, 0);
    let again = connect(
        &mut s,
        B,
        "/",
        json!({"pid": answer["pid"], "offset": seen}),
        now,
    );
    assert_ne!(again["sid"], answer["sid"]);
    assert_ne!(again["pid"], answer["pid"]);
    assert!(!s.recovered(&sid_of(&again)));
}

#[test]
fn after_the_window_it_is_a_new_session_and_everything_is_forgotten() {
    let mut s = Server::new(recovering());
    let now = Instant::now();
    let (sid, pid, seen) = lose_transport_after_one_packet(&mut s, now);
    // The next thing to do is to forget, two minutes after.
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(120)));
    let late = now + Duration::from_secs(121);
    s.handle_timeout(late);
    assert_eq!(s.recovery_retained(), (0, 0));
    assert_eq!(s.poll_timeout(), None);
    let answer = connect(&mut s, B, "/", json!({"pid": pid, "offset": seen}), late);
    assert_ne!(sid_of(&answer), sid);
    assert!(!s.recovered(&sid_of(&answer)));
}

#[test]
fn an_offset_we_cannot_vouch_for_is_a_new_session() {
    for offset in ["99", "0", "x", ""] {
        let mut s = Server::new(recovering());
        let now = Instant::now();
        let (sid, pid, _) = lose_transport_after_one_packet(&mut s, now);
        let answer = connect(&mut s, B, "/", json!({"pid": pid, "offset": offset}), now);
        assert_ne!(sid_of(&answer), sid, "offset {offset:?}");
    }
    // No offset at all (the client received nothing), or a number.
    for auth in [json!({"pid": "p"}), json!({"pid": "p", "offset": 1})] {
        let mut s = Server::new(recovering());
        let now = Instant::now();
        let (sid, pid, _) = lose_transport_after_one_packet(&mut s, now);
        let mut auth = auth;
        auth["pid"] = json!(pid);
        let answer = connect(&mut s, B, "/", auth, now);
        assert_ne!(sid_of(&answer), sid);
    }
}

#[test]
fn a_pid_only_restores_in_its_own_namespace() {
    let mut s = Server::new(recovering());
    s.namespace("/admin");
    let now = Instant::now();
    let (sid, pid, seen) = lose_transport_after_one_packet(&mut s, now);
    let answer = connect(
        &mut s,
        B,
        "/admin",
        json!({"pid": pid, "offset": seen}),
        now,
    );
    assert_ne!(sid_of(&answer), sid);
}

#[test]
fn when_missed_packets_were_evicted_for_the_cap_the_client_starts_afresh() {
    let config = Config {
        recovery: Some(RecoveryConfig {
            max_packets: 3,
            ..RecoveryConfig::default()
        }),
        ..Config::default()
    };
    let mut s = Server::new(config);
    let now = Instant::now();
    let (sid, pid, seen) = lose_transport_after_one_packet(&mut s, now);
    for i in 0..3 {
        s.of("/")
            .to("r")
            .emit("m", vec![Value::from(i as i64)])
            .unwrap();
    }
    texts(&mut s);
    assert_eq!(s.recovery_retained().0, 3, "the cap holds");
    // Offset "1" was evicted, but nothing after it: still recoverable.
    let answer = connect(&mut s, B, "/", json!({"pid": pid, "offset": seen}), now);
    assert_eq!(sid_of(&answer), sid);

    // Now one more than the cap goes by while B is away: a gap, refused.
    let (pid, seen) = (answer["pid"].as_str().unwrap().to_owned(), "4".to_owned());
    s.on_close(B, DisconnectReason::PingTimeout, now);
    for i in 0..4 {
        s.of("/")
            .to("r")
            .emit("m", vec![Value::from(i as i64)])
            .unwrap();
    }
    let answer = connect(&mut s, C, "/", json!({"pid": pid, "offset": seen}), now);
    assert_ne!(sid_of(&answer), sid);
}

#[test]
fn sessions_are_capped_oldest_first() {
    let config = Config {
        recovery: Some(RecoveryConfig {
            max_sessions: 2,
            ..RecoveryConfig::default()
        }),
        ..Config::default()
    };
    let mut s = Server::new(config);
    let now = Instant::now();
    for client in 10..15 {
        connect(&mut s, ClientId(client), "/", json!(null), now);
        s.on_close(ClientId(client), DisconnectReason::TransportError, now);
    }
    assert_eq!(s.recovery_retained().1, 2);
}

#[test]
fn a_restored_socket_skips_middleware_unless_told_not_to() {
    for skip in [true, false] {
        let config = Config {
            recovery: Some(RecoveryConfig {
                skip_middlewares: skip,
                ..RecoveryConfig::default()
            }),
            ..Config::default()
        };
        let mut s = Server::new(config);
        let now = Instant::now();
        let (sid, pid, seen) = lose_transport_after_one_packet(&mut s, now);
        s.namespace("/")
            .middleware(|_| Err(ConnectError::new("closed for now")));
        s.on_open(B, Environ::default(), now);
        let auth = Value::from(json!({"pid": pid, "offset": seen}));
        s.on_message(
            B,
            text(&Packet::connect("/", Some(auth)).encode().text),
            now,
        );
        let sent = texts(&mut s);
        if skip {
            assert_eq!(json_of(&sent[0].1)["sid"], json!(sid.as_str()));
        } else {
            assert!(sent[0].1.starts_with('4'), "{sent:?}");
            // Refused, but still restorable once the middleware agrees.
            assert_eq!(s.recovery_retained().1, 1);
        }
    }
}

#[test]
fn a_server_that_sees_no_clients_keeps_nothing() {
    let mut s = Server::new(recovering());
    s.of("/").emit("m", vec![]).unwrap();
    assert_eq!(s.recovery_retained(), (0, 0));
}
