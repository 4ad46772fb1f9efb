//! Chapter 3: run netladder's WebSocket client through the Autobahn
//! fuzzing server (`kosoku -m fuzzingserver`): every case, echoing every
//! message, then ask the server to write its reports.

use clap::Parser;
use netladder::ws::client::{self, WsClient};
use netladder::ws::{Config, DeflateConfig, WsMessage};
use std::io;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Chapter 3: drive the Autobahn fuzzing server with netladder's client")]
struct Args {
    /// The fuzzing server, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:9001")]
    addr: String,
    /// The agent name the reports are filed under.
    #[arg(long, default_value = "netladder")]
    agent: String,
    /// The zlib level of what the client compresses, 0 to 9 (see the
    /// server's `--deflate-level`).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    deflate_level: u32,
}

fn open(url: &str, level: u32) -> io::Result<WsClient> {
    // Offer compression as Autobahn's own client does: we reset our context
    // after every message, and the server may limit our window. Every
    // message is compressed (threshold 0), to exercise the codec on all of
    // them (and see scripts/autobahn for kosoku and small plain replies).
    let deflate = DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: true,
        threshold: 0,
        level,
        ..DeflateConfig::default()
    };
    let config = Config {
        deflate: Some(deflate),
        ..Config::default()
    };
    let ws = client::connect(url, &[], config)?;
    // A case that hangs fails on its own, without holding up the run.
    ws.set_read_timeout(Some(Duration::from_secs(60)))?;
    Ok(ws)
}

/// Echoes every message until the server closes.
fn echo_case(mut ws: WsClient) -> io::Result<()> {
    while let Some(message) = ws.recv()? {
        match message {
            WsMessage::Text(text) => ws.send_text(&text)?,
            WsMessage::Binary(data) => ws.send_binary(&data)?,
            _ => {} // pings are answered and closes echoed by the connection
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    netladder::cli::init_logging_or("warn");
    let args = Args::parse();
    let base = format!("ws://{}", args.addr);
    let count: usize = match open(&format!("{base}/getCaseCount"), args.deflate_level)?.recv()? {
        Some(WsMessage::Text(text)) => text.trim().parse().map_err(io::Error::other)?,
        other => {
            return Err(io::Error::other(format!(
                "unexpected case count: {other:?}"
            )));
        }
    };
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={}", args.agent);
        // A case that breaks the connection on purpose may end in an error:
        // the server judges it, so log and go on.
        if let Err(err) = open(&url, args.deflate_level).and_then(echo_case) {
            tracing::debug!("case {case}: {err}");
        }
    }
    let mut reports = open(
        &format!("{base}/updateReports?agent={}", args.agent),
        args.deflate_level,
    )?;
    while reports.recv()?.is_some() {}
    println!("ran {count} cases as agent {}", args.agent);
    Ok(())
}
