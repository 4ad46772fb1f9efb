//! Exercise ch02-chunked: decode a chunked request body.
//!
//! With `Transfer-Encoding: chunked` a body is sent as chunks, each a size
//! in hexadecimal, an optional `;extension`, CRLF, that many bytes, CRLF.
//! A chunk of size 0 ends the body, followed by optional trailer lines and a
//! final empty line. For example, "Wikipedia" in two chunks:
//!
//! ```text
//! 4\r\nWiki\r\n5;note=x\r\npedia\r\n0\r\n\r\n
//! ```
//!
//! Replace the `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch02-chunked`. Stuck? `cargo learn hint ch02-chunked`.
#![allow(unused_variables)] // the stub does not use them yet

/// What is wrong with a chunked body.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// A size line that is not hexadecimal, or data not followed by CRLF.
    Malformed,
    /// The body would be longer than the limit.
    TooLarge,
}

/// Decodes a whole chunked body from the front of `buf`: the body and the
/// number of bytes of `buf` used (through the final empty line). `Ok(None)`
/// if it has not all arrived. A body longer than `limit` bytes is
/// `TooLarge` as soon as a chunk size shows it.
pub fn decode_chunked(buf: &[u8], limit: usize) -> Result<Option<(Vec<u8>, usize)>, ChunkError> {
    todo!("size line, data, CRLF; until the 0 chunk and the trailers")
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIKI: &[u8] = b"4\r\nWiki\r\n5;note=x\r\npedia\r\n0\r\n\r\nNEXT";

    #[test]
    fn decodes_chunks_and_stops_at_the_end() {
        assert_eq!(
            decode_chunked(WIKI, 100),
            Ok(Some((b"Wikipedia".to_vec(), WIKI.len() - 4)))
        );
    }

    #[test]
    fn uppercase_hex_and_trailers() {
        let body = b"A\r\n0123456789\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n";
        assert_eq!(
            decode_chunked(body, 100),
            Ok(Some((b"0123456789".to_vec(), body.len())))
        );
    }

    #[test]
    fn every_prefix_is_incomplete_until_the_whole_body_is_in() {
        let whole = WIKI.len() - 4;
        for len in 0..whole {
            assert_eq!(
                decode_chunked(&WIKI[..len], 100),
                Ok(None),
                "prefix of {len} bytes"
            );
        }
        assert!(decode_chunked(&WIKI[..whole], 100).unwrap().is_some());
    }

    #[test]
    fn an_empty_body() {
        assert_eq!(decode_chunked(b"0\r\n\r\n", 100), Ok(Some((vec![], 5))));
    }

    #[test]
    fn malformed_sizes_and_missing_crlf() {
        assert_eq!(decode_chunked(b"zz\r\n", 100), Err(ChunkError::Malformed));
        assert_eq!(decode_chunked(b"\r\n", 100), Err(ChunkError::Malformed));
        assert_eq!(decode_chunked(b"-1\r\n", 100), Err(ChunkError::Malformed));
        assert_eq!(
            decode_chunked(b"3\r\nabcX\r\n0\r\n\r\n", 100),
            Err(ChunkError::Malformed)
        );
    }

    #[test]
    fn refuses_a_body_over_the_limit_before_it_arrives() {
        assert_eq!(
            decode_chunked(b"5\r\nhello\r\n6\r\n", 10),
            Err(ChunkError::TooLarge)
        );
        assert_eq!(
            decode_chunked(b"ffffffffffffffffffff\r\n", 10),
            Err(ChunkError::TooLarge)
        );
        assert_eq!(
            decode_chunked(b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 10)
                .unwrap()
                .unwrap()
                .0,
            b"helloworld"
        );
    }
}
