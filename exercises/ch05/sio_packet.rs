//! Exercise ch05-sio-packet: a Socket.IO packet's text form.
//!
//! Socket.IO rides on Engine.IO messages. Each packet is one text message:
//!
//! ```text
//! <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
//! 2/admin,13["bar",1]     an EVENT (2) on /admin asking for ack 13
//! 3/admin,13["ok"]        its ACK (3)
//! 51-["up",{"_placeholder":true,"num":0}]   a BINARY_EVENT, one attachment
//! ```
//!
//! Types: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR,
//! 5 BINARY_EVENT, 6 BINARY_ACK. The namespace is left out when it is the
//! main one, `/`. A peer may send any digits as an ack id, so reading them
//! must refuse a number too large for a `u64` instead of overflowing.
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch05-sio-packet`. Stuck? `cargo learn hint ch05-sio-packet`.
#![allow(unused_variables, unused_imports, dead_code, unused_mut)] // the stub does not use them yet

/// A Socket.IO packet's header: everything before its JSON data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The type digit's value, 0 to 6.
    pub kind: u8,
    /// Attachments announced (types 5 and 6 only; 0 otherwise).
    pub attachments: u64,
    /// The namespace, `/` when the packet names none.
    pub nsp: String,
    /// The ack id.
    pub id: Option<u64>,
    /// The rest: the JSON data, maybe empty.
    pub data: String,
}

/// Why a text message is not a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Empty, or the first character is not `0`..`6`.
    BadType,
    /// Type 5 or 6 without digits and a `-` right after the type.
    BadAttachmentCount,
    /// An ack id (or an attachment count) that does not fit a `u64`.
    TooLarge,
}

/// Encode a packet: `<type>[<attachments>-][<nsp>,][<id>]<data>`. The
/// attachment count is written for types 5 and 6 only, and the namespace
/// only when it is not `/`.
pub fn encode(kind: u8, attachments: usize, nsp: &str, id: Option<u64>, data: &str) -> String {
    todo!("type digit, [count-], [nsp,], [id], data")
}

/// The number made of the leading ASCII digits of `s`, and how many
/// digits there were (`(None, 0)` when `s` starts with no digit). Too
/// large for a `u64` is [`Error::TooLarge`].
pub fn leading_number(s: &str) -> Result<(Option<u64>, usize), Error> {
    todo!("count the digits, then checked_mul and checked_add")
}

/// Decode a header. The namespace starts with `/` and ends at the first
/// `,` (or at the end of the text); the ack id is the digits right after.
pub fn decode(text: &str) -> Result<Header, Error> {
    todo!("type, attachments, namespace, ack id, then the rest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_namespace_and_ack_id() {
        assert_eq!(
            encode(2, 0, "/admin", Some(13), r#"["bar",1]"#),
            r#"2/admin,13["bar",1]"#
        );
        assert_eq!(encode(2, 0, "/", None, r#"["foo"]"#), r#"2["foo"]"#);
        assert_eq!(encode(3, 0, "/", Some(0), "[]"), "30[]");
        assert_eq!(encode(1, 0, "/admin", None, ""), "1/admin,");
        assert_eq!(encode(0, 0, "/", None, ""), "0");
    }

    #[test]
    fn binary_types_announce_their_attachments() {
        assert_eq!(
            encode(
                5,
                1,
                "/",
                None,
                r#"["hello",{"_placeholder":true,"num":0}]"#
            ),
            r#"51-["hello",{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(encode(6, 2, "/admin", Some(456), "[]"), "62-/admin,456[]");
        assert_eq!(encode(5, 0, "/", None, r#"["e"]"#), r#"50-["e"]"#);
    }

    #[test]
    fn leading_numbers_are_checked() {
        assert_eq!(leading_number("13[1]"), Ok((Some(13), 2)));
        assert_eq!(leading_number("[1]"), Ok((None, 0)));
        assert_eq!(
            leading_number("18446744073709551615"),
            Ok((Some(u64::MAX), 20))
        );
        assert_eq!(leading_number("18446744073709551616"), Err(Error::TooLarge));
        assert_eq!(
            leading_number("99999999999999999999999"),
            Err(Error::TooLarge)
        );
    }

    #[test]
    fn decodes_headers() {
        let h = decode(r#"2/admin,13["bar",1]"#).unwrap();
        assert_eq!(
            h,
            Header {
                kind: 2,
                attachments: 0,
                nsp: "/admin".into(),
                id: Some(13),
                data: r#"["bar",1]"#.into()
            }
        );
        let h = decode(r#"51-["hello",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!(
            (h.kind, h.attachments, h.nsp.as_str(), h.id),
            (5, 1, "/", None)
        );
        let h = decode("62-/admin,456[]").unwrap();
        assert_eq!(
            (h.attachments, h.nsp.as_str(), h.id, h.data.as_str()),
            (2, "/admin", Some(456), "[]")
        );
        assert_eq!(decode("1/admin").unwrap().nsp, "/admin");
        assert_eq!(
            decode("0").unwrap(),
            Header {
                kind: 0,
                attachments: 0,
                nsp: "/".into(),
                id: None,
                data: String::new()
            }
        );
    }

    #[test]
    fn refuses_what_is_not_a_packet() {
        assert_eq!(decode(""), Err(Error::BadType));
        assert_eq!(decode("7[]"), Err(Error::BadType));
        assert_eq!(decode(r#"5["a"]"#), Err(Error::BadAttachmentCount));
        assert_eq!(decode(r#"51["a"]"#), Err(Error::BadAttachmentCount));
        assert_eq!(decode("318446744073709551616[]"), Err(Error::TooLarge));
    }

    #[test]
    fn what_is_encoded_decodes() {
        for (kind, n, nsp, id) in [
            (2, 0, "/", Some(1)),
            (5, 3, "/x", None),
            (6, 1, "/a/b", Some(u64::MAX)),
        ] {
            let h = decode(&encode(kind, n, nsp, id, "[]")).unwrap();
            assert_eq!(
                (h.kind, h.attachments, h.nsp.as_str(), h.id, h.data.as_str()),
                (kind, n as u64, nsp, id, "[]")
            );
        }
    }
}
