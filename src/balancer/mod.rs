//! Chapter 6: a sticky, HTTP-aware load balancer for Engine.IO servers.
//!
//! Long-polling spreads one Engine.IO session over many HTTP requests, on
//! many connections. Every one of them must reach the server that holds the
//! session, or that server's neighbour answers `400 {"code":1,"message":
//! "Session ID unknown"}`. The balancer keeps them together:
//!
//! - a request that names a session (`?sid=...`) goes where that session
//!   lives ([`Table::route`]);
//! - a request that names none (a handshake, a plain page) goes to the next
//!   backend round-robin, skipping those that refused a connection lately;
//! - the balancer learns where a session lives from the backend's answer to
//!   a handshake: its body starts with the open packet, `0{"sid":...}`
//!   ([`sid_from_open_packet`]);
//! - a WebSocket upgrade is routed the same way, and once the backend
//!   answers `101` the two connections are joined and bytes flow both ways
//!   unread.
//!
//! The pieces: this file holds the routing rule and the session table, with
//! no I/O at all; [`proxy`] is the [`crate::driver::Protocol`] that runs it
//! on either driver, parsing requests with chapter 2's
//! [`crate::http::ServerConn`] and responses with its
//! [`crate::http::ResponseParser`].

pub mod proxy;

pub use proxy::{Balancer, Conn, Mail};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The longest `sid` the balancer looks up. Engine.IO's are 20 characters;
/// anything much longer is not a session id, and is refused as unknown.
pub const MAX_SID_LEN: usize = 64;

/// How long a session may go without a request before the balancer
/// forgets it: well above Engine.IO's `pingInterval + pingTimeout` (45 s
/// by default), within which a live polling session always sends one.
pub const SESSION_TTL: Duration = Duration::from_secs(120);

/// Sessions remembered at most; a full table forgets the oldest.
pub const MAX_SESSIONS: usize = 100_000;

/// How long a backend that refused a connection is skipped for new
/// sessions.
pub const DOWN_FOR: Duration = Duration::from_secs(2);

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To this backend (an index into the backend list).
    Backend(usize),
    /// It names a session the balancer does not know: no backend can
    /// serve it, so it is answered at once with Engine.IO's error 1.
    UnknownSession,
}

/// The value of `name` in a query string (`a=1&sid=xyz`), if present.
/// Values are taken as they are: Engine.IO's ids need no escaping.
pub fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some((key, value)) if key == name => Some(value),
            _ => None,
        })
}

// ANCHOR: learn_sid
/// The session id in a handshake's answer. A polling handshake's body
/// starts with the open packet (`0` and a JSON object), possibly followed
/// by more packets after a record separator (`\x1e`).
pub fn sid_from_open_packet(body: &[u8]) -> Option<String> {
    let first = body.split(|&b| b == 0x1e).next()?;
    let json = first.strip_prefix(b"0")?;
    let open: serde_json::Value = serde_json::from_slice(json).ok()?;
    let sid = open.get("sid")?.as_str()?;
    (!sid.is_empty() && sid.len() <= MAX_SID_LEN).then(|| sid.to_string())
}
// ANCHOR_END: learn_sid

/// Which backend serves which session, the round-robin cursor, and which
/// backends refused connections lately. No I/O: callers pass `now`.
#[derive(Debug)]
pub struct Table {
    backends: Vec<SocketAddr>,
    /// sid -> (backend, last request).
    sessions: HashMap<String, (usize, Instant)>,
    /// The next backend for a new session.
    next: usize,
    /// Per backend: skipped for new sessions until then.
    down_until: Vec<Option<Instant>>,
    /// When the last sweep of idle sessions ran.
    swept: Option<Instant>,
}

impl Table {
    /// A table for these backends (at least one).
    pub fn new(backends: Vec<SocketAddr>) -> Table {
        let n = backends.len();
        Table {
            backends,
            sessions: HashMap::new(),
            next: 0,
            down_until: vec![None; n],
            swept: None,
        }
    }

    /// The backends' addresses.
    pub fn backends(&self) -> &[SocketAddr] {
        &self.backends
    }

    /// Sessions remembered now.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    // ANCHOR: route
    /// The routing rule. A request naming a session goes where the session
    /// lives (or nowhere, if no backend is known to hold it); any other
    /// request goes to the next backend round-robin, skipping backends
    /// that refused a connection in the last [`DOWN_FOR`].
    pub fn route(&mut self, sid: Option<&str>, now: Instant) -> Route {
        if let Some(sid) = sid {
            return match self.sessions.get_mut(sid) {
                Some((backend, last_seen)) => {
                    *last_seen = now;
                    Route::Backend(*backend)
                }
                None => Route::UnknownSession,
            };
        }
        Route::Backend(self.next_backend(now, None))
    }
    // ANCHOR_END: route

    /// The next backend round-robin, not `except`, skipping those marked
    /// down. When every one is marked down, the next one is tried anyway:
    /// it may be back.
    pub fn next_backend(&mut self, now: Instant, except: Option<usize>) -> usize {
        let n = self.backends.len();
        for _ in 0..n {
            let candidate = self.next % n;
            self.next = (self.next + 1) % n;
            let down = self.down_until[candidate].is_some_and(|until| now < until);
            if !down && Some(candidate) != except {
                return candidate;
            }
        }
        let candidate = self.next % n;
        self.next = (self.next + 1) % n;
        candidate
    }

