//! Exercise ch05-sio-acks: ack ids and their timeouts.
//!
//! `socket.timeout(1000).emitWithAck("question")` (Node), `sio.call(...)`
//! (python-socketio): the server sends `2<id>["question"]` and waits for
//! the client's `3<id>[answer]`. Each side numbers its own requests, so
//! the waiting side keeps a table: which ids are awaited, and until when.
//! An answer after the deadline, a second answer, or an answer for an id
//! nobody waits for is ignored. The table is capped, since a client that
//! never answers must not make it grow without end.
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch05-sio-acks`. Stuck? `cargo learn hint ch05-sio-acks`.
#![allow(unused_variables, unused_imports, dead_code, unused_mut)] // the stub does not use them yet

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The acks one side awaits: id → deadline.
#[derive(Debug)]
pub struct Acks {
    /// The next id to hand out (0, 1, 2, …).
    pub next: u64,
    /// Awaited ids and their deadlines.
    pub pending: BTreeMap<u64, Instant>,
    /// Most acks awaited at once.
    pub max: usize,
}

/// Too many acks awaited already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl Acks {
    /// Nothing awaited yet; ids start at 0.
    pub fn new(max: usize) -> Acks {
        todo!("next 0, an empty map")
    }

    /// Await a new ack until `now + timeout`: its id, or `Full`.
    pub fn register(&mut self, now: Instant, timeout: Duration) -> Result<u64, Full> {
        todo!("check the cap, take next, insert its deadline")
    }

    /// An answer for `id` came at `now`: true when it was awaited and is
    /// in time (before its deadline). Either way the id is done with.
    pub fn answer(&mut self, id: u64, now: Instant) -> bool {
        todo!("remove, and compare now with the deadline")
    }

    /// The ids whose deadline has come (at or before `now`), in id order;
    /// they are no longer awaited.
    pub fn expire(&mut self, now: Instant) -> Vec<u64> {
        todo!("collect the due ids, then remove them")
    }

    /// The earliest deadline, to set a timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        todo!("the smallest value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn ids_count_up_from_zero() {
        let now = Instant::now();
        let mut acks = Acks::new(10);
        assert_eq!(acks.register(now, S), Ok(0));
        assert_eq!(acks.register(now, S), Ok(1));
        assert!(acks.answer(0, now));
        assert_eq!(acks.register(now, S), Ok(2), "an id is never reused");
    }

    #[test]
    fn an_answer_counts_once_and_only_in_time() {
        let now = Instant::now();
        let mut acks = Acks::new(10);
        let a = acks.register(now, S).unwrap();
        let b = acks.register(now, S).unwrap();
        assert!(acks.answer(a, now + S / 2));
        assert!(!acks.answer(a, now + S / 2), "a second answer is ignored");
        assert!(!acks.answer(b, now + S), "at the deadline is too late");
        assert!(!acks.answer(99, now), "nobody waits for 99");
        assert!(acks.pending.is_empty());
    }

    #[test]
    fn expiry_returns_the_due_ids_in_order() {
        let now = Instant::now();
        let mut acks = Acks::new(10);
        let a = acks.register(now, 3 * S).unwrap();
        let b = acks.register(now, S).unwrap();
        let c = acks.register(now, 2 * S).unwrap();
        assert_eq!(acks.next_deadline(), Some(now + S));
        assert!(acks.expire(now).is_empty());
        assert_eq!(acks.expire(now + 2 * S), [b, c]);
        assert_eq!(acks.next_deadline(), Some(now + 3 * S));
        assert!(acks.expire(now + 2 * S).is_empty(), "expired once");
        assert!(
            !acks.answer(b, now + S / 2),
            "an expired ack is not awaited"
        );
        assert_eq!(acks.expire(now + 10 * S), [a]);
        assert_eq!(acks.next_deadline(), None);
    }

    #[test]
    fn the_pending_count_is_capped() {
        let now = Instant::now();
        let mut acks = Acks::new(2);
        acks.register(now, S).unwrap();
        acks.register(now, S).unwrap();
        assert_eq!(acks.register(now, S), Err(Full));
        acks.expire(now + S);
        assert_eq!(acks.register(now, S), Ok(2), "room again once they expired");
    }
}
