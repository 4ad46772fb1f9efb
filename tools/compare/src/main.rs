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
//! SVG plots to `--out`, and `run.txt`, the line that captions the plots
//! (machine, date, settings). Everything runs on 127.0.0.1 and stops by
//! itself. `--replot DIR` redraws the plots of an earlier run from its
//! `results.csv` and `run.txt`, without measuring anything.
//! `--redis-cpu DIR` draws chapter 6's Redis CPU plot from what `cargo
//! bench --bench redis_cpu` wrote (see `redis_cpu`).

mod plot;
mod redis_cpu;
mod run;
mod sio;

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
    /// Where to write results.csv, summary.md, run.txt and the plots.
    #[arg(long, default_value = "target/compare")]
    out: PathBuf,
    /// Measure nothing: redraw the plots in DIR from its results.csv and
    /// run.txt (an earlier run's output).
    #[arg(long, value_name = "DIR")]
    replot: Option<PathBuf>,
    /// Measure nothing: draw chapter 6's Redis CPU plot (redis-cpu.svg) in
    /// DIR from the redis-cpu.csv and redis-cpu-run.txt that `cargo bench
    /// --bench redis_cpu -- --out DIR` wrote there.
    #[arg(long, value_name = "DIR")]
    redis_cpu: Option<PathBuf>,
    /// Chapter 5b instead: Socket.IO on netladder (both drivers), Node
    /// socket.io and socketioxide (echo with ack, room broadcast, idle).
    #[arg(long)]
    socketio: bool,
    /// With --socketio: client counts for the echo-with-ack runs.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    sio_echo: Vec<usize>,
    /// With --socketio: room sizes for the broadcast runs.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    sio_broadcast: Vec<usize>,
    /// With --socketio: client counts for the idle runs.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    sio_idle: Vec<usize>,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    if let Some(dir) = &args.replot {
        return replot(dir);
    }
    if let Some(dir) = &args.redis_cpu {
        return redis_cpu::plot(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::env::set_current_dir(&root).map_err(|e| e.to_string())?;
    if args.socketio {
        let plan = sio::SioPlan {
            echo: args.sio_echo.clone(),
            broadcast: args.sio_broadcast.clone(),
            idle: args.sio_idle.clone(),
            duration: args.duration,
            reps: args.reps,
            size: args.size,
            out: args.out.clone(),
        };
        return sio::run(&plan, &machine(), &today());
    }
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
    let caption = caption(&args);
    fs::write(args.out.join("run.txt"), format!("{caption}\n")).map_err(|e| e.to_string())?;
    plots(&rows, &servers, &args.out, &caption)?;
    println!("{summary}");
    println!(
        "wrote {}, summary.md and three SVG plots to {}",
        csv.display(),
        args.out.display()
    );
    Ok(())
}

fn plots(
    rows: &[Row],
    servers: &[Server],
    out: &std::path::Path,
    caption: &str,
) -> Result<(), String> {
    plot::throughput(rows, servers, &out.join("throughput.svg"), caption)?;
    plot::p99(rows, servers, &out.join("p99.svg"), caption)?;
    plot::idle_memory(rows, servers, &out.join("idle-memory.svg"), caption)
}

/// `--replot DIR`: the plots again, from the run's own files.
fn replot(dir: &std::path::Path) -> Result<(), String> {
    let read = |name: &str| {
        fs::read_to_string(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    let rows = Row::parse_csv(&read("results.csv")?)?;
    let caption = read("run.txt")?.trim().to_string();
    // Servers in the order they first appear, as in the run.
    let mut servers: Vec<Server> = Vec::new();
    for row in &rows {
        if !servers.iter().any(|s| s.name == row.server) {
            servers.push(Server::named(row.server));
        }
    }
    plots(&rows, &servers, dir, &caption)?;
    println!("redrew the plots in {}", dir.display());
    Ok(())
}

/// The caption under every plot: machine, date, and the run's settings.
fn caption(args: &Args) -> String {
    format!(
        "Measured on {}, {}; {}-byte messages, one in flight per connection, {} s per echo run, {} (idle runs: one each); server on core 0, load generator on core 1.",
        machine(),
        today(),
        args.size,
        args.duration,
        runs(args.reps)
    )
}

/// "median of 3 runs", or "one run" (there is no median of one).
fn runs(reps: usize) -> String {
    if reps == 1 {
        "one run".to_string()
    } else {
        format!("median of {reps} runs")
    }
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_date((secs / 86_400) as i64)
}

/// The calendar date of a day count since 1970-01-01 (Howard Hinnant's
/// days-to-civil algorithm).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
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
        "Measured on {}, {}; server pinned to core 0, load generator to core 1; {}-byte binary messages, one in flight per connection, {} s per run; {}.\n",
        machine(),
        today(),
        args.size,
        args.duration,
        if args.reps == 1 {
            "figures are from one run".to_string()
        } else {
            format!(
                "figures are the {}, except `failed`, the total over the runs",
                runs(args.reps)
            )
        }
    );
    let failed_header = if args.reps == 1 {
        "failed".to_string()
    } else {
        format!("failed (total of {} runs)", args.reps)
    };
    // The anchors let a page include the echo table alone
    // (`{{#include summary.md:echo}}`); they render as nothing.
    let _ = writeln!(out, "<!-- ANCHOR: echo -->");
    let _ = writeln!(
        out,
        "| server | connections | msgs/s | p50 µs | p99 µs | context switches/msg | instructions/msg | {failed_header} |"
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
    let _ = writeln!(out, "<!-- ANCHOR_END: echo -->");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(20_513), "2026-03-01");
    }

    #[test]
    fn one_run_is_not_a_median() {
        assert_eq!(runs(1), "one run");
        assert_eq!(runs(3), "median of 3 runs");
    }

    #[test]
    fn the_summary_says_what_failed_counts() {
        let rows = Row::parse_csv(
            "server,mode,connections,rep,established,failed,msgs_per_sec,p50_us,p99_us,rss_kib,rss_kib_per_connection,context_switches_per_msg,instructions_per_msg\n\
netladder mio,echo,100,1,100,2,1000,10,20,,,0.5,\n\
netladder mio,echo,100,2,100,3,3000,10,20,,,0.5,\n",
        )
        .unwrap();
        let servers = vec![Server::named("netladder mio")];
        let mut args =
            Args::parse_from(["netladder-compare", "--connections", "100", "--reps", "2"]);
        args.idle.clear();
        let summary = summarize(&rows, &servers, &args, false);
        assert!(summary.contains("failed (total of 2 runs)"), "{summary}");
        assert!(
            summary.contains("<!-- ANCHOR: echo -->\n| server |"),
            "{summary}"
        );
        assert!(
            summary.contains("| netladder mio | 100 | 3000 |"),
            "{summary}"
        );
        assert!(
            summary.trim_end().lines().any(|l| l.ends_with("| 5 |")),
            "{summary}"
        );
        args.reps = 1;
        let one = summarize(&rows, &servers, &args, false);
        assert!(
            one.contains("one run") && !one.contains("median of 1"),
            "{one}"
        );
    }
}
