//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! A text message may be split across frames, and a frame across reads, at
//! any byte: even in the middle of a multi-byte character. Waiting for the
//! whole message before checking it would work, but RFC 6455 §8.1 asks an
//! endpoint to fail the connection as soon as it sees invalid UTF-8, and
//! Autobahn's cases 6.4.x check that we do (they send a bad byte, then wait).
//!
//! The trick: [`std::str::from_utf8`] already tells the two cases apart. Its
//! [`Utf8Error::error_len`](std::str::Utf8Error::error_len) is `Some(n)` when
//! the bytes are wrong whatever follows, and `None` when the input merely
//! stops in the middle of a character that could still be completed. So we
//! validate only the new bytes (plus the at most 3 bytes of an unfinished
//! character before them) and remember how far the text is known to be good.

/// The text so far contains bytes that are not UTF-8 whatever comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

// ANCHOR: utf8
/// Remembers how much of a growing buffer is known to be valid UTF-8.
///
/// Feed it the *whole* buffer after each append; it looks only at what it has
/// not checked yet, so validating a message costs O(its length) however it is
/// split.
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    /// `buf[..checked]` is complete, valid UTF-8.
    checked: usize,
}

impl Utf8Validator {
    /// A validator for an empty buffer.
    pub fn new() -> Utf8Validator {
        Utf8Validator::default()
    }

    /// Checks the bytes appended to `buf` since the last call. Fails at once
    /// on a sequence no continuation could fix; an unfinished character at
    /// the end is fine for now.
    pub fn feed(&mut self, buf: &[u8]) -> Result<(), InvalidUtf8> {
        let unchecked = buf.get(self.checked..).ok_or(InvalidUtf8)?;
        match std::str::from_utf8(unchecked) {
            Ok(_) => {
                self.checked = buf.len();
                Ok(())
            }
            // `None`: the input ended inside a character that may still
            // complete. Keep those bytes unchecked and look again next time.
            Err(err) if err.error_len().is_none() => {
                self.checked += err.valid_up_to();
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// The message is complete: `buf` must end on a character boundary too.
    pub fn finish(&mut self, buf: &[u8]) -> Result<(), InvalidUtf8> {
        self.feed(buf)?;
        if self.checked == buf.len() {
            Ok(())
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
    /// validation failed, if it did.
    fn first_failure(bytes: &[u8]) -> Option<usize> {
        let mut v = Utf8Validator::new();
        for end in 1..=bytes.len() {
            if v.feed(&bytes[..end]).is_err() {
                return Some(end - 1);
            }
        }
        None
    }

    #[test]
    fn valid_text_split_at_every_byte_passes() {
        let text = "κόσμε: ascii, é, €, 𝄞 and more";
        assert_eq!(first_failure(text.as_bytes()), None);
        let mut v = Utf8Validator::new();
        assert_eq!(v.finish(text.as_bytes()), Ok(()));
    }

    #[test]
    fn every_split_point_of_valid_text_passes() {
        let bytes = "a€𝄞é".as_bytes();
        for split in 0..=bytes.len() {
            let mut v = Utf8Validator::new();
            assert_eq!(v.feed(&bytes[..split]), Ok(()), "split at {split}");
            assert_eq!(v.finish(bytes), Ok(()), "split at {split}");
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
        assert_eq!(first_failure(&bytes), Some(bad));
    }

    #[test]
    fn code_points_above_u10ffff_fail_at_the_second_byte() {
        assert_eq!(first_failure(&[b'a', 0xf4, 0x90, 0x80, 0x80]), Some(2));
    }

    #[test]
    fn bytes_that_never_start_a_character_fail_at_once() {
        for byte in [0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff] {
            assert_eq!(first_failure(&[b'x', byte]), Some(1), "{byte:#x}");
        }
    }

    #[test]
    fn an_unfinished_character_at_the_end_fails_only_at_finish() {
        let bytes = [b'a', 0xe2, 0x82]; // the first two bytes of '€'
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&bytes), Ok(()));
        assert_eq!(v.finish(&bytes), Err(InvalidUtf8));
    }

    #[test]
    fn empty_text_is_valid() {
        assert_eq!(Utf8Validator::new().finish(b""), Ok(()));
    }
}
