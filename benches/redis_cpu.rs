//! Chapter 6's Redis CPU measurement: what Redis itself spends per room
//! broadcast as servers and rooms grow, for classic pub/sub on one
//! `redis-server`, classic `PUBLISH` on a 3-node Redis Cluster, and sharded
//! pub/sub (`SPUBLISH`) on the same cluster.
//!
//! ```text
//! nice -n 5 cargo bench --bench redis_cpu -- --out book/src/ch06
//! cargo run --release -p netladder-compare -- --redis-cpu book/src/ch06
//! ```
//!
//! For each servers × rooms × mode (and repetition, interleaved so that
//! drift in the machine hits every mode alike) it makes S netladder
//! servers in this process, sans-IO cores as in `redis_fanout`, each with
//! its own Redis link (`RedisHub` or `ShardedHub`: the threads and
//! connections a `ch05-sio-server --redis` has), and puts `--members`
//! clients in each of R rooms: room k's on servers k, k+1, ... (mod S), so
//! a room spans min(members, S) servers. It checks with Redis that every
//! server is subscribed (`CLIENT LIST`, `PUBSUB SHARDNUMSUB`), warms the
//! connections up, then measures Redis's idle CPU for `--idle` seconds and
//! sends `--broadcasts` room broadcasts at `--rate` per second, round-robin
//! over the rooms, each from a server with a member in it, in `--slices`
//! consecutive slices, each until every member got every one. Redis CPU is
//! `INFO cpu` (`used_cpu_user` + `used_cpu_sys`, the process's rusage) read
//! before and after each slice, summed over the cluster's nodes, less the
//! idle rate over the same time. Only
//! the Redis processes' CPU is measured, not this one's; CPU time, unlike
//! wall time, does not grow when the machine is busy (much).
//!
//! It writes `redis-cpu.csv` (one row per slice), `redis-cpu-summary.md`
//! (medians over the slices of every repetition, and their middle half) and `redis-cpu-run.txt` (the caption) to `--out`. Loopback
//! only; every run is bounded (a 10 s deadline for setup and for the
//! deliveries) and everything it starts stops with it. Skipped with a
//! message without redis-server (and the cluster modes without Redis 7
//! and redis-cli).

#[path = "../tests/support/redis.rs"]
#[allow(dead_code)]
mod support;

#[path = "../tests/support/redis_cluster.rs"]
mod cluster;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use netladder::engineio::Payload;
use netladder::socketio::redis::{RedisHub, RedisOptions, ShardedHub};
use netladder::socketio::{ClientId, Config, Environ, Event, Server, Transmit, Value};

#[derive(Parser)]
#[command(about = "Chapter 6: Redis CPU per broadcast, classic vs sharded pub/sub")]
struct Args {
    /// Server counts.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    servers: Vec<usize>,
    /// Room counts.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    rooms: Vec<usize>,
    /// Clients per room.
    #[arg(long, default_value_t = 4)]
    members: usize,
    /// Broadcasts per run.
    #[arg(long, default_value_t = 2000)]
    broadcasts: usize,
    /// Broadcasts per second.
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    /// Seconds of idle Redis measured before each run.
    #[arg(long, default_value_t = 0.5)]
    idle: f64,
    /// Repetitions (the summary takes medians over every slice of every
    /// repetition).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Slices each run's broadcasts are measured in, one after the other.
    #[arg(long, default_value_t = 5)]
    slices: usize,
    /// Which modes: classic, classic-cluster, sharded.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "classic,classic-cluster,sharded"
    )]
    modes: Vec<String>,
    /// Where to write redis-cpu.csv, redis-cpu-summary.md, redis-cpu-run.txt.
    #[arg(long, default_value = "target/redis-cpu")]
    out: PathBuf,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `PUBLISH` / `PSUBSCRIBE` on one redis-server.
    Classic,
    /// The same on the 3-node cluster (each server on one node).
    ClassicCluster,
    /// `SPUBLISH` / `SSUBSCRIBE` on the 3-node cluster.
    Sharded,
}

