//! Helpers shared by the integration tests: start a chapter binary on a free
//! loopback port and talk to it.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A chapter server running as its real binary, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `binary` (a path from `env!("CARGO_BIN_EXE_...")`) on
    /// `127.0.0.1:0` with `args`, and waits for its "listening on ADDR" line.
    pub fn start(binary: &str, args: &[&str]) -> Server {
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read the listening line");
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
            .parse()
            .expect("an address");
        Server { child, addr }
    }
}

impl Server {
    /// The server's process id, for reading its counters in `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the server has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A read timeout for test sockets: long enough for a loaded CI machine,
/// short enough that a hang fails the test instead of the whole run.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
