//! Rooms and broadcasts behind a trait, so that chapter 6 can spread them
//! over several servers (Redis) without the server noticing.
//!
//! An adapter belongs to one namespace. It knows which sockets are in which
//! rooms, and picks the recipients of a broadcast. [`InMemoryAdapter`]
//! does it all in this process, the default. A cluster adapter (chapter
//! 6's [`RedisAdapter`](super::redis::RedisAdapter)) also publishes each
//! broadcast (already encoded, once) to the other servers, forwards the
//! server-side operations, and carries requests that need the other
//! servers' answers (see [`super::cluster`] for how those come back: the
//! adapter never blocks; answers arrive through
//! [`Adapter::poll_remote`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use super::cluster::{ClusterRequest, Remote, Reply, RequestId};
use super::packet::Encoded;

/// A socket's id: 20 URL-safe characters from 120 random bits, one per
/// namespace connection (never the Engine.IO session id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(Arc<str>);

impl SocketId {
    /// An id from its text (tests, lookups).
    pub fn new(id: &str) -> SocketId {
        SocketId(id.into())
    }

    /// A fresh unguessable id from the operating system's CSPRNG.
    pub fn generate() -> Result<SocketId, getrandom::Error> {
        use base64::Engine as _;
        let mut bytes = [0u8; 15];
        getrandom::fill(&mut bytes)?;
        Ok(SocketId(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(bytes)
                .into(),
        ))
    }

    /// The id's text (also the name of the socket's own room).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SocketId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

// ANCHOR: broadcast_options
/// Who a broadcast reaches: the sockets in any of `rooms` (everyone when
/// empty), minus those in any of `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Include the sockets of these rooms (all sockets when empty).
    pub rooms: BTreeSet<String>,
    /// Then leave out the sockets of these rooms.
    pub except: BTreeSet<String>,
    /// Drop the packet for a client that cannot take it now.
    pub volatile: bool,
}
// ANCHOR_END: broadcast_options

// ANCHOR: adapter
/// Room membership and broadcast selection for one namespace.
pub trait Adapter: Send {
    /// Put `socket` in `room` (the caller has checked the caps).
    fn add(&mut self, socket: &SocketId, room: &str);
    /// Take `socket` out of `room`.
    fn del(&mut self, socket: &SocketId, room: &str);
    /// Take `socket` out of every room (it is leaving).
    fn del_all(&mut self, socket: &SocketId);
    /// The rooms `socket` is in.
    fn socket_rooms(&self, socket: &SocketId) -> Vec<String>;
    /// Whether `socket` is in `room`.
    fn contains(&self, socket: &SocketId, room: &str) -> bool;
    /// How many rooms `socket` is in.
    fn room_count(&self, socket: &SocketId) -> usize;
    /// Every room with at least one socket.
    fn rooms(&self) -> Vec<String>;
    /// The local sockets `opts` selects, each once.
    fn select(&self, opts: &BroadcastOptions) -> Vec<SocketId>;
    /// A broadcast: returns the local recipients. The packet is already
    /// encoded (once); a cluster adapter would also publish it.
    fn broadcast(&mut self, packet: &Arc<Encoded>, opts: &BroadcastOptions) -> Vec<SocketId> {
        let _ = packet;
        self.select(opts)
    }
    /// A server-side operation on a selection, after it was applied to
    /// the local sockets: a cluster adapter forwards it to the other
    /// servers. Local only: nothing to do.
    fn server_side(&mut self, op: &ServerSideOp, opts: &BroadcastOptions) {
        let _ = (op, opts);
    }
    /// Send a request to the other servers. Returns false when there are
    /// none to ask (a local adapter): the server then answers from its own
    /// sockets at once. When true, [`Remote::Done`] (or, for a broadcast
    /// with acks, [`Remote::Servers`]) follows through
    /// [`Adapter::poll_remote`], by the deadline at the latest.
    fn cluster_request(&mut self, id: RequestId, request: ClusterRequest, now: Instant) -> bool {
        let _ = (id, request, now);
        false
    }
    /// Publish the server's answer to another server's request.
    fn reply(&mut self, reply: Reply) {
        let _ = reply;
    }
    /// What the other servers sent since last time, one at a time; never
    /// blocks.
    fn poll_remote(&mut self, now: Instant) -> Option<Remote> {
        let _ = now;
        None
    }
    /// The adapter's next deadline (a request timing out).
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// Give up on the requests due by `now` (their [`Remote::Done`] then
    /// comes out of [`Adapter::poll_remote`]).
    fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }
}

/// A server-side operation, as [`Adapter::server_side`] hears of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSideOp {
    /// `socketsJoin(rooms)`.
    Join(Vec<String>),
    /// `socketsLeave(rooms)`.
    Leave(Vec<String>),
    /// `disconnectSockets(close)`.
    Disconnect {
        /// Close the whole connections.
        close: bool,
    },
}
// ANCHOR_END: adapter

