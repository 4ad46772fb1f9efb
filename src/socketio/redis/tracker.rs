//! Requests awaiting answers from the other servers, sans-IO: no clock
//! read, no socket touched. The caller says how many servers to expect
//! (`PUBSUB NUMSUB` of the request channel, minus itself), feeds every
//! response, and calls [`Tracker::handle_timeout`] when
//! [`Tracker::poll_timeout`] says.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::wire::Response;

/// Node's default `requestsTimeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

// ANCHOR: tracker
/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The request's id.
    pub request_id: String,
    /// How many answers were expected.
    pub expected: usize,
    /// The answers received, in arrival order. Node's responses carry no
    /// responder uid: on a timeout, these are what the servers that did
    /// answer said, and `expected - responses.len()` servers said nothing.
    pub responses: Vec<Response>,
    /// Whether it ended by timing out.
    pub timed_out: bool,
}

#[derive(Debug)]
struct Pending {
    expected: usize,
    deadline: Instant,
    responses: Vec<Response>,
}

/// The open requests of one adapter.
#[derive(Debug)]
pub struct Tracker {
    timeout: Duration,
    pending: BTreeMap<String, Pending>,
    done: Vec<Finished>,
}

impl Default for Tracker {
    fn default() -> Tracker {
        Tracker::new(DEFAULT_TIMEOUT)
    }
}

impl Tracker {
    /// A tracker whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Tracker {
        Tracker {
            timeout,
            pending: BTreeMap::new(),
            done: Vec::new(),
        }
    }

    /// Track `request_id`, sent at `now`, expecting `expected` answers
    /// (NUMSUB minus this server). With none to expect, it is finished at
    /// once (as Node answers from local data alone when `numSub <= 1`).
    pub fn start(&mut self, request_id: &str, expected: usize, now: Instant) {
        if expected == 0 {
            self.done.push(Finished {
                request_id: request_id.to_owned(),
                expected,
                responses: Vec::new(),
                timed_out: false,
            });
            return;
        }
        self.pending.insert(
            request_id.to_owned(),
            Pending {
                expected,
                deadline: now + self.timeout,
                responses: Vec::new(),
            },
        );
    }

    /// Whether `request_id` is still waiting (a server skips requests it
    /// sent itself this way, as Node does).
    pub fn is_pending(&self, request_id: &str) -> bool {
        self.pending.contains_key(request_id)
    }

    /// A response from Redis. Returns false when it answers no open
    /// request (late, a stranger's, or a duplicate after the end).
    pub fn on_response(&mut self, response: Response) -> bool {
        let Some(p) = self.pending.get_mut(&response.request_id) else {
            return false;
        };
        p.responses.push(response);
        if p.responses.len() >= p.expected {
            let id = p
                .responses
                .last()
                .map(|r| r.request_id.clone())
                .unwrap_or_default();
            if let Some(p) = self.pending.remove(&id) {
                self.done.push(Finished {
                    request_id: id,
                    expected: p.expected,
                    responses: p.responses,
                    timed_out: false,
                });
            }
        }
        true
    }

    /// The earliest deadline, for the caller's timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// End every request whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                self.done.push(Finished {
                    request_id: id,
                    expected: p.expected,
                    responses: p.responses,
                    timed_out: true,
                });
            }
        }
    }

    /// The next finished request, complete or timed out.
    pub fn poll_finished(&mut self) -> Option<Finished> {
        if self.done.is_empty() {
            None
        } else {
            Some(self.done.remove(0))
        }
    }
}
// ANCHOR_END: tracker

/// The number in a `PUBSUB NUMSUB channel` reply (`[channel, count]`),
/// the count of servers subscribed to the request channel.
pub fn servers_from_numsub(reply: &[(String, usize)], channel: &str) -> usize {
    reply
        .iter()
        .filter(|(c, _)| c == channel)
        .map(|(_, n)| n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: &str, rooms: &[&str]) -> Response {
        Response {
            request_id: id.to_owned(),
            rooms: Some(rooms.iter().map(|r| r.to_string()).collect()),
            ..Response::default()
        }
    }

    #[test]
    fn finishes_when_every_expected_server_answered() {
        let t0 = Instant::now();
        let mut t = Tracker::default();
        t.start("r1", 2, t0);
        assert!(t.is_pending("r1"));
        assert!(t.on_response(answer("r1", &["a"])));
        assert!(t.poll_finished().is_none());
        assert!(!t.on_response(answer("other", &[])), "a stranger's answer");
        assert!(t.on_response(answer("r1", &["b"])));
        let f = t.poll_finished().unwrap();
        assert!(!f.timed_out);
        assert_eq!(f.responses.len(), 2);
        assert!(!t.on_response(answer("r1", &["c"])), "late, after the end");
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn a_timeout_reports_who_answered_and_nothing_else_moves_it() {
        let t0 = Instant::now();
        let mut t = Tracker::default();
        t.start("r1", 3, t0);
        t.start("none", 0, t0);
        assert_eq!(t.poll_finished().unwrap().request_id, "none");
        assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        t.on_response(answer("r1", &["a"]));
        t.handle_timeout(t0 + Duration::from_millis(4999));
        assert!(t.poll_finished().is_none(), "not yet");
        t.handle_timeout(t0 + Duration::from_secs(5));
        let f = t.poll_finished().unwrap();
        assert!(f.timed_out);
        assert_eq!((f.expected, f.responses.len()), (3, 1));
        assert_eq!(f.responses[0].rooms.as_deref(), Some(&["a".to_owned()][..]));
        assert!(!t.is_pending("r1"));
    }

    #[test]
    fn numsub_counts_the_request_channel() {
        let reply = vec![("socket.io-request#/#".to_owned(), 3)];
        assert_eq!(servers_from_numsub(&reply, "socket.io-request#/#"), 3);
        assert_eq!(servers_from_numsub(&reply, "other"), 0);
    }
}