impl Mode {
    fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "classic" => Ok(Mode::Classic),
            "classic-cluster" => Ok(Mode::ClassicCluster),
            "sharded" => Ok(Mode::Sharded),
            _ => Err(format!(
                "unknown mode {s:?} (classic, classic-cluster, sharded)"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Classic => "classic",
            Mode::ClassicCluster => "classic-cluster",
            Mode::Sharded => "sharded",
        }
    }
}

enum Hub {
    Classic(RedisHub),
    Sharded(ShardedHub),
}

impl Hub {
    fn is_ready(&self) -> bool {
        match self {
            Hub::Classic(h) => h.is_ready(),
            Hub::Sharded(h) => h.is_ready(),
        }
    }

    fn dropped(&self) -> u64 {
        match self {
            Hub::Classic(h) => h.dropped(),
            Hub::Sharded(h) => h.dropped(),
        }
    }
}

/// The Redis processes of a mode: a connection to each, for `INFO` and
/// `PUBSUB`.
struct Nodes {
    urls: Vec<String>,
    cons: Vec<redis::Connection>,
}

impl Nodes {
    fn new(urls: Vec<String>) -> Nodes {
        let cons = urls
            .iter()
            .map(|u| {
                redis::Client::open(u.as_str())
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
                    .expect("a connection to Redis")
            })
            .collect();
        Nodes { urls, cons }
    }

    /// Each node's CPU time so far, in µs (`used_cpu_user` + `used_cpu_sys`).
    fn cpu_us(&mut self) -> Vec<f64> {
        self.cons
            .iter_mut()
            .map(|con| {
                let info: String = redis::cmd("INFO").arg("cpu").query(con).expect("INFO cpu");
                let field = |name: &str| {
                    info.lines()
                        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .expect("a used_cpu field in INFO cpu")
                };
                (field("used_cpu_user") + field("used_cpu_sys")) * 1e6
            })
            .collect()
    }

    /// Clients subscribed to a pattern, over all nodes (`CLIENT LIST TYPE
    /// pubsub`, its `psub=` field): each gets every message the pattern
    /// matches. (`PUBSUB NUMPAT` counts distinct patterns, not clients.)
    fn pattern_subscribers(&mut self) -> usize {
        self.cons
            .iter_mut()
            .map(|con| {
                let list: String = redis::cmd("CLIENT")
                    .arg("LIST")
                    .arg("TYPE")
                    .arg("pubsub")
                    .query(con)
                    .unwrap_or_default();
                list.lines()
                    .filter(|l| {
                        l.split(' ')
                            .find_map(|f| f.strip_prefix("psub="))
                            .and_then(|n| n.parse::<usize>().ok())
                            .is_some_and(|n| n > 0)
                    })
                    .count()
            })
            .sum()
    }

    /// Subscribers of a sharded channel, on whichever node answers (the
    /// others redirect).
    fn shardnumsub(&mut self, channel: &str) -> usize {
        self.cons
            .iter_mut()
            .filter_map(|con| {
                redis::cmd("PUBSUB")
                    .arg("SHARDNUMSUB")
                    .arg(channel)
                    .query::<Vec<(String, usize)>>(con)
                    .ok()
            })
            .flatten()
            .map(|(_, n)| n)
            .sum()
    }
}

/// One run's result.
struct Row {
    mode: Mode,
    servers: usize,
    rooms: usize,
    members: usize,
    rep: usize,
    slice: usize,
    broadcasts: usize,
    /// Messages Redis hands to subscribed servers (the subscriber counts
    /// Redis reports, per broadcast, summed).
    server_deliveries: usize,
    client_deliveries: usize,
    expected: usize,
    dropped: u64,
    seconds: f64,
    /// Idle CPU, µs per second, all nodes.
    idle_us_per_s: f64,
    /// Per node: CPU during the run, µs, less the idle rate.
    node_us: Vec<f64>,
}

