//! HTTP compression of polling answers: `gzip` or `deflate` when the
//! client's `Accept-Encoding` allows it and the body is large enough to be
//! worth it (Node's engine.io calls this `httpCompression`, threshold 1 KiB).
//!
//! A polling body is text (packets joined by `0x1e`, binary ones in
//! base64), so a long poll that gathered many chat messages shrinks well.
//! Small bodies (a ping `2`, a noop `6`) are left alone: the gzip header
//! and trailer alone are 18 bytes.
//!
//! HTTP's `deflate` is the zlib format (RFC 1950, RFC 9110 §8.4.1.2), not
//! raw DEFLATE: flate2's `ZlibEncoder`. Every compressed answer says so in
//! `Content-Encoding`, and every answer that *could* have been compressed
//! carries `Vary: Accept-Encoding`, so that a cache never hands a gzip body
//! to a client that did not ask for one.

use crate::http::Response;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use std::io::Write;

/// An encoding we can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `gzip` (RFC 1952).
    Gzip,
    /// `deflate`: the zlib format (RFC 1950).
    Deflate,
}

impl Encoding {
    /// The token in `Content-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }
}

// ANCHOR: config
/// Whether and when polling answers are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpCompression {
    /// Compress at all. Default `true`.
    pub enabled: bool,
    /// Bodies shorter than this many bytes go uncompressed. Default 1024,
    /// like Node's engine.io.
    pub threshold: usize,
    /// The zlib level, 0 to 9. Default 6.
    pub level: u32,
}
// ANCHOR_END: config

impl Default for HttpCompression {
    fn default() -> HttpCompression {
        HttpCompression {
            enabled: true,
            threshold: 1024,
            level: 6,
        }
    }
}

impl HttpCompression {
    /// Never compress.
    pub fn off() -> HttpCompression {
        HttpCompression {
            enabled: false,
            ..HttpCompression::default()
        }
    }

    // ANCHOR: apply
    /// Compresses `response` for a client that sent `accept_encoding` (all
    /// its `Accept-Encoding` fields joined by commas), if that client
    /// accepts gzip or deflate and the body reaches the threshold. Only 200
    /// answers are touched; an answer already encoded is left alone.
    pub fn apply(&self, accept_encoding: Option<&str>, mut response: Response) -> Response {
        if !self.enabled || response.status != 200 || response.headers.contains("content-encoding")
        {
            return response;
        }
        // The answer depends on the request's Accept-Encoding from now on,
        // whether or not this one is compressed.
        response.headers.push("Vary", "Accept-Encoding");
        if response.body.len() < self.threshold {
            return response;
        }
        let Some(encoding) = accept_encoding.and_then(choose) else {
            return response;
        };
        let level = Compression::new(self.level.min(9));
        let compressed = match encoding {
            Encoding::Gzip => {
                let mut encoder = GzEncoder::new(Vec::new(), level);
                encoder
                    .write_all(&response.body)
                    .and_then(|()| encoder.finish())
            }
            Encoding::Deflate => {
                let mut encoder = ZlibEncoder::new(Vec::new(), level);
                encoder
                    .write_all(&response.body)
                    .and_then(|()| encoder.finish())
            }
        };
        // Writing into a Vec cannot fail; if it ever did, plain is correct.
        if let Ok(body) = compressed {
            response.body = body;
            response.headers.push("Content-Encoding", encoding.as_str());
        }
        response
    }
    // ANCHOR_END: apply
}

// ANCHOR: choose
/// The encoding to answer with for an `Accept-Encoding` value: the
/// acceptable one (q > 0) the client ranks highest, gzip on a tie; `*`
/// stands for any encoding not named. `None` when neither is acceptable,
/// or the value is not understood (then the body goes as it is, which is
/// always allowed).
pub fn choose(accept_encoding: &str) -> Option<Encoding> {
    let mut gzip: Option<u16> = None;
    let mut deflate: Option<u16> = None;
    let mut any: Option<u16> = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let mut q = 1000;
        for param in parts {
            let (key, value) = param.split_once('=')?;
            if key.trim().eq_ignore_ascii_case("q") {
                q = parse_qvalue(value.trim())?;
            }
        }
        let slot = if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            &mut gzip
        } else if name.eq_ignore_ascii_case("deflate") {
            &mut deflate
        } else if name == "*" {
            &mut any
        } else {
            continue;
        };
        // Named twice: the higher weight counts.
        *slot = Some(slot.map_or(q, |old| old.max(q)));
    }
    let gzip = gzip.or(any).unwrap_or(0);
    let deflate = deflate.or(any).unwrap_or(0);
    match (gzip, deflate) {
        (0, 0) => None,
        (g, d) if g >= d => Some(Encoding::Gzip),
        _ => Some(Encoding::Deflate),
    }
}
// ANCHOR_END: choose

