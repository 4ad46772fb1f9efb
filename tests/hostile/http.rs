//! Chapter 2's HTTP server against hostile requests. Each case names the
//! exact status it must get (and that the connection then closes), and a
//! healthy client beside it must keep getting `GET /hello.txt` answered.

use crate::harness::*;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// One request on a fresh connection must get `status`, then the close.
fn refused(name: &str, request: &[u8], status: u16) {
    let site = Site::new(name);
    each_driver(
        name,
        Kind::Http,
        |driver| start_http(driver, &site, http_limits()),
        |server| {
            let (got, response) = answer_then_close(server.addr, request);
            assert_eq!(got, status, "{name} on {:?}: {response}", server.driver);
        },
    );
}

/// Sends `bytes` one every `every`, from a thread, until told to stop or
/// the server closes.
fn dribble(stream: &TcpStream, bytes: Vec<u8>, every: Duration) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let mut stream = stream.try_clone().unwrap();
    thread::spawn(move || {
        for byte in bytes {
            if stopping.load(Ordering::Acquire) || stream.write_all(&[byte]).is_err() {
                return;
            }
            thread::sleep(every);
        }
    });
    stop
}

/// A head or body sent a byte at a time, never finishing: 408 once the
/// timeout (0.7 s here) passes, not before, and not much after.
fn slowloris(name: &str, start: &[u8], dribbled: &[u8]) {
    let site = Site::new(name);
    each_driver(
        name,
        Kind::Http,
        |driver| start_http(driver, &site, http_limits()),
        |server| {
            let mut stream = connect(server.addr);
            let began = Instant::now();
            stream.write_all(start).unwrap();
            let stop = dribble(&stream, dribbled.to_vec(), Duration::from_millis(50));
            let (status, head, _) = read_response(&mut stream).expect("an answer");
            let took = began.elapsed();
            stop.store(true, Ordering::Release);
            assert_eq!(status, 408, "{head}");
            assert!(
                took >= Duration::from_millis(650) && took < Duration::from_secs(5),
                "408 after {took:?}"
            );
            assert!(read_rest(&mut stream).is_empty());
        },
    );
}

#[test]
fn slowloris_head_gets_408() {
    slowloris(
        "slowloris-head",
        b"GET /hello.txt HTTP/1.1\r\n",
        &b"X-Slow: a".repeat(100),
    );
}

#[test]
fn slowloris_body_gets_408() {
    slowloris(
        "slowloris-body",
        b"POST /send HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n",
        &[b'a'; 1000],
    );
}

#[test]
fn a_64_kib_header_line_gets_431() {
    let mut request = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Long: ".to_vec();
    request.extend(vec![b'a'; 70 * 1024]);
    request.extend(b"\r\n\r\n");
    refused("header-64k", &request, 431);
}

#[test]
fn a_64_kib_request_target_gets_414() {
    let mut request = b"GET /".to_vec();
    request.extend(vec![b'a'; 70 * 1024]);
    request.extend(b" HTTP/1.1\r\nHost: t\r\n\r\n");
    refused("target-64k", &request, 414);
}

#[test]
fn ten_thousand_tiny_headers_get_431() {
    let mut request = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..10_000 {
        request.extend(format!("h{i}: v\r\n").as_bytes());
    }
    request.extend(b"\r\n");
    refused("headers-10000", &request, 431);
}

#[test]
fn conflicting_content_lengths_get_400() {
    refused(
        "content-length-conflict",
        b"POST /send HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
    );
}

#[test]
fn a_content_length_list_gets_400() {
    refused(
        "content-length-list",
        b"POST /send HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello",
        400,
    );
}

#[test]
fn a_negative_content_length_gets_400() {
    refused(
        "content-length-negative",
        b"POST /send HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
        400,
    );
}

#[test]
fn a_content_length_over_the_limit_gets_413_before_the_body() {
    refused(
        "content-length-huge",
        b"POST /send HTTP/1.1\r\nHost: t\r\nContent-Length: 1099511627776\r\n\r\n",
        413,
    );
}

