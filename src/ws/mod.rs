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
//! | [`handshake`] | the HTTP upgrade: checking a request, answering it, and the client's side |
//!
//! None of these touch a socket or a clock: they are fed bytes and queue
//! bytes, which keeps every rule testable one byte at a time.

pub mod broadcast;
pub mod close;
pub mod connection;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod protocol;
pub mod server;
pub mod utf8;

pub use broadcast::{Broadcast, MemberId};
pub use close::code;
pub use connection::{Config, Message, ProtocolError, Role, SendError, State, WsConnection};
pub use protocol::{HandshakeInfo, Outgoing, WsContext, WsHandler, WsProtocol};
pub use server::{HttpFallback, HttpRequest, HttpResponse, ServerConfig, WsServerProtocol};
