//! The messages on the wire: broadcasts (msgpack) and requests/responses
//! (JSON, msgpack for a broadcast with acks), as Node's
//! `@socket.io/redis-adapter` v8 and `@socket.io/redis-emitter` write them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::socketio::Value;

/// Why a message from Redis was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Not msgpack of the expected shape.
    Msgpack(String),
    /// Not JSON of the expected shape.
    Json(String),
    /// A packet that cannot be delivered (or read back).
    Packet(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Msgpack(e) => write!(f, "malformed msgpack message: {e}"),
            WireError::Json(e) => write!(f, "malformed JSON message: {e}"),
            WireError::Packet(e) => write!(f, "unusable packet: {e}"),
        }
    }
}

impl std::error::Error for WireError {}

// ANCHOR: flags
/// A broadcast's flags, as Socket.IO's `BroadcastOperator` collects them.
/// An unset flag is left out of the map (notepack drops `undefined`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Flags {
    /// `.volatile`: may be dropped for a client that cannot take it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volatile: Option<bool>,
    /// `.compress(bool)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
    /// `.local`: this server only (never published, so never seen here
    /// from Node; kept for completeness).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<bool>,
    /// `.broadcast` (set by older Socket.IO versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<bool>,
    /// `.timeout(ms)`: a broadcast with acks waits this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// `emitWithAck` on a single socket's operator.
    #[serde(
        rename = "expectSingleResponse",
        skip_serializing_if = "Option::is_none"
    )]
    pub expect_single_response: Option<bool>,
}
// ANCHOR_END: flags

// ANCHOR: wire_packet
/// The packet object before Socket.IO's encoder: `{type, data, nsp, id?}`.
/// `type` stays 2 (EVENT) even with binary inside: only the text encoder
/// turns it into BINARY_EVENT; in msgpack a `Buffer` is just `bin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WirePacket {
    /// The packet type's number (2: EVENT, 3: ACK, ...).
    #[serde(rename = "type")]
    pub kind: u8,
    /// `[event, ...args]` for an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The namespace (a missing one means `/`, as Node reads it).
    #[serde(default = "root_nsp")]
    pub nsp: String,
    /// The ack id (broadcast packets carry none on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

fn root_nsp() -> String {
    "/".to_owned()
}

impl WirePacket {
    /// An EVENT packet `[name, ...args]` on `nsp`.
    pub fn event(nsp: &str, name: &str, args: Vec<Value>) -> WirePacket {
        let mut data = Vec::with_capacity(args.len() + 1);
        data.push(Value::from(name));
        data.extend(args);
        WirePacket {
            kind: 2,
            data: Some(Value::Array(data)),
            nsp: nsp.to_owned(),
            id: None,
        }
    }
}
// ANCHOR_END: wire_packet

/// `{rooms, except, flags}` of a broadcast.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WireOpts {
    /// Target these rooms (everyone when empty).
    pub rooms: Vec<String>,
    /// Leave out the sockets of these rooms.
    pub except: Vec<String>,
    /// The flags.
    pub flags: Flags,
}

/// The emitter writes its options in another key order than the adapter:
/// `{rooms, flags, except}`.
#[derive(Serialize)]
struct EmitterOpts<'a> {
    rooms: &'a [String],
    flags: &'a Flags,
    except: &'a [String],
}

// ANCHOR: broadcast
/// A broadcast between servers: msgpack `[uid, packet, opts]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastMessage {
    /// The publishing server's uid (`"emitter"` from an emitter).
    pub uid: String,
    /// The packet.
    pub packet: WirePacket,
    /// Who gets it.
    pub opts: WireOpts,
}

impl BroadcastMessage {
    /// The bytes a Node adapter publishes for this broadcast.
    pub fn encode(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(&(&self.uid, &self.packet, &self.opts))
            .expect("msgpack into a Vec cannot fail for these types")
    }

    /// The bytes Node's emitter publishes (its option keys in its order).
    pub fn encode_as_emitter(&self) -> Vec<u8> {
        let opts = EmitterOpts {
            rooms: &self.opts.rooms,
            flags: &self.opts.flags,
            except: &self.opts.except,
        };
        rmp_serde::to_vec_named(&(&self.uid, &self.packet, &opts))
            .expect("msgpack into a Vec cannot fail for these types")
    }

    /// Read a broadcast from Redis, from either writer.
    pub fn decode(bytes: &[u8]) -> Result<BroadcastMessage, WireError> {
        let (uid, packet, opts): (String, WirePacket, WireOpts) =
            rmp_serde::from_slice(bytes).map_err(|e| WireError::Msgpack(e.to_string()))?;
        Ok(BroadcastMessage { uid, packet, opts })
    }

    /// Read a broadcast meant for the server `own_uid` on namespace `nsp`:
    /// `Ok(None)` for its own messages and other namespaces' (Node ignores
    /// both too).
    pub fn decode_for(
        bytes: &[u8],
        own_uid: &str,
        nsp: &str,
    ) -> Result<Option<BroadcastMessage>, WireError> {
        let msg = BroadcastMessage::decode(bytes)?;
        Ok((msg.uid != own_uid && msg.packet.nsp == nsp).then_some(msg))
    }
}
// ANCHOR_END: broadcast

