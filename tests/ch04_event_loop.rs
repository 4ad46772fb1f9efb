//! Chapter 4 integration tests: the load generator against the real
//! servers, and a client that never reads against the mio driver.

mod common;

use common::Server;
use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

const LOADGEN: &str = env!("CARGO_BIN_EXE_ch04-loadgen");
const ECHO: &str = env!("CARGO_BIN_EXE_ch01-echo-server");
const WS: &str = env!("CARGO_BIN_EXE_ch03-ws-server");

fn loadgen(args: &[&str]) -> (bool, serde_json::Value) {
    let output = Command::new(LOADGEN)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let json =
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text} {output:?}"));
    (output.status.success(), json)
}

#[test]
fn loadgen_verifies_echoes_over_tcp_and_websocket_on_both_drivers() {
    for driver in ["threads", "mio"] {
        let tcp = Server::start(ECHO, &["--driver", driver]);
        let addr = tcp.addr.to_string();
        let (ok, json) = loadgen(&["--addr", &addr, "-n", "20", "-s", "100", "-d", "0.5"]);
        assert!(ok, "{driver}: {json}");
        assert_eq!(json["established"], 20);
        assert_eq!(json["failed"], 0);
        assert!(json["messages"].as_u64().unwrap() >= 20, "{json}");

        let ws = Server::start(WS, &["--driver", driver]);
        let addr = ws.addr.to_string();
        let pid = ws.pid().to_string();
        let (ok, json) = loadgen(&[
            "--protocol",
            "ws",
            "--addr",
            &addr,
            "-n",
            "20",
            "-d",
            "0.5",
            "--server-pid",
            &pid,
        ]);
        assert!(ok, "{driver}: {json}");
        assert_eq!(json["established"], 20);
        assert!(json["server"]["rss_kib"].as_u64().unwrap() > 0, "{json}");
    }
}

#[test]
fn loadgen_stops_at_the_message_budget_and_holds_idle_connections() {
    let server = Server::start(WS, &["--driver", "mio"]);
    let addr = server.addr.to_string();
    let (ok, json) = loadgen(&[
        "--protocol",
        "ws",
        "--addr",
        &addr,
        "-n",
        "5",
        "-d",
        "30",
        "--messages",
        "100",
    ]);
    assert!(ok, "{json}");
    // 5 first messages are free of the budget's check; at most 100 more.
    assert!(json["messages"].as_u64().unwrap() <= 105, "{json}");
    assert!(
        json["seconds"].as_f64().unwrap() < 30.0,
        "it stopped at the budget, not the deadline"
    );
    let (ok, json) = loadgen(&[
        "--protocol",
        "ws",
        "--addr",
        &addr,
        "-n",
        "50",
        "-d",
        "0.5",
        "--idle",
    ]);
    assert!(ok, "{json}");
    assert_eq!(json["established"], 50);
}

#[test]
fn loadgen_refuses_addresses_off_this_machine() {
    let output = Command::new(LOADGEN)
        .args(["--addr", "192.0.2.1:80", "-n", "1", "-d", "0.1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("loopback"),
        "{output:?}"
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_websocket_client_that_never_reads_cannot_grow_the_servers_memory() {
    let server = Server::start(WS, &["--driver", "mio"]);
    let before = rss_kib(server.pid());
    let mut hog = TcpStream::connect(server.addr).unwrap();
    hog.write_all(
        b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    // Masked 64 KiB binary frames, sent for as long as the server takes
    // them, never reading a byte of the echoes.
    let mut frame = vec![0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
    frame.extend(std::iter::repeat_n(0u8, 64 * 1024));
    let started = Instant::now();
    let mut sent = 0usize;
    while started.elapsed() < Duration::from_secs(10) && sent < 256 * 1024 * 1024 {
        if hog.write_all(&frame).is_err() {
            break;
        }
        sent += frame.len();
    }
    let after = rss_kib(server.pid());
    // Reads pause at 1 MiB unsent, so the server holds at most a few MiB
    // for this client, however much it tries to send.
    assert!(
        after < before + 16 * 1024,
        "server RSS grew from {before} KiB to {after} KiB after {sent} bytes"
    );
    // And others are still served.
    let ws = Command::new(env!("CARGO_BIN_EXE_ch03-ws-client"))
        .args([
            &format!("ws://{}/echo", server.addr),
            "--message",
            "still here",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ws.stdout), "still here\n");
}

#[test]
fn ctrl_c_on_the_mio_driver_sends_every_websocket_a_goodbye() {
    use tungstenite::Message;
    let server = Server::start(WS, &["--driver", "mio"]);
    let mut clients: Vec<_> = (0..3)
        .map(|_| {
            let (ws, _) = tungstenite::connect(format!("ws://{}/echo", server.addr)).unwrap();
            if let tungstenite::stream::MaybeTlsStream::Plain(stream) = ws.get_ref() {
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
            }
            ws
        })
        .collect();
    // Make sure every connection is open on the server before the signal.
    for ws in &mut clients {
        ws.send(Message::text("hi")).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text("hi"));
    }
    let status = Command::new("kill")
        .args(["-INT", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for ws in &mut clients {
        match ws.read() {
            Ok(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
            other => panic!("expected close 1001, got {other:?}"),
        }
        // Answer, as a polite client does, so the server can finish.
        let _ = ws.flush();
    }
    let mut server = server;
    let started = Instant::now();
    loop {
        match server.try_wait() {
            Some(status) => break assert!(status.success(), "{status:?}"),
            None if started.elapsed() > Duration::from_secs(15) => {
                panic!("the server did not exit")
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
