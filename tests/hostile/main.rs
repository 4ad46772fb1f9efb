//! The hostile-input catalogue (issue 12, part 3): every layer that has
//! landed, attacked the ways a real server is, on both drivers.
//!
//! Each case asserts the exact answer (an HTTP status, a WebSocket close
//! code, an Engine.IO error code or close reason, a Socket.IO packet error
//! or disconnect, or that the connection is dropped) and that a healthy
//! client on the same server keeps getting answers within one second while
//! the attack runs. The servers run in this process with chapter 2's,
//! chapter 3's and chapter 5's protocols and the sans-IO Socket.IO server,
//! with timeouts shortened so that the catalogue runs in about a minute.
//! The book's testing appendix lists the cases.

mod eio;
mod harness;
mod http;
mod sio;
mod ws;