// ANCHOR: request_type
/// Node's `RequestType`: the `type` number of a request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// 0: the ids of the sockets in some rooms (older `allSockets`).
    Sockets = 0,
    /// 1: every room of every server.
    AllRooms = 1,
    /// 2: `socketsJoin`.
    RemoteJoin = 2,
    /// 3: `socketsLeave`.
    RemoteLeave = 3,
    /// 4: `disconnectSockets`.
    RemoteDisconnect = 4,
    /// 5: `fetchSockets`.
    RemoteFetch = 5,
    /// 6: `serverSideEmit` (and its acks' responses).
    ServerSideEmit = 6,
    /// 7: a broadcast with acks (msgpack).
    Broadcast = 7,
    /// 8: response: how many clients a server sent it to.
    BroadcastClientCount = 8,
    /// 9: response: one client's ack (msgpack).
    BroadcastAck = 9,
}
// ANCHOR_END: request_type

impl RequestType {
    /// The type for a number.
    pub fn from_number(n: u8) -> Option<RequestType> {
        use RequestType::*;
        [
            Sockets,
            AllRooms,
            RemoteJoin,
            RemoteLeave,
            RemoteDisconnect,
            RemoteFetch,
            ServerSideEmit,
            Broadcast,
            BroadcastClientCount,
            BroadcastAck,
        ]
        .get(n as usize)
        .copied()
    }
}

/// `{rooms, except}`: the selection of a server-side operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Selection {
    /// Sockets in any of these rooms (all when empty).
    pub rooms: Vec<String>,
    /// Minus those in any of these.
    pub except: Vec<String>,
}

// ANCHOR: request
/// A request on `socket.io-request#<nsp>#`. The field order is Node's (so
/// the JSON is byte for byte what Node writes); absent fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Request {
    /// The sender's uid (the emitter sends none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Set when answers are expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The [`RequestType`] number.
    #[serde(rename = "type")]
    pub kind: u8,
    /// BROADCAST: the packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<WirePacket>,
    /// The selection (with `flags` for BROADCAST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opts: Option<WireOpts>,
    /// REMOTE_JOIN / REMOTE_LEAVE: the rooms to join or leave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// REMOTE_DISCONNECT: close the whole connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close: Option<bool>,
    /// SERVER_SIDE_EMIT: `[event, ...args]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<Value>>,
    /// Older single-socket forms: the socket id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Older single-socket forms: the room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}
// ANCHOR_END: request

/// The selection as Node writes it in a request (`{rooms, except}`, no
/// flags).
#[derive(Serialize)]
struct RequestOpts<'a> {
    rooms: &'a [String],
    except: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    opts: Option<RequestOpts<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rooms: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a [Value]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
}

impl Request {
    /// The type, if Node knows it.
    pub fn request_type(&self) -> Option<RequestType> {
        RequestType::from_number(self.kind)
    }

    fn selection(uid: Option<&str>, kind: RequestType, sel: &Selection) -> Request {
        Request {
            uid: uid.map(str::to_owned),
            kind: kind as u8,
            opts: Some(WireOpts {
                rooms: sel.rooms.clone(),
                except: sel.except.clone(),
                flags: Flags::default(),
            }),
            ..Request::default()
        }
    }

    /// `socketsJoin(rooms)` on a selection (`uid` is `None` from an emitter).
    pub fn sockets_join(uid: Option<&str>, sel: &Selection, rooms: Vec<String>) -> Request {
        Request {
            rooms: Some(rooms),
            ..Request::selection(uid, RequestType::RemoteJoin, sel)
        }
    }

    /// `socketsLeave(rooms)` on a selection.
    pub fn sockets_leave(uid: Option<&str>, sel: &Selection, rooms: Vec<String>) -> Request {
        Request {
            rooms: Some(rooms),
            ..Request::selection(uid, RequestType::RemoteLeave, sel)
        }
    }

    /// `disconnectSockets(close)` on a selection.
    pub fn disconnect_sockets(uid: Option<&str>, sel: &Selection, close: bool) -> Request {
        Request {
            close: Some(close),
            ..Request::selection(uid, RequestType::RemoteDisconnect, sel)
        }
    }

    /// `fetchSockets()` on a selection: every server answers.
    pub fn fetch_sockets(uid: &str, request_id: &str, sel: &Selection) -> Request {
        Request {
            request_id: Some(request_id.to_owned()),
            ..Request::selection(Some(uid), RequestType::RemoteFetch, sel)
        }
    }

    /// `allRooms()`: every server answers with its rooms.
    pub fn all_rooms(uid: &str, request_id: &str) -> Request {
        Request {
            uid: Some(uid.to_owned()),
            request_id: Some(request_id.to_owned()),
            kind: RequestType::AllRooms as u8,
            ..Request::default()
        }
    }

