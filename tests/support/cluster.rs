//! Chapter 6's real processes for the tests: `ch05-sio-server --redis`
//! instances, and the Node peers of `tests/node` run to their end.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// A `ch05-sio-server --redis URL`, killed (after a `SIGCONT`, in case a
/// test stopped it) on drop.
pub struct Sio {
    pub child: Child,
    pub addr: String,
}

/// A `ch05-sio-server` started but not yet known to listen.
pub struct Launch {
    child: Option<Child>,
    first: Receiver<Option<String>>,
}

impl Launch {
    /// Start `ch05-sio-server --addr 127.0.0.1:0 --redis URL` with `extra`
    /// arguments; its first line of output is read in the background.
    pub fn new(url: &str, extra: &[&str]) -> Launch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ch05-sio-server"))
            .args(["--addr", "127.0.0.1:0", "--redis", url])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ch05-sio-server starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, first) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let got = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(got.ok().filter(|n| *n > 0).map(|_| line));
        });
        Launch {
            child: Some(child),
            first,
        }
    }

    /// Its first line if it came within `wait`: `Ok(Some(line))`;
    /// `Ok(None)` if the server exited without one; `Err(())` if nothing
    /// came in time.
    pub fn first_line(&self, wait: Duration) -> Result<Option<String>, ()> {
        match self.first.recv_timeout(wait) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => Err(()),
        }
    }

    /// The running server, once it said `listening on ADDR` (within `wait`).
    pub fn listening(mut self, wait: Duration) -> Sio {
        let line = match self.first_line(wait) {
            Ok(Some(line)) => line,
            Ok(None) => panic!("ch05-sio-server exited before listening"),
            Err(()) => panic!("ch05-sio-server did not listen within {wait:?}"),
        };
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let child = self.child.take().expect("not taken yet");
        Sio { child, addr }
    }

    /// Wait for the server to exit by itself (at most `wait`).
    pub fn exit(mut self, wait: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut().expect("not taken yet");
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Launch {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Sio {
    /// `ch05-sio-server --redis URL` with `extra` arguments, once it
    /// listens (which it says only once Redis confirmed its subscriptions).
    pub fn start(url: &str, extra: &[&str]) -> Sio {
        Launch::new(url, extra).listening(Duration::from_secs(20))
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
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

/// `tests/node` when node and the npm `modules` are installed; `None`
/// (after saying so) when not.
pub fn node_peers(modules: &[&str]) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let installed = modules
        .iter()
        .all(|m| dir.join("node_modules").join(m).is_dir());
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

/// Run the Node peer `script` (in `dir`) with `args`: the lines it printed,
/// up to `ok done` or the first `FAIL`, each within `step`, and how it
/// exited.
pub fn run_node_peer(
    dir: &Path,
    script: &str,
    args: &[&str],
    step: Duration,
) -> (Vec<String>, ExitStatus) {
    let mut peer = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let (tx, rx) = mpsc::channel();
    let stdout = peer.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(step) {
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
    let status = peer.wait().expect("node exits");
    (seen, status)
}
