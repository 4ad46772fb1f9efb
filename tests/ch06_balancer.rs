//! Chapter 6: the sticky balancer in front of three real `ch05-eio-server`
//! backends. First the failure it exists for (long-polling spread over
//! servers without stickiness: "Session ID unknown"), then the same clients
//! through `ch06-balancer` on both drivers: polling only, the upgrade to
//! WebSocket, a backend killed, and Node's official engine.io-client.

mod common;

use common::{IO_TIMEOUT, Server};
use netladder::engineio::Payload;
use netladder::engineio::blocking::BlockingClient;
use netladder::engineio::client::{ClientCloseReason, ClientConfig, ClientEvent, Transports};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

const EIO_SERVER: &str = env!("CARGO_BIN_EXE_ch05-eio-server");
const BALANCER: &str = env!("CARGO_BIN_EXE_ch06-balancer");
const DRIVERS: [&str; 2] = ["threads", "mio"];
/// Heartbeats fast enough to happen during a test, slow enough for a
/// loaded CI machine.
const PING: [&str; 4] = ["--ping-interval-ms", "1000", "--ping-timeout-ms", "3000"];

fn backends() -> Vec<Server> {
    (0..3)
        .map(|_| {
            let mut args = vec!["--driver", "mio"];
            args.extend(PING);
            Server::start(EIO_SERVER, &args)
        })
        .collect()
}

fn balancer(backends: &[Server], driver: &str) -> Server {
    let addrs: Vec<String> = backends.iter().map(|s| s.addr.to_string()).collect();
    let mut args = vec!["--driver", driver];
    for addr in &addrs {
        args.extend(["--backend", addr.as_str()]);
    }
    Server::start(BALANCER, &args)
}

/// One request on its own connection: the status and the body.
fn http(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head[9..12].parse().unwrap();
    (status, response[split + 4..].to_vec())
}

/// A polling handshake at `addr`: the sid.
fn handshake(addr: SocketAddr) -> String {
    let (status, body) = http(addr, "GET", "/engine.io/?EIO=4&transport=polling", b"");
    assert_eq!(status, 200);
    let sid = netladder::balancer::sid_from_open_packet(&body).expect("an open packet");
    sid.to_string()
}

fn target(sid: &str) -> String {
    format!("/engine.io/?EIO=4&transport=polling&sid={sid}")
}

