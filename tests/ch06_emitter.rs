//! Chapter 6's emitter interop with the real thing: Node's official
//! `@socket.io/redis-emitter` 5.1.0 (tests/node/redis_emitter_peer.mjs)
//! reaches official socket.io-clients on two netladder servers
//! (`ch05-sio-server --redis URL`), one on WebSocket and one polling, over
//! one `redis-server` of the test's own: to a room, to the namespace, with
//! `except`, with binary, and socketsJoin / socketsLeave /
//! disconnectSockets. Skipped with a message without redis-server or the
//! Node peers.

#[path = "support/redis.rs"]
#[allow(dead_code)] // the restart helpers serve tests/ch06_cluster.rs
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::Redis;

/// A `ch05-sio-server --redis`, killed on drop.
struct Sio {
    child: Child,
    addr: String,
}

impl Sio {
    fn start(redis: &Redis) -> Sio {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ch05-sio-server"))
            .args(["--addr", "127.0.0.1:0", "--redis", &redis.url()])
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_peers() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let installed = dir.join("node_modules/@socket.io/redis-emitter").is_dir()
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
fn nodes_official_emitter_reaches_clients_on_netladder_servers() {
    let Some(redis) = Redis::start() else { return };
    let Some(dir) = node_peers() else { return };
    let a = Sio::start(&redis);
    let b = Sio::start(&redis);
    let mut peer = Command::new("node")
        .arg(dir.join("redis_emitter_peer.mjs"))
        .args([&redis.url(), &a.addr, &b.addr])
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
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(70)) {
        eprintln!("node: {line}");
        let last = line == "ok done" || line.starts_with("FAIL");
        seen.push(line);
        if last {
            break;
        }
    }
    let status = peer.wait().unwrap();
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
    assert_eq!(seen, expected, "the Node peer's steps");
    assert!(status.success(), "the Node peer exited with {status}");
}
