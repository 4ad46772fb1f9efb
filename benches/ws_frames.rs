//! Chapter 3 benchmark: WebSocket framing in bytes/s, with tungstenite's
//! frame codec as the baseline in the same groups. tungstenite's masking
//! function is private, so unmasking compares netladder's word-at-a-time
//! loop with the plain byte-at-a-time one.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netladder::ws::frame::{Opcode, decode_header, encode_frame};
use netladder::ws::mask::{apply_mask, apply_mask_bytewise};
use std::hint::black_box;
use std::io::Cursor;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};

static PAYLOAD: [u8; 1024] = [b'x'; 1024];

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws/encode-frame-1KiB");
    group.throughput(Throughput::Bytes(PAYLOAD.len() as u64));
    group.bench_function("tungstenite Frame::format (baseline)", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            out.clear();
            let frame = Frame::message(&PAYLOAD[..], OpCode::Data(Data::Binary), true);
            frame.format(&mut out).unwrap();
            black_box(&out);
        })
    });
    group.bench_function("netladder encode_frame", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            out.clear();
            encode_frame(&mut out, true, Opcode::Binary, black_box(&PAYLOAD), None);
            black_box(&out);
        })
    });
    group.finish();
}

fn decode(c: &mut Criterion) {
    // A masked client frame with a 16-bit length: the common browser case.
    let mut frame = Vec::new();
    encode_frame(
        &mut frame,
        true,
        Opcode::Binary,
        &PAYLOAD,
        Some([1, 2, 3, 4]),
    );
    let header = &frame[..8];
    let mut group = c.benchmark_group("ws/decode-header");
    group.throughput(Throughput::Bytes(header.len() as u64));
    group.bench_function("tungstenite FrameHeader::parse (baseline)", |b| {
        b.iter(|| {
            let mut cursor = Cursor::new(black_box(header));
            black_box(FrameHeader::parse(&mut cursor).unwrap().unwrap());
        })
    });
    group.bench_function("netladder decode_header", |b| {
        b.iter(|| black_box(decode_header(black_box(header)).unwrap().unwrap()))
    });
    group.finish();
}

fn unmask(c: &mut Criterion) {
    let mut data = vec![0x5a; 16 * 1024];
    let mut group = c.benchmark_group("ws/unmask-16KiB");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("byte at a time (baseline)", |b| {
        b.iter(|| apply_mask_bytewise(black_box(&mut data), [1, 2, 3, 4], 0))
    });
    group.bench_function("netladder word at a time", |b| {
        b.iter(|| apply_mask(black_box(&mut data), [1, 2, 3, 4], 0))
    });
    group.finish();
}

criterion_group!(benches, encode, decode, unmask);
criterion_main!(benches);
