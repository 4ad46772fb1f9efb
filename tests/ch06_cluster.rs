//! Chapter 6's adapter between sans-IO servers in this process, sharing one
//! real `redis-server` (started here on a free loopback port): broadcasts
//! reach the other servers once, `except` holds across them, the
//! server-side operations and requests work both ways, a silent server
//! makes requests time out with a report, and a Redis restart is survived.
//! Skipped with a message when redis-server is not installed.

#[path = "support/redis.rs"]
#[allow(dead_code)] // each test file uses its own subset
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netladder::engineio::Payload;
use netladder::socketio::redis::{RedisHub, RedisOptions};
use netladder::socketio::{Answers, ClientId, Config, Environ, Event, Server, SocketId, Transmit};
use support::Redis;

/// One server: the sans-IO core, its Redis hub, what it sent and heard.
struct Node {
    io: Server,
    hub: RedisHub,
    sent: Vec<(ClientId, String)>,
    events: Vec<Event>,
    next: u64,
}

impl Node {
    fn new(redis: &Redis, timeout: Duration) -> Node {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let mut opts = RedisOptions::new(&redis.url());
        opts.requests_timeout = timeout;
        let hub = RedisHub::start(opts, Arc::new(|| {})).unwrap();
        let mut io = Server::new(Config::default());
        io.set_adapter(hub.factory());
        Node {
            io,
            hub,
            sent: Vec::new(),
            events: Vec::new(),
            next: 0,
        }
    }

    /// A client connected to `/`, in `rooms`.
    fn client(&mut self, rooms: &[&str]) -> (ClientId, SocketId) {
        self.next += 1;
        let c = ClientId(self.next);
        let now = Instant::now();
        self.io.on_open(c, Environ::default(), now);
        self.io.on_message(c, Payload::Text("0".into()), now);
        self.pump();
        let id = self
            .events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::Connect { socket, .. } => Some(socket.clone()),
                _ => None,
            })
            .unwrap();
        for r in rooms {
            self.io.join(&id, r).unwrap();
        }
        (c, id)
    }

    fn pump(&mut self) {
        let now = Instant::now();
        self.io.handle_remote(now);
        if self.io.poll_timeout().is_some_and(|t| t <= now) {
            self.io.handle_timeout(now);
        }
        while let Some(t) = self.io.poll_transmit() {
            match t {
                Transmit::Send { client, packet, .. } => {
                    self.sent.push((client, packet.text.clone()))
                }
                Transmit::Close { client, .. } => self.sent.push((client, "<close>".into())),
            }
        }
        while let Some(e) = self.io.poll_event() {
            self.events.push(e);
        }
    }

    /// What `c` received that starts with `prefix`.
    fn got(&self, c: ClientId, prefix: &str) -> Vec<String> {
        self.sent
            .iter()
            .filter(|(to, t)| *to == c && t.starts_with(prefix))
            .map(|(_, t)| t.clone())
            .collect()
    }

    fn take_reply(&mut self) -> Option<(Answers, netladder::socketio::Report)> {
        let i = self
            .events
            .iter()
            .position(|e| matches!(e, Event::ClusterReply { .. }))?;
        match self.events.remove(i) {
            Event::ClusterReply {
                answers, report, ..
            } => Some((answers, report)),
            _ => unreachable!(),
        }
    }
}

