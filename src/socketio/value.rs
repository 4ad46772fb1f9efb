//! The data a Socket.IO packet carries: JSON, plus binary anywhere inside.
//!
//! JSON has no bytes, so Socket.IO sends binary *beside* the JSON: each
//! buffer becomes a `{"_placeholder":true,"num":N}` object in the text and
//! travels as the N-th binary Engine.IO message after it (see
//! [`super::packet`]). [`Value`] is the tree before that split (and after
//! its reassembly): JSON's six kinds plus [`Value::Binary`].

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

// ANCHOR: value
/// A JSON value that may hold binary anywhere (an argument of an event).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string.
    String(String),
    /// Bytes: a placeholder in the text, an attachment on the wire.
    Binary(Vec<u8>),
    /// A JSON array.
    Array(Vec<Value>),
    /// A JSON object.
    Object(BTreeMap<String, Value>),
}
// ANCHOR_END: value

impl Value {
    /// Bytes, to travel as a binary attachment.
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Value {
        Value::Binary(bytes.into())
    }

    /// Any `Serialize` type, through `serde_json` (no binary: a `Vec<u8>`
    /// becomes an array of numbers; use [`Value::binary`] for bytes).
    pub fn from_serialize<T: Serialize>(value: &T) -> Result<Value, serde_json::Error> {
        serde_json::to_value(value).map(Value::from)
    }

    /// Whether there is binary anywhere inside (the packet then goes as
    /// `BINARY_EVENT` / `BINARY_ACK`).
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(items) => items.iter().any(Value::has_binary),
            Value::Object(map) => map.values().any(Value::has_binary),
            _ => false,
        }
    }

    /// The value as plain JSON: binary becomes an array of byte numbers,
    /// so a `Vec<u8>` field of a `Deserialize` type still reads it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Binary(bytes) => {
                serde_json::Value::Array(bytes.iter().map(|&b| b.into()).collect())
            }
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            ),
        }
    }

    /// The value as any `Deserialize` type (see [`Value::to_json`]).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.to_json())
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is binary.
    pub fn as_binary(&self) -> Option<&[u8]> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n.into())
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(n.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_and_binary_is_found_when_nested() {
        let plain = Value::from(json!({"a": [1, "x", null, true]}));
        assert!(!plain.has_binary());
        assert_eq!(plain.to_json(), json!({"a": [1, "x", null, true]}));
        let nested = Value::Array(vec![Value::Object(
            [("b".to_owned(), Value::binary([1, 2]))]
                .into_iter()
                .collect(),
        )]);
        assert!(nested.has_binary());
        assert_eq!(nested.to_json(), json!([{"b": [1, 2]}]));
    }

    #[test]
    fn deserialize_reads_binary_as_bytes() {
        let v = Value::Array(vec![Value::from("name"), Value::binary(vec![7, 8, 9])]);
        let (name, bytes): (String, Vec<u8>) = v.deserialize().unwrap();
        assert_eq!(name, "name");
        assert_eq!(bytes, vec![7, 8, 9]);
        assert!(Value::from("x").deserialize::<u32>().is_err());
    }
}
