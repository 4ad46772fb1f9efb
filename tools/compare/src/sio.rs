//! `netladder-compare --socketio`: chapter 5b's Socket.IO comparison, in
//! one run: netladder's `ch05-sio-server` on both drivers, Node's
//! `socket.io` 4.8 (tests/node/sio_server.mjs) and socketioxide on tokio
//! (`sio-peer-socketioxide`), each measured by `ch04-loadgen --protocol
//! sio` (echo with acks, a room broadcast, idle clients with heartbeats).
//! Server on core 0, load generator on core 1, everything on 127.0.0.1,
//! every run bounded in time. Writes `sio-results.csv`, `sio-summary.md`,
//! `sio-run.txt` and three SVG bar charts.

use crate::plot::human;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What `--socketio` runs.
pub struct SioPlan {
    pub echo: Vec<usize>,
    pub broadcast: Vec<usize>,
    pub idle: Vec<usize>,
    pub duration: f64,
    pub reps: usize,
    pub size: usize,
    pub out: PathBuf,
}

/// A Socket.IO server under test.
struct SioServer {
    name: &'static str,
    program: String,
    args: Vec<String>,
}

const PING_MS: &str = "1000";

fn target_release() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let metadata = Command::new(&cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let dir = metadata["target_directory"].as_str().unwrap_or("target");
    Ok(PathBuf::from(dir).join("release"))
}

fn build(with_ours: bool) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec![
        "build",
        "--release",
        "-p",
        "netladder",
        "--bin",
        "ch04-loadgen",
    ];
    if with_ours {
        args.extend(["--bin", "ch05-sio-server"]);
    }
    for args in [
        args,
        vec![
            "build",
            "--release",
            "-p",
            "netladder-compare",
            "--bin",
            "sio-peer-socketioxide",
        ],
    ] {
        let status = Command::new(&cargo)
            .args(&args)
            .status()
            .map_err(|e| format!("cargo: {e}"))?;
        if !status.success() {
            return Err("the build failed".into());
        }
    }
    Ok(())
}

fn servers(release: &Path, with_ours: bool) -> Vec<SioServer> {
    let bin = |name: &str| release.join(name).display().to_string();
    let mut list = Vec::new();
    if with_ours {
        for driver in ["threads", "mio"] {
            list.push(SioServer {
                name: if driver == "mio" {
                    "netladder mio"
                } else {
                    "netladder threads"
                },
                program: bin("ch05-sio-server"),
                args: vec![
                    "--driver".into(),
                    driver.into(),
                    "--addr".into(),
                    "127.0.0.1:0".into(),
                    "--ping-interval-ms".into(),
                    PING_MS.into(),
                    "--max-conns".into(),
                    "20000".into(),
                ],
            });
        }
    }
    list.push(SioServer {
        name: "node socket.io",
        program: "node".into(),
        args: vec![
            "tests/node/sio_server.mjs".into(),
            "--port".into(),
            "0".into(),
            "--ping-interval".into(),
            PING_MS.into(),
        ],
    });
    list.push(SioServer {
        name: "socketioxide",
        program: bin("sio-peer-socketioxide"),
        args: vec!["127.0.0.1:0".into(), PING_MS.into()],
    });
    list
}

struct Running {
    child: Child,
    addr: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Starts `server` on core 0 and reads its address: a `listening on ADDR`
/// line or Node's `{"port":N}`.
fn start(server: &SioServer) -> Result<Running, String> {
    let mut child = Command::new("taskset")
        .args(["-c", "0", &server.program])
        .args(&server.args)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", server.program))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut reader = BufReader::new(stdout);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut line = String::new();
    let addr = loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 || Instant::now() > deadline
        {
            let _ = child.kill();
            return Err(format!("{}: no address line", server.name));
        }
        let text = line.trim();
        if let Some(addr) = text.split("listening on ").nth(1) {
            break addr.split_whitespace().next().unwrap_or("").to_string();
        }
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(text)
            && let Some(port) = json["port"].as_u64()
        {
            break format!("127.0.0.1:{port}");
        }
    };
    // Keep reading (and dropping) what it prints, so it never blocks.
    std::thread::spawn(move || for _ in reader.lines() {});
    Ok(Running { child, addr })
}

