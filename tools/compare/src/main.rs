//! Chapter 4's comparison, in one command:
//!
//! ```text
//! cargo run --release -p netladder-compare
//! ```
//!
//! It builds the servers and the load generator, then for each connection
//! count runs every server in turn (A/B/C, A/B/C, ... so that drift in the
//! machine hits all of them alike), the server pinned to one core and the
//! load generator to the other. It writes `results.csv`, `summary.md` and
//! SVG plots to `--out`. Everything runs on 127.0.0.1 and stops by itself.

mod plot;
mod run;

use clap::Parser;
use run::{Row, Server};
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Chapter 4: threads vs event loop vs tokio-tungstenite, side by side")]
struct Args {
    /// Connection counts for the echo runs.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    connections: Vec<usize>,
    /// Connection counts for the idle-memory runs.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    idle: Vec<usize>,
    /// Repetitions of each run (the summary takes medians).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Seconds per echo run.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Also run the Node (`ws`) and Python (`websockets`) peers.
    #[arg(long)]
    peers: bool,
    /// Where to write results.csv, summary.md and the plots.
    #[arg(long, default_value = "target/compare")]
    out: PathBuf,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::env::set_current_dir(&root).map_err(|e| e.to_string())?;
    run::build()?;
    fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut servers = Server::core();
    if args.peers {
        servers.extend(Server::other_languages()?);
    }
    let perf = run::perf_available();
    let mut rows = Vec::new();
    for &n in &args.connections {
        for rep in 1..=args.reps {
            for server in &servers {
                let row = run::echo(server, n, rep, args.size, args.duration, perf)?;
                eprintln!("{}", row.describe());
                rows.push(row);
            }
        }
    }
    for &n in &args.idle {
        for server in &servers {
            let row = run::idle(server, n)?;
            eprintln!("{}", row.describe());
            rows.push(row);
        }
    }
    let csv = args.out.join("results.csv");
    fs::write(&csv, Row::csv(&rows)).map_err(|e| e.to_string())?;
    let summary = summarize(&rows, &servers, &args, perf);
    fs::write(args.out.join("summary.md"), &summary).map_err(|e| e.to_string())?;
    plot::throughput(&rows, &servers, &args.out.join("throughput.svg"))?;
    plot::p99(&rows, &servers, &args.out.join("p99.svg"))?;
    plot::idle_memory(&rows, &servers, &args.out.join("idle-memory.svg"))?;
    println!("{summary}");
    println!(
        "wrote {}, summary.md and three SVG plots to {}",
        csv.display(),
        args.out.display()
    );
    Ok(())
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores ({cpu}), Linux {}", kernel.trim())
}

fn fmt(value: Option<f64>, digits: usize) -> String {
    value.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// The Markdown the book includes: medians per server and size, and the
/// ratios against the tokio-tungstenite peer.
fn summarize(rows: &[Row], servers: &[Server], args: &Args, perf: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured on {}; server pinned to core 0, load generator to core 1; {}-byte binary messages, one in flight per connection, {} s per run, median of {} runs.\n",
        machine(),
        args.size,
        args.duration,
        args.reps
    );
    let _ = writeln!(
        out,
        "| server | connections | msgs/s | p50 µs | p99 µs | context switches/msg | instructions/msg | failed |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    let pick = |server: &str, n: usize, f: fn(&Row) -> Option<f64>| {
        median(
            rows.iter()
                .filter(|r| !r.idle && r.server == server && r.connections == n)
                .filter_map(f)
                .collect(),
        )
    };
    for &n in &args.connections {
        for server in servers {
            let failed: usize = rows
                .iter()
                .filter(|r| !r.idle && r.server == server.name && r.connections == n)
                .map(|r| r.failed)
                .sum();
            let _ = writeln!(
                out,
                "| {} | {n} | {} | {} | {} | {} | {} | {failed} |",
                server.name,
                fmt(pick(server.name, n, |r| r.msgs_per_sec), 0),
                fmt(pick(server.name, n, |r| r.p50), 0),
                fmt(pick(server.name, n, |r| r.p99), 0),
                fmt(pick(server.name, n, |r| r.context_switches_per_msg), 3),
                if perf {
                    fmt(pick(server.name, n, |r| r.instructions_per_msg), 0)
                } else {
                    "n/a".into()
                },
            );
        }
    }
    let _ = writeln!(
        out,
        "\nRatios, netladder mio / tokio-tungstenite (throughput above 1.0 and p99 below 1.0 are better):\n"
    );
    let _ = writeln!(out, "| connections | throughput ratio | p99 ratio |");
    let _ = writeln!(out, "|---:|---:|---:|");
    for &n in &args.connections {
        let ratio = |f: fn(&Row) -> Option<f64>| match (
            pick("netladder mio", n, f),
            pick("tokio-tungstenite", n, f),
        ) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let _ = writeln!(
            out,
            "| {n} | {} | {} |",
            fmt(ratio(|r| r.msgs_per_sec), 2),
            fmt(ratio(|r| r.p99), 2)
        );
    }
    let _ = writeln!(
        out,
        "\nIdle connections (one round trip each, then held): server memory per connection.\n"
    );
    let _ = writeln!(
        out,
        "| server | connections | established | RSS growth per connection, KiB |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for &n in &args.idle {
        for server in servers {
            for row in rows
                .iter()
                .filter(|r| r.idle && r.server == server.name && r.connections == n)
            {
                let _ = writeln!(
                    out,
                    "| {} | {n} | {} | {} |",
                    server.name,
                    row.established,
                    fmt(row.rss_kib_per_connection, 2)
                );
            }
        }
    }
    out
}
