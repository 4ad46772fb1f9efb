//! The messages of Node's `createShardedAdapter`: `socket.io-adapter`'s
//! cluster format, `{type, data, uid, nsp}` with its own type numbers, JSON
//! unless the data holds binary (then msgpack), on the channels of
//! [`ShardedChannels`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::channels::{ShardedChannels, looks_like_a_socket_id};
use super::wire::{WireError, WireOpts, WirePacket};
use crate::socketio::Value;

// ANCHOR: message_type
/// `socket.io-adapter`'s `MessageType`. The heartbeats (1, 2) and 13 are
/// its `ClusterAdapterWithHeartbeat`'s, which counts servers by them;
/// Node's sharded adapter is a plain `ClusterAdapter` that counts them with
/// `PUBSUB SHARDNUMSUB` and never sends those three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// 1: a server starts.
    InitialHeartbeat = 1,
    /// 2: a server is alive.
    Heartbeat = 2,
    /// 3: a broadcast (with `requestId` when acks are wanted).
    Broadcast = 3,
    /// 4: `socketsJoin`.
    SocketsJoin = 4,
    /// 5: `socketsLeave`.
    SocketsLeave = 5,
    /// 6: `disconnectSockets`.
    DisconnectSockets = 6,
    /// 7: `fetchSockets`.
    FetchSockets = 7,
    /// 8: its answer.
    FetchSocketsResponse = 8,
    /// 9: `serverSideEmit`.
    ServerSideEmit = 9,
    /// 10: its answer.
    ServerSideEmitResponse = 10,
    /// 11: how many clients a broadcast with acks reached.
    BroadcastClientCount = 11,
    /// 12: one client's ack.
    BroadcastAck = 12,
    /// 13: a server leaves.
    AdapterClose = 13,
}
// ANCHOR_END: message_type

/// Whether a message of this type may carry binary (and so go as msgpack).
fn may_contain_binary(kind: u8) -> bool {
    [3, 12, 8, 9, 10].contains(&kind)
}

/// What a data part can say about binary inside it.
pub trait MayHoldBinary {
    /// Whether there is binary anywhere inside.
    fn has_binary(&self) -> bool;
}

impl MayHoldBinary for Value {
    fn has_binary(&self) -> bool {
        Value::has_binary(self)
    }
}

/// The data of a BROADCAST: `{packet, requestId?, opts}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BroadcastData {
    /// The packet object.
    pub packet: WirePacket,
    /// Set when the sender wants acks.
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `{rooms, except, flags}`.
    pub opts: WireOpts,
}

impl MayHoldBinary for BroadcastData {
    fn has_binary(&self) -> bool {
        self.packet.data.as_ref().is_some_and(Value::has_binary)
    }
}

/// The data of SOCKETS_JOIN / SOCKETS_LEAVE (`{opts, rooms}`) and
/// DISCONNECT_SOCKETS (`{opts, close}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpData {
    /// Which sockets.
    pub opts: WireOpts,
    /// The rooms to join or leave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// Whether to close the whole connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close: Option<bool>,
}

impl MayHoldBinary for OpData {
    fn has_binary(&self) -> bool {
        false
    }
}

// ANCHOR: requests
/// The data of FETCH_SOCKETS: `{opts, requestId}`. Every other server
/// answers with a FETCH_SOCKETS_RESPONSE on the requester's own channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchSocketsData {
    /// Which sockets (`flags.timeout`, when set, is the requester's wait).
    pub opts: WireOpts,
    /// The request.
    #[serde(rename = "requestId")]
    pub request_id: String,
}

impl MayHoldBinary for FetchSocketsData {
    fn has_binary(&self) -> bool {
        false
    }
}

/// The data of SERVER_SIDE_EMIT: `{requestId?, packet}`, the packet being
/// `[event, ...args]`. With a `requestId`, every other server answers once
/// with a SERVER_SIDE_EMIT_RESPONSE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSideEmitData {
    /// Set when the sender waits for one answer per server.
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `[event, ...args]`.
    pub packet: Vec<Value>,
}

impl MayHoldBinary for ServerSideEmitData {
    fn has_binary(&self) -> bool {
        self.packet.iter().any(Value::has_binary)
    }
}

