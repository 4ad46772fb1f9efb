//! The Redis adapters' messages (`netladder::socketio::redis`): what another
//! server (or anyone who can publish on the channels) puts on the wire.
//!
//! The first byte picks the decoder, the rest is the message. The classic
//! adapter's: 0 `BroadcastMessage` (msgpack `[uid, packet, opts]`),
//! 1 `Request` and 2 `Response` (JSON when it starts with `{`, msgpack
//! otherwise). The sharded adapter's `ClusterMessage` (the same rule for
//! JSON and msgpack), with each data part it reads: 3 `BroadcastData`
//! (BROADCAST, with a `requestId` when acks are wanted), 4 any value,
//! 5 `OpData` (socketsJoin, socketsLeave, disconnectSockets),
//! 6 `FetchSocketsData`, 7 `ServerSideEmitData`, 8 `ResponseData` (the
//! answers: FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT_RESPONSE,
//! BROADCAST_CLIENT_COUNT, BROADCAST_ACK); and 9 the sharded adapter's own
//! path: `Head` first, then the data part its type calls for, as
//! `ShardedAdapter::on_message` reads it.
//!
//! - no input panics: every refusal is a typed `WireError`;
//! - what a decoded message holds converts as the adapters use it: a
//!   broadcast's packet and options for local delivery (`to_packet`,
//!   `to_options`, or refused with an error), the selection of an
//!   operation or a fetch, and each socket of a fetch answer
//!   (`RemoteSocket::from_value`), which reads back unchanged from its own
//!   description;
//! - where a cluster message decodes whole and its `Head` decodes too, they
//!   agree on type, uid and namespace (the adapter dispatches on the head);
//! - decode(encode(x)) == x in its normal form, for every message that
//!   decodes, and the encoding is stable (encode(decode(encode(x))) ==
//!   encode(x)). The normal form is what Node's encodings make of a value
//!   too (`normal` below): a float with an integral value within ±2^53 is
//!   an integer (JavaScript has one number type: `1.0` comes back as `1`),
//!   and where the message goes out as JSON, binary is an array of its
//!   bytes (as Node's `JSON.stringify` of a `Buffer` would not read back
//!   either). The message goes out as msgpack for a broadcast (classic), a
//!   request of type BROADCAST, a response of type BROADCAST_ACK, and a
//!   cluster message of a type that may carry binary (3, 8, 9, 10, 12)
//!   with binary inside; as JSON otherwise. A request other than
//!   BROADCAST goes out as JSON in Node's shape, which has no flags in its
//!   selection and no packet: for those, x without them;
//! - nothing allocates over 2 MiB at once (`scripts/fuzz`), whatever
//!   lengths a msgpack header claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netladder::socketio::Value;
use netladder::socketio::redis::cluster::{
    BroadcastData, ClusterMessage, FetchSocketsData, Head, MayHoldBinary, MessageType, OpData,
    ResponseData, ServerSideEmitData,
};
use netladder::socketio::redis::{
    BroadcastMessage, RemoteSocket, Request, RequestType, Response, WirePacket,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// A message in the normal form of its encoding (JSON when `json`).
trait Normal {
    fn normal(&self, json: bool) -> Self;
}

impl Normal for Value {
    fn normal(&self, json: bool) -> Value {
        match self {
            Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                    Value::from(f as i64)
                } else {
                    self.clone()
                }
            }
            Value::Binary(bytes) if json => {
                Value::Array(bytes.iter().map(|&b| Value::from(u64::from(b))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| v.normal(json)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.normal(json)))
                    .collect(),
            ),
            _ => self.clone(),
        }
    }
}

impl<T: Normal> Normal for Option<T> {
    fn normal(&self, json: bool) -> Option<T> {
        self.as_ref().map(|v| v.normal(json))
    }
}

impl<T: Normal> Normal for Vec<T> {
    fn normal(&self, json: bool) -> Vec<T> {
        self.iter().map(|v| v.normal(json)).collect()
    }
}

// Every field is named (no `..`): a new field must be thought about here.
impl Normal for WirePacket {
    fn normal(&self, json: bool) -> WirePacket {
        WirePacket {
            kind: self.kind,
            data: self.data.normal(json),
            nsp: self.nsp.clone(),
            id: self.id,
        }
    }
}

impl Normal for BroadcastMessage {
    fn normal(&self, json: bool) -> BroadcastMessage {
        BroadcastMessage {
            uid: self.uid.clone(),
            packet: self.packet.normal(json),
            opts: self.opts.clone(),
        }
    }
}

