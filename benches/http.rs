//! Chapter 2 benchmark: parsing request heads and writing responses, in
//! bytes/s. `httparse` alone is the baseline in the same group: the gap is
//! what netladder's own work on top costs (owned types, framing and
//! keep-alive decisions, limit checks).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netladder::http::request::parse_head;
use netladder::http::response::{Answering, write_response};
use netladder::http::{Limits, Response, Version};
use std::hint::black_box;

/// A typical browser request head (441 bytes).
const HEAD: &[u8] = b"GET /static/app.js?v=42 HTTP/1.1\r\n\
Host: 127.0.0.1:7002\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/javascript,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: http://127.0.0.1:7002/index.html\r\n\
Connection: keep-alive\r\n\
Cookie: session=0123456789abcdef0123456789abcdef\r\n\
Sec-Fetch-Dest: script\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Site: same-origin\r\n\
\r\n";

fn parse_heads(c: &mut Criterion) {
    let mut group = c.benchmark_group("http/parse-head");
    group.throughput(Throughput::Bytes(HEAD.len() as u64));
    group.bench_function("httparse (baseline)", |b| {
        b.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut request = httparse::Request::new(&mut headers);
            let status = request.parse(black_box(HEAD)).unwrap();
            assert!(status.is_complete());
        })
    });
    let limits = Limits::default();
    group.bench_function("netladder parse_head", |b| {
        b.iter(|| {
            let (head, used) = parse_head(black_box(HEAD), &limits).unwrap().unwrap();
            assert_eq!(used, HEAD.len());
            black_box(head);
        })
    });
    group.finish();
}

fn write_responses(c: &mut Criterion) {
    let response = Response::new(200)
        .header("Content-Type", "text/javascript")
        .header("Cache-Control", "max-age=60")
        .body(vec![b'x'; 1024]);
    let to = Answering {
        head_only: false,
        keep_alive: true,
        version: Version::Http11,
    };
    let mut sample = Vec::new();
    write_response(&response, to, &mut sample);
    let mut group = c.benchmark_group("http/write-response");
    group.throughput(Throughput::Bytes(sample.len() as u64));
    group.bench_function("format! baseline", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            out.clear();
            // The least a writer can do: one formatted head, then the body.
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nCache-Control: max-age=60\r\nContent-Length: {}\r\n\r\n",
                response.body.len()
            );
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(black_box(&response.body));
            black_box(&out);
        })
    });
    group.bench_function("netladder write_response", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            out.clear();
            write_response(black_box(&response), to, &mut out);
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group!(benches, parse_heads, write_responses);
criterion_main!(benches);
