//! Chapter 1: a TCP echo client.
//!
//! Sends each line of stdin (or `--message TEXT`) and prints what comes back.
//! `--byte-at-a-time` writes every byte in its own `write` call with a pause
//! between, so the server's reads see the message in pieces; the reply still
//! prints whole, because the client reads with a framing decoder
//! (`netladder::framing`) that waits for a whole message.

use clap::{Parser, ValueEnum};
use netladder::framing::{FrameReader, Framing};
use std::io::{self, BufRead, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Chapter 1: TCP echo client")]
struct Args {
    /// Server address, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:7001")]
    addr: String,
    /// Send this one message instead of reading lines from stdin.
    #[arg(long)]
    message: Option<String>,
    /// Write one byte per write call, to show that TCP has no message boundaries.
    #[arg(long)]
    byte_at_a_time: bool,
    /// Pause between single-byte writes, in milliseconds.
    #[arg(long, default_value_t = 5)]
    delay_ms: u64,
    /// How messages are marked in the byte stream.
    #[arg(long, value_enum, default_value_t = FramingArg::Line)]
    framing: FramingArg,
    /// Longest reply accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_message: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum FramingArg {
    /// A message ends with a newline.
    Line,
    /// A 4-byte big-endian length, then the message.
    Length,
}

fn main() -> ExitCode {
    netladder::cli::init_logging();
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A sentence for the reader, not `Os { code: 111, .. }`.
            eprintln!("ch01-echo-client: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    let framing = match args.framing {
        FramingArg::Line => Framing::Line,
        FramingArg::Length => Framing::LengthPrefixed,
    };
    // ANCHOR: connect
    // connect() runs the three-way handshake; then the socket is a pipe of bytes.
    let mut stream =
        TcpStream::connect(&args.addr).map_err(|err| connect_error(&args.addr, err))?;
    // Without Nagle's algorithm each tiny write leaves as its own segment.
    stream.set_nodelay(args.byte_at_a_time)?;
    let mut replies = FrameReader::new(stream.try_clone()?, framing, args.max_message);
    // ANCHOR_END: connect
    let messages: Box<dyn Iterator<Item = io::Result<String>>> = match &args.message {
        Some(text) => Box::new(std::iter::once(Ok(text.clone()))),
        None => Box::new(io::stdin().lock().lines()),
    };
    let mut stdout = io::stdout().lock();
    for message in messages {
        let mut framed = Vec::new();
        framing.encode(message?.as_bytes(), &mut framed);
        if args.byte_at_a_time {
            for byte in &framed {
                stream.write_all(std::slice::from_ref(byte))?;
                thread::sleep(Duration::from_millis(args.delay_ms));
            }
        } else {
            stream.write_all(&framed)?;
        }
        match replies.read_frame()? {
            Some(reply) => {
                stdout.write_all(&reply)?;
                stdout.write_all(b"\n")?;
                stdout.flush()?;
            }
            None => return Err(io::Error::other("the server closed the connection")),
        }
    }
    Ok(())
}

/// Says what went wrong with `connect` in words, with a next step for the
/// usual case: nothing listens on the port.
fn connect_error(addr: &str, err: io::Error) -> io::Error {
    let hint = match err.kind() {
        io::ErrorKind::ConnectionRefused => {
            " (nothing listens there: is ch01-echo-server running?)"
        }
        _ => "",
    };
    io::Error::new(err.kind(), format!("cannot connect to {addr}: {err}{hint}"))
}
