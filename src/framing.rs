//! Message boundaries on top of TCP's byte stream.
//!
//! TCP delivers bytes in order, but not in the pieces they were written in:
//! one `write` of "hello\n" may arrive as "he" then "llo\n", and two writes
//! may arrive in one `read`. A protocol that wants messages must mark where
//! each ends. Two classic ways:
//!
//! - **line-delimited**: a message ends at `\n` (SMTP, Redis' inline
//!   commands, HTTP's head);
//! - **length-prefixed**: a 4-byte big-endian length, then that many bytes
//!   (many binary protocols; WebSocket frames are a richer version).
//!
//! The decoders here are sans-IO: they look at the bytes buffered so far and
//! say "a whole message, and how many bytes it used" or "not yet". They never
//! read a socket, so the same code serves blocking readers, event loops and
//! tests that feed one byte at a time. [`FrameReader`] wraps them around any
//! blocking [`Read`].

use std::fmt;
use std::io::{self, Read};

/// How messages are marked in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Each message ends with `\n` (a `\r` before it is dropped too).
    Line,
    /// Each message is a 4-byte big-endian length, then the payload.
    LengthPrefixed,
}

/// A message would be longer than the limit the caller set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong {
    /// The limit, in bytes.
    pub limit: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "message longer than {} bytes", self.limit)
    }
}

impl std::error::Error for TooLong {}

/// A decoded message: its payload and the bytes of input it used.
pub type Decoded<'a> = Option<(&'a [u8], usize)>;

impl Framing {
    /// Decodes the first message in `buf`, if it is complete.
    pub fn decode(self, buf: &[u8], limit: usize) -> Result<Decoded<'_>, TooLong> {
        match self {
            Framing::Line => decode_line(buf, limit),
            Framing::LengthPrefixed => decode_length_prefixed(buf, limit),
        }
    }

    /// Appends `payload`, framed, to `out`.
    pub fn encode(self, payload: &[u8], out: &mut Vec<u8>) {
        match self {
            Framing::Line => {
                out.extend_from_slice(payload);
                out.push(b'\n');
            }
            Framing::LengthPrefixed => encode_length_prefixed(payload, out),
        }
    }
}

// ANCHOR: decode_line
/// The first line in `buf`, without its `\n` (or `\r\n`), and the bytes it
/// used; `None` while no `\n` has arrived. A line longer than `limit` is an
/// error as soon as `limit` bytes have come without a `\n`, so a peer cannot
/// make us buffer forever.
pub fn decode_line(buf: &[u8], limit: usize) -> Result<Decoded<'_>, TooLong> {
    let window = &buf[..buf.len().min(limit + 1)];
    match window.iter().position(|&b| b == b'\n') {
        Some(end) => {
            let line = &buf[..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Ok(Some((line, end + 1)))
        }
        None if buf.len() > limit => Err(TooLong { limit }),
        None => Ok(None),
    }
}
// ANCHOR_END: decode_line

// ANCHOR: length_prefixed
/// The first length-prefixed message in `buf` and the bytes it used; `None`
/// while the length or the payload is still incomplete.
pub fn decode_length_prefixed(buf: &[u8], limit: usize) -> Result<Decoded<'_>, TooLong> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None); // not even the length yet
    };
    let len = u32::from_be_bytes(*prefix) as usize;
    if len > limit {
        return Err(TooLong { limit }); // refuse before buffering it
    }
    match buf.get(4..4 + len) {
        Some(payload) => Ok(Some((payload, 4 + len))),
        None => Ok(None),
    }
}

/// Appends `payload` with its 4-byte big-endian length to `out`.
///
/// # Panics
/// If `payload` is 4 GiB or more, which a 4-byte length cannot express.
pub fn encode_length_prefixed(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).expect("payload under 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
}
// ANCHOR_END: length_prefixed