impl Normal for Request {
    fn normal(&self, json: bool) -> Request {
        Request {
            uid: self.uid.clone(),
            request_id: self.request_id.clone(),
            kind: self.kind,
            packet: self.packet.normal(json),
            opts: self.opts.clone(),
            rooms: self.rooms.clone(),
            close: self.close,
            data: self.data.normal(json),
            sid: self.sid.clone(),
            room: self.room.clone(),
        }
    }
}

impl Normal for Response {
    fn normal(&self, json: bool) -> Response {
        Response {
            kind: self.kind,
            request_id: self.request_id.clone(),
            sockets: self.sockets.normal(json),
            rooms: self.rooms.clone(),
            client_count: self.client_count,
            data: self.data.normal(json),
            packet: self.packet.normal(json),
            uid: self.uid.clone(),
        }
    }
}

impl<D: Normal> Normal for ClusterMessage<D> {
    fn normal(&self, json: bool) -> ClusterMessage<D> {
        ClusterMessage {
            kind: self.kind,
            data: self.data.normal(json),
            uid: self.uid.clone(),
            nsp: self.nsp.clone(),
        }
    }
}

impl Normal for BroadcastData {
    fn normal(&self, json: bool) -> BroadcastData {
        BroadcastData {
            packet: self.packet.normal(json),
            request_id: self.request_id.clone(),
            opts: self.opts.clone(),
        }
    }
}

impl Normal for OpData {
    fn normal(&self, _json: bool) -> OpData {
        OpData {
            opts: self.opts.clone(),
            rooms: self.rooms.clone(),
            close: self.close,
        }
    }
}

