//! Exercise ch04-slab: connection bookkeeping for an event loop.
//!
//! mio tells the loop which socket is ready by a `Token`, a plain number
//! chosen when the socket was registered. A slab turns that number into the
//! connection's state in O(1): a `Vec` of slots, where a closed connection's
//! slot is remembered and reused by the next one, so the numbers stay small
//! and the vector does not grow without end.
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch04-slab`. Stuck? `cargo learn hint ch04-slab`.
#![allow(unused_variables, dead_code)] // the stub does not use them yet

/// Values stored under small reusable keys.
#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<Option<T>>,
    /// Keys of empty slots, to reuse before growing.
    free: Vec<usize>,
}

impl<T> Slab<T> {
    /// An empty slab.
    pub fn new() -> Slab<T> {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Stores `value` and returns its key: a free slot's if there is one.
    pub fn insert(&mut self, value: T) -> usize {
        todo!("reuse a free slot, or push a new one")
    }

    /// Removes and returns the value under `key`, freeing its slot.
    /// `None` if the key is empty or was never given out.
    pub fn remove(&mut self, key: usize) -> Option<T> {
        todo!("take the value and remember the slot")
    }

    /// The value under `key`, if any.
    pub fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        todo!()
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        todo!()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_find_their_values() {
        let mut slab = Slab::new();
        let a = slab.insert("alice");
        let b = slab.insert("bob");
        assert_ne!(a, b);
        assert_eq!(slab.get_mut(a), Some(&mut "alice"));
        assert_eq!(slab.get_mut(b), Some(&mut "bob"));
        assert_eq!(slab.len(), 2);
    }

    #[test]
    fn removed_slots_are_reused() {
        let mut slab = Slab::new();
        let keys: Vec<usize> = (0..5).map(|i| slab.insert(i)).collect();
        assert_eq!(slab.remove(keys[2]), Some(2));
        assert_eq!(slab.len(), 4);
        let reused = slab.insert(99);
        assert_eq!(
            reused, keys[2],
            "a closed connection's slot goes to the next one"
        );
        assert_eq!(slab.get_mut(reused), Some(&mut 99));
        assert_eq!(slab.len(), 5);
    }

    #[test]
    fn removing_twice_or_unknown_keys_is_none() {
        let mut slab = Slab::new();
        let key = slab.insert('x');
        assert_eq!(slab.remove(key), Some('x'));
        assert_eq!(slab.remove(key), None);
        assert_eq!(slab.remove(1000), None);
        assert_eq!(slab.get_mut(key), None);
        assert_eq!(slab.len(), 0);
    }

    #[test]
    fn churn_keeps_the_slab_small() {
        let mut slab = Slab::new();
        for round in 0..1000 {
            let key = slab.insert(round);
            assert!(
                key < 2,
                "after a thousand open/close pairs the key is still {key}"
            );
            slab.remove(key);
        }
        assert_eq!(slab.len(), 0);
    }
}