/// One measurement.
#[derive(Debug, Clone)]
struct Row {
    server: &'static str,
    mode: &'static str,
    connections: usize,
    rep: usize,
    established: usize,
    failed: usize,
    /// Echo: acked messages/s. Broadcast: deliveries/s.
    rate: f64,
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    rss_kib: Option<f64>,
    rss_kib_per_client: Option<f64>,
}

fn measure(
    loadgen: &Path,
    server: &SioServer,
    mode: &'static str,
    n: usize,
    rep: usize,
    plan: &SioPlan,
) -> Result<Row, String> {
    let running = start(server)?;
    // Time to connect them all (the loadgen counts from the moment the
    // last one is in), then the measured seconds: a busy machine connects
    // slowly, so the allowance is generous (n/100 s, at least 3).
    let ramp = (n as f64 / 100.0).max(3.0);
    let duration = match mode {
        "idle" => ramp + 4.0,
        _ => ramp + plan.duration,
    };
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "1"])
        .arg(loadgen)
        .args(["--protocol", "sio", "--addr", &running.addr])
        .args(["-n", &n.to_string(), "-s", &plan.size.to_string()])
        .args(["--duration", &format!("{duration}"), "--json"])
        .args(["--server-pid", &running.child.id().to_string()]);
    match mode {
        "idle" => {
            cmd.arg("--idle");
        }
        "broadcast" => {
            cmd.args(["--sio-mode", "broadcast", "--namespace", "/bench"]);
        }
        other => {
            cmd.args(["--sio-mode", other]);
        }
    }
    let out = cmd
        .stderr(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    drop(running);
    let text = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("{} {mode} n={n}: no report ({})", server.name, text.trim()))?;
    let f = |v: &serde_json::Value| v.as_f64();
    Ok(Row {
        server: server.name,
        mode,
        connections: n,
        rep,
        established: json["established"].as_u64().unwrap_or(0) as usize,
        failed: json["failed"].as_u64().unwrap_or(0) as usize,
        rate: match mode {
            "broadcast" => f(&json["deliveries_per_sec"]).unwrap_or(0.0),
            _ => f(&json["msgs_per_sec"]).unwrap_or(0.0),
        },
        p50_us: f(&json["latency_us"]["p50"]),
        p99_us: f(&json["latency_us"]["p99"]),
        rss_kib: f(&json["server"]["rss_kib"]),
        rss_kib_per_client: f(&json["server"]["rss_kib_per_connection"]),
    })
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or(String::new(), |v| format!("{v:.digits$}"))
}

fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "server,mode,connections,rep,established,failed,rate_per_sec,p50_us,p99_us,rss_kib,rss_kib_per_client\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{:.0},{},{},{},{}",
            r.server,
            r.mode,
            r.connections,
            r.rep,
            r.established,
            r.failed,
            r.rate,
            opt(r.p50_us, 0),
            opt(r.p99_us, 0),
            opt(r.rss_kib, 0),
            opt(r.rss_kib_per_client, 2)
        );
    }
    out
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// The median of `f` over the reps of one server, mode and size.
fn pick(
    rows: &[Row],
    server: &str,
    mode: &str,
    n: usize,
    f: fn(&Row) -> Option<f64>,
) -> Option<f64> {
    median(
        rows.iter()
            .filter(|r| r.server == server && r.mode == mode && r.connections == n)
            .filter_map(f)
            .collect(),
    )
}

fn cases(rows: &[Row], mode: &str) -> Vec<usize> {
    let mut ns: Vec<usize> = rows
        .iter()
        .filter(|r| r.mode == mode)
        .map(|r| r.connections)
        .collect();
    ns.sort_unstable();
    ns.dedup();
    ns
}

