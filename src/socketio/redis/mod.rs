//! Chapter 6's wire format: Socket.IO servers sharing rooms through Redis,
//! byte-compatible with Node's `@socket.io/redis-adapter` v8 (classic
//! pub/sub) and `@socket.io/redis-emitter`. Sans-IO like the rest: these
//! types make and read the bytes; redis-rs moves them.
//!
//! - [`channels`]: `socket.io#/#`, `socket.io#/#room#`,
//!   `socket.io-request#/#`, `socket.io-response#/#`, and the sharded
//!   adapter's names.
//! - [`wire`]: a broadcast is msgpack `[uid, {type, data, nsp}, {rooms,
//!   except, flags}]`; requests and responses are JSON with a numeric
//!   [`RequestType`] (msgpack for a broadcast with acks, whose packet may
//!   hold binary).
//! - [`cluster`]: the sharded adapter's messages (`socket.io-adapter`'s
//!   cluster format) and its channel choice.
//! - [`requests`]: the requests an adapter (classic or sharded) sent and
//!   still waits on, with their deadlines (Node's 5 s by default) and the
//!   answers so far.
//! - [`emitter`]: publish from a process that is not a server, in Node's
//!   format or python-socketio's.
//! - [`adapter`]: [`RedisAdapter`], the [`Adapter`](crate::socketio::Adapter)
//!   that speaks all of the above with the other servers, and [`hub`]:
//!   [`RedisHub`], its two I/O threads (subscriber and publisher) that
//!   reach the event loop through mailboxes and a wake callback.
//! - [`sharded`]: [`ShardedHub`] / [`ShardedAdapter`], the same on a Redis 7
//!   Cluster's sharded pub/sub, as Node's `createShardedAdapter`.
//! - [`client`]: [`Publisher`], a blocking redis-rs connection that
//!   publishes them (for workers and the CLI, never an event loop).
//! - `convert`: [`WirePacket`] from the server's [`Encoded`](crate::socketio::Encoded)
//!   broadcast and back to a [`Packet`](crate::socketio::Packet);
//!   [`WireOpts`] from and to [`BroadcastOptions`](crate::socketio::BroadcastOptions).
//! - `value_serde`: [`Value`](crate::socketio::Value) through serde:
//!   binary as msgpack `bin`, integral numbers as integers, as notepack
//!   writes them; nested at most as deep as JSON can carry them.

pub mod adapter;
pub mod channels;
pub mod client;
pub mod cluster;
mod convert;
pub mod emitter;
pub mod hub;
pub mod requests;
pub mod sharded;
mod value_serde;
pub mod wire;

#[cfg(test)]
mod tests;

pub use adapter::RedisAdapter;
pub use channels::{Channels, ShardedChannels};
pub use client::Publisher;
pub use emitter::{EMITTER_UID, EmitError, Emitter, Publish, PythonEmit};
pub use hub::{RedisHub, RedisOptions, Wake};
pub use sharded::{ShardedAdapter, ShardedHub};
pub use wire::{
    BroadcastMessage, Flags, RemoteSocket, Request, RequestType, Response, Selection, WireError,
    WireOpts, WirePacket,
};

/// A fresh server uid the way Node's adapter makes one (`uid2(6)`: six
/// characters from `A-Za-z0-9`); also used for request ids.
pub fn new_uid() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes)?;
    // 256 is not a multiple of 62: a slight bias, harmless for an id that
    // only has to differ from the other servers'.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}
