//! Exercise ch05-sio-rooms: who a room broadcast reaches.
//!
//! Rooms are server-side groups of sockets; a client never sees them. A
//! broadcast names rooms to reach and rooms to leave out, and chains of
//! both are allowed, as in Node's `io.to("red").to("blue").except("vip")`
//! or python-socketio's `emit(..., room=..., skip_sid=...)`. Every socket
//! is in the room named after its own id, which is how `except(socket)`
//! and `skip_sid` work: there is no special case for single sockets.
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch05-sio-rooms`. Stuck? `cargo learn hint ch05-sio-rooms`.
#![allow(unused_variables, unused_imports, dead_code, unused_mut)] // the stub does not use them yet

use std::collections::{BTreeMap, BTreeSet};

/// Room membership for one namespace: room name → socket ids. A socket
/// is always in the room named after its id.
#[derive(Debug, Default)]
pub struct Rooms {
    /// Room → members.
    pub rooms: BTreeMap<String, BTreeSet<String>>,
}

impl Rooms {
    /// Put `socket` in `room`.
    pub fn join(&mut self, socket: &str, room: &str) {
        todo!("entry().or_default().insert()")
    }

    /// Take `socket` out of `room`; a room left empty is removed.
    pub fn leave(&mut self, socket: &str, room: &str) {
        todo!("remove, and drop the room when empty")
    }

    /// Who a broadcast reaches, sorted, each once: the members of any of
    /// `to` (every socket when `to` is empty), except the members of any
    /// of `except`.
    pub fn select(&self, to: &[&str], except: &[&str]) -> Vec<String> {
        todo!("collect the chosen into a BTreeSet, then filter out the excluded")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// a in red; b in red and blue; c in blue; d alone. Each in its own room.
    fn setup() -> Rooms {
        let mut r = Rooms::default();
        for s in ["a", "b", "c", "d"] {
            r.join(s, s);
        }
        r.join("a", "red");
        r.join("b", "red");
        r.join("b", "blue");
        r.join("c", "blue");
        r
    }

    #[test]
    fn to_one_room() {
        assert_eq!(setup().select(&["red"], &[]), ["a", "b"]);
    }

    #[test]
    fn to_several_rooms_reaches_each_socket_once() {
        assert_eq!(setup().select(&["red", "blue"], &[]), ["a", "b", "c"]);
    }

    #[test]
    fn except_removes_the_members_of_a_room() {
        let r = setup();
        assert_eq!(r.select(&["red", "blue"], &["blue"]), ["a"]);
        assert_eq!(
            r.select(&["red"], &["b"]),
            ["a"],
            "a socket's own room excludes it alone"
        );
    }

    #[test]
    fn no_to_means_everyone() {
        let r = setup();
        assert_eq!(r.select(&[], &[]), ["a", "b", "c", "d"]);
        assert_eq!(r.select(&[], &["red"]), ["c", "d"]);
    }

    #[test]
    fn unknown_rooms_select_nobody_and_exclude_nobody() {
        let r = setup();
        assert!(r.select(&["green"], &[]).is_empty());
        assert_eq!(r.select(&["red"], &["green"]), ["a", "b"]);
    }

    #[test]
    fn leaving_the_last_member_removes_the_room() {
        let mut r = setup();
        r.leave("c", "blue");
        assert_eq!(r.select(&["blue"], &[]), ["b"]);
        r.leave("b", "blue");
        assert!(!r.rooms.contains_key("blue"));
        r.leave("b", "nowhere");
        assert_eq!(r.select(&["red"], &[]), ["a", "b"]);
    }
}
