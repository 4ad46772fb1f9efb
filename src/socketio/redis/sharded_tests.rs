//! The sharded adapter's requests and answers without Redis: messages go
//! into its mailbox as the subscriber threads would put them, and what it
//! publishes comes out of the publisher's queue. The JSON from "Node" is
//! what `socket.io-adapter` 2.5.9's `ClusterAdapter` builds (`{type, data}`
//! then `uid` and `nsp`, through `JSON.stringify`).

use super::*;
use crate::socketio::SocketInfo;
use crate::socketio::packet::Packet;

const OURS: &str = "0123456789abcdef";
const NODE: &str = "fedcba9876543210";
const OTHER: &str = "00000000ffffffff";

fn adapter() -> (ShardedAdapter, Receiver<Command>, Arc<Shared>) {
    let opts = RedisOptions::new("redis://127.0.0.1:1");
    let shared = Arc::new(Shared::new(opts, OURS.into(), Arc::new(|| {})));
    let (commands, queue) = mpsc::sync_channel(16);
    let a = ShardedAdapter::new("/", Arc::clone(&shared), commands);
    (a, queue, shared)
}

fn hear(shared: &Shared, message: &str) {
    shared.deliver("/", Incoming::Message(message.as_bytes().to_vec()));
}

/// The next plain publish: `(channel, payload)`.
fn published(queue: &Receiver<Command>) -> (String, Vec<u8>) {
    match queue.try_recv() {
        Ok(Command::Publish { channel, payload }) => (channel, payload),
        Ok(Command::Request { .. }) => panic!("a request, not a publish"),
        Err(e) => panic!("nothing published: {e}"),
    }
}

