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

/// A written buffer up to this size may be kept for the next reply.
const MAX_SPARE: usize = 64 * 1024;

/// Owned bytes are merged into the previous owned piece up to this size, so
/// that many small sends do not make many small pieces.
const MERGE_BELOW: usize = 64 * 1024;

/// One piece of output.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
}

impl Piece {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Piece::Owned(bytes) => bytes,
            Piece::Shared(bytes) => bytes,
        }
    }
}

/// Bytes waiting to be written, in order.
///
/// The first piece is kept apart from the rest: the common case, one reply
/// in one buffer, then needs no queue allocation at all.
#[derive(Debug, Clone, Default)]
pub struct Output {
    first: Option<Piece>,
    rest: VecDeque<Piece>,
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

    fn push(&mut self, piece: Piece) {
        if self.first.is_none() {
            self.first = Some(piece);
        } else {
            self.rest.push_back(piece);
        }
    }

    /// The last piece, if it is owned and small enough to grow.
    fn mergeable_tail(&mut self) -> Option<&mut Vec<u8>> {
        let last = match self.rest.back_mut() {
            Some(last) => last,
            None => self.first.as_mut()?,
        };
        match last {
            Piece::Owned(bytes) if bytes.len() < MERGE_BELOW => Some(bytes),
            _ => None,
        }
    }

    /// Queues owned bytes.
    #[inline]
    pub fn push_owned(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.len += bytes.len();
        if self.first.is_none() {
            self.first = Some(Piece::Owned(bytes));
            return;
        }
        match self.mergeable_tail() {
            Some(tail) => tail.extend_from_slice(&bytes),
            None => self.push(Piece::Owned(bytes)),
        }
    }

    /// Queues a shared buffer without copying it.
    pub fn push_shared(&mut self, bytes: Arc<[u8]>) {
        if bytes.is_empty() {
            return;
        }
        self.len += bytes.len();
        self.push(Piece::Shared(bytes));
    }

    pub(crate) fn push_piece(&mut self, piece: Piece) {
        match piece {
            Piece::Owned(bytes) => self.push_owned(bytes),
            Piece::Shared(bytes) => self.push_shared(bytes),
        }
    }

    /// Writes as much as `writer` takes: stops at `WouldBlock` (returned as
    /// `Ok` with what was written so far) or when everything is out. Other
    /// errors are returned.
    pub fn write_to(&mut self, writer: &mut impl Write) -> io::Result<usize> {
        self.write_reusing(writer, &mut Vec::new())
    }

    /// Like [`Output::write_to`]; when a lone owned buffer is written whole,
    /// it is emptied and left in `spare` (if it is small and `spare` is
    /// smaller), so that the next reply can be built in it without a new
    /// allocation.
    pub fn write_reusing(
        &mut self,
        writer: &mut impl Write,
        spare: &mut Vec<u8>,
    ) -> io::Result<usize> {
        let mut total = 0;
        while let Some(first) = &self.first {
            let result = if self.rest.is_empty() {
                let result = writer.write(&first.bytes()[self.head..]);
                if let Ok(n) = result
                    && n == self.len
                {
                    // The common case: one piece, all of it taken.
                    if let Some(Piece::Owned(mut buffer)) = self.first.take()
                        && buffer.capacity() <= MAX_SPARE
                        && buffer.capacity() > spare.capacity()
                    {
                        buffer.clear();
                        *spare = buffer;
                    }
                    self.first = None;
                    self.head = 0;
                    self.len = 0;
                    return Ok(total + n);
                }
                result
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                slices[0] = IoSlice::new(&first.bytes()[self.head..]);
                let mut count = 1;
                for piece in self.rest.iter().take(MAX_SLICES - 1) {
                    slices[count] = IoSlice::new(piece.bytes());
                    count += 1;
                }
                writer.write_vectored(&slices[..count])
            };
            let n = match result {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote 0 bytes")),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(total),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            self.consume(n);
            total += n;
        }
        Ok(total)
    }

    /// Drops `n` written bytes from the front.
    #[inline]
    fn consume(&mut self, mut n: usize) {
        if n == self.len {
            // Everything went (the common case): idle again, no allocation.
            self.first = None;
            self.head = 0;
            self.len = 0;
            if self.rest.capacity() > 0 {
                self.rest = VecDeque::new();
            }
            return;
        }
        self.len -= n;
        while n > 0 {
            let Some(first) = &self.first else {
                break;
            };
            let left = first.bytes().len() - self.head;
            if n < left {
                self.head += n;
                return;
            }
            n -= left;
            self.head = 0;
            self.first = self.rest.pop_front();
        }
        if self.first.is_none() && self.rest.capacity() > 0 {
            // Idle again: hold no allocation.
            self.rest = VecDeque::new();
        }
    }

    /// All the bytes, copied together (for tests and small tools).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.len);
        if let Some(first) = &self.first {
            all.extend_from_slice(&first.bytes()[self.head..]);
        }
        for piece in &self.rest {
            all.extend_from_slice(piece.bytes());
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
    }

    #[test]
    fn small_owned_sends_merge_and_shared_buffers_are_not_copied() {
        let shared: Arc<[u8]> = Arc::from(vec![7u8; 100]);
        let mut out = Output::new();
        for _ in 0..1000 {
            out.push_owned(vec![1]);
        }
        assert!(out.rest.is_empty(), "merged into the first piece");
        out.push_shared(Arc::clone(&shared));
        assert_eq!(Arc::strong_count(&shared), 2, "queued by reference");
        assert_eq!(out.len(), 1100);
    }

    #[test]
    fn an_emptied_output_holds_nothing() {
        let (mut out, _) = sample();
        let mut sink = Vec::new();
        out.write_to(&mut sink).unwrap();
        assert!(out.first.is_none());
        assert_eq!(out.rest.capacity(), 0);
    }
}
