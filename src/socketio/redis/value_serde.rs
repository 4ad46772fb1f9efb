//! [`Value`] through `serde`, for msgpack (`rmp-serde`) and JSON alike.
//!
//! Node's adapter encodes with `notepack.io`, so the bytes here follow what
//! it writes: a `Buffer` becomes msgpack `bin`, an integral number the
//! smallest integer form (never a float), any other number a float 64, an
//! object a map. Objects come out with sorted keys (a [`Value::Object`] is
//! a `BTreeMap`), where JavaScript keeps insertion order: the same map to
//! any reader.
//!
//! A value read from Redis nests at most [`MAX_DEPTH`] levels, whichever
//! the encoding: a message read as msgpack may go out again as JSON (an
//! answer, a request), and must then read back.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::socketio::Value;

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    s.serialize_u64(u)
                } else if let Some(i) = n.as_i64() {
                    s.serialize_i64(i)
                } else {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    // JavaScript has one number type: 2.0 is the integer 2.
                    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                        s.serialize_i64(f as i64)
                    } else {
                        s.serialize_f64(f)
                    }
                }
            }
            Value::String(text) => s.serialize_str(text),
            Value::Binary(bytes) => s.serialize_bytes(bytes),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

/// How many levels a [`Value`] read from Redis may nest: arrays, objects
/// and binary (which JSON writes as an array of its bytes) count one level
/// each. serde_json reads at most 127 nested levels, and a value sits
/// under at most 3 levels of its message (a sharded adapter's answer:
/// `{data: {sockets: [value]}}`), so 124 is the most that every message
/// can carry in JSON as well as in msgpack (whose reader would take 1,023).
pub const MAX_DEPTH: usize = 124;

/// Reads one value `depth` levels inside another.
struct ValueVisitor {
    depth: usize,
}

impl ValueVisitor {
    /// One level more: refused past [`MAX_DEPTH`].
    fn enter<E: de::Error>(&self) -> Result<usize, E> {
        if self.depth >= MAX_DEPTH {
            Err(E::custom(format!(
                "a value nested deeper than {MAX_DEPTH} levels"
            )))
        } else {
            Ok(self.depth + 1)
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueVisitor {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON data, or binary")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that JSON cannot hold (NaN or infinite)"))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Value, E> {
        self.enter()?;
        Ok(Value::Binary(b.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, b: Vec<u8>) -> Result<Value, E> {
        self.enter()?;
        Ok(Value::Binary(b))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.enter()?;
        // No trust in the announced length: grow as elements really come.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueVisitor { depth })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let depth = self.enter()?;
        let mut out = BTreeMap::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(ValueVisitor { depth })?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        // rmp-serde hands a msgpack extension over as (type, bytes).
        // notepack writes `undefined` as fixext 1, type 0, byte 0: null here,
        // as JSON.stringify would say. Other extensions (dates) are refused.
        let (kind, data): (i8, serde_bytes_like::Bytes) = Deserialize::deserialize(d)?;
        if kind == 0 && data.0 == [0] {
            Ok(Value::Null)
        } else {
            Err(de::Error::custom(format!(
                "unsupported msgpack extension type {kind}"
            )))
        }
    }
}

/// A byte string read through `visit_bytes` (no extra crate for it).
mod serde_bytes_like {
    use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};
    use std::fmt;

    pub struct Bytes(pub Vec<u8>);

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: Error>(self, b: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(b.to_vec()))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
                    let mut out = Vec::new();
                    while let Some(b) = seq.next_element()? {
                        out.push(b);
                    }
                    Ok(Bytes(out))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor { depth: 0 })
    }
}
