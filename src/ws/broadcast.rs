//! A registry of connections to send the same message to: a chat room.
//!
//! Each connection puts its [`Mailbox`] in the registry when it opens and
//! takes it out when it closes. Sending to everyone is then a loop of
//! non-blocking [`Mailbox::send`]s; each connection's driver delivers the
//! message on that connection's own thread (or event loop turn), where its
//! handler turns it into a frame.

use crate::driver::{Mailbox, MailboxError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Names one member, to leave with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberId(u64);

/// What one broadcast did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Members whose inbox took the message.
    pub delivered: usize,
    /// Members whose inbox was full: they are not keeping up, and miss this
    /// message rather than make everyone else wait or grow memory.
    pub dropped: usize,
    /// Members whose connection had closed: removed from the registry.
    pub removed: usize,
}

struct Members<M> {
    next_id: u64,
    list: Vec<(MemberId, Mailbox<M>)>,
}

/// A shared set of mailboxes. Cheap to clone: clones share the set.
pub struct Broadcast<M> {
    members: Arc<Mutex<Members<M>>>,
}

impl<M> Clone for Broadcast<M> {
    fn clone(&self) -> Self {
        Broadcast {
            members: Arc::clone(&self.members),
        }
    }
}

impl<M> Default for Broadcast<M> {
    fn default() -> Self {
        Broadcast {
            members: Arc::new(Mutex::new(Members {
                next_id: 0,
                list: Vec::new(),
            })),
        }
    }
}

impl<M> std::fmt::Debug for Broadcast<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Broadcast({} members)", self.len())
    }
}

// ANCHOR: broadcast
impl<M> Broadcast<M> {
    /// An empty registry.
    pub fn new() -> Broadcast<M> {
        Broadcast::default()
    }

    /// A panic in another thread while it held the lock leaves the list
    /// itself intact (every change is a single push or remove), so carry on.
    fn lock(&self) -> MutexGuard<'_, Members<M>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a connection's mailbox.
    pub fn join(&self, mailbox: Mailbox<M>) -> MemberId {
        let mut members = self.lock();
        let id = MemberId(members.next_id);
        members.next_id += 1;
        members.list.push((id, mailbox));
        id
    }

    /// Removes a member (again is harmless).
    pub fn leave(&self, id: MemberId) {
        self.lock().list.retain(|(member, _)| *member != id);
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.lock().list.len()
    }

    /// Is the registry empty?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<M: Clone> Broadcast<M> {
    /// Sends `message` to every member.
    pub fn send_all(&self, message: &M) -> Delivery {
        self.send_except(None, message)
    }

    /// Sends `message` to every member but `sender`.
    pub fn send_others(&self, sender: MemberId, message: &M) -> Delivery {
        self.send_except(Some(sender), message)
    }

    fn send_except(&self, except: Option<MemberId>, message: &M) -> Delivery {
        let mut delivery = Delivery::default();
        // Holding the lock while sending is fine: `Mailbox::send` never blocks.
        self.lock().list.retain(|(id, mailbox)| {
            if Some(*id) == except {
                return true;
            }
            match mailbox.send(message.clone()) {
                Ok(()) => delivery.delivered += 1,
                Err(MailboxError::Full(_)) => delivery.dropped += 1,
                Err(MailboxError::Closed(_)) => {
                    delivery.removed += 1;
                    return false;
                }
            }
            true
        });
        delivery
    }
}
// ANCHOR_END: broadcast

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Deliver;

    /// An inbox that holds up to `capacity` messages, or is closed.
    struct TestInbox {
        got: Arc<Mutex<Vec<String>>>,
        capacity: usize,
        closed: bool,
    }

    impl Deliver<String> for TestInbox {
        fn deliver(&self, message: String) -> Result<(), MailboxError<String>> {
            let mut got = self.got.lock().unwrap();
            if self.closed {
                Err(MailboxError::Closed(message))
            } else if got.len() >= self.capacity {
                Err(MailboxError::Full(message))
            } else {
                got.push(message);
                Ok(())
            }
        }
    }

    fn inbox(capacity: usize, closed: bool) -> (Mailbox<String>, Arc<Mutex<Vec<String>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let mailbox = Mailbox::new(TestInbox {
            got: Arc::clone(&got),
            capacity,
            closed,
        });
        (mailbox, got)
    }

    #[test]
    fn everyone_gets_it_the_full_miss_it_the_closed_leave() {
        let room = Broadcast::new();
        let (a, a_got) = inbox(10, false);
        let (b, b_got) = inbox(0, false);
        let (c, _) = inbox(10, true);
        room.join(a);
        room.join(b);
        room.join(c);
        let delivery = room.send_all(&"hi".to_string());
        assert_eq!(
            delivery,
            Delivery {
                delivered: 1,
                dropped: 1,
                removed: 1
            }
        );
        assert_eq!(*a_got.lock().unwrap(), ["hi"]);
        assert!(b_got.lock().unwrap().is_empty());
        assert_eq!(room.len(), 2, "the closed one is gone");
    }

    #[test]
    fn send_others_skips_the_sender_and_leave_removes() {
        let room = Broadcast::new();
        let (a, a_got) = inbox(10, false);
        let (b, b_got) = inbox(10, false);
        let a_id = room.join(a);
        let b_id = room.join(b);
        assert_eq!(room.send_others(a_id, &"from a".to_string()).delivered, 1);
        assert!(a_got.lock().unwrap().is_empty());
        assert_eq!(*b_got.lock().unwrap(), ["from a"]);
        room.leave(b_id);
        room.leave(b_id);
        assert_eq!(room.len(), 1);
        assert_eq!(room.clone().send_all(&"x".to_string()).delivered, 1);
    }
}
