//! Reference solution.

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
    let mut out = kind.to_string();
    if kind == 5 || kind == 6 {
        out.push_str(&format!("{attachments}-"));
    }
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = id {
        out.push_str(&id.to_string());
    }
    out.push_str(data);
    out
}

/// The number made of the leading ASCII digits of `s`, and how many
/// digits there were (`(None, 0)` when `s` starts with no digit). Too
/// large for a `u64` is [`Error::TooLarge`].
pub fn leading_number(s: &str) -> Result<(Option<u64>, usize), Error> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Ok((None, 0));
    }
    let mut n: u64 = 0;
    for d in s[..digits].bytes() {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(Error::TooLarge)?;
    }
    Ok((Some(n), digits))
}

/// Decode a header. The namespace starts with `/` and ends at the first
/// `,` (or at the end of the text); the ack id is the digits right after.
pub fn decode(text: &str) -> Result<Header, Error> {
    let kind = match text.bytes().next() {
        Some(c @ b'0'..=b'6') => c - b'0',
        _ => return Err(Error::BadType),
    };
    let mut rest = &text[1..];
    let mut attachments = 0;
    if kind == 5 || kind == 6 {
        let (count, digits) = leading_number(rest)?;
        match (count, rest[digits..].strip_prefix('-')) {
            (Some(count), Some(after)) => {
                attachments = count;
                rest = after;
            }
            _ => return Err(Error::BadAttachmentCount),
        }
    }
    let mut nsp = "/";
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        nsp = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
    }
    let (id, digits) = leading_number(rest)?;
    Ok(Header {
        kind,
        attachments,
        nsp: nsp.to_owned(),
        id,
        data: rest[digits..].to_owned(),
    })
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
