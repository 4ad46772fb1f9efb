//! Socket.IO v5 packets: the text form, binary placeholders, the decoder.
//!
//! A packet rides in one Engine.IO message (text), followed by one binary
//! Engine.IO message per attachment:
//!
//! ```text
//! <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
//! 2/admin,13["bar",1]                      EVENT on /admin, ack id 13
//! 51-["hello",{"_placeholder":true,"num":0}]  + one binary message
//! ```
//!
//! The namespace is left out when it is `/`. The decoder accepts Engine.IO
//! messages in order and yields whole packets; every malformed input is a
//! [`PacketError`], never a panic, and attachments are capped in number and
//! total size ([`Limits`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;

use super::value::Value;
use crate::engineio::Payload;

// ANCHOR: packet_type
/// The seven packet types, by their digit on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: join a namespace (client, with optional `auth`), or the
    /// server's yes (`{"sid":…}`).
    Connect = 0,
    /// `1`: leave a namespace (either side).
    Disconnect = 1,
    /// `2`: an event: `["name", args…]`, maybe with an ack id.
    Event = 2,
    /// `3`: the answer to an event that carried an ack id.
    Ack = 3,
    /// `4`: the server's no to a `CONNECT`: `{"message":…,"data":…}`.
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an ack with binary attachments.
    BinaryAck = 6,
}
// ANCHOR_END: packet_type

impl PacketType {
    /// The type for a digit.
    pub fn from_digit(digit: u8) -> Option<PacketType> {
        Some(match digit {
            b'0' => PacketType::Connect,
            b'1' => PacketType::Disconnect,
            b'2' => PacketType::Event,
            b'3' => PacketType::Ack,
            b'4' => PacketType::ConnectError,
            b'5' => PacketType::BinaryEvent,
            b'6' => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// The digit on the wire.
    pub fn digit(self) -> char {
        (b'0' + self as u8) as char
    }

    /// Whether attachments follow (`5` and `6`).
    pub fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }
}

/// Event names the protocol keeps for itself: a peer may not send them.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// One Socket.IO packet, its binary already in place inside `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The type. Encoding picks `BinaryEvent`/`BinaryAck` by itself when
    /// `data` holds binary, and `Event`/`Ack` when it holds none.
    pub kind: PacketType,
    /// The namespace, `/` by default.
    pub nsp: String,
    /// The ack id, on events that want an answer and on the answers.
    pub id: Option<u64>,
    /// The JSON data (with binary), if any.
    pub data: Option<Value>,
}

impl Packet {
    /// A client's `CONNECT` to `nsp`, with an optional `auth` object.
    pub fn connect(nsp: &str, auth: Option<Value>) -> Packet {
        Packet::new(PacketType::Connect, nsp, None, auth)
    }

    /// The server's yes to a `CONNECT`: `{"sid":…}`.
    pub fn connect_ok(nsp: &str, sid: &str) -> Packet {
        let data = Value::Object(BTreeMap::from([("sid".to_owned(), Value::from(sid))]));
        Packet::new(PacketType::Connect, nsp, None, Some(data))
    }

    /// The server's no: `{"message":…}`, with `data` when there is some.
    pub fn connect_error(nsp: &str, message: &str, data: Option<Value>) -> Packet {
        let mut map = BTreeMap::from([("message".to_owned(), Value::from(message))]);
        if let Some(data) = data {
            map.insert("data".to_owned(), data);
        }
        Packet::new(
            PacketType::ConnectError,
            nsp,
            None,
            Some(Value::Object(map)),
        )
    }

    /// `DISCONNECT` from `nsp`.
    pub fn disconnect(nsp: &str) -> Packet {
        Packet::new(PacketType::Disconnect, nsp, None, None)
    }

    /// An event `name` with `args`, asking for an ack when `id` is given.
    pub fn event(nsp: &str, name: &str, args: Vec<Value>, id: Option<u64>) -> Packet {
        let mut data = Vec::with_capacity(args.len() + 1);
        data.push(Value::from(name));
        data.extend(args);
        Packet::new(PacketType::Event, nsp, id, Some(Value::Array(data)))
    }

    /// The answer `args` to the event that carried ack id `id`.
    pub fn ack(nsp: &str, id: u64, args: Vec<Value>) -> Packet {
        Packet::new(PacketType::Ack, nsp, Some(id), Some(Value::Array(args)))
    }

