//! Mailboxes on the event loop: any thread queues a message for a
//! connection and wakes the loop, which delivers it on its own thread.

use crate::driver::{Deliver, MailboxError};
use mio::Waker;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A connection's slot and generation: a message for a connection that has
/// gone must not reach a newer one that reuses its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Key {
    pub slot: usize,
    pub generation: u64,
}

/// Messages from other threads, waiting for the loop.
pub(super) struct Shared<M> {
    pub queue: Mutex<Vec<(Key, M)>>,
    pub waker: Arc<Waker>,
}

impl<M> Shared<M> {
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
        // One wake-up per batch: the loop drains the whole queue when it wakes.
        if was_empty {
            let _ = self.shared.waker.wake();
        }
        Ok(())
    }
}
