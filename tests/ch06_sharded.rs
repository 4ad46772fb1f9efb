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

#[path = "support/redis_cluster.rs"]
mod redis_cluster;
#[path = "support/redis.rs"]
#[allow(dead_code)] // the single-server helpers serve the other ch06 tests
mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redis_cluster::RedisCluster;

/// A `ch05-sio-server --redis URL --redis-sharded`, killed on drop.
struct Sio {
    child: Child,
    addr: String,
}

impl Sio {
    fn start(url: &str) -> Sio {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ch05-sio-server"))
            .args(["--addr", "127.0.0.1:0", "--redis", url, "--redis-sharded"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ch05-sio-server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Sio { child, addr }
    }
}

impl Drop for Sio {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_peers() -> Option<PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let installed = dir.join("node_modules/@socket.io/redis-adapter").is_dir()
        && dir.join("node_modules/socket.io-client").is_dir();
    if installed && Command::new("node").arg("--version").output().is_ok() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: node or the Node peers are missing (run `npm ci` in tests/node; \
             scripts/test-all does)"
        );
        None
    }
}

#[test]
fn netladder_and_node_share_a_redis_cluster_over_sharded_pubsub() {
    let Some(dir) = node_peers() else { return };
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    // Any node of the cluster will do: each server gets a different one.
    let a = Sio::start(&cluster.url(0));
    let b = Sio::start(&cluster.url(2));
    let ports: Vec<String> = cluster.ports.iter().map(u16::to_string).collect();
    let mut peer = Command::new("node")
        .arg(dir.join("redis_sharded_peer.mjs"))
        .args([&ports.join(","), &a.addr, &b.addr])
        .arg(b.child.id().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = peer.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(100)) {
        eprintln!("node: {line}");
        let last = line == "ok done" || line.starts_with("FAIL");
        seen.push(line);
        if last {
            break;
        }
    }
    if seen.last().map(String::as_str) != Some("ok done") {
        let _ = peer.kill();
    }
    let status = peer.wait().unwrap();
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
    assert_eq!(seen, expected, "the Node peer's steps");
    assert!(status.success(), "the Node peer exited with {status}");
}
