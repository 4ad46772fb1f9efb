//! Chapter 2: an HTTP/1.1 server on the sans-IO `netladder::http` layer.
//!
//! It serves static files from `--root`, and a long-polling demo: open
//! `/demo/long-poll` in two browser tabs and type in one.

mod long_poll;
mod static_files;

use clap::Parser;
use long_poll::LongPoll;
use netladder::cli::ServerArgs;
use netladder::http::{HttpProtocol, Limits, Reply, Request, Responder, Response};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Chapter 2: HTTP/1.1 static file server with a long-polling demo")]
struct Args {
    /// Address to listen on, HOST:PORT (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7002")]
    addr: String,
    /// The folder to serve files from.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// How long `/poll` holds a request before answering 204, in seconds.
    #[arg(long, default_value_t = 25.0)]
    poll_timeout: f64,
    /// Largest request head, in bytes (over it: 431).
    #[arg(long, default_value_t = Limits::default().max_head_bytes)]
    max_head: usize,
    /// Largest request body, in bytes (over it: 413).
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body: usize,
    /// Seconds a client may take to send a request head (over it: 408).
    #[arg(long, default_value_t = Limits::default().head_timeout.as_secs_f64())]
    head_timeout: f64,
    #[command(flatten)]
    server: ServerArgs,
}

const DEMO_PAGE: &str = include_str!("long_poll.html");

// ANCHOR: routes
/// Turns each request into a response, now or later.
struct App {
    root: PathBuf,
    long_poll: LongPoll,
}

impl App {
    fn handle(&self, request: Request, responder: Responder) -> Reply {
        match (request.method.as_str(), request.path()) {
            ("GET", "/poll") => self.long_poll.poll(&request, responder),
            ("POST", "/send") => Reply::Now(self.long_poll.send(&request)),
            ("GET" | "HEAD", "/demo/long-poll") => Reply::Now(
                Response::new(200)
                    .header("Content-Type", "text/html; charset=utf-8")
                    .body(DEMO_PAGE),
            ),
            _ => Reply::Now(static_files::serve(&self.root, &request)),
        }
    }
}
// ANCHOR_END: routes

fn seconds(value: f64, flag: &str) -> std::io::Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        std::io::Error::other(format!("--{flag} must be a non-negative number of seconds"))
    })
}

fn main() -> std::io::Result<()> {
    netladder::cli::init_logging();
    let args = Args::parse();
    if !args.root.is_dir() {
        return Err(std::io::Error::other(format!(
            "--root {} is not a folder",
            args.root.display()
        )));
    }
    let limits = Limits {
        max_head_bytes: args.max_head,
        max_body_bytes: args.max_body,
        head_timeout: seconds(args.head_timeout, "head-timeout")?,
        ..Limits::default()
    };
    let app = App {
        root: args.root,
        long_poll: LongPoll::new(seconds(args.poll_timeout, "poll-timeout")?),
    };
    let listener = TcpListener::bind(&args.addr)?;
    println!("listening on {}", listener.local_addr()?);
    let handler = move |request: Request, responder: Responder| app.handle(request, responder);
    let new_connection = HttpProtocol::factory(handler, limits);
    netladder::cli::serve(
        args.server.driver,
        args.server.max_conns,
        &netladder::cli::http_refusal(),
        listener,
        new_connection,
    )
}
