//! Chapter 3 benchmark: what permessage-deflate costs per message, and what
//! it saves. Two kinds of payload: chat-like JSON (about 110 bytes, each
//! message a little different) and random bytes (1 KiB, incompressible);
//! each compressed and inflated with and without context takeover. The
//! compression ratios are printed before the timings.
//!
//! Then a broadcast: one chat message sent to 1,000 server connections
//! that agreed permessage-deflate without context takeover (the default),
//! each connection compressing it for itself, or all of them taking the
//! one compressed frame of a [`SharedFrame`].

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netladder::ws::deflate::{Deflate, DeflateConfig, DeflateParams};
use netladder::ws::{Config, Role, SharedFrame, WsConnection};
use std::hint::black_box;

/// 100 chat messages such as a room sends.
fn chat_messages() -> Vec<Vec<u8>> {
    let users = ["ada", "grace", "linus", "barbara", "ken"];
    let words = [
        "hello",
        "anyone",
        "around",
        "the build",
        "is green",
        "again",
        "lunch?",
    ];
    (0..100)
        .map(|i| {
            let text: Vec<&str> = (0..4)
                .map(|j| words[(i * 3 + j * 5) % words.len()])
                .collect();
            format!(
                r#"{{"type":"message","room":"lobby","user":"{}","id":{},"ts":{},"text":"{}"}}"#,
                users[i % users.len()],
                1000 + i,
                1_764_000_000_000u64 + i as u64 * 1234,
                text.join(" ")
            )
            .into_bytes()
        })
        .collect()
}

/// 100 messages of 1 KiB of random bytes.
fn random_messages() -> Vec<Vec<u8>> {
    (0..100)
        .map(|_| {
            let mut bytes = vec![0; 1024];
            getrandom::fill(&mut bytes).expect("random bytes");
            bytes
        })
        .collect()
}

fn params(takeover: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        ..DeflateParams::default()
    }
}

fn codec(role: Role, takeover: bool) -> Deflate {
    let config = DeflateConfig {
        threshold: 0,
        ..DeflateConfig::default()
    };
    Deflate::new(role, params(takeover), &config)
}

/// Every message compressed in order, as one connection would send them.
fn compress_all(messages: &[Vec<u8>], takeover: bool) -> Vec<Vec<u8>> {
    let mut sender = codec(Role::Server, takeover);
    messages
        .iter()
        .map(|m| {
            let mut out = Vec::new();
            sender.compress(m, &mut out);
            out
        })
        .collect()
}

fn deflate(c: &mut Criterion) {
    for (kind, messages) in [
        ("chat-json", chat_messages()),
        ("random-1KiB", random_messages()),
    ] {
        let raw: usize = messages.iter().map(Vec::len).sum();
        for takeover in [false, true] {
            let mode = if takeover { "takeover" } else { "no-takeover" };
            let wire = compress_all(&messages, takeover);
            let compressed: usize = wire.iter().map(Vec::len).sum();
            println!(
                "ratio {kind} {mode}: {raw} bytes -> {compressed} bytes ({:.1}% of the size, {:.0} bytes per message)",
                100.0 * compressed as f64 / raw as f64,
                compressed as f64 / messages.len() as f64
            );
            let mut group = c.benchmark_group(format!("ws-deflate/{kind}/{mode}"));
            group.throughput(Throughput::Elements(messages.len() as u64));
            group.bench_function("compress 100 messages", |b| {
                b.iter(|| black_box(compress_all(black_box(&messages), takeover)))
            });
            group.bench_function("inflate 100 messages", |b| {
                b.iter(|| {
                    let mut receiver = codec(Role::Client, takeover);
                    for m in &wire {
                        let mut out = Vec::new();
                        receiver.inflate(m, &mut out, 1 << 20).unwrap();
                        receiver.finish_message(&mut out, 1 << 20).unwrap();
                        black_box(out);
                    }
                })
            });
            group.finish();
        }
    }
}

// ANCHOR: broadcast_bench
/// Connections in the broadcast benchmark.
const FAN_OUT: usize = 1000;

/// One chat message to `FAN_OUT` connections with default compression.
fn broadcast(c: &mut Criterion) {
    let message = String::from_utf8(chat_messages().swap_remove(0)).expect("UTF-8");
    let mut conns: Vec<WsConnection> = (0..FAN_OUT)
        .map(|_| {
            let mut conn = WsConnection::new(Role::Server, Config::default());
            let config = DeflateConfig::default();
            conn.set_deflate(Deflate::new(Role::Server, params(false), &config));
            conn
        })
        .collect();
    let mut group = c.benchmark_group("ws-deflate/broadcast-1000");
    group.throughput(Throughput::Elements(FAN_OUT as u64));
    group.bench_function("each connection compresses", |b| {
        b.iter(|| {
            for conn in &mut conns {
                conn.send_text(black_box(&message)).unwrap();
                black_box(conn.take_output());
            }
        })
    });
    group.bench_function("one shared frame", |b| {
        b.iter(|| {
            let shared = SharedFrame::text(black_box(message.as_str()));
            for conn in &mut conns {
                let sent = conn.send_shared(&shared).unwrap();
                black_box((sent.frame, conn.take_output()));
            }
        })
    });
    group.finish();
}
// ANCHOR_END: broadcast_bench

criterion_group!(benches, deflate, broadcast);
criterion_main!(benches);
