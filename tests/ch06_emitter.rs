//! Chapter 6's emitter interop with the real thing: Node's official
//! `@socket.io/redis-emitter` 5.1.0 (tests/node/redis_emitter_peer.mjs)
//! reaches official socket.io-clients on two netladder servers
//! (`ch05-sio-server --redis URL`), one on WebSocket and one polling, over
//! one `redis-server` of the test's own: to a room, to the namespace, with
//! `except`, with binary, and socketsJoin / socketsLeave /
//! disconnectSockets. Skipped with a message without redis-server or the
//! Node peers.

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
fn nodes_official_emitter_reaches_clients_on_netladder_servers() {
    let Some(redis) = Redis::start() else { return };
    let Some(dir) = node_peers(&["@socket.io/redis-emitter", "socket.io-client"]) else {
        return;
    };
    let a = Sio::start(&redis.url(), &[]);
    let b = Sio::start(&redis.url(), &[]);
    let args = [redis.url(), a.addr.clone(), b.addr.clone()];
    let expected = [
        "ok connected",
        "ok room",
        "ok namespace",
        "ok except",
        "ok binary",
        "ok other room",
        "ok socketsJoin",
        "ok socketsLeave",
        "ok disconnectSockets",
        "ok done",
    ];
    node_peer_passes(
        &dir,
        "redis_emitter_peer.mjs",
        &args,
        Duration::from_secs(70),
        &expected,
    );
}
