//! Chapter 2: fetch a URL with netladder's own HTTP/1.1 client.
//!
//! Prints the body to stdout (and with `--include`, the status line and
//! headers first, as `curl -i` does). Exits with status 1 for a 4xx or 5xx
//! answer, 2 when the request could not be made.

use clap::Parser;
use netladder::http::{Version, client};
use std::io::Write;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Chapter 2: HTTP/1.1 GET with netladder's client (plain http:// only)")]
struct Args {
    /// The URL, like http://127.0.0.1:7002/README.md
    url: String,
    /// Print the status line and the headers before the body.
    #[arg(short, long)]
    include: bool,
}

fn main() -> ExitCode {
    netladder::cli::init_logging();
    let args = Args::parse();
    let response = match client::get(&args.url) {
        Ok(response) => response,
        Err(err) => {
            eprintln!("ch02-http-get: {err}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut printed = Ok(());
    if args.include {
        let version = match response.version {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        };
        printed = printed
            .and_then(|_| write!(out, "{version} {} {}\r\n", response.status, response.reason));
        for (name, value) in response.headers.iter() {
            printed = printed.and_then(|_| {
                out.write_all(name.as_bytes())?;
                out.write_all(b": ")?;
                out.write_all(value)?;
                out.write_all(b"\r\n")
            });
        }
        printed = printed.and_then(|_| out.write_all(b"\r\n"));
    }
    printed = printed
        .and_then(|_| out.write_all(&response.body))
        .and_then(|_| out.flush());
    if let Err(err) = printed {
        eprintln!("ch02-http-get: writing the output: {err}");
        return ExitCode::from(2);
    }
    if response.status >= 400 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
