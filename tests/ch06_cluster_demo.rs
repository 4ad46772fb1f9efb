//! Chapter 6's one-command demo, `ch06-cluster`, run as the reader runs
//! it: Redis, three `ch05-sio-server --redis` and `ch06-balancer` in
//! front. Chat clients (the project's blocking Socket.IO client) connect
//! through the balancer, polling-only and with the default upgrade; each
//! lands on its own server (the servers say so: a chat message's ack counts
//! the sockets it reached on the sender's server, none here); every message
//! reaches every other client of the room exactly once. Then SIGTERM stops
//! the demo and no process it started is left. Skipped with a message when
//! redis-server is not installed.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netladder::engineio::client::Transports;
use netladder::socketio::Value;
use netladder::socketio::blocking::{Client, ClientBuilder};
use netladder::socketio::client::ClientEvent;
use serde_json::json;

#[path = "support/redis.rs"]
#[allow(dead_code)] // each test file uses its own subset
mod support;

const WAIT: Duration = Duration::from_secs(10);

/// The running demo; killed on drop if a test failed midway.
struct Demo {
    child: Child,
    url: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        // The demo leads its own process group: a test that fails midway
        // takes its Redis, servers and balancer down with it.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_demo(driver: &str) -> Demo {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ch06-cluster"))
        .args(["--addr", &addr, "--driver", driver])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .expect("ch06-cluster starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.expect("ch06-cluster's output");
        println!("ch06-cluster: {line}");
        if let Some(u) = line.strip_prefix("chat: ") {
            url = Some(u.trim().to_owned());
            break;
        }
    }
    let url = url.expect("ch06-cluster printed `chat: URL`");
    assert_eq!(url, format!("http://{addr}/"), "the chat is on --addr");
    // Keep reading, so the demo never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Demo { child, url }
}

/// The processes whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(pid) {
            let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
            out.push((child, comm.to_owned()));
        }
    }
    out
}

/// Whether `pid` is still a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn json_of(v: &[Value]) -> serde_json::Value {
    v.first()
        .map(Value::to_json)
        .unwrap_or(serde_json::Value::Null)
}

fn chat_client(url: &str, transports: Transports, name: &str, room: &str) -> Client {
    let mut c = ClientBuilder::new(url)
        .unwrap()
        .namespace("/chat")
        .transports(transports)
        .reconnection(false)
        .connect()
        .unwrap_or_else(|e| panic!("{name} connects through the balancer: {e}"));
    let ack = c.call("name", vec![name.into()], WAIT).unwrap();
    assert_eq!(json_of(&ack)["ok"], true, "{name}: {ack:?}");
    let ack = c.call("join", vec![room.into()], WAIT).unwrap();
    assert_eq!(json_of(&ack)["ok"], true, "{name}: {ack:?}");
    c
}

/// The `chat` events `c` receives until `want` came and 300 ms more (to
/// catch a duplicate), or for `max` without it.
fn chats(c: &mut Client, want: &serde_json::Value, max: Duration) -> Vec<serde_json::Value> {
    let mut deadline = Instant::now() + max;
    let mut out = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(ClientEvent::Event { name, args, .. }) =
            c.next_event(left.min(Duration::from_millis(100)))
            && name == "chat"
        {
            let got = json_of(&args);
            if got == *want && !out.contains(want) {
                deadline = Instant::now() + Duration::from_millis(300);
            }
            out.push(got);
        }
    }
    out
}

