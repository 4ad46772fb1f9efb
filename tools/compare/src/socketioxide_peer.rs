//! The socketioxide peer for `netladder-compare --socketio`: the bench
//! events on `/` and `/bench`, as in tests/node/sio_server.mjs and
//! ch05-sio-server: `echo` acked with its arguments, `join(room)` acked,
//! `broadcast(room, ...args)` sent on to the others in the room. Prints
//! `listening on ADDR`.
//!
//! ```text
//! sio-peer-socketioxide [ADDR] [PING_INTERVAL_MS]
//! ```

use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let ping = args.next().map_or(Ok(25_000), |p| p.parse::<u64>())?;
    let (layer, io) = SocketIo::builder()
        .ping_interval(Duration::from_millis(ping))
        .ping_timeout(Duration::from_millis(20_000))
        .build_layer();
    io.ns("/", on_connect);
    io.ns("/bench", on_connect);
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn on_connect(socket: SocketRef) {
    socket.on(
        "echo",
        async |Data(data): Data<serde_json::Value>, ack: AckSender| {
            let _ = ack.send(&data);
        },
    );
    socket.on(
        "join",
        async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
            socket.join(room);
            let _ = ack.send("joined");
        },
    );
    socket.on(
        "broadcast",
        async |socket: SocketRef, Data((room, seq, payload)): Data<(String, u64, String)>| {
            let _ = socket.to(room).emit("broadcast", &(seq, payload)).await;
        },
    );
}