    fn new(kind: PacketType, nsp: &str, id: Option<u64>, data: Option<Value>) -> Packet {
        Packet {
            kind,
            nsp: nsp.to_owned(),
            id,
            data,
        }
    }

    /// For an event: its name and its arguments.
    pub fn event_parts(&self) -> Option<(&str, &[Value])> {
        match (&self.kind, &self.data) {
            (PacketType::Event | PacketType::BinaryEvent, Some(Value::Array(items))) => {
                let (name, args) = items.split_first()?;
                Some((name.as_str()?, args))
            }
            _ => None,
        }
    }

    /// Encode: the text message and the binary messages after it.
    ///
    /// The JSON is written straight from the [`Value`] into the text, with
    /// the placeholders in place (what [`deconstruct`] and then
    /// `serde_json` would write, without building that tree first: this runs
    /// once per packet sent, so per echoed message).
    pub fn encode(&self) -> Encoded {
        let mut attachments = Vec::new();
        let size = self
            .data
            .as_ref()
            .map_or(0, |data| collect_binary(data, &mut attachments));
        let kind = match self.kind {
            PacketType::Event | PacketType::BinaryEvent if !attachments.is_empty() => {
                PacketType::BinaryEvent
            }
            PacketType::Event | PacketType::BinaryEvent => PacketType::Event,
            PacketType::Ack | PacketType::BinaryAck if !attachments.is_empty() => {
                PacketType::BinaryAck
            }
            PacketType::Ack | PacketType::BinaryAck => PacketType::Ack,
            other => other,
        };
        let mut header = String::with_capacity(self.nsp.len() + 24 + size);
        encode_header(kind, attachments.len(), &self.nsp, self.id, &mut header);
        let Some(data) = &self.data else {
            return Encoded {
                text: header,
                attachments,
            };
        };
        let mut bytes = header.into_bytes();
        write_json(data, &mut 0, &mut bytes);
        // Only UTF-8 went in: `str`s, and serde_json's output.
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Encoded { text, attachments }
    }
}

/// The binary values inside `value`, in the order [`deconstruct`] numbers
/// them (depth first; an object's entries in key order). Returns about how
/// long the JSON will be, to size its buffer once.
fn collect_binary(value: &Value, attachments: &mut Vec<Vec<u8>>) -> usize {
    match value {
        Value::Binary(bytes) => {
            attachments.push(bytes.clone());
            32
        }
        Value::Array(items) => items
            .iter()
            .map(|v| 1 + collect_binary(v, attachments))
            .sum::<usize>()
            .saturating_add(2),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| k.len() + 4 + collect_binary(v, attachments))
            .sum::<usize>()
            .saturating_add(2),
        Value::String(s) => s.len() + 2,
        _ => 8,
    }
}

/// Writes `value` as compact JSON, each binary value replaced by its
/// placeholder, numbered from `*next` in the order met (the order of
/// [`collect_binary`]): byte for byte what serde_json prints for the tree
/// [`deconstruct`] builds, without building it.
fn write_json(value: &Value, next: &mut usize, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Writing into a `Vec` cannot fail.
        Value::Number(n) => drop(serde_json::to_writer(&mut *out, n)),
        Value::String(s) => write_json_str(s, out),
        Value::Binary(_) => {
            let _ = write!(out, r#"{{"_placeholder":true,"num":{next}}}"#);
            *next += 1;
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, next, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(k, out);
                out.push(b':');
                write_json(v, next, out);
            }
            out.push(b'}');
        }
    }
}

/// A JSON string: copied as is when nothing in it needs escaping (a
/// control character, `"` or a backslash), else escaped by serde_json.
fn write_json_str(s: &str, out: &mut Vec<u8>) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

// ANCHOR: encode_header
/// Write `<type>[<n>-][<nsp>,][<id>]`: everything before the JSON.
pub fn encode_header(
    kind: PacketType,
    attachments: usize,
    nsp: &str,
    id: Option<u64>,
    out: &mut String,
) {
    use std::fmt::Write as _;
    out.push(kind.digit());
    if kind.is_binary() {
        let _ = write!(out, "{attachments}-");
    }
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
}
// ANCHOR_END: encode_header

/// An encoded packet: one text Engine.IO message, then one binary message
/// per attachment, in order. A broadcast makes one and shares it (in an
/// `Arc`) between all its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The text message.
    pub text: String,
    /// The binary messages.
    pub attachments: Vec<Vec<u8>>,
}