/// A qvalue (RFC 9110 §12.4.2), `0` to `1` with up to three decimals, in
/// thousandths.
fn parse_qvalue(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::{GzDecoder, ZlibDecoder};
    use std::io::Read;

    fn big_body() -> Vec<u8> {
        let mut body = Vec::new();
        for i in 0..200 {
            body.extend_from_slice(format!("4{{\"chat\":\"message number {i}\"}}\x1e").as_bytes());
        }
        body
    }

    fn poll(body: Vec<u8>) -> Response {
        Response::new(200)
            .header("Content-Type", "text/plain; charset=UTF-8")
            .body(body)
    }

    #[test]
    fn choose_follows_the_weights() {
        assert_eq!(choose("gzip"), Some(Encoding::Gzip));
        assert_eq!(choose("deflate"), Some(Encoding::Deflate));
        assert_eq!(choose("gzip, deflate, br"), Some(Encoding::Gzip));
        assert_eq!(choose("deflate, gzip"), Some(Encoding::Gzip), "a tie");
        assert_eq!(choose("gzip;q=0.5, deflate"), Some(Encoding::Deflate));
        assert_eq!(choose("gzip;q=0, deflate;q=0.1"), Some(Encoding::Deflate));
        assert_eq!(choose("GZIP ; Q=1.000"), Some(Encoding::Gzip));
        assert_eq!(choose("x-gzip"), Some(Encoding::Gzip));
        assert_eq!(choose("*"), Some(Encoding::Gzip));
        assert_eq!(choose("*;q=0.2, gzip;q=0"), Some(Encoding::Deflate));
        assert_eq!(choose("br, identity"), None);
        assert_eq!(choose("gzip;q=0"), None);
        assert_eq!(choose("*;q=0"), None);
        assert_eq!(choose(""), None);
        assert_eq!(choose(" , ,"), None);
    }

    #[test]
    fn bad_values_mean_no_compression() {
        assert_eq!(choose("gzip;q=2"), None);
        assert_eq!(choose("gzip;q=1.5"), None);
        assert_eq!(choose("gzip;q=0.1234"), None);
        assert_eq!(choose("gzip;q=abc"), None);
        assert_eq!(choose("gzip;q"), None);
        assert_eq!(choose("gzip;q=-1"), None);
    }

    #[test]
    fn qvalues_parse_in_thousandths() {
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.05"), Some(50));
        assert_eq!(parse_qvalue("0.001"), Some(1));
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.0"), Some(1000));
        assert_eq!(parse_qvalue("1.001"), None);
    }

    #[test]
    fn gzip_answers_decode_to_the_body() {
        let body = big_body();
        let r = HttpCompression::default().apply(Some("gzip, deflate"), poll(body.clone()));
        assert_eq!(r.headers.get_str("content-encoding"), Some("gzip"));
        assert_eq!(r.headers.get_str("vary"), Some("Accept-Encoding"));
        assert!(r.body.len() < body.len() / 4, "{} bytes", r.body.len());
        let mut plain = Vec::new();
        GzDecoder::new(&r.body[..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, body);
    }

    #[test]
    fn deflate_answers_are_zlib() {
        let body = big_body();
        let r = HttpCompression::default().apply(Some("deflate"), poll(body.clone()));
        assert_eq!(r.headers.get_str("content-encoding"), Some("deflate"));
        assert_eq!(r.body[0] & 0x0f, 8, "a zlib header: CM = 8");
        let mut plain = Vec::new();
        ZlibDecoder::new(&r.body[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, body);
    }

    #[test]
    fn small_bodies_and_unwilling_clients_get_plain_answers() {
        let c = HttpCompression::default();
        let small = c.apply(Some("gzip"), poll(vec![b'4'; 1023]));
        assert!(!small.headers.contains("content-encoding"));
        assert_eq!(small.headers.get_str("vary"), Some("Accept-Encoding"));
        assert_eq!(small.body.len(), 1023);
        let exact = c.apply(Some("gzip"), poll(vec![b'4'; 1024]));
        assert_eq!(exact.headers.get_str("content-encoding"), Some("gzip"));
        let none = c.apply(None, poll(big_body()));
        assert!(!none.headers.contains("content-encoding"));
        assert_eq!(none.body, big_body());
        let identity = c.apply(Some("identity"), poll(big_body()));
        assert!(!identity.headers.contains("content-encoding"));
    }

    #[test]
    fn off_and_non_200_answers_are_untouched() {
        let off = HttpCompression::off().apply(Some("gzip"), poll(big_body()));
        assert!(!off.headers.contains("content-encoding"));
        assert!(!off.headers.contains("vary"));
        let error = Response::new(400).body(big_body());
        let r = HttpCompression::default().apply(Some("gzip"), error);
        assert!(!r.headers.contains("content-encoding"));
        assert_eq!(r.body, big_body());
        let threshold = HttpCompression {
            threshold: 10,
            ..HttpCompression::default()
        };
        let r = threshold.apply(Some("gzip"), poll(vec![b'4'; 10]));
        assert_eq!(r.headers.get_str("content-encoding"), Some("gzip"));
    }
}
