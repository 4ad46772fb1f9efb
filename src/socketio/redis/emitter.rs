//! An emitter: what a process that is not a Socket.IO server (a cron job,
//! a worker) publishes to reach a cluster's clients. Sans-IO: it makes
//! [`Publish`] values (a channel and bytes); the caller sends them with
//! `PUBLISH` (the `ch06-emit` binary uses redis-rs).
//!
//! Two formats: Node's `@socket.io/redis-emitter` (msgpack broadcasts and
//! JSON requests, read by `@socket.io/redis-adapter` and by ours), and
//! python-socketio's pub/sub managers' (JSON on the `socketio` channel).

use super::channels::Channels;
use super::wire::{BroadcastMessage, Flags, Request, Selection, WireOpts, WirePacket};
use crate::socketio::Value;
use crate::socketio::packet::RESERVED_EVENTS;

/// The uid Node's emitter puts in its broadcasts: no server has it, so
/// every server delivers them.
pub const EMITTER_UID: &str = "emitter";

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// The channel.
    pub channel: String,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// Why an emit was refused before anything was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmitError {
    /// `connect`, `disconnect`, ...: names the protocol keeps (Node's
    /// emitter throws on them too).
    ReservedEvent(String),
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmitError::ReservedEvent(e) => write!(f, "\"{e}\" is a reserved event name"),
        }
    }
}

impl std::error::Error for EmitError {}

// ANCHOR: emitter
/// Node's emitter: `new Emitter(redis).of(nsp).to(room).emit(ev, ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitter {
    channels: Channels,
    nsp: String,
    rooms: Vec<String>,
    except: Vec<String>,
    flags: Flags,
}

impl Emitter {
    /// An emitter for namespace `nsp` under the default key `socket.io`.
    pub fn new(nsp: &str) -> Emitter {
        Emitter::with_prefix(Channels::DEFAULT_PREFIX, nsp)
    }

    /// An emitter under another key prefix (the adapters' `key` option).
    pub fn with_prefix(prefix: &str, nsp: &str) -> Emitter {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        Emitter {
            channels: Channels::new(prefix, &nsp),
            nsp,
            rooms: Vec::new(),
            except: Vec::new(),
            flags: Flags::default(),
        }
    }

    /// Target `room` too (`to`/`in`; a union, each room once).
    pub fn to(mut self, room: &str) -> Emitter {
        if !self.rooms.iter().any(|r| r == room) {
            self.rooms.push(room.to_owned());
        }
        self
    }

    /// Leave out the sockets in `room`.
    pub fn except(mut self, room: &str) -> Emitter {
        if !self.except.iter().any(|r| r == room) {
            self.except.push(room.to_owned());
        }
        self
    }

    /// `.volatile`.
    pub fn volatile(mut self) -> Emitter {
        self.flags.volatile = Some(true);
        self
    }

    /// `.compress(bool)`.
    pub fn compress(mut self, compress: bool) -> Emitter {
        self.flags.compress = Some(compress);
        self
    }

    fn selection(&self) -> Selection {
        Selection {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
        }
    }