    /// `backend` refused a connection at `now`: skip it for a while.
    pub fn mark_down(&mut self, backend: usize, now: Instant) {
        if let Some(slot) = self.down_until.get_mut(backend) {
            *slot = Some(now + DOWN_FOR);
        }
    }

    /// `backend` answered: it is up.
    pub fn mark_up(&mut self, backend: usize) {
        if let Some(slot) = self.down_until.get_mut(backend) {
            *slot = None;
        }
    }

    /// Remembers that session `sid` lives on `backend`.
    pub fn learn(&mut self, sid: String, backend: usize, now: Instant) {
        if sid.len() > MAX_SID_LEN || backend >= self.backends.len() {
            return;
        }
        if self.sessions.len() >= MAX_SESSIONS && !self.sessions.contains_key(&sid) {
            self.sweep(now);
            if self.sessions.len() >= MAX_SESSIONS {
                // Still full of live sessions: forget the one idle longest.
                let oldest = self
                    .sessions
                    .iter()
                    .min_by_key(|(_, (_, seen))| *seen)
                    .map(|(sid, _)| sid.clone());
                if let Some(oldest) = oldest {
                    self.sessions.remove(&oldest);
                }
            }
        } else if self.swept.is_none_or(|at| now >= at + SESSION_TTL) {
            self.sweep(now);
        }
        self.sessions.insert(sid, (backend, now));
    }

    /// Forgets a session (its backend is gone).
    pub fn forget(&mut self, sid: &str) {
        self.sessions.remove(sid);
    }

    /// Forgets sessions idle for [`SESSION_TTL`].
    pub fn sweep(&mut self, now: Instant) {
        self.swept = Some(now);
        self.sessions
            .retain(|_, (_, seen)| now.saturating_duration_since(*seen) < SESSION_TTL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Table {
        Table::new(
            (0..n)
                .map(|i| SocketAddr::from(([127, 0, 0, 1], 9000 + i as u16)))
                .collect(),
        )
    }

    #[test]
    fn new_sessions_go_round_robin_and_known_ones_stay() {
        let now = Instant::now();
        let mut t = table(3);
        let picks: Vec<Route> = (0..4).map(|_| t.route(None, now)).collect();
        assert_eq!(
            picks,
            [0, 1, 2, 0].map(Route::Backend),
            "round-robin over three"
        );
        t.learn("abc".into(), 2, now);
        for _ in 0..5 {
            assert_eq!(t.route(Some("abc"), now), Route::Backend(2));
        }
        assert_eq!(t.route(Some("nope"), now), Route::UnknownSession);
    }

    #[test]
    fn a_backend_marked_down_is_skipped_until_its_time_is_up() {
        let now = Instant::now();
        let mut t = table(3);
        t.mark_down(1, now);
        let picks: Vec<Route> = (0..4).map(|_| t.route(None, now)).collect();
        assert_eq!(picks, [0, 2, 0, 2].map(Route::Backend));
        let later = now + DOWN_FOR;
        let picks: Vec<Route> = (0..3).map(|_| t.route(None, later)).collect();
        assert!(picks.contains(&Route::Backend(1)), "{picks:?}");
    }

    #[test]
    fn when_all_are_down_one_is_tried_anyway() {
        let now = Instant::now();
        let mut t = table(2);
        t.mark_down(0, now);
        t.mark_down(1, now);
        assert!(matches!(t.route(None, now), Route::Backend(0 | 1)));
        assert_eq!(t.next_backend(now, Some(0)), 1);
    }

    #[test]
    fn idle_sessions_are_forgotten() {
        let now = Instant::now();
        let mut t = table(2);
        t.learn("old".into(), 0, now);
        t.learn("new".into(), 1, now + SESSION_TTL);
        assert_eq!(t.sessions(), 1);
        assert_eq!(
            t.route(Some("old"), now + SESSION_TTL),
            Route::UnknownSession
        );
        assert_eq!(t.route(Some("new"), now + SESSION_TTL), Route::Backend(1));
    }

    #[test]
    fn the_sid_comes_from_the_open_packet() {
        let body = br#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        assert_eq!(
            sid_from_open_packet(body).as_deref(),
            Some("lv_VI97HAXpY6yYWAAAC")
        );
        let with_more = b"0{\"sid\":\"a\"}\x1e4hello";
        assert_eq!(sid_from_open_packet(with_more).as_deref(), Some("a"));
        for bad in [
            &b""[..],
            b"4hello",
            b"0{}",
            b"0{\"sid\":3}",
            b"0not json",
            b"0{\"sid\":\"\"}",
        ] {
            assert_eq!(sid_from_open_packet(bad), None, "{bad:?}");
        }
        let long = format!("0{{\"sid\":\"{}\"}}", "x".repeat(MAX_SID_LEN + 1));
        assert_eq!(sid_from_open_packet(long.as_bytes()), None);
    }

    #[test]
    fn query_params() {
        let q = Some("EIO=4&transport=polling&sid=abc&t=1");
        assert_eq!(query_param(q, "sid"), Some("abc"));
        assert_eq!(query_param(q, "transport"), Some("polling"));
        assert_eq!(query_param(q, "nope"), None);
        assert_eq!(query_param(None, "sid"), None);
        assert_eq!(query_param(Some("sidx=1"), "sid"), None);
    }
}
