//! Small pieces every chapter binary shares: logging set up from `RUST_LOG`,
//! and the `--driver threads|mio` and `--max-conns` flags.

use crate::driver::{Connector, NewProtocol, Protocol, Shutdown, mio, threads};
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
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

/// What every server binary takes besides its address: `--driver` and
/// `--max-conns`. Flatten it into a binary's arguments with
/// `#[command(flatten)]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Which driver moves the bytes.
    #[arg(long, value_enum, default_value_t = Driver::Threads)]
    pub driver: Driver,
    /// Connections served at once; beyond it a newcomer gets a short refusal
    /// (503 on HTTP servers) and is closed. Default: 10000 on threads (two
    /// threads each), 100000 on mio.
    #[arg(long, value_name = "N")]
    pub max_conns: Option<usize>,
}

/// What a refused connection is told: a 503 for servers that speak HTTP.
pub fn http_refusal() -> Vec<u8> {
    let body = "server busy: too many connections, try again later\n";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `listener` on the chosen driver, with default limits but for
/// `max_conns` and what a connection beyond it is told (`refusal`). Ctrl-C
/// (SIGINT or SIGTERM) shuts down gracefully on both drivers: every
/// connection says goodbye (a WebSocket gets close 1001) and this returns.
pub fn serve<N: NewProtocol>(
    driver: Driver,
    max_conns: Option<usize>,
    refusal: &[u8],
    listener: TcpListener,
    new_protocol: N,
) -> io::Result<()> {
    let on_ctrl_c = |shutdown: Shutdown| {
        if let Err(err) = ctrlc::set_handler(move || shutdown.shutdown()) {
            tracing::warn!("no graceful shutdown on Ctrl-C: {err}");
        }
    };
    match driver {
        Driver::Threads => {
            let mut config = threads::Config {
                refusal: Arc::from(refusal),
                ..threads::Config::default()
            };
            if let Some(max) = max_conns {
                config.max_conns = max;
            }
            threads::serve_with_shutdown(listener, new_protocol, config, on_ctrl_c)
        }
        Driver::Mio => {
            let mut config = mio::Config {
                refusal: Arc::from(refusal),
                ..mio::Config::default()
            };
            if let Some(max) = max_conns {
                config.max_conns = max;
            }
            mio::serve_with_shutdown(listener, new_protocol, config, on_ctrl_c)
        }
    }
}

/// Like [`serve`], for servers that also open connections of their own (a
/// proxy): `make` gets the driver's [`Connector`] and returns the factory
/// for accepted connections.
pub fn serve_with_connector<P: Protocol, N: NewProtocol<Protocol = P>>(
    driver: Driver,
    max_conns: Option<usize>,
    refusal: &[u8],
    listener: TcpListener,
    make: impl FnOnce(Connector<P>) -> N,
) -> io::Result<()> {
    let on_ctrl_c = |shutdown: Shutdown| {
        if let Err(err) = ctrlc::set_handler(move || shutdown.shutdown()) {
            tracing::warn!("no graceful shutdown on Ctrl-C: {err}");
        }
    };
    match driver {
        Driver::Threads => {
            let mut config = threads::Config {
                refusal: Arc::from(refusal),
                ..threads::Config::default()
            };
            if let Some(max) = max_conns {
                config.max_conns = max;
            }
            let new_protocol = make(threads::connector(config.clone()));
            threads::serve_with_shutdown(listener, new_protocol, config, on_ctrl_c)
        }
        Driver::Mio => {
            let mut config = mio::Config {
                refusal: Arc::from(refusal),
                ..mio::Config::default()
            };
            if let Some(max) = max_conns {
                config.max_conns = max;
            }
            mio::serve_with_connector(listener, make, config, on_ctrl_c)
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
