//! Masking: the XOR every client-to-server payload goes through.
//!
//! A client masks each frame's payload with a fresh random 4-byte key, byte
//! `i` XORed with `key[i % 4]`. It is not encryption (the key travels in the
//! frame header); it stops a malicious page from choosing the exact bytes a
//! confused proxy sees on the wire, which could otherwise poison its cache
//! (RFC 6455 §10.3). Unmasking is the same XOR.
//!
//! The payload of one frame may arrive in several reads, so every function
//! takes `offset`: how many payload bytes came before `buf`, which decides
//! where in the key `buf` starts.

// ANCHOR: unmask
/// XORs `buf` with `key`, as if `buf` started `offset` bytes into the payload.
///
/// Works eight bytes at a time: the key repeated twice is one `u64`, and
/// XORing whole words is several times faster than byte by byte on large
/// payloads. Byte order does not matter as long as the key word and the data
/// words are read the same way (`from_ne_bytes` both), so no `unsafe`, no
/// alignment games: `as_chunks_mut` (the array-typed `chunks_exact_mut`)
/// hands out `[u8; 8]` pieces and the few bytes left over go bytewise.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate the key so that it starts where `buf` starts in the payload.
    let mut key = key;
    key.rotate_left(offset % 4);
    let [a, b, c, d] = key;
    let word = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let (words, tail) = buf.as_chunks_mut::<8>();
    for chunk in words {
        *chunk = (u64::from_ne_bytes(*chunk) ^ word).to_ne_bytes();
    }
    // Every word is 8 bytes, a multiple of 4, so the tail starts at key[0].
    apply_mask_bytewise(tail, key, 0);
}
// ANCHOR_END: unmask

/// The obvious version: one byte at a time. The reference the fast one is
/// tested against.
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_at_a_time_equals_bytewise_for_every_offset_and_length() {
        let data: Vec<u8> = (0..70u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for key in [
            [0x37, 0xfa, 0x21, 0x3d],
            [0, 0, 0, 0],
            [0xff, 1, 0x80, 0x7f],
        ] {
            for offset in 0..9 {
                for len in 0..data.len() {
                    let mut fast = data[..len].to_vec();
                    let mut slow = data[..len].to_vec();
                    apply_mask(&mut fast, key, offset);
                    apply_mask_bytewise(&mut slow, key, offset);
                    assert_eq!(fast, slow, "key {key:?} offset {offset} len {len}");
                }
            }
        }
    }

    #[test]
    fn masking_twice_gives_the_original_back() {
        let original = b"Hello, WebSocket!".to_vec();
        let mut buf = original.clone();
        apply_mask(&mut buf, [1, 2, 3, 4], 0);
        assert_ne!(buf, original);
        apply_mask(&mut buf, [1, 2, 3, 4], 0);
        assert_eq!(buf, original);
    }

    #[test]
    fn rfc_example_masked_hello() {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let mut buf = vec![0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut buf, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(buf, b"Hello");
    }

    #[test]
    fn a_payload_unmasked_in_pieces_equals_one_piece() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..50).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        let mut pieces = data.clone();
        let (first, rest) = pieces.split_at_mut(7);
        apply_mask(first, key, 0);
        let (second, third) = rest.split_at_mut(13);
        apply_mask(second, key, 7);
        apply_mask(third, key, 20);
        assert_eq!(pieces, whole);
    }
}
