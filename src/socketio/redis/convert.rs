//! Between the server's types and the wire's: what a Redis adapter does
//! with [`Adapter::broadcast`](crate::socketio::Adapter::broadcast)'s
//! already-encoded packet (decode it back once, to publish the packet
//! object Node expects), and with a broadcast heard from Redis (a
//! [`Packet`] to encode once for the local recipients).

use super::wire::{Flags, WireError, WireOpts, WirePacket};
use crate::socketio::packet::{Decoder, Encoded, Limits, Packet, PacketType};
use crate::socketio::{BroadcastOptions, Value};

// ANCHOR: convert
impl WirePacket {
    /// The packet object Node publishes for `packet`: EVENT stays 2 and
    /// ACK 3 even with binary inside (only the text encoder says 5 or 6).
    pub fn from_packet(packet: &Packet) -> WirePacket {
        let kind = match packet.kind {
            PacketType::BinaryEvent => PacketType::Event,
            PacketType::BinaryAck => PacketType::Ack,
            other => other,
        };
        WirePacket {
            kind: kind as u8,
            data: packet.data.clone(),
            nsp: packet.nsp.clone(),
            id: packet.id,
        }
    }

    /// The packet object for an already-encoded packet (its text and
    /// attachments read back, within `limits`).
    pub fn from_encoded(encoded: &Encoded, limits: Limits) -> Result<WirePacket, WireError> {
        let bad = |e: crate::socketio::PacketError| WireError::Packet(e.to_string());
        let mut decoder = Decoder::new(limits);
        let mut packet = decoder.feed_text(&encoded.text).map_err(bad)?;
        for a in &encoded.attachments {
            packet = decoder.feed_binary(a.clone()).map_err(bad)?;
        }
        packet
            .map(|p| WirePacket::from_packet(&p))
            .ok_or_else(|| WireError::Packet("attachments missing".into()))
    }

    /// The packet to deliver locally. Only events and acks travel between
    /// servers; anything else is refused.
    pub fn to_packet(&self) -> Result<Packet, WireError> {
        let kind = match self.kind {
            2 | 5 => PacketType::Event,
            3 | 6 => PacketType::Ack,
            n => return Err(WireError::Packet(format!("packet type {n} in a broadcast"))),
        };
        if kind == PacketType::Event
            && !matches!(&self.data, Some(Value::Array(items)) if items.first().and_then(Value::as_str).is_some())
        {
            return Err(WireError::Packet("an event without a name".into()));
        }
        Ok(Packet {
            kind,
            nsp: self.nsp.clone(),
            id: self.id,
            data: self.data.clone(),
        })
    }
}

impl WireOpts {
    /// The options Node publishes for a broadcast selected by `opts`.
    pub fn from_options(opts: &BroadcastOptions) -> WireOpts {
        WireOpts {
            rooms: opts.rooms.iter().cloned().collect(),
            except: opts.except.iter().cloned().collect(),
            flags: Flags {
                volatile: opts.volatile.then_some(true),
                ..Flags::default()
            },
        }
    }

    /// The local selection for a broadcast heard from Redis.
    pub fn to_options(&self) -> BroadcastOptions {
        BroadcastOptions {
            rooms: self.rooms.iter().cloned().collect(),
            except: self.except.iter().cloned().collect(),
            volatile: self.flags.volatile == Some(true),
        }
    }
}
// ANCHOR_END: convert

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_broadcast_goes_back_to_nodes_packet_object_and_home_again() {
        let p = Packet::event(
            "/admin",
            "file",
            vec![Value::binary([1, 2, 3]), Value::from("x")],
            None,
        );
        let encoded = p.encode();
        assert!(encoded.text.starts_with("51-/admin,"));
        let wire = WirePacket::from_encoded(&encoded, Limits::default()).unwrap();
        assert_eq!(wire.kind, 2, "EVENT, binary or not");
        assert_eq!(wire.nsp, "/admin");
        let back = wire.to_packet().unwrap();
        assert_eq!(back.encode(), encoded, "one encoding, the same bytes");
    }

    #[test]
    fn hostile_packets_from_redis_are_refused() {
        let mut w = WirePacket::event("/", "ok", vec![]);
        w.kind = 0;
        assert!(w.to_packet().is_err(), "a CONNECT over Redis");
        w.kind = 2;
        w.data = Some(Value::Array(vec![Value::from(1i64)]));
        assert!(w.to_packet().is_err(), "an event named 1");
        w.data = None;
        assert!(w.to_packet().is_err(), "an event without data");
        let half = Encoded {
            text: "51-[\"a\",{\"_placeholder\":true,\"num\":0}]".into(),
            attachments: vec![],
        };
        assert!(WirePacket::from_encoded(&half, Limits::default()).is_err());
    }

    #[test]
    fn options_map_both_ways() {
        let opts = BroadcastOptions {
            rooms: ["a".to_owned(), "b".to_owned()].into(),
            except: ["c".to_owned()].into(),
            volatile: true,
        };
        let wire = WireOpts::from_options(&opts);
        assert_eq!(wire.rooms, ["a", "b"]);
        assert_eq!(wire.flags.volatile, Some(true));
        assert_eq!(wire.to_options(), opts);
        assert_eq!(
            WireOpts::from_options(&BroadcastOptions::default()).flags,
            Flags::default(),
            "no flags: an empty map, as socket.io sends"
        );
    }
}
