//! The `Sec-WebSocket-Extensions` header (RFC 6455 §9.1), parsed.
//!
//! ```text
//! Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits,
//!                           permessage-deflate
//! ```
//!
//! is a list of extensions, each a name with `;`-separated parameters, and
//! each parameter a name with an optional value (a token or a quoted string
//! whose content is a token). A client lists its *offers* in preference
//! order; the same extension may be offered several times with different
//! parameters. The server answers with the ones it accepted.
//!
//! This module knows the grammar only; what the parameters mean is the
//! business of each extension (see [`super::deflate`]).

use crate::http::Headers;
use crate::http::headers::is_tchar;
use std::fmt;

/// One element of the list: an extension name and its parameters, in the
/// order sent, repeats included (an extension decides whether they are
/// allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension's name, such as `permessage-deflate`.
    pub name: String,
    /// `(name, value)`; the value is `None` for a bare parameter, and a
    /// quoted value arrives unquoted.
    pub params: Vec<(String, Option<String>)>,
}

impl Extension {
    /// An extension with no parameters yet.
    pub fn new(name: &str) -> Extension {
        Extension {
            name: name.to_string(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter.
    pub fn param(mut self, name: &str, value: Option<&str>) -> Extension {
        self.params
            .push((name.to_string(), value.map(str::to_string)));
        self
    }
}

impl fmt::Display for Extension {
    /// Renders the element as it goes on the wire: `name; a; b=1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (name, value) in &self.params {
            match value {
                Some(value) => write!(f, "; {name}={value}")?,
                None => write!(f, "; {name}")?,
            }
        }
        Ok(())
    }
}

/// The header does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub &'static str);

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad Sec-WebSocket-Extensions header: {}", self.0)
    }
}

impl std::error::Error for SyntaxError {}

/// A cursor over one header value.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn skip_space(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|&b| b == b' ' || b == b'\t')
        {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn token(&mut self, what: &'static str) -> Result<String, SyntaxError> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(SyntaxError(what));
        }
        // Only ASCII token characters were taken.
        Ok(String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned())
    }

    /// A quoted string (the opening quote is next). RFC 6455 §9.1: its
    /// content, once unescaped, must be a token.
    fn quoted(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1;
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => return Err(SyntaxError("unterminated quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let escaped = self
                        .bytes
                        .get(self.pos + 1)
                        .ok_or(SyntaxError("unterminated quoted string"))?;
                    value.push(*escaped);
                    self.pos += 2;
                }
                Some(b) => {
                    value.push(b);
                    self.pos += 1;
                }
            }
        }
        if value.is_empty() || !value.iter().all(|&b| is_tchar(b)) {
            return Err(SyntaxError("quoted value is not a token"));
        }
        Ok(String::from_utf8_lossy(&value).into_owned())
    }
}

// ANCHOR: parse
/// Parses one header value into its extensions.
pub fn parse(value: &[u8]) -> Result<Vec<Extension>, SyntaxError> {
    let mut cursor = Cursor {
        bytes: value,
        pos: 0,
    };
    let mut list = Vec::new();
    loop {
        cursor.skip_space();
        match cursor.peek() {
            None => break,
            Some(b',') => {
                // Empty list elements are allowed (RFC 9110 §5.6.1).
                cursor.pos += 1;
                continue;
            }
            Some(_) => {}
        }
        let mut extension = Extension::new(&cursor.token("extension name expected")?);
        loop {
            cursor.skip_space();
            match cursor.peek() {
                None | Some(b',') => break,
                Some(b';') => cursor.pos += 1,
                Some(_) => return Err(SyntaxError("';' or ',' expected")),
            }
            cursor.skip_space();
            let name = cursor.token("parameter name expected")?;
            cursor.skip_space();
            let value = if cursor.peek() == Some(b'=') {
                cursor.pos += 1;
                cursor.skip_space();
                Some(if cursor.peek() == Some(b'"') {
                    cursor.quoted()?
                } else {
                    cursor.token("parameter value expected")?
                })
            } else {
                None
            };
            extension.params.push((name, value));
        }
        list.push(extension);
    }
    Ok(list)
}
// ANCHOR_END: parse

/// Every extension of every `Sec-WebSocket-Extensions` header, in order
/// (several headers mean one list, RFC 9110 §5.3).
pub fn parse_headers(headers: &Headers) -> Result<Vec<Extension>, SyntaxError> {
    let mut all = Vec::new();
    for value in headers.get_all("Sec-WebSocket-Extensions") {
        all.extend(parse(value)?);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_with_parameters_and_repeats() {
        let list = parse(
            b"permessage-deflate; client_max_window_bits; server_max_window_bits=10, \
              permessage-deflate ,x-foo;a=\"b\"",
        )
        .unwrap();
        assert_eq!(
            list,
            [
                Extension::new("permessage-deflate")
                    .param("client_max_window_bits", None)
                    .param("server_max_window_bits", Some("10")),
                Extension::new("permessage-deflate"),
                Extension::new("x-foo").param("a", Some("b")),
            ]
        );
    }

    #[test]
    fn spaces_empty_elements_and_quotes() {
        let list = parse(b" , a ;b = \"1\\0\" ;c,,").unwrap();
        assert_eq!(
            list,
            [Extension::new("a").param("b", Some("10")).param("c", None)]
        );
        assert_eq!(parse(b"").unwrap(), []);
    }

    #[test]
    fn broken_syntax_is_an_error() {
        for bad in [
            &b"a;"[..],
            b"a b",
            b";a",
            b"a; b=",
            b"a; b=\"x",
            b"a; b=\"x y\"",
            b"a; b=\"\"",
            b"a=1",
            b"a; b=c d",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn several_headers_make_one_list_and_render_back() {
        let headers: Headers = [
            ("Sec-WebSocket-Extensions", "a; x=1"),
            ("Host", "h"),
            ("sec-websocket-extensions", "b"),
        ]
        .into_iter()
        .collect();
        let list = parse_headers(&headers).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].to_string(), "a; x=1");
        assert_eq!(list[1].to_string(), "b");
    }
}
