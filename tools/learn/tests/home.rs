//! The learner's home, run as the real binary: it builds the book, prints the
//! chapters and the progress, and serves the book on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn home_prints_the_chapters_and_serves_the_book() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netladder-learn"))
        .args(["home", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let _guard = Killed(child);
    let mut printed = String::new();
    let mut addr = None;
    for line in stdout.lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.strip_prefix("serving the book at http://") {
            addr = rest.split('/').next().map(str::to_string);
            break;
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("no serving line in:\n{printed}"));
    assert!(
        printed.contains("cargo run --bin ch01-echo-server"),
        "{printed}"
    );
    assert!(printed.contains("exercises done"), "{printed}");

    let index = get(&addr, "/");
    assert!(index.starts_with("HTTP/1.1 200 OK"), "{index}");
    assert!(index.contains("netladder"));
    let chapter = get(&addr, "/ch01-tcp.html");
    assert!(chapter.starts_with("HTTP/1.1 200 OK"));
    assert!(
        chapter.contains("fn echo("),
        "chapter 1 includes the real echo code"
    );
    assert!(
        chapter.contains("Filename: chapters/ch01/echo_server.rs"),
        "included listings are captioned with their file"
    );
    assert!(get(&addr, "/../Cargo.toml").starts_with("HTTP/1.1 404"));
    // An unknown path gets the book's own 404 page, not plain text.
    let missing = get(&addr, "/no-such-page.html");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.contains("text/html"), "{missing}");
    assert!(missing.contains("Document not found"), "{missing}");
}

#[test]
fn home_refuses_non_loopback_addresses() {
    let output = Command::new(env!("CARGO_BIN_EXE_netladder-learn"))
        .args(["home", "--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback"));
}