/// Pump every node until `done` holds (at most 10 s).
fn pump_until(nodes: &mut [&mut Node], what: &str, mut done: impl FnMut(&mut [&mut Node]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for n in nodes.iter_mut() {
            n.pump();
        }
        if done(nodes) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Pump for a while, so that anything still on its way arrives.
fn settle(nodes: &mut [&mut Node], d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        for n in nodes.iter_mut() {
            n.pump();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn ready(redis: &Redis, nodes: &[&Node]) {
    redis.wait_for_servers(nodes.len());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !nodes.iter().all(|n| n.hub.is_ready()) {
        assert!(Instant::now() < deadline, "hubs not subscribed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn broadcasts_reach_every_other_server_once_and_except_holds_across_them() {
    let Some(redis) = Redis::start() else { return };
    let (mut a, mut b) = (
        Node::new(&redis, Duration::from_secs(5)),
        Node::new(&redis, Duration::from_secs(5)),
    );
    let (a1, _) = a.client(&["r"]);
    let (b1, b1_id) = b.client(&["r"]);
    let (b2, _) = b.client(&["r", "quiet"]);
    let (b3, _) = b.client(&[]);
    ready(&redis, &[&a, &b]);

    let n =
        a.io.of("/")
            .to("r")
            .except("quiet")
            .emit("hi", vec!["x".into()]);
    assert_eq!(n, Ok(1), "one local recipient");
    pump_until(&mut [&mut a, &mut b], "b1 gets hi", |n| {
        !n[1].got(b1, "2[\"hi\"").is_empty()
    });
    settle(&mut [&mut a, &mut b], Duration::from_millis(200));
    assert_eq!(
        a.got(a1, "2[\"hi\""),
        [r#"2["hi","x"]"#],
        "once, not echoed back"
    );
    assert_eq!(b.got(b1, "2[\"hi\""), [r#"2["hi","x"]"#]);
    assert!(b.got(b2, "2[\"hi\"").is_empty(), "except holds on B");
    assert!(b.got(b3, "2[\"hi\"").is_empty(), "not in r");

    // The other way, to the whole namespace, from a socket: all but it.
    b.io.broadcast_from(&b1_id)
        .unwrap()
        .emit("all", vec![1i64.into()])
        .unwrap();
    pump_until(&mut [&mut a, &mut b], "a1 gets all", |n| {
        !n[0].got(a1, "2[\"all\"").is_empty()
    });
    settle(&mut [&mut a, &mut b], Duration::from_millis(200));
    assert_eq!(a.got(a1, "2[\"all\"").len(), 1);
    assert!(b.got(b1, "2[\"all\"").is_empty(), "the sender is left out");
    assert_eq!(b.got(b2, "2[\"all\"").len(), 1);
    assert_eq!(b.got(b3, "2[\"all\"").len(), 1);
}

#[test]
fn server_side_operations_and_requests_cross_servers() {
    let Some(redis) = Redis::start() else { return };
    let (mut a, mut b) = (
        Node::new(&redis, Duration::from_secs(5)),
        Node::new(&redis, Duration::from_secs(5)),
    );
    let (_a1, a1_id) = a.client(&["r"]);
    let (b1, b1_id) = b.client(&["r"]);
    ready(&redis, &[&a, &b]);

    // fetchSockets from A sees both, with B's rooms; B's uid answered.
    let now = Instant::now();
    a.io.of("/").to("r").fetch_all_sockets(now).unwrap();
    pump_until(&mut [&mut a, &mut b], "fetch", |n| {
        n[0].events
            .iter()
            .any(|e| matches!(e, Event::ClusterReply { .. }))
    });
    let (answers, report) = a.take_reply().unwrap();
    let Answers::Sockets(sockets) = answers else {
        panic!("{answers:?}")
    };
    let ids: Vec<&SocketId> = sockets.iter().map(|s| &s.id).collect();
    assert_eq!(ids, [&a1_id, &b1_id]);
    // Rooms as a set: their order follows the names, and a sid is random.
    let mut rooms = sockets[1].rooms.clone();
    rooms.sort();
    let mut want = vec![b1_id.to_string(), "r".to_string()];
    want.sort();
    assert_eq!(rooms, want);
    assert_eq!(report.expected, Some(1));
    assert_eq!(report.answered, 1);
    assert_eq!(report.responders, [b.hub.uid().to_owned()]);
    assert!(!report.timed_out);

    // socketsJoin from A puts B's socket in a room; allRooms sees it.
    let refused = a.io.of("/").to(b1_id.as_str()).sockets_join(&["joined"]);
    assert!(refused.is_empty());
    pump_until(&mut [&mut a, &mut b], "remote join", |n| {
        n[1].io
            .rooms(&b1_id)
            .unwrap()
            .contains(&"joined".to_owned())
    });
    a.io.all_rooms("/", Instant::now()).unwrap();
    pump_until(&mut [&mut a, &mut b], "all rooms", |n| {
        n[0].events
            .iter()
            .any(|e| matches!(e, Event::ClusterReply { .. }))
    });
    let (answers, _) = a.take_reply().unwrap();
    let Answers::Rooms(rooms) = answers else {
        panic!()
    };
    assert!(rooms.contains(&"joined".to_owned()) && rooms.contains(&"r".to_owned()));
    assert!(rooms.contains(&b1_id.to_string()) && rooms.contains(&a1_id.to_string()));

    // socketsLeave too.
    a.io.of("/").to("joined").sockets_leave(&["joined"]);
    pump_until(&mut [&mut a, &mut b], "remote leave", |n| {
        !n[1]
            .io
            .rooms(&b1_id)
            .unwrap()
            .contains(&"joined".to_owned())
    });

    // serverSideEmit with an ack: B hears it and answers.
    a.io.server_side_emit_with_ack("/", "hello", vec!["from a".into()], Instant::now())
        .unwrap();
    pump_until(&mut [&mut a, &mut b], "server-side emit", |n| {
        n[1].events
            .iter()
            .any(|e| matches!(e, Event::ServerSideEmit { .. }))
    });
    let i = b
        .events
        .iter()
        .position(|e| matches!(e, Event::ServerSideEmit { .. }))
        .unwrap();
    let Event::ServerSideEmit {
        name, args, ack, ..
    } = b.events.remove(i)
    else {
        unreachable!()
    };
    assert_eq!((name.as_str(), args), ("hello", vec!["from a".into()]));
    b.io.server_side_ack(ack.unwrap(), "hi a".into()).unwrap();
    pump_until(&mut [&mut a, &mut b], "server-side ack", |n| {
        n[0].events
            .iter()
            .any(|e| matches!(e, Event::ClusterReply { .. }))
    });
    let (answers, report) = a.take_reply().unwrap();
    assert_eq!(answers, Answers::Acks(vec!["hi a".into()]));
    assert_eq!((report.answered, report.timed_out), (1, false));
    // Without an ack: B hears it with nothing to answer.
    a.io.server_side_emit("/", "note", vec![], Instant::now())
        .unwrap();
    pump_until(&mut [&mut a, &mut b], "server-side emit without ack", |n| {
        n[1].events
            .iter()
            .any(|e| matches!(e, Event::ServerSideEmit { name, ack: None, .. } if name == "note"))
    });

    // A broadcast with acks collects B's clients' answers.
    let gid =
        a.io.of("/")
            .to("r")
            .emit_with_ack("q", vec![], Duration::from_secs(5), Instant::now())
            .unwrap();
    pump_until(&mut [&mut a, &mut b], "the question on B", |n| {
        !n[1].got(b1, "2").iter().all(|t| !t.contains("[\"q\"]"))
    });
    let question = b
        .got(b1, "2")
        .into_iter()
        .find(|t| t.contains("[\"q\"]"))
        .unwrap();
    let ack_id: String = question[1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let a_question = a
        .got(_a1, "2")
        .into_iter()
        .find(|t| t.contains("[\"q\"]"))
        .unwrap();
    let a_ack: String = a_question[1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let now = Instant::now();
    b.io.on_message(b1, Payload::Text(format!("3{ack_id}[\"from b\"]")), now);
    a.io.on_message(_a1, Payload::Text(format!("3{a_ack}[\"from a\"]")), now);
    pump_until(&mut [&mut a, &mut b], "broadcast acks", |n| {
        n[0].events
            .iter()
            .any(|e| matches!(e, Event::BroadcastAck { .. }))
    });
    let done = a
        .events
        .iter()
        .find(|e| matches!(e, Event::BroadcastAck { .. }))
        .unwrap();
    assert_eq!(
        done,
        &Event::BroadcastAck {
            id: gid,
            responses: vec![(a1_id.clone(), vec!["from a".into()])],
            remote: vec!["from b".into()],
            complete: true,
        }
    );

    // disconnectSockets from A disconnects B's socket.
    a.io.of("/")
        .to(b1_id.as_str())
        .disconnect_sockets(false, Instant::now());
    pump_until(&mut [&mut a, &mut b], "remote disconnect", |n| {
        n[1].events
            .iter()
            .any(|e| matches!(e, Event::Disconnect { .. }))
    });
    assert!(b.io.rooms(&b1_id).is_err(), "gone from B");
    assert!(!b.got(b1, "1").is_empty(), "told with a DISCONNECT packet");
}

#[test]
fn a_silent_server_makes_requests_time_out_with_a_report() {
    let Some(redis) = Redis::start() else { return };
    let timeout = Duration::from_millis(700);
    let (mut a, mut b) = (Node::new(&redis, timeout), Node::new(&redis, timeout));
    // C subscribes but its loop never runs: it never answers.
    let c = Node::new(&redis, timeout);
    a.client(&[]);
    b.client(&[]);
    ready(&redis, &[&a, &b, &c]);
    let started = Instant::now();
    a.io.of("/").fetch_all_sockets(started).unwrap();
    pump_until(&mut [&mut a, &mut b], "the timeout", |n| {
        n[0].events
            .iter()
            .any(|e| matches!(e, Event::ClusterReply { .. }))
    });
    let elapsed = started.elapsed();
    let (answers, report) = a.take_reply().unwrap();
    let Answers::Sockets(sockets) = answers else {
        panic!()
    };
    assert_eq!(sockets.len(), 2, "A's and B's, not C's");
    assert_eq!(report.expected, Some(2));
    assert_eq!(report.answered, 1);
    assert_eq!(report.responders, [b.hub.uid().to_owned()]);
    assert!(report.timed_out);
    assert!(elapsed >= timeout, "not before the timeout: {elapsed:?}");
    // B keeps serving meanwhile.
    let (b9, _) = b.client(&["late"]);
    a.io.of("/").to("late").emit("still", vec![]).unwrap();
    pump_until(
        &mut [&mut a, &mut b],
        "a broadcast after the timeout",
        |n| !n[1].got(b9, "2[\"still\"").is_empty(),
    );
    drop(c);
}

#[test]
fn a_redis_restart_is_survived_and_broadcasts_work_again() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let (mut a, mut b) = (
        Node::new(&redis, Duration::from_millis(500)),
        Node::new(&redis, Duration::from_millis(500)),
    );
    let (_, _) = a.client(&["r"]);
    let (b1, _) = b.client(&["r"]);
    ready(&redis, &[&a, &b]);
    redis.stop();
    // During the outage: broadcasts are lost (at-most-once), requests fail
    // or time out, and nothing blocks or panics.
    a.io.of("/").to("r").emit("lost", vec![]).unwrap();
    a.io.of("/").fetch_all_sockets(Instant::now()).unwrap();
    pump_until(
        &mut [&mut a, &mut b],
        "the request during the outage",
        |n| {
            n[0].events
                .iter()
                .any(|e| matches!(e, Event::ClusterReply { .. }))
        },
    );
    let (_, report) = a.take_reply().unwrap();
    assert!(
        report.error.is_some() || report.timed_out,
        "the outage shows in the report: {report:?}"
    );
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(a.hub.reconnects() >= 1
        && b.hub.reconnects() >= 1
        && a.hub.is_ready()
        && b.hub.is_ready())
    {
        assert!(Instant::now() < deadline, "the hubs never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
    ready(&redis, &[&a, &b]);
    a.io.of("/").to("r").emit("back", vec![]).unwrap();
    pump_until(
        &mut [&mut a, &mut b],
        "a broadcast after the restart",
        |n| !n[1].got(b1, "2[\"back\"").is_empty(),
    );
    assert!(
        b.got(b1, "2[\"lost\"").is_empty(),
        "what was sent during the outage is gone"
    );
}

#[test]
fn a_blocked_redis_does_not_stall_the_server() {
    let Some(redis) = Redis::start() else { return };
    let timeout = Duration::from_millis(500);
    let (mut a, mut b) = (Node::new(&redis, timeout), Node::new(&redis, timeout));
    let (a1, _) = a.client(&["r"]);
    let (b1, _) = b.client(&["r"]);
    ready(&redis, &[&a, &b]);
    redis.pause();
    // Everything the application does returns at once: the adapter only
    // queues for its I/O threads, which are the ones stuck on Redis.
    let started = Instant::now();
    for i in 0..200i64 {
        a.io.of("/").to("r").emit("tick", vec![i.into()]).unwrap();
    }
    a.io.of("/").fetch_all_sockets(Instant::now()).unwrap();
    a.pump();
    let spent = started.elapsed();
    assert!(
        spent < Duration::from_secs(1),
        "the loop waited for Redis: {spent:?}"
    );
    assert_eq!(
        a.got(a1, "2[\"tick\"").len(),
        200,
        "local clients are served"
    );
    // The request ends at its own deadline, Redis or not.
    pump_until(&mut [&mut a, &mut b], "the request's deadline", |n| {
        n[0].events
            .iter()
            .any(|e| matches!(e, Event::ClusterReply { .. }))
    });
    let (_, report) = a.take_reply().unwrap();
    assert!(report.timed_out || report.error.is_some(), "{report:?}");
    redis.resume();
    // Once Redis answers again, broadcasts cross again.
    pump_until(&mut [&mut a, &mut b], "a broadcast after the freeze", |n| {
        n[0].io.of("/").to("r").emit("after", vec![]).unwrap();
        !n[1].got(b1, "2[\"after\"").is_empty()
    });
}
