//! Chapter 1 benchmark: decoding messages from a buffer, per framing, in bytes/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netladder::framing::Framing;
use std::hint::black_box;

/// 1000 messages of 100 bytes, framed, decoded back out of one buffer.
fn decode(c: &mut Criterion) {
    let payload = [b'x'; 100];
    let mut group = c.benchmark_group("framing/decode");
    for (name, framing) in [
        ("line", Framing::Line),
        ("length-prefixed", Framing::LengthPrefixed),
    ] {
        let mut stream = Vec::new();
        for _ in 0..1000 {
            framing.encode(&payload, &mut stream);
        }
        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut rest = black_box(&stream[..]);
                let mut count = 0;
                while let Some((_, used)) = framing.decode(rest, 1024).unwrap() {
                    rest = &rest[used..];
                    count += 1;
                }
                assert_eq!(count, 1000);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
