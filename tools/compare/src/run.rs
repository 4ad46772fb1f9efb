//! Starting servers and the load generator, and reading its JSON.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// A server under test: how to start it on a free loopback port.
pub struct Server {
    pub name: &'static str,
    program: &'static str,
    args: &'static [&'static str],
}

impl Server {
    /// netladder on both drivers, and the tokio-tungstenite peer.
    pub fn core() -> Vec<Server> {
        vec![
            Server {
                name: "netladder threads",
                program: release("ch03-ws-server"),
                args: &["--driver", "threads", "--addr", "127.0.0.1:0"],
            },
            Server {
                name: "netladder mio",
                program: release("ch03-ws-server"),
                args: &["--driver", "mio", "--addr", "127.0.0.1:0"],
            },
            Server {
                name: "tokio-tungstenite",
                program: release("examples/peer_tokio_ws"),
                args: &["127.0.0.1:0"],
            },
        ]
    }

    /// A server known only by name (for redrawing plots from a CSV).
    pub fn named(name: &'static str) -> Server {
        Server {
            name,
            program: "",
            args: &[],
        }
    }

    /// Peers in other languages, installed by scripts/test-all: Node's `ws`
    /// and Python's `websockets` (asyncio). `None` if either is missing.
    pub fn other_languages() -> Result<Vec<Server>, String> {
        let node_ready = std::path::Path::new("tests/node/node_modules/ws").is_dir();
        let python_ready = std::path::Path::new(".venv/bin/python").is_file();
        if !node_ready || !python_ready {
            return Err(
                "--peers needs tests/node/node_modules and .venv: `bash scripts/interop` sets them up"
                    .into(),
            );
        }
        Ok(vec![
            Server {
                name: "node ws",
                program: "node",
                args: &["tests/node/ws_echo_server.mjs", "127.0.0.1:0"],
            },
            Server {
                name: "python websockets",
                program: ".venv/bin/python",
                args: &["tests/python/ws_echo_server.py", "127.0.0.1:0"],
            },
        ])
    }
}

/// Where cargo put the release build: `target/release`, or wherever
/// `CARGO_TARGET_DIR` or cargo's config says (set by [`build`]).
static RELEASE_DIR: OnceLock<PathBuf> = OnceLock::new();

/// The path of a release artifact, such as `ch04-loadgen`.
fn release(name: &str) -> &'static str {
    let dir = RELEASE_DIR
        .get()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("target/release"));
    String::leak(dir.join(name).display().to_string())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Builds everything the runs use, in release mode, and asks cargo where
/// it put them.
pub fn build() -> Result<(), String> {
    let metadata = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    if let Some(target) = metadata["target_directory"].as_str() {
        let _ = RELEASE_DIR.set(PathBuf::from(target).join("release"));
    }
    let status = cargo()
        .args([
            "build",
            "--release",
            "--bin",
            "ch03-ws-server",
            "--bin",
            "ch04-loadgen",
            "--example",
            "peer_tokio_ws",
        ])
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| "the build failed".into())
}

/// Whether `perf stat` can count instructions here (many VMs cannot).
pub fn perf_available() -> bool {
    Command::new("perf")
        .args(["stat", "-x,", "-e", "instructions", "true"])
        .output()
        .map(|out| {
            let text = String::from_utf8_lossy(&out.stderr);
            out.status.success() && !text.contains("not supported") && !text.contains("not counted")
        })
        .unwrap_or(false)
}

/// A running server, pinned to core 0, killed when dropped.
struct Running {
    child: Child,
    addr: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Let the kernel tidy the sockets before the next run.
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn start(server: &Server) -> Result<Running, String> {
    let mut child = Command::new("taskset")
        .args(["-c", "0", server.program])
        .args(server.args)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", server.program))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("{}: said {line:?}", server.name))?
        .to_string();
    Ok(Running { child, addr })
}

/// One measurement.
#[derive(Debug, Clone)]
pub struct Row {
    pub server: &'static str,
    pub idle: bool,
    pub connections: usize,
    pub rep: usize,
    pub established: usize,
    pub failed: usize,
    pub msgs_per_sec: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub rss_kib: Option<f64>,
    pub rss_kib_per_connection: Option<f64>,
    pub context_switches_per_msg: Option<f64>,
    pub instructions_per_msg: Option<f64>,
}

impl Row {
    pub fn describe(&self) -> String {
        let kind = if self.idle { "idle" } else { "echo" };
        format!(
            "{:<18} {kind} n={:<6} rep {}: {:>8.0} msgs/s, p99 {:>7.0} µs, {:.2} KiB/conn, {} failed",
            self.server,
            self.connections,
            self.rep,
            self.msgs_per_sec.unwrap_or(0.0),
            self.p99.unwrap_or(0.0),
            self.rss_kib_per_connection.unwrap_or(0.0),
            self.failed
        )
    }

