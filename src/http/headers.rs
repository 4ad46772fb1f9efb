//! Header fields and the protocol version: the small vocabulary every other
//! HTTP file uses.

use std::fmt;

/// The HTTP versions this module speaks. `httparse` only accepts these two;
/// anything else is answered with 505 before a [`Version`] is ever made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: one request per connection unless the client asks for
    /// `Connection: keep-alive`; no chunked bodies.
    Http10,
    /// HTTP/1.1: persistent connections by default, chunked bodies.
    Http11,
}

impl Version {
    /// The version from `httparse`'s minor number (`HTTP/1.x`).
    pub fn from_minor(minor: u8) -> Option<Version> {
        match minor {
            0 => Some(Version::Http10),
            1 => Some(Version::Http11),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        })
    }
}

/// Header fields in the order they came, names as sent. Values are bytes:
/// HTTP allows non-UTF-8 (obsolete but legal) bytes in them, so turning them
/// into text is the reader's choice ([`Headers::get_str`]).
///
/// Lookups compare names case-insensitively, as HTTP requires. A `Vec` and a
/// linear scan are the right tool at this size (a few dozen fields at most).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, Vec<u8>)>);

impl Headers {
    /// No fields.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Appends a field (repeated names are allowed and kept apart).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.0.push((name.into(), value.into()));
    }

    /// Removes every field called `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.get_all(name).next()
    }

    /// The first value of `name` if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Whether a field called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether any `name` field lists `token` among its comma-separated
    /// elements, ignoring case: `Connection: keep-alive, Upgrade` has both.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.tokens(name)
            .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
    }

    /// The value of a field that may appear only once (such as
    /// `Sec-WebSocket-Key`), trimmed: `Ok(None)` when it is absent.
    pub fn get_single(&self, name: &str) -> Result<Option<&[u8]>, RepeatedField> {
        let mut values = self.get_all(name);
        let first = values.next();
        match values.next() {
            Some(_) => Err(RepeatedField),
            None => Ok(first.map(<[u8]>::trim_ascii)),
        }
    }

    /// The comma-separated elements of every `name` field, trimmed, empty
    /// ones skipped: `Connection: keep-alive, Upgrade` and two `Connection`
    /// fields mean the same thing (RFC 9110 §5.3).
    pub fn tokens<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.get_all(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|t| t.trim_ascii())
            .filter(|t| !t.is_empty())
    }

    /// The fields as `(name, value)` pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Copies `httparse`'s borrowed headers into owned ones.
    pub(crate) fn from_parsed(parsed: &[httparse::Header<'_>]) -> Headers {
        Headers(
            parsed
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect(),
        )
    }
}

impl<N: Into<String>, V: Into<Vec<u8>>> FromIterator<(N, V)> for Headers {
    /// Fields from `(name, value)` pairs, in order.
    fn from_iter<I: IntoIterator<Item = (N, V)>>(fields: I) -> Headers {
        Headers(
            fields
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        )
    }
}

/// A field that may appear only once appeared more often
/// ([`Headers::get_single`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepeatedField;

/// A token character (RFC 9110 §5.6.2): what field names, methods,
/// transfer codings, WebSocket subprotocols and extension names are made of.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// One or more token characters.
pub fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_case_and_keep_order() {
        let mut h = Headers::new();
        h.push("Accept", "a");
        h.push("accept", "b");
        h.push("Host", "x");
        assert_eq!(h.get("ACCEPT"), Some(&b"a"[..]));
        assert_eq!(h.get_all("accept").collect::<Vec<_>>(), [b"a", b"b"]);
        h.remove("Accept");
        assert_eq!(h.len(), 1);
        assert_eq!(h.get_str("host"), Some("x"));
    }

    #[test]
    fn tokens_split_on_commas_across_fields() {
        let mut h = Headers::new();
        h.push("Connection", "Keep-Alive , Upgrade");
        h.push("Connection", ",close");
        assert!(h.has_token("connection", "keep-alive"));
        assert!(h.has_token("connection", "upgrade"));
        assert!(h.has_token("connection", "CLOSE"));
        assert!(!h.has_token("connection", "keep"));
        assert_eq!(h.tokens("connection").count(), 3);
    }

    #[test]
    fn single_fields_refuse_repeats() {
        let h: Headers = [("A", " one "), ("B", "x"), ("b", "y")]
            .into_iter()
            .collect();
        assert_eq!(h.get_single("a"), Ok(Some(&b"one"[..])));
        assert_eq!(h.get_single("b"), Err(RepeatedField));
        assert_eq!(h.get_single("c"), Ok(None));
    }

    #[test]
    fn tokens_are_checked() {
        assert!(is_token(b"chat.v2"));
        assert!(is_token(b"!#$%&'*+-.^_`|~"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a,b"));
        assert!(!is_token(b"a;b"));
        assert!(!is_token(b"a\r\nX: y"));
        assert!(!is_token("é".as_bytes()));
    }

    #[test]
    fn versions_come_from_the_minor_number() {
        assert_eq!(Version::from_minor(0), Some(Version::Http10));
        assert_eq!(Version::from_minor(1), Some(Version::Http11));
        assert_eq!(Version::from_minor(2), None);
        assert_eq!(Version::Http11.to_string(), "HTTP/1.1");
    }
}
