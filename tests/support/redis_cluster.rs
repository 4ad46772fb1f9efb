//! A 3-node Redis 7 Cluster of the caller's own: three `redis-server
//! --cluster-enabled yes` on free loopback ports (their bus ports, +10000,
//! free too) in a temp dir, joined by `redis-cli --cluster create`, no
//! replicas. Killed and removed on drop. `None` (after saying why) without
//! Redis 7 or redis-cli. Used by `benches/redis_cpu.rs` and `tests/ch06_sharded.rs`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisCluster {
    nodes: Vec<Child>,
    pub ports: Vec<u16>,
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

fn query(port: u16, cmd: &redis::Cmd) -> Option<String> {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
        .and_then(|mut con| cmd.query::<String>(&mut con))
        .ok()
}

impl RedisCluster {
    pub fn start() -> Option<RedisCluster> {
        match redis_major() {
            Some(v) if v >= 7 => {}
            Some(v) => {
                eprintln!("SKIPPED: Redis {v} has no sharded pub/sub (7 or later needed)");
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI is set: a check that CI sets up must not be skipped"
                );
                return None;
            }
            None => {
                eprintln!(
                    "SKIPPED: redis-server or redis-cli is not installed (apt-get install \
                     redis-server; scripts/test-all installs it when run as root)"
                );
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI is set: a check that CI sets up must not be skipped"
                );
                return None;
            }
        }
        let dir = std::env::temp_dir().join(format!("netladder-cluster-{}", std::process::id()));
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
        let ping = redis::cmd("PING");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cluster.ports.iter().all(|p| query(*p, &ping).is_some()) {
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
        let mut info = redis::cmd("CLUSTER");
        info.arg("INFO");
        let ok = |p: &u16| query(*p, &info).is_some_and(|i| i.contains("cluster_state:ok"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.ports.iter().all(ok) {
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(cluster)
    }

    /// The URL of node `i` (mod 3).
    pub fn url(&self, i: usize) -> String {
        format!("redis://127.0.0.1:{}", self.ports[i % self.ports.len()])
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
