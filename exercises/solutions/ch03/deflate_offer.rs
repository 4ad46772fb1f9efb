//! Reference solution for ch03-deflate-offer.

/// One acceptable offer's parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeflateOffer {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    pub server_max_window_bits: Option<u8>,
    /// `Some(None)` for a bare `client_max_window_bits`.
    pub client_max_window_bits: Option<Option<u8>>,
}

/// A window size: 8 to 15, no leading zero.
fn bits(name: &str, value: Option<&str>) -> Result<u8, String> {
    match value {
        Some(v) if !v.starts_with('0') && v.bytes().all(|b| b.is_ascii_digit()) => {
            match v.parse::<u8>() {
                Ok(n @ 8..=15) => Ok(n),
                _ => Err(format!("{name} out of range")),
            }
        }
        _ => Err(format!("{name} needs a number")),
    }
}

/// Parses one element such as `permessage-deflate; server_max_window_bits=10`.
/// `Err` (with a few words why) if it is not `permessage-deflate` or cannot
/// be accepted.
pub fn parse_offer(element: &str) -> Result<DeflateOffer, String> {
    let mut parts = element.split(';').map(str::trim);
    if parts.next() != Some("permessage-deflate") {
        return Err("not permessage-deflate".into());
    }
    let mut offer = DeflateOffer::default();
    let mut seen = Vec::new();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (param, None),
        };
        if seen.contains(&name) {
            return Err(format!("{name} twice"));
        }
        seen.push(name);
        match (name, value) {
            ("server_no_context_takeover", None) => offer.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => offer.client_no_context_takeover = true,
            ("server_max_window_bits", value) => {
                offer.server_max_window_bits = Some(bits(name, value)?);
            }
            ("client_max_window_bits", None) => offer.client_max_window_bits = Some(None),
            ("client_max_window_bits", value) => {
                offer.client_max_window_bits = Some(Some(bits(name, value)?));
            }
            _ => return Err(format!("bad parameter {param}")),
        }
    }
    Ok(offer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_offer() {
        assert_eq!(
            parse_offer("permessage-deflate"),
            Ok(DeflateOffer::default())
        );
    }

    #[test]
    fn every_parameter() {
        assert_eq!(
            parse_offer(
                "permessage-deflate; server_no_context_takeover;client_no_context_takeover ; \
                 server_max_window_bits=10; client_max_window_bits"
            ),
            Ok(DeflateOffer {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: Some(10),
                client_max_window_bits: Some(None),
            })
        );
        assert_eq!(
            parse_offer("permessage-deflate; client_max_window_bits=\"9\""),
            Ok(DeflateOffer {
                client_max_window_bits: Some(Some(9)),
                ..DeflateOffer::default()
            })
        );
        assert_eq!(
            parse_offer("permessage-deflate; server_max_window_bits=8"),
            Ok(DeflateOffer {
                server_max_window_bits: Some(8),
                ..DeflateOffer::default()
            })
        );
    }

    #[test]
    fn offers_that_cannot_be_accepted() {
        for bad in [
            "x-webkit-deflate-frame",
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_no_context_takeover=1",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
        ] {
            assert!(parse_offer(bad).is_err(), "{bad}");
        }
    }
}
