//! The loop's timers: one heap of (deadline, connection, kind).
//!
//! A connection that moves its deadline does not look for its old entry (a
//! heap cannot find one cheaply): it pushes a new one, and the old one is
//! *stale*, recognised and skipped when it comes out (lazy deletion). Stale
//! entries would pile up at high request rates (an HTTP idle timer moves on
//! every request), so when the heap has grown to twice its size after the
//! last clean-up, it is compacted: only live entries are kept.

use super::inbox::Key;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Which of a connection's deadlines an entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TimerKind {
    /// The protocol's own timer ([`crate::driver::Ctx::wake_at`]).
    Protocol,
    /// Time to check that a peer with unsent bytes is taking them.
    Stall,
    /// The end of lingering for the peer's FIN after ours.
    Linger,
}

/// One heap entry.
pub(super) type Entry = (Instant, Key, TimerKind);

/// The heap never shrinks below this before compacting.
const MIN_COMPACT_AT: usize = 1024;

// ANCHOR: timers
/// A heap of deadlines with lazy deletion and compaction.
#[derive(Debug)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Compact when the heap grows past this.
    compact_at: usize,
}

impl Timers {
    pub fn new() -> Timers {
        Timers {
            heap: BinaryHeap::new(),
            compact_at: MIN_COMPACT_AT,
        }
    }

    /// Entries in the heap, live and stale.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Adds a deadline. `is_live` tells which entries still matter, for the
    /// compaction this may trigger.
    pub fn push(&mut self, entry: Entry, is_live: impl Fn(&Entry) -> bool) {
        self.heap.push(Reverse(entry));
        if self.heap.len() > self.compact_at {
            self.heap.retain(|Reverse(entry)| is_live(entry));
            self.compact_at = (self.heap.len() * 2).max(MIN_COMPACT_AT);
        }
    }

    /// The earliest live deadline, dropping stale entries on the way.
    pub fn next(&mut self, is_live: impl Fn(&Entry) -> bool) -> Option<Instant> {
        while let Some(Reverse(entry)) = self.heap.peek() {
            if is_live(entry) {
                return Some(entry.0);
            }
            self.heap.pop();
        }
        None
    }

    /// Takes every entry due at `now`, live or not (the caller checks each
    /// as it comes to it: an earlier one may close a connection). Entries
    /// pushed while the caller works through these wait for the next pass,
    /// so a timer re-armed in the past cannot keep one pass going forever.
    pub fn take_due(&mut self, now: Instant) -> Vec<Entry> {
        let mut due = Vec::new();
        while let Some(Reverse(entry)) = self.heap.peek() {
            if entry.0 > now {
                break;
            }
            due.push(*entry);
            self.heap.pop();
        }
        due
    }
}
// ANCHOR_END: timers

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_million_moved_deadlines_do_not_pile_up() {
        let mut timers = Timers::new();
        let start = Instant::now();
        let key = Key {
            slot: 0,
            generation: 1,
        };
        // One connection moves its deadline a million times, as an idle
        // timer reset on every request does; only the latest is live.
        let mut latest = start;
        for i in 0..1_000_000u64 {
            latest = start + Duration::from_micros(i + 1);
            let current = latest;
            timers.push((latest, key, TimerKind::Protocol), |entry| {
                entry.0 == current
            });
        }
        assert!(
            timers.len() <= 2 * MIN_COMPACT_AT,
            "{} entries for one live deadline",
            timers.len()
        );
        assert_eq!(timers.next(|entry| entry.0 == latest), Some(latest));
    }

    #[test]
    fn live_entries_survive_compaction() {
        let mut timers = Timers::new();
        let start = Instant::now();
        // 3,000 live deadlines, each pushed with stale copies around it.
        for slot in 0..3000 {
            let key = Key {
                slot,
                generation: 1,
            };
            for stale in 0..3 {
                let at = start + Duration::from_millis(stale);
                timers.push((at, key, TimerKind::Protocol), |entry| {
                    entry.0 == start + Duration::from_secs(1)
                });
            }
            let live = start + Duration::from_secs(1);
            timers.push((live, key, TimerKind::Protocol), |entry| {
                entry.0 == start + Duration::from_secs(1)
            });
        }
        let due = timers.take_due(start + Duration::from_secs(1));
        let live = due
            .iter()
            .filter(|entry| entry.0 == start + Duration::from_secs(1))
            .count();
        assert_eq!(live, 3000);
    }

    #[test]
    fn entries_pushed_after_take_due_wait_for_the_next_pass() {
        let mut timers = Timers::new();
        let now = Instant::now();
        let key = Key {
            slot: 0,
            generation: 1,
        };
        timers.push((now, key, TimerKind::Protocol), |_| true);
        let due = timers.take_due(now);
        assert_eq!(due.len(), 1);
        // Re-armed in the past while handling it: not part of this pass.
        timers.push(
            (
                now.checked_sub(Duration::from_secs(1)).unwrap_or(now),
                key,
                TimerKind::Protocol,
            ),
            |_| true,
        );
        assert_eq!(timers.len(), 1);
        assert_eq!(timers.take_due(now).len(), 1, "the next pass fires it");
    }
}
