//! Exercise ch01-read-line: one whole line from a byte stream.
//!
//! TCP delivers bytes, not lines: a line may arrive one byte per `read`, and
//! one `read` may bring the end of one line and the start of the next.
//! `read_line` hides that: it returns the next whole line, however the bytes
//! arrive, and keeps what it read past the line in `pending` for next time.
//!
//! Reference solution.

use std::io::{self, ErrorKind, Read};

/// Returns the next line from `reader`, without its `\n`.
///
/// - `pending` holds bytes read earlier but not returned yet; read from
///   `reader` only when `pending` holds no whole line, and leave any bytes
///   after the line in `pending`.
/// - `Ok(None)`: the stream ended cleanly, with nothing pending.
/// - `ErrorKind::UnexpectedEof`: the stream ended in the middle of a line.
/// - `ErrorKind::InvalidData`: more than `limit` bytes without a `\n`, or a
///   line that is not UTF-8.
pub fn read_line(
    reader: &mut impl Read,
    pending: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<String>> {
    let mut chunk = [0u8; 512];
    loop {
        if let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = pending.drain(..=end).collect();
            line.pop(); // the '\n'
            return String::from_utf8(line)
                .map(Some)
                .map_err(|e| io::Error::new(ErrorKind::InvalidData, e));
        }
        if pending.len() > limit {
            return Err(io::Error::new(ErrorKind::InvalidData, "line too long"));
        }
        match reader.read(&mut chunk) {
            Ok(0) if pending.is_empty() => return Ok(None),
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes in fixed-size pieces, as TCP may.
    struct Pieces<'a> {
        data: &'a [u8],
        size: usize,
        interrupt_first: bool,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.interrupt_first {
                self.interrupt_first = false;
                return Err(ErrorKind::Interrupted.into());
            }
            let n = self.data.len().min(self.size).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn pieces(data: &[u8], size: usize) -> Pieces<'_> {
        Pieces {
            data,
            size,
            interrupt_first: false,
        }
    }

    fn all_lines(reader: &mut impl Read) -> Vec<String> {
        let mut pending = Vec::new();
        let mut lines = Vec::new();
        while let Some(line) = read_line(reader, &mut pending, 100).unwrap() {
            lines.push(line);
        }
        lines
    }

    #[test]
    fn one_byte_per_read() {
        assert_eq!(
            all_lines(&mut pieces(b"hello\nworld\n", 1)),
            ["hello", "world"]
        );
    }

    #[test]
    fn several_lines_in_one_read() {
        assert_eq!(
            all_lines(&mut pieces(b"a\nbb\n\nccc\n", 4096)),
            ["a", "bb", "", "ccc"]
        );
    }

    #[test]
    fn lines_split_across_odd_pieces() {
        assert_eq!(
            all_lines(&mut pieces(b"first line\nsecond\nthird\n", 3)),
            ["first line", "second", "third"]
        );
    }

    #[test]
    fn keeps_what_follows_the_line_in_pending() {
        let mut pending = Vec::new();
        let line = read_line(&mut pieces(b"one\ntw", 4096), &mut pending, 100).unwrap();
        assert_eq!(line.as_deref(), Some("one"));
        assert_eq!(pending, b"tw");
    }

    #[test]
    fn uses_pending_before_reading() {
        let mut pending = b"ready\nrest".to_vec();
        let mut empty = pieces(b"", 1);
        assert_eq!(
            read_line(&mut empty, &mut pending, 100).unwrap().as_deref(),
            Some("ready")
        );
        assert_eq!(pending, b"rest");
    }

    #[test]
    fn retries_when_interrupted() {
        let mut reader = Pieces {
            data: b"ok\n",
            size: 1,
            interrupt_first: true,
        };
        assert_eq!(all_lines(&mut reader), ["ok"]);
    }

    #[test]
    fn end_of_stream_mid_line_is_an_error() {
        let mut pending = Vec::new();
        let err = read_line(&mut pieces(b"cut sh", 2), &mut pending, 100).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    }

    #[test]
    fn clean_end_of_stream_is_none() {
        let mut pending = Vec::new();
        assert!(
            read_line(&mut pieces(b"", 1), &mut pending, 100)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_line_over_the_limit_is_refused() {
        let mut pending = Vec::new();
        let endless = [b'x'; 10_000];
        let err = read_line(&mut pieces(&endless, 7), &mut pending, 100).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(pending.len() < 1000, "stopped reading soon after the limit");
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused() {
        let mut pending = Vec::new();
        let err = read_line(&mut pieces(b"\xff\xfe\n", 1), &mut pending, 100).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
    }
}
