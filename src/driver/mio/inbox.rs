//! Mailboxes on the event loop: any thread queues a message for a
//! connection and wakes the loop, which delivers it on its own thread.
//! The loop's own thread (a callback that mails a connection, its own
//! or another) queues without the wake-up, a system call, and the loop
//! delivers before it sleeps again.

use crate::driver::{Deliver, MailboxError};
use mio::Waker;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A connection's slot and generation: a message for a connection that has
/// gone must not reach a newer one that reuses its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Key {
    pub slot: usize,
    pub generation: u64,
}

thread_local! {
    /// The loop this thread runs, by the address of its [`Shared`]; 0 for
    /// none.
    static ON_LOOP: Cell<usize> = const { Cell::new(0) };
}

/// Messages for the loop's connections, waiting for the loop.
pub(super) struct Shared<M> {
    pub queue: Mutex<Vec<(Key, M)>>,
    pub waker: Arc<Waker>,
    /// The loop's own thread queued messages without waking it.
    pub local: AtomicBool,
}

/// Marks this thread as running a loop while it lives.
pub(super) struct OnLoop {
    outer: usize,
}

impl Drop for OnLoop {
    fn drop(&mut self) {
        ON_LOOP.with(|l| l.set(self.outer));
    }
}

impl<M> Shared<M> {
    /// Marks the calling thread as this loop's, until the guard drops.
    pub fn enter(&self) -> OnLoop {
        let outer = ON_LOOP.with(|l| l.replace(self.address()));
        OnLoop { outer }
    }

    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Whether messages the loop's own thread queued wait, and forgets it.
    pub fn take_local(&self) -> bool {
        self.local.swap(false, Ordering::AcqRel)
    }

    /// Whether messages the loop's own thread queued wait.
    pub fn has_local(&self) -> bool {
        self.local.load(Ordering::Acquire)
    }

    /// Takes every queued message.
    pub fn take_all(&self) -> Vec<(Key, M)> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What a connection and its mailboxes share: whether it is gone, and how
/// many messages wait for it.
#[derive(Debug, Default)]
pub(super) struct InboxState {
    pub closed: AtomicBool,
    pub queued: AtomicUsize,
}

/// A [`crate::driver::Mailbox`] backend: queue the message and wake the loop.
pub(super) struct LoopInbox<M> {
    pub key: Key,
    pub shared: Arc<Shared<M>>,
    pub state: Arc<InboxState>,
    pub capacity: usize,
}

impl<M: Send> Deliver<M> for LoopInbox<M> {
    fn deliver(&self, message: M) -> Result<(), MailboxError<M>> {
        if self.state.closed.load(Ordering::Acquire) {
            return Err(MailboxError::Closed(message));
        }
        if self.state.queued.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.state.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(MailboxError::Full(message));
        }
        let was_empty = {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.push((self.key, message));
            queue.len() == 1
        };
        // One wake-up per batch: the loop drains the whole queue when it
        // wakes. On the loop's own thread a flag will do: the loop looks at
        // it before it sleeps.
        if was_empty {
            if ON_LOOP.with(Cell::get) == self.shared.address() {
                self.shared.local.store(true, Ordering::Release);
            } else {
                let _ = self.shared.waker.wake();
            }
        }
        Ok(())
    }
}
