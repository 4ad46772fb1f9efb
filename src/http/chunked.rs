//! The chunked transfer coding (RFC 9112 §7.1), both ways.
//!
//! A chunked body is a series of chunks, each its size in hex, a CRLF, that
//! many bytes and a CRLF; a chunk of size 0 ends it, followed by optional
//! trailer fields and an empty line:
//!
//! ```text
//! 4;name=value\r\n      <- size 4, with a chunk extension (ignored)
//! Wiki\r\n
//! 0\r\n                 <- the last chunk
//! Expires: never\r\n    <- a trailer field
//! \r\n
//! ```
//!
//! The decoder is sans-IO like everything here: fed whatever has arrived, it
//! takes what it can and remembers where it is, so a body split anywhere,
//! even byte by byte, decodes the same.
//!
//! It insists on CRLF where the grammar says CRLF. Servers and proxies that
//! disagree about where a chunked body ends can be made to see a request
//! hidden inside another ("request smuggling"); strictness is the cure.

use super::headers::Headers;
use std::fmt;

/// Why a chunked body could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedError {
    /// Broken framing; the text says where.
    Malformed(&'static str),
    /// The decoded body would exceed its limit.
    TooLarge,
    /// The trailer section exceeds its byte limit.
    TrailersTooLarge,
    /// More trailer fields than allowed.
    TooManyTrailers,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkedError::Malformed(what) => write!(f, "malformed chunked body: {what}"),
            ChunkedError::TooLarge => f.write_str("chunked body too large"),
            ChunkedError::TrailersTooLarge => f.write_str("trailer section too large"),
            ChunkedError::TooManyTrailers => f.write_str("too many trailer fields"),
        }
    }
}

impl std::error::Error for ChunkedError {}

/// The decoder's limits (the server fills them from its `Limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkedLimits {
    /// Decoded body bytes.
    pub max_body: usize,
    /// Bytes in one chunk-size line, extensions included, CRLF excluded.
    pub max_line: usize,
    /// Bytes in the trailer section, final empty line included.
    pub max_trailer_bytes: usize,
    /// Trailer fields.
    pub max_trailers: usize,
}

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, with this many bytes to go.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer fields up to an empty line.
    Trailers,
    /// The body is complete.
    Done,
}

/// Progress of one [`ChunkedDecoder::decode`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used (they must not be offered again).
    pub consumed: usize,
    /// The body (and its trailers) is complete.
    pub done: bool,
}

/// Decodes one chunked body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    decoded: usize,
    limits: ChunkedLimits,
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new(limits: ChunkedLimits) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size,
            decoded: 0,
            limits,
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    // ANCHOR: chunked_decode
    /// Decodes what it can of `input`, appending chunk data to `body` and
    /// trailer fields to `trailers`. Partial lines are left unconsumed, to be
    /// offered again with more bytes.
    pub fn decode(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
        trailers: &mut Headers,
    ) -> Result<Decoded, ChunkedError> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match self.state {
                State::Done => return Ok(self.progress(used)),
                State::Size => {
                    let Some((line, len)) = crlf_line(rest, self.limits.max_line)? else {
                        return Ok(self.progress(used));
                    };
                    let size = parse_size_line(line)?;
                    // Refuse before buffering: the size alone tells us.
                    let room =
                        (self.limits.max_body - self.decoded.min(self.limits.max_body)) as u64;
                    if size > room {
                        return Err(ChunkedError::TooLarge);
                    }
                    used += len;
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(remaining) => {
                    if rest.is_empty() {
                        return Ok(self.progress(used));
                    }
                    // `take` fits in usize: it is at most `rest.len()`.
                    let take = remaining.min(rest.len() as u64) as usize;
                    body.extend_from_slice(&rest[..take]);
                    self.decoded += take;
                    used += take;
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        used += 2;
                        self.state = State::Size;
                    }
                    [] | [b'\r'] => return Ok(self.progress(used)),
                    _ => return Err(ChunkedError::Malformed("no CRLF after chunk data")),
                },
                State::Trailers => {
                    let Some(len) = self.trailers(rest, trailers)? else {
                        return Ok(self.progress(used));
                    };
                    used += len;
                    self.state = State::Done;
                }
            }
        }
    }
    // ANCHOR_END: chunked_decode

    fn progress(&self, consumed: usize) -> Decoded {
        Decoded {
            consumed,
            done: self.is_done(),
        }
    }

    /// Parses the trailer section with `httparse` (it has the same syntax as
    /// header fields). `None` while incomplete.
    fn trailers(&self, rest: &[u8], out: &mut Headers) -> Result<Option<usize>, ChunkedError> {
        let window = &rest[..rest.len().min(self.limits.max_trailer_bytes)];
        let mut fields = vec![httparse::EMPTY_HEADER; self.limits.max_trailers];
        match httparse::parse_headers(window, &mut fields) {
            Ok(httparse::Status::Complete((len, parsed))) => {
                for field in parsed {
                    out.push(field.name, field.value);
                }
                Ok(Some(len))
            }
            Ok(httparse::Status::Partial) if window.len() >= self.limits.max_trailer_bytes => {
                Err(ChunkedError::TrailersTooLarge)
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(httparse::Error::TooManyHeaders) => Err(ChunkedError::TooManyTrailers),
            Err(_) => Err(ChunkedError::Malformed("invalid trailer field")),
        }
    }
}

