//! Exercise ch06-channel-names: where a Socket.IO broadcast goes in Redis.
//!
//! Node's `@socket.io/redis-adapter` (v8, classic pub/sub) names its
//! channels after a key prefix (`socket.io` by default) and the namespace:
//!
//! ```text
//! socket.io#/#           a broadcast to the whole namespace "/", or to several rooms
//! socket.io#/#lobby#     a broadcast to exactly one room, "lobby"
//! socket.io-request#/#   requests between servers (fetchSockets, ...)
//! socket.io-response#/#  their responses
//! ```
//!
//! Every server subscribes to the pattern `socket.io#/#*`, so it hears the
//! namespace's channel and every room's, and must tell from a channel's name
//! which room (if any) it names. Room names may themselves contain `#`.
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch06-channel-names`. Stuck? `cargo learn hint ch06-channel-names`.
#![allow(unused_variables, unused_imports, dead_code)] // the stub does not use them yet

/// The channel a broadcast to `rooms` of namespace `nsp` is published on:
/// the room's own channel when there is exactly one room, the namespace's
/// channel otherwise (no room: everyone; several: each server filters).
pub fn broadcast_channel(prefix: &str, nsp: &str, rooms: &[&str]) -> String {
    match rooms {
        [room] => format!("{prefix}#{nsp}#{room}#"),
        _ => format!("{prefix}#{nsp}#"),
    }
}

/// Where requests between the servers of `nsp` go.
pub fn request_channel(prefix: &str, nsp: &str) -> String {
    format!("{prefix}-request#{nsp}#")
}

/// Where their responses go.
pub fn response_channel(prefix: &str, nsp: &str) -> String {
    format!("{prefix}-response#{nsp}#")
}

/// The room a broadcast channel of `nsp` names: `Some("")` for the
/// namespace's own channel, `Some(room)` for a room's, `None` for a channel
/// of another prefix or namespace, or a malformed one.
pub fn room_of<'c>(prefix: &str, nsp: &str, channel: &'c str) -> Option<&'c str> {
    let rest = channel
        .strip_prefix(prefix)?
        .strip_prefix('#')?
        .strip_prefix(nsp)?
        .strip_prefix('#')?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_suffix('#')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_room_has_its_own_channel() {
        assert_eq!(
            broadcast_channel("socket.io", "/", &["lobby"]),
            "socket.io#/#lobby#"
        );
        assert_eq!(
            broadcast_channel("app", "/admin", &["r#1"]),
            "app#/admin#r#1#"
        );
    }

    #[test]
    fn no_room_or_several_use_the_namespace_channel() {
        assert_eq!(broadcast_channel("socket.io", "/", &[]), "socket.io#/#");
        assert_eq!(
            broadcast_channel("socket.io", "/", &["a", "b"]),
            "socket.io#/#"
        );
        assert_eq!(
            broadcast_channel("socket.io", "/chat", &[]),
            "socket.io#/chat#"
        );
    }

    #[test]
    fn requests_and_responses() {
        assert_eq!(request_channel("socket.io", "/"), "socket.io-request#/#");
        assert_eq!(response_channel("socket.io", "/"), "socket.io-response#/#");
        assert_eq!(request_channel("app", "/admin"), "app-request#/admin#");
    }

    #[test]
    fn the_room_comes_back_out_of_a_channel() {
        assert_eq!(room_of("socket.io", "/", "socket.io#/#"), Some(""));
        assert_eq!(
            room_of("socket.io", "/", "socket.io#/#lobby#"),
            Some("lobby")
        );
        assert_eq!(room_of("socket.io", "/", "socket.io#/#a#b#"), Some("a#b"));
    }

    #[test]
    fn other_channels_name_no_room() {
        assert_eq!(room_of("socket.io", "/", "socket.io#/admin#x#"), None);
        assert_eq!(room_of("socket.io", "/", "socket.io#/#unterminated"), None);
        assert_eq!(room_of("socket.io", "/", "other#/#x#"), None);
        assert_eq!(room_of("socket.io", "/", "socket.io-request#/#"), None);
    }

    #[test]
    fn names_round_trip() {
        for room in ["lobby", "a#b", "x"] {
            let channel = broadcast_channel("socket.io", "/", &[room]);
            assert_eq!(room_of("socket.io", "/", &channel), Some(room));
        }
    }
}
