//! The chapter binaries as a learner meets them in the book's "try it"
//! steps: the server closing first, a refused connection, the debug log,
//! and logs without colour codes when stderr is not a terminal.

mod common;

use common::Server;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const SERVER: &str = env!("CARGO_BIN_EXE_ch03-ws-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_ch03-ws-client");
const ECHO_SERVER: &str = env!("CARGO_BIN_EXE_ch01-echo-server");
const ECHO_CLIENT: &str = env!("CARGO_BIN_EXE_ch01-echo-client");

#[test]
fn a_server_first_close_ends_the_client_cleanly_with_the_code() {
    for driver in ["threads", "mio"] {
        let server = Server::start(SERVER, &["--driver", driver, "--max-message", "1000"]);
        // The race (stdin's end against the server's close) is lost only in
        // some runs, so try a few times.
        for _ in 0..5 {
            let mut child = Command::new(CLIENT)
                .arg(format!("ws://{}/echo", server.addr))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(&[b'y'; 1001]).unwrap();
            stdin.write_all(b"\n").unwrap();
            drop(stdin);
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{driver}: {output:?}");
            assert!(
                stderr.contains("closed by the server: code 1009"),
                "{driver}: {stderr}"
            );
        }
    }
}

#[test]
fn a_refused_connection_is_a_sentence() {
    // Port 1 on loopback: nothing listens there on a test machine.
    let runs = [
        (CLIENT, vec!["ws://127.0.0.1:1/echo", "--message", "x"]),
        (ECHO_CLIENT, vec!["--addr", "127.0.0.1:1", "--message", "x"]),
    ];
    for (binary, args) in runs {
        let output = Command::new(binary).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains("cannot connect to "), "{stderr}");
        assert!(stderr.contains("is the server running?") || stderr.contains("running?"));
        assert!(!stderr.contains("Os {"), "{stderr}");
    }
}

#[test]
fn the_chapter_1_debug_log_shows_every_read_without_colour_codes() {
    let mut server = Command::new(ECHO_SERVER)
        .args(["--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let output = Command::new(ECHO_CLIENT)
        .args(["--addr", &addr, "--message", "abc", "--byte-at-a-time"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "abc\n");
    let mut log = BufReader::new(server.stderr.take().unwrap());
    let mut reads = 0;
    let mut line = String::new();
    while log.read_line(&mut line).unwrap() > 0 {
        assert!(
            !line.contains('\x1b'),
            "a colour code in a piped log: {line:?}"
        );
        reads += usize::from(line.contains("DEBUG") && line.contains(": read "));
        if line.contains("after echoing") {
            break;
        }
        line.clear();
    }
    let _ = server.kill();
    let _ = server.wait();
    // Four bytes ("abc" and the newline) sent one per write, 5 ms apart:
    // at least two reads, usually four.
    assert!(reads >= 2, "{reads} debug read lines");
}
