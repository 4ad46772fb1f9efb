//! Chapter 1: a TCP echo server, one thread per connection.
//!
//! `--driver raw` (the default) is the lesson: `TcpListener`, `accept`, a
//! thread, `read` and `write`, all in this file. `--driver threads` runs the
//! same echo as a sans-IO protocol (`netladder::echo::Echo`) on the library's
//! thread-per-connection driver, the shape every later chapter uses, and
//! `--driver mio` runs it on chapter 4's event loop.

use clap::{Parser, ValueEnum};
use netladder::echo::Echo;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use tracing::{debug, info, warn};

#[derive(Parser)]
#[command(about = "Chapter 1: TCP echo server, one thread per connection")]
struct Args {
    /// Address to listen on, HOST:PORT (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7001")]
    addr: String,
    /// Which code serves connections: this file's own loop, or the library's
    /// driver running the sans-IO echo protocol.
    #[arg(long, value_enum, default_value_t = Driver::Raw)]
    driver: Driver,
    /// Connections served at once by `--driver threads|mio`; beyond it a
    /// newcomer is told "server busy" and closed. Default: 10000 on
    /// threads, 100000 on mio.
    #[arg(long, value_name = "N")]
    max_conns: Option<usize>,
}

/// What a connection beyond `--max-conns` is told.
const BUSY: &[u8] = b"server busy: too many connections, try again later\n";

#[derive(Clone, Copy, ValueEnum)]
enum Driver {
    /// The hand-written accept loop and echo function in this file.
    Raw,
    /// `netladder::driver::threads` running `netladder::echo::Echo`.
    Threads,
    /// `netladder::driver::mio` (chapter 4's event loop) running the same `Echo`.
    Mio,
}

fn main() -> io::Result<()> {
    netladder::cli::init_logging();
    let args = Args::parse();
    // ANCHOR: bind
    // bind() + listen(): the kernel now accepts connections for us and queues
    // them until we call accept().
    let listener = TcpListener::bind(&args.addr)?;
    println!("listening on {}", listener.local_addr()?);
    // ANCHOR_END: bind
    match args.driver {
        Driver::Raw => serve_raw(listener),
        Driver::Threads => netladder::cli::serve(
            netladder::cli::Driver::Threads,
            args.max_conns,
            BUSY,
            listener,
            |_peer| Echo,
        ),
        Driver::Mio => netladder::cli::serve(
            netladder::cli::Driver::Mio,
            args.max_conns,
            BUSY,
            listener,
            |_peer| Echo,
        ),
    }
}

// ANCHOR: accept_loop
/// Accepts forever and gives every connection a thread of its own.
fn serve_raw(listener: TcpListener) -> io::Result<()> {
    loop {
        // accept() blocks until a client has finished the three-way handshake.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) => {
                // One failed accept (say, a client that reset before we got
                // to it) must not stop the server for everyone else.
                warn!("accept failed: {err}");
                continue;
            }
        };
        info!("accepted {peer}");
        thread::spawn(move || match echo(stream, peer) {
            Ok(bytes) => info!("closed {peer} after echoing {bytes} bytes"),
            Err(err) => info!("closed {peer}: {err}"),
        });
    }
}
// ANCHOR_END: accept_loop

// ANCHOR: echo
/// Writes back every byte until the client half-closes, then closes too.
fn echo(mut stream: TcpStream, peer: SocketAddr) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        // read() returns whatever has arrived: 1 byte or 4096, never "a
        // message". 0 means the peer sent FIN: no more bytes will come.
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        // With RUST_LOG=debug, every read shows how many bytes it returned.
        debug!("{peer}: read {n} bytes");
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
    // Our own FIN: the client's read() now returns 0 once it has everything.
    stream.shutdown(Shutdown::Write)?;
    Ok(total)
}
// ANCHOR_END: echo
