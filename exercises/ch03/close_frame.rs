//! Exercise ch03-close-frame: check a close frame's payload.
//!
//! A close frame's payload is empty, or a 2-byte big-endian status code
//! followed by a UTF-8 reason. Not every code may appear on the wire
//! (RFC 6455 §7.4): 1000-1003 and 1007-1011 are defined for use, 3000-4999
//! are for libraries and applications; everything else, including 1004,
//! 1005, 1006 and 1015 (which only describe events, never travel) and
//! codes below 1000, is a protocol error.
//!
//! Replace the `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch03-close-frame`. Stuck? `cargo learn hint ch03-close-frame`.
#![allow(unused_variables)] // the stub does not use them yet

/// The code and reason of a close frame: `Ok(None)` for an empty payload,
/// `Err(1002)` (protocol error) for a 1-byte payload or a code that may not
/// be sent, `Err(1007)` (invalid data) for a reason that is not UTF-8.
pub fn validate_close(payload: &[u8]) -> Result<Option<(u16, String)>, u16> {
    todo!("length, then the code's range, then the reason's UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(code: u16, reason: &[u8]) -> Vec<u8> {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason);
        payload
    }

    #[test]
    fn empty_and_normal_closes() {
        assert_eq!(validate_close(&[]), Ok(None));
        assert_eq!(
            validate_close(&payload(1000, b"")),
            Ok(Some((1000, String::new())))
        );
        assert_eq!(
            validate_close(&payload(1001, "bye ✓".as_bytes())),
            Ok(Some((1001, "bye ✓".to_string())))
        );
    }

    #[test]
    fn every_code_that_may_be_sent_is_accepted() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            assert_eq!(
                validate_close(&payload(code, b"")),
                Ok(Some((code, String::new()))),
                "{code}"
            );
        }
    }

    #[test]
    fn codes_that_may_not_be_sent_are_protocol_errors() {
        for code in [
            0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert_eq!(validate_close(&payload(code, b"")), Err(1002), "{code}");
        }
    }

    #[test]
    fn a_one_byte_payload_is_a_protocol_error() {
        assert_eq!(validate_close(&[0x03]), Err(1002));
    }

    #[test]
    fn a_reason_that_is_not_utf8_is_invalid_data() {
        assert_eq!(
            validate_close(&payload(
                1000,
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
            )),
            Err(1007)
        );
    }
}