/// A round-robin TCP balancer without stickiness, as a layer-4 balancer
/// (or DNS round-robin) would be: each new connection goes to the next
/// backend.
fn round_robin_proxy(backends: Vec<SocketAddr>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let i = next.fetch_add(1, Ordering::Relaxed) % backends.len();
            let Ok(backend) = TcpStream::connect(backends[i]) else {
                continue;
            };
            let (mut c2, mut b2) = (client.try_clone().unwrap(), backend.try_clone().unwrap());
            let (mut c1, mut b1) = (client, backend);
            thread::spawn(move || {
                let _ = std::io::copy(&mut c1, &mut b1);
                let _ = b1.shutdown(std::net::Shutdown::Write);
            });
            thread::spawn(move || {
                let _ = std::io::copy(&mut b2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

fn client(addr: SocketAddr, transports: Transports) -> BlockingClient {
    let config = ClientConfig {
        transports,
        ..ClientConfig::default()
    };
    let mut client = BlockingClient::connect(&addr.to_string(), config);
    match client.next_event(IO_TIMEOUT) {
        Some(ClientEvent::Open(_)) => {}
        other => panic!("expected the session to open, got {other:?}"),
    }
    client
}

/// Sends `count` messages and checks each echo, in order. Returns whether
/// the session moved to its WebSocket meanwhile.
fn echo_many(client: &mut BlockingClient, label: &str, count: usize) -> bool {
    let mut upgraded = false;
    for i in 0..count {
        let text = format!("{label} {i}");
        client.send(Payload::Text(text.clone())).unwrap();
        loop {
            match client.next_event(IO_TIMEOUT) {
                Some(ClientEvent::Message(Payload::Text(got))) => {
                    assert_eq!(got, text);
                    break;
                }
                Some(ClientEvent::Upgraded) => upgraded = true,
                other => panic!("{label}: waiting for echo {i}, got {other:?}"),
            }
        }
    }
    upgraded
}

// ANCHOR: failure_first
#[test]
fn without_stickiness_polling_fails_with_session_id_unknown() {
    let servers = backends();
    // The handshake happens on one server; the next request goes to another,
    // which has never heard of the session.
    let sid = handshake(servers[0].addr);
    let (status, body) = http(servers[1].addr, "POST", &target(&sid), b"4hello");
    assert_eq!(status, 400);
    assert_eq!(body, br#"{"code":1,"message":"Session ID unknown"}"#);
    // The same with the project's client, forced to polling, behind a
    // balancer that spreads connections round-robin without stickiness.
    let proxy = round_robin_proxy(servers.iter().map(|s| s.addr).collect());
    let config = ClientConfig {
        transports: Transports::PollingOnly,
        ..ClientConfig::default()
    };
    let mut client = BlockingClient::connect(&proxy.to_string(), config);
    assert!(matches!(
        client.next_event(IO_TIMEOUT),
        Some(ClientEvent::Open(_))
    ));
    let _ = client.send(Payload::Text("hello".into()));
    let end = loop {
        match client.next_event(IO_TIMEOUT) {
            Some(ClientEvent::Close(reason)) => break reason,
            Some(ClientEvent::Message(m)) => panic!("an echo got through: {m:?}"),
            Some(_) => continue,
            None => panic!("the session neither failed nor echoed"),
        }
    };
    assert_eq!(end, ClientCloseReason::TransportError(Some(400)));
}
// ANCHOR_END: failure_first

#[test]
fn through_the_balancer_polling_only_clients_succeed() {
    let servers = backends();
    for driver in DRIVERS {
        let lb = balancer(&servers, driver);
        // Four sessions, round-robin over three servers: they span them all.
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let addr = lb.addr;
                thread::spawn(move || {
                    let mut client = client(addr, Transports::PollingOnly);
                    assert!(
                        !echo_many(&mut client, &format!("{driver} poller {n}"), 60),
                        "stays on polling"
                    );
                    // Across heartbeats (a ping each second): still served.
                    thread::sleep(Duration::from_millis(1500));
                    assert!(
                        !echo_many(&mut client, &format!("{driver} poller {n} later"), 5),
                        "stays on polling"
                    );
                    client.close();
                })
            })
            .collect();
        for handle in handles {
            handle.join().expect("a polling client failed");
        }
        // A request for a session nobody knows gets Engine.IO's own error.
        let (status, body) = http(lb.addr, "POST", &target("nosuchsession"), b"4x");
        assert_eq!(status, 400);
        assert_eq!(body, br#"{"code":1,"message":"Session ID unknown"}"#);
        // Plain HTTP goes through too (the backends' page).
        let (status, page) = http(lb.addr, "GET", "/", b"");
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&page).contains("<html"), "{driver}");
    }
}

#[test]
fn through_the_balancer_the_upgrade_to_websocket_works() {
    let servers = backends();
    for driver in DRIVERS {
        let lb = balancer(&servers, driver);
        for n in 0..3 {
            let mut client = client(lb.addr, Transports::PollingThenUpgrade);
            let mut upgraded = echo_many(&mut client, &format!("{driver} upgrading {n}"), 3);
            while !upgraded {
                match client.next_event(IO_TIMEOUT) {
                    Some(ClientEvent::Upgraded) => upgraded = true,
                    other => panic!("waiting for the upgrade, got {other:?}"),
                }
            }
            assert!(!echo_many(
                &mut client,
                &format!("{driver} upgraded {n}"),
                100
            ));
            client.close();
        }
        let mut client = client(lb.addr, Transports::WebSocketOnly);
        echo_many(&mut client, &format!("{driver} websocket only"), 50);
    }
}

#[test]
fn a_killed_backend_is_skipped_and_its_sessions_get_a_clear_error() {
    let mut servers = backends();
    let lb = balancer(&servers, "mio");
    // Three sessions, one per backend (round-robin); find which is where by
    // asking each backend directly (a noop is accepted only by its owner).
    let sids: Vec<String> = (0..3).map(|_| handshake(lb.addr)).collect();
    let owner = |sid: &str, servers: &[Server]| {
        servers
            .iter()
            .position(|s| http(s.addr, "POST", &target(sid), b"6").0 == 200)
            .expect("some backend holds the session")
    };
    let victim_sid = sids[0].clone();
    let victim = owner(&victim_sid, &servers);
    drop(servers.remove(victim)); // killed
    // New sessions go to the two that are left, every time.
    for n in 0..6 {
        let mut client = client(lb.addr, Transports::PollingOnly);
        assert!(
            !echo_many(&mut client, &format!("after the kill {n}"), 5),
            "stays on polling"
        );
        client.close();
    }
    // The sessions on the survivors carry on.
    for sid in &sids[1..] {
        let (status, body) = http(lb.addr, "POST", &target(sid), b"4still here");
        assert_eq!((status, body.as_slice()), (200, &b"ok"[..]), "{sid}");
    }
    // The one that lived on the dead server gets a clear answer, not a hang.
    let (status, body) = http(lb.addr, "POST", &target(&victim_sid), b"4hello");
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("is down"), "{text}");
    // ...and the balancer has forgotten it.
    let (status, body) = http(lb.addr, "POST", &target(&victim_sid), b"4hello");
    assert_eq!(status, 400);
    assert_eq!(body, br#"{"code":1,"message":"Session ID unknown"}"#);
}

#[test]
fn hostile_requests_get_clear_http_errors() {
    let servers = backends();
    let lb = balancer(&servers, "mio");
    let send = |raw: &[u8]| {
        let mut stream = TcpStream::connect(lb.addr).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let _ = stream.write_all(raw);
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        String::from_utf8_lossy(&reply).to_string()
    };
    assert!(send(b"NOT HTTP AT ALL\r\n\r\n").starts_with("HTTP/1.1 400"));
    let huge_head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert!(send(huge_head.as_bytes()).starts_with("HTTP/1.1 431"));
    let huge_body = "POST /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\
                     Content-Length: 99999999\r\n\r\n";
    assert!(send(huge_body.as_bytes()).starts_with("HTTP/1.1 413"));
    let long_sid = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\n\r\n",
        target(&"s".repeat(100))
    );
    let reply = send(long_sid.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("Session ID unknown"), "{reply}");
}

#[test]
fn nodes_engine_io_client_works_through_the_balancer() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let installed = dir.join("node_modules/engine.io-client").is_dir();
    if !installed || Command::new("node").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED: node or engine.io-client is missing (run `npm ci` in tests/node; \
             scripts/test-all does)"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: a check that CI sets up must not be skipped"
        );
        return;
    }
    let servers = backends();
    for driver in DRIVERS {
        let lb = balancer(&servers, driver);
        let out = Command::new("timeout")
            .args(["120", "node", "eio_balancer.mjs"])
            .arg(format!("http://{}", lb.addr))
            .current_dir(&dir)
            .output()
            .expect("node runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{driver}:\n{stdout}");
        assert!(
            out.status.success(),
            "{driver}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.matches("ok: ").count(), 3, "{stdout}");
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_tunnel_client_that_never_reads_cannot_grow_the_balancers_memory() {
    // Any WebSocket goes through the tunnel: chapter 3's echo server here.
    let ws_server = Server::start(env!("CARGO_BIN_EXE_ch03-ws-server"), &["--driver", "mio"]);
    for driver in DRIVERS {
        let lb = Server::start(
            BALANCER,
            &["--driver", driver, "--backend", &ws_server.addr.to_string()],
        );
        let before = rss_kib(lb.pid());
        let mut hog = TcpStream::connect(lb.addr).unwrap();
        hog.write_all(
            b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
        hog.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        // Masked 64 KiB binary frames, sent for as long as anyone takes
        // them, never reading a byte of the echoes.
        let mut frame = vec![0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        frame.extend(std::iter::repeat_n(0u8, 64 * 1024));
        let started = std::time::Instant::now();
        let mut sent = 0usize;
        while started.elapsed() < Duration::from_secs(8) && sent < 256 * 1024 * 1024 {
            if hog.write_all(&frame).is_err() {
                break;
            }
            sent += frame.len();
        }
        let after = rss_kib(lb.pid());
        assert!(
            after < before + 32 * 1024,
            "{driver}: balancer RSS grew from {before} KiB to {after} KiB after {sent} bytes"
        );
        println!("{driver}: {sent} bytes sent; balancer RSS {before} KiB -> {after} KiB");
        drop(hog);
        // Others are still served through it.
        let ws = Command::new(env!("CARGO_BIN_EXE_ch03-ws-client"))
            .args([&format!("ws://{}/echo", lb.addr), "--message", "still here"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ws.stdout),
            "still here\n",
            "{driver}"
        );
    }
}