impl Row {
    fn total_us(&self) -> f64 {
        self.node_us.iter().sum()
    }

    fn max_node_us(&self) -> f64 {
        self.node_us.iter().copied().fold(f64::MIN, f64::max)
    }

    fn per_broadcast(&self) -> f64 {
        self.total_us() / self.broadcasts as f64
    }

    fn max_node_per_broadcast(&self) -> f64 {
        self.max_node_us() / self.broadcasts as f64
    }

    fn per_server_delivery(&self) -> f64 {
        self.total_us() / self.server_deliveries.max(1) as f64
    }

    const HEADER: &str = "mode,servers,rooms,members,rep,slice,broadcasts,server_deliveries,\
        client_deliveries,expected_client_deliveries,dropped,seconds,idle_us_per_s,\
        node_cpu_us,cpu_us_per_broadcast,max_node_cpu_us_per_broadcast,\
        cpu_us_per_server_delivery";

    fn csv(&self) -> String {
        let nodes: Vec<String> = self.node_us.iter().map(|v| format!("{v:.0}")).collect();
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{:.3},{:.0},{},{:.2},{:.2},{:.2}",
            self.mode.name(),
            self.servers,
            self.rooms,
            self.members,
            self.rep,
            self.slice,
            self.broadcasts,
            self.server_deliveries,
            self.client_deliveries,
            self.expected,
            self.dropped,
            self.seconds,
            self.idle_us_per_s,
            nodes.join(";"),
            self.per_broadcast(),
            self.max_node_per_broadcast(),
            self.per_server_delivery()
        )
    }
}

/// S servers on their own hubs, with clients placed in rooms.
struct Setup {
    // Servers before hubs: the adapters go before their hubs' threads.
    servers: Vec<Server>,
    hubs: Vec<Hub>,
    /// Room k's members' servers, one entry per member.
    placement: Vec<Vec<usize>>,
}

fn room_name(k: usize) -> String {
    format!("room-{k}")
}

fn setup(mode: Mode, nodes: &Nodes, s: usize, r: usize, members: usize) -> Setup {
    let mut servers = Vec::new();
    let mut hubs = Vec::new();
    for i in 0..s {
        // Each server on its own node of the cluster, round-robin.
        let url = &nodes.urls[i % nodes.urls.len()];
        let opts = RedisOptions::new(url);
        let mut io = Server::new(Config::default());
        let hub = if mode == Mode::Sharded {
            let hub = ShardedHub::start(opts, Arc::new(|| {})).expect("a Redis URL");
            io.set_adapter(hub.factory());
            Hub::Sharded(hub)
        } else {
            let hub = RedisHub::start(opts, Arc::new(|| {})).expect("a Redis URL");
            io.set_adapter(hub.factory());
            Hub::Classic(hub)
        };
        servers.push(io);
        hubs.push(hub);
    }
    let placement: Vec<Vec<usize>> = (0..r)
        .map(|k| (0..members).map(|j| (k + j) % s).collect())
        .collect();
    let now = Instant::now();
    let mut next_client = vec![0u64; s];
    for (k, on) in placement.iter().enumerate() {
        for &i in on {
            let io = &mut servers[i];
            next_client[i] += 1;
            let client = ClientId(next_client[i]);
            io.on_open(client, Environ::default(), now);
            io.on_message(client, Payload::Text("0".into()), now);
            let socket = std::iter::from_fn(|| io.poll_event())
                .find_map(|e| match e {
                    Event::Connect { socket, .. } => Some(socket),
                    _ => None,
                })
                .expect("the client connects");
            io.join(&socket, &room_name(k)).expect("join");
            while io.poll_transmit().is_some() {}
        }
    }
    Setup {
        servers,
        hubs,
        placement,
    }
}

