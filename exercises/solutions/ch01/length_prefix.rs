//! Exercise ch01-length-prefix: messages as a length, then the bytes.
//!
//! Line framing fails when the message itself may contain `\n`. Binary
//! protocols prefix each message with its length instead: here 4 bytes,
//! big-endian (network byte order), then the payload. The decoder is
//! sans-IO: it looks at what has arrived so far and either returns a whole
//! message or says "not yet", consuming nothing.
//!
//! Reference solution.

/// The announced length is over the limit: refuse before buffering it.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLong(pub usize);

/// `payload` with its 4-byte big-endian length in front.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The first whole message in `buf` and how many bytes of `buf` it used, or
/// `Ok(None)` if it has not all arrived. A length over `limit` is
/// `Err(TooLong(length))`, as soon as the 4 length bytes are in.
pub fn decode(buf: &[u8], limit: usize) -> Result<Option<(Vec<u8>, usize)>, TooLong> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*prefix) as usize;
    if len > limit {
        return Err(TooLong(len));
    }
    Ok(buf
        .get(4..4 + len)
        .map(|payload| (payload.to_vec(), 4 + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_length_then_payload() {
        assert_eq!(encode(b"hi"), [0, 0, 0, 2, b'h', b'i']);
        assert_eq!(encode(b""), [0, 0, 0, 0]);
        assert_eq!(encode(&[7; 300])[..4], [0, 0, 1, 44]);
    }

    #[test]
    fn decodes_what_it_encodes() {
        let message = b"line\nbreaks are just data";
        assert_eq!(
            decode(&encode(message), 100),
            Ok(Some((message.to_vec(), 4 + message.len())))
        );
    }

    #[test]
    fn waits_for_the_whole_message_fed_one_byte_at_a_time() {
        let mut stream = encode(b"first");
        stream.extend(encode(b""));
        stream.extend(encode(b"third"));
        let mut buffered = Vec::new();
        let mut messages = Vec::new();
        for byte in stream {
            buffered.push(byte);
            while let Some((payload, used)) = decode(&buffered, 100).unwrap() {
                messages.push(payload);
                buffered.drain(..used);
            }
        }
        assert_eq!(messages, [b"first".to_vec(), vec![], b"third".to_vec()]);
        assert!(buffered.is_empty());
    }

    #[test]
    fn partial_input_is_not_a_message() {
        assert_eq!(decode(&[], 100), Ok(None));
        assert_eq!(decode(&[0, 0, 0], 100), Ok(None));
        assert_eq!(decode(&[0, 0, 0, 3, b'a', b'b'], 100), Ok(None));
    }

    #[test]
    fn two_messages_in_one_buffer_decode_one_at_a_time() {
        let mut buf = encode(b"one");
        buf.extend(encode(b"two"));
        let (first, used) = decode(&buf, 100).unwrap().unwrap();
        assert_eq!((first.as_slice(), used), (&b"one"[..], 7));
        assert_eq!(decode(&buf[used..], 100), Ok(Some((b"two".to_vec(), 7))));
    }

    #[test]
    fn refuses_an_oversized_length_before_the_payload_arrives() {
        assert_eq!(decode(&[0, 0, 1, 0], 255), Err(TooLong(256)));
        assert_eq!(
            decode(&[255, 255, 255, 255], 1 << 20),
            Err(TooLong(u32::MAX as usize))
        );
        assert_eq!(decode(&encode(&[1; 255]), 255).unwrap().unwrap().1, 259);
    }
}
