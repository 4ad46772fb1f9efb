//! Connection state recovery, as Socket.IO 4.6+ does it: a client that
//! loses its connection for a short while comes back as the same socket,
//! in the same rooms, with the same `data`, and receives what it missed.
//!
//! On the wire (only when [`Config::recovery`](super::Config::recovery) is
//! set; otherwise nothing changes):
//!
//! - the `CONNECT` answer carries a private session id next to the public
//!   one: `0{"sid":"…","pid":"…"}`;
//! - every event the server sends without an ack id and not volatile
//!   (broadcasts, and `emit` to one socket, which Node also routes through
//!   its adapter) gets one more argument at the end: its **offset**, a
//!   string. The client remembers the last offset it handled;
//! - a client that reconnects sends both back in its `CONNECT`:
//!   `0{"pid":"…","offset":"…", …auth}`.
//!
//! On a disconnect for a reason the client may come back from (a transport
//! close or error, a ping timeout, a forced close, a server shutdown), the
//! server keeps the session: `{sid, pid, nsp, rooms, data}`. It also keeps
//! every stamped packet, shared with what was sent (an `Arc`), with the
//! rooms it went to. When a `CONNECT` brings a known `pid` within
//! [`RecoveryConfig::max_disconnection_duration`], and nothing after its
//! offset has been evicted, the socket is restored: same `sid`, its rooms
//! joined again, its `data`, middleware skipped (Node's `skipMiddlewares`,
//! [`RecoveryConfig::skip_middlewares`]), and the packets after the offset
//! that its rooms would have received are sent right after the `CONNECT`
//! answer. The official client then says `socket.recovered === true`.
//! Anything else (unknown or expired `pid`, an offset we cannot vouch for)
//! is an ordinary new session, as in Node.
//!
//! Memory is bounded twice: by time (a packet and a session live
//! `max_disconnection_duration`) and by count ([`RecoveryConfig::max_packets`]
//! per namespace, [`RecoveryConfig::max_sessions`] in all), the oldest
//! going first. Offsets are a counter, so "nothing after this offset was
//! evicted" is one comparison; a session whose missed packets were dropped
//! for the cap gets a new session rather than a silent gap.
//!
//! The core reads no clock: it keeps the latest `now` the glue gave it
//! (every `on_*` call and [`Server::handle_timeout`](super::Server::handle_timeout))
//! as the time of an emit, and [`Server::poll_timeout`](super::Server::poll_timeout)
//! includes the next eviction.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::adapter::{BroadcastOptions, SocketId};
use super::packet::{Encoded, Packet, PacketType};
use super::value::Value;

// ANCHOR: config
/// Connection state recovery's knobs (Node's `connectionStateRecovery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected session, and a sent packet, are kept
    /// (Node: 2 minutes).
    pub max_disconnection_duration: Duration,
    /// A restored socket skips the namespace's middleware (Node: true).
    pub skip_middlewares: bool,
    /// Most packets kept per namespace; the oldest go first.
    pub max_packets: usize,
    /// Most disconnected sessions kept; the oldest go first.
    pub max_sessions: usize,
}

impl Default for RecoveryConfig {
    fn default() -> RecoveryConfig {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
            max_sessions: 10_000,
        }
    }
}
// ANCHOR_END: config

/// A packet kept for replay.
struct Retained {
    offset: u64,
    at: Instant,
    packet: Arc<Encoded>,
    /// Boxed slices, not sets: 16 bytes each when empty, no tree node.
    rooms: Box<[String]>,
    except: Box<[String]>,
}

/// One namespace's kept packets, oldest first.
#[derive(Default)]
struct Log {
    packets: VecDeque<Retained>,
    /// The highest offset dropped so far (0: none).
    evicted_upto: u64,
}

/// A disconnected socket, waiting to be restored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Session {
    pub sid: SocketId,
    pub pid: String,
    pub nsp: String,
    pub rooms: Vec<String>,
    pub data: serde_json::Value,
    pub disconnected_at: Instant,
}

/// What a successful restore gives back.
pub(crate) struct Restored {
    pub session: Session,
    /// The packets it missed, in order, to send after the `CONNECT` answer.
    pub missed: Vec<Arc<Encoded>>,
}

