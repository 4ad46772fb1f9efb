//! The peer baseline for chapter 4's measurements: a WebSocket echo server
//! on tokio-tungstenite, on a current-thread runtime (one thread, like
//! netladder's mio loop). Built only for benchmarks and the comparison:
//! `cargo run --release --example peer_tokio_ws -- 127.0.0.1:0`.
//! `benches/echo.rs` runs the same `serve` in-process.
//!
//! The read buffer is set to 16 KiB: tungstenite's 128 KiB default is
//! zero-filled on every read, which would make the peer look slower than it
//! is for small messages.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Echoes every text and binary message on every connection, forever.
pub fn serve(listener: std::net::TcpListener) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let Ok(ws) =
                    tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
                else {
                    return;
                };
                let (mut sink, mut source) = ws.split();
                while let Some(Ok(message)) = source.next().await {
                    if (message.is_binary() || message.is_text())
                        && sink.send(message).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    })
}

#[allow(
    dead_code,
    reason = "benches/echo.rs includes this file for `serve` alone"
)]
fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7004".to_string());
    let listener = std::net::TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    serve(listener)
}
