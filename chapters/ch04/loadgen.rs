//! Chapter 4: a load generator on netladder's own mio loop.
//!
//! N connections, S-byte messages, one message in flight per connection,
//! every echo checked. It stops by itself after `--duration` seconds or
//! `--messages` messages, and only ever connects to loopback addresses.
//! `--idle` opens the connections, makes one round trip on each, and holds
//! them, to measure what an idle connection costs the server.

mod sio;
mod stats;
mod workload;

use clap::{Parser, ValueEnum};
use netladder::driver::mio;
use netladder::ws::deflate::{DeflateConfig, OnOff};
use stats::{ProcSample, TICKS_PER_SECOND};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};
use workload::{Client, Mode, RawTcp, Run, Transport, WebSocket};

#[derive(Parser)]
#[command(about = "Chapter 4: closed-loop echo load generator (loopback only)")]
struct Args {
    /// The server, HOST:PORT; must be a loopback address.
    #[arg(long, default_value = "127.0.0.1:7001")]
    addr: String,
    /// What to speak.
    #[arg(long, value_enum, default_value_t = Wire::Tcp)]
    protocol: Wire,
    /// Connections to open.
    #[arg(long, short = 'n', default_value_t = 100)]
    connections: usize,
    /// Bytes per message.
    #[arg(long, short = 's', default_value_t = 64)]
    size: usize,
    /// Seconds to run (or, with --idle, to hold the connections).
    #[arg(long, short = 'd', default_value_t = 5.0)]
    duration: f64,
    /// Stop after this many messages in all (with --protocol sio: echoes
    /// sent, in --sio-mode echo).
    #[arg(long)]
    messages: Option<u64>,
    /// Open, echo once, and hold the connections instead of sending load.
    #[arg(long)]
    idle: bool,
    /// Also report this process's memory, CPU time and context switches.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The WebSocket path (with --protocol ws).
    #[arg(long, default_value = "/echo")]
    path: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// With --protocol ws: offer permessage-deflate and send every message
    /// compressed (the server must accept).
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    deflate: OnOff,
    /// With --deflate on: keep context between messages (context takeover)
    /// instead of asking for no_context_takeover.
    #[arg(long)]
    deflate_takeover: bool,
    /// With --protocol sio: what to measure (--idle means idle too).
    #[arg(long, value_enum, default_value_t = sio::SioMode::Echo)]
    sio_mode: sio::SioMode,
    /// With --sio-mode broadcast: broadcasts in flight (not yet received
    /// by every receiver) at once.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// With --protocol sio: the namespace the clients join.
    #[arg(long, default_value = "/")]
    namespace: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Wire {
    /// Raw bytes over TCP, against an echo server (chapter 1).
    Tcp,
    /// Binary WebSocket messages, against a WebSocket echo server (chapter 3).
    Ws,
    /// Socket.IO over a WebSocket, against a server with the bench events
    /// (`echo`, `join`, `broadcast`: chapter 5b); see --sio-mode.
    Sio,
}

/// Either transport, so one client type serves both.
enum AnyTransport {
    Tcp(RawTcp),
    Ws(Box<WebSocket>),
}

impl Transport for AnyTransport {
    fn greeting(&mut self) -> Vec<u8> {
        match self {
            AnyTransport::Tcp(t) => t.greeting(),
            AnyTransport::Ws(t) => t.greeting(),
        }
    }
    fn read_greeting(&mut self, input: &[u8]) -> Result<Option<usize>, String> {
        match self {
            AnyTransport::Tcp(t) => t.read_greeting(input),
            AnyTransport::Ws(t) => t.read_greeting(input),
        }
    }
    fn encode(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        match self {
            AnyTransport::Tcp(t) => t.encode(payload, out),
            AnyTransport::Ws(t) => t.encode(payload, out),
        }
    }
    fn decode(&mut self, input: &[u8]) -> Result<Option<workload::Decoded>, String> {
        match self {
            AnyTransport::Tcp(t) => t.decode(input),
            AnyTransport::Ws(t) => t.decode(input),
        }
    }
}

fn main() -> Result<(), String> {
    netladder::cli::init_logging_or("warn");
    let args = Args::parse();
    let addr = netladder::cli::loopback_addr(&args.addr)?;
    if args.size == 0 || args.connections == 0 {
        return Err("--size and --connections must be at least 1".into());
    }
    let duration = Duration::try_from_secs_f64(args.duration)
        .map_err(|_| "--duration must be a number of seconds")?;
    if let Wire::Sio = args.protocol {
        let path = if args.path == "/echo" {
            "/socket.io/".to_owned()
        } else {
            args.path.clone()
        };
        return sio::run(sio::SioArgs {
            addr,
            path,
            namespace: args.namespace.clone(),
            mode: if args.idle {
                sio::SioMode::Idle
            } else {
                args.sio_mode
            },
            connections: args.connections,
            size: args.size,
            duration,
            messages: args.messages,
            window: args.window,
            server_pid: args.server_pid,
            json: args.json,
        });
    }
    let before = args.server_pid.and_then(ProcSample::read);
    let started = Instant::now();
    let run = Run::new(started + duration, args.messages.unwrap_or(u64::MAX));
    let mode = if args.idle { Mode::Idle } else { Mode::Echo };
    let mut clients = Vec::with_capacity(args.connections);
    let deflate = (args.deflate == OnOff::On).then(|| {
        let config = DeflateConfig {
            threshold: 0,
            ..DeflateConfig::default()
        };
        if args.deflate_takeover {
            config.with_context_takeover()
        } else {
            config
        }
    });
    for id in 0..args.connections {
        let transport = match args.protocol {
            Wire::Tcp => AnyTransport::Tcp(RawTcp { size: args.size }),
            Wire::Sio => unreachable!("handled above"),
            Wire::Ws => {
                let mask = (id as u32).wrapping_mul(2_654_435_761).to_le_bytes();
                AnyTransport::Ws(Box::new(WebSocket::new(
                    &addr.to_string(),
                    &args.path,
                    mask,
                    deflate.clone(),
                )?))
            }
        };
        clients.push((
            addr,
            Client::new(Arc::clone(&run), transport, mode, args.size, id),
        ));
    }
    let event_loop = thread::spawn(move || mio::connect_all(clients, mio::Config::default()));

    let progress = indicatif::ProgressBar::new(duration.as_millis() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {elapsed}/{duration} {msg}")
            .map_err(|e| e.to_string())?,
    );
    // Sample the server while the load (or the idle crowd) is at its peak:
    // just before the deadline, while every connection is still open.
    let mut at_peak = None;
    while Instant::now() + Duration::from_millis(100) < run.deadline && !event_loop.is_finished() {
        thread::sleep(Duration::from_millis(50));
        let established = run.established.load(Ordering::Relaxed);
        progress.set_position(started.elapsed().as_millis() as u64);
        progress.set_message(format!(
            "{} msgs, {established}/{} connected",
            run.messages.load(Ordering::Relaxed),
            args.connections
        ));
        at_peak = args.server_pid.and_then(ProcSample::read).or(at_peak);
    }
    let elapsed = started.elapsed().min(duration).as_secs_f64().max(1e-9);
    let messages_at_deadline = run.messages.load(Ordering::Relaxed);
    let established = run.established.load(Ordering::Relaxed);
    progress.finish_and_clear();
    event_loop
        .join()
        .map_err(|_| "the event loop panicked")?
        .map_err(|e| e.to_string())?;

    let failed = run.failed.load(Ordering::Relaxed);
    let mut latencies = std::mem::take(&mut *run.latencies.lock().map_err(|_| "poisoned")?);
    let total = run.messages.load(Ordering::Relaxed);
    let report = Report {
        protocol: match args.protocol {
            Wire::Tcp => "tcp",
            Wire::Ws => "ws",
            Wire::Sio => "sio",
        },
        idle: args.idle,
        connections: args.connections,
        established,
        failed,
        size: args.size,
        seconds: elapsed,
        messages: total,
        msgs_per_sec: messages_at_deadline as f64 / elapsed,
        p50: latencies.percentile(50.0),
        p90: latencies.percentile(90.0),
        p99: latencies.percentile(99.0),
        max: latencies.percentile(100.0),
        server: before.zip(at_peak),
    };
    if args.json {
        println!("{}", report.json());
    } else {
        report.print();
    }
    if failed > 0 || established < args.connections {
        return Err(format!(
            "{failed} connection(s) failed, {established} of {} established",
            args.connections
        ));
    }
    Ok(())
}

struct Report {
    protocol: &'static str,
    idle: bool,
    connections: usize,
    established: usize,
    failed: usize,
    size: usize,
    seconds: f64,
    messages: u64,
    msgs_per_sec: f64,
    p50: Option<u32>,
    p90: Option<u32>,
    p99: Option<u32>,
    max: Option<u32>,
    /// The server's counters before the run and at its peak.
    server: Option<(ProcSample, ProcSample)>,
}

impl Report {
    fn server_numbers(&self) -> Option<(u64, f64, f64, f64)> {
        let (before, peak) = self.server?;
        let rss_growth = peak.rss_kib.saturating_sub(before.rss_kib);
        let per_connection = rss_growth as f64 / self.established.max(1) as f64;
        let cpu = peak.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / TICKS_PER_SECOND;
        let switches = peak
            .context_switches
            .saturating_sub(before.context_switches) as f64;
        let per_message = switches / self.messages.max(1) as f64;
        Some((peak.rss_kib, per_connection, cpu, per_message))
    }