fn summary(rows: &[Row], names: &[&'static str], caption: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{caption}\n");
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "-".into(),
    };
    for (mode, what) in [
        ("echo", "echo with ack, msgs/s"),
        ("broadcast", "room broadcast, deliveries/s"),
    ] {
        let _ = writeln!(
            out,
            "| {what} | clients | rate | p50 µs | p99 µs | vs node | vs socketioxide | failed |\n|---|---|---|---|---|---|---|---|"
        );
        for n in cases(rows, mode) {
            let node = pick(rows, "node socket.io", mode, n, |r| Some(r.rate));
            let sx = pick(rows, "socketioxide", mode, n, |r| Some(r.rate));
            for name in names {
                let rate = pick(rows, name, mode, n, |r| Some(r.rate));
                let failed: usize = rows
                    .iter()
                    .filter(|r| r.server == *name && r.mode == mode && r.connections == n)
                    .map(|r| r.failed + r.connections.saturating_sub(r.established))
                    .sum();
                let _ = writeln!(
                    out,
                    "| {name} | {n} | {} | {} | {} | {} | {} | {failed} |",
                    opt(rate, 0),
                    opt(pick(rows, name, mode, n, |r| r.p50_us), 0),
                    opt(pick(rows, name, mode, n, |r| r.p99_us), 0),
                    ratio(rate, node),
                    ratio(rate, sx),
                );
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "| idle with heartbeats | clients | server RSS KiB | KiB per client | failed |\n|---|---|---|---|---|"
    );
    for n in cases(rows, "idle") {
        for name in names {
            let failed: usize = rows
                .iter()
                .filter(|r| r.server == *name && r.mode == "idle" && r.connections == n)
                .map(|r| r.failed + r.connections.saturating_sub(r.established))
                .sum();
            let _ = writeln!(
                out,
                "| {name} | {n} | {} | {} | {failed} |",
                opt(pick(rows, name, "idle", n, |r| r.rss_kib), 0),
                opt(pick(rows, name, "idle", n, |r| r.rss_kib_per_client), 2),
            );
        }
    }
    out
}

const COLORS: [RGBColor; 4] = [
    RGBColor(214, 96, 77),
    RGBColor(67, 147, 195),
    RGBColor(77, 175, 74),
    RGBColor(90, 90, 90),
];

/// Grouped bars: one group per client count, one bar per server.
#[allow(clippy::too_many_arguments)]
fn bars(
    rows: &[Row],
    names: &[&'static str],
    mode: &str,
    f: fn(&Row) -> Option<f64>,
    title: &str,
    y_label: &str,
    caption: &str,
    path: &Path,
) -> Result<(), String> {
    let ns = cases(rows, mode);
    if ns.is_empty() {
        return Ok(());
    }
    let values: Vec<Vec<Option<f64>>> = ns
        .iter()
        .map(|&n| names.iter().map(|s| pick(rows, s, mode, n, f)).collect())
        .collect();
    let y_max = values
        .iter()
        .flatten()
        .flatten()
        .fold(1.0f64, |a, &b| a.max(b));
    let size = (760u32, 470u32);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (chart_area, caption_area) = root.split_vertically(size.1 - 44);
    let groups = ns.len() as f64;
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..groups, 0.0..y_max * 1.2)
        .map_err(|e| e.to_string())?;
    let labels = ns.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(ns.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 0.01 && i < labels.len() {
                format!("{} clients", human(labels[i] as f64))
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .y_label_formatter(&|y| human(*y))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK.mix(0.6))
        .draw()
        .map_err(|e| e.to_string())?;
    let width = 0.8 / names.len() as f64;
    for (s, name) in names.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        let rects: Vec<Rectangle<(f64, f64)>> = values
            .iter()
            .enumerate()
            .filter_map(|(g, row)| {
                let v = row[s]?;
                let x0 = g as f64 + 0.1 + width * s as f64;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, v)],
                    color.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(|e| e.to_string())?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        let texts: Vec<Text<(f64, f64), String>> = values
            .iter()
            .enumerate()
            .filter_map(|(g, row)| {
                let v = row[s]?;
                let x0 = g as f64 + 0.1 + width * s as f64;
                Some(Text::new(
                    human(v),
                    (x0, v * 1.02 + y_max * 0.03),
                    ("sans-serif", 11).into_font(),
                ))
            })
            .collect();
        chart.draw_series(texts).map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string())?;
    let mut lines = vec![String::new()];
    for word in caption.split(' ') {
        let line = lines.last_mut().expect("a line");
        if line.len() + word.len() > 118 {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    for (i, line) in lines.iter().take(2).enumerate() {
        caption_area
            .draw(&Text::new(
                line.clone(),
                (12, 6 + 16 * i as i32),
                ("sans-serif", 12).into_font().color(&RGBColor(80, 80, 80)),
            ))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

pub fn run(plan: &SioPlan, machine: &str, today: &str) -> Result<(), String> {
    if !Path::new("tests/node/node_modules/socket.io").is_dir() {
        return Err("--socketio needs tests/node/node_modules (`npm ci` in tests/node)".into());
    }
    let with_ours = Path::new("chapters/ch05/sio_server.rs").is_file();
    if !with_ours {
        eprintln!("ch05-sio-server is not in this tree: measuring the peers only");
    }
    build(with_ours)?;
    let release = target_release()?;
    let loadgen = release.join("ch04-loadgen");
    let servers = servers(&release, with_ours);
    fs::create_dir_all(&plan.out).map_err(|e| format!("{}: {e}", plan.out.display()))?;
    let mut rows = Vec::new();
    let mut run_one = |mode: &'static str, n: usize, rep: usize| -> Result<(), String> {
        for server in &servers {
            match measure(&loadgen, server, mode, n, rep, plan) {
                Ok(row) => {
                    eprintln!(
                        "{:<18} {mode:<9} n={n:<6} rep {rep}: {:>9.0}/s, p99 {:>8} µs, {} KiB/client, {} failed, {}/{n} established",
                        row.server,
                        row.rate,
                        opt(row.p99_us, 0),
                        opt(row.rss_kib_per_client, 2),
                        row.failed,
                        row.established
                    );
                    rows.push(row);
                }
                Err(e) => eprintln!("{} {mode} n={n}: {e}", server.name),
            }
        }
        Ok(())
    };
    for &n in &plan.echo {
        for rep in 1..=plan.reps {
            run_one("echo", n, rep)?;
        }
    }
    for &n in &plan.broadcast {
        for rep in 1..=plan.reps {
            run_one("broadcast", n, rep)?;
        }
    }
    for &n in &plan.idle {
        run_one("idle", n, 1)?;
    }
    let names: Vec<&'static str> = servers.iter().map(|s| s.name).collect();
    let runs = if plan.reps == 1 {
        "one run".to_string()
    } else {
        format!("median of {} runs", plan.reps)
    };
    let caption = format!(
        "Measured on {machine}, {today}; Socket.IO over WebSocket, {}-byte string payloads; echo: one acked emit in flight per client, {} s; broadcast: one sender, 16 broadcasts in flight; idle: pings every {PING_MS} ms; {runs}; server on core 0, ch04-loadgen on core 1.",
        plan.size, plan.duration
    );
    fs::write(plan.out.join("sio-results.csv"), csv(&rows)).map_err(|e| e.to_string())?;
    let summary = summary(&rows, &names, &caption);
    fs::write(plan.out.join("sio-summary.md"), &summary).map_err(|e| e.to_string())?;
    fs::write(plan.out.join("sio-run.txt"), format!("{caption}\n")).map_err(|e| e.to_string())?;
    bars(
        &rows,
        &names,
        "echo",
        |r| Some(r.rate),
        "Socket.IO echo with ack (msgs/s, higher is better)",
        "acked messages per second",
        &caption,
        &plan.out.join("sio-echo.svg"),
    )?;
    bars(
        &rows,
        &names,
        "broadcast",
        |r| Some(r.rate),
        "Socket.IO room broadcast (deliveries/s, higher is better)",
        "deliveries per second",
        &caption,
        &plan.out.join("sio-broadcast.svg"),
    )?;
    bars(
        &rows,
        &names,
        "idle",
        |r| r.rss_kib_per_client,
        "Idle Socket.IO clients: server RSS per client (KiB, lower is better)",
        "KiB per client",
        &caption,
        &plan.out.join("sio-idle-memory.svg"),
    )?;
    println!("{summary}");
    println!(
        "wrote sio-results.csv, sio-summary.md, sio-run.txt and three SVG charts to {}",
        plan.out.display()
    );
    Ok(())
}