// ANCHOR: state
/// The kept sessions and packets of one server.
pub(crate) struct Recovery {
    config: RecoveryConfig,
    /// The latest time the glue told us.
    clock: Option<Instant>,
    /// The last offset given out (they start at 1).
    last_offset: u64,
    logs: HashMap<String, Log>,
    /// The highest offset evicted from a log that is gone since.
    dropped_logs_upto: u64,
    sessions: HashMap<String, Session>,
    /// (disconnected at, pid), oldest first; an entry whose session was
    /// restored or replaced is skipped when reached.
    session_order: VecDeque<(Instant, String)>,
}
// ANCHOR_END: state

impl Recovery {
    pub fn new(config: RecoveryConfig) -> Recovery {
        Recovery {
            config,
            clock: None,
            last_offset: 0,
            logs: HashMap::new(),
            dropped_logs_upto: 0,
            sessions: HashMap::new(),
            session_order: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    /// The glue's latest time; evicts what has expired by then.
    pub fn tick(&mut self, now: Instant) {
        if self.clock.is_none_or(|c| now > c) {
            self.clock = Some(now);
        }
        self.expire(now);
    }

    /// The time of an emit (the latest `now` seen).
    fn now(&self) -> Option<Instant> {
        self.clock
    }

    /// A fresh private session id.
    pub fn new_pid() -> Option<String> {
        SocketId::generate().ok().map(|id| id.as_str().to_owned())
    }

    /// The `CONNECT` answer with recovery on: `{"sid":…,"pid":…}`.
    pub fn connect_ok(nsp: &str, sid: &str, pid: &str) -> Packet {
        let data = Value::Object(BTreeMap::from([
            ("sid".to_owned(), Value::from(sid)),
            ("pid".to_owned(), Value::from(pid)),
        ]));
        Packet {
            kind: PacketType::Connect,
            nsp: nsp.to_owned(),
            id: None,
            data: Some(data),
        }
    }

    // ANCHOR: stamp
    /// Give an outgoing event its offset, as its last argument, when it is
    /// one that can be replayed: an event without an ack id, not volatile.
    /// Returns the offset, for [`Recovery::retain`] once it is encoded.
    pub fn stamp(&mut self, packet: &mut Packet, volatile: bool) -> Option<u64> {
        if volatile || packet.id.is_some() || packet.kind != PacketType::Event {
            return None;
        }
        let Some(Value::Array(items)) = packet.data.as_mut() else {
            return None;
        };
        self.last_offset += 1;
        items.push(Value::String(self.last_offset.to_string()));
        Some(self.last_offset)
    }

    /// Keep a stamped packet, with whom it went to.
    pub fn retain(
        &mut self,
        nsp: &str,
        offset: u64,
        packet: Arc<Encoded>,
        opts: &BroadcastOptions,
    ) {
        let Some(at) = self.now() else {
            // No time seen yet means no client yet: nobody to replay to.
            return;
        };
        let max = self.config.max_packets;
        let log = self.logs.entry(nsp.to_owned()).or_default();
        log.packets.push_back(Retained {
            offset,
            at,
            packet,
            rooms: opts.rooms.iter().cloned().collect(),
            except: opts.except.iter().cloned().collect(),
        });
        while log.packets.len() > max {
            if let Some(old) = log.packets.pop_front() {
                log.evicted_upto = old.offset;
            }
        }
    }
    // ANCHOR_END: stamp

    /// Keep a session that left for a reason it may come back from.
    pub fn persist(&mut self, mut session: Session, now: Instant) {
        self.tick(now);
        session.disconnected_at = self.clock.unwrap_or(now);
        let pid = session.pid.clone();
        self.session_order
            .push_back((session.disconnected_at, pid.clone()));
        self.sessions.insert(pid, session);
        while self.sessions.len() > self.config.max_sessions {
            let Some((at, pid)) = self.session_order.pop_front() else {
                break;
            };
            if self
                .sessions
                .get(&pid)
                .is_some_and(|s| s.disconnected_at == at)
            {
                self.sessions.remove(&pid);
            }
        }
    }

    /// A restored session whose socket was refused after all (middleware
    /// with `skip_middlewares` off): keep it as it was. Its place in the
    /// expiry order is approximate; [`Recovery::restore`] checks the time.
    pub fn put_back(&mut self, session: Session) {
        self.session_order
            .push_back((session.disconnected_at, session.pid.clone()));
        self.sessions.insert(session.pid.clone(), session);
    }

    // ANCHOR: restore
    /// A `CONNECT` to `nsp` brought `pid` and `offset`: the session and
    /// what it missed, or `None` for a new session. A restored session is
    /// forgotten (it is live again).
    pub fn restore(&mut self, nsp: &str, pid: &str, offset: &str) -> Option<Restored> {
        let now = self.now()?;
        let session = self.sessions.get(pid)?;
        if session.nsp != nsp {
            return None;
        }
        if session.disconnected_at + self.config.max_disconnection_duration <= now {
            self.sessions.remove(pid);
            return None;
        }
        // Only an offset we gave out (a client that received none sends
        // none, and gets a new session, as with Node).
        let offset: u64 = offset.parse().ok().filter(|&o| o >= 1)?;
        if offset > self.last_offset {
            return None;
        }
        let log = self.logs.get(nsp);
        // Every packet after the offset must still be here.
        let evicted = log.map_or(self.dropped_logs_upto, |l| l.evicted_upto);
        if evicted > offset {
            return None;
        }
        let session = self.sessions.remove(pid)?;
        let missed = log
            .into_iter()
            .flat_map(|l| l.packets.iter())
            .filter(|p| p.offset > offset && reaches(&session.rooms, p))
            .map(|p| Arc::clone(&p.packet))
            .collect();
        Some(Restored { session, missed })
    }
    // ANCHOR_END: restore

    /// When something kept will expire next.
    pub fn next_expiry(&self) -> Option<Instant> {
        let window = self.config.max_disconnection_duration;
        let packets = self
            .logs
            .values()
            .filter_map(|l| l.packets.front().map(|p| p.at + window))
            .min();
        let sessions = self.session_order.front().map(|(at, _)| *at + window);
        match (packets, sessions) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drop what is older than the window at `now`.
    fn expire(&mut self, now: Instant) {
        let window = self.config.max_disconnection_duration;
        for log in self.logs.values_mut() {
            while log.packets.front().is_some_and(|p| p.at + window <= now) {
                if let Some(old) = log.packets.pop_front() {
                    log.evicted_upto = old.offset;
                }
            }
        }
        // An emptied log goes (namespaces may be dynamic); what it had
        // evicted is remembered for all of them, to stay on the safe side.
        let mut dropped = self.dropped_logs_upto;
        self.logs.retain(|_, l| {
            if l.packets.is_empty() {
                dropped = dropped.max(l.evicted_upto);
            }
            !l.packets.is_empty()
        });
        self.dropped_logs_upto = dropped;
        while let Some((at, _)) = self.session_order.front() {
            if *at + window > now {
                break;
            }
            let (at, pid) = self.session_order.pop_front().expect("just seen");
            if self
                .sessions
                .get(&pid)
                .is_some_and(|s| s.disconnected_at == at)
            {
                self.sessions.remove(&pid);
            }
        }
        // Entries of restored sessions would otherwise pile up when nothing
        // expires for a long time.
        if self.session_order.len() > 2 * self.config.max_sessions.max(1) {
            let sessions = &self.sessions;
            self.session_order
                .retain(|(at, pid)| sessions.get(pid).is_some_and(|s| s.disconnected_at == *at));
        }
    }

    /// How many packets are kept now, in all namespaces.
    pub fn packet_count(&self) -> usize {
        self.logs.values().map(|l| l.packets.len()).sum()
    }

    /// How many sessions are kept now.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }
}

/// Whether a packet sent to `p`'s rooms (minus its exceptions) reached a
/// socket that was in `rooms` (its own room included): Node's
/// `shouldIncludePacket`.
fn reaches(rooms: &[String], p: &Retained) -> bool {
    let included = p.rooms.is_empty() || rooms.iter().any(|r| p.rooms.contains(r));
    let excluded = rooms.iter().any(|r| p.except.contains(r));
    included && !excluded
}

/// The disconnect reasons a client may recover from (Node's
/// `RECOVERABLE_DISCONNECT_REASONS`).
pub(crate) fn recoverable(reason: super::DisconnectReason) -> bool {
    use super::DisconnectReason as R;
    matches!(
        reason,
        R::TransportError
            | R::TransportClose
            | R::ForcedClose
            | R::PingTimeout
            | R::ServerShuttingDown
            | R::ForcedServerClose
    )
}

#[cfg(test)]
mod size {
    /// What the book quotes as the bookkeeping per kept packet (on top of
    /// the encoded packet, shared with what was sent, and the room names).
    #[test]
    fn a_kept_packet_costs_64_bytes_of_bookkeeping() {
        assert_eq!(std::mem::size_of::<super::Retained>(), 64);
    }
}