impl Encoded {
    /// The Engine.IO messages, in order.
    pub fn payloads(&self) -> impl Iterator<Item = Payload> + '_ {
        std::iter::once(Payload::Text(self.text.clone()))
            .chain(self.attachments.iter().map(|a| Payload::Binary(a.clone())))
    }

    /// Bytes in all messages (for budgets).
    pub fn len(&self) -> usize {
        self.text.len() + self.attachments.iter().map(Vec::len).sum::<usize>()
    }

    /// Never true: a packet has at least its type digit.
    pub fn is_empty(&self) -> bool {
        false
    }
}

// ANCHOR: deconstruct
/// Move every binary value out of `value` into `attachments`, leaving
/// `{"_placeholder":true,"num":N}` where it was (N: its index).
pub fn deconstruct(value: &Value, attachments: &mut Vec<Vec<u8>>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Binary(bytes) => {
            let num = attachments.len();
            attachments.push(bytes.clone());
            serde_json::json!({"_placeholder": true, "num": num})
        }
        Value::Array(items) => {
            J::Array(items.iter().map(|v| deconstruct(v, attachments)).collect())
        }
        Value::Object(map) => J::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), deconstruct(v, attachments)))
                .collect(),
        ),
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(n) => J::Number(n.clone()),
        Value::String(s) => J::String(s.clone()),
    }
}
// ANCHOR_END: deconstruct

// ANCHOR: reconstruct
/// Put the attachments back where their placeholders are. Each attachment
/// must be used exactly once: a placeholder out of range, used twice, or
/// an attachment no placeholder names is an error (the count lied).
pub fn reconstruct(
    json: serde_json::Value,
    attachments: Vec<Vec<u8>>,
) -> Result<Value, PacketError> {
    let count = attachments.len();
    let mut slots: Vec<Option<Vec<u8>>> = attachments.into_iter().map(Some).collect();
    let value = fill(json, &mut slots)?;
    match slots.iter().position(Option::is_some) {
        Some(num) => Err(PacketError::UnusedAttachment { num, count }),
        None => Ok(value),
    }
}

fn fill(json: serde_json::Value, slots: &mut [Option<Vec<u8>>]) -> Result<Value, PacketError> {
    use serde_json::Value as J;
    Ok(match json {
        J::Object(map) if map.get("_placeholder") == Some(&J::Bool(true)) => {
            let count = slots.len();
            let num = map.get("num").and_then(J::as_u64);
            let slot = num
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| slots.get_mut(n))
                .ok_or(PacketError::BadPlaceholder { count })?;
            Value::Binary(slot.take().ok_or(PacketError::BadPlaceholder { count })?)
        }
        J::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Ok((k, fill(v, slots)?)))
                .collect::<Result<_, PacketError>>()?,
        ),
        J::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| fill(v, slots))
                .collect::<Result<_, PacketError>>()?,
        ),
        other => Value::from(other),
    })
}
// ANCHOR_END: reconstruct

/// Why Engine.IO messages are not a Socket.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketError {
    /// An empty message.
    Empty,
    /// The first character is not a type digit `0`–`6`.
    UnknownType(char),
    /// A binary type whose attachment count is not digits and `-`.
    BadAttachmentCount,
    /// More attachments than [`Limits::max_attachments`].
    TooManyAttachments {
        /// As announced (saturated at `u64::MAX`).
        count: u64,
        /// The limit.
        max: usize,
    },
    /// The attachments together exceed [`Limits::max_attachment_bytes`].
    AttachmentsTooLarge {
        /// The limit.
        max: usize,
    },
    /// An ack id that does not fit a `u64`.
    AckIdTooLarge,
    /// The data is not JSON (serde_json's message).
    Json(String),
    /// JSON of the wrong shape for the type (e.g. an event that is not an
    /// array with a name first).
    BadData(PacketType, &'static str),
    /// An ack id on a type that takes none, or none on an `ACK`.
    BadAckId(PacketType),
    /// A peer sent an event name the protocol reserves.
    ReservedEvent(String),
    /// A placeholder whose `num` is missing, out of range or used twice.
    BadPlaceholder {
        /// The announced attachment count.
        count: usize,
    },
    /// An attachment that no placeholder names.
    UnusedAttachment {
        /// Its index.
        num: usize,
        /// The announced attachment count.
        count: usize,
    },
    /// A binary message when no attachment was expected.
    UnexpectedBinary,
    /// A text message while attachments were still expected.
    UnexpectedText {
        /// Attachments still missing.
        missing: usize,
    },
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketError::Empty => write!(f, "empty packet"),
            PacketError::UnknownType(c) => write!(f, "unknown packet type {c:?}"),
            PacketError::BadAttachmentCount => write!(f, "bad attachment count"),
            PacketError::TooManyAttachments { count, max } => {
                write!(f, "{count} attachments, more than {max}")
            }
            PacketError::AttachmentsTooLarge { max } => {
                write!(f, "attachments larger than {max} bytes in all")
            }
            PacketError::AckIdTooLarge => write!(f, "ack id does not fit 64 bits"),
            PacketError::Json(e) => write!(f, "invalid JSON: {e}"),
            PacketError::BadData(kind, why) => write!(f, "invalid data for {kind:?}: {why}"),
            PacketError::BadAckId(kind) => write!(f, "ack id not allowed or missing on {kind:?}"),
            PacketError::ReservedEvent(name) => write!(f, "reserved event name {name:?}"),
            PacketError::BadPlaceholder { count } => {
                write!(
                    f,
                    "placeholder missing, out of range or repeated ({count} attachments)"
                )
            }
            PacketError::UnusedAttachment { num, count } => {
                write!(f, "attachment {num} of {count} has no placeholder")
            }
            PacketError::UnexpectedBinary => write!(f, "binary message without a binary packet"),
            PacketError::UnexpectedText { missing } => {
                write!(f, "text message while {missing} attachments are missing")
            }
        }
    }
}

