//! Chapter 5: an Engine.IO v4 server that echoes every message back on the
//! same session, over long-polling or WebSocket, on either driver. `/`
//! serves a page that shows a session's transport, its upgrade, and every
//! packet on the wire in both directions.

use clap::Parser;
use netladder::cli::ServerArgs;
use netladder::engineio::{
    AllowedOrigins, Cors, EioEvent, EngineIo, EngineIoConfig, HttpCompression, Outgoing,
    SessionConfig,
};
use netladder::http::Response;
use netladder::ws::deflate::{DeflateArgs, OnOff};
use std::net::TcpListener;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Chapter 5: Engine.IO v4 echo server, with a packet-watching page at /")]
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
    /// The largest payload in bytes (`maxPayload`): a POST body, a
    /// WebSocket message.
    #[arg(long, default_value_t = 1_000_000)]
    max_payload: usize,
    /// An origin whose pages may call from another origin (CORS), like
    /// `http://127.0.0.1:8000`; `*` for any. Repeat for several.
    #[arg(long, value_name = "ORIGIN")]
    cors_origin: Vec<String>,
    /// gzip/deflate on polling answers, when the client accepts it.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    http_compression: OnOff,
    /// Polling answers shorter than this many bytes go uncompressed.
    #[arg(long, default_value_t = 1024, value_name = "BYTES")]
    http_compression_threshold: usize,
    #[command(flatten)]
    deflate: DeflateArgs,
    #[command(flatten)]
    server: ServerArgs,
}

const PAGE: &str = include_str!("eio_page.html");

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
    let config = EngineIoConfig {
        session: SessionConfig {
            ping_interval: Duration::from_millis(args.ping_interval_ms),
            ping_timeout: Duration::from_millis(args.ping_timeout_ms),
            max_payload: args.max_payload,
            ..SessionConfig::default()
        },
        cors: Cors {
            origins,
            credentials: true,
        },
        http_compression: HttpCompression {
            enabled: args.http_compression == OnOff::On,
            threshold: args.http_compression_threshold,
            ..HttpCompression::default()
        },
        ws_deflate: args.deflate.config(),
        ..EngineIoConfig::default()
    };
    let (engine, events) = EngineIo::new(config);
    // The application: every message goes back where it came from. What
    // has arrived is echoed under one lock (`send_batch`): the messages of
    // one POST arrive together, so their echoes are queued together, and a
    // poll gets all of them or waits for all of them, as from a server
    // that echoes while it reads the POST.
    let app = engine.clone();
    std::thread::spawn(move || {
        while let Ok(first) = events.recv() {
            let mut echoes = Vec::new();
            for event in std::iter::once(first).chain(events.try_iter()) {
                match event {
                    EioEvent::Message(sid, message) => {
                        echoes.push((sid, Outgoing::Message(message)));
                    }
                    EioEvent::Open(sid, request) => {
                        tracing::info!("{}: open ({})", sid.as_str(), request.url)
                    }
                    EioEvent::Upgraded(sid) => tracing::info!("{}: upgraded", sid.as_str()),
                    EioEvent::Close(sid, reason) => {
                        tracing::info!("{}: closed ({})", sid.as_str(), reason.as_str());
                    }
                }
            }
            let refused = app.send_batch(echoes);
            if refused > 0 {
                tracing::warn!("{refused} echoes not queued (session gone or queue full)");
            }
        }
    });
    let factory = engine.factory(|request| match request.path() {
        "/" | "/index.html" => Response::new(200)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(PAGE),
        _ => Response::new(404).text("not found: the page is at /, Engine.IO at /engine.io/\n"),
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
    engine.shutdown();
    result
}
// ANCHOR_END: main