    fn json(&self) -> serde_json::Value {
        let server = self
            .server_numbers()
            .map(|(rss, per_connection, cpu, per_message)| {
                serde_json::json!({
                    "rss_kib": rss,
                    "rss_kib_per_connection": per_connection,
                    "cpu_seconds": cpu,
                    "context_switches_per_message": per_message,
                })
            });
        serde_json::json!({
            "protocol": self.protocol,
            "idle": self.idle,
            "connections": self.connections,
            "established": self.established,
            "failed": self.failed,
            "message_bytes": self.size,
            "seconds": self.seconds,
            "messages": self.messages,
            "msgs_per_sec": self.msgs_per_sec,
            "latency_us": { "p50": self.p50, "p90": self.p90, "p99": self.p99, "max": self.max },
            "server": server,
        })
    }

    fn print(&self) {
        let kind = if self.idle { "idle" } else { "echo" };
        println!(
            "{} {kind}: {} connections ({} established, {} failed), {}-byte messages, {:.1} s",
            self.protocol, self.connections, self.established, self.failed, self.size, self.seconds
        );
        if !self.idle {
            println!(
                "throughput: {:.0} msgs/s ({} messages)",
                self.msgs_per_sec, self.messages
            );
        }
        let show = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
        println!(
            "latency (µs): p50 {} p90 {} p99 {} max {}",
            show(self.p50),
            show(self.p90),
            show(self.p99),
            show(self.max)
        );
        if let Some((rss, per_connection, cpu, per_message)) = self.server_numbers() {
            println!(
                "server: RSS {rss} KiB ({per_connection:.2} KiB per connection), CPU {cpu:.2} s, {per_message:.3} context switches per message"
            );
        }
    }
}
