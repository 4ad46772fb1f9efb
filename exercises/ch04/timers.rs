//! Exercise ch04-timers: the next deadline, for `poll`'s timeout.
//!
//! An event loop sleeps in `poll(timeout)`. To wake in time for the
//! earliest timer (a handshake or idle timeout, a heartbeat), it keeps
//! deadlines in a min-heap. Timers are often replaced or cancelled; instead
//! of searching the heap, each connection remembers its current deadline,
//! and heap entries that no longer match it are skipped when they surface
//! ("lazy deletion").
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch04-timers`. Stuck? `cargo learn hint ch04-timers`.
#![allow(unused_variables, unused_imports, dead_code)] // the stub does not use them yet

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

/// One timer per connection id, earliest first.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Each id's current deadline: the only heap entry for it that counts.
    current: HashMap<u64, Instant>,
}

impl Timers {
    /// No timers.
    pub fn new() -> Timers {
        Timers::default()
    }

    /// Sets `id`'s timer to `at`, replacing any earlier setting.
    pub fn set(&mut self, id: u64, at: Instant) {
        todo!("remember it as current, push it on the heap")
    }

    /// Clears `id`'s timer.
    pub fn cancel(&mut self, id: u64) {
        todo!()
    }

    /// How long `poll` may sleep from `now`: `None` without timers, zero if
    /// one is already due. Stale heap entries are dropped on the way.
    pub fn timeout(&mut self, now: Instant) -> Option<Duration> {
        todo!("skip stale entries, then time until the earliest")
    }

    /// The ids whose timers are due at `now`, earliest first; they are
    /// cleared.
    pub fn expired(&mut self, now: Instant) -> Vec<u64> {
        todo!("pop due entries that are current")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn no_timers_means_no_timeout() {
        assert_eq!(Timers::new().timeout(Instant::now()), None);
    }

    #[test]
    fn the_earliest_deadline_decides() {
        let now = Instant::now();
        let mut timers = Timers::new();
        timers.set(1, now + ms(300));
        timers.set(2, now + ms(100));
        timers.set(3, now + ms(200));
        assert_eq!(timers.timeout(now), Some(ms(100)));
        assert_eq!(
            timers.timeout(now + ms(150)),
            Some(Duration::ZERO),
            "already due"
        );
    }

    #[test]
    fn replaced_and_cancelled_timers_do_not_count() {
        let now = Instant::now();
        let mut timers = Timers::new();
        timers.set(1, now + ms(100));
        timers.set(1, now + ms(500)); // replaced: 100 ms is stale
        timers.set(2, now + ms(50));
        timers.cancel(2);
        assert_eq!(timers.timeout(now), Some(ms(500)));
        assert_eq!(timers.expired(now + ms(200)), Vec::<u64>::new());
        assert_eq!(timers.expired(now + ms(500)), vec![1]);
        assert_eq!(timers.timeout(now), None);
    }

    #[test]
    fn expired_returns_due_ids_in_order_and_clears_them() {
        let now = Instant::now();
        let mut timers = Timers::new();
        timers.set(7, now + ms(30));
        timers.set(8, now + ms(10));
        timers.set(9, now + ms(90));
        assert_eq!(timers.expired(now + ms(40)), vec![8, 7]);
        assert_eq!(timers.expired(now + ms(40)), Vec::<u64>::new());
        assert_eq!(timers.timeout(now + ms(40)), Some(ms(50)));
    }

    #[test]
    fn a_timer_set_again_after_firing_fires_again() {
        let now = Instant::now();
        let mut timers = Timers::new();
        timers.set(1, now + ms(10));
        assert_eq!(timers.expired(now + ms(10)), vec![1]);
        timers.set(1, now + ms(20));
        assert_eq!(timers.expired(now + ms(20)), vec![1]);
    }
}
