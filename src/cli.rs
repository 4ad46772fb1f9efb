//! Small pieces every chapter binary shares: logging set up from `RUST_LOG`,
//! and the `--driver threads|mio` choice.

use crate::driver::{NewProtocol, mio, threads};
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use tracing_subscriber::EnvFilter;

/// Which driver moves a server's bytes: the `--driver` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Driver {
    /// A thread per connection (chapter 1).
    Threads,
    /// One thread, an event loop on mio (chapter 4).
    Mio,
}

/// Resolves `addr` (HOST:PORT) and insists that it is a loopback address:
/// tools that generate load or serve a learner's files never reach out.
pub fn loopback_addr(addr: &str) -> Result<SocketAddr, String> {
    let resolved = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    if resolved.ip().is_loopback() {
        Ok(resolved)
    } else {
        Err(format!(
            "{addr} is not a loopback address: only 127.0.0.1 or ::1 here"
        ))
    }
}

/// Serves `listener` on the chosen driver, with default limits. On the mio
/// driver, Ctrl-C (SIGINT or SIGTERM) shuts down gracefully: every
/// connection says goodbye (a WebSocket gets close 1001) and this returns.
/// The threaded driver has no such path: Ctrl-C ends the process.
pub fn serve<N: NewProtocol>(
    driver: Driver,
    listener: TcpListener,
    new_protocol: N,
) -> io::Result<()> {
    match driver {
        Driver::Threads => threads::serve(listener, new_protocol, threads::Config::default()),
        Driver::Mio => {
            mio::serve_with_shutdown(listener, new_protocol, mio::Config::default(), |shutdown| {
                if let Err(err) = ctrlc::set_handler(move || shutdown.shutdown()) {
                    tracing::warn!("no graceful shutdown on Ctrl-C: {err}");
                }
            })
        }
    }
}

/// Starts logging to stderr, filtered by `RUST_LOG` (default: `info`).
///
/// `RUST_LOG=debug`, `RUST_LOG=netladder=trace` and the other
/// [`EnvFilter`] forms work as usual. Colours only when stderr is a
/// terminal: a log piped to a file or `grep` stays plain text.
pub fn init_logging() {
    init_logging_or("info");
}

/// Like [`init_logging`], with another default level for tools whose info
/// logs would drown their output (a load generator opening 10,000
/// connections, say).
pub fn init_logging_or(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A second call (say, from a test) keeps the first subscriber: ignore the error.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
