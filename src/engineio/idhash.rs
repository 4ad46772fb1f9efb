//! A fast hasher for tables keyed by ids the server makes itself (sids,
//! socket ids, client numbers), looked up several times per message.
//!
//! std's `HashMap` hashes with SipHash, keyed at random: slow for short
//! keys (about 200 instructions for a 20-byte sid), but safe when a peer
//! chooses the keys inserted (hash flooding). Here the server chooses every
//! key inserted, at random or by counting, so a peer cannot make them
//! collide; its lookups with made-up keys only probe. A multiply-rotate
//! hash (as rustc's `FxHasher`) is then enough. Tables whose keys a peer
//! names (namespaces, rooms) keep SipHash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` for server-made ids.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The multiply-rotate hasher behind [`IdMap`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher {
    hash: u64,
}

const SEED: u64 = 0xf135_7aea_2e62_a9c5;

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.hash = self.hash.wrapping_add(word).wrapping_mul(SEED);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weakest; the table picks its
        // bucket from the low bits and its tag from the top seven.
        self.hash.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn equal_keys_hash_alike_and_near_keys_spread() {
        let build = BuildHasherDefault::<IdHasher>::default();
        assert_eq!(build.hash_one("abc"), build.hash_one(String::from("abc")));
        // Sids differing in one character, and counters: every hash differs
        // in the bits a table of 1,024 buckets uses.
        let mut buckets = std::collections::HashSet::new();
        for i in 0..1024u64 {
            buckets.insert(build.hash_one(i) & 1023);
        }
        assert!(buckets.len() > 600, "{} buckets of 1024", buckets.len());
        let mut sids = std::collections::HashSet::new();
        for c in b'A'..=b'z' {
            let sid = format!("oSO0OpakMV_3jnilAAA{}", c as char);
            sids.insert(build.hash_one(&sid) & 1023);
        }
        assert!(sids.len() > 40, "{} buckets for 58 sids", sids.len());
        let mut map: IdMap<String, usize> = IdMap::default();
        map.insert("x".into(), 1);
        assert_eq!(map.get("x"), Some(&1));
    }
}