/// The data of a response (types 8, 10, 11 and 12), published on the
/// requester's channel (`socket.io#/#<uid>#`): `{requestId, ...}` plus
/// `sockets` (FETCH_SOCKETS_RESPONSE), `packet` (SERVER_SIDE_EMIT_RESPONSE:
/// the ack's one argument; BROADCAST_ACK: the client's first ack argument)
/// or `clientCount` (BROADCAST_CLIENT_COUNT). The responder's uid is the
/// message's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseData {
    /// The request answered.
    #[serde(rename = "requestId")]
    pub request_id: String,
    /// FETCH_SOCKETS_RESPONSE: `{id, handshake, rooms, data}` per socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sockets: Option<Vec<Value>>,
    /// SERVER_SIDE_EMIT_RESPONSE, BROADCAST_ACK: the argument (absent when
    /// the ack had none: `undefined` does not survive JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet: Option<Value>,
    /// BROADCAST_CLIENT_COUNT: how many clients the server sent it to.
    #[serde(
        rename = "clientCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_count: Option<u64>,
}

impl MayHoldBinary for ResponseData {
    fn has_binary(&self) -> bool {
        self.sockets.iter().flatten().any(Value::has_binary)
            || self.packet.as_ref().is_some_and(Value::has_binary)
    }
}
// ANCHOR_END: requests

/// Just the head of a cluster message, to pick the type to decode.
#[derive(Debug, Deserialize)]
pub struct Head {
    /// The [`MessageType`] number.
    #[serde(rename = "type")]
    pub kind: u8,
    /// The sender.
    pub uid: String,
    /// Its namespace.
    pub nsp: String,
}

impl Head {
    /// Read the head of a message: JSON when it starts with `{`, msgpack
    /// otherwise.
    pub fn decode(bytes: &[u8]) -> Result<Head, WireError> {
        decode_either(bytes)
    }
}

fn decode_either<D: DeserializeOwned>(bytes: &[u8]) -> Result<D, WireError> {
    if bytes.first() == Some(&b'{') {
        serde_json::from_slice(bytes).map_err(|e| WireError::Json(e.to_string()))
    } else {
        rmp_serde::from_slice(bytes).map_err(|e| WireError::Msgpack(e.to_string()))
    }
}

impl MessageType {
    /// The type for a number.
    pub fn from_number(n: u8) -> Option<MessageType> {
        use MessageType::*;
        [
            InitialHeartbeat,
            Heartbeat,
            Broadcast,
            SocketsJoin,
            SocketsLeave,
            DisconnectSockets,
            FetchSockets,
            FetchSocketsResponse,
            ServerSideEmit,
            ServerSideEmitResponse,
            BroadcastClientCount,
            BroadcastAck,
            AdapterClose,
        ]
        .get(usize::from(n).checked_sub(1)?)
        .copied()
    }

    /// Whether it answers a request (and goes to the requester's channel).
    pub fn is_response(self) -> bool {
        use MessageType::*;
        matches!(
            self,
            FetchSocketsResponse | ServerSideEmitResponse | BroadcastClientCount | BroadcastAck
        )
    }
}

// ANCHOR: cluster_message
/// One cluster message: `{type, data, uid, nsp}` (the sender's uid and
/// namespace come last, as Node adds them last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMessage<D> {
    /// The [`MessageType`] number.
    #[serde(rename = "type")]
    pub kind: u8,
    /// The data, per type.
    pub data: Option<D>,
    /// The sender.
    pub uid: String,
    /// The namespace.
    pub nsp: String,
}

impl<D: Serialize + DeserializeOwned + MayHoldBinary> ClusterMessage<D> {
    /// The bytes Node's sharded adapter publishes: msgpack when the data
    /// holds binary and the type may carry it, JSON otherwise.
    pub fn encode(&self) -> Vec<u8> {
        let binary = may_contain_binary(self.kind)
            && self.data.as_ref().is_some_and(MayHoldBinary::has_binary);
        if binary {
            rmp_serde::to_vec_named(self).expect("msgpack into a Vec cannot fail")
        } else {
            serde_json::to_vec(self).expect("JSON into a Vec cannot fail")
        }
    }

    /// Read one: JSON when it starts with `{`, msgpack otherwise.
    pub fn decode(bytes: &[u8]) -> Result<ClusterMessage<D>, WireError> {
        decode_either(bytes)
    }
}
// ANCHOR_END: cluster_message

/// The sharded adapter's `subscriptionMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// One channel per namespace.
    Static,
    /// Plus one per public room (the default).
    #[default]
    Dynamic,
    /// Plus one per room, private rooms too.
    DynamicPrivate,
}