    /// `serverSideEmit(event, ...args)`, with acks when `request_id` is set
    /// (the emitter sends `uid: "emitter"` and never asks for acks).
    pub fn server_side_emit(uid: &str, request_id: Option<&str>, data: Vec<Value>) -> Request {
        Request {
            uid: Some(uid.to_owned()),
            request_id: request_id.map(str::to_owned),
            kind: RequestType::ServerSideEmit as u8,
            data: Some(data),
            ..Request::default()
        }
    }

    /// A broadcast with acks: each server sends the packet to its clients
    /// and answers with a count, then with each ack.
    pub fn broadcast(uid: &str, request_id: &str, packet: WirePacket, opts: WireOpts) -> Request {
        Request {
            uid: Some(uid.to_owned()),
            request_id: Some(request_id.to_owned()),
            kind: RequestType::Broadcast as u8,
            packet: Some(packet),
            opts: Some(opts),
            ..Request::default()
        }
    }

    /// The bytes Node publishes: msgpack for BROADCAST (the packet may hold
    /// binary), JSON with Node's key order for every other type.
    pub fn encode(&self) -> Vec<u8> {
        if self.kind == RequestType::Broadcast as u8 {
            return rmp_serde::to_vec_named(self)
                .expect("msgpack into a Vec cannot fail for these types");
        }
        let json = RequestJson {
            uid: self.uid.as_deref(),
            request_id: self.request_id.as_deref(),
            kind: self.kind,
            opts: self.opts.as_ref().map(|o| RequestOpts {
                rooms: &o.rooms,
                except: &o.except,
            }),
            rooms: self.rooms.as_deref(),
            close: self.close,
            data: self.data.as_deref(),
            sid: self.sid.as_deref(),
            room: self.room.as_deref(),
        };
        serde_json::to_vec(&json).expect("JSON into a Vec cannot fail for these types")
    }

    /// Read a request: JSON when it starts with `{`, msgpack otherwise (the
    /// rule Node applies).
    pub fn decode(bytes: &[u8]) -> Result<Request, WireError> {
        decode_either(bytes)
    }
}

fn decode_either<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    if bytes.first() == Some(&b'{') {
        serde_json::from_slice(bytes).map_err(|e| WireError::Json(e.to_string()))
    } else {
        rmp_serde::from_slice(bytes).map_err(|e| WireError::Msgpack(e.to_string()))
    }
}

// ANCHOR: response
/// A response on `socket.io-response#<nsp>#` (or the requester's own
/// channel). Node's responses carry no responder uid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Response {
    /// Set on SERVER_SIDE_EMIT, BROADCAST_CLIENT_COUNT, BROADCAST_ACK.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<u8>,
    /// The request answered.
    pub request_id: String,
    /// SOCKETS: ids; REMOTE_FETCH: `{id, handshake, rooms, data}` objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockets: Option<Vec<Value>>,
    /// ALL_ROOMS: this server's rooms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// BROADCAST_CLIENT_COUNT: how many clients this server sent it to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_count: Option<u64>,
    /// SERVER_SIDE_EMIT: the ack's one argument.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// BROADCAST_ACK: the client's ack arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<Value>,
    /// The responder's uid: Node's adapter sends none; netladder's adds it
    /// (Node ignores the extra key), so a request's report can name the
    /// netladder servers that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}
// ANCHOR_END: response

impl Response {
    /// The bytes Node publishes: msgpack for BROADCAST_ACK, JSON otherwise.
    pub fn encode(&self) -> Vec<u8> {
        if self.kind == Some(RequestType::BroadcastAck as u8) {
            rmp_serde::to_vec_named(self).expect("msgpack into a Vec cannot fail for these types")
        } else {
            serde_json::to_vec(self).expect("JSON into a Vec cannot fail for these types")
        }
    }

    /// Read a response: JSON when it starts with `{`, msgpack otherwise.
    pub fn decode(bytes: &[u8]) -> Result<Response, WireError> {
        decode_either(bytes)
    }
}

/// A socket as a REMOTE_FETCH response describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: String,
    /// Its handshake (headers, address, query, auth, ...), as sent.
    pub handshake: Value,
    /// Its rooms.
    pub rooms: Vec<String>,
    /// `socket.data`.
    pub data: Value,
}

impl RemoteSocket {
    /// The JSON object Node sends.
    pub fn to_value(&self) -> Value {
        Value::Object(BTreeMap::from([
            ("id".to_owned(), Value::from(self.id.as_str())),
            ("handshake".to_owned(), self.handshake.clone()),
            (
                "rooms".to_owned(),
                Value::Array(self.rooms.iter().map(|r| Value::from(r.as_str())).collect()),
            ),
            ("data".to_owned(), self.data.clone()),
        ]))
    }

    /// Read one from a response's `sockets` entry.
    pub fn from_value(v: &Value) -> Option<RemoteSocket> {
        let Value::Object(map) = v else { return None };
        let rooms = match map.get("rooms") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|r| r.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?,
            _ => Vec::new(),
        };
        Some(RemoteSocket {
            id: map.get("id")?.as_str()?.to_owned(),
            handshake: map.get("handshake").cloned().unwrap_or_default(),
            rooms,
            data: map.get("data").cloned().unwrap_or_default(),
        })
    }
}
