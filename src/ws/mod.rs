//! WebSocket (RFC 6455), written by hand, sans-IO.
//!
//! A WebSocket starts life as an HTTP/1.1 request that asks to *upgrade*
//! the connection; once the server answers `101 Switching Protocols`, both
//! sides stop speaking HTTP and exchange *frames* over the same TCP
//! connection, in both directions, whenever they like.
//!
//! | file | what it does |
//! |---|---|
//! | [`mask`] | the XOR every client-to-server payload goes through |
//! | [`frame`] | frame headers: decode and encode |
//! | [`utf8`] | UTF-8 validation of text that arrives in pieces |
//! | [`close`] | close codes and the close frame's payload |
//! | [`connection`] | one connection's state machine: bytes in, messages out |
//! | [`protocol`] | the glue to a driver: [`WsProtocol`] calls your [`WsHandler`] |
//! | [`server`] | a server connection from its first byte: upgrade (or plain HTTP), then WebSocket |
//! | [`broadcast`] | a registry of mailboxes, to send one message to many connections |
//! | [`shared`] | a message for many connections, framed (and compressed) once |
//! | [`handshake`] | the HTTP upgrade: checking a request, answering it, and the client's side |
//! | [`handover`] | from a request parsed by chapter 2's HTTP layer to a server connection (both servers that accept WebSockets use it) |
//! | [`extensions`] | the `Sec-WebSocket-Extensions` header's grammar |
//! | [`deflate`] | compression (`permessage-deflate`, RFC 7692): negotiation and codec |
//!
//! None of these touch a socket or a clock: they are fed bytes and queue
//! bytes, which keeps every rule testable one byte at a time.
//!
//! # A server in a few lines
//!
//! An application implements [`WsHandler`]; [`WsServerProtocol`] does the
//! upgrade and runs it on any driver. A chat room is a [`Broadcast`] of
//! every connection's mailbox: a message sent to a mailbox arrives as an
//! [`Outgoing`], which the handler sends to its peer by default.
//!
//! ```no_run
//! use netladder::driver::threads;
//! use netladder::ws::{Broadcast, HttpResponse, WsMessage, MemberId, Outgoing};
//! use netladder::ws::{ServerConfig, WsContext, WsHandler, WsServerProtocol};
//! use std::sync::Arc;
//!
//! struct Chat {
//!     room: Broadcast<Outgoing>,
//!     me: Option<MemberId>,
//! }
//!
//! impl WsHandler for Chat {
//!     fn on_open(&mut self, ws: &mut WsContext<'_>) {
//!         self.me = Some(self.room.join(ws.mailbox().clone()));
//!     }
//!     fn on_message(&mut self, message: WsMessage, _ws: &mut WsContext<'_>) {
//!         if let WsMessage::Text(text) = message {
//!             self.room.send_all(&Outgoing::shared_text(text));
//!         }
//!     }
//!     fn on_close(&mut self, _code: u16, _reason: &str) {
//!         if let Some(me) = self.me.take() {
//!             self.room.leave(me);
//!         }
//!     }
//! }
//!
//! let config = Arc::new(
//!     ServerConfig::default().with_http(|_request| HttpResponse::html("<p>the chat page</p>")),
//! );
//! let room = Broadcast::new();
//! let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
//! threads::serve(
//!     listener,
//!     move |_peer| {
//!         let chat = Chat { room: room.clone(), me: None };
//!         WsServerProtocol::new(chat, Arc::clone(&config))
//!     },
//!     threads::Config::default(),
//! )?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Limits and defaults
//!
//! | what | default | where |
//! |---|---|---|
//! | largest message (all fragments) | 16 MiB, then close 1009 | [`Config::max_message_size`] |
//! | largest frame payload | 16 MiB, then close 1009 | [`Config::max_frame_size`] |
//! | wait for the answer to our close | 5 s, then drop the TCP connection | [`Config::close_timeout`] |
//! | time to send the request head | 10 s, then `408` | [`ServerConfig::http_limits`] (chapter 2's [`crate::http::Limits`]) |
//! | largest request head | 16 KiB (and 64 headers), then `431` | [`ServerConfig::http_limits`] |
//! | origins allowed | none sent, or a loopback host | [`handshake::server::OriginPolicy`] |
//! | subprotocols | none | [`handshake::server::HandshakePolicy`] |
//! | compression | `permessage-deflate` when the client offers it; no context takeover; messages under 64 bytes uncompressed | [`Config::deflate`], [`deflate::DeflateConfig`] |
//! | non-minimal frame lengths | refused (1002), as RFC 6455 §5.2 says MUST | [`frame::decode_header`] |
//!
//! Messages are sent as one frame each; incoming ones may be fragmented.

pub mod broadcast;
pub mod client;
pub mod close;
pub mod connection;
pub mod deflate;
pub mod extensions;
pub mod frame;
pub mod handover;
pub mod handshake;
pub mod mask;
pub mod protocol;
pub mod server;
pub mod shared;
pub mod utf8;

pub use broadcast::{Broadcast, MemberId};
pub use close::code;
pub use connection::{Config, ProtocolError, Role, State, WsConnection, WsMessage, WsSendError};
pub use deflate::{DeflateConfig, DeflateParams};
pub use protocol::{HandshakeInfo, Outgoing, WsContext, WsHandler, WsProtocol};
pub use server::{HttpFallback, HttpRequest, HttpResponse, ServerConfig, WsServerProtocol};
pub use shared::{SharedFrame, SharedSend};
