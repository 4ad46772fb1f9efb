//! The requests an adapter sent to the other servers and still waits on,
//! shared by the classic adapter ([`RedisAdapter`](super::RedisAdapter))
//! and the sharded one ([`ShardedAdapter`](super::ShardedAdapter)). Their
//! messages differ, but the bookkeeping is the same: the publisher counts
//! the servers (`PUBSUB NUMSUB` or `SHARDNUMSUB`, this one included) just
//! before the request goes out, the answers are collected until that many
//! came or the deadline passed, and the server then gets them with a
//! [`Report`] of how it went.
//!
//! What differs between the two protocols stays with each adapter, through
//! its `RequestKind`: which answer type the wire carries, who sent an answer,
//! how the answers read for the server, and which responses fit which
//! request (the adapter checks that before it hands an answer over).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::socketio::cluster::{Answers, Remote, Report, RequestId};

/// Node's default `requestsTimeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The number in a `PUBSUB NUMSUB channel` reply (`[channel, count]`),
/// the count of servers subscribed to the request channel.
pub fn servers_from_numsub(reply: &[(String, usize)], channel: &str) -> usize {
    reply
        .iter()
        .filter(|(c, _)| c == channel)
        .map(|(_, n)| n)
        .sum()
}

/// What the tracker needs to know of one adapter's kinds of request.
pub(crate) trait RequestKind: Copy {
    /// One server's answer, as this protocol carries it.
    type Answer;
    /// Whether this is a broadcast with acks. Its answers (client counts,
    /// then acks) go to the server one by one as they come, so the tracker
    /// collects none: it only passes on how many servers there are, and
    /// the server's own timer ends the broadcast.
    fn is_broadcast_ack(self) -> bool;
    /// The uid of the server that sent `answer`, if the answer says.
    fn responder(answer: &Self::Answer) -> Option<String>;
    /// The collected answers as the server wants them (sockets of the
    /// namespace `nsp`, rooms, or acks).
    fn answers(self, nsp: &str, answers: Vec<Self::Answer>) -> Answers;
}

/// A request of ours, until every server answered or its deadline.
struct Outgoing<K: RequestKind> {
    id: RequestId,
    kind: K,
    /// The other servers (the publisher's count minus this one), once
    /// Redis said.
    expected: Option<usize>,
    deadline: Instant,
    /// In arrival order.
    answers: Vec<K::Answer>,
}

/// The open requests of one namespace's adapter. Whatever it has to tell
/// the server goes to the adapter's `out` queue, in order with the rest.
pub(crate) struct RequestTracker<K: RequestKind> {
    nsp: String,
    requests: HashMap<String, Outgoing<K>>,
}

impl<K: RequestKind> RequestTracker<K> {
    /// No requests yet, for the adapter of namespace `nsp`.
    pub(crate) fn new(nsp: &str) -> Self {
        RequestTracker {
            nsp: nsp.to_owned(),
            requests: HashMap::new(),
        }
    }

    /// Wait for the answers to `request_id` (the server's `id`) until
    /// `deadline`. How many to wait for comes later, from
    /// [`on_servers`](Self::on_servers).
    pub(crate) fn start(&mut self, request_id: String, id: RequestId, kind: K, deadline: Instant) {
        self.requests.insert(
            request_id,
            Outgoing {
                id,
                kind,
                expected: None,
                deadline,
                answers: Vec::new(),
            },
        );
    }

    /// The server's id and the kind of our request `request_id`; `None`
    /// when it is not ours or no longer open (it ended, or timed out).
    pub(crate) fn get(&self, request_id: &str) -> Option<(RequestId, K)> {
        self.requests.get(request_id).map(|o| (o.id, o.kind))
    }

