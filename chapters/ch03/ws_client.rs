//! Chapter 3: an interactive WebSocket client.
//!
//! Each stdin line is sent as a text message; `/ping` sends a ping and
//! prints the round trip when the pong comes; `/binary TEXT` sends binary;
//! `/close [CODE]` starts the close handshake. Messages from the server are
//! printed as they come, and the close code at the end.

use clap::Parser;
use netladder::ws::client::{self, WsClient};
use netladder::ws::deflate::DeflateArgs;
use netladder::ws::{Config, State, WsMessage};
use std::io::{self, BufRead};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Chapter 3: interactive WebSocket client (ws:// only)")]
struct Args {
    /// Server URL, like ws://127.0.0.1:7003/echo
    url: String,
    /// Subprotocols to offer, in order of preference.
    #[arg(long = "protocol")]
    protocols: Vec<String>,
    /// Send this one message, print the reply, and close (instead of stdin).
    #[arg(long)]
    message: Option<String>,
    #[command(flatten)]
    deflate: DeflateArgs,
}

fn main() -> ExitCode {
    netladder::cli::init_logging_or("warn");
    let args = Args::parse();
    match talk(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A sentence, not `Os { code: 111, .. }`.
            eprintln!("ch03-ws-client: {err}");
            ExitCode::FAILURE
        }
    }
}

fn talk(args: &Args) -> io::Result<()> {
    let offered: Vec<&str> = args.protocols.iter().map(String::as_str).collect();
    let config = Config {
        deflate: args.deflate.config(),
        ..Config::default()
    };
    let mut ws = client::connect(&args.url, &offered, config).map_err(|err| {
        let hint = if err.kind() == io::ErrorKind::ConnectionRefused {
            " (is the server running?)"
        } else {
            ""
        };
        io::Error::new(
            err.kind(),
            format!("cannot connect to {}: {err}{hint}", args.url),
        )
    })?;
    eprintln!(
        "connected to {} (subprotocol: {}, compression: {})",
        args.url,
        ws.subprotocol().unwrap_or("none"),
        ws.deflate()
            .map_or("none".to_string(), |d| d.response_header())
    );
    if let Some(text) = &args.message {
        ws.send_text(text)?;
        if let Some(reply) = ws.recv()? {
            print_message(&reply, None);
        }
        // The server may have closed first (a message over its limit, say).
        if ws.state() == State::Open {
            ws.close(1000, "done")?;
        }
        return finish(&mut ws);
    }
    // Blocking reads cannot also watch stdin, so stdin gets its own thread;
    // the socket is read with a short timeout in between.
    let (lines_tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in io::stdin().lock().lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    ws.set_read_timeout(Some(Duration::from_millis(50)))?;
    run(&mut ws, &lines)
}

/// Sends what is typed and prints what arrives, until the connection closes.
///
/// Either side may close first. When the server does (a message over its
/// limit gets close 1009, say), that is a normal ending: the close code is
/// printed, nothing more is sent, and the client exits 0.
fn run(ws: &mut WsClient, lines: &Receiver<String>) -> io::Result<()> {
    let mut ping_sent: Option<Instant> = None;
    let mut closing = false;
    loop {
        // The server's close frame may have come in the last `recv`: from
        // then on there is nothing to send, stdin's end included.
        closing |= ws.state() != State::Open;
        match lines.try_recv() {
            Ok(line) if !closing => {
                if line == "/ping" {
                    ping_sent = Some(Instant::now());
                    ws.send_ping(b"netladder")?;
                } else if let Some(text) = line.strip_prefix("/binary ") {
                    ws.send_binary(text.as_bytes())?;
                } else if let Some(code) = line.strip_prefix("/close") {
                    let code = code.trim().parse().unwrap_or(1000);
                    match ws.close(code, "bye") {
                        Ok(()) => closing = true,
                        // A code that may not be sent: say so and stay open.
                        Err(err) => eprintln!("not closing: {err}"),
                    }
                } else {
                    ws.send_text(&line)?;
                }
            }
            Ok(_) => {}
            // stdin ended: close politely, once.
            Err(TryRecvError::Disconnected) if !closing => {
                ws.close(1000, "stdin closed")?;
                closing = true;
            }
            Err(_) => {}
        }
        match ws.recv() {
            Ok(Some(message)) => {
                let rtt = matches!(message, WsMessage::Pong(_))
                    .then(|| ping_sent.take())
                    .flatten();
                print_message(&message, rtt.map(|sent| sent.elapsed()));
            }
            Ok(None) => return Ok(()),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            // The close handshake is over; a reset while the server tears the
            // connection down changes nothing.
            Err(_) if ws.state() == State::Closed || ws.state() == State::ClosingByPeer => {
                return Ok(());
            }
            Err(err) => return Err(err),
        }
    }
}

fn finish(ws: &mut WsClient) -> io::Result<()> {
    while let Some(message) = ws.recv()? {
        print_message(&message, None);
    }
    Ok(())
}

fn print_message(message: &WsMessage, rtt: Option<Duration>) {
    match message {
        WsMessage::Text(text) => println!("{text}"),
        WsMessage::Binary(data) => println!(
            "(binary, {} bytes) {}",
            data.len(),
            String::from_utf8_lossy(data)
        ),
        WsMessage::Ping(_) => eprintln!("(ping from the server, answered)"),
        WsMessage::Pong(_) => match rtt {
            Some(rtt) => eprintln!("pong: round trip {:.3} ms", rtt.as_secs_f64() * 1000.0),
            None => eprintln!("(pong)"),
        },
        WsMessage::Close(code, reason) => eprintln!("closed by the server: code {code} {reason:?}"),
    }
}