    /// Reads back what [`Row::csv`] wrote (for `--replot`).
    pub fn parse_csv(text: &str) -> Result<Vec<Row>, String> {
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != 13 {
                return Err(format!(
                    "results.csv line {}: {} cells, not 13",
                    i + 1,
                    cells.len()
                ));
            }
            let int = |c: &str| {
                c.parse::<usize>()
                    .map_err(|e| format!("line {}: {e}", i + 1))
            };
            let num = |c: &str| c.parse::<f64>().ok();
            rows.push(Row {
                server: String::leak(cells[0].to_string()),
                idle: cells[1] == "idle",
                connections: int(cells[2])?,
                rep: int(cells[3])?,
                established: int(cells[4])?,
                failed: int(cells[5])?,
                msgs_per_sec: num(cells[6]),
                p50: num(cells[7]),
                p99: num(cells[8]),
                rss_kib: num(cells[9]),
                rss_kib_per_connection: num(cells[10]),
                context_switches_per_msg: num(cells[11]),
                instructions_per_msg: num(cells[12]),
            });
        }
        Ok(rows)
    }

    pub fn csv(rows: &[Row]) -> String {
        let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        let mut out = String::from(
            "server,mode,connections,rep,established,failed,msgs_per_sec,p50_us,p99_us,rss_kib,rss_kib_per_connection,context_switches_per_msg,instructions_per_msg\n",
        );
        for r in rows {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                r.server,
                if r.idle { "idle" } else { "echo" },
                r.connections,
                r.rep,
                r.established,
                r.failed,
                cell(r.msgs_per_sec),
                cell(r.p50),
                cell(r.p99),
                cell(r.rss_kib),
                cell(r.rss_kib_per_connection),
                cell(r.context_switches_per_msg),
                cell(r.instructions_per_msg),
            ));
        }
        out
    }
}

fn loadgen(addr: &str, pid: u32, extra: &[String]) -> Result<serde_json::Value, String> {
    let output = Command::new("taskset")
        .args([
            "-c",
            "1",
            release("ch04-loadgen"),
            "--protocol",
            "ws",
            "--json",
            "--addr",
            addr,
        ])
        .args(["--server-pid", &pid.to_string()])
        .args(extra)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("ch04-loadgen: {e}"))?;
    // A run with failures still prints its JSON (and exits 1): keep it.
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim())
        .map_err(|e| format!("ch04-loadgen printed no JSON ({e}): {text}"))
}

fn row(server: &Server, idle: bool, n: usize, rep: usize, json: &serde_json::Value) -> Row {
    let f = |path: &[&str]| {
        path.iter()
            .try_fold(json, |v, key| v.get(key))
            .and_then(serde_json::Value::as_f64)
    };
    Row {
        server: server.name,
        idle,
        connections: n,
        rep,
        established: f(&["established"]).unwrap_or(0.0) as usize,
        failed: f(&["failed"]).unwrap_or(0.0) as usize,
        msgs_per_sec: (!idle).then(|| f(&["msgs_per_sec"])).flatten(),
        p50: f(&["latency_us", "p50"]),
        p99: f(&["latency_us", "p99"]),
        rss_kib: f(&["server", "rss_kib"]),
        rss_kib_per_connection: f(&["server", "rss_kib_per_connection"]),
        context_switches_per_msg: f(&["server", "context_switches_per_message"]),
        instructions_per_msg: None,
    }
}

/// A closed-loop echo run with `n` connections.
pub fn echo(
    server: &Server,
    n: usize,
    rep: usize,
    size: usize,
    duration: f64,
    perf: bool,
) -> Result<Row, String> {
    let running = start(server)?;
    let pid = running.child.id();
    // Count the server's instructions for the length of the run.
    let counter = perf
        .then(|| {
            Command::new("perf")
                .args(["stat", "-x,", "-e", "instructions", "-p", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .ok()
        })
        .flatten();
    let args = [
        "-n".to_string(),
        n.to_string(),
        "-s".into(),
        size.to_string(),
        "-d".into(),
        duration.to_string(),
    ];
    let json = loadgen(&running.addr, pid, &args);
    let instructions = counter.and_then(|perf| {
        // perf prints its count when interrupted.
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let output = perf.wait_with_output().ok()?;
        let text = String::from_utf8_lossy(&output.stderr);
        text.lines()
            .find(|l| l.contains("instructions"))?
            .split(',')
            .next()?
            .parse::<f64>()
            .ok()
    });
    drop(running);
    let json = json?;
    let mut row = row(server, false, n, rep, &json);
    let messages = json
        .get("messages")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0);
    row.instructions_per_msg = instructions
        .filter(|_| messages > 0.0)
        .map(|i| i / messages);
    Ok(row)
}

/// Opens `n` connections, one round trip each, holds them, reads the
/// server's memory.
pub fn idle(server: &Server, n: usize) -> Result<Row, String> {
    let running = start(server)?;
    let pid = running.child.id();
    let args = [
        "--idle".to_string(),
        "-n".into(),
        n.to_string(),
        "-s".into(),
        "16".into(),
        "-d".into(),
        "6".into(),
    ];
    let json = loadgen(&running.addr, pid, &args);
    drop(running);
    Ok(row(server, true, n, 1, &json?))
}
