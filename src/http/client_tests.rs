//! Tests of the client pieces, and of [`get`] against the real server stack
//! (`HttpProtocol` on the threaded driver) over loopback.

use super::*;
use crate::driver::threads;
use crate::http::{HttpProtocol, Limits, Reply, Request, Responder, Response};
use std::net::TcpListener;

/// Feeds `input` whole, then at EOF if needed; and again byte by byte;
/// checks both agree.
fn parse(method: &str, input: &[u8]) -> Result<ClientResponse, InvalidResponse> {
    let run = |pieces: Vec<&[u8]>| {
        let mut parser = ResponseParser::new(method);
        let mut buffered = Vec::new();
        for piece in pieces {
            buffered.extend_from_slice(piece);
            let (used, response) = parser.feed(&buffered)?;
            buffered.drain(..used);
            if let Some(response) = response {
                return Ok(response);
            }
        }
        parser.finish()
    };
    let whole = run(vec![input]);
    let bytewise = run(input.chunks(1).collect());
    assert_eq!(whole, bytewise, "{:?}", String::from_utf8_lossy(input));
    whole
}

#[test]
fn bodies_by_length_chunks_and_end_of_stream() {
    let length = parse("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
    assert_eq!((length.status, length.reason.as_str()), (200, "OK"));
    assert_eq!(length.body, b"hello");

    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
    let chunked = parse("GET", chunked).unwrap();
    assert_eq!(chunked.body, b"hello");
    assert_eq!(chunked.trailers.get_str("x-t"), Some("1"));

    let until_eof = parse("GET", b"HTTP/1.0 200 OK\r\n\r\nall of it").unwrap();
    assert_eq!(until_eof.version, Version::Http10);
    assert_eq!(until_eof.body, b"all of it");
}

#[test]
fn head_answers_and_bodiless_statuses_have_no_body() {
    let head = parse("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").unwrap();
    assert_eq!(head.headers.get_str("content-length"), Some("5"));
    assert!(head.body.is_empty());
    let no_content = parse("GET", b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
    assert_eq!(no_content.status, 204);
}

#[test]
fn interim_responses_are_skipped() {
    let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    let response = parse("PUT", input).unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(response.body, b"ok");
}

#[test]
fn a_101_stops_http_and_leaves_the_rest() {
    let input = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi";
    let (head, rest) = parse_response_head(input).unwrap().unwrap();
    assert_eq!(head.status, 101);
    assert_eq!(head.headers.get_str("upgrade"), Some("websocket"));
    assert_eq!(rest, b"\x81\x02hi");
    let mut parser = ResponseParser::new("GET");
    let (used, response) = parser.feed(input).unwrap();
    assert_eq!(response.unwrap().status, 101);
    assert_eq!(&input[used..], b"\x81\x02hi");
    assert_eq!(parse_response_head(&input[..20]), Ok(None));
}

#[test]
fn broken_responses_are_errors() {
    let cases: [(&[u8], &str); 6] = [
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "malformed head"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "more than one Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "bad Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "unsupported transfer coding",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
            "connection closed inside the body",
        ),
        (b"HTTP/1.1 200 O", "connection closed before a response"),
    ];
    for (input, why) in cases {
        assert_eq!(parse("GET", input), Err(InvalidResponse(why)), "{why}");
    }
    let mut small = ResponseParser::new("GET").max_body(3);
    assert_eq!(
        small.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"),
        Err(InvalidResponse("body too large"))
    );
}

#[test]
fn request_writer_writes_what_the_server_parses() {
    let mut headers = Headers::new();
    headers.push("Host", "example.test");
    headers.push("X-Bad", "a\r\nInjected: 1");
    headers.push("Content-Length", "999");
    let mut out = Vec::new();
    write_request("POST", "/submit?x=1", &headers, b"body", &mut out);
    assert_eq!(
        out,
        b"POST /submit?x=1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 4\r\n\r\nbody"
    );
    let mut conn = crate::http::ServerConn::new(Limits::default(), std::time::Instant::now());
    let progress = conn.receive(&out, std::time::Instant::now(), &mut Vec::new());
    let crate::http::Outcome::Request(request) = progress.outcome else {
        panic!("{progress:?}")
    };
    assert_eq!((request.path(), request.query()), ("/submit", Some("x=1")));
    assert_eq!(request.body, b"body");
}

#[test]
fn urls() {
    let url = parse_url("http://example.test:8080/a/b?c=d#frag").unwrap();
    assert_eq!(
        url,
        HttpUrl {
            host: "example.test".into(),
            port: 8080,
            target: "/a/b?c=d".into(),
            authority: "example.test:8080".into(),
        }
    );
    let url = parse_url("HTTP://[::1]?q").unwrap();
    assert_eq!(
        (url.host.as_str(), url.port, url.target.as_str()),
        ("::1", 80, "/?q")
    );
    let https = parse_url("https://example.test/").unwrap_err();
    assert_eq!(https.kind(), io::ErrorKind::Unsupported);
    assert!(https.to_string().contains("no TLS"), "{https}");
    for bad in [
        "example.test/",
        "ftp://x/",
        "http://:80/",
        "http://u@x/",
        "http://x:port/",
    ] {
        assert_eq!(
            parse_url(bad).unwrap_err().kind(),
            io::ErrorKind::InvalidInput,
            "{bad}"
        );
    }
}

/// The whole stack, end to end: `get` → loopback → threaded driver →
/// `HttpProtocol` → handler, and back.
#[test]
fn get_fetches_from_the_real_server_stack() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = |request: Request, _responder: Responder| {
        Reply::Now(Response::new(200).text(format!("you asked for {}", request.target)))
    };
    threads::spawn(
        listener,
        HttpProtocol::factory(handler, Limits::default()),
        threads::Config::default(),
    );
    let response = get(&format!("http://{addr}/hello?x=1")).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"you asked for /hello?x=1");
    assert_eq!(response.headers.get_str("server"), Some("netladder"));
    assert_eq!(response.headers.get_str("connection"), Some("close"));
}

