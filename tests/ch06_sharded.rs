//! Chapter 6's sharded variant, with real servers: a 3-node Redis 7
//! Cluster of the test's own (three `redis-server --cluster-enabled yes`
//! on free loopback ports, joined by `redis-cli --cluster create`), two
//! `ch05-sio-server --redis URL --redis-sharded` and one Node socket.io
//! server on the official `createShardedAdapter`. The Node side
//! (tests/node/redis_sharded_peer.mjs) puts an official socket.io-client on
//! each server in one room and checks: each one's room broadcast reaches
//! all the others exactly once, `except` holds, socketsJoin both ways,
//! disconnectSockets from Node. Skipped with a message without Redis 7,
//! redis-cli or the Node peers.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Three cluster nodes in a temp dir; killed and removed on drop.
struct RedisCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    dir: PathBuf,
}

/// Redis's major version, if redis-server and redis-cli are installed.
fn redis_major() -> Option<u32> {
    let out = Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()?;
    Command::new("redis-cli").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.split("v=").nth(1)?;
    v.split('.').next()?.parse().ok()
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        if port < 55000 && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

fn ping(port: u16) -> bool {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
        .and_then(|mut con| redis::cmd("PING").query::<String>(&mut con))
        .is_ok()
}

fn cluster_ok(port: u16) -> bool {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
        .and_then(|mut con| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut con))
        .is_ok_and(|info| info.contains("cluster_state:ok"))
}

impl RedisCluster {
    fn start() -> Option<RedisCluster> {
        match redis_major() {
            Some(v) if v >= 7 => {}
            Some(v) => {
                eprintln!("SKIPPED: Redis {v} has no sharded pub/sub (7 or later needed)");
                return None;
            }
            None => {
                eprintln!(
                    "SKIPPED: redis-server or redis-cli is not installed (apt-get install \
                     redis-server; scripts/test-all installs it when run as root)"
                );
                return None;
            }
        }
        let dir = std::env::temp_dir().join(format!("netladder-sharded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let mut cluster = RedisCluster {
            nodes: Vec::new(),
            ports: Vec::new(),
            dir,
        };
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(cluster.dir.join(format!("nodes-{port}.conf")))
                .arg("--dir")
                .arg(&cluster.dir)
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts");
            cluster.nodes.push(child);
            cluster.ports.push(port);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cluster.ports.iter().all(|p| ping(*p)) {
            assert!(Instant::now() < deadline, "the cluster nodes did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let addrs: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.ports.iter().all(|p| cluster_ok(*p)) {
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(cluster)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.ports[0])
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for c in &mut self.nodes {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
    let a = Sio::start(&cluster.url());
    let b = Sio::start(&format!("redis://127.0.0.1:{}", cluster.ports[2]));
    let ports: Vec<String> = cluster.ports.iter().map(u16::to_string).collect();
    let mut peer = Command::new("node")
        .arg(dir.join("redis_sharded_peer.mjs"))
        .args([&ports.join(","), &a.addr, &b.addr])
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
    if seen.last().map(String::as_str) != Some("ok done") {
        let _ = peer.kill();
    }
    let status = peer.wait().unwrap();
    let expected = [
        "ok connected",
        "ok broadcast",
        "ok except",
        "ok socketsJoin",
        "ok disconnectSockets",
        "ok done",
    ];
    assert_eq!(seen, expected, "the Node peer's steps");
    assert!(status.success(), "the Node peer exited with {status}");
}
