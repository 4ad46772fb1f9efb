//! Chapter 6's real processes for the tests: `ch05-sio-server --redis`
//! instances, and the peers of `tests/node` (and `tests/python`): run to
//! their end, or line by line.

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
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: a check that CI sets up must not be skipped"
        );
        None
    }
}

/// A peer process (a Node or Python script) whose output lines are read in
/// the background; killed on drop unless it has exited.
pub struct Peer {
    child: Child,
    lines: Receiver<String>,
}

impl Peer {
    /// Start `command` with its stdout piped (stderr goes to the test's).
    pub fn spawn(mut command: Command) -> Peer {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the peer starts");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Peer { child, lines }
    }

    /// Its next line, if one came within `wait` (`None` also once it
    /// closed its output).
    pub fn line(&self, wait: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(wait).ok()?;
        eprintln!("peer: {line}");
        Some(line)
    }

    /// Its next line, which must come within `wait` and start with `what`.
    pub fn expect(&self, what: &str, wait: Duration) -> String {
        let line = self
            .line(wait)
            .unwrap_or_else(|| panic!("the peer said nothing while waiting for {what}"));
        assert!(
            line.starts_with(what),
            "waiting for {what}, the peer said {line}"
        );
        line
    }

    /// Kill it (it has failed or hangs).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Wait for it to exit.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("the peer exits")
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
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
    let mut node = Command::new("node");
    node.arg(dir.join(script)).args(args);
    let mut peer = Peer::spawn(node);
    let mut seen = Vec::new();
    while let Some(line) = peer.line(step) {
        let last = line == "ok done" || line.starts_with("FAIL");
        seen.push(line);
        if last {
            break;
        }
    }
    if seen.last().map(String::as_str) != Some("ok done") {
        peer.kill();
    }
    let status = peer.wait();
    (seen, status)
}

/// Run the Node peer `script` (in `dir`) with `args`, each line within
/// `step`, and check that it printed exactly the steps `expected` (the
/// last being `ok done`) and exited with success.
pub fn node_peer_passes(
    dir: &Path,
    script: &str,
    args: &[String],
    step: Duration,
    expected: &[&str],
) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (seen, status) = run_node_peer(dir, script, &args, step);
    assert_eq!(seen, expected, "the Node peer's steps");
    assert!(status.success(), "the Node peer exited with {status}");
}
