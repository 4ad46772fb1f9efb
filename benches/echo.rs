//! Chapter 4 benchmark: echo round trips through each driver, side by side.
//!
//! One iteration = every one of N connections sends one message and reads
//! its echo (all N in flight at once). Criterion reports the time per
//! iteration and, with `Throughput::Elements(N)`, messages per second. The
//! servers run in this process on background threads; the client is one
//! blocking thread that writes to all N sockets and then reads all N, the
//! same for every server, so only the server side differs.
//!
//! Peers in the same group: a tokio current-thread TCP echo server, and (in
//! the WebSocket group) tokio-tungstenite on a current-thread runtime. The
//! WebSocket clients are netladder's own blocking client, the same for all.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use netladder::driver::{mio, threads};
use netladder::echo::Echo;
use netladder::ws::client::{self, WsClient};
use netladder::ws::{ServerConfig, WsContext, WsHandler, WsMessage, WsServerProtocol};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

#[path = "../examples/peer_tokio_ws.rs"]
mod peer_tokio_ws;

const SIZES: [usize; 4] = [1, 10, 100, 1000];
const MESSAGE: usize = 64;

fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn netladder_threads() -> SocketAddr {
    let (listener, addr) = listener();
    threads::spawn(listener, |_| Echo, threads::Config::default());
    addr
}

fn netladder_mio() -> SocketAddr {
    let (listener, addr) = listener();
    mio::spawn(listener, |_| Echo, mio::Config::default());
    addr
}

/// tokio's echo, on a current-thread runtime: one thread, like our mio loop.
fn tokio_current_thread() -> SocketAddr {
    let (listener, addr) = listener();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let (mut reader, mut writer) = socket.split();
                    let _ = tokio::io::copy(&mut reader, &mut writer).await;
                });
            }
        });
    });
    addr
}

/// N connected client sockets.
fn clients(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let stream = TcpStream::connect(addr).unwrap();
            stream.set_nodelay(true).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            stream
        })
        .collect()
}

/// One round: every connection sends `request` and reads `reply_len` bytes.
fn round(streams: &mut [TcpStream], request: &[u8], reply: &mut [u8]) {
    for stream in streams.iter_mut() {
        stream.write_all(request).unwrap();
    }
    for stream in streams.iter_mut() {
        stream.read_exact(reply).unwrap();
    }
}

fn tcp_echo(c: &mut Criterion) {
    let servers = [
        ("netladder threads", netladder_threads()),
        ("netladder mio", netladder_mio()),
        ("tokio current-thread", tokio_current_thread()),
    ];
    let mut group = c.benchmark_group("tcp-echo");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let request = [b'x'; MESSAGE];
    let mut reply = [0u8; MESSAGE];
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        for (name, addr) in servers {
            let mut streams = clients(addr, n);
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| round(&mut streams, &request, &mut reply))
            });
        }
    }
    group.finish();
}

/// The WebSocket echo application, as chapter 3's server runs it.
struct WsEcho;

impl WsHandler for WsEcho {
    fn on_message(&mut self, message: WsMessage, ws: &mut WsContext<'_>) {
        let _ = match message {
            WsMessage::Text(text) => ws.send_text(&text),
            WsMessage::Binary(data) => ws.send_binary(&data),
            _ => Ok(()),
        };
    }
}

fn ws_factory() -> impl Fn(SocketAddr) -> WsServerProtocol<WsEcho> + Send + Sync + 'static {
    let config = Arc::new(ServerConfig::default());
    move |_| WsServerProtocol::new(WsEcho, Arc::clone(&config))
}

fn ws_threads() -> SocketAddr {
    let (listener, addr) = listener();
    threads::spawn(listener, ws_factory(), threads::Config::default());
    addr
}

fn ws_mio() -> SocketAddr {
    let (listener, addr) = listener();
    mio::spawn(listener, ws_factory(), mio::Config::default());
    addr
}

/// tokio-tungstenite on a current-thread runtime: the same peer the
/// comparison runs as a separate process.
fn ws_tokio() -> SocketAddr {
    let (listener, addr) = listener();
    std::thread::spawn(move || peer_tokio_ws::serve(listener));
    addr
}

fn ws_echo(c: &mut Criterion) {
    let servers = [
        ("netladder threads", ws_threads()),
        ("netladder mio", ws_mio()),
        ("tokio-tungstenite current-thread", ws_tokio()),
    ];
    let mut group = c.benchmark_group("ws-echo");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let payload = [b'x'; MESSAGE];
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        for (name, addr) in servers {
            let mut clients: Vec<WsClient> = (0..n)
                .map(|_| {
                    client::connect(&format!("ws://{addr}/"), &[], Default::default()).unwrap()
                })
                .collect();
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    for ws in clients.iter_mut() {
                        ws.send_binary(&payload).unwrap();
                    }
                    for ws in clients.iter_mut() {
                        assert!(matches!(ws.recv().unwrap(), Some(WsMessage::Binary(_))));
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, tcp_echo, ws_echo);
criterion_main!(benches);
