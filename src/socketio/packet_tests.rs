use super::*;
use serde_json::json;

fn j(v: serde_json::Value) -> Value {
    Value::from(v)
}

#[test]
fn encodes_the_examples_of_the_protocol() {
    assert_eq!(Packet::connect("/", None).encode().text, "0");
    assert_eq!(
        Packet::connect("/admin", Some(j(json!({"token":"123"}))))
            .encode()
            .text,
        r#"0/admin,{"token":"123"}"#
    );
    assert_eq!(
        Packet::connect_ok("/", "oSO0OpakMV_3jnilAAAA")
            .encode()
            .text,
        r#"0{"sid":"oSO0OpakMV_3jnilAAAA"}"#
    );
    assert_eq!(
        Packet::connect_error("/", "Not authorized", None)
            .encode()
            .text,
        r#"4{"message":"Not authorized"}"#
    );
    assert_eq!(Packet::disconnect("/admin").encode().text, "1/admin,");
    assert_eq!(
        Packet::event("/", "foo", vec![], None).encode().text,
        r#"2["foo"]"#
    );
    assert_eq!(
        Packet::event("/admin", "bar", vec![1i64.into()], Some(13))
            .encode()
            .text,
        r#"2/admin,13["bar",1]"#
    );
    assert_eq!(
        Packet::ack("/admin", 13, vec!["bar".into()]).encode().text,
        r#"3/admin,13["bar"]"#
    );
}

