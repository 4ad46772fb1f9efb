//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! A text message may be split across frames, and a frame across reads, at
//! any byte: even in the middle of a multi-byte character. Waiting for the
//! whole message before checking it would work, but RFC 6455 §8.1 asks an
//! endpoint to fail the connection as soon as it sees invalid UTF-8, and
//! Autobahn's cases 6.4.x check that we do (they send a bad byte, then wait).
//!
//! The trick: [`<[u8]>::utf8_chunks`](slice::utf8_chunks) walks bytes once, handing out each run of
//! valid text as a `&str` and each run of bad bytes. A bad run at the very
//! end may only be a character that has not finished arriving; anything else
//! is wrong whatever follows. So the text grows in a `String` as it is
//! checked, every byte is checked once, and the finished message needs no
//! second pass through `String::from_utf8`.

/// The text so far contains bytes that are not UTF-8 whatever comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

// ANCHOR: utf8
/// A text message being received: the part known to be valid, as a `String`.
#[derive(Debug, Default, Clone)]
pub struct Utf8Text {
    text: String,
}

impl Utf8Text {
    /// An empty message.
    pub fn new() -> Utf8Text {
        Utf8Text::default()
    }

    /// Bytes of text so far (not counting an unfinished character).
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether no text has been taken yet.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Takes the new bytes in `pending` (whatever was left last time, then
    /// what arrived since): every complete character moves into the text,
    /// and at most 3 bytes of an unfinished last character stay in
    /// `pending`. Fails at once on a sequence that no continuation could fix.
    pub fn feed(&mut self, pending: &mut Vec<u8>) -> Result<(), InvalidUtf8> {
        // The usual case, a whole message of valid text, in one pass
        // (`from_utf8` checks ASCII a word at a time).
        if let Ok(text) = std::str::from_utf8(pending) {
            self.text.push_str(text);
            pending.clear();
            return Ok(());
        }
        let mut taken = 0;
        for chunk in pending.utf8_chunks() {
            self.text.push_str(chunk.valid());
            taken += chunk.valid().len();
            let bad = chunk.invalid();
            if bad.is_empty() {
                continue;
            }
            // Bad bytes are fine only at the very end, and only if they are
            // the start of a character that may still complete: then
            // `from_utf8` reports no error length (at most 3 bytes to check).
            let at_end = taken + bad.len() == pending.len();
            let unfinished = std::str::from_utf8(bad).is_err_and(|e| e.error_len().is_none());
            if !(at_end && unfinished) {
                return Err(InvalidUtf8);
            }
        }
        pending.drain(..taken);
        Ok(())
    }

    /// The message is complete: nothing may be left unfinished.
    pub fn finish(mut self, pending: &mut Vec<u8>) -> Result<String, InvalidUtf8> {
        self.feed(pending)?;
        if pending.is_empty() {
            Ok(self.text)
        } else {
            Err(InvalidUtf8)
        }
    }
}
// ANCHOR_END: utf8

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` one at a time; returns the index of the byte at which
    /// validation failed, if it did, and else the finished text.
    fn bytewise(bytes: &[u8]) -> Result<String, usize> {
        let mut text = Utf8Text::new();
        let mut pending = Vec::new();
        for (i, byte) in bytes.iter().enumerate() {
            pending.push(*byte);
            text.feed(&mut pending).map_err(|_| i)?;
            assert!(pending.len() <= 3, "at most one unfinished character waits");
        }
        text.finish(&mut pending).map_err(|_| bytes.len())
    }

    #[test]
    fn valid_text_split_at_every_byte_passes() {
        let text = "κόσμε: ascii, é, €, 𝄞 and more";
        assert_eq!(bytewise(text.as_bytes()), Ok(text.to_string()));
    }

    #[test]
    fn every_split_point_of_valid_text_passes() {
        let bytes = "a€𝄞é".as_bytes();
        for split in 0..=bytes.len() {
            let mut text = Utf8Text::new();
            let mut pending = bytes[..split].to_vec();
            assert_eq!(text.feed(&mut pending), Ok(()), "split at {split}");
            pending.extend_from_slice(&bytes[split..]);
            assert_eq!(text.finish(&mut pending).as_deref(), Ok("a€𝄞é"));
        }
    }

    #[test]
    fn fails_on_the_first_impossible_byte_not_at_the_end() {
        // "κόσμε" then 0xed 0xa0 0x80 (a UTF-16 surrogate, never valid UTF-8)
        // then more text: the failure is at 0xa0, the first byte that cannot
        // continue 0xed, long before the message ends.
        let mut bytes = "κόσμε".as_bytes().to_vec();
        let bad = bytes.len() + 1;
        bytes.extend_from_slice(&[0xed, 0xa0, 0x80]);
        bytes.extend_from_slice(b"edited");
        assert_eq!(bytewise(&bytes), Err(bad));
    }

    #[test]
    fn a_bad_byte_in_the_middle_of_one_piece_fails() {
        let mut pending = b"ok\xffok".to_vec();
        assert_eq!(Utf8Text::new().feed(&mut pending), Err(InvalidUtf8));
    }

    #[test]
    fn code_points_above_u10ffff_fail_at_the_second_byte() {
        assert_eq!(bytewise(&[b'a', 0xf4, 0x90, 0x80, 0x80]), Err(2));
    }

    #[test]
    fn bytes_that_never_start_a_character_fail_at_once() {
        for byte in [0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff] {
            assert_eq!(bytewise(&[b'x', byte]), Err(1), "{byte:#x}");
        }
    }

    #[test]
    fn an_unfinished_character_at_the_end_fails_only_at_finish() {
        let bytes = [b'a', 0xe2, 0x82]; // the first two bytes of '€'
        assert_eq!(bytewise(&bytes), Err(3));
    }

    #[test]
    fn empty_text_is_valid() {
        assert_eq!(Utf8Text::new().finish(&mut Vec::new()), Ok(String::new()));
    }
}
