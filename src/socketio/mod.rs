//! Socket.IO v5, sans-IO: the layer above Engine.IO.
//!
//! Engine.IO gives one session per client: text and binary messages, in
//! order, across polling and WebSocket. Socket.IO adds meaning on top:
//!
//! - **namespaces**: several logical connections (`/`, `/admin`) over one
//!   session, each joined with a `CONNECT` that may carry `auth` and be
//!   refused by middleware (`CONNECT_ERROR {message, data}`);
//! - **events** with a name and arguments, JSON with binary anywhere
//!   inside (placeholders in the text, attachments as binary messages);
//! - **acks**: an event may carry an id, and the other side answers it;
//! - **rooms**: server-side groups of sockets to broadcast to.
//!
//! The pieces:
//!
//! - [`value`]: [`Value`], JSON plus binary: an event's argument.
//! - [`packet`]: the seven packet types, the text form, placeholders, and
//!   the [`Decoder`] that turns Engine.IO messages into
//!   packets, with caps on attachments and a typed error for every
//!   malformed input.
//! - [`adapter`]: rooms and broadcast selection behind the [`Adapter`]
//!   trait (in memory here; chapter 6 puts one on Redis).
//! - [`cluster`]: what crosses the adapter boundary when the server is one
//!   of several (chapter 6): requests whose answers come back later as
//!   events.
//! - [`server`]: the whole server state. Fed Engine.IO events per client,
//!   it queues packets to send ([`Transmit`], one shared encoding per
//!   broadcast) and events for the application ([`Event`]). It reads no
//!   clock: `now` comes in, [`Server::poll_timeout`] says when to call
//!   [`Server::handle_timeout`] (connect and ack timeouts).
//! - [`handlers`]: callbacks on top of the event queue, the way Node and
//!   python-socketio are written, with typed arguments through `serde`.
//! - [`recovery`]: connection state recovery (Socket.IO 4.6+), off unless
//!   [`Config::recovery`] is set: offsets on outgoing events, sessions kept
//!   for a while after a transport drops, missed packets replayed.
//!
//! # The glue
//!
//! [`glue`] runs a [`Server`] and its [`Handlers`] over an
//! [`EngineIo`](crate::engineio::EngineIo), on either driver
//! ([`SocketIo::start`], [`SocketIo::factory`]). Per Engine.IO session it
//! picks a [`ClientId`] and calls [`Server::on_open`] on `Open`,
//! [`Server::on_message`] on `Message(payload)`, [`Server::on_close`] on
//! `Close(reason)` (the reason converts with `.into()`); a timer thread
//! calls [`Server::handle_timeout`] at [`Server::poll_timeout`]. After each
//! turn it runs the handlers and drains [`Server::poll_transmit`] into one
//! [`EngineIo::send_batch`](crate::engineio::EngineIo::send_batch): a
//! [`Transmit::Send`] becomes the text message then one binary message per
//! attachment, shared ([`SharedMessage`](crate::engineio::SharedMessage))
//! when the packet goes to several clients; a [`Transmit::Close`] closes the
//! session. Volatile packets are dropped for a session with packets still
//! waiting for its transport. Any other thread uses a [`SioHandle`].
//!
//! # The API, by example
//!
//! ```
//! use std::time::Instant;
//! use netladder::engineio::Payload;
//! use netladder::socketio::{ClientId, Config, ConnectError, Environ, Handlers, Server, Value};
//!
//! let mut io = Server::new(Config::default());
//! // io.use(...): refuse a CONNECT without a token.
//! io.namespace("/").middleware(|c| match c.auth.deserialize::<serde_json::Value>() {
//!     Ok(auth) if auth["token"].is_string() => {
//!         *c.data = auth["token"].clone(); // socket.data
//!         Ok(())
//!     }
//!     _ => Err(ConnectError::new("no token")),
//! });
//! let mut handlers = Handlers::default();
//! handlers
//!     .on_connect("/", |io, socket, _auth| io.join(socket, "lobby").unwrap())
//!     .on("/", "chat", |io, ctx| {
//!         let text: String = ctx.args.get(0).unwrap_or_default();
//!         // socket.to("lobby").emit("chat", text): everyone else there
//!         let _ = io.broadcast_from(&ctx.socket).map(|to| to.to("lobby").emit("chat", vec![text.into()]));
//!         let _ = ctx.ack(io, vec![Value::from("ok")]);
//!     });
//!
//! // What the glue does for one client:
//! let (client, now) = (ClientId(1), Instant::now());
//! io.on_open(client, Environ::default(), now);
//! io.on_message(client, Payload::Text(r#"0{"token":"t"}"#.into()), now);
//! io.on_message(client, Payload::Text(r#"21["chat","hello"]"#.into()), now);
//! handlers.dispatch(&mut io, now);
//! let sent: Vec<_> = std::iter::from_fn(|| io.poll_transmit()).collect();
//! assert_eq!(sent.len(), 2); // the CONNECT's answer, then the ack `31["ok"]`
//! ```
//!
// ANCHOR: mapping
//! # From python-socketio and Node
//!
//! | python-socketio | Node `socket.io` | here |
//! |---|---|---|
//! | `@sio.event def connect(sid, environ, auth)` | `io.use(mw)` + `io.on("connection")` | [`NamespaceConfig::middleware`] (`Connecting` has `auth`, `environ`: the handshake's query, headers, address, url, time; `data`) + [`Handlers::on_connect`]; later [`Server::environ`] |
//! | `raise ConnectionRefusedError(msg)` | `next(new Error(msg))` (+ `err.data`) | `Err(ConnectError::new(msg).with_data(..))` |
//! | `@sio.on("ev") def f(sid, data)` | `socket.on("ev", (data, cb) => …)` | [`Handlers::on`]`("/", "ev", \|io, ctx\| …)`, `ctx.args.get::<T>(0)` |
//! | return value of the handler | `cb(answer)` | `ctx.ack(io, args)` |
//! | `sio.emit("ev", data, to=sid)` | `io.to(sid).emit("ev", data)` | [`Server::emit`]`(&sid, "ev", args)` or `io.of("/").to(sid.as_str()).emit(..)` |
//! | `sio.emit(..., room=r, skip_sid=sid)` | `socket.to(r).emit(..)` / `io.to(r).except(sid)` | [`Server::broadcast_from`]`(&sid)?.to(r).emit(..)` / [`Server::of`]`("/").to(r).except(..)` |
//! | `sio.send(data)` / `message` event | `socket.send(data)` / `message` | [`Server::send`] / `on("/", "message", ..)` |
//! | `sio.call("ev", data, sid=sid, timeout=t)` | `socket.timeout(t).emitWithAck("ev", data)` | [`Server::emit_with_ack`] + [`Handlers::on_ack`] |
//! | — | `io.timeout(t).emitWithAck(..)` (broadcast) | [`Operator::emit_with_ack`] + [`Handlers::on_broadcast_ack`] |
//! | `sio.enter_room(sid, r)` / `leave_room` | `socket.join(r)` / `leave` | [`Server::join`] / [`Server::leave`] |
//! | `sio.rooms(sid)` | `socket.rooms` | [`Server::rooms`] |
//! | `sio.disconnect(sid)` | `socket.disconnect()` / `(true)` | [`Server::disconnect`]`(&sid, close, now)` |
//! | `@sio.event def disconnect(sid, reason)` | `socket.on("disconnect", reason => …)` | [`Handlers::on_disconnect`] ([`DisconnectReason`]) |
//! | `sio.session(sid)` | `socket.data` | [`Server::data`] / [`Server::data_mut`] |
//! | `sio.namespace_handler` / `Namespace` | `io.of("/admin")`, `io.of(/^\/team-\d+$/)` | [`Server::namespace`], [`Server::dynamic_namespace`] |
//! | — | `io.volatile.emit(..)` | `io.of("/").volatile().emit(..)` |
//! | — | `fetchSockets`, `socketsJoin`, `socketsLeave`, `disconnectSockets` | [`Operator::fetch_sockets`], [`Operator::sockets_join`], [`Operator::sockets_leave`], [`Operator::disconnect_sockets`] |
//! | `sio.manager = RedisManager(url)` | `io.adapter(createAdapter(pub, sub))` | [`Server::set_adapter`]`(hub.factory())` with a [`redis::RedisHub`] |
//! | — | `await io.fetchSockets()` across servers | [`Operator::fetch_all_sockets`] + [`Handlers::on_reply`] |
//! | — | `io.serverSideEmit(..)` / `serverSideEmitWithAck` | [`Server::server_side_emit`] / [`Server::server_side_emit_with_ack`] + [`Handlers::on_server_side`] |
// ANCHOR_END: mapping
//!
//! Compared with socketioxide: its handlers are async functions whose
//! arguments are extractors (`SocketRef`, `Data<T>`, `AckSender`); here a
//! handler is a plain closure given the server and a [`handlers::Ctx`],
//! since the whole server is one state machine driven by the loop. The
//! cost is the same lesson as Flask-SocketIO's `async_mode`: a handler that
//! blocks stalls every client on its loop.
//!
//! Caps (see [`Config`]): attachments per packet and their total size,
//! rooms per socket and room name length ([`SioError`] when over),
//! namespaces per client, namespace name length, acks awaited per socket,
//! and the connect timeout. A malformed packet closes its own client, with
//! the reason logged; nobody else notices.

pub mod adapter;
pub mod cluster;
pub mod glue;
pub mod handlers;
pub mod packet;
pub mod recovery;
pub mod redis;
pub mod server;
pub mod value;

pub use adapter::{Adapter, BroadcastOptions, InMemoryAdapter, ServerSideOp, SocketId};
pub use cluster::{
    Answers, ClusterRequest, Remote, Reply, ReplyTo, Report, RequestId, ServerSideAck,
};
pub use glue::{HandleError, SioHandle, SocketIo};
pub use handlers::{AckResult, AckTimedOut, ArgError, Args, Ctx, Handlers};
pub use packet::{Decoder, Encoded, Limits, Packet, PacketError, PacketType};
pub use recovery::RecoveryConfig;
pub use server::{
    AckId, AckRequest, AdapterFactory, BroadcastAckId, ClientId, CloseWhy, Config, ConnectError,
    Connecting, DisconnectReason, Environ, Event, Middleware, NamespaceConfig, Operator, Server,
    SioError, SocketInfo, Transmit,
};
pub use value::Value;

// The client side (chapter 5b's Rust client).
pub mod blocking;
pub mod client;