    /// The publisher's count of the servers for `request_id`, this one
    /// included, or why Redis could not be asked (the request then ends
    /// with that error). A broadcast with acks passes the count on to the
    /// server; any other request ends now if every other server already
    /// answered (or there is none).
    pub(crate) fn on_servers(
        &mut self,
        request_id: &str,
        count: Result<usize, String>,
        out: &mut VecDeque<Remote>,
    ) {
        let Some(o) = self.requests.get_mut(request_id) else {
            return;
        };
        match count {
            Ok(n) => {
                let others = n.saturating_sub(1);
                o.expected = Some(others);
                if o.kind.is_broadcast_ack() {
                    out.push_back(Remote::Servers {
                        id: o.id,
                        servers: others,
                    });
                } else if o.answers.len() >= others {
                    self.finish(request_id, false, None, out);
                }
            }
            Err(e) => self.finish(request_id, false, Some(e), out),
        }
    }

    /// One server's answer to `request_id`, which the adapter has checked
    /// fits the request. It ends the request when it is the last one
    /// expected; before the count is known, it is only kept.
    pub(crate) fn answer(
        &mut self,
        request_id: &str,
        answer: K::Answer,
        out: &mut VecDeque<Remote>,
    ) {
        let Some(o) = self.requests.get_mut(request_id) else {
            return;
        };
        o.answers.push(answer);
        if o.expected.is_some_and(|e| o.answers.len() >= e) {
            self.finish(request_id, false, None, out);
        }
    }

    /// End `request_id` with `error`, the reason it could not be sent.
    pub(crate) fn fail(&mut self, request_id: &str, error: String, out: &mut VecDeque<Remote>) {
        self.finish(request_id, false, Some(error), out);
    }

    /// The earliest deadline, for the server's timer.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.requests.values().map(|o| o.deadline).min()
    }

    /// End every request whose deadline is at or before `now`, with what
    /// arrived. It timed out unless every expected server had answered.
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut VecDeque<Remote>) {
        for (_, o) in self.requests.extract_if(|_, o| o.deadline <= now) {
            let timed_out = o.expected.is_none_or(|e| o.answers.len() < e);
            end(&self.nsp, o, timed_out, None, out);
        }
    }

    fn finish(
        &mut self,
        request_id: &str,
        timed_out: bool,
        error: Option<String>,
        out: &mut VecDeque<Remote>,
    ) {
        if let Some(o) = self.requests.remove(request_id) {
            end(&self.nsp, o, timed_out, error, out);
        }
    }
}