/// Reads whole messages from a blocking reader, however the bytes arrive.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    framing: Framing,
    limit: usize,
    buf: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    /// Reads messages of at most `limit` bytes, framed as `framing`.
    pub fn new(inner: R, framing: Framing, limit: usize) -> Self {
        FrameReader {
            inner,
            framing,
            limit,
            buf: Vec::new(),
        }
    }

    // ANCHOR: read_frame
    /// The next whole message; `Ok(None)` at a clean end of stream. An end of
    /// stream in the middle of a message is an `UnexpectedEof` error.
    pub fn read_frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut chunk = [0; 4096];
        loop {
            // First try the bytes we already have: one read may have brought
            // several messages.
            let decoded = self.framing.decode(&self.buf, self.limit);
            match decoded.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))? {
                Some((payload, used)) => {
                    let payload = payload.to_vec();
                    self.buf.drain(..used);
                    return Ok(Some(payload));
                }
                None => match self.inner.read(&mut chunk) {
                    Ok(0) if self.buf.is_empty() => return Ok(None),
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                },
            }
        }
    }
    // ANCHOR_END: read_frame

    /// The reader inside.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its bytes one per `read`, the worst case TCP
    /// is allowed to produce.
    struct OneByteAtATime<'a>(&'a [u8]);

    impl Read for OneByteAtATime<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.split_first() {
                Some((first, rest)) if !buf.is_empty() => {
                    buf[0] = *first;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// Feeds `stream` to `framing` one byte at a time, as a sans-IO caller
    /// would, collecting every message.
    fn feed_bytewise(framing: Framing, stream: &[u8]) -> Vec<Vec<u8>> {
        let mut buffered = Vec::new();
        let mut messages = Vec::new();
        for byte in stream {
            buffered.push(*byte);
            while let Some((payload, used)) = framing.decode(&buffered, 64).unwrap() {
                messages.push(payload.to_vec());
                buffered.drain(..used);
            }
        }
        assert!(buffered.is_empty(), "bytes left over: {buffered:?}");
        messages
    }

    #[test]
    fn lines_fed_one_byte_at_a_time() {
        let got = feed_bytewise(Framing::Line, b"hello\nwor\r\n\nld\n");
        assert_eq!(got, [&b"hello"[..], b"wor", b"", b"ld"]);
    }

    #[test]
    fn length_prefixed_fed_one_byte_at_a_time() {
        let mut stream = Vec::new();
        for payload in [&b"hi"[..], b"", b"line\nbreaks are data here"] {
            encode_length_prefixed(payload, &mut stream);
        }
        let got = feed_bytewise(Framing::LengthPrefixed, &stream);
        assert_eq!(got, [&b"hi"[..], b"", b"line\nbreaks are data here"]);
    }

    #[test]
    fn partial_input_consumes_nothing() {
        assert_eq!(decode_line(b"no newline yet", 64), Ok(None));
        assert_eq!(decode_length_prefixed(&[0, 0], 64), Ok(None));
        assert_eq!(decode_length_prefixed(&[0, 0, 0, 3, b'a'], 64), Ok(None));
    }

    #[test]
    fn limits_are_enforced_before_buffering_everything() {
        assert_eq!(decode_line(&[b'x'; 10], 9), Err(TooLong { limit: 9 }));
        assert_eq!(
            decode_line(b"123456789\n", 9),
            Ok(Some((&b"123456789"[..], 10)))
        );
        assert_eq!(
            decode_length_prefixed(&[0, 0, 1, 0], 255),
            Err(TooLong { limit: 255 })
        );
    }

    #[test]
    fn frame_reader_reassembles_partial_reads() {
        let mut reader = FrameReader::new(OneByteAtATime(b"one\ntwo\n"), Framing::Line, 64);
        assert_eq!(reader.read_frame().unwrap(), Some(b"one".to_vec()));
        assert_eq!(reader.read_frame().unwrap(), Some(b"two".to_vec()));
        assert_eq!(reader.read_frame().unwrap(), None);
    }

    #[test]
    fn frame_reader_reports_a_message_cut_short() {
        let mut reader = FrameReader::new(OneByteAtATime(b"one\ntw"), Framing::Line, 64);
        assert_eq!(reader.read_frame().unwrap(), Some(b"one".to_vec()));
        let err = reader.read_frame().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
