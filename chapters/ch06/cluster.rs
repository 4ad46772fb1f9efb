//! Chapter 6: the one-command demo of a Socket.IO cluster.
//!
//! `ch06-cluster --addr 127.0.0.1:7006` starts a `redis-server` of its own
//! on a free loopback port, `--servers N` (3) `ch05-sio-server --redis
//! redis://127.0.0.1:PORT` on free ports, and `ch06-balancer` in front of
//! them on `--addr`; then it prints the URL of the chat. Chat rooms and
//! messages work across the servers: each browser tab lands on one server
//! (round-robin, then sticky), and a message goes to the others through
//! Redis. Ctrl-C (or SIGTERM) stops everything; if one of the processes dies
//! the demo says so and stops the rest.
//!
//! The servers and the balancer are this binary's siblings: build them first
//! with `cargo build --bins`, then `cargo run --bin ch06-cluster`.

use clap::Parser;
use netladder::cli::Driver;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Chapter 6: Redis, N Socket.IO servers and a sticky balancer, in one command")]
struct Args {
    /// Address of the balancer, the cluster's one entry point, HOST:PORT on loopback.
    #[arg(long, default_value = "127.0.0.1:7006")]
    addr: String,
    /// Which driver the servers and the balancer run on.
    #[arg(long, value_enum, default_value_t = Driver::Threads)]
    driver: Driver,
    /// How many `ch05-sio-server` instances to start (1 to 16).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=16))]
    servers: u16,
}

/// A started process, killed (and reaped) when dropped.
struct Proc {
    name: String,
    child: Child,
}

/// Every process of the cluster: dropping it, on a normal exit as on a
/// panic, kills them all, the balancer first and Redis last.
#[derive(Default)]
struct Cluster {
    procs: Vec<Proc>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        while let Some(mut p) = self.procs.pop() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

impl Cluster {
    /// The first process that has exited, with how.
    fn exited(&mut self) -> Option<String> {
        self.procs
            .iter_mut()
            .find_map(|p| match p.child.try_wait() {
                Ok(Some(status)) => Some(format!("{} exited ({status})", p.name)),
                Ok(None) => None,
                Err(e) => Some(format!("{}: {e}", p.name)),
            })
    }
}

// ANCHOR: start
fn main() -> ExitCode {
    netladder::cli::init_logging();
    let args = Args::parse();
    if let Err(e) = netladder::cli::loopback_addr(&args.addr) {
        eprintln!("ch06-cluster: --addr {}: {e}", args.addr);
        return ExitCode::from(2);
    }
    let (stop_tx, stop_rx) = mpsc::channel();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    }) {
        eprintln!("ch06-cluster: cannot catch Ctrl-C: {e}");
        return ExitCode::FAILURE;
    }
    let mut cluster = Cluster::default();
    let url = match start(&args, &mut cluster) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("ch06-cluster: {e}");
            return ExitCode::FAILURE; // `cluster` drops: what started is killed
        }
    };
    println!("chat: {url}");
    println!(
        "open it in two or three browser tabs: each lands on one of the {} servers, \
         and messages cross through Redis. Ctrl-C stops everything.",
        args.servers
    );
    let _ = std::io::stdout().flush();
    loop {
        match stop_rx.recv_timeout(Duration::from_millis(200)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                println!("stopping the cluster");
                return ExitCode::SUCCESS;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(why) = cluster.exited() {
            if stop_rx.try_recv().is_ok() {
                // Ctrl-C in a terminal reaches the children too: not a crash.
                println!("stopping the cluster");
                return ExitCode::SUCCESS;
            }
            eprintln!("ch06-cluster: {why}; stopping the cluster");
            return ExitCode::FAILURE;
        }
    }
}

/// Starts Redis, the servers and the balancer (each pushed on `cluster` as
/// soon as it runs); returns the chat's URL.
fn start(args: &Args, cluster: &mut Cluster) -> Result<String, String> {
    let dir = bin_dir()?;
    let driver = match args.driver {
        Driver::Threads => "threads",
        Driver::Mio => "mio",
    };
    let redis = start_redis(cluster)?;
    println!("redis:    {redis}");
    let mut backends = Vec::new();
    for i in 1..=args.servers {
        let mut cmd = Command::new(dir.join("ch05-sio-server"));
        cmd.args([
            "--addr",
            "127.0.0.1:0",
            "--redis",
            &redis,
            "--driver",
            driver,
        ]);
        let addr = spawn_listening(cluster, format!("server {i}"), cmd)?;
        println!("server {i}: http://{addr}/ (ch05-sio-server --redis {redis})");
        backends.push(addr);
    }
    let mut cmd = Command::new(dir.join("ch06-balancer"));
    cmd.args(["--addr", &args.addr, "--driver", driver]);
    for b in &backends {
        cmd.args(["--backend", b]);
    }
    let addr = spawn_listening(cluster, "balancer".into(), cmd)?;
    println!("balancer: http://{addr}/ (ch06-balancer, sticky by Engine.IO sid)");
    Ok(format!("http://{addr}/"))
}
// ANCHOR_END: start

/// The directory holding this binary and its siblings, which must be built.
fn bin_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("where am I? {e}"))?;
    let dir = exe
        .parent()
        .ok_or("where am I? no directory")?
        .to_path_buf();
    for sibling in ["ch05-sio-server", "ch06-balancer"] {
        if !dir.join(sibling).is_file() {
            return Err(format!(
                "{sibling} is not built next to this binary (in {}): run `cargo build --bins` \
                 first, then `cargo run --bin ch06-cluster`",
                dir.display()
            ));
        }
    }
    Ok(dir)
}

/// Starts `redis-server` on a free loopback port, without persistence, and
/// waits until it answers PING; returns its URL.
fn start_redis(cluster: &mut Cluster) -> Result<String, String> {
    if Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        return Err(
            "redis-server is not installed: it comes with Debian's `redis-server` \
                    package (sudo apt-get install redis-server)"
                .into(),
        );
    }
    for _ in 0..5 {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("redis-server: {e}"))?;
        cluster.procs.push(Proc {
            name: "redis-server".into(),
            child,
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if cluster.exited().is_some() {
                break; // the port was taken meanwhile: try another
            }
            if ping(port) {
                return Ok(format!("redis://127.0.0.1:{port}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(mut p) = cluster.procs.pop() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
    Err("redis-server did not start on any of 5 free ports".into())
}

/// A port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Whether a Redis answers PING on `port`.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut answer = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

/// Spawns `cmd` (pushed on `cluster`), waits for its first line,
/// `listening on ADDR`, and returns ADDR. Its later output is copied to
/// ours, its log lines prefixed with `[name]`.
fn spawn_listening(
    cluster: &mut Cluster,
    name: String,
    mut cmd: Command,
) -> Result<String, String> {
    let program = Path::new(cmd.get_program()).display().to_string();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: cannot run {program}: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    cluster.procs.push(Proc {
        name: name.clone(),
        child,
    });
    let prefix = format!("[{name}] ");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{prefix}{line}");
        }
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = tx.send(first);
        for line in lines.map_while(Result::ok) {
            println!("[{name}] {line}");
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10));
    match first {
        Ok(Some(line)) => match line.trim().strip_prefix("listening on ") {
            Some(addr) => Ok(addr.to_owned()),
            None => Err(format!("{program} said {line:?}, not `listening on ADDR`")),
        },
        Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => Err(format!(
            "{program} exited before listening{}",
            cluster
                .exited()
                .map(|why| format!(": {why}"))
                .unwrap_or_default()
        )),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("{program} did not start listening within 10 s"))
        }
    }
}
