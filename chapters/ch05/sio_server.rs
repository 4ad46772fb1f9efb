//! Chapter 5: a Socket.IO v5 server over Engine.IO, on either driver.
//! `/socket.io/` speaks Socket.IO; `/` serves the chat with rooms
//! (`sio_chat.rs`, `sio_chat.html`), `/about` a page about the server.
//!
//! The application is in `sio_app.rs`: an `echo` event answered with an
//! ack carrying the same arguments, binary included; and what the official
//! Socket.IO protocol test suite expects of a server (run it against
//! `--ping-interval-ms 300 --ping-timeout-ms 200 --max-payload 1000000
//! --addr 127.0.0.1:3000`): an `auth` event with the handshake's auth to
//! every socket that joins `/` or `/custom`, `message` answered by a
//! `message-back` event with the same arguments, and `message-with-ack` by
//! an ack with them. `sio_interop.rs` adds the namespaces the interop tests
//! drive (`/interop`, `/auth`); `sio_slow.rs` the `slow` and
//! `slow-offload` events of the async-mode lesson.
use clap::Parser;
use netladder::cli::ServerArgs;
use netladder::engineio::{AllowedOrigins, Cors, SessionConfig};
use netladder::http::Response;
use netladder::socketio::glue::engine_config;
use netladder::socketio::{Config, Handlers, RecoveryConfig, Server, SocketIo};
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

mod sio_app;
mod sio_bench;
mod sio_chat;
mod sio_cluster;
mod sio_interop;
mod sio_slow;

#[derive(Parser)]
#[command(
    about = "Chapter 5: Socket.IO v5 server (echo with ack, rooms), with a page at /",
    long_about = "Chapter 5: Socket.IO v5 server, with the chat at / and Socket.IO at /socket.io/.\n\n\
        Events on the main namespace `/`: `echo` (acked with the same arguments, binary \
        included), `message` (answered by a `message-back` event with the same arguments) and \
        `message-with-ack` (acked with the same arguments). Every socket that joins `/` or \
        `/custom` gets an `auth` event carrying its CONNECT's auth (`{}` without one). \
        That is the setup the official Socket.IO protocol test suite expects; run it against \
        `--ping-interval-ms 300 --ping-timeout-ms 200 --max-payload 1000000 --addr \
        127.0.0.1:3000`. The interop namespaces are `/interop` and `/auth`, the chat's `/chat`."
)]
struct Args {
    /// Address to listen on, HOST:PORT (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7005")]
    addr: String,
    /// How often the server pings, in milliseconds (`pingInterval`).
    #[arg(long, default_value_t = 25_000)]
    ping_interval_ms: u64,
    /// How long a pong may take, in milliseconds (`pingTimeout`).
    #[arg(long, default_value_t = 20_000)]
    ping_timeout_ms: u64,
    /// The largest Engine.IO payload in bytes (`maxHttpBufferSize`): a POST
    /// body, a WebSocket message.
    #[arg(long, default_value_t = 1_000_000)]
    max_payload: usize,
    /// An origin whose pages may call from another origin (CORS), like
    /// `http://127.0.0.1:8000`; `*` for any. Repeat for several.
    #[arg(long, value_name = "ORIGIN")]
    cors_origin: Vec<String>,
    /// Join a cluster through Redis (`redis://127.0.0.1:6379`): rooms,
    /// broadcasts and server-side operations shared with the other servers,
    /// netladder's or Node's on `@socket.io/redis-adapter` (chapter 6).
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// With `--redis`: the URL is any node of a Redis 7 Cluster, and the
    /// servers share rooms over sharded pub/sub (SPUBLISH/SSUBSCRIBE), as
    /// Node's `createShardedAdapter` does.
    #[arg(long, requires = "redis")]
    redis_sharded: bool,
    /// Connection state recovery (Socket.IO 4.6+): how long, in
    /// milliseconds, a dropped client's session and the packets it missed
    /// are kept (Node's usual value: 120000); 0, the default, turns it off.
    /// Off by default as in Node: with it on, every event the server sends
    /// without an ack carries one more argument, its offset, which every
    /// listener sees, and the server keeps what it sent for that long.
    #[arg(long, default_value_t = 0)]
    recovery_ms: u64,
    #[command(flatten)]
    server: ServerArgs,
}

