//! Chapter 5b: netladder's Socket.IO client from the command line, against
//! any Socket.IO v5 server (ch05-sio-server, Node's `socket.io`...).
//!
//! ```text
//! ch05-sio-client --url http://127.0.0.1:7005 --namespace /chat \
//!     --auth '{"token":"t"}' --emit chat '"hello"' --ack --listen
//! ```
//!
//! It prints what it receives as JSON lines on stdout, one object each:
//! `{"type":"connect","nsp":"/chat","sid":"…","recovered":false}`,
//! `{"type":"event","nsp":"/chat","event":"chat","args":[…]}` (with
//! `"ack_id"` when the server wants an answer), `{"type":"ack",…}` for the
//! answer to an `--ack` emit, `{"type":"disconnect","reason":"…"}`,
//! `{"type":"reconnecting","attempt":1,"delay_ms":…}`. Binary anywhere in
//! an argument prints as `{"$binary":"<base64>"}`, and the same form in
//! `--emit`'s JSON sends binary.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Parser, ValueEnum};
use netladder::engineio::client::Transports;
use netladder::socketio::Value;
use netladder::socketio::blocking::ClientBuilder;
use netladder::socketio::client::ClientEvent;
use serde_json::json;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, ValueEnum)]
enum Transport {
    /// Polling, then the upgrade to a WebSocket.
    Default,
    /// Polling only.
    Polling,
    /// A WebSocket only.
    Websocket,
}

#[derive(Parser)]
#[command(about = "Chapter 5b: a Socket.IO v5 client; prints what it receives as JSON lines")]
struct Args {
    /// The server: http://HOST:PORT[/path] (path /socket.io/ by default).
    #[arg(long, default_value = "http://127.0.0.1:7005")]
    url: String,
    /// The namespace to join.
    #[arg(long, default_value = "/")]
    namespace: String,
    /// Emit EVENT with JSON (an array is several arguments); repeatable.
    #[arg(long, num_args = 2, value_names = ["EVENT", "JSON"], action = clap::ArgAction::Append)]
    emit: Vec<String>,
    /// Ask for an ack on every --emit and print the answer.
    #[arg(long)]
    ack: bool,
    /// Keep printing received events (until --duration, or for ever).
    #[arg(long)]
    listen: bool,
    /// The CONNECT's auth object, as JSON.
    #[arg(long)]
    auth: Option<String>,
    /// Which transports to use.
    #[arg(long, value_enum, default_value_t = Transport::Default)]
    transport: Transport,
    /// Seconds to listen (with --listen).
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds to wait for the connection and for each ack.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Do not reconnect when the connection is lost.
    #[arg(long)]
    no_reconnect: bool,
}

/// JSON into a [`Value`], `{"$binary":"<base64>"}` becoming bytes.
fn from_json(json: serde_json::Value) -> Result<Value, String> {
    use serde_json::Value as J;
    Ok(match json {
        J::Object(map) if map.len() == 1 && map.contains_key("$binary") => {
            let b64 = map["$binary"].as_str().ok_or("$binary takes a string")?;
            Value::Binary(STANDARD.decode(b64).map_err(|e| format!("$binary: {e}"))?)
        }
        J::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Ok((k, from_json(v)?)))
                .collect::<Result<BTreeMap<_, _>, String>>()?,
        ),
        J::Array(items) => {
            Value::Array(items.into_iter().map(from_json).collect::<Result<_, _>>()?)
        }
        other => Value::from(other),
    })
}

/// A [`Value`] as JSON, bytes as `{"$binary":"<base64>"}`.
fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Binary(bytes) => json!({ "$binary": STANDARD.encode(bytes) }),
        Value::Array(items) => items.iter().map(to_json).collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
        other => other.to_json(),
    }
}

fn args_json(args: &[Value]) -> serde_json::Value {
    args.iter().map(to_json).collect()
}

