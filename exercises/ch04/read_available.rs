//! Exercise ch04-read-available: read a non-blocking socket dry.
//!
//! An event loop learns "this socket is readable" once (epoll in
//! edge-triggered mode, as mio uses it), so it must read until the kernel
//! says `WouldBlock`; stopping earlier leaves bytes that no new event will
//! announce. Two other answers need care: `Interrupted` (a signal arrived:
//! just try again) and `Ok(0)` (the peer closed its side).
//!
//! Replace the `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch04-read-available`. Stuck? `cargo learn hint ch04-read-available`.
#![allow(unused_variables, unused_imports)] // the stub does not use them yet

use std::io::{self, ErrorKind, Read};

/// What one readiness event yielded.
#[derive(Debug, PartialEq, Eq)]
pub struct Drained {
    /// Bytes appended to the buffer.
    pub bytes: usize,
    /// The peer closed its sending side (a read returned 0).
    pub eof: bool,
}

/// Reads from `reader` into the end of `buf` until it would block or the
/// stream ends, retrying interrupted reads. Other errors are returned.
pub fn read_available(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Drained> {
    todo!("read until WouldBlock or 0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A reader that plays back a script of results, as a non-blocking
    /// socket would produce them.
    struct Script(VecDeque<io::Result<Vec<u8>>>);

    impl Read for Script {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match self.0.pop_front() {
                Some(Ok(bytes)) => {
                    out[..bytes.len()].copy_from_slice(&bytes);
                    Ok(bytes.len())
                }
                Some(Err(e)) => Err(e),
                None => {
                    panic!("read called after the script ended: it should have stopped earlier")
                }
            }
        }
    }

    fn script(steps: Vec<io::Result<&[u8]>>) -> Script {
        Script(steps.into_iter().map(|s| s.map(<[u8]>::to_vec)).collect())
    }

    #[test]
    fn reads_every_chunk_until_would_block() {
        let mut reader = script(vec![
            Ok(b"he"),
            Ok(b"llo"),
            Err(ErrorKind::WouldBlock.into()),
        ]);
        let mut buf = b">".to_vec();
        assert_eq!(
            read_available(&mut reader, &mut buf).unwrap(),
            Drained {
                bytes: 5,
                eof: false
            }
        );
        assert_eq!(buf, b">hello");
    }

    #[test]
    fn retries_interrupted_reads() {
        let mut reader = script(vec![
            Err(ErrorKind::Interrupted.into()),
            Ok(b"x"),
            Err(ErrorKind::Interrupted.into()),
            Ok(b"y"),
            Err(ErrorKind::WouldBlock.into()),
        ]);
        let mut buf = Vec::new();
        assert_eq!(
            read_available(&mut reader, &mut buf).unwrap(),
            Drained {
                bytes: 2,
                eof: false
            }
        );
        assert_eq!(buf, b"xy");
    }

    #[test]
    fn reports_the_end_of_the_stream_with_what_came_before() {
        let mut reader = script(vec![Ok(b"last words"), Ok(b"")]);
        let mut buf = Vec::new();
        assert_eq!(
            read_available(&mut reader, &mut buf).unwrap(),
            Drained {
                bytes: 10,
                eof: true
            }
        );
        assert_eq!(buf, b"last words");
    }

    #[test]
    fn nothing_to_read_is_not_an_error() {
        let mut reader = script(vec![Err(ErrorKind::WouldBlock.into())]);
        let mut buf = Vec::new();
        assert_eq!(
            read_available(&mut reader, &mut buf).unwrap(),
            Drained {
                bytes: 0,
                eof: false
            }
        );
    }

    #[test]
    fn other_errors_are_returned() {
        let mut reader = script(vec![Ok(b"a"), Err(ErrorKind::ConnectionReset.into())]);
        let mut buf = Vec::new();
        assert_eq!(
            read_available(&mut reader, &mut buf).unwrap_err().kind(),
            ErrorKind::ConnectionReset
        );
    }

    #[test]
    fn big_reads_are_not_truncated() {
        let big = vec![7u8; 100_000];
        let mut reader = Script(VecDeque::from(vec![Ok(big[..4096].to_vec())]));
        for _ in 1..24 {
            reader.0.push_back(Ok(big[..4096].to_vec()));
        }
        reader.0.push_back(Err(ErrorKind::WouldBlock.into()));
        let mut buf = Vec::new();
        assert_eq!(
            read_available(&mut reader, &mut buf).unwrap().bytes,
            24 * 4096
        );
    }
}