/// The first CRLF-terminated line of `input` (without the CRLF) and the bytes
/// it used; `None` while incomplete. A bare LF, or a line over `max` bytes, is
/// an error.
fn crlf_line(input: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, ChunkedError> {
    let window = &input[..input.len().min(max.saturating_add(2))];
    match window.iter().position(|&b| b == b'\n') {
        Some(end) => match window[..end].strip_suffix(b"\r") {
            Some(line) => Ok(Some((line, end + 1))),
            None => Err(ChunkedError::Malformed("bare LF in chunk size line")),
        },
        None if window.len() > max.saturating_add(1) => {
            Err(ChunkedError::Malformed("chunk size line too long"))
        }
        None => Ok(None),
    }
}

/// The size in a chunk-size line: hex digits, then optional extensions
/// (`;name=value`), which we check for control characters and ignore.
fn parse_size_line(line: &[u8]) -> Result<u64, ChunkedError> {
    let (digits, extensions) = match line.iter().position(|&b| b == b';') {
        Some(semi) => line.split_at(semi),
        None => (line, &[][..]),
    };
    // Whitespace may come before the `;` ("BWS" in the grammar).
    let digits = digits.trim_ascii_end();
    if digits.is_empty() || digits.len() > 15 {
        // 15 hex digits is already 1 PiB: more is an attempt at overflow.
        return Err(ChunkedError::Malformed("bad chunk size"));
    }
    let mut size = 0u64;
    for &digit in digits {
        let value = (digit as char)
            .to_digit(16)
            .ok_or(ChunkedError::Malformed("bad chunk size"))?;
        size = size * 16 + u64::from(value);
    }
    if extensions
        .iter()
        .any(|&b| b != b'\t' && (b < 0x20 || b == 0x7f))
    {
        return Err(ChunkedError::Malformed(
            "control character in chunk extension",
        ));
    }
    Ok(size)
}

// ANCHOR: chunked_encode
/// Appends one chunk carrying `data`. Empty data writes nothing: a chunk of
/// size 0 would end the body.
pub fn write_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk and the (empty) trailer section.
pub fn write_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}
// ANCHOR_END: chunked_encode

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ChunkedLimits = ChunkedLimits {
        max_body: 64,
        max_line: 32,
        max_trailer_bytes: 64,
        max_trailers: 4,
    };

    type Outcome = Result<(Vec<u8>, Headers, usize), ChunkedError>;

    /// Decodes `input` fed whole, as the driver would offer it.
    fn whole(input: &[u8]) -> Outcome {
        let mut decoder = ChunkedDecoder::new(LIMITS);
        let (mut body, mut trailers) = (Vec::new(), Headers::new());
        let progress = decoder.decode(input, &mut body, &mut trailers)?;
        assert!(progress.done, "incomplete: {progress:?}");
        Ok((body, trailers, progress.consumed))
    }

    /// Decodes `input` offered one more byte at a time, keeping what the
    /// decoder leaves unconsumed, as the driver does.
    fn byte_at_a_time(input: &[u8]) -> Outcome {
        let mut decoder = ChunkedDecoder::new(LIMITS);
        let (mut body, mut trailers) = (Vec::new(), Headers::new());
        let mut buffered = Vec::new();
        let mut total = 0;
        for &byte in input {
            buffered.push(byte);
            let progress = decoder.decode(&buffered, &mut body, &mut trailers)?;
            buffered.drain(..progress.consumed);
            total += progress.consumed;
            if progress.done {
                return Ok((body, trailers, total));
            }
        }
        panic!("incomplete after every byte");
    }

    fn both(input: &[u8]) -> Outcome {
        let a = whole(input);
        let b = byte_at_a_time(input);
        assert_eq!(a, b, "whole and byte-at-a-time differ for {input:?}");
        a
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers_however_split() {
        let input = b"4;name=value\r\nWiki\r\n5 ; x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\nNEXT";
        let (body, trailers, used) = both(input).unwrap();
        assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
        assert_eq!(trailers.get_str("expires"), Some("never"));
        assert_eq!(trailers.len(), 2);
        assert_eq!(used, input.len() - 4, "stops before the next message");
    }

    #[test]
    fn empty_body_and_uppercase_hex() {
        assert_eq!(both(b"0\r\n\r\n").unwrap().0, b"");
        let mut input = b"1A\r\n".to_vec();
        input.extend([b'x'; 26]);
        input.extend(b"\r\n0\r\n\r\n");
        assert_eq!(both(&input).unwrap().0.len(), 26);
    }

    #[test]
    fn malformed_bodies_fail_the_same_however_split() {
        let cases: [(&[u8], ChunkedError); 9] = [
            (b"x\r\n", ChunkedError::Malformed("bad chunk size")),
            (b"\r\n", ChunkedError::Malformed("bad chunk size")),
            (b"-1\r\n", ChunkedError::Malformed("bad chunk size")),
            (
                b"4\nWiki\r\n",
                ChunkedError::Malformed("bare LF in chunk size line"),
            ),
            (
                b"4\r\nWikiXX",
                ChunkedError::Malformed("no CRLF after chunk data"),
            ),
            (
                b"1000000000000000\r\n",
                ChunkedError::Malformed("bad chunk size"),
            ),
            (b"41\r\n", ChunkedError::TooLarge),
            (
                b"0\r\nBad Field: x\r\n\r\n",
                ChunkedError::Malformed("invalid trailer field"),
            ),
            (
                b"0\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n",
                ChunkedError::TooManyTrailers,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(whole(input), Err(expected), "whole {input:?}");
            assert_eq!(byte_at_a_time(input), Err(expected), "bytes {input:?}");
        }
    }

    #[test]
    fn long_lines_and_trailers_are_refused_without_waiting_for_their_end() {
        let mut decoder = ChunkedDecoder::new(LIMITS);
        let (mut body, mut trailers) = (Vec::new(), Headers::new());
        let long_line = [b'1'; 40];
        assert_eq!(
            decoder.decode(&long_line, &mut body, &mut trailers),
            Err(ChunkedError::Malformed("chunk size line too long"))
        );
        let mut decoder = ChunkedDecoder::new(LIMITS);
        let mut long_trailer = b"0\r\nX: ".to_vec();
        long_trailer.extend([b'a'; 80]);
        assert_eq!(
            decoder.decode(&long_trailer, &mut body, &mut trailers),
            Err(ChunkedError::TrailersTooLarge)
        );
    }

    #[test]
    fn body_limit_counts_every_chunk() {
        // 0x30 + 0x11 = 65 > 64, refused at the second size line.
        let mut input = b"30\r\n".to_vec();
        input.extend([b'a'; 0x30]);
        input.extend(b"\r\n11\r\n");
        assert_eq!(byte_at_a_time(&input), Err(ChunkedError::TooLarge));
        assert_eq!(
            ChunkedDecoder::new(LIMITS).decode(&input, &mut Vec::new(), &mut Headers::new()),
            Err(ChunkedError::TooLarge)
        );
    }

    #[test]
    fn encoder_output_decodes_back() {
        let mut out = Vec::new();
        write_chunk(b"hello ", &mut out);
        write_chunk(b"", &mut out);
        write_chunk(&[b'z'; 20], &mut out);
        write_last_chunk(&mut out);
        assert!(out.starts_with(b"6\r\nhello \r\n14\r\n"));
        let (body, trailers, used) = both(&out).unwrap();
        assert_eq!(body.len(), 26);
        assert!(trailers.is_empty());
        assert_eq!(used, out.len());
    }
}
