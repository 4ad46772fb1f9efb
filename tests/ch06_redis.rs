//! Chapter 6 against a real Redis: `ch06-emit` publishes the exact bytes
//! of Node's `@socket.io/redis-emitter` (and python-socketio's JSON) on the
//! right channel. Each test starts its own `redis-server` on a free
//! loopback port and stops it; without `redis-server` (Debian package
//! redis-server) the tests say so and pass as skipped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netladder::socketio::redis::BroadcastMessage;

/// A `redis-server` of our own, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// `None` (after saying why) when redis-server is not installed.
    fn start() -> Option<Redis> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!(
                "SKIPPED: redis-server is not installed (apt-get install redis-server; \
                 scripts/test-all installs it when run as root)"
            );
            return None;
        }
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "yes",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                if let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                    && let Ok(mut con) = client.get_connection()
                    && redis::cmd("PING").query::<String>(&mut con).is_ok()
                {
                    return Some(Redis { child, port });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start on any of 5 ports");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs ch06-emit with `args` while subscribed to `pattern`, and returns
/// every (channel, payload) Redis delivered.
fn emit_and_capture(redis: &Redis, pattern: &str, args: &[&str]) -> Vec<(String, Vec<u8>)> {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut sub = con.as_pubsub();
    sub.psubscribe(pattern).unwrap();
    sub.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ch06-emit"))
        .arg("--redis")
        .arg(redis.url())
        .args(args)
        .output()
        .expect("ch06-emit runs");
    assert!(
        out.status.success(),
        "ch06-emit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(1 subscribers)"), "{stdout}");
    let mut got = Vec::new();
    // Bounded: stop at the first quiet half second.
    while let Ok(msg) = sub.get_message() {
        got.push((
            msg.get_channel_name().to_owned(),
            msg.get_payload_bytes().to_vec(),
        ));
    }
    got
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn node_format_is_byte_for_byte_what_nodes_emitter_publishes() {
    let Some(redis) = Redis::start() else { return };
    let got = emit_and_capture(&redis, "socket.io*", &["--room", "r", "news", r#"{"a":1}"#]);
    // Printed by tests/node/redis_vectors.cjs: Node's emitter's
    // `emitter.to("r").emit("news", {a: 1})`.
    let node = unhex(
        "93a7656d697474657283a47479706502a46461746192a46e65777381a16101a36e7370a12f83a5726f6f6d7391a172a5666c61677380a665786365707490",
    );
    assert_eq!(got, vec![("socket.io#/#r#".to_owned(), node)]);
}

#[test]
fn node_format_with_rooms_except_and_a_namespace() {
    let Some(redis) = Redis::start() else { return };
    let args = [
        "--namespace",
        "/admin",
        "--room",
        "a",
        "--room",
        "b",
        "--except",
        "c",
        "tick",
        "[1,2.5,\"x\"]",
    ];
    let got = emit_and_capture(&redis, "socket.io*", &args);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].0, "socket.io#/admin#",
        "two rooms: the namespace's channel"
    );
    let msg = BroadcastMessage::decode(&got[0].1).unwrap();
    assert_eq!(msg.uid, "emitter");
    assert_eq!(msg.packet.nsp, "/admin");
    assert_eq!(msg.opts.rooms, ["a", "b"]);
    assert_eq!(msg.opts.except, ["c"]);
    let data = msg.packet.data.unwrap().to_json();
    assert_eq!(data, serde_json::json!(["tick", [1, 2.5, "x"]]));
}

#[test]
fn python_format_is_python_socketios_json_on_the_socketio_channel() {
    let Some(redis) = Redis::start() else { return };
    let args = [
        "--format",
        "python",
        "--room",
        "lobby",
        "chat",
        r#"{"text":"hé"}"#,
    ];
    let got = emit_and_capture(&redis, "socketio", &args);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "socketio");
    let text = String::from_utf8(got[0].1.clone()).unwrap();
    let expected_start = r#"{"method": "emit", "event": "chat", "data": [{"text": "h\u00e9"}], "binary": false, "namespace": "/", "room": "lobby", "skip_sid": null, "callback": null, "host_id": ""#;
    assert!(text.starts_with(expected_start), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let host_id = json["host_id"].as_str().unwrap();
    assert_eq!(host_id.len(), 32);
}

#[test]
fn bad_input_and_an_unreachable_redis_are_clear_errors() {
    let emit = env!("CARGO_BIN_EXE_ch06-emit");
    let bad_json = Command::new(emit)
        .args(["--redis", "redis://127.0.0.1:1", "ev", "{nope"])
        .output()
        .unwrap();
    assert_eq!(bad_json.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_json.stderr).contains("the JSON argument"));
    let reserved = Command::new(emit)
        .args(["--redis", "redis://127.0.0.1:1", "connect", "1"])
        .output()
        .unwrap();
    assert_eq!(reserved.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&reserved.stderr).contains("reserved event name"));
    // Port 1 on loopback: nobody listens, the connection is refused.
    let down = Command::new(emit)
        .args(["--redis", "redis://127.0.0.1:1", "ev", "1"])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(2));
}