/// End a request of namespace `nsp`: its answers and report go to the
/// server (a broadcast with acks ends quietly: the server's own timer ends
/// it there).
fn end<K: RequestKind>(
    nsp: &str,
    o: Outgoing<K>,
    timed_out: bool,
    error: Option<String>,
    out: &mut VecDeque<Remote>,
) {
    if o.kind.is_broadcast_ack() {
        if o.expected.is_none() {
            // Redis never said how many: nobody else will answer.
            out.push_back(Remote::Servers {
                id: o.id,
                servers: 0,
            });
        }
        return;
    }
    let report = Report {
        expected: o.expected,
        answered: o.answers.len(),
        responders: o.answers.iter().filter_map(K::responder).collect(),
        timed_out,
        error,
    };
    out.push_back(Remote::Done {
        id: o.id,
        answers: o.kind.answers(nsp, o.answers),
        report,
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A protocol whose answers are `(responder, value)`.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum K {
        Collect,
        BroadcastAck,
    }

    impl RequestKind for K {
        type Answer = (Option<&'static str>, u32);
        fn is_broadcast_ack(self) -> bool {
            self == K::BroadcastAck
        }
        fn responder((uid, _): &Self::Answer) -> Option<String> {
            uid.map(str::to_owned)
        }
        fn answers(self, nsp: &str, answers: Vec<Self::Answer>) -> Answers {
            Answers::Rooms(answers.iter().map(|(_, n)| format!("{nsp}{n}")).collect())
        }
    }

    fn done(out: &mut VecDeque<Remote>) -> (RequestId, Answers, Report) {
        match out.pop_front() {
            Some(Remote::Done {
                id,
                answers,
                report,
            }) => (id, answers, report),
            other => panic!("not a Done: {other:?}"),
        }
    }

    #[test]
    fn answers_before_the_count_are_kept_and_the_count_ends_the_request() {
        let t0 = Instant::now();
        let (mut t, mut out) = (RequestTracker::new("/n"), VecDeque::new());
        t.start("r".into(), RequestId(1), K::Collect, t0);
        t.answer("r", (Some("a"), 1), &mut out);
        t.answer("r", (None, 2), &mut out);
        assert!(out.is_empty(), "the count is not known yet");
        assert_eq!(t.get("r"), Some((RequestId(1), K::Collect)));
        t.on_servers("r", Ok(3), &mut out);
        let (id, answers, report) = done(&mut out);
        assert_eq!(id, RequestId(1));
        assert_eq!(answers, Answers::Rooms(vec!["/n1".into(), "/n2".into()]));
        assert_eq!(report.expected, Some(2));
        assert_eq!(report.answered, 2);
        assert_eq!(report.responders, vec!["a".to_owned()]);
        assert!(!report.timed_out && report.error.is_none());
        assert_eq!(t.get("r"), None);
        t.answer("r", (Some("late"), 3), &mut out);
        assert!(out.is_empty(), "a late answer is dropped");
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn a_timeout_says_whether_every_expected_server_answered() {
        let t0 = Instant::now();
        let (mut t, mut out) = (RequestTracker::new("/"), VecDeque::new());
        t.start("short".into(), RequestId(1), K::Collect, t0);
        t.start(
            "long".into(),
            RequestId(2),
            K::Collect,
            t0 + Duration::from_secs(1),
        );
        t.on_servers("short", Ok(3), &mut out);
        t.answer("short", (None, 1), &mut out);
        assert_eq!(t.poll_timeout(), Some(t0));
        t.handle_timeout(t0, &mut out);
        let (id, _, report) = done(&mut out);
        assert_eq!(
            (id, report.expected, report.answered),
            (RequestId(1), Some(2), 1)
        );
        assert!(report.timed_out);
        assert!(out.is_empty(), "the other one is not due");
        t.handle_timeout(t0 + Duration::from_secs(1), &mut out);
        let (id, _, report) = done(&mut out);
        assert_eq!((id, report.expected), (RequestId(2), None));
        assert!(report.timed_out, "Redis never said how many");
    }

    #[test]
    fn a_request_that_could_not_be_sent_ends_with_the_error() {
        let (mut t, mut out) = (RequestTracker::new("/"), VecDeque::new());
        t.start("r".into(), RequestId(1), K::Collect, Instant::now());
        t.on_servers("r", Err("Redis is unreachable".into()), &mut out);
        let (_, _, report) = done(&mut out);
        assert_eq!(report.error.as_deref(), Some("Redis is unreachable"));
        assert!(!report.timed_out);
        t.start("q".into(), RequestId(2), K::Collect, Instant::now());
        t.fail("q", "full".into(), &mut out);
        assert_eq!(done(&mut out).2.error.as_deref(), Some("full"));
    }

    #[test]
    fn a_broadcast_with_acks_passes_the_count_on_and_ends_quietly() {
        let t0 = Instant::now();
        let (mut t, mut out) = (RequestTracker::new("/"), VecDeque::new());
        t.start("b".into(), RequestId(7), K::BroadcastAck, t0);
        t.on_servers("b", Ok(3), &mut out);
        assert!(matches!(
            out.pop_front(),
            Some(Remote::Servers {
                id: RequestId(7),
                servers: 2
            })
        ));
        t.handle_timeout(t0, &mut out);
        assert!(out.is_empty(), "the server's own timer ends it");
        // Without a count, the server hears that nobody else will answer.
        t.start("c".into(), RequestId(8), K::BroadcastAck, t0);
        t.handle_timeout(t0, &mut out);
        assert!(matches!(
            out.pop_front(),
            Some(Remote::Servers {
                id: RequestId(8),
                servers: 0
            })
        ));
        assert!(out.is_empty());
    }
}