impl std::error::Error for PacketError {}

/// The decoder's caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most attachments in one packet (Node's parser: 10).
    pub max_attachments: usize,
    /// Most attachment bytes in one packet, all together.
    pub max_attachment_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_attachments: 10,
            max_attachment_bytes: 1_000_000,
        }
    }
}

/// A packet's text message, read, before its attachments arrive.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The type.
    pub kind: PacketType,
    /// Attachments announced (0 for non-binary types).
    pub attachments: usize,
    /// The namespace.
    pub nsp: String,
    /// The ack id.
    pub id: Option<u64>,
    /// The JSON, placeholders still in.
    pub json: Option<serde_json::Value>,
}

// ANCHOR: decode_text
/// Read a packet's text message: its header, and its JSON checked for the
/// shape its type needs.
pub fn decode_text(text: &str, limits: &Limits) -> Result<Header, PacketError> {
    let bytes = text.as_bytes();
    let first = *bytes.first().ok_or(PacketError::Empty)?;
    let kind = PacketType::from_digit(first)
        .ok_or_else(|| PacketError::UnknownType(text.chars().next().unwrap_or('?')))?;
    let mut i = 1;
    let mut attachments = 0;
    if kind.is_binary() {
        let digits = count_digits(&bytes[i..]);
        if digits == 0 || bytes.get(i + digits) != Some(&b'-') {
            return Err(PacketError::BadAttachmentCount);
        }
        let count = parse_u64(&bytes[i..i + digits]).unwrap_or(u64::MAX);
        if count > limits.max_attachments as u64 {
            return Err(PacketError::TooManyAttachments {
                count,
                max: limits.max_attachments,
            });
        }
        attachments = count as usize;
        i += digits + 1;
    }
    let mut nsp = "/";
    if bytes.get(i) == Some(&b'/') {
        let end = text[i..].find(',').map_or(text.len(), |at| i + at);
        nsp = &text[i..end];
        i = (end + 1).min(text.len());
    }
    let digits = count_digits(&bytes[i..]);
    let id = if digits > 0 {
        let id = parse_u64(&bytes[i..i + digits]).ok_or(PacketError::AckIdTooLarge)?;
        i += digits;
        Some(id)
    } else {
        None
    };
    let rest = &text[i..];
    let json = if rest.is_empty() {
        None
    } else {
        Some(serde_json::from_str(rest).map_err(|e| PacketError::Json(e.to_string()))?)
    };
    check_shape(kind, id, json.as_ref())?;
    Ok(Header {
        kind,
        attachments,
        nsp: nsp.to_owned(),
        id,
        json,
    })
}
// ANCHOR_END: decode_text

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// What each type's data and ack id must look like.
fn check_shape(
    kind: PacketType,
    id: Option<u64>,
    json: Option<&serde_json::Value>,
) -> Result<(), PacketError> {
    use serde_json::Value as J;
    let id_ok = match kind {
        PacketType::Event | PacketType::BinaryEvent => true,
        PacketType::Ack | PacketType::BinaryAck => id.is_some(),
        _ => id.is_none(),
    };
    if !id_ok {
        return Err(PacketError::BadAckId(kind));
    }
    match (kind, json) {
        (PacketType::Connect, None | Some(J::Object(_))) => Ok(()),
        (PacketType::Connect, _) => Err(PacketError::BadData(kind, "auth must be an object")),
        (PacketType::Disconnect, None) => Ok(()),
        (PacketType::Disconnect, _) => Err(PacketError::BadData(kind, "takes no data")),
        (PacketType::ConnectError, Some(J::Object(_) | J::String(_))) => Ok(()),
        (PacketType::ConnectError, _) => Err(PacketError::BadData(kind, "needs an object")),
        (PacketType::Event | PacketType::BinaryEvent, Some(J::Array(items))) => match items.first()
        {
            Some(J::String(name)) if RESERVED_EVENTS.contains(&name.as_str()) => {
                Err(PacketError::ReservedEvent(name.clone()))
            }
            Some(J::String(_)) => Ok(()),
            _ => Err(PacketError::BadData(kind, "an event starts with its name")),
        },
        (PacketType::Event | PacketType::BinaryEvent, _) => {
            Err(PacketError::BadData(kind, "needs an array"))
        }
        (PacketType::Ack | PacketType::BinaryAck, Some(J::Array(_))) => Ok(()),
        (PacketType::Ack | PacketType::BinaryAck, _) => {
            Err(PacketError::BadData(kind, "needs an array"))
        }
    }
}

