//! netladder: network programming one layer at a time.
//!
//! Each module is one rung of the ladder. Protocol modules are *sans-IO*:
//! they are fed bytes and return bytes to send, never touching a socket.
//! The [`driver`] module moves bytes between sockets and those protocols.
//!
//! | module | chapter | what it adds |
//! |---|---|---|
//! | [`framing`] | 1 | message boundaries on top of TCP's byte stream |
//! | [`echo`] | 1 | the smallest protocol: echo every byte back |
//! | [`driver`] | 1 (threads), 4 (mio) | sockets, threads, timers, outside messages |
//! | [`http`] | 2 | HTTP/1.1 server and client on `httparse`: limits, keep-alive, long polling |
//! | [`ws`] | 3 | WebSocket by hand: handshake, frames, the close handshake |
//! | [`engineio`] | 5 | Engine.IO v4: sessions across connections, polling, upgrade, heartbeats |
//! | [`socketio`] | 5 | Socket.IO v5: namespaces, events, acks, binary, rooms, broadcasts |
//! | [`cli`] | all | the flags and logging every chapter binary shares |
//! | [`balancer`] | 6 | a sticky HTTP load balancer: sessions routed by `sid`, WebSocket tunnels |

pub mod balancer;
pub mod cli;
pub mod driver;
pub mod echo;
pub mod engineio;
pub mod framing;
pub mod http;
pub mod socketio;
pub mod ws;