/// The next request: `(request id, its JSON)`, after checking that the
/// servers are counted on the namespace's channel, where it goes too.
fn requested(queue: &Receiver<Command>) -> (String, serde_json::Value) {
    match queue.try_recv() {
        Ok(Command::Request {
            nsp,
            request_id,
            count,
            channel,
            payload,
        }) => {
            assert_eq!(nsp, "/");
            assert_eq!(count, "socket.io#/#");
            assert_eq!(channel, "socket.io#/#");
            (request_id, serde_json::from_slice(&payload).unwrap())
        }
        _ => panic!("no request"),
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

fn socket(id: &str, rooms: &[&str]) -> SocketInfo {
    SocketInfo {
        id: SocketId::new(id),
        nsp: "/".into(),
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        data: serde_json::json!({"name": id}),
        auth: Value::Null,
        handshake: serde_json::json!({"query": {}}),
    }
}

#[test]
fn nodes_requests_reach_the_server_and_answers_go_to_the_requesters_channel() {
    let (mut a, queue, shared) = adapter();
    let t0 = Instant::now();
    // io.in("room1").fetchSockets() on a Node server.
    hear(
        &shared,
        r#"{"type":7,"data":{"opts":{"rooms":["room1"],"except":["x"],"flags":{}},"requestId":"r1"},"uid":"fedcba9876543210","nsp":"/"}"#,
    );
    let Some(Remote::Fetch { to, opts }) = a.poll_remote(t0) else {
        panic!("no fetch")
    };
    assert_eq!(to.uid.as_deref(), Some(NODE));
    assert_eq!(opts.rooms, ["room1".to_owned()].into());
    assert_eq!(opts.except, ["x".to_owned()].into());
    let sockets = vec![socket("s1", &["s1", "room1"])];
    a.reply(Reply::Sockets { to, sockets });
    let (channel, payload) = published(&queue);
    assert_eq!(channel, "socket.io#/#fedcba9876543210#");
    assert_eq!(
        text(&payload),
        r#"{"type":8,"data":{"requestId":"r1","sockets":[{"data":{"name":"s1"},"handshake":{"query":{}},"id":"s1","rooms":["s1","room1"]}]},"uid":"0123456789abcdef","nsp":"/"}"#
    );

    // io.serverSideEmitWithAck("hello", 1).
    hear(
        &shared,
        r#"{"type":9,"data":{"requestId":"r2","packet":["hello",1]},"uid":"fedcba9876543210","nsp":"/"}"#,
    );
    let Some(Remote::ServerSideEmit { name, args, ack }) = a.poll_remote(t0) else {
        panic!("no server-side emit")
    };
    assert_eq!((name.as_str(), args), ("hello", vec![Value::from(1i64)]));
    let to = ack.expect("an ack is wanted");
    a.reply(Reply::ServerSideAck {
        to,
        value: "netladder".into(),
    });
    let (channel, payload) = published(&queue);
    assert_eq!(channel, "socket.io#/#fedcba9876543210#");
    assert_eq!(
        text(&payload),
        r#"{"type":10,"data":{"requestId":"r2","packet":"netladder"},"uid":"0123456789abcdef","nsp":"/"}"#
    );
    // Without an ack, and without an event name.
    hear(
        &shared,
        r#"{"type":9,"data":{"packet":["note"]},"uid":"fedcba9876543210","nsp":"/"}"#,
    );
    assert!(matches!(
        a.poll_remote(t0),
        Some(Remote::ServerSideEmit { ack: None, .. })
    ));
    hear(
        &shared,
        r#"{"type":9,"data":{"packet":[1]},"uid":"fedcba9876543210","nsp":"/"}"#,
    );
    assert!(a.poll_remote(t0).is_none());

    // io.to("room1").timeout(3000).emitWithAck("question"): Node sends the
    // packet without nsp and without id.
    hear(
        &shared,
        r#"{"type":3,"data":{"packet":{"type":2,"data":["question"]},"requestId":"r3","opts":{"rooms":["room1"],"except":[],"flags":{"timeout":3000}}},"uid":"fedcba9876543210","nsp":"/"}"#,
    );
    let Some(Remote::BroadcastWithAck {
        to,
        packet,
        opts,
        timeout,
    }) = a.poll_remote(t0)
    else {
        panic!("no broadcast with acks")
    };
    assert_eq!(timeout, Duration::from_millis(3000));
    assert_eq!(packet.nsp, "/");
    assert_eq!(opts.rooms, ["room1".to_owned()].into());
    a.reply(Reply::ClientCount {
        to: to.clone(),
        clients: 2,
    });
    let (channel, payload) = published(&queue);
    assert_eq!(channel, "socket.io#/#fedcba9876543210#");
    assert_eq!(
        text(&payload),
        r#"{"type":11,"data":{"requestId":"r3","clientCount":2},"uid":"0123456789abcdef","nsp":"/"}"#
    );
    a.reply(Reply::Ack {
        to: to.clone(),
        value: "A".into(),
    });
    assert_eq!(
        text(&published(&queue).1),
        r#"{"type":12,"data":{"requestId":"r3","packet":"A"},"uid":"0123456789abcdef","nsp":"/"}"#
    );
    // An ack holding binary goes as msgpack, as notepack would write it.
    a.reply(Reply::Ack {
        to,
        value: Value::binary([1, 2]),
    });
    let (_, bin) = published(&queue);
    assert_ne!(bin.first(), Some(&b'{'));
    let back = ClusterMessage::<ResponseData>::decode(&bin).unwrap();
    assert_eq!(back.kind, MessageType::BroadcastAck as u8);
    assert_eq!(back.data.unwrap().packet, Some(Value::binary([1, 2])));
}

#[test]
fn heartbeats_our_own_messages_and_garbage_are_ignored() {
    let (mut a, queue, shared) = adapter();
    let t0 = Instant::now();
    for message in [
        r#"{"type":1,"uid":"fedcba9876543210","nsp":"/"}"#,
        r#"{"type":2,"uid":"fedcba9876543210","nsp":"/"}"#,
        r#"{"type":13,"uid":"fedcba9876543210","nsp":"/"}"#,
        r#"{"type":99,"uid":"fedcba9876543210","nsp":"/"}"#,
        r#"{"type":7,"data":{"opts":{"rooms":[]},"requestId":"r"},"uid":"0123456789abcdef","nsp":"/"}"#,
        r#"{"type":7,"data":{"opts":{"rooms":[]},"requestId":"r"},"uid":"fedcba9876543210","nsp":"/other"}"#,
        r#"{"type":7,"uid":"fedcba9876543210","nsp":"/"}"#,
        r#"{"type":8,"data":{"requestId":"nobody's","sockets":[]},"uid":"fedcba9876543210","nsp":"/"}"#,
        r#"{"type":"#,
        "\u{c1}",
    ] {
        hear(&shared, message);
    }
    assert!(a.poll_remote(t0).is_none());
    assert!(queue.try_recv().is_err(), "nothing to answer");
}

// ANCHOR: fetch_test
#[test]
fn our_fetch_waits_for_every_counted_server() {
    let (mut a, queue, shared) = adapter();
    let t0 = Instant::now();
    let opts = BroadcastOptions {
        rooms: ["room1".to_owned()].into(),
        ..BroadcastOptions::default()
    };
    assert!(a.cluster_request(RequestId(7), ClusterRequest::FetchSockets(opts), t0));
    let (rid, json) = requested(&queue);
    assert_eq!(
        json,
        serde_json::json!({"type": 7, "data": {"opts": {"rooms": ["room1"], "except": [],
            "flags": {}}, "requestId": rid}, "uid": OURS, "nsp": "/"})
    );
    // Three servers on the namespace's channel: we and two others.
    let servers = Incoming::Servers {
        request_id: rid.clone(),
        count: Ok(3),
    };
    shared.deliver("/", servers);
    assert!(a.poll_remote(t0).is_none());
    let answer = |uid: &str, id: &str| {
        format!(
            r#"{{"type":8,"data":{{"requestId":"{rid}","sockets":[{{"id":"{id}","handshake":{{}},"rooms":["{id}","room1"],"data":null}}]}},"uid":"{uid}","nsp":"/"}}"#
        )
    };
    hear(&shared, &answer(NODE, "n1"));
    assert!(a.poll_remote(t0).is_none(), "one of two");
    hear(&shared, &answer(OTHER, "b1"));
    let Some(Remote::Done {
        id,
        answers: Answers::Sockets(sockets),
        report,
    }) = a.poll_remote(t0)
    else {
        panic!("not done")
    };
    assert_eq!(id, RequestId(7));
    let ids: Vec<&str> = sockets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["n1", "b1"]);
    assert_eq!(sockets[0].rooms, ["n1", "room1"]);
    assert_eq!(report.expected, Some(2));
    assert_eq!(report.answered, 2);
    assert_eq!(report.responders, [NODE, OTHER]);
    assert!(!report.timed_out);
    assert_eq!(a.poll_timeout(), None);
    hear(&shared, &answer(OTHER, "late"));
    assert!(a.poll_remote(t0).is_none(), "too late");
}
// ANCHOR_END: fetch_test

#[test]
fn a_request_times_out_and_says_who_answered() {
    let (mut a, queue, shared) = adapter();
    let t0 = Instant::now();
    let request = ClusterRequest::ServerSideEmitWithAck(vec!["hello".into()]);
    assert!(a.cluster_request(RequestId(1), request, t0));
    let (rid, json) = requested(&queue);
    assert_eq!(
        json,
        serde_json::json!({"type": 9, "data": {"requestId": rid, "packet": ["hello"]},
            "uid": OURS, "nsp": "/"})
    );
    shared.deliver(
        "/",
        Incoming::Servers {
            request_id: rid.clone(),
            count: Ok(3),
        },
    );
    hear(
        &shared,
        &format!(
            r#"{{"type":10,"data":{{"requestId":"{rid}","packet":"node"}},"uid":"{NODE}","nsp":"/"}}"#
        ),
    );
    assert!(a.poll_remote(t0).is_none());
    assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    a.handle_timeout(t0 + Duration::from_millis(4999));
    assert!(a.poll_remote(t0).is_none(), "not yet");
    a.handle_timeout(t0 + Duration::from_secs(5));
    let Some(Remote::Done {
        answers: Answers::Acks(acks),
        report,
        ..
    }) = a.poll_remote(t0)
    else {
        panic!("not done")
    };
    assert_eq!(acks, [Value::from("node")]);
    assert!(report.timed_out);
    assert_eq!((report.expected, report.answered), (Some(2), 1));
    assert_eq!(report.responders, [NODE]);
}

#[test]
fn alone_or_without_redis_a_request_ends_at_once() {
    let (mut a, queue, shared) = adapter();
    let t0 = Instant::now();
    let fetch = || ClusterRequest::FetchSockets(BroadcastOptions::default());
    a.cluster_request(RequestId(1), fetch(), t0);
    let (rid, _) = requested(&queue);
    let servers = Incoming::Servers {
        request_id: rid,
        count: Ok(1),
    };
    shared.deliver("/", servers);
    let Some(Remote::Done { report, .. }) = a.poll_remote(t0) else {
        panic!("not done")
    };
    assert_eq!((report.expected, report.timed_out), (Some(0), false));

    a.cluster_request(RequestId(2), fetch(), t0);
    let (rid, _) = requested(&queue);
    let servers = Incoming::Servers {
        request_id: rid,
        count: Err("cannot reach 127.0.0.1:1".into()),
    };
    shared.deliver("/", servers);
    let Some(Remote::Done { id, report, .. }) = a.poll_remote(t0) else {
        panic!("not done")
    };
    assert_eq!(id, RequestId(2));
    assert_eq!(report.expected, None);
    assert!(report.error.unwrap().contains("cannot reach"));

    // No all-rooms message in this protocol: said at once.
    assert!(a.cluster_request(RequestId(3), ClusterRequest::AllRooms, t0));
    let Some(Remote::Done {
        id,
        answers,
        report,
    }) = a.poll_remote(t0)
    else {
        panic!("not done")
    };
    assert_eq!((id, answers), (RequestId(3), Answers::Rooms(Vec::new())));
    assert!(report.error.unwrap().contains("no all-rooms"));
    assert!(queue.try_recv().is_err(), "nothing published for it");
}

#[test]
fn our_broadcast_with_acks_counts_servers_then_forwards_each_ack() {
    let (mut a, queue, shared) = adapter();
    let t0 = Instant::now();
    let packet = Arc::new(Packet::event("/", "question", vec![], None).encode());
    let opts = BroadcastOptions {
        rooms: ["room1".to_owned()].into(),
        ..BroadcastOptions::default()
    };
    let request = ClusterRequest::BroadcastWithAck {
        packet,
        opts,
        timeout: Duration::from_millis(3000),
    };
    assert!(a.cluster_request(RequestId(4), request, t0));
    // On the namespace's channel (not the room's): every server counts.
    let (rid, json) = requested(&queue);
    assert_eq!(
        json,
        serde_json::json!({"type": 3, "data": {"packet": {"type": 2, "data": ["question"],
            "nsp": "/"}, "requestId": rid, "opts": {"rooms": ["room1"], "except": [],
            "flags": {"timeout": 3000}}}, "uid": OURS, "nsp": "/"})
    );
    shared.deliver(
        "/",
        Incoming::Servers {
            request_id: rid.clone(),
            count: Ok(3),
        },
    );
    assert!(matches!(
        a.poll_remote(t0),
        Some(Remote::Servers {
            id: RequestId(4),
            servers: 2
        })
    ));
    hear(
        &shared,
        &format!(
            r#"{{"type":11,"data":{{"requestId":"{rid}","clientCount":1}},"uid":"{NODE}","nsp":"/"}}"#
        ),
    );
    hear(
        &shared,
        &format!(
            r#"{{"type":12,"data":{{"requestId":"{rid}","packet":"N"}},"uid":"{NODE}","nsp":"/"}}"#
        ),
    );
    assert!(matches!(
        a.poll_remote(t0),
        Some(Remote::ClientCount {
            id: RequestId(4),
            clients: 1
        })
    ));
    let Some(Remote::Ack { id, value }) = a.poll_remote(t0) else {
        panic!("no ack")
    };
    assert_eq!((id, value), (RequestId(4), Value::from("N")));
    // At its deadline it ends quietly (the server's own timer reports it).
    assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_millis(3000)));
    a.handle_timeout(t0 + Duration::from_millis(3000));
    assert!(a.poll_remote(t0).is_none());
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn broadcasts_and_operations_keep_working() {
    let (mut a, queue, shared) = adapter();
    let t0 = Instant::now();
    hear(
        &shared,
        r#"{"type":3,"data":{"packet":{"type":2,"data":["said","x"]},"opts":{"rooms":["r"],"except":[],"flags":{}}},"uid":"fedcba9876543210","nsp":"/"}"#,
    );
    assert!(matches!(a.poll_remote(t0), Some(Remote::Broadcast { .. })));
    hear(
        &shared,
        r#"{"type":6,"data":{"opts":{"rooms":["r"],"except":[],"flags":{}},"close":true},"uid":"fedcba9876543210","nsp":"/"}"#,
    );
    assert!(matches!(
        a.poll_remote(t0),
        Some(Remote::Op {
            op: ServerSideOp::Disconnect { close: true },
            ..
        })
    ));
    let request = ClusterRequest::ServerSideEmit(vec!["note".into()]);
    a.cluster_request(RequestId(1), request, t0);
    let (channel, payload) = published(&queue);
    assert_eq!(channel, "socket.io#/#");
    assert_eq!(
        text(&payload),
        r#"{"type":9,"data":{"packet":["note"]},"uid":"0123456789abcdef","nsp":"/"}"#
    );
    assert_eq!(a.poll_timeout(), None, "nothing to wait for");
}
