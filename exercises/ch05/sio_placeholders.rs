//! Exercise ch05-sio-placeholders: binary data inside JSON.
//!
//! JSON has no bytes. Socket.IO sends an event whose arguments hold
//! binary as a text message where each buffer is replaced by a
//! *placeholder*, `{"_placeholder":true,"num":N}`, followed by the buffers
//! themselves as N+1 binary Engine.IO messages, in order. The header says
//! how many follow (`51-…`), and the receiver puts them back.
//!
//! The receiver must not trust the sender: a placeholder may name an
//! attachment that does not exist, name one twice, or leave one unnamed.
//! Each of those is an error, not a panic.
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch05-sio-placeholders`. Stuck? `cargo learn hint ch05-sio-placeholders`.
#![allow(unused_variables, unused_imports, dead_code, unused_mut)] // the stub does not use them yet

use serde_json::{Value, json};

/// An event argument: JSON, or bytes, possibly nested.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Plain JSON (no bytes inside).
    Json(Value),
    /// Bytes.
    Bytes(Vec<u8>),
    /// An array whose items may hold bytes.
    List(Vec<Arg>),
    /// An object whose values may hold bytes (keys in order).
    Map(Vec<(String, Arg)>),
}

/// Why data and attachments do not fit together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A placeholder whose `num` is not a whole number below the count,
    /// or that names an attachment already used.
    BadPlaceholder,
    /// An attachment that no placeholder names.
    Unused(usize),
}

/// Replace every `Bytes` by `{"_placeholder":true,"num":N}`, pushing the
/// bytes to `attachments` (N is their index there), depth first, in order.
pub fn deconstruct(arg: Arg, attachments: &mut Vec<Vec<u8>>) -> Value {
    todo!("match on the Arg; Bytes pushes and becomes a placeholder")
}

/// Put the attachments back. An object with `"_placeholder": true` is a
/// placeholder; any other array or object becomes `List`/`Map`, anything
/// else `Json`. Every attachment must be used exactly once.
pub fn reconstruct(data: Value, attachments: Vec<Vec<u8>>) -> Result<Arg, Error> {
    todo!("take each attachment out of a Vec<Option<Vec<u8>>> once")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ph(n: u64) -> Value {
        json!({"_placeholder": true, "num": n})
    }

    #[test]
    fn bytes_become_placeholders_in_order() {
        let mut att = Vec::new();
        let data = deconstruct(
            Arg::List(vec![Arg::Json(json!("hello")), Arg::Bytes(vec![1, 2, 3])]),
            &mut att,
        );
        assert_eq!(data, json!(["hello", ph(0)]));
        assert_eq!(att, vec![vec![1, 2, 3]]);
    }

    #[test]
    fn nested_bytes_are_numbered_depth_first() {
        let mut att = Vec::new();
        let arg = Arg::List(vec![
            Arg::Json(json!("e")),
            Arg::Map(vec![
                ("a".into(), Arg::Bytes(vec![1])),
                (
                    "b".into(),
                    Arg::List(vec![
                        Arg::Bytes(vec![2]),
                        Arg::Json(json!(null)),
                        Arg::Bytes(vec![]),
                    ]),
                ),
            ]),
        ]);
        let data = deconstruct(arg, &mut att);
        assert_eq!(data, json!(["e", {"a": ph(0), "b": [ph(1), null, ph(2)]}]));
        assert_eq!(att, vec![vec![1], vec![2], vec![]]);
    }

    #[test]
    fn plain_json_has_no_attachments() {
        let mut att = Vec::new();
        assert_eq!(
            deconstruct(Arg::Json(json!({"x": [1, 2]})), &mut att),
            json!({"x": [1, 2]})
        );
        assert!(att.is_empty());
    }

    #[test]
    fn attachments_go_back_in_place() {
        let arg = reconstruct(
            json!(["hello", {"f": ph(1)}, ph(0)]),
            vec![vec![7], vec![8, 9]],
        )
        .unwrap();
        assert_eq!(
            arg,
            Arg::List(vec![
                Arg::Json(json!("hello")),
                Arg::Map(vec![("f".into(), Arg::Bytes(vec![8, 9]))]),
                Arg::Bytes(vec![7]),
            ])
        );
        assert_eq!(reconstruct(json!(1), vec![]), Ok(Arg::Json(json!(1))));
    }

    #[test]
    fn lying_placeholders_are_errors() {
        assert_eq!(
            reconstruct(json!([ph(1)]), vec![vec![1]]),
            Err(Error::BadPlaceholder)
        );
        assert_eq!(
            reconstruct(json!([ph(0), ph(0)]), vec![vec![1], vec![2]]),
            Err(Error::BadPlaceholder)
        );
        assert_eq!(
            reconstruct(json!([{"_placeholder": true}]), vec![vec![1]]),
            Err(Error::BadPlaceholder)
        );
        assert_eq!(
            reconstruct(json!([{"_placeholder": true, "num": -1}]), vec![vec![1]]),
            Err(Error::BadPlaceholder)
        );
        assert_eq!(
            reconstruct(json!([{"_placeholder": true, "num": "0"}]), vec![vec![1]]),
            Err(Error::BadPlaceholder)
        );
        assert_eq!(
            reconstruct(json!([ph(0)]), vec![vec![1], vec![2]]),
            Err(Error::Unused(1))
        );
        assert_eq!(reconstruct(json!([]), vec![vec![1]]), Err(Error::Unused(0)));
    }

    #[test]
    fn round_trip() {
        let arg = Arg::List(vec![
            Arg::Bytes(vec![1]),
            Arg::Map(vec![("k".into(), Arg::Bytes(vec![2, 3]))]),
        ]);
        let mut att = Vec::new();
        let data = deconstruct(arg.clone(), &mut att);
        assert_eq!(reconstruct(data, att), Ok(arg));
    }
}