/// A held request answered from another connection, over real sockets.
#[test]
fn long_poll_over_real_sockets() {
    use std::sync::{Arc, Mutex};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let waiting: Arc<Mutex<Vec<Responder>>> = Arc::default();
    let handler = move |request: Request, responder: Responder| match request.path() {
        "/poll" => {
            waiting.lock().unwrap().push(responder);
            Reply::Later {
                within: Duration::from_secs(20),
                otherwise: Response::new(204),
            }
        }
        _ => {
            let waiters: Vec<Responder> = waiting.lock().unwrap().drain(..).collect();
            let count = waiters.len();
            for waiter in waiters {
                waiter.send(Response::new(200).text("news")).unwrap();
            }
            Reply::Now(Response::new(200).text(count.to_string()))
        }
    };
    threads::spawn(
        listener,
        HttpProtocol::factory(handler, Limits::default()),
        threads::Config::default(),
    );
    let poller = std::thread::spawn(move || get(&format!("http://{addr}/poll")).unwrap());
    // Send until the poll has arrived and been answered.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let sent = get(&format!("http://{addr}/send")).unwrap();
        if sent.body == b"1" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the poll never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let polled = poller.join().unwrap();
    assert_eq!((polled.status, polled.body.as_slice()), (200, &b"news"[..]));
}

/// Mutated responses never panic and parse the same whole or byte by byte.
#[test]
fn mutated_responses_never_panic_and_split_the_same() {
    let seeds: [&[u8]; 3] = [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\nab\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.0 404 Not Found\r\nX: y\r\n\r\nuntil the end",
    ];
    let alphabet = b"\r\n :;0123456789abcdefHTP/.\x00\xff";
    for (round, input) in
        super::super::mutations::mutated(&seeds, alphabet, 0x9e37_79b9_7f4a_7c15_u64, 600)
            .enumerate()
    {
        let _ = parse(if round % 5 == 0 { "HEAD" } else { "GET" }, &input);
    }
}