// ANCHOR: decoder
/// Turns Engine.IO messages, in order, into whole packets: a binary
/// packet's text message waits here for its attachments.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    header: Header,
    received: Vec<Vec<u8>>,
    bytes: usize,
}

impl Decoder {
    /// A decoder with these caps.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            pending: None,
        }
    }

    /// Whether a binary packet is waiting for attachments.
    pub fn is_waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// Feed one Engine.IO message. `Ok(None)`: more attachments are needed.
    /// After an error the decoder starts afresh (the caller closes).
    pub fn feed(&mut self, message: Payload) -> Result<Option<Packet>, PacketError> {
        match message {
            Payload::Text(text) => self.feed_text(&text),
            Payload::Binary(bytes) => self.feed_binary(bytes),
        }
    }

    /// Feed a text message.
    pub fn feed_text(&mut self, text: &str) -> Result<Option<Packet>, PacketError> {
        if let Some(p) = self.pending.take() {
            let missing = p.header.attachments - p.received.len();
            return Err(PacketError::UnexpectedText { missing });
        }
        let header = decode_text(text, &self.limits)?;
        if header.attachments == 0 {
            return finish(header, Vec::new()).map(Some);
        }
        let received = Vec::with_capacity(header.attachments);
        self.pending = Some(Pending {
            header,
            received,
            bytes: 0,
        });
        Ok(None)
    }

    /// Feed a binary message (an attachment).
    pub fn feed_binary(&mut self, bytes: Vec<u8>) -> Result<Option<Packet>, PacketError> {
        let mut p = self.pending.take().ok_or(PacketError::UnexpectedBinary)?;
        p.bytes = p.bytes.saturating_add(bytes.len());
        if p.bytes > self.limits.max_attachment_bytes {
            return Err(PacketError::AttachmentsTooLarge {
                max: self.limits.max_attachment_bytes,
            });
        }
        p.received.push(bytes);
        if p.received.len() < p.header.attachments {
            self.pending = Some(p);
            return Ok(None);
        }
        finish(p.header, p.received).map(Some)
    }
}
// ANCHOR_END: decoder

fn finish(header: Header, attachments: Vec<Vec<u8>>) -> Result<Packet, PacketError> {
    let data = match header.json {
        None if !attachments.is_empty() => {
            return Err(PacketError::UnusedAttachment {
                num: 0,
                count: attachments.len(),
            });
        }
        None => None,
        Some(json) if header.kind.is_binary() => Some(reconstruct(json, attachments)?),
        Some(json) => Some(Value::from(json)),
    };
    Ok(Packet {
        kind: header.kind,
        nsp: header.nsp,
        id: header.id,
        data,
    })
}

/// Decode a packet that is one text message (tests, tools).
pub fn decode(text: &str) -> Result<Packet, PacketError> {
    let mut d = Decoder::default();
    match d.feed_text(text)? {
        Some(p) => Ok(p),
        None => Err(PacketError::UnexpectedText {
            missing: d.pending.map_or(0, |p| p.header.attachments),
        }),
    }
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