/// The default adapter: two maps kept in step, room → sockets and
/// socket → rooms (ordered, so results are deterministic).
#[derive(Debug, Default)]
pub struct InMemoryAdapter {
    rooms: BTreeMap<String, BTreeSet<SocketId>>,
    sockets: BTreeMap<SocketId, BTreeSet<String>>,
}

impl InMemoryAdapter {
    /// Whether any socket is in `room`.
    pub fn has_room(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }
}

impl Adapter for InMemoryAdapter {
    fn add(&mut self, socket: &SocketId, room: &str) {
        self.rooms
            .entry(room.to_owned())
            .or_default()
            .insert(socket.clone());
        self.sockets
            .entry(socket.clone())
            .or_default()
            .insert(room.to_owned());
    }

    fn del(&mut self, socket: &SocketId, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(socket);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
        if let Some(rooms) = self.sockets.get_mut(socket) {
            rooms.remove(room);
        }
    }

    fn del_all(&mut self, socket: &SocketId) {
        for room in self.sockets.remove(socket).unwrap_or_default() {
            if let Some(members) = self.rooms.get_mut(&room) {
                members.remove(socket);
                if members.is_empty() {
                    self.rooms.remove(&room);
                }
            }
        }
    }

    fn socket_rooms(&self, socket: &SocketId) -> Vec<String> {
        self.sockets
            .get(socket)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn contains(&self, socket: &SocketId, room: &str) -> bool {
        self.sockets.get(socket).is_some_and(|r| r.contains(room))
    }

    fn room_count(&self, socket: &SocketId) -> usize {
        self.sockets.get(socket).map_or(0, BTreeSet::len)
    }

    fn rooms(&self) -> Vec<String> {
        self.rooms.keys().cloned().collect()
    }

    // ANCHOR: select
    fn select(&self, opts: &BroadcastOptions) -> Vec<SocketId> {
        let excluded = |id: &SocketId| {
            opts.except
                .iter()
                .any(|room| self.rooms.get(room).is_some_and(|m| m.contains(id)))
        };
        if opts.rooms.is_empty() {
            return self
                .sockets
                .keys()
                .filter(|id| !excluded(id))
                .cloned()
                .collect();
        }
        let mut chosen = BTreeSet::new();
        for room in &opts.rooms {
            for id in self.rooms.get(room).into_iter().flatten() {
                if !excluded(id) {
                    chosen.insert(id.clone());
                }
            }
        }
        chosen.into_iter().collect()
    }
    // ANCHOR_END: select
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<SocketId> {
        list.iter().map(|s| SocketId::new(s)).collect()
    }

    fn opts(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|s| s.to_string()).collect(),
            except: except.iter().map(|s| s.to_string()).collect(),
            volatile: false,
        }
    }

    #[test]
    fn to_is_a_union_and_except_subtracts() {
        let mut a = InMemoryAdapter::default();
        for (s, rooms) in [
            ("a", &["r1", "r2"][..]),
            ("b", &["r1"]),
            ("c", &["r2", "r3"]),
            ("d", &[]),
        ] {
            a.add(&SocketId::new(s), s);
            for r in rooms {
                a.add(&SocketId::new(s), r);
            }
        }
        assert_eq!(a.select(&opts(&[], &[])), ids(&["a", "b", "c", "d"]));
        assert_eq!(a.select(&opts(&["r1", "r2"], &[])), ids(&["a", "b", "c"]));
        assert_eq!(a.select(&opts(&["r1", "r2"], &["r3"])), ids(&["a", "b"]));
        assert_eq!(a.select(&opts(&["r1"], &["a"])), ids(&["b"]));
        assert_eq!(a.select(&opts(&[], &["r2"])), ids(&["b", "d"]));
        assert_eq!(a.select(&opts(&["nobody"], &[])), ids(&[]));
        assert_eq!(a.socket_rooms(&SocketId::new("c")), ["c", "r2", "r3"]);
        a.del(&SocketId::new("c"), "r3");
        assert!(
            !a.rooms().contains(&"r3".to_owned()),
            "an empty room is gone"
        );
        a.del_all(&SocketId::new("a"));
        assert_eq!(a.select(&opts(&["r1", "r2"], &[])), ids(&["b", "c"]));
        assert_eq!(a.room_count(&SocketId::new("a")), 0);
        assert_eq!(a.rooms(), ["b", "c", "d", "r1", "r2"]);
    }

    #[test]
    fn generated_ids_are_distinct_and_url_safe() {
        let a = SocketId::generate().unwrap();
        let b = SocketId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 20);
        assert!(
            a.as_str()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