impl Normal for FetchSocketsData {
    fn normal(&self, _json: bool) -> FetchSocketsData {
        FetchSocketsData {
            opts: self.opts.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

impl Normal for ServerSideEmitData {
    fn normal(&self, json: bool) -> ServerSideEmitData {
        ServerSideEmitData {
            request_id: self.request_id.clone(),
            packet: self.packet.normal(json),
        }
    }
}

impl Normal for ResponseData {
    fn normal(&self, json: bool) -> ResponseData {
        ResponseData {
            request_id: self.request_id.clone(),
            sockets: self.sockets.normal(json),
            packet: self.packet.normal(json),
            client_count: self.client_count,
        }
    }
}

/// Checks the round trip of `message` through `encode`, which must write
/// JSON when `json` (msgpack otherwise): `decode` reads back the message
/// in that encoding's normal form, and encoding that gives the same bytes.
fn round_trip<M: Normal + PartialEq + Debug>(
    message: &M,
    encode: impl Fn(&M) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Option<M>,
    json: bool,
) {
    let bytes = encode(message);
    assert_eq!(bytes.first() == Some(&b'{'), json, "JSON or msgpack");
    let back = decode(&bytes).expect("our own encoding decodes");
    assert_eq!(
        back,
        message.normal(json),
        "decode(encode(x)) is not x's normal form"
    );
    assert_eq!(encode(&back), bytes, "encoding is not stable");
}

/// A socket of a fetch answer as the adapters read it: when it reads, its
/// description (which this server would send) reads back the same.
fn use_socket(v: &Value) {
    if let Some(socket) = RemoteSocket::from_value(v) {
        assert_eq!(RemoteSocket::from_value(&socket.to_value()), Some(socket));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match selector % 10 {
        0 => {
            let Ok(message) = BroadcastMessage::decode(bytes) else {
                return;
            };
            // What the adapter reads: the same, or nothing (its own uid,
            // another namespace).
            let for_us = BroadcastMessage::decode_for(bytes, "fuzz", "/").expect("decodes again");
            assert_eq!(
                for_us.as_ref(),
                (message.uid != "fuzz" && message.packet.nsp == "/").then_some(&message)
            );
            let _ = message.packet.to_packet();
            let _ = message.opts.to_options();
            // msgpack both ways: binary survives.
            round_trip(
                &message,
                BroadcastMessage::encode,
                |b| BroadcastMessage::decode(b).ok(),
                false,
            );
            round_trip(
                &message,
                BroadcastMessage::encode_as_emitter,
                |b| BroadcastMessage::decode(b).ok(),
                false,
            );
        }
        1 => {
            let Ok(request) = Request::decode(bytes) else {
                return;
            };
            let _ = request.request_type();
            if let Some(packet) = &request.packet {
                let _ = packet.to_packet();
            }
            if let Some(opts) = &request.opts {
                let _ = opts.to_options();
            }
            if request.kind == RequestType::Broadcast as u8 {
                // msgpack, every field.
                round_trip(
                    &request,
                    Request::encode,
                    |b| Request::decode(b).ok(),
                    false,
                );
            } else {
                // JSON in Node's shape: the selection without flags, and
                // no packet (Node sends neither outside BROADCAST). So
                // what comes back is the request without them.
                let mut kept = request.clone();
                kept.packet = None;
                if let Some(opts) = kept.opts.as_mut() {
                    opts.flags = Default::default();
                }
                assert_eq!(
                    request.encode(),
                    kept.encode(),
                    "flags or a packet went out as JSON"
                );
                round_trip(&kept, Request::encode, |b| Request::decode(b).ok(), true);
            }
        }
        2 => {
            let Ok(response) = Response::decode(bytes) else {
                return;
            };
            response.sockets.iter().flatten().for_each(use_socket);
            let json = response.kind != Some(RequestType::BroadcastAck as u8);
            round_trip(
                &response,
                Response::encode,
                |b| Response::decode(b).ok(),
                json,
            );
        }
        3 => cluster(bytes, true, use_broadcast),
        4 => cluster(bytes, false, |_: &Value| {}),
        5 => cluster(bytes, true, use_operation),
        6 => cluster(bytes, true, use_fetch),
        7 => cluster(bytes, true, use_server_side_emit),
        8 => cluster(bytes, true, use_response),
        _ => {
            // As ShardedAdapter::on_message: the head picks the data part.
            let Ok(head) = Head::decode(bytes) else {
                return;
            };
            let Some(kind) = MessageType::from_number(head.kind) else {
                return;
            };
            match kind {
                _ if kind.is_response() => cluster(bytes, true, use_response),
                MessageType::Broadcast => cluster(bytes, true, use_broadcast),
                MessageType::SocketsJoin
                | MessageType::SocketsLeave
                | MessageType::DisconnectSockets => cluster(bytes, true, use_operation),
                MessageType::FetchSockets => cluster(bytes, true, use_fetch),
                MessageType::ServerSideEmit => cluster(bytes, true, use_server_side_emit),
                // The heartbeats and ADAPTER_CLOSE: the adapter reads no
                // more than the head.
                _ => {}
            }
        }
    }
});

/// A sharded adapter's message with data part `D`: decoded, its data used
/// as the adapter uses it (`use_data`), its head checked against it (when
/// `with_head`: `D` is one the adapter reads) and the round trip checked.
fn cluster<D>(bytes: &[u8], with_head: bool, use_data: impl Fn(&D))
where
    D: Serialize + DeserializeOwned + MayHoldBinary + Normal + PartialEq + Debug,
{
    let Ok(message) = ClusterMessage::<D>::decode(bytes) else {
        return;
    };
    if with_head && let Ok(head) = Head::decode(bytes) {
        assert_eq!(
            (head.kind, head.uid.as_str(), head.nsp.as_str()),
            (message.kind, message.uid.as_str(), message.nsp.as_str()),
            "the head and the whole message disagree"
        );
    }
    if let Some(data) = &message.data {
        use_data(data);
    }
    // msgpack only for the types that may carry binary, with binary in.
    let binary = message.data.as_ref().is_some_and(MayHoldBinary::has_binary);
    let json = !(binary && [3, 8, 9, 10, 12].contains(&message.kind));
    round_trip(
        &message,
        ClusterMessage::encode,
        |b| ClusterMessage::decode(b).ok(),
        json,
    );
}

fn use_broadcast(data: &BroadcastData) {
    let _ = data.packet.to_packet();
    let _ = data.opts.to_options();
    // The adapter puts its own namespace in (Node's sharded adapter
    // leaves the packet's out).
    let mut packet = data.packet.clone();
    packet.nsp = "/fuzz".into();
    let _ = packet.to_packet();
}

fn use_operation(data: &OpData) {
    let _ = data.opts.to_options();
}

fn use_fetch(data: &FetchSocketsData) {
    let _ = data.opts.to_options();
}

fn use_server_side_emit(data: &ServerSideEmitData) {
    // An event name first, or the adapter ignores it.
    let _ = data.packet.first().and_then(Value::as_str);
}

fn use_response(data: &ResponseData) {
    data.sockets.iter().flatten().for_each(use_socket);
}
