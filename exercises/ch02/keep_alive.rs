//! Exercise ch02-keep-alive: may the connection stay open after a response?
//!
//! HTTP/1.1 keeps connections open by default, so many requests can share
//! one TCP connection; a `Connection: close` header ends it after the
//! response. HTTP/1.0 is the other way round: it closes by default and stays
//! open only with `Connection: keep-alive`. The header's value is a
//! comma-separated list of tokens, case-insensitive, and may appear in
//! several `Connection` headers.
//!
//! Replace the `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch02-keep-alive`. Stuck? `cargo learn hint ch02-keep-alive`.
#![allow(unused_variables)] // the stub does not use them yet

/// Whether the connection stays open after answering a request with HTTP
/// minor version `minor_version` (0 for HTTP/1.0, 1 for HTTP/1.1) and these
/// `Connection` header values (one entry per header line).
pub fn keep_alive(minor_version: u8, connection_headers: &[&str]) -> bool {
    todo!("the version's default, unless a token says otherwise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_1_1_keeps_alive_by_default() {
        assert!(keep_alive(1, &[]));
        assert!(keep_alive(1, &["keep-alive"]));
    }

    #[test]
    fn http_1_1_closes_when_asked() {
        assert!(!keep_alive(1, &["close"]));
        assert!(!keep_alive(1, &["Close"]));
        assert!(!keep_alive(1, &["Upgrade, close"]));
        assert!(!keep_alive(1, &["upgrade", " CLOSE "]));
    }

    #[test]
    fn http_1_0_closes_by_default() {
        assert!(!keep_alive(0, &[]));
        assert!(!keep_alive(0, &["upgrade"]));
    }

    #[test]
    fn http_1_0_keeps_alive_when_asked() {
        assert!(keep_alive(0, &["keep-alive"]));
        assert!(keep_alive(0, &["Keep-Alive"]));
        assert!(keep_alive(0, &["foo, keep-alive"]));
    }

    #[test]
    fn close_wins_over_keep_alive() {
        assert!(!keep_alive(0, &["keep-alive, close"]));
        assert!(!keep_alive(1, &["keep-alive", "close"]));
    }

    #[test]
    fn tokens_are_whole_words() {
        assert!(keep_alive(1, &["closed"]));
        assert!(!keep_alive(0, &["keep-alive-please"]));
    }
}
