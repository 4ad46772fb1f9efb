//! Chapter 6's measurement: a room spread over 3 servers on one local
//! `redis-server`, against the same room on one server in memory. Sans-IO
//! servers in this process (no sockets to clients: what is measured is the
//! server core, the adapter, the I/O threads and Redis), pumped in one
//! loop. Prints broadcast deliveries per second and the cross-server
//! latency (emit on server 1 to queued for a client on server 2 or 3),
//! p50 and p99. `cargo bench --bench redis_fanout`; skipped without
//! redis-server.

#[path = "../tests/support/redis.rs"]
#[allow(dead_code)]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netladder::engineio::Payload;
use netladder::socketio::redis::{RedisHub, RedisOptions};
use netladder::socketio::{ClientId, Config, Environ, Server, Transmit, Value};

const CLIENTS_PER_SERVER: u64 = 100;
const MESSAGES: usize = 2000;
const BATCH: usize = 20;

fn server_with_clients(hub: Option<&RedisHub>, clients: u64) -> Server {
    let mut io = Server::new(Config::default());
    if let Some(hub) = hub {
        io.set_adapter(hub.factory());
    }
    let now = Instant::now();
    for c in 1..=clients {
        io.on_open(ClientId(c), Environ::default(), now);
        io.on_message(ClientId(c), Payload::Text("0".into()), now);
    }
    let ids = io.of("/").sockets();
    for id in &ids {
        io.join(id, "r").unwrap();
    }
    while io.poll_transmit().is_some() {}
    while io.poll_event().is_some() {}
    io
}

/// Drain transmits; for client 1, note when each `seq` arrived.
fn drain(io: &mut Server, arrivals: &mut [Option<Instant>]) -> usize {
    let now = Instant::now();
    let mut n = 0;
    while let Some(t) = io.poll_transmit() {
        n += 1;
        if let Transmit::Send { client, packet, .. } = t
            && client == ClientId(1)
            && let Some(seq) = packet
                .text
                .strip_prefix("2[\"m\",")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse::<usize>().ok())
            && seq < arrivals.len()
        {
            arrivals[seq].get_or_insert(now);
        }
    }
    n
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let Some(redis) = support::Redis::start() else {
        return;
    };
    // One server, in memory: the baseline.
    let mut one = server_with_clients(None, 3 * CLIENTS_PER_SERVER);
    let mut sink = vec![None; MESSAGES];
    let t0 = Instant::now();
    let mut delivered = 0;
    for seq in 0..MESSAGES {
        one.of("/")
            .to("r")
            .emit("m", vec![Value::from(seq as i64)])
            .unwrap();
        delivered += drain(&mut one, &mut sink);
    }
    let local = t0.elapsed();
    println!(
        "one server, {} clients in the room: {} deliveries in {:?}: {:.0} deliveries/s",
        3 * CLIENTS_PER_SERVER,
        delivered,
        local,
        delivered as f64 / local.as_secs_f64()
    );

    // Three servers on Redis.
    let hubs: Vec<RedisHub> = (0..3)
        .map(|_| RedisHub::start(RedisOptions::new(&redis.url()), Arc::new(|| {})).unwrap())
        .collect();
    let mut servers: Vec<Server> = hubs
        .iter()
        .map(|h| server_with_clients(Some(h), CLIENTS_PER_SERVER))
        .collect();
    redis.wait_for_servers(3);
    while !hubs.iter().all(RedisHub::is_ready) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut sent_at = vec![None; MESSAGES];
    let mut arrivals: Vec<Vec<Option<Instant>>> = vec![vec![None; MESSAGES]; 3];
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(30);
    let mut delivered = 0;
    let mut next = 0;
    loop {
        // Keep at most BATCH messages in flight beyond what server 3 saw.
        let seen = arrivals[2].iter().take_while(|a| a.is_some()).count();
        while next < MESSAGES && next < seen + BATCH {
            sent_at[next] = Some(Instant::now());
            servers[0]
                .of("/")
                .to("r")
                .emit("m", vec![Value::from(next as i64)])
                .unwrap();
            next += 1;
        }
        let now = Instant::now();
        for (i, io) in servers.iter_mut().enumerate() {
            io.handle_remote(now);
            delivered += drain(io, &mut arrivals[i]);
        }
        let done = arrivals[1..].iter().all(|a| a.iter().all(Option::is_some));
        if done || Instant::now() > deadline {
            break;
        }
        std::thread::yield_now();
    }
    let elapsed = t0.elapsed();
    let mut latencies: Vec<Duration> = arrivals[1..]
        .iter()
        .flat_map(|a| a.iter().zip(&sent_at))
        .filter_map(|(a, s)| Some(a.as_ref()?.duration_since(*s.as_ref()?)))
        .collect();
    latencies.sort();
    let lost = 2 * MESSAGES - latencies.len();
    println!(
        "3 servers on Redis, {} clients each in the room: {} deliveries in {:?}: {:.0} deliveries/s \
         ({} broadcasts/s), {} lost",
        CLIENTS_PER_SERVER,
        delivered,
        elapsed,
        delivered as f64 / elapsed.as_secs_f64(),
        (MESSAGES as f64 / elapsed.as_secs_f64()) as u64,
        lost
    );
    if !latencies.is_empty() {
        println!(
            "cross-server latency (emit on server 1 -> queued on server 2/3, {} at most in flight): \
             p50 {:?}, p99 {:?}, max {:?}",
            BATCH,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.last().unwrap()
        );
    }
    println!(
        "per broadcast: {:?} on one server, {:?} through Redis (3 servers)",
        local / MESSAGES as u32,
        elapsed / MESSAGES as u32
    );
}