const PAGE: &str = include_str!("sio_page.html");
/// The chat (`sio_chat.rs`), with its hand-written client.
const CHAT: &str = include_str!("sio_chat.html");

// ANCHOR: main
fn main() -> std::io::Result<()> {
    netladder::cli::init_logging();
    let args = Args::parse();
    let origins = if args.cors_origin.iter().any(|o| o == "*") {
        AllowedOrigins::Any
    } else if args.cors_origin.is_empty() {
        AllowedOrigins::None
    } else {
        AllowedOrigins::List(args.cors_origin.clone())
    };
    let mut engine = engine_config();
    engine.session = SessionConfig {
        ping_interval: Duration::from_millis(args.ping_interval_ms),
        ping_timeout: Duration::from_millis(args.ping_timeout_ms),
        max_payload: args.max_payload,
        ..SessionConfig::default()
    };
    engine.cors = Cors {
        origins,
        credentials: true,
    };
    let config = Config {
        recovery: (args.recovery_ms > 0).then(|| RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(args.recovery_ms),
            ..RecoveryConfig::default()
        }),
        ..Config::default()
    };
    let mut server = Server::new(config);
    sio_app::setup(&mut server);
    sio_interop::setup(&mut server);
    let cluster_handle = Arc::new(OnceLock::new());
    let sharded = match args.redis.as_ref().filter(|_| args.redis_sharded) {
        Some(url) => {
            match sio_cluster::connect_sharded(&mut server, url, Arc::clone(&cluster_handle)) {
                Ok(hub) => Some(hub),
                Err(e) => {
                    eprintln!("--redis {url} --redis-sharded: {e}");
                    std::process::exit(2);
                }
            }
        }
        None => None,
    };
    let hub = match args.redis.as_ref().filter(|_| !args.redis_sharded) {
        Some(url) => match sio_cluster::connect(&mut server, url, Arc::clone(&cluster_handle)) {
            Ok(hub) => Some(hub),
            Err(e) => {
                eprintln!("--redis {url}: {e}");
                std::process::exit(2);
            }
        },
        None => None,
    };
    let clustered = args.redis.is_some();
    sio_bench::setup(&mut server);
    server.namespace(sio_chat::NSP);
    let io = SocketIo::start(engine, server, |handle| {
        let mut handlers = Handlers::default();
        sio_app::handlers(&mut handlers, handle);
        sio_interop::handlers(&mut handlers, handle);
        if clustered {
            sio_cluster::handlers(&mut handlers, handle);
        }
        sio_bench::handlers(&mut handlers, handle);
        let h = handle.clone();
        sio_chat::register(&mut handlers, Arc::new(move |work| h.defer(work)));
        sio_slow::register(&mut handlers, handle, sio_slow::Offload::new(4, 64));
        handlers
    });
    let _ = cluster_handle.set(io.handle());
    // Say `listening` only once Redis has confirmed every subscription:
    // a message published before that would be lost (pub/sub keeps
    // nothing), so whoever uses this server from that line on misses
    // nothing.
    let ready: Option<Box<dyn Fn() -> bool>> = match (&hub, &sharded) {
        (Some(hub), _) => Some(Box::new(|| hub.is_ready())),
        (None, Some(hub)) => Some(Box::new(|| hub.is_ready())),
        (None, None) => None,
    };
    if let (Some(url), Some(ready)) = (&args.redis, ready)
        && let Err(e) = sio_cluster::wait_ready(url, sio_cluster::READY_WITHIN, ready)
    {
        eprintln!("--redis {url}: {e}");
        io.shutdown();
        std::process::exit(2);
    }
    let factory = io.factory(|request| match request.path() {
        "/" | "/index.html" => Response::new(200)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(CHAT),
        "/about" => Response::new(200)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(PAGE),
        _ => Response::new(404).text("not found: the page is at /, Socket.IO at /socket.io/\n"),
    });
    let listener = TcpListener::bind(&args.addr)?;
    println!("listening on {}", listener.local_addr()?);
    let result = netladder::cli::serve(
        args.server.driver,
        args.server.max_conns,
        &netladder::cli::http_refusal(),
        listener,
        factory,
    );
    io.shutdown();
    result
}
// ANCHOR_END: main
