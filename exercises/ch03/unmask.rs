//! Exercise ch03-unmask: unmask a payload, a word at a time.
//!
//! A client XORs every payload byte `i` with `mask[i % 4]`. Undoing it byte
//! by byte is simple and slow; XOR-ing 8 bytes at once with the mask
//! repeated twice (`[m0 m1 m2 m3 m0 m1 m2 m3]`) does the same work in an
//! eighth of the steps. A payload may arrive in pieces, so `offset` says how
//! many bytes of the payload came before this piece: the mask continues
//! from `mask[offset % 4]`.
//!
//! Replace the `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch03-unmask`. Stuck? `cargo learn hint ch03-unmask`.
#![allow(unused_variables)] // the stub does not use them yet

/// XORs `data` with `mask`, as the bytes at positions `offset..` of a
/// payload. Masking and unmasking are the same operation.
pub fn unmask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    todo!("rotate the mask by offset, then 8 bytes at a time, then the tail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytewise(data: &mut [u8], mask: [u8; 4], offset: usize) {
        for (i, byte) in data.iter_mut().enumerate() {
            *byte ^= mask[(offset + i) % 4];
        }
    }

    #[test]
    fn the_rfc_example() {
        // RFC 6455 §5.7: a masked "Hello".
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        unmask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }

    #[test]
    fn equals_the_bytewise_version_for_every_length_and_offset() {
        let mask = [0x11, 0x22, 0x33, 0x44];
        for len in 0..40 {
            for offset in 0..8 {
                let original: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let (mut fast, mut slow) = (original.clone(), original.clone());
                unmask(&mut fast, mask, offset);
                bytewise(&mut slow, mask, offset);
                assert_eq!(fast, slow, "len {len}, offset {offset}");
            }
        }
    }

    #[test]
    fn a_payload_in_pieces_unmasks_like_a_whole_one() {
        let mask = [9, 8, 7, 6];
        let original: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut whole = original.clone();
        unmask(&mut whole, mask, 0);
        let mut pieces = original.clone();
        let (a, rest) = pieces.split_at_mut(13);
        let (b, c) = rest.split_at_mut(501);
        unmask(a, mask, 0);
        unmask(b, mask, 13);
        unmask(c, mask, 514);
        assert_eq!(pieces, whole);
    }

    #[test]
    fn masking_twice_restores_the_data() {
        let mut data = b"round and round".to_vec();
        unmask(&mut data, [1, 2, 3, 4], 2);
        assert_ne!(&data, b"round and round");
        unmask(&mut data, [1, 2, 3, 4], 2);
        assert_eq!(&data, b"round and round");
    }
}
