//! Chapter 6 against a real Redis: `ch06-emit` publishes the exact bytes
//! of Node's `@socket.io/redis-emitter` (and python-socketio's JSON) on the
//! right channel. Each test starts its own `redis-server` on a free
//! loopback port and stops it; without `redis-server` (Debian package
//! redis-server) the tests say so and pass as skipped.

#[path = "support/cluster.rs"]
#[allow(dead_code)] // each test file uses its own subset
mod cluster;
#[path = "support/redis.rs"]
#[allow(dead_code)] // the restart helpers serve tests/ch06_cluster.rs
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use cluster::{Peer, node_peers};
use netladder::socketio::redis::BroadcastMessage;
use support::Redis;

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

#[test]
fn a_node_server_on_the_official_adapter_delivers_what_ch06_emit_publishes() {
    let Some(redis) = Redis::start() else { return };
    let Some(dir) = node_peers(&["@socket.io/redis-adapter", "socket.io-client"]) else {
        return;
    };
    let mut peer = Command::new("node");
    peer.arg(dir.join("redis_cluster_peer.mjs"))
        .arg(redis.url());
    // The adapter's PSUBSCRIBE socket.io#/#* is in place before we publish.
    let subscribed = |redis: &Redis| redis.numpat() >= 1;
    let args = ["--room", "r", "news", r#"{"a":[1,"é"]}"#];
    assert_eq!(
        peer_receives(peer, &redis, subscribed, &args),
        r#"got news [{"a":[1,"é"]}]"#
    );
}

/// The unit tests' vectors, re-printed live by Node's notepack.io: our
/// encoders give the same bytes as the Node code of the installed peers.
#[test]
fn our_encoders_match_vectors_printed_live_by_node() {
    use netladder::socketio::Value;
    use netladder::socketio::redis::{
        Flags, Request, RequestType, Response, Selection, WireOpts, WirePacket,
    };
    let Some(dir) = node_peers(&["@socket.io/redis-adapter", "socket.io-client"]) else {
        return;
    };
    let out = Command::new("node")
        .arg(dir.join("redis_vectors.cjs"))
        .current_dir(&dir)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let vector = |name: &str| -> Vec<u8> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no vector {name}"));
        if line.starts_with('{') {
            line.as_bytes().to_vec()
        } else {
            unhex(line)
        }
    };
    let json = |t: &str| Value::from(serde_json::from_str::<serde_json::Value>(t).unwrap());
    let strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let plain = BroadcastMessage {
        uid: "abc123".into(),
        packet: WirePacket::event("/", "chat", vec!["hello".into()]),
        opts: WireOpts {
            rooms: strings(&["room1"]),
            ..WireOpts::default()
        },
    };
    assert_eq!(plain.encode(), vector("adapter_plain"));
    let binary = BroadcastMessage {
        uid: "abc123".into(),
        packet: WirePacket::event(
            "/admin",
            "file",
            vec![Value::binary([1, 2, 3]), json(r#"{"f":1.5,"n":1,"x":-5}"#)],
        ),
        opts: WireOpts {
            rooms: strings(&["a", "b"]),
            except: strings(&["c"]),
            flags: Flags {
                volatile: Some(true),
                compress: Some(false),
                local: Some(true),
                timeout: Some(1000),
                ..Flags::default()
            },
        },
    };
    assert_eq!(binary.encode(), vector("adapter_binary"));
    let emitted = netladder::socketio::redis::Emitter::new("/")
        .to("r")
        .emit("news", vec![json(r#"{"a":1}"#)])
        .unwrap();
    assert_eq!(emitted.payload, vector("emitter"));
    let request = Request::broadcast(
        "abc123",
        "q1w2e3",
        WirePacket::event("/", "ping", vec![]),
        WireOpts {
            flags: Flags {
                timeout: Some(5000),
                ..Flags::default()
            },
            ..WireOpts::default()
        },
    );
    assert_eq!(request.encode(), vector("broadcast_request"));
    let ack = Response {
        kind: Some(RequestType::BroadcastAck as u8),
        request_id: "q1w2e3".into(),
        packet: Some(Value::Array(vec!["pong".into(), Value::binary([9])])),
        ..Response::default()
    };
    assert_eq!(ack.encode(), vector("broadcast_ack"));
    let sel = Selection {
        rooms: strings(&["a"]),
        except: strings(&["b"]),
    };
    assert_eq!(
        Request::sockets_join(Some("abc123"), &sel, strings(&["c", "d"])).encode(),
        vector("join")
    );
    let only_a = Selection {
        rooms: strings(&["a"]),
        except: vec![],
    };
    assert_eq!(
        Request::fetch_sockets("abc123", "q1w2e3", &only_a).encode(),
        vector("fetch")
    );
    assert_eq!(
        Request::disconnect_sockets(Some("abc123"), &only_a, true).encode(),
        vector("disconnect")
    );
    assert_eq!(
        Request::all_rooms("abc123", "q1w2e3").encode(),
        vector("all_rooms")
    );
}

/// Runs a peer script that prints `ready`, then `got ...` for the first
/// event its client receives; after `ready` and once `subscribed` says its
/// server listens on Redis, emits with ch06-emit `args` and returns the
/// `got` line.
fn peer_receives(
    peer: Command,
    redis: &Redis,
    subscribed: impl Fn(&Redis) -> bool,
    args: &[&str],
) -> String {
    let wait = Duration::from_secs(25);
    let mut peer = Peer::spawn(peer);
    peer.expect("ready", wait);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !subscribed(redis) {
        assert!(
            Instant::now() < deadline,
            "the peer's server never subscribed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ch06-emit"))
        .args(["--redis", &redis.url()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = peer.expect("got", wait);
    let status = peer.wait();
    assert!(status.success(), "the peer exited with {status}");
    got
}

#[test]
fn a_python_socketio_server_on_redis_manager_delivers_what_ch06_emit_publishes() {
    let Some(redis) = Redis::start() else { return };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import socketio, redis, requests"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        eprintln!(
            "SKIPPED: python-socketio is not in .venv (scripts/test-all installs \
             tests/python/requirements.txt there)"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: a check that CI sets up must not be skipped"
        );
        return;
    }
    let mut peer = Command::new(python);
    peer.arg(root.join("tests/python/redis_manager_peer.py"))
        .arg(redis.url());
    let args = [
        "--format",
        "python",
        "--room",
        "lobby",
        "chat",
        r#"{"text":"hé"}"#,
    ];
    // RedisManager SUBSCRIBEs to `socketio` (the peer waits for it too).
    let subscribed = |redis: &Redis| redis.numsub("socketio") >= 1;
    assert_eq!(
        peer_receives(peer, &redis, subscribed, &args),
        r#"got chat [{"text": "hé"}]"#
    );
}

#[test]
fn numsub_counts_the_servers_on_a_request_channel() {
    use netladder::socketio::redis::{Channels, Publisher};
    let Some(redis) = Redis::start() else { return };
    let request = Channels::new("socket.io", "/").request();
    let mut p = Publisher::connect(&redis.url(), Duration::from_secs(5)).unwrap();
    assert_eq!(p.numsub(&request).unwrap(), 0);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut a = client.get_connection().unwrap();
    let mut b = client.get_connection().unwrap();
    let mut sub_a = a.as_pubsub();
    sub_a.subscribe(&request).unwrap();
    let mut sub_b = b.as_pubsub();
    sub_b.subscribe(&request).unwrap();
    assert_eq!(p.numsub(&request).unwrap(), 2);
}
