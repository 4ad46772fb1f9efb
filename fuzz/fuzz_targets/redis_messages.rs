//! The Redis adapter's messages (`netladder::socketio::redis`): what another
//! server (or anyone who can publish on the channels) puts on the wire.
//!
//! The first byte picks the decoder, the rest is the message:
//! 0 `BroadcastMessage` (msgpack `[uid, packet, opts]`), 1 `Request` and
//! 2 `Response` (JSON when it starts with `{`, msgpack otherwise), 3 and 4
//! the sharded adapter's `ClusterMessage` with broadcast data or any value.
//!
//! - no input panics: every refusal is a typed `WireError`;
//! - a decoded broadcast's packet and options convert for local delivery
//!   (`to_packet`, `to_options`) or are refused with an error;
//! - decode(encode(x)) == x for every decoded message whose encoding keeps
//!   all it holds. A request other than BROADCAST goes out as JSON in
//!   Node's shape, which has no flags in its selection and no packet: for
//!   those, x without them. JSON has no binary (a `bin` read from msgpack goes back
//!   out as an array of numbers, as Node's `JSON.stringify` of a `Buffer`
//!   would not read back either), so for a message that goes out as JSON
//!   with binary inside, only the weaker property is checked: encoding is
//!   stable, encode(decode(encode(x))) == encode(x);
//! - nothing allocates over 2 MiB at once (`scripts/fuzz`), whatever
//!   lengths a msgpack header claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netladder::socketio::Value;
use netladder::socketio::redis::cluster::{BroadcastData, ClusterMessage, MayHoldBinary};
use netladder::socketio::redis::{BroadcastMessage, Request, RequestType, Response};
use std::fmt::Debug;

/// Checks the round trip of `message`, whose encoding is `encode`.
/// `lossless`: the encoding keeps everything (no binary into JSON).
fn round_trip<M: PartialEq + Debug>(
    message: &M,
    encode: impl Fn(&M) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Option<M>,
    lossless: bool,
) {
    let bytes = encode(message);
    let back = decode(&bytes).expect("our own encoding decodes");
    if lossless && &back != message {
        // Allowed: what the encoding normalises, as Node's JSON.stringify
        // does (a float with an integral value goes out as an integer, so
        // `1.0` comes back as `1`). The normal form must then be a fixed
        // point: decoding its encoding changes nothing more.
        let again = decode(&encode(&back)).expect("our own encoding decodes");
        assert_eq!(again, back, "decode(encode(x)) is not a fixed point");
    }
    assert_eq!(encode(&back), bytes, "encoding is not stable");
}

fn any_binary<'a>(values: impl IntoIterator<Item = &'a Value>) -> bool {
    values.into_iter().any(Value::has_binary)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match selector % 5 {
        0 => {
            let Ok(message) = BroadcastMessage::decode(bytes) else {
                return;
            };
            let _ = message.packet.to_packet();
            let _ = message.opts.to_options();
            // msgpack both ways: binary survives.
            round_trip(
                &message,
                BroadcastMessage::encode,
                |b| BroadcastMessage::decode(b).ok(),
                true,
            );
            round_trip(
                &message,
                BroadcastMessage::encode_as_emitter,
                |b| BroadcastMessage::decode(b).ok(),
                true,
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
            if request.kind == RequestType::Broadcast as u8 {
                // msgpack, every field.
                round_trip(&request, Request::encode, |b| Request::decode(b).ok(), true);
            } else {
                // JSON in Node's shape: the selection without flags, and
                // no packet (Node sends neither outside BROADCAST). So
                // what comes back is the request without them.
                let mut kept = request.clone();
                kept.packet = None;
                if let Some(opts) = kept.opts.as_mut() {
                    opts.flags = Default::default();
                }
                let bytes = kept.encode();
                assert_eq!(
                    request.encode(),
                    bytes,
                    "flags or a packet went out as JSON"
                );
                let binary = any_binary(kept.data.iter().flatten());
                round_trip(&kept, Request::encode, |b| Request::decode(b).ok(), !binary);
            }
        }
        2 => {
            let Ok(response) = Response::decode(bytes) else {
                return;
            };
            let json = response.kind != Some(RequestType::BroadcastAck as u8);
            let binary = any_binary(
                response
                    .sockets
                    .iter()
                    .flatten()
                    .chain(response.data.iter())
                    .chain(response.packet.iter()),
            );
            round_trip(
                &response,
                Response::encode,
                |b| Response::decode(b).ok(),
                !(json && binary),
            );
        }
        3 => {
            let Ok(message) = ClusterMessage::<BroadcastData>::decode(bytes) else {
                return;
            };
            if let Some(data) = &message.data {
                let _ = data.packet.to_packet();
                let _ = data.opts.to_options();
            }
            // Binary goes out as msgpack only in the types that may carry it.
            round_trip(
                &message,
                ClusterMessage::encode,
                |b| ClusterMessage::decode(b).ok(),
                !may_lose_binary(
                    message.kind,
                    message.data.as_ref().is_some_and(MayHoldBinary::has_binary),
                ),
            );
        }
        _ => {
            let Ok(message) = ClusterMessage::<Value>::decode(bytes) else {
                return;
            };
            round_trip(
                &message,
                ClusterMessage::encode,
                |b| ClusterMessage::decode(b).ok(),
                !may_lose_binary(
                    message.kind,
                    message.data.as_ref().is_some_and(Value::has_binary),
                ),
            );
        }
    }
});

/// A cluster message of a type that goes out as JSON, with binary inside.
fn may_lose_binary(kind: u8, binary: bool) -> bool {
    binary && ![3, 12, 8, 9, 10].contains(&kind)
}
