//! A `redis-server` of the test's own on a free loopback port, killed on
//! drop; it can be stopped and started again on the same port (the fault
//! tests). `None` (after saying why) when redis-server is not installed.
//! (`redis_cluster.rs` builds a Redis Cluster on these helpers.)

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
}

/// Whether redis-server is installed; says so when not (the test is then
/// skipped).
pub fn installed() -> bool {
    let there = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !there {
        eprintln!(
            "SKIPPED: redis-server is not installed (apt-get install redis-server; \
             scripts/test-all installs it when run as root)"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: a check that CI sets up must not be skipped"
        );
    }
    there
}

/// Whether a Redis answers `PING` on `127.0.0.1:port`.
pub fn ping(port: u16) -> bool {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
        .and_then(|mut con| redis::cmd("PING").query::<String>(&mut con))
        .is_ok()
}

impl Redis {
    pub fn start() -> Option<Redis> {
        if !installed() {
            return None;
        }
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut redis = Redis { child: None, port };
            if redis.spawn() {
                return Some(redis);
            }
        }
        panic!("redis-server did not start on any of 5 ports");
    }

    /// Start redis-server on `self.port`; false if it did not come up.
    fn spawn(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return false; // the port was taken meanwhile
            }
            if ping(self.port) {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// Kill the server (every connection to it breaks).
    pub fn stop(&mut self) {
        self.resume();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freeze the server (SIGSTOP): connections stay open, nothing answers.
    /// Returns once every thread of it has stopped: kill(2) returns before
    /// that (as we read it, the kernel wakes one thread to take the signal,
    /// and the others run on until it has), so a request sent right after
    /// could still be answered.
    pub fn pause(&self) {
        self.signal("-STOP");
        if let Some(c) = &self.child {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !all_threads_stopped(c.id()) {
                assert!(Instant::now() < deadline, "redis-server did not stop");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Let it run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let ok = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "kill {sig} redis-server");
        }
    }

    /// Start it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        for _ in 0..20 {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not come back on port {}", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A new connection to it.
    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// `PUBSUB NUMSUB channel`.
    pub fn numsub(&self, channel: &str) -> usize {
        let mut con = self.connection();
        let reply: Vec<(String, usize)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query(&mut con)
            .unwrap();
        reply.iter().map(|(_, n)| n).sum()
    }

    /// `PUBSUB NUMPAT`: the distinct patterns subscribed to.
    pub fn numpat(&self) -> usize {
        let mut con = self.connection();
        redis::cmd("PUBSUB").arg("NUMPAT").query(&mut con).unwrap()
    }

    /// Wait until `n` servers listen on the root namespace's request channel.
    pub fn wait_for_servers(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.numsub("socket.io-request#/#");
            if got == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{got} servers on Redis, waiting for {n}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether every thread of process `pid` is stopped (state `T` in
/// `/proc/PID/task/TID/stat`; Linux). A thread that ended between the
/// listing and the read counts as not yet stopped; the caller looks again.
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
            // The state follows the command name, which is in parentheses.
            stat.rfind(')')
                .and_then(|i| stat.get(i + 2..i + 3))
                .is_some_and(|state| state == "T")
        })
    })
}
