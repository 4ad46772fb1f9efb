//! Helpers shared by the integration tests: start a chapter binary on a free
//! loopback port, or serve an endpoint in this process, and talk to it.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use netladder::driver::{Shutdown, mio, threads};
use netladder::engineio::EngineIo;
use netladder::http::Response;

/// Serves an in-process Engine.IO endpoint (a Socket.IO server's is
/// `io.engine()`) on `driver`, `"threads"` or else mio, with a 404 for any
/// other page; returns its address and the driver's shutdown handle.
pub fn serve(engine: &EngineIo, driver: &str) -> (SocketAddr, Shutdown) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let factory = engine.factory(|_| Response::new(404));
    let (tx, rx) = mpsc::channel();
    let ready = move |shutdown: Shutdown| tx.send(shutdown).unwrap();
    match driver {
        "threads" => thread::spawn(move || {
            threads::serve_with_shutdown(listener, factory, threads::Config::default(), ready)
        }),
        _ => thread::spawn(move || {
            mio::serve_with_shutdown(listener, factory, mio::Config::default(), ready)
        }),
    };
    (addr, rx.recv().unwrap())
}

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