impl ShardedChannels {
    /// Where Node's sharded adapter publishes a broadcast: the room's own
    /// channel for a broadcast without acks to exactly one room (not a
    /// socket's own room, in `Dynamic` mode), the namespace's otherwise.
    pub fn for_broadcast(&self, data: &BroadcastData, mode: SubscriptionMode) -> String {
        let rooms = &data.opts.rooms;
        let dynamic = data.request_id.is_none()
            && rooms.len() == 1
            && match mode {
                SubscriptionMode::Static => false,
                SubscriptionMode::Dynamic => !looks_like_a_socket_id(&rooms[0]),
                SubscriptionMode::DynamicPrivate => true,
            };
        if dynamic {
            self.room(&rooms[0])
        } else {
            self.main()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::redis::Flags;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn broadcast(
        rooms: &[&str],
        except: &[&str],
        args: Vec<Value>,
    ) -> ClusterMessage<BroadcastData> {
        ClusterMessage {
            kind: MessageType::Broadcast as u8,
            data: Some(BroadcastData {
                packet: WirePacket::event("/", args[0].as_str().unwrap(), args[1..].to_vec()),
                request_id: None,
                opts: WireOpts {
                    rooms: rooms.iter().map(|r| r.to_string()).collect(),
                    except: except.iter().map(|r| r.to_string()).collect(),
                    flags: Flags::default(),
                },
            }),
            uid: "abc123".into(),
            nsp: "/".into(),
        }
    }

    // Vectors printed by notepack.io 3.0.1 / JSON.stringify in tests/node
    // for the objects socket.io-adapter 2.5.9's ClusterAdapter publishes.
    #[test]
    fn broadcasts_are_json_without_binary_and_msgpack_with_it() {
        let plain = broadcast(&["lobby"], &[], vec!["chat".into(), "hi".into()]);
        assert_eq!(
            String::from_utf8(plain.encode()).unwrap(),
            r#"{"type":3,"data":{"packet":{"type":2,"data":["chat","hi"],"nsp":"/"},"opts":{"rooms":["lobby"],"except":[],"flags":{}}},"uid":"abc123","nsp":"/"}"#
        );
        let mut bin = broadcast(&[], &["x"], vec!["f".into(), Value::binary([1, 2])]);
        if let Some(d) = bin.data.as_mut() {
            d.opts.flags.volatile = Some(true);
        }
        let node = unhex(
            "84a47479706503a46461746182a67061636b657483a47479706502a46461746192a166c4020102a36e7370a12fa46f70747383a5726f6f6d7390a665786365707491a178a5666c61677381a8766f6c6174696c65c3a3756964a6616263313233a36e7370a12f",
        );
        assert_eq!(bin.encode(), node);
        assert_eq!(ClusterMessage::<BroadcastData>::decode(&node).unwrap(), bin);
        assert_eq!(
            ClusterMessage::<BroadcastData>::decode(&plain.encode()).unwrap(),
            plain
        );
        assert!(ClusterMessage::<Value>::decode(b"\xc1").is_err());
    }

    #[test]
    fn the_channel_follows_the_subscription_mode() {
        let c = ShardedChannels::new("socket.io", "/");
        let one = broadcast(&["lobby"], &[], vec!["e".into()]).data.unwrap();
        assert_eq!(
            c.for_broadcast(&one, SubscriptionMode::Dynamic),
            "socket.io#/#lobby#"
        );
        assert_eq!(
            c.for_broadcast(&one, SubscriptionMode::Static),
            "socket.io#/#"
        );
        let sid = broadcast(&["aaaaaaaaaaaaaaaaaaaa"], &[], vec!["e".into()])
            .data
            .unwrap();
        assert_eq!(
            c.for_broadcast(&sid, SubscriptionMode::Dynamic),
            "socket.io#/#"
        );
        assert_eq!(
            c.for_broadcast(&sid, SubscriptionMode::DynamicPrivate),
            "socket.io#/#aaaaaaaaaaaaaaaaaaaa#"
        );
        let mut acked = one.clone();
        acked.request_id = Some("r".into());
        assert_eq!(
            c.for_broadcast(&acked, SubscriptionMode::Dynamic),
            "socket.io#/#"
        );
        let two = broadcast(&["a", "b"], &[], vec!["e".into()]).data.unwrap();
        assert_eq!(
            c.for_broadcast(&two, SubscriptionMode::Dynamic),
            "socket.io#/#"
        );
    }
}
