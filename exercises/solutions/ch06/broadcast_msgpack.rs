//! Exercise ch06-broadcast-msgpack: a broadcast as Node's Redis adapter
//! publishes it.
//!
//! `@socket.io/redis-adapter` publishes each broadcast as MessagePack (with
//! the `notepack.io` encoder): an array of three things, the sending
//! server's uid, the Socket.IO packet, and the broadcast's options:
//!
//! ```text
//! ["abc123", {"type": 2, "data": ["chat", "hello"], "nsp": "/"},
//!            {"rooms": ["room1"], "except": [], "flags": {}}]
//! ```
//!
//! MessagePack writes each value as a type byte, then a length, then the
//! bytes. Small things fit their length into the type byte itself:
//!
//! | value | bytes |
//! |---|---|
//! | string of n < 32 bytes | `0xa0 \| n`, the UTF-8 |
//! | string of n < 256 | `0xd9`, n (1 byte), the UTF-8 |
//! | string of n < 65536 | `0xda`, n (2 bytes, big-endian), the UTF-8 |
//! | longer strings | `0xdb`, n (4 bytes, big-endian), the UTF-8 |
//! | array of n < 16 | `0x90 \| n`, the items |
//! | array of n < 65536 | `0xdc`, n (2 bytes), the items |
//! | longer arrays | `0xdd`, n (4 bytes), the items |
//! | map of n < 16 pairs | `0x80 \| n`, key, value, key, value... |
//! | map of n < 65536 | `0xde`, n (2 bytes), the pairs |
//! | integer 0..=127 | the byte itself |
//!
//! The keys are in the order shown; the tests compare with bytes printed by
//! Node's own encoder.
//!
//! Replace each `todo!()` so that the tests at the bottom pass:
//! `cargo learn check ch06-broadcast-msgpack`. Stuck? `cargo learn hint ch06-broadcast-msgpack`.
#![allow(unused_variables, unused_imports, dead_code)] // the stub does not use them yet

/// Writes a MessagePack string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n < 256 {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n < 65536 {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// Writes the header of an array of `n` items (the items follow).
pub fn write_array_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n < 65536 {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Writes the header of a map of `n` pairs (the pairs follow).
pub fn write_map_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else if n < 65536 {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// An array of strings.
fn write_strs(out: &mut Vec<u8>, items: &[&str]) {
    write_array_len(out, items.len());
    for item in items {
        write_str(out, item);
    }
}

/// The broadcast of event `event` with string arguments `args` in namespace
/// `nsp` to `rooms` (all, if empty) except `except`, from server `uid`, with
/// no flags: `[uid, {type: 2, data: [event, ...args], nsp}, {rooms, except,
/// flags: {}}]`.
pub fn encode_broadcast(
    uid: &str,
    nsp: &str,
    event: &str,
    args: &[&str],
    rooms: &[&str],
    except: &[&str],
) -> Vec<u8> {
    let mut out = Vec::new();
    write_array_len(&mut out, 3);
    write_str(&mut out, uid);
    write_map_len(&mut out, 3);
    write_str(&mut out, "type");
    out.push(2); // EVENT, a positive fixint
    write_str(&mut out, "data");
    write_array_len(&mut out, 1 + args.len());
    write_str(&mut out, event);
    for arg in args {
        write_str(&mut out, arg);
    }
    write_str(&mut out, "nsp");
    write_str(&mut out, nsp);
    write_map_len(&mut out, 3);
    write_str(&mut out, "rooms");
    write_strs(&mut out, rooms);
    write_str(&mut out, "except");
    write_strs(&mut out, except);
    write_str(&mut out, "flags");
    write_map_len(&mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn str_head(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_str(&mut out, s);
        out.truncate(out.len() - s.len());
        out
    }

    #[test]
    fn string_headers_by_length() {
        assert_eq!(str_head(""), [0xa0]);
        assert_eq!(str_head("chat"), [0xa4]);
        assert_eq!(str_head(&"z".repeat(31)), [0xbf]);
        assert_eq!(str_head(&"z".repeat(32)), [0xd9, 0x20]);
        assert_eq!(str_head(&"x".repeat(300)), [0xda, 0x01, 0x2c]);
        assert_eq!(str_head(&"y".repeat(70000)), [0xdb, 0x00, 0x01, 0x11, 0x70]);
        // The length counts bytes, not characters.
        assert_eq!(str_head("é"), [0xa2]);
    }

    #[test]
    fn array_and_map_headers() {
        let head = |f: fn(&mut Vec<u8>, usize), n| {
            let mut out = Vec::new();
            f(&mut out, n);
            out
        };
        assert_eq!(head(write_array_len, 0), [0x90]);
        assert_eq!(head(write_array_len, 15), [0x9f]);
        assert_eq!(head(write_array_len, 16), [0xdc, 0x00, 0x10]);
        assert_eq!(head(write_array_len, 70000), [0xdd, 0x00, 0x01, 0x11, 0x70]);
        assert_eq!(head(write_map_len, 3), [0x83]);
        assert_eq!(head(write_map_len, 16), [0xde, 0x00, 0x10]);
    }

    // The vectors below were printed by notepack.io 3.0.1 (the encoder of
    // @socket.io/redis-adapter 8.3.0) for the same objects.

    #[test]
    fn a_broadcast_to_one_room_is_nodes_bytes() {
        assert_eq!(
            encode_broadcast("abc123", "/", "chat", &["hello"], &["room1"], &[]),
            unhex(
                "93a661626331323383a47479706502a46461746192a463686174a568656c6c6f\
                 a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380"
            )
        );
    }

    #[test]
    fn a_broadcast_to_all_but_two_in_a_namespace() {
        assert_eq!(
            encode_broadcast("uid-1", "/admin", "chat", &["a", "b"], &[], &["x", "y"]),
            unhex(
                "93a57569642d3183a47479706502a46461746193a463686174a161a162a36e7370\
                 a62f61646d696e83a5726f6f6d7390a665786365707492a178a179a5666c61677380"
            )
        );
    }

    #[test]
    fn a_long_argument_and_sixteen_rooms() {
        let rooms: Vec<String> = (0..16).map(|i| format!("r{i}")).collect();
        let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
        assert_eq!(
            encode_broadcast("u", "/", "e", &[&"x".repeat(40)], &rooms, &[]),
            unhex(
                "93a17583a47479706502a46461746192a165d928787878787878787878787878\
                 78787878787878787878787878787878787878787878787878787878a36e7370\
                 a12f83a5726f6f6d73dc0010a27230a27231a27232a27233a27234a27235a272\
                 36a27237a27238a27239a3723130a3723131a3723132a3723133a3723134a372\
                 3135a665786365707490a5666c61677380"
            )
        );
    }
}
