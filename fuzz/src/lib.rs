//! What the fuzz targets share: the limits they configure and small helpers
//! to turn fuzz bytes into well-formed values for the round-trip properties.
//!
//! # The allocation property
//!
//! Every target configures its parser with limits of at most [`LIMIT`]
//! (1 MiB), and `scripts/fuzz` runs libFuzzer with `-malloc_limit_mb=2`:
//! libFuzzer (through the address sanitizer's malloc hooks, on by default
//! with `cargo fuzz`) stops with "out-of-memory (malloc(N))" and saves the
//! input as soon as any single allocation reaches 2 MiB. So no input may
//! make a parser allocate twice its configured limit at once (a `Vec` that
//! doubles its capacity may reach twice what it holds). A length field that
//! claims 2^63 bytes and is believed before it is checked is caught this
//! way, and needs no `unsafe` counting allocator. The `alloc_guard` target
//! proves the check is live: `scripts/fuzz` expects it to be stopped.

pub mod server;

use libfuzzer_sys::arbitrary::{Result, Unstructured};

/// The largest limit any target configures (bytes).
pub const LIMIT: usize = 1024 * 1024;

/// WebSocket limits of [`LIMIT`] (the defaults are 16 MiB).
pub fn ws_config() -> netladder::ws::Config {
    netladder::ws::Config {
        max_message_size: LIMIT,
        max_frame_size: LIMIT,
        ..netladder::ws::Config::default()
    }
}

/// A string of 0 to `max` characters drawn from `alphabet`.
pub fn string_from(u: &mut Unstructured<'_>, alphabet: &[u8], max: usize) -> Result<String> {
    let len = u.int_in_range(0..=max)?;
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(char::from(*u.choose(alphabet)?));
    }
    Ok(s)
}

/// Token characters (RFC 9110 §5.6.2): header names, methods.
pub const TOKEN: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Visible ASCII characters: header values, request targets.
pub fn visible() -> Vec<u8> {
    (0x21..0x7f).collect()
}

/// A non-empty token of at most `max` characters.
pub fn token(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    let mut s = string_from(u, TOKEN, max.saturating_sub(1))?;
    s.insert(0, char::from(*u.choose(TOKEN)?));
    Ok(s)
}

/// A way of feeding input to a decoder: [`feed_whole`] or [`feed_bytewise`].
/// The step gets everything buffered and returns the bytes it used (0: wait
/// for more) or `None` to stop; the feed returns the bytes left unused.
pub type Feed = fn(&[u8], &mut dyn FnMut(&[u8]) -> Option<usize>) -> usize;

/// [`whole`] as a [`Feed`].
pub fn feed_whole(input: &[u8], step: &mut dyn FnMut(&[u8]) -> Option<usize>) -> usize {
    whole(input, step)
}

/// [`bytewise`] as a [`Feed`].
pub fn feed_bytewise(input: &[u8], step: &mut dyn FnMut(&[u8]) -> Option<usize>) -> usize {
    bytewise(input, step)
}

/// Feeds `input` to a sans-IO decoder as one buffer that grows one byte at a
/// time, the worst split TCP may produce: `step` is called with everything
/// buffered and returns how many bytes it used (0: wait for more) or `None`
/// to stop. Returns the bytes left buffered.
pub fn bytewise(input: &[u8], mut step: impl FnMut(&[u8]) -> Option<usize>) -> usize {
    let mut buffered = Vec::new();
    for &byte in input {
        buffered.push(byte);
        loop {
            match step(&buffered) {
                None => return buffered.len(),
                Some(0) => break,
                Some(used) => {
                    buffered.drain(..used);
                }
            }
        }
    }
    buffered.len()
}

/// Feeds `input` as one buffer: `step` as in [`bytewise`]. Returns the bytes
/// left unused.
pub fn whole(input: &[u8], mut step: impl FnMut(&[u8]) -> Option<usize>) -> usize {
    let mut pos = 0;
    loop {
        match step(&input[pos..]) {
            None | Some(0) => return input.len() - pos,
            Some(used) => pos += used,
        }
    }
}