fn line(event: &ClientEvent) -> serde_json::Value {
    match event {
        ClientEvent::Connect {
            nsp,
            sid,
            recovered,
        } => json!({"type": "connect", "nsp": nsp, "sid": sid, "recovered": recovered}),
        ClientEvent::ConnectError { nsp, message, data } => json!({
            "type": "connect_error", "nsp": nsp, "message": message,
            "data": data.as_ref().map(to_json),
        }),
        ClientEvent::Event {
            nsp,
            name,
            args,
            ack,
        } => {
            let mut v =
                json!({"type": "event", "nsp": nsp, "event": name, "args": args_json(args)});
            if let Some(id) = ack {
                v["ack_id"] = json!(id);
            }
            v
        }
        ClientEvent::Ack { nsp, id, args } => {
            json!({"type": "ack", "nsp": nsp, "id": id, "args": args_json(args)})
        }
        ClientEvent::AckTimeout { nsp, id } => {
            json!({"type": "ack_timeout", "nsp": nsp, "id": id})
        }
        ClientEvent::Disconnect { nsp, reason } => {
            json!({"type": "disconnect", "nsp": nsp, "reason": reason.as_str()})
        }
        ClientEvent::Reconnecting { attempt, delay } => json!({
            "type": "reconnecting", "attempt": attempt, "delay_ms": delay.as_millis() as u64,
        }),
        ClientEvent::Reconnected { attempts } => {
            json!({"type": "reconnected", "attempts": attempts})
        }
        ClientEvent::ReconnectFailed => json!({"type": "reconnect_failed"}),
    }
}

fn seconds(s: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("{what} must be a number of seconds"))
}

fn run(args: &Args) -> Result<(), String> {
    let timeout = seconds(args.timeout, "--timeout")?;
    let mut emits = Vec::new();
    for pair in args.emit.chunks(2) {
        let [name, text] = pair else {
            return Err("--emit takes EVENT and JSON".into());
        };
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("--emit {name}: bad JSON: {e}"))?;
        let values = match from_json(json)? {
            Value::Array(items) => items,
            one => vec![one],
        };
        emits.push((name.clone(), values));
    }
    let mut builder = ClientBuilder::new(&args.url)
        .map_err(|e| e.to_string())?
        .namespace(&args.namespace)
        .transports(match args.transport {
            Transport::Default => Transports::PollingThenUpgrade,
            Transport::Polling => Transports::PollingOnly,
            Transport::Websocket => Transports::WebSocketOnly,
        })
        .reconnection(!args.no_reconnect)
        .connect_timeout(timeout);
    if let Some(auth) = &args.auth {
        let json: serde_json::Value =
            serde_json::from_str(auth).map_err(|e| format!("--auth: bad JSON: {e}"))?;
        builder = builder.auth(from_json(json)?);
    }
    let mut client = match builder.connect() {
        Ok(client) => client,
        Err(netladder::socketio::blocking::Error::Refused { message, data }) => {
            println!(
                "{}",
                line(&ClientEvent::ConnectError {
                    nsp: args.namespace.clone(),
                    message: message.clone(),
                    data,
                })
            );
            return Err(format!("refused: {message}"));
        }
        Err(e) => return Err(e.to_string()),
    };
    println!(
        "{}",
        json!({"type": "connect", "nsp": args.namespace, "sid": client.sid(),
               "recovered": client.recovered()})
    );
    let nsp = args.namespace.clone();
    let mut waiting = Vec::new();
    for (name, values) in emits {
        if args.ack {
            let id = client
                .emit_with_ack(&nsp, &name, values, Some(timeout))
                .map_err(|e| e.to_string())?;
            waiting.push(id);
        } else {
            client.emit(&name, values).map_err(|e| e.to_string())?;
        }
    }
    let listen_until = match (args.listen, args.duration) {
        (false, _) => None,
        (true, Some(d)) => Some(Instant::now() + seconds(d, "--duration")?),
        (true, None) => Some(Instant::now() + Duration::from_secs(u64::MAX / 4)),
    };
    let mut failed = false;
    loop {
        let now = Instant::now();
        let until = match listen_until {
            Some(at) => at,
            None if waiting.is_empty() => break,
            None => now + timeout,
        };
        if now >= until {
            break;
        }
        let Some(event) = client.next_event(until - now) else {
            if listen_until.is_none() {
                failed = true;
                break;
            }
            continue;
        };
        println!("{}", line(&event));
        match event {
            ClientEvent::Ack { id, .. } => waiting.retain(|w| *w != id),
            ClientEvent::AckTimeout { id, .. } => {
                waiting.retain(|w| *w != id);
                failed = true;
            }
            ClientEvent::ReconnectFailed => return Err("gave up reconnecting".into()),
            ClientEvent::Disconnect { .. } if args.no_reconnect => break,
            _ => {}
        }
    }
    client.close();
    // Let the goodbye reach the server before the process ends.
    let _ = client.next_event(Duration::from_millis(50));
    if failed {
        return Err("an ack did not come in time".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    netladder::cli::init_logging_or("warn");
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ch05-sio-client: {e}");
            ExitCode::FAILURE
        }
    }
}