/// Pump every server once; how many packets went to clients.
fn pump(servers: &mut [Server]) -> usize {
    let now = Instant::now();
    let mut n = 0;
    for io in servers {
        io.handle_remote(now);
        while let Some(t) = io.poll_transmit() {
            if matches!(t, Transmit::Send { .. }) {
                n += 1;
            }
        }
        while io.poll_event().is_some() {}
    }
    n
}

/// Broadcast `i` of a run: its room, and the server it is sent from (the
/// room's members take turns).
fn schedule(setup: &Setup, i: usize) -> (usize, usize) {
    let r = setup.placement.len();
    let k = i % r;
    let on = &setup.placement[k];
    (k, on[(i / r) % on.len()])
}

fn emit(setup: &mut Setup, i: usize) {
    let (k, from) = schedule(setup, i);
    setup.servers[from]
        .of("/")
        .to(&room_name(k))
        .emit("m", vec![Value::from(i as i64)])
        .expect("emit");
}

/// Send broadcasts `range`, paced at `rate` per second (unpaced when
/// `None`), and pump until every member got every one or the deadline.
fn send(setup: &mut Setup, range: std::ops::Range<usize>, rate: Option<f64>) -> (usize, usize) {
    let members = setup.placement[0].len();
    let expected = range.len() * members;
    let t0 = Instant::now();
    let mut got = 0;
    let mut next = range.start;
    let mut deadline = t0 + Duration::from_secs(10);
    loop {
        let now = Instant::now();
        while next < range.end {
            let due = rate.map_or(t0, |r| {
                t0 + Duration::from_secs_f64((next - range.start) as f64 / r)
            });
            if due > now {
                break;
            }
            emit(setup, next);
            next += 1;
            if next == range.end {
                deadline = Instant::now() + Duration::from_secs(10);
            }
        }
        got += pump(&mut setup.servers);
        if (next == range.end && got >= expected) || Instant::now() > deadline {
            return (got, expected);
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

fn run(mode: Mode, nodes: &mut Nodes, s: usize, r: usize, args: &Args, rep: usize) -> Vec<Row> {
    let mut setup = setup(mode, nodes, s, r, args.members);
    // Every server subscribed, as Redis itself counts them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let per_room: Vec<usize> = loop {
        let ready = setup.hubs.iter().all(Hub::is_ready);
        let counts: Vec<usize> = match mode {
            Mode::Classic | Mode::ClassicCluster => vec![nodes.pattern_subscribers(); r],
            Mode::Sharded => (0..r)
                .map(|k| nodes.shardnumsub(&format!("socket.io#/#{}#", room_name(k))))
                .collect(),
        };
        let want = |k: usize| match mode {
            Mode::Sharded => {
                let mut on = setup.placement[k].clone();
                on.sort_unstable();
                on.dedup();
                on.len()
            }
            _ => s,
        };
        if ready && counts.iter().enumerate().all(|(k, &n)| n == want(k)) {
            break counts;
        }
        assert!(
            Instant::now() < deadline,
            "{}: servers not subscribed after 10 s ({counts:?} subscribers per room)",
            mode.name()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Warm up: each (room, member) publishes once, so that every publisher
    // connection the run uses is open (the hubs connect lazily).
    let warm = r * args.members;
    let (got, expected) = send(&mut setup, 0..warm, None);
    assert_eq!(got, expected, "{}: warm-up deliveries", mode.name());
    std::thread::sleep(Duration::from_millis(100));
    // Idle.
    let t_idle = Instant::now();
    let idle_start = nodes.cpu_us();
    std::thread::sleep(Duration::from_secs_f64(args.idle));
    let t_before = Instant::now();
    let before = nodes.cpu_us();
    let idle_secs = t_before.duration_since(t_idle).as_secs_f64();
    let idle_rate: Vec<f64> = before
        .iter()
        .zip(&idle_start)
        .map(|(b, a)| (b - a) / idle_secs)
        .collect();
    // The run, in slices measured one by one; the schedule goes on where
    // the warm-up stopped.
    let per_slice = args.broadcasts.div_ceil(args.slices);
    let mut rows = Vec::new();
    let mut first = warm;
    let mut before = before;
    let mut t_before = t_before;
    for slice in 1..=args.slices {
        let last = (first + per_slice).min(warm + args.broadcasts);
        if first >= last {
            break;
        }
        let dropped_before: u64 = setup.hubs.iter().map(Hub::dropped).sum();
        let (got, expected) = send(&mut setup, first..last, Some(args.rate));
        // Let the cluster bus carry the last messages to every node.
        std::thread::sleep(Duration::from_millis(20));
        let t_after = Instant::now();
        let after = nodes.cpu_us();
        let seconds = t_after.duration_since(t_before).as_secs_f64();
        let dropped = setup.hubs.iter().map(Hub::dropped).sum::<u64>() - dropped_before;
        let node_us = after
            .iter()
            .zip(&before)
            .zip(&idle_rate)
            .map(|((a, b), idle)| a - b - idle * seconds)
            .collect();
        let server_deliveries = (first..last).map(|i| per_room[schedule(&setup, i).0]).sum();
        rows.push(Row {
            mode,
            servers: s,
            rooms: r,
            members: args.members,
            rep,
            slice,
            broadcasts: last - first,
            server_deliveries,
            client_deliveries: got,
            expected,
            dropped,
            seconds,
            idle_us_per_s: idle_rate.iter().sum(),
            node_us,
        });
        (first, before, t_before) = (last, after, t_after);
    }
    drop(setup);
    rows
}

/// The `p` quantile (0..=1) of `v`, interpolated between ranks.
fn quantile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let at = (v.len() - 1) as f64 * p;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (at - lo as f64)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let redis = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            Some(text.split("v=").nth(1)?.split(' ').next()?.to_owned())
        })
        .unwrap_or_else(|| "?".into());
    format!(
        "{cores} cores ({cpu}), Linux {}, Redis {redis}",
        kernel.trim()
    )
}

/// The 1-minute load average (`/proc/loadavg`): how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split(' ').next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn today() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The Markdown the book includes: per mode, servers and rooms, medians
/// over every slice of every repetition, and the middle half of the slices
/// (25th to 75th percentile) for the spread.
fn summary(rows: &[Row], args: &Args, modes: &[Mode], caption: &str) -> String {
    let mut out = format!("{caption}\n\n");
    out.push_str(
        "| servers | rooms | mode | Redis CPU, µs per broadcast | middle half of the slices | \
         busiest node, µs per broadcast | server deliveries per broadcast | \
         µs per server delivery | lost |\n\
         |---:|---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for &s in &args.servers {
        for &r in &args.rooms {
            for &mode in modes {
                let runs: Vec<&Row> = rows
                    .iter()
                    .filter(|x| x.mode == mode && x.servers == s && x.rooms == r)
                    .collect();
                if runs.is_empty() {
                    continue;
                }
                let med = |f: fn(&Row) -> f64| quantile(runs.iter().map(|x| f(x)).collect(), 0.5);
                let lost: usize = runs
                    .iter()
                    .map(|x| x.expected.saturating_sub(x.client_deliveries))
                    .sum();
                let per: Vec<f64> = runs.iter().map(|x| x.per_broadcast()).collect();
                let (q1, q3) = (quantile(per.clone(), 0.25), quantile(per, 0.75));
                let _ = writeln!(
                    out,
                    "| {s} | {r} | {} | {:.1} | {q1:.1}–{q3:.1} | {} | {:.2} | {:.1} | {lost} |",
                    mode.name(),
                    med(Row::per_broadcast),
                    if mode == Mode::Classic {
                        "(one node)".to_owned()
                    } else {
                        format!("{:.1}", med(Row::max_node_per_broadcast))
                    },
                    med(|x| x.server_deliveries as f64 / x.broadcasts as f64),
                    med(Row::per_server_delivery),
                );
            }
        }
    }
    out
}

fn main() {
    let args = Args::parse();
    let modes: Vec<Mode> = args
        .modes
        .iter()
        .map(|m| Mode::parse(m))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        });
    if args.servers.contains(&0) || args.rooms.contains(&0) || args.members == 0 {
        eprintln!("--servers, --rooms and --members must be at least 1");
        std::process::exit(2);
    }
    if !(args.rate > 0.0 && args.rate.is_finite())
        || args.broadcasts == 0
        || args.reps == 0
        || args.slices == 0
        || args.slices > args.broadcasts
    {
        eprintln!(
            "--rate, --broadcasts, --reps and --slices must be positive, --slices at most --broadcasts"
        );
        std::process::exit(2);
    }
    let Some(single) = support::Redis::start() else {
        return;
    };
    let needs_cluster = modes.iter().any(|m| *m != Mode::Classic);
    let cluster = if needs_cluster {
        cluster::RedisCluster::start()
    } else {
        None
    };
    let modes: Vec<Mode> = modes
        .into_iter()
        .filter(|m| *m == Mode::Classic || cluster.is_some())
        .collect();
    let mut single_nodes = Nodes::new(vec![single.url()]);
    let mut cluster_nodes = cluster
        .as_ref()
        .map(|c| Nodes::new((0..3).map(|i| c.url(i)).collect()));
    std::fs::create_dir_all(&args.out).expect("the output directory");
    let load_before = load_average();
    let started = Instant::now();
    let mut rows = Vec::new();
    for rep in 1..=args.reps {
        for &s in &args.servers {
            for &r in &args.rooms {
                for &mode in &modes {
                    let nodes = match mode {
                        Mode::Classic => &mut single_nodes,
                        _ => cluster_nodes.as_mut().expect("a cluster"),
                    };
                    let slices = run(mode, nodes, s, r, &args, rep);
                    let per: Vec<String> = slices
                        .iter()
                        .map(|x| format!("{:.0}", x.per_broadcast()))
                        .collect();
                    let busiest: Vec<String> = slices
                        .iter()
                        .map(|x| format!("{:.0}", x.max_node_per_broadcast()))
                        .collect();
                    let (got, expected) = slices.iter().fold((0, 0), |(g, e), x| {
                        (g + x.client_deliveries, e + x.expected)
                    });
                    eprintln!(
                        "rep {rep} {:>15} S={s} R={r}: µs/broadcast per slice {} (busiest node {}), \
                         {:.2} server deliveries/broadcast, {got}/{expected} client deliveries, \
                         idle {:.0} µs/s",
                        mode.name(),
                        per.join(" "),
                        busiest.join(" "),
                        slices[0].server_deliveries as f64 / slices[0].broadcasts as f64,
                        slices[0].idle_us_per_s
                    );
                    rows.extend(slices);
                }
            }
        }
    }
    let caption = format!(
        "Measured on {}, {}; netladder servers in one process, {} clients per room on \
         min({}, S) servers; {} room broadcasts per run at {}/s, measured in {} slices; \
         Redis CPU from INFO cpu less its idle rate; median of the slices of {}; load \
         average {} at the start, {} at the end.",
        machine(),
        today(),
        args.members,
        args.members,
        args.broadcasts,
        args.rate,
        args.slices,
        if args.reps == 1 {
            "one run".to_owned()
        } else {
            format!("{} runs", args.reps)
        },
        load_before,
        load_average()
    );
    let mut csv = format!("{}\n", Row::HEADER);
    for row in &rows {
        csv.push_str(&row.csv());
        csv.push('\n');
    }
    let write = |name: &str, text: &str| {
        let path = args.out.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    };
    write("redis-cpu.csv", &csv);
    write("redis-cpu-run.txt", &format!("{caption}\n"));
    let table = summary(&rows, &args, &modes, &caption);
    write("redis-cpu-summary.md", &table);
    println!("{table}");
    println!(
        "{} slices in {:.0} s; wrote redis-cpu.csv, redis-cpu-summary.md and redis-cpu-run.txt to {}",
        rows.len(),
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
}
