//! Chapter 6's sharded variant, with real servers: a 3-node Redis 7
//! Cluster of the test's own (three `redis-server --cluster-enabled yes`
//! on free loopback ports, joined by `redis-cli --cluster create`), two
//! `ch05-sio-server --redis URL --redis-sharded` and one Node socket.io
//! server on the official `createShardedAdapter`. The Node side
//! (tests/node/redis_sharded_peer.mjs) puts an official socket.io-client on
//! each server in one room and checks: each one's room broadcast reaches
//! all the others exactly once, `except` holds, socketsJoin both ways;
//! Node counts our servers (SHARDNUMSUB), fetchSockets and serverSideEmit
//! with acks go both ways, a broadcast with acks collects from the clients
//! of all three servers; disconnectSockets from Node; then netladder B
//! stops (SIGSTOP) and requests from both sides time out with a report.
//! Skipped with a message without Redis 7, redis-cli or the Node peers.

#[path = "support/cluster.rs"]
#[allow(dead_code)] // each test file uses its own subset
mod cluster;
#[path = "support/redis_cluster.rs"]
mod redis_cluster;

use std::time::Duration;

use cluster::{Sio, node_peer_passes, node_peers};
use redis_cluster::RedisCluster;

#[test]
fn netladder_and_node_share_a_redis_cluster_over_sharded_pubsub() {
    let Some(dir) = node_peers(&["@socket.io/redis-adapter", "socket.io-client"]) else {
        return;
    };
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    // Any node of the cluster will do: each server gets a different one.
    let a = Sio::start(&cluster.url(0), &["--redis-sharded"]);
    let b = Sio::start(&cluster.url(2), &["--redis-sharded"]);
    let ports: Vec<String> = cluster.ports.iter().map(u16::to_string).collect();
    // The peer stops B (SIGSTOP) for its fault step; B's drop resumes it.
    let args = [
        ports.join(","),
        a.addr.clone(),
        b.addr.clone(),
        b.child.id().to_string(),
    ];
    let expected = [
        "ok connected",
        "ok broadcast",
        "ok except",
        "ok socketsJoin",
        "ok serverCount",
        "ok fetchSockets",
        "ok serverSideEmit",
        "ok broadcast with ack",
        "ok disconnectSockets",
        "ok fault",
        "ok done",
    ];
    node_peer_passes(
        &dir,
        "redis_sharded_peer.mjs",
        &args,
        Duration::from_secs(100),
        &expected,
    );
}