#[test]
fn binary_is_replaced_by_placeholders_and_sent_after() {
    let e = Packet::event("/", "hello", vec![Value::binary([1, 2, 3])], None).encode();
    assert_eq!(e.text, r#"51-["hello",{"_placeholder":true,"num":0}]"#);
    assert_eq!(e.attachments, vec![vec![1, 2, 3]]);
    let e = Packet::ack("/admin", 456, vec![Value::binary([3]), j(json!({"a":1}))]).encode();
    assert_eq!(
        e.text,
        r#"61-/admin,456[{"_placeholder":true,"num":0},{"a":1}]"#
    );
    let nested = Value::Object(BTreeMap::from([
        ("a".to_owned(), Value::binary([1])),
        (
            "b".to_owned(),
            Value::Array(vec![Value::binary([2]), Value::binary([])]),
        ),
    ]));
    let e = Packet::event("/", "x", vec![nested.clone()], Some(7)).encode();
    assert_eq!(
        e.text,
        r#"53-7["x",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]}]"#
    );
    assert_eq!(e.attachments, vec![vec![1], vec![2], vec![]]);
    let mut d = Decoder::default();
    assert_eq!(d.feed_text(&e.text), Ok(None));
    assert_eq!(d.feed_binary(vec![1]), Ok(None));
    assert_eq!(d.feed_binary(vec![2]), Ok(None));
    assert!(d.is_waiting());
    let p = d.feed_binary(vec![]).unwrap().unwrap();
    assert_eq!(p.kind, PacketType::BinaryEvent);
    assert_eq!(p.id, Some(7));
    assert_eq!(p.event_parts(), Some(("x", &[nested][..])));
    assert!(!d.is_waiting());
}

#[test]
fn decodes_headers_namespaces_and_ids() {
    let p = decode(r#"2/admin,13["bar",1]"#).unwrap();
    assert_eq!(
        (p.kind, p.nsp.as_str(), p.id),
        (PacketType::Event, "/admin", Some(13))
    );
    assert_eq!(p.event_parts().unwrap().0, "bar");
    let p = decode("0").unwrap();
    assert_eq!(
        (p.kind, p.nsp.as_str(), p.data),
        (PacketType::Connect, "/", None)
    );
    let p = decode("1/admin,").unwrap();
    assert_eq!((p.kind, p.nsp.as_str()), (PacketType::Disconnect, "/admin"));
    let p = decode("1/admin").unwrap();
    assert_eq!(p.nsp, "/admin");
    let p = decode(r#"0/a/b,{"token":1}"#).unwrap();
    assert_eq!(p.nsp, "/a/b");
    assert_eq!(p.data, Some(j(json!({"token":1}))));
    let p = decode(r#"4{"message":"no","data":{"x":1}}"#).unwrap();
    assert_eq!(p.kind, PacketType::ConnectError);
    assert_eq!(
        decode(&format!("3{}[]", u64::MAX)).unwrap().id,
        Some(u64::MAX)
    );
    assert_eq!(decode("3007[]").unwrap().id, Some(7));
}

#[test]
fn round_trips() {
    let packets = [
        Packet::connect("/chat", Some(j(json!({"k":[1,2]})))),
        Packet::connect_ok("/", "abc"),
        Packet::connect_error("/x", "nope", Some(j(json!({"why":"auth"})))),
        Packet::disconnect("/"),
        Packet::event("/", "a", vec![j(json!({"é":"ü","n":null}))], Some(0)),
        Packet::ack("/y", 99, vec![]),
    ];
    for p in packets {
        assert_eq!(decode(&p.encode().text).unwrap(), p);
    }
}

#[test]
fn ack_id_must_fit_u64() {
    assert_eq!(
        decode("318446744073709551616[]"),
        Err(PacketError::AckIdTooLarge)
    );
    assert_eq!(
        decode("2999999999999999999999999[\"a\"]"),
        Err(PacketError::AckIdTooLarge)
    );
}

#[test]
fn attachment_count_is_capped() {
    let ok = format!(
        "510-[\"a\"{}]",
        (0..10)
            .map(|n| format!(",{{\"_placeholder\":true,\"num\":{n}}}"))
            .collect::<String>()
    );
    let mut d = Decoder::default();
    assert_eq!(d.feed_text(&ok), Ok(None));
    for n in 0..9 {
        assert_eq!(d.feed_binary(vec![n]), Ok(None));
    }
    assert!(d.feed_binary(vec![9]).unwrap().is_some());
    assert_eq!(
        decode_text(r#"511-["a"]"#, &Limits::default()),
        Err(PacketError::TooManyAttachments { count: 11, max: 10 })
    );
    assert_eq!(
        decode_text(r#"599999999999999999999999-["a"]"#, &Limits::default()),
        Err(PacketError::TooManyAttachments {
            count: u64::MAX,
            max: 10
        })
    );
}

#[test]
fn attachment_bytes_are_capped_in_total() {
    let mut d = Decoder::new(Limits {
        max_attachments: 10,
        max_attachment_bytes: 10,
    });
    d.feed_text(r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .unwrap();
    assert_eq!(d.feed_binary(vec![0; 6]), Ok(None));
    assert_eq!(
        d.feed_binary(vec![0; 5]),
        Err(PacketError::AttachmentsTooLarge { max: 10 })
    );
    assert!(!d.is_waiting());
}

#[test]
fn placeholders_must_match_the_count() {
    let feed = |text: &str, bins: usize| {
        let mut d = Decoder::default();
        let mut last = d.feed_text(text);
        for _ in 0..bins {
            last = d.feed_binary(vec![1]);
        }
        last
    };
    // out of range
    assert_eq!(
        feed(r#"51-["a",{"_placeholder":true,"num":1}]"#, 1),
        Err(PacketError::BadPlaceholder { count: 1 })
    );
    // not a number / negative / missing
    assert!(feed(r#"51-["a",{"_placeholder":true,"num":"0"}]"#, 1).is_err());
    assert!(feed(r#"51-["a",{"_placeholder":true,"num":-1}]"#, 1).is_err());
    assert!(feed(r#"51-["a",{"_placeholder":true}]"#, 1).is_err());
    // used twice
    assert_eq!(
        feed(
            r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#,
            2
        ),
        Err(PacketError::BadPlaceholder { count: 2 })
    );
    // the count says 2, the data names 1
    assert_eq!(
        feed(r#"52-["a",{"_placeholder":true,"num":0}]"#, 2),
        Err(PacketError::UnusedAttachment { num: 1, count: 2 })
    );
    // zero attachments is a valid binary event
    assert!(feed(r#"50-["a"]"#, 0).unwrap().is_some());
    // a placeholder-looking object in a plain event is plain data
    let p = feed(r#"2["a",{"_placeholder":true,"num":0}]"#, 0)
        .unwrap()
        .unwrap();
    assert_eq!(
        p.event_parts().unwrap().1,
        &[j(json!({"_placeholder":true,"num":0}))]
    );
}

#[test]
fn order_of_messages_is_checked() {
    let mut d = Decoder::default();
    assert_eq!(d.feed_binary(vec![1]), Err(PacketError::UnexpectedBinary));
    d.feed_text(r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .unwrap();
    d.feed_binary(vec![1]).unwrap();
    assert_eq!(
        d.feed_text(r#"2["b"]"#),
        Err(PacketError::UnexpectedText { missing: 1 })
    );
    // it starts afresh after an error
    assert!(d.feed_text(r#"2["b"]"#).unwrap().is_some());
}

#[test]
fn malformed_headers_and_shapes_are_errors() {
    use PacketError as E;
    assert_eq!(decode(""), Err(E::Empty));
    assert_eq!(decode("7"), Err(E::UnknownType('7')));
    assert_eq!(decode("é"), Err(E::UnknownType('é')));
    assert_eq!(decode("5[\"a\"]"), Err(E::BadAttachmentCount));
    assert_eq!(decode("51[\"a\"]"), Err(E::BadAttachmentCount));
    assert_eq!(decode("5-[\"a\"]"), Err(E::BadAttachmentCount));
    assert!(matches!(decode("2[\"a\""), Err(E::Json(_))));
    assert!(matches!(decode("2-[\"a\"]"), Err(E::Json(_))));
    assert!(matches!(decode("2[\"a\"] x"), Err(E::Json(_))));
    assert_eq!(
        decode("2"),
        Err(E::BadData(PacketType::Event, "needs an array"))
    );
    assert_eq!(
        decode("2[]"),
        Err(E::BadData(
            PacketType::Event,
            "an event starts with its name"
        ))
    );
    assert_eq!(
        decode("2[1]"),
        Err(E::BadData(
            PacketType::Event,
            "an event starts with its name"
        ))
    );
    assert_eq!(
        decode("2{}"),
        Err(E::BadData(PacketType::Event, "needs an array"))
    );
    assert_eq!(
        decode(r#"2["connect"]"#),
        Err(E::ReservedEvent("connect".into()))
    );
    assert_eq!(
        decode(r#"2["disconnecting"]"#),
        Err(E::ReservedEvent("disconnecting".into()))
    );
    assert_eq!(decode("3[]"), Err(E::BadAckId(PacketType::Ack)));
    assert_eq!(decode("01"), Err(E::BadAckId(PacketType::Connect)));
    assert_eq!(
        decode("0[]"),
        Err(E::BadData(PacketType::Connect, "auth must be an object"))
    );
    assert_eq!(
        decode("0\"x\""),
        Err(E::BadData(PacketType::Connect, "auth must be an object"))
    );
    assert_eq!(
        decode("1{}"),
        Err(E::BadData(PacketType::Disconnect, "takes no data"))
    );
    assert_eq!(
        decode("4"),
        Err(E::BadData(PacketType::ConnectError, "needs an object"))
    );
    assert_eq!(
        decode("3/a,1{}"),
        Err(E::BadData(PacketType::Ack, "needs an array"))
    );
    let deep = format!("2[\"a\",{}{}]", "[".repeat(10_000), "]".repeat(10_000));
    assert!(
        matches!(decode(&deep), Err(E::Json(_))),
        "serde_json's depth limit answers"
    );
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_packets_never_panic_and_what_decodes_re_encodes() {
    let seeds = [
        r#"2/admin,13["bar",1]"#,
        r#"51-["hello",{"_placeholder":true,"num":0}]"#,
        r#"62-/x,9[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#,
        r#"0/chat,{"token":"abc"}"#,
        r#"4{"message":"no","data":[1]}"#,
        "1/admin,",
        r#"3/a,18446744073709551615["é",null,true,1.5e3]"#,
    ];
    let alphabet = b"0123456789-/,[]{}\":_placeholdernum truefalse\\\xc3\xa9";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut err) = (0, 0);
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].as_bytes().to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(4) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 if at < bytes.len() => bytes[at] = alphabet[rng.below(alphabet.len())],
                2 => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                _ => bytes.truncate(at),
            }
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let mut d = Decoder::new(Limits {
            max_attachments: 3,
            max_attachment_bytes: 8,
        });
        let mut result = d.feed_text(&text);
        for n in 0..rng.below(5) {
            if !matches!(result, Ok(None)) {
                break;
            }
            result = if rng.below(8) == 0 {
                d.feed_text("2[\"x\"]")
            } else {
                d.feed_binary(vec![n as u8; rng.below(5)])
            };
        }
        match result {
            Ok(Some(p)) => {
                ok += 1;
                // what decodes encodes to something that decodes to the same
                let e = p.encode();
                let mut d2 = Decoder::default();
                let mut again = d2.feed_text(&e.text).unwrap();
                for a in e.attachments {
                    again = d2.feed_binary(a).unwrap();
                }
                let again = again.unwrap();
                assert_eq!(
                    (again.nsp, again.id, again.data),
                    (p.nsp, p.id, p.data),
                    "{text:?}"
                );
            }
            Ok(None) => {}
            Err(e) => {
                err += 1;
                assert!(!e.to_string().is_empty());
            }
        }
    }
    assert!(
        ok > 500 && err > 500,
        "the mutations reach both sides: {ok} ok, {err} errors"
    );
}

#[test]
fn encoding_writes_what_deconstruct_and_serde_json_would() {
    // `encode` writes the JSON straight from the `Value`; it must match the
    // tree `deconstruct` builds, as serde_json prints it, byte for byte.
    let values = vec![
        j(json!([
            "echo", "plain", 1, -2, 3.5, 1e300, null, true, false
        ])),
        j(json!([
            "esc",
            "quote \" backslash \\ newline \n tab \t nul \u{0} é 漢 🎉"
        ])),
        j(json!(["nested", {"b": [1, {"z": null, "a": "x"}], "a": {}, "": []}])),
        Value::Array(vec![
            Value::from("bin"),
            Value::binary(vec![1, 2, 3]),
            Value::Object(BTreeMap::from([
                ("z".to_owned(), Value::binary(vec![9])),
                (
                    "a".to_owned(),
                    Value::Array(vec![Value::binary(vec![]), Value::from(7u64)]),
                ),
                ("_placeholder".to_owned(), Value::from("not one")),
            ])),
            Value::binary(vec![4]),
        ]),
    ];
    for value in values {
        let packet = Packet::event("/chat", "ignored", Vec::new(), Some(3));
        let packet = Packet {
            data: Some(value.clone()),
            ..packet
        };
        let mut attachments = Vec::new();
        let tree = deconstruct(&value, &mut attachments);
        let encoded = packet.encode();
        let header_end = encoded.text.find('[').expect("an array");
        assert_eq!(&encoded.text[header_end..], tree.to_string(), "{value:?}");
        assert_eq!(encoded.attachments, attachments);
        let kind = if attachments.is_empty() { "2" } else { "5" };
        assert!(encoded.text.starts_with(kind), "{}", encoded.text);
    }
}
