//! The bytes waiting for one peer: owned bytes and shared buffers, in order.
//!
//! A broadcast to a thousand connections is encoded once into an
//! `Arc<[u8]>`; each connection's output holds a pointer to it, not a copy,
//! and the driver hands the kernel the pieces together with one vectored
//! write (`writev`). An idle connection's output holds no allocation at all.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::sync::Arc;

/// At most this many pieces go into one vectored write (Linux takes 1024).
const MAX_SLICES: usize = 64;

/// Owned bytes are merged into the previous owned piece up to this size, so
/// that many small sends do not make many small pieces.
const MERGE_BELOW: usize = 64 * 1024;

/// One piece of output.
#[derive(Debug, Clone)]
enum Piece {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Owned(bytes) => bytes,
            Piece::Shared(bytes) => bytes,
        }
    }
}

/// Bytes waiting to be written, in order.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pieces: VecDeque<Piece>,
    /// Bytes of the first piece already written.
    head: usize,
    /// Bytes not yet written, over all pieces.
    len: usize,
}

impl Output {
    /// Nothing to write (and nothing allocated).
    pub fn new() -> Output {
        Output::default()
    }

    /// Bytes not yet written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether everything has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues owned bytes.
    pub fn push_owned(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.len += bytes.len();
        if let Some(Piece::Owned(last)) = self.pieces.back_mut()
            && last.len() < MERGE_BELOW
        {
            last.extend_from_slice(&bytes);
            return;
        }
        self.pieces.push_back(Piece::Owned(bytes));
    }

    /// Queues a shared buffer without copying it.
    pub fn push_shared(&mut self, bytes: Arc<[u8]>) {
        if bytes.is_empty() {
            return;
        }
        self.len += bytes.len();
        self.pieces.push_back(Piece::Shared(bytes));
    }

    /// Queues everything in `other` after what is here.
    pub fn append(&mut self, mut other: Output) {
        if self.is_empty() {
            *self = other;
            return;
        }
        if other.head > 0
            && let Some(first) = other.pieces.pop_front()
        {
            // A partly written piece: only its rest is still to go.
            let rest = first.bytes()[other.head..].to_vec();
            other.len -= rest.len();
            self.push_owned(rest);
        }
        for piece in other.pieces {
            match piece {
                Piece::Owned(bytes) => self.push_owned(bytes),
                Piece::Shared(bytes) => self.push_shared(bytes),
            }
        }
    }

    /// Writes as much as `writer` takes: stops at `WouldBlock` (returned as
    /// `Ok` with what was written so far) or when everything is out. Other
    /// errors are returned.
    pub fn write_to(&mut self, writer: &mut impl Write) -> io::Result<usize> {
        let mut total = 0;
        while !self.is_empty() {
            let n = {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let mut count = 0;
                for (i, piece) in self.pieces.iter().take(MAX_SLICES).enumerate() {
                    let bytes = piece.bytes();
                    slices[i] = IoSlice::new(if i == 0 { &bytes[self.head..] } else { bytes });
                    count += 1;
                }
                match writer.write_vectored(&slices[..count]) {
                    Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote 0 bytes")),
                    Ok(n) => n,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(total),
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) => return Err(err),
                }
            };
            self.consume(n);
            total += n;
        }
        Ok(total)
    }

    /// Drops `n` written bytes from the front.
    fn consume(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(first) = self.pieces.front() else {
                break;
            };
            let left = first.bytes().len() - self.head;
            if n < left {
                self.head += n;
                return;
            }
            n -= left;
            self.head = 0;
            self.pieces.pop_front();
        }
        if self.pieces.is_empty() {
            // Idle again: hold no allocation.
            *self = Output::new();
        }
    }

    /// All the bytes, copied together (for tests and small tools).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.len);
        for (i, piece) in self.pieces.iter().enumerate() {
            let bytes = piece.bytes();
            all.extend_from_slice(if i == 0 { &bytes[self.head..] } else { bytes });
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `limit` bytes per call, then blocks.
    struct Trickle {
        got: Vec<u8>,
        per_call: usize,
        calls_left: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.calls_left == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.calls_left -= 1;
            let n = buf.len().min(self.per_call);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn sample() -> (Output, Vec<u8>) {
        let shared: Arc<[u8]> = Arc::from(&b"<shared broadcast>"[..]);
        let mut out = Output::new();
        out.push_owned(b"one ".to_vec());
        out.push_shared(Arc::clone(&shared));
        out.push_owned(b" two".to_vec());
        out.push_owned(b" three".to_vec());
        out.push_shared(shared);
        (
            out,
            b"one <shared broadcast> two three<shared broadcast>".to_vec(),
        )
    }

    #[test]
    fn pieces_come_out_in_order_whatever_the_writer_takes() {
        for per_call in 1..8 {
            let (mut out, expected) = sample();
            assert_eq!(out.len(), expected.len());
            let mut writer = Trickle {
                got: Vec::new(),
                per_call,
                calls_left: usize::MAX,
            };
            assert_eq!(out.write_to(&mut writer).unwrap(), expected.len());
            assert_eq!(writer.got, expected, "{per_call} bytes per call");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn a_blocked_writer_leaves_the_rest_queued() {
        let (mut out, expected) = sample();
        let mut writer = Trickle {
            got: Vec::new(),
            per_call: 3,
            calls_left: 2,
        };
        // Two calls: 3 bytes of "one ", then its last byte (a plain writer
        // takes one slice of a vectored write at a time).
        assert_eq!(out.write_to(&mut writer).unwrap(), 4);
        assert_eq!(writer.got, b"one ");
        assert_eq!(out.len(), expected.len() - 4);
        assert_eq!(out.to_vec(), expected[4..]);
        // What is left can be appended to another queue, in order.
        let mut other = Output::new();
        other.push_owned(b"before: ".to_vec());
        other.append(out);
        assert_eq!(other.to_vec(), [&b"before: "[..], &expected[4..]].concat());
    }

    #[test]
    fn small_owned_sends_merge_and_shared_buffers_are_not_copied() {
        let shared: Arc<[u8]> = Arc::from(vec![7u8; 100]);
        let mut out = Output::new();
        for _ in 0..1000 {
            out.push_owned(vec![1]);
        }
        assert_eq!(out.pieces.len(), 1);
        out.push_shared(Arc::clone(&shared));
        assert_eq!(Arc::strong_count(&shared), 2, "queued by reference");
        assert_eq!(out.len(), 1100);
    }

    #[test]
    fn an_emptied_output_holds_nothing() {
        let (mut out, _) = sample();
        let mut sink = Vec::new();
        out.write_to(&mut sink).unwrap();
        assert_eq!(out.pieces.capacity(), 0);
    }
}
