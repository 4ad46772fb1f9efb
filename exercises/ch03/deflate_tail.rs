//! Exercise ch03-deflate-tail: the four bytes permessage-deflate leaves out.
//!
//! A compressed WebSocket message is the raw DEFLATE of its payload,
//! finished with a *sync flush*: an empty stored block that always ends in
//! `00 00 ff ff`. Since every message would end with those four bytes, RFC
//! 7692 §7.2.1 has the sender remove them and the receiver put them back
//! before inflating.
//!
//! Replace the `todo!()`s so that the tests at the bottom pass:
//! `cargo learn check ch03-deflate-tail`. Stuck? `cargo learn hint ch03-deflate-tail`.
#![allow(unused_variables)] // the stub does not use them yet

/// What every sync flush ends with.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The sender's side: removes the tail from a sync-flushed stream. Returns
/// whether it was there (a stream that does not end with it is left as it is).
pub fn trim_tail(compressed: &mut Vec<u8>) -> bool {
    todo!("check the last four bytes, then shorten the vector")
}

/// The receiver's side: a message's payload with the tail put back, ready
/// to inflate.
pub fn with_tail(payload: &[u8]) -> Vec<u8> {
    todo!("one allocation: the payload, then TAIL")
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

    /// Raw DEFLATE of `data` with a sync flush, as a sender produces it.
    fn sync_flushed(data: &[u8]) -> Vec<u8> {
        let mut compress = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(data.len() + 64);
        compress
            .compress_vec(data, &mut out, FlushCompress::Sync)
            .unwrap();
        out
    }

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut decompress = Decompress::new(false);
        let mut out = Vec::with_capacity(64 * 1024);
        decompress
            .decompress_vec(data, &mut out, FlushDecompress::Sync)
            .unwrap();
        out
    }

    #[test]
    fn the_rfc_hello() {
        // RFC 7692 §7.2.3.1: "Hello" is sent as these 7 bytes.
        let mut compressed = sync_flushed(b"Hello");
        assert!(trim_tail(&mut compressed));
        assert_eq!(compressed, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(inflate(&with_tail(&compressed)), b"Hello");
    }

    #[test]
    fn round_trips() {
        for data in [&b""[..], b"a", &[7u8; 5000], "héllo wörld ✓".as_bytes()] {
            let mut compressed = sync_flushed(data);
            assert!(trim_tail(&mut compressed));
            assert!(!compressed.ends_with(&TAIL) || data.is_empty());
            let back = with_tail(&compressed);
            assert_eq!(back.len(), compressed.len() + 4);
            assert_eq!(inflate(&back), data);
        }
    }

    #[test]
    fn no_tail_is_left_alone() {
        let mut bytes = vec![0xf2, 0x48, 0x00, 0xff];
        assert!(!trim_tail(&mut bytes));
        assert_eq!(bytes, [0xf2, 0x48, 0x00, 0xff]);
        let mut short = vec![0xff, 0xff];
        assert!(!trim_tail(&mut short));
        assert_eq!(short, [0xff, 0xff]);
        assert_eq!(with_tail(&[]), TAIL);
    }
}