#[test]
fn transfer_encoding_with_content_length_gets_400() {
    refused(
        "te-and-cl",
        b"POST /send HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn an_unknown_transfer_coding_gets_501() {
    refused(
        "te-gzip",
        b"POST /send HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
    );
}

#[test]
fn chunk_sizes_near_2_64_get_400_or_413() {
    let site = Site::new("chunk-2-64");
    // 2^64 - 1 and 2^64 overflow any counter: malformed (400). 2^60 - 1 is
    // a number, just too large for the body limit (413).
    let cases: [(&str, u16); 4] = [
        ("FFFFFFFFFFFFFFFF", 400),
        ("10000000000000000", 400),
        ("0000000000000000000000001", 400),
        ("FFFFFFFFFFFFFFF", 413),
    ];
    each_driver(
        "chunk-2-64",
        Kind::Http,
        |driver| start_http(driver, &site, http_limits()),
        |server| {
            for (size, status) in cases {
                let request = format!(
                    "POST /send HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nhello\r\n"
                );
                let (got, response) = answer_then_close(server.addr, request.as_bytes());
                assert_eq!(got, status, "chunk size {size}: {response}");
            }
        },
    );
}

#[test]
fn a_chunk_extension_over_the_line_limit_gets_400() {
    let mut request =
        b"POST /send HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5".to_vec();
    request.extend(";x=y".repeat(1000).as_bytes());
    request.extend(b"\r\nhello\r\n0\r\n\r\n");
    refused("chunk-extension-flood", &request, 400);
}

#[test]
fn bare_lf_in_the_head_is_accepted_as_rfc_9112_allows() {
    // RFC 9112 §2.2: a recipient MAY recognize a single LF as a line
    // terminator. The server does; the answer is the file.
    let site = Site::new("bare-lf-head");
    each_driver(
        "bare-lf-head",
        Kind::Http,
        |driver| start_http(driver, &site, http_limits()),
        |server| {
            let (status, response) = answer_then_close(
                server.addr,
                b"GET /hello.txt HTTP/1.1\nHost: t\nConnection: close\n\n",
            );
            assert_eq!(status, 200, "{response}");
            assert!(response.ends_with("hello, http\n"), "{response}");
        },
    );
}

#[test]
fn bare_lf_in_a_chunk_size_line_gets_400() {
    refused(
        "bare-lf-chunk",
        b"POST /send HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn a_bare_cr_in_the_head_gets_400() {
    refused(
        "bare-cr",
        b"GET /hello.txt HTTP/1.1\r\nHost: t\rX-Smuggle: 1\r\n\r\n",
        400,
    );
}

#[test]
fn an_obsolete_line_fold_gets_400() {
    // RFC 9112 §5.2: reject with 400 (or unfold): we reject.
    refused(
        "obs-fold",
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n",
        400,
    );
}

#[test]
fn whitespace_before_a_colon_gets_400() {
    // RFC 9112 §5.1: a server MUST reject it with 400.
    refused(
        "space-before-colon",
        b"GET /hello.txt HTTP/1.1\r\nHost : t\r\n\r\n",
        400,
    );
}

#[test]
fn a_missing_or_repeated_host_gets_400() {
    refused(
        "host-missing",
        b"GET /hello.txt HTTP/1.1\r\nX: y\r\n\r\n",
        400,
    );
    refused(
        "host-twice",
        b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    );
}

#[test]
fn a_raw_nul_in_the_path_gets_400() {
    refused(
        "nul-raw",
        b"GET /hello.txt\0 HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
    );
}

#[test]
fn an_encoded_nul_in_the_path_gets_403() {
    refused(
        "nul-encoded",
        b"GET /hello.txt%00.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        403,
    );
}

#[test]
fn an_http_0_9_request_gets_400() {
    refused("http-0.9", b"GET /hello.txt\r\n", 400);
}

#[test]
fn the_http_2_preface_gets_505() {
    refused(
        "http-2-preface",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
        505,
    );
}

#[test]
fn encoded_traversal_never_leaves_the_root() {
    let site = Site::new("traversal");
    let cases: [(&str, u16); 8] = [
        ("/%2e%2e/secret.txt", 403),
        ("/%2E%2E%2Fsecret.txt", 403),
        ("/..%2fsecret.txt", 403),
        ("/sub/%2e%2e/%2e%2e/secret.txt", 403),
        ("/..%5csecret.txt", 403),
        // Overlong UTF-8 for '.': not UTF-8, refused at decoding.
        ("/%c0%ae%c0%ae/secret.txt", 403),
        // Decoded once only: `%2e%2e` stays a (missing) file name.
        ("/%252e%252e/secret.txt", 404),
        ("/sub/../../secret.txt", 403),
    ];
    each_driver(
        "traversal",
        Kind::Http,
        |driver| start_http(driver, &site, http_limits()),
        |server| {
            for (target, status) in cases {
                let request =
                    format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                let (got, response) = answer_then_close(server.addr, request.as_bytes());
                assert_eq!(got, status, "{target}: {response}");
                assert!(!response.contains("TOP SECRET"), "{target} leaked");
            }
        },
    );
}

#[test]
fn pipelined_requests_never_read_are_dropped_without_stalling_others() {
    // 20,000 requests for a 64 KiB file, sent and never read: 1.3 GB of
    // answers if the server kept them. It must stop reading (or writing)
    // and drop the connection once its writes stall, and what did arrive
    // must be whole 200s in order.
    let site = Site::new("pipelined");
    each_driver(
        "pipelined-never-read",
        Kind::Http,
        |driver| start_http(driver, &site, http_limits()),
        |server| {
            let stream = connect(server.addr);
            let mut writer = stream.try_clone().unwrap();
            let sent = thread::spawn(move || {
                let request = b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
                let mut sent = 0;
                for _ in 0..20_000 {
                    if writer.write_all(request).is_err() {
                        break;
                    }
                    sent += 1;
                }
                sent
            });
            // Never read while the writes stall: the server must give up.
            thread::sleep(Duration::from_secs(5));
            let mut stream = stream;
            let mut answers = 0;
            loop {
                match read_response(&mut stream) {
                    Ok((status, head, body)) => {
                        assert_eq!(status, 200, "{head}");
                        assert_eq!(body.len(), 64 * 1024);
                        answers += 1;
                    }
                    Err(err) => {
                        assert!(
                            matches!(
                                err.kind(),
                                std::io::ErrorKind::UnexpectedEof
                                    | std::io::ErrorKind::ConnectionReset
                            ),
                            "the server must close the connection: {err}"
                        );
                        break;
                    }
                }
            }
            let sent = sent.join().unwrap();
            assert!(
                answers < 20_000,
                "{answers} of {sent} answered: the server never gave up"
            );
            eprintln!(
                "pipelined on {:?}: {sent} requests written, {answers} answers read before the drop",
                server.driver
            );
        },
    );
}

#[test]
fn a_flood_behind_a_held_long_poll_is_dropped() {
    // `GET /poll` is held (nothing to deliver yet); responses must keep
    // their order, so what follows it waits unparsed, up to one request's
    // worth (head + body limits). 4 MiB more is refused by dropping the
    // connection, long before the poll's own 5 s are up, with nothing sent.
    let site = Site::new("held-poll-flood");
    each_driver(
        "held-poll-flood",
        Kind::Http,
        |driver| start_http(driver, &site, http_limits()),
        |server| {
            let mut stream = connect(server.addr);
            let began = Instant::now();
            stream
                .write_all(b"GET /poll HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let flood = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n".repeat(4 << 20 >> 5);
            send(&mut stream, &flood);
            let rest = read_rest(&mut stream);
            let took = began.elapsed();
            assert!(
                rest.is_empty(),
                "nothing may be answered: {:?}",
                String::from_utf8_lossy(&rest[..rest.len().min(200)])
            );
            assert!(took < Duration::from_secs(4), "dropped after {took:?}");
        },
    );
}
