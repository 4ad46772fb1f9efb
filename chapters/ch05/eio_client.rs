//! Chapter 5: netladder's own Engine.IO client against any Engine.IO v4
//! echo server (ch05-eio-server, or Node's `engine.io`): it opens a session,
//! sends text and binary messages, checks every echo in order, and (by
//! default) that the session upgraded to a WebSocket.

use clap::{Parser, ValueEnum};
use netladder::engineio::Payload;
use netladder::engineio::blocking::BlockingClient;
use netladder::engineio::client::{ClientConfig, ClientEvent, Transports};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, ValueEnum)]
enum Transport {
    /// Polling, then the upgrade to a WebSocket.
    Default,
    /// Polling only.
    Polling,
    /// A WebSocket only.
    Websocket,
}

#[derive(Parser)]
#[command(about = "Chapter 5: an Engine.IO v4 client that checks an echo server")]
struct Args {
    /// The server, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:7005")]
    addr: String,
    /// Which transports to use.
    #[arg(long, value_enum, default_value_t = Transport::Default)]
    transport: Transport,
    /// How many numbered messages to send after the first two.
    #[arg(long, default_value_t = 100)]
    count: usize,
}

const WAIT: Duration = Duration::from_secs(10);

fn run(args: &Args) -> Result<String, String> {
    let transports = match args.transport {
        Transport::Default => Transports::PollingThenUpgrade,
        Transport::Polling => Transports::PollingOnly,
        Transport::Websocket => Transports::WebSocketOnly,
    };
    let config = ClientConfig {
        transports,
        ..ClientConfig::default()
    };
    let mut client = BlockingClient::connect(&args.addr, config);
    let mut upgraded = false;
    let mut expected = vec![
        Payload::Text("hello from netladder".into()),
        Payload::Binary(vec![0, 1, 2, 255]),
    ];
    expected.extend((0..args.count).map(|i| Payload::Text(i.to_string())));
    match client.next_event(WAIT) {
        Some(ClientEvent::Open(_)) => {}
        other => return Err(format!("no open packet: {other:?}")),
    }
    for message in &expected {
        client
            .send(message.clone())
            .map_err(|_| "the client refused a message".to_string())?;
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    while got.len() < expected.len() || (matches!(args.transport, Transport::Default) && !upgraded)
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_event(left) {
            Some(ClientEvent::Message(m)) => got.push(m),
            Some(ClientEvent::Upgraded) => upgraded = true,
            Some(ClientEvent::Close(reason)) => return Err(format!("closed: {reason:?}")),
            Some(ClientEvent::Open(_)) => return Err("a second open".into()),
            None => {
                return Err(format!(
                    "timed out with {} of {} echoes, upgraded: {upgraded}",
                    got.len(),
                    expected.len()
                ));
            }
        }
    }
    if got != expected {
        return Err("the echoes differ from what was sent".into());
    }
    // A few heartbeats later the session is still alive.
    let quiet_until = Instant::now() + Duration::from_millis(1000);
    while let Some(event) = client.next_event(quiet_until.saturating_duration_since(Instant::now()))
    {
        if let ClientEvent::Close(reason) = event {
            return Err(format!("closed while idle: {reason:?}"));
        }
    }
    client.close();
    Ok(format!(
        "{} echoes in order{}",
        got.len(),
        if upgraded {
            ", upgraded to websocket"
        } else {
            ""
        }
    ))
}

fn main() -> ExitCode {
    netladder::cli::init_logging_or("warn");
    let args = Args::parse();
    match run(&args) {
        Ok(summary) => {
            println!("ok: {summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
