//! Chapter 6's mixed cluster, with real servers: two `ch05-sio-server
//! --redis URL` processes and one Node socket.io server on the official
//! `@socket.io/redis-adapter`, on one `redis-server` of the test's own.
//! The Node side (tests/node/redis_mixed_peer.mjs) puts an official
//! socket.io-client on each server and checks, both ways: room broadcasts
//! reach every other client exactly once, `except` holds, fetchSockets /
//! socketsJoin / disconnectSockets act across implementations, broadcast
//! with acks and serverSideEmit collect from every server; then it stops
//! one netladder server (SIGSTOP) and checks that requests time out
//! cleanly while the others keep serving. Skipped with a message without
//! redis-server or the Node peers.

#[path = "support/cluster.rs"]
#[allow(dead_code)] // each test file uses its own subset
mod cluster;
#[path = "support/redis.rs"]
#[allow(dead_code)] // the restart helpers serve tests/ch06_cluster.rs
mod support;

use std::time::Duration;

use cluster::{Sio, node_peer_passes, node_peers};
use support::Redis;

#[test]
fn netladder_and_node_servers_serve_one_cluster() {
    let Some(redis) = Redis::start() else { return };
    let Some(dir) = node_peers(&["@socket.io/redis-adapter", "socket.io-client"]) else {
        return;
    };
    let a = Sio::start(&redis.url(), &[]);
    let b = Sio::start(&redis.url(), &[]);
    // The peer stops B (SIGSTOP) for its fault step; B's drop resumes it.
    let args = [
        redis.url(),
        a.addr.clone(),
        b.addr.clone(),
        b.child.id().to_string(),
    ];
    let expected = [
        "ok connected",
        "ok broadcast",
        "ok except",
        "ok node fetchSockets",
        "ok node socketsJoin",
        "ok rust fetchSockets",
        "ok rust socketsJoin",
        "ok broadcast with ack",
        "ok serverSideEmit",
        "ok disconnectSockets",
        "ok fault",
        "ok done",
    ];
    node_peer_passes(
        &dir,
        "redis_mixed_peer.mjs",
        &args,
        Duration::from_secs(100),
        &expected,
    );
}
