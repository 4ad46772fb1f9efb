//! Chapter 2 integration tests: the real `ch02-http-server` binary on both
//! drivers, spoken to over raw sockets, with curl, and with `ch02-http-get`.

mod common;

use common::{IO_TIMEOUT, Server};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_ch02-http-server");
const GET: &str = env!("CARGO_BIN_EXE_ch02-http-get");
const DRIVERS: [&str; 2] = ["threads", "mio"];

/// A served folder `www/` with a secret file beside it, outside the root.
struct Site {
    dir: PathBuf,
}

impl Site {
    fn new(name: &str) -> Site {
        let dir =
            std::env::temp_dir().join(format!("netladder-ch02-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("www/sub")).unwrap();
        fs::write(dir.join("www/hello.txt"), "hello, http\n").unwrap();
        fs::write(dir.join("www/sub/page.html"), "<p>sub</p>\n").unwrap();
        fs::write(dir.join("secret.txt"), "TOP SECRET\n").unwrap();
        Site { dir }
    }

    fn root(&self) -> String {
        self.dir.join("www").display().to_string()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn start(site: &Site, driver: &str, extra: &[&str]) -> Server {
    let root = site.root();
    let mut args = vec!["--root", root.as_str(), "--driver", driver];
    args.extend_from_slice(extra);
    Server::start(SERVER, &args)
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Sends raw bytes on a new connection and reads until the server closes.
fn exchange(server: &Server, request: &[u8]) -> String {
    let mut stream = connect(server);
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// Reads one response with a Content-Length body from a kept-alive stream.
fn read_response(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "connection closed mid-head"
        );
        data.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&data).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    head + &String::from_utf8_lossy(&body)
}

fn status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn serves_files_listings_and_404() {
    let site = Site::new("files");
    for driver in DRIVERS {
        let server = start(&site, driver, &[]);
        let file = exchange(
            &server,
            b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status(&file), 200, "{driver}: {file}");
        assert!(file.contains("Content-Type: text/plain"), "{file}");
        assert!(file.ends_with("\r\n\r\nhello, http\n"), "{file}");
        let listing = exchange(
            &server,
            b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert!(
            listing.contains("href=\"hello.txt\"") && listing.contains("href=\"sub/\""),
            "{listing}"
        );
        let redirect = exchange(
            &server,
            b"GET /sub HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status(&redirect), 301, "{redirect}");
        let missing = exchange(
            &server,
            b"GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status(&missing), 404, "{missing}");
        fs::write(site.dir.join("www/.env"), "SECRET=1\n").unwrap();
        let hidden = exchange(
            &server,
            b"GET /.env HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(
            status(&hidden),
            404,
            "hidden files are not served: {hidden}"
        );
        assert!(!hidden.contains("SECRET"));
        let head = exchange(
            &server,
            b"HEAD /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert!(
            head.contains("Content-Length: 12") && head.ends_with("\r\n\r\n"),
            "{head}"
        );
    }
}

#[test]
fn traversal_never_leaves_the_root() {
    let site = Site::new("traversal");
    for driver in DRIVERS {
        let server = start(&site, driver, &[]);
        for target in [
            "/../secret.txt",
            "/sub/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E%2Fsecret.txt",
            "/sub/%2e%2e/%2e%2e/secret.txt",
            "/..%5csecret.txt",
            "//etc/passwd",
            "/%00",
        ] {
            let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            let response = exchange(&server, request.as_bytes());
            let code = status(&response);
            assert!(
                code == 403 || code == 404 || code == 400,
                "{driver} {target}: {response}"
            );
            assert!(
                !response.contains("TOP SECRET"),
                "{driver} {target} leaked the secret"
            );
        }
        // An absolute-form path outside the root is looked up under the root.
        let response = exchange(
            &server,
            b"GET /etc/passwd HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status(&response), 404, "{response}");
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let site = Site::new("keepalive");
    for driver in DRIVERS {
        let server = start(&site, driver, &[]);
        let mut stream = connect(&server);
        for _ in 0..3 {
            stream
                .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let response = read_response(&mut stream);
            assert!(response.ends_with("hello, http\n"), "{driver}: {response}");
        }
        // Pipelined: two requests in one write, answered in order.
        stream
            .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /sub/page.html HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert!(read_response(&mut stream).ends_with("hello, http\n"));
        assert!(read_response(&mut stream).ends_with("<p>sub</p>\n"));
    }
}

#[test]
fn every_limit_gets_its_status() {
    let site = Site::new("limits");
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "x".repeat(20_000)
    );
    let many_headers = format!("GET / HTTP/1.1\r\n{}\r\n", "X-H: 1\r\n".repeat(100));
    let cases: [(&[u8], u16); 7] = [
        (b"GET / HTTP/1.1\r\nHost t\r\n\r\n", 400),
        (b"NOT A REQUEST\r\n\r\n", 400),
        (big_header.as_bytes(), 431),
        (many_headers.as_bytes(), 431),
        (
            b"POST /send HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n\r\n",
            413,
        ),
        (
            b"POST /send HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
    ];
    for driver in DRIVERS {
        let server = start(&site, driver, &[]);
        for (request, expected) in cases {
            let response = exchange(&server, request);
            assert_eq!(
                status(&response),
                expected,
                "{driver}: {}",
                String::from_utf8_lossy(&request[..40])
            );
        }
    }
}

#[test]
fn a_slowloris_client_times_out_while_others_are_served() {
    let site = Site::new("slowloris");
    for driver in DRIVERS {
        let server = start(&site, driver, &["--head-timeout", "0.5"]);
        let mut slow = connect(&server);
        slow.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n")
            .unwrap();
        let started = Instant::now();
        // Meanwhile another client is served at once.
        let fast = exchange(
            &server,
            b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert!(fast.ends_with("hello, http\n"), "{driver}: {fast}");
        // The slow one dribbles a header byte now and then, and still gets
        // 408 once its head has taken longer than the limit.
        let mut response = Vec::new();
        for byte in b"X-Slow: 1" {
            if slow.write_all(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = slow.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response);
        assert_eq!(status(&response), 408, "{driver}: {response}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{driver}: held too long"
        );
    }
}

#[test]
fn long_poll_hands_a_message_from_one_client_to_another() {
    let site = Site::new("longpoll");
    for driver in DRIVERS {
        let server = start(&site, driver, &[]);
        let mut poller = connect(&server);
        poller
            .write_all(b"GET /poll?after=0 HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        // The poll is held: nothing comes back yet.
        poller
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut probe = [0u8; 1];
        assert!(
            poller.read(&mut probe).is_err(),
            "{driver}: the poll was answered at once"
        );
        poller.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let sent = exchange(&server, b"POST /send HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhi yo");
        assert!(sent.contains("delivered to 1"), "{driver}: {sent}");
        let delivered = read_response(&mut poller);
        assert!(
            delivered.contains("X-Message-Id: 1") && delivered.ends_with("hi yo"),
            "{delivered}"
        );
    }
}

#[test]
fn an_unanswered_poll_gets_204_after_the_timeout() {
    let site = Site::new("poll204");
    for driver in DRIVERS {
        let server = start(&site, driver, &["--poll-timeout", "0.3"]);
        let mut poller = connect(&server);
        let started = Instant::now();
        poller
            .write_all(b"GET /poll HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let response = read_response(&mut poller);
        assert_eq!(status(&response), 204, "{driver}: {response}");
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl").args(args).output().expect(
        "curl is needed for this test: `apt-get install curl` (scripts/test-all installs it)",
    )
}

#[test]
fn curl_gets_files_and_reuses_the_connection() {
    let site = Site::new("curl");
    for driver in DRIVERS {
        let server = start(&site, driver, &[]);
        let base = format!("http://{}", server.addr);
        let one = format!("{base}/hello.txt");
        let two = format!("{base}/sub/page.html");
        let output = curl(&["-sv", "--max-time", "10", &one, &two]);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "hello, http\n<p>sub</p>\n"
        );
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(log.contains("< HTTP/1.1 200 OK"), "{log}");
        assert!(
            log.to_lowercase().contains("re-using existing connection"),
            "{driver}: no keep-alive reuse:\n{log}"
        );
        // A chunked upload to the long-poll demo.
        let posted = curl(&[
            "-s",
            "--max-time",
            "10",
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            "from curl",
            &format!("{base}/send"),
        ]);
        assert!(
            String::from_utf8_lossy(&posted.stdout).contains("message 1 delivered"),
            "{posted:?}"
        );
        let polled = curl(&["-s", "--max-time", "10", &format!("{base}/poll?after=0")]);
        assert_eq!(String::from_utf8_lossy(&polled.stdout), "from curl");
        // Expect: 100-continue, which curl sends for larger bodies.
        let big = "x".repeat(2000);
        let expect = curl(&[
            "-sv",
            "--max-time",
            "10",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            &big,
            &format!("{base}/send"),
        ]);
        assert!(
            String::from_utf8_lossy(&expect.stderr).contains("100 Continue"),
            "{expect:?}"
        );
    }
}

#[test]
fn the_get_binary_fetches_a_file() {
    let site = Site::new("getbin");
    let server = start(&site, "threads", &[]);
    let output = Command::new(GET)
        .arg(format!("http://{}/hello.txt", server.addr))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello, http\n");
    let missing = Command::new(GET)
        .args(["--include", &format!("http://{}/missing", server.addr)])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&missing.stdout).starts_with("HTTP/1.1 404"),
        "{missing:?}"
    );
    assert!(
        !missing.status.success(),
        "a 404 exits non-zero, as curl --fail does"
    );
}
