//! Engine.IO v4, sans-IO: the layer under Socket.IO.
//!
//! A WebSocket is one TCP connection; when it breaks, it is gone. An
//! Engine.IO **session** is a longer-lived thing: it has an id (`sid`) and
//! outlives any single connection. It starts on HTTP long-polling, where
//! every exchange is a separate request (a GET held open until the server
//! has something to say, a POST for each batch the client sends), possibly
//! each on a different TCP connection. When it can, it moves to a
//! WebSocket, and the move (the *upgrade*) must lose and reorder nothing.
//! Heartbeats (the server pings, the client pongs) tell a live session from
//! a dead one, since no single connection can.
//!
//! So the session state lives apart from any connection, and connections
//! only *visit* it:
//!
//! - [`packet`]: the seven packet types, and their two wire forms (one per
//!   WebSocket frame; joined by `0x1e` in a polling body).
//! - [`error`]: the error codes, answered as HTTP 400 with a JSON body.
//! - [`handshake`]: reading a request (handshake, poll, post, upgrade,
//!   preflight), the open packet, session ids.
//! - [`session`]: one server-side session: queue, transports, upgrade,
//!   heartbeats, typed close reasons. It knows connections only by tokens
//!   and hands out each batch of packets to exactly one of them.
//! - [`registry`]: every session of a server, by sid, with their timers.
//! - [`server`]: the router: one call per request decides whether the
//!   connection answers now, holds the request, or becomes a WebSocket.
//! - [`compress`]: gzip/deflate on polling answers, when the client
//!   accepts it and the body is large enough.
//! - [`cors`]: the CORS headers and the `OPTIONS` preflight.
//! - [`glue`]: the server on a driver: one [`EioProtocol`] per TCP
//!   connection (plain HTTP, polling, WebSocket), the shared [`EngineIo`]
//!   handle, its timer thread.
//! - [`client`]: the client's state machine: handshake, polling, upgrade,
//!   pongs; it produces the HTTP requests and frames to send.
//! - [`blocking`]: a blocking client over `std::net` that drives it
//!   (`ch05-eio-client` uses it).
//!
//! None of it but [`glue`] and [`blocking`] touches a socket, a thread or
//! the clock: times come in as
//! `Instant`s, and [`session::Session::poll_timeout`] says when to call
//! [`session::Session::handle_timeout`] next (the style of `quinn-proto`).
//!
//! The server glue ([`glue`], on both drivers) is an HTTP-level protocol
//! per TCP connection, [`EioProtocol`]. Every connection shares one
//! [`EngineIo`]: the [`Server`] and its sessions under one lock. A request
//! on the Engine.IO path goes through [`Server::route`]:
//!
//! ```text
//!  conn A: GET  ?sid=X ─route─▶ Route::Hold{token} ─── A holds its request
//!  conn B: POST ?sid=X ─route─▶ Session X ◀── EngineIo::send() from any thread
//!  timer thread ─ handle_timeout ─▶ │       (one per EngineIo: it sleeps
//!                                   │        until Registry::poll_timeout)
//!            poll_transmit() ───────┴─▶ Transmit::Poll{token} ──▶ A's outbox
//!                                                     ──Wake mail──▶ A answers
//! ```
//!
//! After every call that touches a session, the glue drains
//! [`Session::poll_transmit`] under the lock and puts each transmit in the
//! *outbox* of the connection holding its token (a held GET, a WebSocket),
//! waking that connection through its mailbox (one wake-up however many
//! transmits wait, so a fast sender cannot overflow the driver's bounded
//! inbox). A transmit whose connection is gone goes back at once
//! ([`Session::give_back`]) under the same lock: nothing is lost, sent twice
//! or reordered. On [`Route::WebSocket`] the connection answers `101` and
//! becomes a WebSocket on the same socket, with the bytes it already read,
//! and feeds its frames to [`Session::on_ws_frame`] with its token.
//!
//! **Timers.** Heartbeats belong to sessions, not connections: between two
//! polls a session may have no connection at all. So one thread per
//! [`EngineIo`] sleeps on a condition variable until the registry's
//! earliest deadline, runs [`Registry::handle_timeout`] and flushes the
//! sessions it touched; anything that may move a deadline earlier (a new
//! session, an upgrade probe) wakes it. It works the same under both
//! drivers, and costs one thread per endpoint, not per session. A held
//! GET's connection keeps one timer of its own: a safety deadline
//! (`pingInterval + pingTimeout`) after which it answers a noop `6`, under
//! the lock, so it can never race a real answer.
//!
//! The application gets an [`EngineIo`] handle (clone it freely; `send`
//! from any thread) and a channel of [`EioEvent`]s: open, message,
//! upgraded, and close with a typed [`CloseReason`]. It may read that
//! channel on a thread of its own, or install a hook
//! ([`EngineIo::on_events`]) that runs on whichever thread made the events,
//! once Engine.IO's lock is let go, and handle them there: on the event
//! loop itself under `--driver mio`.
//!
//! [`Session::poll_transmit`]: session::Session::poll_transmit
//! [`Session::give_back`]: session::Session::give_back
//! [`Session::on_ws_frame`]: session::Session::on_ws_frame
//! [`Registry::handle_timeout`]: registry::Registry::handle_timeout

pub mod blocking;
pub mod client;
pub mod compress;
pub mod cors;
pub mod error;
pub mod glue;
pub mod handshake;
pub mod handshake_request;
pub(crate) mod idhash;
pub mod packet;
pub mod registry;
pub mod server;
pub mod session;

pub use compress::HttpCompression;
pub use cors::{AllowedOrigins, Cors};
pub use error::ErrorCode;
pub use glue::{EioEvent, EioMail, EioProtocol, EngineIo, EngineIoConfig, Outgoing};
pub use handshake::{EioRequest, Method, OpenInfo, Sid, Transport, classify};
pub use handshake_request::HandshakeRequest;
pub use packet::{
    Packet, PacketError, PacketType, Payload, PayloadDecoder, SharedMessage, WsFrame,
};
pub use registry::Registry;
pub use server::{RequestView, Route, Server};
pub use session::{
    CloseReason, Event, GetOutcome, GetToken, PostError, PostToken, SendError, Session,
    SessionConfig, State, Transmit, TransportFault, WsToken,
};
