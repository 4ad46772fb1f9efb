//! Channel names, as Node's `@socket.io/redis-adapter` v8 spells them.

// ANCHOR: channels
/// The channels of one namespace under a key prefix (`socket.io` unless
/// the adapter was given another `key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    prefix: String,
    nsp: String,
}

impl Channels {
    /// The default prefix of Node's adapter and emitter.
    pub const DEFAULT_PREFIX: &'static str = "socket.io";

    /// The channels of namespace `nsp` (`/`, `/admin`) under `prefix`.
    pub fn new(prefix: &str, nsp: &str) -> Channels {
        Channels {
            prefix: prefix.to_owned(),
            nsp: nsp.to_owned(),
        }
    }

    /// Broadcasts to the whole namespace, or to several rooms:
    /// `socket.io#/#`.
    pub fn broadcast(&self) -> String {
        format!("{}#{}#", self.prefix, self.nsp)
    }

    /// Where a broadcast to exactly `rooms` goes: the room's own channel
    /// `socket.io#/#room#` when there is exactly one room, the namespace's
    /// channel otherwise.
    pub fn for_rooms<'a, I>(&self, rooms: I) -> String
    where
        I: IntoIterator<Item = &'a str>,
        I::IntoIter: ExactSizeIterator,
    {
        let mut rooms = rooms.into_iter();
        match (rooms.len(), rooms.next()) {
            (1, Some(room)) => format!("{}#{}#{}#", self.prefix, self.nsp, room),
            _ => self.broadcast(),
        }
    }

    /// What a server subscribes to (PSUBSCRIBE) for broadcasts:
    /// `socket.io#/#*`, the namespace's channel and every room's.
    pub fn broadcast_pattern(&self) -> String {
        format!("{}#{}#*", self.prefix, self.nsp)
    }

    /// The room a broadcast channel names: `Some("")` for the namespace's
    /// own channel, `Some(room)` for a room's, `None` for another channel.
    pub fn room_of<'c>(&self, channel: &'c str) -> Option<&'c str> {
        let rest = channel
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('#')?
            .strip_prefix(self.nsp.as_str())?
            .strip_prefix('#')?;
        if rest.is_empty() {
            Some("")
        } else {
            rest.strip_suffix('#')
        }
    }

    /// Requests between servers (JSON, or msgpack for a broadcast with
    /// acks): `socket.io-request#/#`.
    pub fn request(&self) -> String {
        format!("{}-request#{}#", self.prefix, self.nsp)
    }

    /// Responses: `socket.io-response#/#`.
    pub fn response(&self) -> String {
        format!("{}-response#{}#", self.prefix, self.nsp)
    }

    /// Responses meant for server `uid` only, when the adapter was created
    /// with `publishOnSpecificResponseChannel`: `socket.io-response#/#uid#`.
    /// Every server subscribes to its own.
    pub fn specific_response(&self, uid: &str) -> String {
        format!("{}-response#{}#{}#", self.prefix, self.nsp, uid)
    }
}
// ANCHOR_END: channels

// ANCHOR: sharded
/// Channel names of Node's `createShardedAdapter` (Redis 7 sharded pub/sub:
/// SPUBLISH / SSUBSCRIBE, each channel living on the one cluster node that
/// owns its hash slot). Its messages are `socket.io-adapter`'s cluster
/// messages, a format of their own ([`super::cluster`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardedChannels {
    prefix: String,
    nsp: String,
}

impl ShardedChannels {
    /// The channels of `nsp` under `channelPrefix` (`socket.io` by default).
    pub fn new(prefix: &str, nsp: &str) -> ShardedChannels {
        ShardedChannels {
            prefix: prefix.to_owned(),
            nsp: nsp.to_owned(),
        }
    }

    /// The namespace's channel, where every message goes unless a dynamic
    /// room channel applies: `socket.io#/#`. Its SHARDNUMSUB counts the
    /// servers.
    pub fn main(&self) -> String {
        format!("{}#{}#", self.prefix, self.nsp)
    }

    /// A room's own channel, `socket.io#/#room#`, used (in the default
    /// `dynamic` subscription mode) by a broadcast without acks to exactly
    /// one room that is not a socket's private room; servers subscribe to
    /// it while they have the room.
    pub fn room(&self, room: &str) -> String {
        format!("{}#{}#{}#", self.prefix, self.nsp, room)
    }

    /// Responses for the server `uid`: `socket.io#/#uid#`.
    pub fn response(&self, uid: &str) -> String {
        format!("{}#{}#{}#", self.prefix, self.nsp, uid)
    }
}

/// Whether Node's sharded adapter would take `room` for a socket's private
/// room, in `dynamic` mode: its test is "a string of 20 characters".
pub fn looks_like_a_socket_id(room: &str) -> bool {
    room.chars().count() == 20
}
// ANCHOR_END: sharded

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_channels_match_nodes_names() {
        let c = Channels::new(Channels::DEFAULT_PREFIX, "/");
        assert_eq!(c.broadcast(), "socket.io#/#");
        assert_eq!(c.for_rooms(["lobby"]), "socket.io#/#lobby#");
        assert_eq!(c.for_rooms(["a", "b"]), "socket.io#/#");
        assert_eq!(c.for_rooms(std::iter::empty::<&str>()), "socket.io#/#");
        assert_eq!(c.broadcast_pattern(), "socket.io#/#*");
        assert_eq!(c.request(), "socket.io-request#/#");
        assert_eq!(c.response(), "socket.io-response#/#");
        assert_eq!(
            c.specific_response("Ab3dE9"),
            "socket.io-response#/#Ab3dE9#"
        );
        let admin = Channels::new("app", "/admin");
        assert_eq!(admin.for_rooms(["r#1"]), "app#/admin#r#1#");
        assert_eq!(admin.request(), "app-request#/admin#");
    }

    #[test]
    fn the_room_comes_back_out_of_a_channel() {
        let c = Channels::new("socket.io", "/");
        assert_eq!(c.room_of("socket.io#/#"), Some(""));
        assert_eq!(c.room_of("socket.io#/#lobby#"), Some("lobby"));
        assert_eq!(c.room_of("socket.io#/#a#b#"), Some("a#b"));
        assert_eq!(c.room_of("socket.io#/admin#x#"), None);
        assert_eq!(c.room_of("socket.io#/#unterminated"), None);
        assert_eq!(c.room_of("socket.io-request#/#"), None);
    }

    #[test]
    fn sharded_channels_match_nodes_names() {
        let s = ShardedChannels::new("socket.io", "/");
        assert_eq!(s.main(), "socket.io#/#");
        assert_eq!(s.room("lobby"), "socket.io#/#lobby#");
        assert_eq!(s.response("Ab3dE9"), "socket.io#/#Ab3dE9#");
        assert!(looks_like_a_socket_id("aaaaaaaaaaaaaaaaaaaa"));
        assert!(!looks_like_a_socket_id("lobby"));
    }
}
