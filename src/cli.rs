//! Small pieces every chapter binary shares: logging set up from `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Starts logging to stderr, filtered by `RUST_LOG` (default: `info`).
///
/// `RUST_LOG=debug`, `RUST_LOG=netladder=trace` and the other
/// [`EnvFilter`] forms work as usual.
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
        .try_init();
}
