//! How much a client may send, and how slowly, before the server gives up.
//!
//! Every limit protects the server from one way a client (careless or
//! hostile) could make it hold memory or a connection forever. Each one,
//! when hit, gets the answer HTTP defines for it, then the connection closes
//! after that answer is flushed: after a broken request we can no longer
//! trust where the next one would start.

use std::time::Duration;

// ANCHOR: limits
/// The server's limits. [`Limits::default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in a request head (request line and header fields, up to and
    /// including the empty line). Over it: 431. Also bounds the trailer
    /// section of a chunked body. Default 16 KiB.
    pub max_head_bytes: usize,
    /// Header fields in a request head (and trailer fields in a chunked
    /// body). Over it: 431. Default 64.
    pub max_headers: usize,
    /// Bytes of request body after any chunked decoding. Over it: 413,
    /// sent as soon as the `Content-Length` (or a chunk size) shows it, before
    /// the body is read. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Bytes in one chunk-size line of a chunked body, extensions included.
    /// Over it: 400. Default 1 KiB.
    pub max_chunk_line: usize,
    /// Time from the first byte of a request head to its end. A client that
    /// dribbles its head (the "slowloris" attack) gets 408, then the
    /// connection closes. Default 10 s.
    pub head_timeout: Duration,
    /// Time from the end of a request head to the end of its body: the same
    /// defence for a body sent a byte a minute. Over it: 408. Default 30 s.
    pub body_timeout: Duration,
    /// Time a kept-alive connection may sit with no request in progress
    /// before it is closed, silently (the client will just reconnect).
    /// Default 60 s.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 1024 * 1024,
            max_chunk_line: 1024,
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }
}
// ANCHOR_END: limits

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let limits = Limits::default();
        assert_eq!(limits.max_head_bytes, 16384);
        assert_eq!(limits.max_headers, 64);
        assert_eq!(limits.max_body_bytes, 1_048_576);
        assert_eq!(limits.max_chunk_line, 1024);
        assert_eq!(limits.head_timeout, Duration::from_secs(10));
        assert_eq!(limits.body_timeout, Duration::from_secs(30));
        assert_eq!(limits.idle_timeout, Duration::from_secs(60));
    }
}
