//! Chapter 6: emit into a Socket.IO cluster from outside it, through Redis.
//!
//! `--format node` (the default) publishes what Node's
//! `@socket.io/redis-emitter` publishes: a msgpack broadcast on
//! `socket.io#<nsp>#` (or `socket.io#<nsp>#<room>#` for exactly one room),
//! which `@socket.io/redis-adapter` servers (and netladder's) deliver.
//! `--format python` publishes python-socketio's pub/sub JSON on the
//! `socketio` channel, for a python-socketio or Flask-SocketIO cluster
//! with a `RedisManager`.
//!
//! Prints the channel and how many subscribers Redis handed it to. Exit
//! status 2 when Redis could not be reached or refused the command, 1 for
//! bad arguments.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use netladder::socketio::Value;
use netladder::socketio::redis::Publisher;
use netladder::socketio::redis::emitter::{self, Emitter, PYTHON_CHANNEL, Publish, PythonEmit};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// @socket.io/redis-emitter's msgpack, for @socket.io/redis-adapter.
    Node,
    /// python-socketio's pub/sub JSON, for its RedisManager.
    Python,
}

#[derive(Parser)]
#[command(about = "Chapter 6: emit an event into a Socket.IO cluster through Redis")]
struct Args {
    /// The Redis server, like redis://127.0.0.1:6379
    #[arg(long)]
    redis: String,
    /// The namespace.
    #[arg(long, default_value = "/")]
    namespace: String,
    /// A room to emit to (repeatable; none: the whole namespace).
    #[arg(long = "room")]
    rooms: Vec<String>,
    /// A room to leave out (repeatable; node format only).
    #[arg(long = "except")]
    except: Vec<String>,
    /// Whose wire format to publish.
    #[arg(long, value_enum, default_value = "node")]
    format: Format,
    /// The channel for --format python.
    #[arg(long, default_value = PYTHON_CHANNEL)]
    python_channel: String,
    /// The event's name.
    event: String,
    /// Its argument, as JSON (one argument: `'{"a":1}'`, `'"text"'`).
    json: String,
}

fn message(args: &Args) -> Result<Publish, String> {
    let data: serde_json::Value =
        serde_json::from_str(&args.json).map_err(|e| format!("the JSON argument: {e}"))?;
    let value = Value::from(data);
    match args.format {
        Format::Node => {
            let mut e = Emitter::new(&args.namespace);
            for room in &args.rooms {
                e = e.to(room);
            }
            for room in &args.except {
                e = e.except(room);
            }
            e.emit(&args.event, vec![value]).map_err(|e| e.to_string())
        }
        Format::Python => {
            if !args.except.is_empty() {
                return Err("--except: python-socketio's format has no except list".into());
            }
            let host_id = emitter::random_host_id().map_err(|e| format!("no randomness: {e}"))?;
            Ok(PythonEmit {
                event: args.event.clone(),
                args: vec![value],
                namespace: args.namespace.clone(),
                rooms: args.rooms.clone(),
                skip_sid: None,
                host_id,
            }
            .publish(&args.python_channel))
        }
    }
}

fn publish(url: &str, p: &Publish) -> redis::RedisResult<i64> {
    // A blocked Redis makes the command fail after 5 s, not this process hang.
    Publisher::connect(url, Duration::from_secs(5))?.publish(p)
}

fn main() -> ExitCode {
    netladder::cli::init_logging();
    let args = Args::parse();
    let p = match message(&args) {
        Ok(p) => p,
        Err(err) => {
            eprintln!("ch06-emit: {err}");
            return ExitCode::FAILURE;
        }
    };
    match publish(&args.redis, &p) {
        Ok(receivers) => {
            println!("published to {} ({receivers} subscribers)", p.channel);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("ch06-emit: {}: {err}", args.redis);
            ExitCode::from(2)
        }
    }
}