    /// `emit(event, ...args)`: one msgpack broadcast, on the room's
    /// channel when exactly one room is targeted.
    pub fn emit(&self, event: &str, args: Vec<Value>) -> Result<Publish, EmitError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        let msg = BroadcastMessage {
            uid: EMITTER_UID.to_owned(),
            packet: WirePacket::event(&self.nsp, event, args),
            opts: WireOpts {
                rooms: self.rooms.clone(),
                except: self.except.clone(),
                flags: self.flags.clone(),
            },
        };
        Ok(Publish {
            channel: self
                .channels
                .for_rooms(self.rooms.iter().map(String::as_str)),
            payload: msg.encode_as_emitter(),
        })
    }

    fn request(&self, request: Request) -> Publish {
        Publish {
            channel: self.channels.request(),
            payload: request.encode(),
        }
    }

    /// `socketsJoin(rooms)`: the selected sockets, on every server, join.
    pub fn sockets_join(&self, rooms: &[&str]) -> Publish {
        let rooms = rooms.iter().map(|r| r.to_string()).collect();
        self.request(Request::sockets_join(None, &self.selection(), rooms))
    }

    /// `socketsLeave(rooms)`.
    pub fn sockets_leave(&self, rooms: &[&str]) -> Publish {
        let rooms = rooms.iter().map(|r| r.to_string()).collect();
        self.request(Request::sockets_leave(None, &self.selection(), rooms))
    }

    /// `disconnectSockets(close)`.
    pub fn disconnect_sockets(&self, close: bool) -> Publish {
        self.request(Request::disconnect_sockets(None, &self.selection(), close))
    }

    /// `serverSideEmit(event, ...args)`: to the servers themselves, no
    /// acks (Node's emitter refuses them: nobody would collect them).
    pub fn server_side_emit(&self, event: &str, args: Vec<Value>) -> Publish {
        let mut data = vec![Value::from(event)];
        data.extend(args);
        self.request(Request::server_side_emit(EMITTER_UID, None, data))
    }
}
// ANCHOR_END: emitter

/// The channel python-socketio's managers use by default.
pub const PYTHON_CHANNEL: &str = "socketio";

// ANCHOR: python
/// An emit in python-socketio's pub/sub format (`PubSubManager.emit`): one
/// JSON object on the `socketio` channel, read by `RedisManager`,
/// `KombuManager` and the others. Never pickle: that format is code
/// execution for anyone who can publish to Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonEmit {
    /// The event.
    pub event: String,
    /// The arguments (python-socketio sends a list; one argument reaches
    /// the handler as itself, several as a tuple).
    pub args: Vec<Value>,
    /// The namespace.
    pub namespace: String,
    /// The rooms (none: the whole namespace).
    pub rooms: Vec<String>,
    /// A socket id to leave out.
    pub skip_sid: Option<String>,
    /// The sender's id: servers ignore messages with their own.
    pub host_id: String,
}

impl PythonEmit {
    /// The JSON bytes, as python's `json.dumps` writes them (`", "` and
    /// `": "` separators, non-ASCII escaped), keys in python-socketio's
    /// order.
    pub fn encode(&self) -> Vec<u8> {
        use crate::socketio::packet::deconstruct;
        let args = Value::Array(self.args.clone());
        let binary = args.has_binary();
        let data = if binary {
            // [data with placeholders, base64 of each attachment...]
            use base64::Engine as _;
            let mut attachments = Vec::new();
            let json = deconstruct(&args, &mut attachments);
            let mut list = vec![json];
            for a in attachments {
                list.push(base64::engine::general_purpose::STANDARD.encode(a).into());
            }
            serde_json::Value::Array(list)
        } else {
            args.to_json()
        };
        let room = match self.rooms.as_slice() {
            [] => serde_json::Value::Null,
            [one] => one.as_str().into(),
            many => serde_json::Value::Array(many.iter().map(|r| r.as_str().into()).collect()),
        };
        let message = PythonMessage {
            method: "emit",
            event: &self.event,
            data,
            binary,
            namespace: &self.namespace,
            room,
            skip_sid: self.skip_sid.as_deref(),
            callback: None,
            host_id: &self.host_id,
        };
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
        serde::Serialize::serialize(&message, &mut ser).expect("JSON into a Vec cannot fail");
        out
    }

    /// As a message to publish on `channel` (`socketio` by default).
    pub fn publish(&self, channel: &str) -> Publish {
        Publish {
            channel: channel.to_owned(),
            payload: self.encode(),
        }
    }
}

#[derive(serde::Serialize)]
struct PythonMessage<'a> {
    method: &'a str,
    event: &'a str,
    data: serde_json::Value,
    binary: bool,
    namespace: &'a str,
    room: serde_json::Value,
    skip_sid: Option<&'a str>,
    callback: Option<()>,
    host_id: &'a str,
}
// ANCHOR_END: python

/// python's `json.dumps` defaults: `", "`, `": "`, and `ensure_ascii`.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// A fresh python-style host id: 32 lowercase hex digits (a uuid4's hex).
pub fn random_host_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
