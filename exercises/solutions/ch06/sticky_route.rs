//! Exercise ch06-sticky-route: the routing rule of a sticky balancer.
//!
//! A long-polling Engine.IO session is many HTTP requests on many
//! connections, and every one must reach the server that holds the session:
//! any other answers `400 {"code":1,"message":"Session ID unknown"}`. So
//! `ch06-balancer` routes by the `sid` in the query string:
//!
//! - a request with a `sid` the balancer knows goes to that session's
//!   backend, even if it is down (no other backend could serve it);
//! - a request with a `sid` it does not know cannot be served anywhere;
//! - a request without a `sid` (a handshake, a page) goes to the next
//!   backend round-robin, skipping backends marked down; if every one is
//!   down, the next one is tried anyway;
//! - the balancer learns a session's backend from the answer to a
//!   handshake, whose body starts with the open packet:
//!   `0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],...}`,
//!   possibly followed by more packets after a `\x1e` separator.
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch06-sticky-route`. Stuck? `cargo learn hint ch06-sticky-route`.
#![allow(unused_variables, unused_imports, dead_code)] // the stub does not use them yet

use std::collections::HashMap;

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To this backend.
    Backend(usize),
    /// Nowhere: the session is unknown.
    UnknownSession,
}

/// The balancer's state.
#[derive(Debug)]
pub struct Sticky {
    /// sid -> backend.
    pub sessions: HashMap<String, usize>,
    /// The next backend for a request without a sid.
    pub next: usize,
    /// How many backends there are.
    pub backends: usize,
}

impl Sticky {
    /// A balancer over `backends` backends (at least one).
    pub fn new(backends: usize) -> Sticky {
        Sticky {
            sessions: HashMap::new(),
            next: 0,
            backends,
        }
    }

    /// The value of `sid` in a query string like `EIO=4&transport=polling&sid=abc`.
    pub fn sid(query: &str) -> Option<&str> {
        query
            .split('&')
            .find_map(|pair| match pair.split_once('=') {
                Some(("sid", value)) => Some(value),
                _ => None,
            })
    }

    /// Where the request with `query` goes; `down[i]` says backend `i` is
    /// marked down.
    pub fn route(&mut self, query: &str, down: &[bool]) -> Route {
        if let Some(sid) = Sticky::sid(query) {
            return match self.sessions.get(sid) {
                Some(&backend) => Route::Backend(backend),
                None => Route::UnknownSession,
            };
        }
        for _ in 0..self.backends {
            let candidate = self.next;
            self.next = (self.next + 1) % self.backends;
            if !down.get(candidate).copied().unwrap_or(false) {
                return Route::Backend(candidate);
            }
        }
        let candidate = self.next;
        self.next = (self.next + 1) % self.backends;
        Route::Backend(candidate)
    }

    /// Learns from a handshake's answer `body`, which came from `backend`,
    /// where its session lives. Anything that is not an open packet with a
    /// non-empty string `sid` teaches nothing.
    pub fn learn(&mut self, backend: usize, body: &[u8]) {
        let Some(first) = body.split(|&b| b == 0x1e).next() else {
            return;
        };
        let Some(json) = first.strip_prefix(b"0") else {
            return;
        };
        let Ok(open) = serde_json::from_slice::<serde_json::Value>(json) else {
            return;
        };
        if let Some(sid) = open.get("sid").and_then(|s| s.as_str())
            && !sid.is_empty()
        {
            self.sessions.insert(sid.to_string(), backend);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: &[u8] = br#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

    #[test]
    fn the_sid_is_a_query_parameter() {
        assert_eq!(Sticky::sid("EIO=4&transport=polling&sid=abc"), Some("abc"));
        assert_eq!(Sticky::sid("sid=x&EIO=4"), Some("x"));
        assert_eq!(Sticky::sid("EIO=4&transport=polling"), None);
        assert_eq!(Sticky::sid("sidx=1&xsid=2"), None);
        assert_eq!(Sticky::sid(""), None);
    }

    #[test]
    fn new_sessions_go_round_robin() {
        let mut s = Sticky::new(3);
        let up = [false; 3];
        let q = "EIO=4&transport=polling";
        let picks: Vec<Route> = (0..5).map(|_| s.route(q, &up)).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1].map(Route::Backend));
    }

    #[test]
    fn a_learned_session_always_goes_to_its_backend() {
        let mut s = Sticky::new(3);
        s.learn(2, OPEN);
        let q = "EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC";
        for _ in 0..4 {
            assert_eq!(s.route(q, &[false; 3]), Route::Backend(2));
        }
        // Even when it is down: nobody else could serve it.
        assert_eq!(s.route(q, &[false, false, true]), Route::Backend(2));
        // Sessions do not move the round-robin cursor.
        assert_eq!(s.route("EIO=4", &[false; 3]), Route::Backend(0));
    }

    #[test]
    fn an_unknown_session_goes_nowhere() {
        let mut s = Sticky::new(2);
        assert_eq!(
            s.route("EIO=4&sid=nope", &[false; 2]),
            Route::UnknownSession
        );
    }

    #[test]
    fn backends_marked_down_are_skipped() {
        let mut s = Sticky::new(3);
        let down = [false, true, false];
        let picks: Vec<Route> = (0..4).map(|_| s.route("", &down)).collect();
        assert_eq!(picks, [0, 2, 0, 2].map(Route::Backend));
    }

    #[test]
    fn when_all_are_down_the_next_is_tried_anyway() {
        let mut s = Sticky::new(2);
        let picks: Vec<Route> = (0..3).map(|_| s.route("", &[true, true])).collect();
        assert_eq!(picks, [0, 1, 0].map(Route::Backend));
    }

    #[test]
    fn learning_reads_only_the_open_packet() {
        let mut s = Sticky::new(2);
        s.learn(1, b"0{\"sid\":\"a\"}\x1e4hello");
        assert_eq!(s.sessions.get("a"), Some(&1));
        for bad in [
            &b""[..],
            b"4hello",
            b"0{}",
            b"0{\"sid\":3}",
            b"0{\"sid\":\"\"}",
            b"0not json",
            b"{\"sid\":\"b\"}",
        ] {
            s.learn(0, bad);
        }
        assert_eq!(s.sessions.len(), 1, "{:?}", s.sessions);
    }
}