/// The members of `room` in the `rooms` lists `c` is pushed, until they
/// are `want` or `max` has passed: the last members seen.
fn members_of(c: &mut Client, room: &str, want: &[&str], max: Duration) -> Vec<String> {
    let deadline = Instant::now() + max;
    let mut last = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(ClientEvent::Event { name, args, .. }) =
            c.next_event(left.min(Duration::from_millis(100)))
            && name == "rooms"
        {
            let list = json_of(&args);
            last = list
                .as_array()
                .and_then(|rooms| rooms.iter().find(|r| r["room"] == room))
                .and_then(|r| r["members"].as_array())
                .map(|m| {
                    m.iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if last == want {
                break;
            }
        }
    }
    last
}

/// Three clients through the balancer, one per server, in one room: each
/// sees all three in the room list (presence is the cluster's), and every
/// message reaches the two others exactly once.
fn one_room_across_servers(url: &str, transports: Transports, room: &str) {
    let names = ["ada", "bob", "cyd"];
    let mut clients: Vec<Client> = names
        .iter()
        .map(|n| chat_client(url, transports, n, room))
        .collect();
    if transports == Transports::PollingOnly {
        assert!(clients.iter().all(|c| c.transport() == Some("polling")));
    }
    // Each client is alone on its server (checked below with the acks'
    // `to`), so only the cluster's presence can name the other two.
    for (c, name) in clients.iter_mut().zip(names) {
        let seen = members_of(c, room, &names, WAIT);
        assert_eq!(seen, names, "{name}'s room list for {room}");
    }
    for (i, name) in names.iter().enumerate() {
        let text = format!("hello from {name} over {transports:?}");
        let ack = clients[i]
            .call(
                "chat",
                vec![json!({"room": room, "text": text}).into()],
                WAIT,
            )
            .unwrap();
        let ack = json_of(&ack);
        assert_eq!(ack["ok"], true, "{name}: {ack}");
        // `to` counts the room's sockets on the sender's own server: with
        // three members, 0 means the two others are on other servers.
        assert_eq!(
            ack["to"], 0,
            "{name} shares a server with another client: {ack}"
        );
        for (j, other) in clients.iter_mut().enumerate() {
            let want = json!({"room": room, "from": name, "text": text, "id": ack["id"]});
            let wait = Duration::from_millis(if j == i { 300 } else { 5000 });
            let got = chats(other, &want, wait);
            let expected = if j == i { 0 } else { 1 };
            assert_eq!(
                got.iter().filter(|m| **m == want).count(),
                expected,
                "{} got {got:?} for {name}'s message",
                names[j]
            );
            assert_eq!(got.len(), expected, "{}: no other chat: {got:?}", names[j]);
        }
    }
    for mut c in clients {
        c.close();
    }
}

fn demo_serves_a_room_across_servers(driver: &str) {
    if !support::installed() {
        return;
    }
    let demo = start_demo(driver);
    let pid = demo.child.id();
    let children = children_of(pid);
    let mut names: Vec<&str> = children.iter().map(|(_, c)| c.as_str()).collect();
    names.sort();
    // /proc's comm is cut at 15 bytes.
    assert_eq!(
        names,
        [
            "ch05-sio-server",
            "ch05-sio-server",
            "ch05-sio-server",
            "ch06-balancer",
            "redis-server"
        ],
        "what ch06-cluster started"
    );
    one_room_across_servers(&demo.url, Transports::PollingOnly, "polling");
    one_room_across_servers(&demo.url, Transports::PollingThenUpgrade, "upgraded");

    // SIGTERM: the demo stops, and with it everything it started.
    let mut demo = demo;
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + WAIT;
    let exit = loop {
        if let Some(exit) = demo.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "ch06-cluster ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        exit.success(),
        "ch06-cluster exits cleanly on SIGTERM: {exit}"
    );
    let left: Vec<_> = children.iter().filter(|(p, _)| alive(*p)).collect();
    assert!(left.is_empty(), "orphans after SIGTERM: {left:?}");
}

#[test]
fn demo_on_threads_serves_one_room_across_servers_and_stops_cleanly() {
    demo_serves_a_room_across_servers("threads");
}

#[test]
fn demo_on_mio_serves_one_room_across_servers_and_stops_cleanly() {
    demo_serves_a_room_across_servers("mio");
}

#[test]
fn a_dead_server_stops_the_demo_without_orphans() {
    if !support::installed() {
        return;
    }
    let mut demo = start_demo("threads");
    let pid = demo.child.id();
    let children = children_of(pid);
    let (server, _) = children
        .iter()
        .find(|(_, c)| c == "ch05-sio-server")
        .expect("a server");
    Command::new("kill")
        .args(["-KILL", &server.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let exit = loop {
        if let Some(exit) = demo.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "ch06-cluster missed a dead server"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!exit.success(), "a dead server is a failure: {exit}");
    let left: Vec<_> = children.iter().filter(|(p, _)| alive(*p)).collect();
    assert!(left.is_empty(), "orphans after a server died: {left:?}");
}
