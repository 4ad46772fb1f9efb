//! Exercise ch02-head-end: find where an HTTP head ends, across partial reads.
//!
//! An HTTP/1.1 request starts with a head (request line and headers) that
//! ends at the first empty line: `\r\n\r\n`. It may arrive in any number of
//! pieces, and the 4 bytes of the terminator may themselves be split. A naive
//! server rescans the whole buffer after every read, which is quadratic: a
//! slow client sending one byte at a time costs O(n²). `HeadFinder` remembers
//! how far it has already looked.
//!
//! Reference solution.

/// Finds the end of a head in a buffer that only ever grows.
#[derive(Debug, Default)]
pub struct HeadFinder {
    /// How many bytes at the front of the buffer have been searched already.
    searched: usize,
}

impl HeadFinder {
    /// A finder that has searched nothing yet.
    pub fn new() -> HeadFinder {
        HeadFinder::default()
    }

    /// Looks at `buf` (everything received so far: the previous `buf` plus
    /// new bytes at the end) and returns the length of the head including
    /// its `\r\n\r\n`, or `None` if it has not all arrived. Each call should
    /// look only at bytes it has not examined before (plus the 3 before them,
    /// where a split terminator may start).
    pub fn find(&mut self, buf: &[u8]) -> Option<usize> {
        // A terminator that straddles the old end starts at most 3 bytes back.
        let start = self.searched.saturating_sub(3);
        let found = buf[start..].windows(4).position(|w| w == b"\r\n\r\n");
        self.searched = buf.len();
        found.map(|at| start + at + 4)
    }

    /// How many bytes have been searched so far.
    pub fn searched(&self) -> usize {
        self.searched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: example\r\n\r\nBODY";
    const HEAD_LEN: usize = REQUEST.len() - 4;

    #[test]
    fn finds_the_end_in_one_piece() {
        assert_eq!(HeadFinder::new().find(REQUEST), Some(HEAD_LEN));
    }

    #[test]
    fn finds_the_end_fed_one_byte_at_a_time() {
        let mut finder = HeadFinder::new();
        let found = (1..=REQUEST.len()).find_map(|len| finder.find(&REQUEST[..len]));
        assert_eq!(found, Some(HEAD_LEN));
    }

    #[test]
    fn finds_a_terminator_split_at_every_point() {
        for split in 1..REQUEST.len() {
            let mut finder = HeadFinder::new();
            let first = finder.find(&REQUEST[..split]);
            let found = first.or_else(|| finder.find(REQUEST));
            assert_eq!(found, Some(HEAD_LEN), "split at {split}");
        }
    }

    #[test]
    fn an_incomplete_head_is_none() {
        let mut finder = HeadFinder::new();
        assert_eq!(finder.find(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(finder.find(b"GET / HTTP/1.1\r\nHost: x\r\n\r"), None);
        assert_eq!(finder.find(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Some(27));
    }

    #[test]
    fn bare_newlines_are_not_a_terminator() {
        assert_eq!(HeadFinder::new().find(b"GET / HTTP/1.1\n\n"), None);
    }

    #[test]
    fn remembers_how_far_it_searched() {
        let mut finder = HeadFinder::new();
        assert_eq!(finder.find(&[b'a'; 10]), None);
        assert_eq!(finder.searched(), 10);
        assert_eq!(finder.find(&[b'a'; 25]), None);
        assert_eq!(finder.searched(), 25);
    }
}
