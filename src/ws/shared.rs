//! One data message for many connections (a broadcast), framed once per
//! wire form and shared.
//!
//! A server's frames are not masked, so the frame of a message is the same
//! bytes for every connection that sends it the same way. There are few
//! ways: uncompressed, or compressed with a fresh context for one window
//! size and level ([`FreshKey`]). A [`SharedFrame`] builds each way the
//! first time a connection asks for it and keeps it as an `Arc<[u8]>` that
//! every such connection queues with [`crate::driver::Ctx::send_shared`]:
//! a broadcast to 1,000 connections that agreed on compression compresses
//! once, not 1,000 times, and no connection copies the frame.
//!
//! A connection that keeps its compression context between messages
//! (context takeover) cannot take a shared compressed frame: its peer's
//! decompressor follows its own compressor's history. It compresses the
//! message itself, as it does any other ([`WsConnection::send_shared`]).
//!
//! [`WsConnection::send_shared`]: super::WsConnection::send_shared

use super::deflate::{self, FreshKey};
use super::frame::{self, Opcode};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// RSV1, set in a compressed message's first byte (RFC 7692 §6).
const RSV1_BIT: u8 = 0x40;

// ANCHOR: shared_frame
/// A text or binary message to send to many connections; see the module
/// documentation.
pub struct SharedFrame {
    opcode: Opcode,
    payload: Box<[u8]>,
    /// The uncompressed frame, once built.
    plain: OnceLock<Arc<[u8]>>,
    /// The compressed frames built so far, one per key. The lock is held
    /// while compressing, so two connections that need the same key at the
    /// same moment still compress once.
    compressed: Mutex<Vec<(FreshKey, Arc<[u8]>)>>,
}

impl SharedFrame {
    /// A text message.
    pub fn text(text: impl Into<String>) -> SharedFrame {
        SharedFrame::new(Opcode::Text, text.into().into_bytes())
    }

    /// A binary message.
    pub fn binary(bytes: impl Into<Vec<u8>>) -> SharedFrame {
        SharedFrame::new(Opcode::Binary, bytes.into())
    }

    fn new(opcode: Opcode, payload: Vec<u8>) -> SharedFrame {
        SharedFrame {
            opcode,
            payload: payload.into_boxed_slice(),
            plain: OnceLock::new(),
            compressed: Mutex::new(Vec::new()),
        }
    }

    /// Text or binary.
    pub fn opcode(&self) -> Opcode {
        self.opcode
    }

    /// The message (for a text message, UTF-8).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The whole uncompressed frame, as a server sends it; the flag says
    /// whether this call built it.
    pub fn plain(&self) -> (Arc<[u8]>, bool) {
        let mut built = false;
        let frame = self.plain.get_or_init(|| {
            built = true;
            let mut out = Vec::new();
            frame::encode_frame(&mut out, true, self.opcode, &self.payload, None);
            out.into()
        });
        (Arc::clone(frame), built)
    }

    /// The whole frame compressed with a fresh context for `key` (RSV1
    /// set), as a server sends it; the flag says whether this call built
    /// it, which is also whether it compressed.
    pub fn compressed(&self, key: FreshKey) -> (Arc<[u8]>, bool) {
        // A panic while compressing leaves the list as it was.
        let mut frames = self
            .compressed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, frame)) = frames.iter().find(|(k, _)| *k == key) {
            return (Arc::clone(frame), false);
        }
        let mut deflated = Vec::new();
        deflate::compress_fresh(&self.payload, key, &mut deflated);
        let mut out = Vec::new();
        frame::encode_frame(&mut out, true, self.opcode, &deflated, None);
        out[0] |= RSV1_BIT;
        let frame: Arc<[u8]> = out.into();
        frames.push((key, Arc::clone(&frame)));
        (frame, true)
    }
}
// ANCHOR_END: shared_frame

impl fmt::Debug for SharedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedFrame")
            .field("opcode", &self.opcode)
            .field("len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

impl PartialEq for SharedFrame {
    fn eq(&self, other: &SharedFrame) -> bool {
        self.opcode == other.opcode && self.payload == other.payload
    }
}

impl Eq for SharedFrame {}

/// What [`super::WsConnection::send_shared`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedSend {
    /// The shared frame to write after the connection's queued output;
    /// `None` when the connection framed the message itself, into its own
    /// output (a client, which masks, or a compressor that keeps context).
    pub frame: Option<Arc<[u8]>>,
    /// This call built the shared frame (the first connection to need this
    /// form of the message).
    pub built: bool,
    /// This call compressed the message: it built a compressed shared
    /// frame, or the connection compressed it with its own context.
    pub compressed: bool,
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
