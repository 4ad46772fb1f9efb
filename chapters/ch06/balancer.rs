//! Chapter 6: a sticky load balancer for Engine.IO and Socket.IO servers.
//!
//! `ch06-balancer --addr 127.0.0.1:7060 --backend 127.0.0.1:7061 --backend
//! 127.0.0.1:7062` spreads new sessions over the backends round-robin and
//! keeps every request of a session (`?sid=...`) on the backend that holds
//! it. WebSocket upgrades are routed the same way and then tunnelled.

use clap::Parser;
use netladder::balancer::Balancer;
use netladder::cli::{ServerArgs, loopback_addr};
use netladder::http::Limits;
use std::net::TcpListener;

#[derive(Parser)]
#[command(about = "Chapter 6: a sticky HTTP load balancer for Engine.IO / Socket.IO servers")]
struct Args {
    /// Address to listen on, HOST:PORT (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7060")]
    addr: String,
    /// A backend server, HOST:PORT on loopback. Repeat for several.
    #[arg(long = "backend", value_name = "ADDR", required = true)]
    backends: Vec<String>,
    #[command(flatten)]
    server: ServerArgs,
}

// ANCHOR: main
fn main() -> std::io::Result<()> {
    netladder::cli::init_logging();
    let args = Args::parse();
    let backends = args
        .backends
        .iter()
        .map(|addr| loopback_addr(addr))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let balancer = Balancer::new(backends.clone(), Limits::default());
    let listener = TcpListener::bind(&args.addr)?;
    println!("listening on {}", listener.local_addr()?);
    for (i, backend) in backends.iter().enumerate() {
        tracing::info!("backend {i}: {backend}");
    }
    netladder::cli::serve_with_connector(
        args.server.driver,
        args.server.max_conns,
        &netladder::cli::http_refusal(),
        listener,
        |connector| balancer.factory(connector),
    )
}
// ANCHOR_END: main
