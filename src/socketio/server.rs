//! The Socket.IO server's state, sans-IO: namespaces, sockets, rooms,
//! acks, broadcasts. It is fed Engine.IO events per client
//! ([`Server::on_open`], [`Server::on_message`], [`Server::on_close`]) and
//! the time ([`Server::handle_timeout`]); it hands out packets to send
//! ([`Server::poll_transmit`]) and what the application should hear
//! ([`Server::poll_event`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::adapter::{Adapter, BroadcastOptions, InMemoryAdapter, ServerSideOp, SocketId};
use super::cluster::{Answers, ClusterRequest, Reply, ReplyTo, Report, RequestId, ServerSideAck};
use super::packet::{Decoder, Encoded, Limits, Packet, PacketError, PacketType, RESERVED_EVENTS};
use super::recovery::{self, Recovery, RecoveryConfig, Session};
use super::value::Value;
use crate::engineio::idhash::IdMap;
use crate::engineio::{HandshakeRequest, Payload};

/// The glue's name for one Engine.IO session (the core never sees the
/// transport; the glue keeps the map from its sessions to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

/// The server's knobs.
#[derive(Debug, Clone)]
pub struct Config {
    /// A client must `CONNECT` to a namespace within this (Node: 45 s).
    pub connect_timeout: Duration,
    /// The packet decoder's caps.
    pub limits: Limits,
    /// Most rooms one socket may be in (its own room included).
    pub max_rooms_per_socket: usize,
    /// Longest room name, in bytes.
    pub max_room_len: usize,
    /// Longest namespace name, in bytes.
    pub max_namespace_len: usize,
    /// Most namespaces one client may join at once.
    pub max_namespaces_per_client: usize,
    /// Most acks the server may await from one socket at once.
    pub max_pending_acks: usize,
    /// Connection state recovery (Socket.IO 4.6+); off (`None`) by
    /// default, as in Node. See [`super::recovery`].
    pub recovery: Option<RecoveryConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            connect_timeout: Duration::from_secs(45),
            limits: Limits::default(),
            max_rooms_per_socket: 1000,
            max_room_len: 1024,
            max_namespace_len: 256,
            max_namespaces_per_client: 32,
            max_pending_acks: 1024,
            recovery: None,
        }
    }
}

// ANCHOR: environ
/// What the glue knows about a client when it opens: python-socketio's
/// `environ`, Node's `socket.handshake`. The glue fills it from the
/// Engine.IO handshake request (for a WebSocket-only client, its upgrade
/// request); see [`HandshakeRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environ {
    /// The handshake request's query pairs, percent-decoded.
    pub query: Vec<(String, String)>,
    /// The handshake request's headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The peer's IP address, as text (Node's `handshake.address`).
    pub address: Option<String>,
    /// The handshake request's target (Node's `handshake.url`).
    pub url: String,
    /// When the handshake arrived (Node's `handshake.time`).
    pub time: Option<SystemTime>,
}
// ANCHOR_END: environ

impl Environ {
    /// The first header field called `name` (any case), like
    /// `environ.header("origin")`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter called `name` (exact case).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Milliseconds since the Unix epoch of [`Environ::time`] (Node's
    /// `handshake.issued`), 0 when unknown.
    pub fn issued_ms(&self) -> u64 {
        self.time
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl From<&HandshakeRequest> for Environ {
    fn from(request: &HandshakeRequest) -> Environ {
        Environ {
            query: request.query.clone(),
            headers: request
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            address: request.address.map(|a| a.ip().to_string()),
            url: request.url.clone(),
            time: Some(request.time),
        }
    }
}

// ANCHOR: connect_error
/// A middleware's no: sent as `CONNECT_ERROR` `{"message":…,"data":…}`,
/// the client's `connect_error` event.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// `err.message` on the client.
    pub message: String,
    /// `err.data` on the client.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with a message and no data.
    pub fn new(message: impl Into<String>) -> ConnectError {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Attach data.
    pub fn with_data(mut self, data: Value) -> ConnectError {
        self.data = Some(data);
        self
    }
}

/// What a middleware sees of a connecting socket; it may fill `data`.
pub struct Connecting<'a> {
    /// The socket's future id.
    pub id: &'a SocketId,
    /// The namespace.
    pub nsp: &'a str,
    /// The `CONNECT` packet's `auth` (`Null` when absent).
    pub auth: &'a Value,
    /// The client's handshake.
    pub environ: &'a Environ,
    /// The socket's `data`, to fill.
    pub data: &'a mut serde_json::Value,
}

/// A step of a namespace's middleware chain (Node's `io.use`).
pub type Middleware = Arc<dyn Fn(&mut Connecting<'_>) -> Result<(), ConnectError> + Send + Sync>;
// ANCHOR_END: connect_error

// ANCHOR: disconnect_reason
/// Why a socket left its namespace, named as Node names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client sent `DISCONNECT` (`socket.disconnect()` there).
    ClientNamespaceDisconnect,
    /// The server disconnected the socket.
    ServerNamespaceDisconnect,
    /// The server closed the socket's whole connection.
    ForcedServerClose,
    /// The server is stopping.
    ServerShuttingDown,
    /// The connection closed under the socket.
    TransportClose,
    /// The connection broke.
    TransportError,
    /// The client stopped answering pings.
    PingTimeout,
    /// The client sent something that is not Socket.IO.
    ParseError,
    /// The Engine.IO session was closed by the application.
    ForcedClose,
}
// ANCHOR_END: disconnect_reason

impl DisconnectReason {
    /// The reason as Node's Socket.IO names it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
        }
    }
}

impl From<crate::engineio::CloseReason> for DisconnectReason {
    fn from(reason: crate::engineio::CloseReason) -> DisconnectReason {
        use crate::engineio::CloseReason as C;
        match reason {
            C::TransportClose => DisconnectReason::TransportClose,
            C::TransportError(_) => DisconnectReason::TransportError,
            C::PingTimeout => DisconnectReason::PingTimeout,
            C::ParseError => DisconnectReason::ParseError,
            C::ForcedClose => DisconnectReason::ForcedClose,
            C::ServerShuttingDown => DisconnectReason::ServerShuttingDown,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the server wants a client's connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseWhy {
    /// No `CONNECT` within [`Config::connect_timeout`].
    ConnectTimeout,
    /// A malformed packet (logged).
    Malformed(PacketError),
    /// `disconnect_sockets(true)` / `disconnect(socket, true)`.
    ForcedServerClose,
}

// ANCHOR: transmit
/// Something for the glue to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Transmit {
    /// Send this packet's messages (text, then attachments) on the
    /// client's session. A broadcast shares one `Arc` among recipients.
    Send {
        /// To whom.
        client: ClientId,
        /// The packet, encoded once.
        packet: Arc<Encoded>,
        /// May be dropped if the client cannot take it now.
        volatile: bool,
    },
    /// Close the client's session (after what was queued before).
    Close {
        /// Whom.
        client: ClientId,
        /// Why.
        why: CloseWhy,
    },
}
// ANCHOR_END: transmit

impl Transmit {
    /// Whether a volatile send should be dropped for a connection with
    /// `unsent` bytes still queued (`Ctx::unsent()`): it is dropped when
    /// anything is pending. Non-volatile sends are always kept.
    pub fn drop_for(&self, unsent: usize) -> bool {
        matches!(self, Transmit::Send { volatile: true, .. }) && unsent > 0
    }
}

/// An ack id the server awaits (from [`Server::emit_with_ack`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AckId(pub u64);

/// A broadcast awaiting acks (from [`Operator::emit_with_ack`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BroadcastAckId(pub u64);

/// A client's event asked for an ack: answer it once with [`Server::ack`].
#[derive(Debug, PartialEq, Eq)]
pub struct AckRequest {
    /// The socket that asked.
    pub socket: SocketId,
    /// The client's ack id.
    pub id: u64,
}

// ANCHOR: event
/// What the application hears, in order.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// A socket joined a namespace (Node's `connection`).
    Connect {
        /// The new socket.
        socket: SocketId,
        /// Its namespace.
        nsp: String,
        /// The `CONNECT`'s `auth`.
        auth: Value,
    },
    /// An event from a client.
    Event {
        /// From whom.
        socket: SocketId,
        /// Its namespace.
        nsp: String,
        /// The event's name (`message` for `send`).
        name: String,
        /// The arguments after the name.
        args: Vec<Value>,
        /// Present when the client waits for an answer.
        ack: Option<AckRequest>,
    },
    /// A client answered [`Server::emit_with_ack`].
    Ack {
        /// Who answered.
        socket: SocketId,
        /// Which emit.
        id: AckId,
        /// The answer.
        args: Vec<Value>,
    },
    /// No answer in time, or the socket left first.
    AckTimeout {
        /// Who did not answer.
        socket: SocketId,
        /// Which emit.
        id: AckId,
    },
    /// A broadcast's acks are in: all of them, or all that came before the
    /// timeout (`complete` false).
    BroadcastAck {
        /// Which broadcast.
        id: BroadcastAckId,
        /// The answers, by socket.
        responses: Vec<(SocketId, Vec<Value>)>,
        /// The answers of clients on other servers (each one's first ack
        /// argument, all Node's adapter forwards).
        remote: Vec<Value>,
        /// Whether every recipient answered, on every server.
        complete: bool,
    },
    /// Another server's `serverSideEmit` (chapter 6).
    ServerSideEmit {
        /// Its namespace.
        nsp: String,
        /// The event's name.
        name: String,
        /// Its arguments.
        args: Vec<Value>,
        /// Present when the sender awaits one answer
        /// ([`Server::server_side_ack`]).
        ack: Option<ServerSideAck>,
    },
    /// A request to the whole cluster is over (see [`super::cluster`]).
    ClusterReply {
        /// Which request.
        id: RequestId,
        /// The answers, this server's included.
        answers: Answers,
        /// Who answered.
        report: Report,
    },
    /// A socket left its namespace.
    Disconnect {
        /// Which.
        socket: SocketId,
        /// Its namespace.
        nsp: String,
        /// Why.
        reason: DisconnectReason,
    },
}
// ANCHOR_END: event

/// Why an emit or a room operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SioError {
    /// No such socket (it left).
    NoSocket,
    /// No such namespace.
    NoNamespace,
    /// The event name is reserved by the protocol.
    ReservedEvent(String),
    /// A room name longer than [`Config::max_room_len`].
    RoomNameTooLong {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The socket is in [`Config::max_rooms_per_socket`] rooms already.
    TooManyRooms {
        /// The cap.
        max: usize,
    },
    /// [`Config::max_pending_acks`] acks are awaited from this socket.
    TooManyPendingAcks {
        /// The cap.
        max: usize,
    },
}

impl fmt::Display for SioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SioError::NoSocket => write!(f, "no such socket"),
            SioError::NoNamespace => write!(f, "no such namespace"),
            SioError::ReservedEvent(n) => write!(f, "{n:?} is a reserved event name"),
            SioError::RoomNameTooLong { len, max } => {
                write!(f, "room name of {len} bytes, longer than {max}")
            }
            SioError::TooManyRooms { max } => write!(f, "already in {max} rooms"),
            SioError::TooManyPendingAcks { max } => write!(f, "{max} acks already pending"),
        }
    }
}

impl std::error::Error for SioError {}

/// A socket as `fetch_sockets` returns it: a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketInfo {
    /// Its id.
    pub id: SocketId,
    /// Its namespace.
    pub nsp: String,
    /// Its rooms.
    pub rooms: Vec<String>,
    /// Its `data`.
    pub data: serde_json::Value,
    /// Its `CONNECT`'s `auth`.
    pub auth: Value,
    /// Its handshake as Node's `socket.handshake` has it (`headers`,
    /// `query`, `address`, `auth`, ...): what a `fetchSockets` answer
    /// carries between servers.
    pub handshake: serde_json::Value,
}

/// A namespace's configuration: its middleware chain.
#[derive(Clone, Default)]
pub struct NamespaceConfig {
    middleware: Vec<Middleware>,
}

impl NamespaceConfig {
    /// Add a middleware step (Node's `use`); they run in order and the
    /// first refusal wins.
    pub fn middleware(
        &mut self,
        step: impl Fn(&mut Connecting<'_>) -> Result<(), ConnectError> + Send + Sync + 'static,
    ) -> &mut NamespaceConfig {
        self.middleware.push(Arc::new(step));
        self
    }
}

type Predicate = Box<dyn Fn(&str) -> bool + Send + Sync>;

struct Namespace {
    sockets: BTreeMap<SocketId, Socket>,
    adapter: Box<dyn Adapter>,
    config: NamespaceConfig,
    dynamic: bool,
    next_ack: u64,
}

struct Socket {
    client: ClientId,
    data: serde_json::Value,
    auth: Value,
    pending_acks: BTreeMap<u64, Pending>,
    /// The private session id, with recovery on.
    pid: Option<String>,
    /// Whether this socket was restored from a previous session.
    recovered: bool,
}

struct Client {
    decoder: Decoder,
    environ: Environ,
    /// Namespace name → socket.
    sockets: BTreeMap<String, SocketId>,
    connected_once: bool,
    connect_timer: Option<TimerKey>,
    writable: bool,
}

/// An awaited ack: one socket's (with its timer), or a broadcast's.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Single(TimerKey),
    Group(BroadcastAckId),
}

type TimerKey = (Instant, u64);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Connect(ClientId),
    Ack(String, SocketId, u64),
    Broadcast(BroadcastAckId),
}

struct Group {
    nsp: String,
    ack: u64,
    waiting: BTreeSet<SocketId>,
    responses: Vec<(SocketId, Vec<Value>)>,
    /// Other servers' side: how many should say how many clients they
    /// reached (`None` until Redis said), how many did, the clients they
    /// counted, and those clients' acks.
    servers: Option<usize>,
    counted: usize,
    clients: u64,
    remote: Vec<Value>,
    /// Set when this group answers another server's broadcast: each ack
    /// goes back to it, and nobody here hears the end.
    reply_to: Option<ReplyTo>,
    /// A recipient left before answering.
    lost: bool,
}

/// A cluster request of this server's, waiting for the others.
enum PendingCluster {
    Sockets(Vec<SocketInfo>),
    Rooms(Vec<String>),
    Acks,
    Group(BroadcastAckId),
}

/// Makes one adapter per namespace.
pub type AdapterFactory = Arc<dyn Fn(&str) -> Box<dyn Adapter> + Send + Sync>;

// ANCHOR: server
/// The whole Socket.IO server state.
pub struct Server {
    config: Config,
    namespaces: HashMap<String, Namespace>,
    dynamic: Vec<(Predicate, NamespaceConfig)>,
    adapter_factory: AdapterFactory,
    /// Boxed: a map keeps spare slots (up to half its capacity after a
    /// resize), and a slot holds the whole value; boxed, a spare slot costs
    /// a pointer, not a `Client` (see the idle-memory run in the book).
    clients: IdMap<ClientId, Box<Client>>,
    timers: BTreeMap<TimerKey, Timer>,
    homes: IdMap<SocketId, String>,
    timer_seq: u64,
    groups: HashMap<BroadcastAckId, Group>,
    next_group: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    encodes: u64,
    next_request: u64,
    cluster: HashMap<RequestId, PendingCluster>,
    recovery: Option<Recovery>,
}
// ANCHOR_END: server

fn in_memory(_nsp: &str) -> Box<dyn Adapter> {
    Box::new(InMemoryAdapter::default())
}

impl Server {
    /// A server with the main namespace `/`, in-memory rooms.
    pub fn new(config: Config) -> Server {
        let mut server = Server {
            config,
            namespaces: HashMap::new(),
            dynamic: Vec::new(),
            adapter_factory: Arc::new(in_memory),
            clients: IdMap::default(),
            timers: BTreeMap::new(),
            homes: IdMap::default(),
            timer_seq: 0,
            groups: HashMap::new(),
            next_group: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            encodes: 0,
            next_request: 0,
            cluster: HashMap::new(),
            recovery: None,
        };
        server.recovery = server.config.recovery.clone().map(Recovery::new);
        server.namespace("/");
        server
    }

    /// Use another adapter (one per namespace, made by `factory`), for
    /// namespaces made from now on and for those without sockets yet (so
    /// `/`, made by [`Server::new`], gets one too).
    pub fn set_adapter(
        &mut self,
        factory: impl Fn(&str) -> Box<dyn Adapter> + Send + Sync + 'static,
    ) {
        self.adapter_factory = Arc::new(factory);
        for (name, ns) in &mut self.namespaces {
            if ns.sockets.is_empty() {
                ns.adapter = (self.adapter_factory)(name);
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A static namespace, made if new (Node's `io.of(name)`).
    pub fn namespace(&mut self, name: &str) -> &mut NamespaceConfig {
        let factory = Arc::clone(&self.adapter_factory);
        &mut self
            .namespaces
            .entry(name.to_owned())
            .or_insert_with(|| Namespace::new(factory(name), NamespaceConfig::default(), false))
            .config
    }

    /// Namespaces made on demand: a `CONNECT` to a name that `accept`
    /// likes makes it, with this configuration (Node's `io.of(regex)`).
    /// Such a namespace is dropped when its last socket leaves.
    pub fn dynamic_namespace(
        &mut self,
        accept: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> &mut NamespaceConfig {
        self.dynamic
            .push((Box::new(accept), NamespaceConfig::default()));
        &mut self.dynamic.last_mut().expect("just pushed").1
    }

    /// Namespaces that exist now.
    pub fn namespaces(&self) -> Vec<String> {
        let mut names: Vec<String> = self.namespaces.keys().cloned().collect();
        names.sort();
        names
    }

    /// How many packets were encoded so far (a broadcast counts once).
    pub fn encode_count(&self) -> u64 {
        self.encodes
    }

    /// The next thing for the glue to do.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next thing the application should hear.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Server::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let adapters = self
            .namespaces
            .values()
            .filter_map(|ns| ns.adapter.poll_timeout());
        let expiry = self.recovery.as_ref().and_then(Recovery::next_expiry);
        self.timers
            .first_key_value()
            .map(|(k, _)| k.0)
            .into_iter()
            .chain(adapters)
            .chain(expiry)
            .min()
    }

    /// Whether `socket` was restored by connection state recovery (Node's
    /// `socket.recovered`).
    pub fn recovered(&self, socket: &SocketId) -> bool {
        self.find(socket).is_some_and(|(_, s)| s.recovered)
    }

    /// Packets and sessions kept for connection state recovery now.
    pub fn recovery_retained(&self) -> (usize, usize) {
        self.recovery
            .as_ref()
            .map_or((0, 0), |r| (r.packet_count(), r.session_count()))
    }

    fn tick(&mut self, now: Instant) {
        if let Some(r) = self.recovery.as_mut() {
            r.tick(now);
        }
    }

    // ---- from the transport ------------------------------------------

    // ANCHOR: on_open
    /// A new Engine.IO session: it must `CONNECT` within the timeout.
    pub fn on_open(&mut self, client: ClientId, environ: Environ, now: Instant) {
        self.tick(now);
        let decoder = Decoder::new(self.config.limits);
        let state = Client {
            decoder,
            environ,
            sockets: BTreeMap::new(),
            connected_once: false,
            connect_timer: None,
            writable: true,
        };
        self.clients.insert(client, Box::new(state));
        let key = self.add_timer(now + self.config.connect_timeout, Timer::Connect(client));
        if let Some(c) = self.clients.get_mut(&client) {
            c.connect_timer = Some(key);
        }
    }
    // ANCHOR_END: on_open

    /// Whether the client can take a volatile packet now (the glue says
    /// so, e.g. `ctx.unsent() == 0`); volatile emits skip it when not.
    pub fn set_writable(&mut self, client: ClientId, writable: bool) {
        if let Some(c) = self.clients.get_mut(&client) {
            c.writable = writable;
        }
    }

    /// An Engine.IO message from the client. A malformed packet closes
    /// that client (a [`Transmit::Close`] and a logged reason).
    pub fn on_message(&mut self, client: ClientId, message: Payload, now: Instant) {
        self.tick(now);
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        match c.decoder.feed(message) {
            Ok(None) => {}
            Ok(Some(packet)) => self.on_packet(client, packet, now),
            Err(error) => {
                tracing::warn!(client = client.0, %error, "malformed Socket.IO packet; closing the client");
                self.drop_client(client, DisconnectReason::ParseError, now);
                self.transmits.push_back(Transmit::Close {
                    client,
                    why: CloseWhy::Malformed(error),
                });
            }
        }
    }

    /// The session is over: every socket of the client leaves.
    pub fn on_close(&mut self, client: ClientId, reason: DisconnectReason, now: Instant) {
        self.tick(now);
        self.drop_client(client, reason, now);
    }

    /// Fire what is due: connect timeouts and ack timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let timer = entry.remove();
            match timer {
                Timer::Connect(client) => {
                    if self.clients.get(&client).is_some_and(|c| !c.connected_once) {
                        tracing::info!(client = client.0, "no CONNECT in time; closing the client");
                        self.drop_client(client, DisconnectReason::ForcedServerClose, now);
                        self.transmits.push_back(Transmit::Close {
                            client,
                            why: CloseWhy::ConnectTimeout,
                        });
                    }
                }
                Timer::Ack(nsp, socket, id) => {
                    let Some(ns) = self.namespaces.get_mut(&nsp) else {
                        continue;
                    };
                    let Some(s) = ns.sockets.get_mut(&socket) else {
                        continue;
                    };
                    if let Some(Pending::Single(_)) = s.pending_acks.remove(&id) {
                        self.events.push_back(Event::AckTimeout {
                            socket,
                            id: AckId(id),
                        });
                    }
                }
                Timer::Broadcast(gid) => self.finish_group(gid, false),
            }
        }
        for ns in self.namespaces.values_mut() {
            ns.adapter.handle_timeout(now);
        }
        self.handle_remote(now);
    }

    fn add_timer(&mut self, at: Instant, timer: Timer) -> TimerKey {
        self.timer_seq += 1;
        let key = (at, self.timer_seq);
        self.timers.insert(key, timer);
        key
    }

    // ANCHOR: on_packet
    fn on_packet(&mut self, client: ClientId, packet: Packet, now: Instant) {
        let socket = self
            .clients
            .get(&client)
            .and_then(|c| c.sockets.get(&packet.nsp))
            .cloned();
        match (packet.kind, socket) {
            (PacketType::Connect, None) => self.connect(client, packet),
            (PacketType::Connect, Some(_)) => {
                tracing::debug!(
                    client = client.0,
                    nsp = packet.nsp,
                    "CONNECT to a namespace already joined; ignored"
                )
            }
            (PacketType::Disconnect, Some(id)) => self.remove_socket(
                &packet.nsp,
                &id,
                DisconnectReason::ClientNamespaceDisconnect,
                false,
                now,
            ),
            (PacketType::Event | PacketType::BinaryEvent, Some(socket)) => {
                let ack = packet.id.map(|id| AckRequest {
                    socket: socket.clone(),
                    id,
                });
                let Some(Value::Array(mut items)) = packet.data else {
                    return;
                };
                let Value::String(name) = items.remove(0) else {
                    return;
                };
                self.events.push_back(Event::Event {
                    socket,
                    nsp: packet.nsp,
                    name,
                    args: items,
                    ack,
                });
            }
            (PacketType::Ack | PacketType::BinaryAck, Some(socket)) => {
                let args = match packet.data {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                };
                self.on_ack(&packet.nsp, socket, packet.id.unwrap_or(0), args);
            }
            (PacketType::ConnectError, _) => {
                let error =
                    PacketError::BadData(PacketType::ConnectError, "only a server sends it");
                tracing::warn!(client = client.0, %error, "closing the client");
                self.drop_client(client, DisconnectReason::ParseError, now);
                self.transmits.push_back(Transmit::Close {
                    client,
                    why: CloseWhy::Malformed(error),
                });
            }
            (kind, None) => {
                // A race with a server-side disconnect: the client had not
                // heard yet. Nothing to do.
                tracing::debug!(
                    client = client.0,
                    nsp = packet.nsp,
                    ?kind,
                    "packet for a namespace not joined; ignored"
                )
            }
        }
    }
    // ANCHOR_END: on_packet

    // ANCHOR: connect
    fn connect(&mut self, client: ClientId, packet: Packet) {
        let nsp = packet.nsp;
        let refuse = |server: &mut Server, error: ConnectError| {
            server.send_to(
                client,
                Packet::connect_error(&nsp, &error.message, error.data),
                false,
            );
        };
        let joined = self.clients.get(&client).map_or(0, |c| c.sockets.len());
        if joined >= self.config.max_namespaces_per_client {
            return refuse(self, ConnectError::new("Too many namespaces"));
        }
        if !self.namespaces.contains_key(&nsp) {
            let dynamic = (nsp.len() <= self.config.max_namespace_len)
                .then(|| self.dynamic.iter().find(|(accept, _)| accept(&nsp)))
                .flatten()
                .map(|(_, config)| config.clone());
            let Some(config) = dynamic else {
                return refuse(self, ConnectError::new("Invalid namespace"));
            };
            let adapter = (self.adapter_factory)(&nsp);
            self.namespaces
                .insert(nsp.clone(), Namespace::new(adapter, config, true));
        }
        let auth = packet.data.unwrap_or(Value::Null);
        let restored = self.try_restore(&nsp, &auth);
        let id = match &restored {
            Some(r) => r.session.sid.clone(),
            None => match SocketId::generate() {
                Ok(id) => id,
                Err(_) => return refuse(self, ConnectError::new("Internal error")),
            },
        };
        let pid = match (&restored, &self.recovery) {
            (Some(r), _) => Some(r.session.pid.clone()),
            (None, Some(_)) => match Recovery::new_pid() {
                Some(pid) => Some(pid),
                None => return refuse(self, ConnectError::new("Internal error")),
            },
            (None, None) => None,
        };
        let skip_middlewares = restored.is_some()
            && self
                .recovery
                .as_ref()
                .is_some_and(|r| r.config().skip_middlewares);
        let mut data = restored
            .as_ref()
            .map_or(serde_json::Value::Null, |r| r.session.data.clone());
        let ns = self.namespaces.get_mut(&nsp).expect("made above");
        let environ = &self
            .clients
            .get(&client)
            .expect("the client sent it")
            .environ;
        let mut connecting = Connecting {
            id: &id,
            nsp: &nsp,
            auth: &auth,
            environ,
            data: &mut data,
        };
        let verdict = if skip_middlewares {
            Ok(())
        } else {
            ns.config
                .middleware
                .iter()
                .try_for_each(|step| step(&mut connecting))
        };
        if let Err(error) = verdict {
            if ns.dynamic && ns.sockets.is_empty() {
                self.namespaces.remove(&nsp);
            }
            // Refused this time: the session stays restorable, as in Node.
            if let (Some(r), Some(recovery)) = (restored, self.recovery.as_mut()) {
                recovery.put_back(r.session);
            }
            return refuse(self, error);
        }
        ns.adapter.add(&id, id.as_str());
        if let Some(r) = &restored {
            for room in &r.session.rooms {
                ns.adapter.add(&id, room);
            }
        }
        let socket = Socket {
            client,
            data,
            auth: auth.clone(),
            pending_acks: BTreeMap::new(),
            pid: pid.clone(),
            recovered: restored.is_some(),
        };
        ns.sockets.insert(id.clone(), socket);
        let c = self.clients.get_mut(&client).expect("checked");
        c.sockets.insert(nsp.clone(), id.clone());
        c.connected_once = true;
        if let Some(key) = c.connect_timer.take() {
            self.timers.remove(&key);
        }
        self.homes.insert(id.clone(), nsp.clone());
        let answer = match &pid {
            Some(pid) => Recovery::connect_ok(&nsp, id.as_str(), pid),
            None => Packet::connect_ok(&nsp, id.as_str()),
        };
        self.send_to(client, answer, false);
        for packet in restored.into_iter().flat_map(|r| r.missed) {
            self.transmits.push_back(Transmit::Send {
                client,
                packet,
                volatile: false,
            });
        }
        self.events.push_back(Event::Connect {
            socket: id,
            nsp,
            auth,
        });
    }
    // ANCHOR_END: connect

    /// A `CONNECT` whose `auth` has `pid` and `offset` (strings), with
    /// recovery on: the session to restore, if it still can be.
    fn try_restore(&mut self, nsp: &str, auth: &Value) -> Option<recovery::Restored> {
        let recovery = self.recovery.as_mut()?;
        let Value::Object(map) = auth else {
            return None;
        };
        let pid = map.get("pid")?.as_str()?;
        let offset = map.get("offset")?.as_str()?;
        let restored = recovery.restore(nsp, pid, offset)?;
        // The same id live again would be two sockets in one; refuse.
        if self.homes.contains_key(&restored.session.sid) {
            return None;
        }
        Some(restored)
    }

    fn on_ack(&mut self, nsp: &str, socket: SocketId, id: u64, args: Vec<Value>) {
        let Some(s) = self
            .namespaces
            .get_mut(nsp)
            .and_then(|ns| ns.sockets.get_mut(&socket))
        else {
            return;
        };
        match s.pending_acks.remove(&id) {
            None => tracing::debug!(socket = %socket, id, "ack nobody waits for; ignored"),
            Some(Pending::Single(key)) => {
                self.timers.remove(&key);
                self.events.push_back(Event::Ack {
                    socket,
                    id: AckId(id),
                    args,
                })
            }
            Some(Pending::Group(gid)) => {
                let Some(group) = self.groups.get_mut(&gid) else {
                    return;
                };
                group.waiting.remove(&socket);
                if let Some(to) = group.reply_to.clone() {
                    let value = args.into_iter().next().unwrap_or(Value::Null);
                    if let Some(ns) = self.namespaces.get_mut(nsp) {
                        ns.adapter.reply(Reply::Ack { to, value });
                    }
                } else {
                    group.responses.push((socket, args));
                }
                self.check_group(gid);
            }
        }
    }

    /// End a broadcast's ack collection if everyone answered, here and on
    /// the other servers.
    fn check_group(&mut self, gid: BroadcastAckId) {
        let Some(g) = self.groups.get(&gid) else {
            return;
        };
        let remote_done = g.servers == Some(g.counted) && g.remote.len() as u64 >= g.clients;
        if g.waiting.is_empty() && remote_done {
            self.finish_group(gid, true);
        }
    }

    fn finish_group(&mut self, gid: BroadcastAckId, complete: bool) {
        let Some(group) = self.groups.remove(&gid) else {
            return;
        };
        let remote_done =
            group.servers == Some(group.counted) && group.remote.len() as u64 >= group.clients;
        let complete = complete && !group.lost && group.waiting.is_empty() && remote_done;
        if let Some(ns) = self.namespaces.get_mut(&group.nsp) {
            for id in &group.waiting {
                if let Some(s) = ns.sockets.get_mut(id) {
                    s.pending_acks.remove(&group.ack);
                }
            }
        }
        if group.reply_to.is_some() {
            return; // another server's broadcast: it hears the end itself
        }
        self.cluster
            .retain(|_, p| !matches!(p, PendingCluster::Group(g) if *g == gid));
        self.events.push_back(Event::BroadcastAck {
            id: gid,
            responses: group.responses,
            remote: group.remote,
            complete,
        });
    }

    fn drop_client(&mut self, client: ClientId, reason: DisconnectReason, now: Instant) {
        let Some(c) = self.clients.get(&client) else {
            return;
        };
        let sockets: Vec<(String, SocketId)> = c
            .sockets
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        for (nsp, id) in sockets {
            self.remove_socket(&nsp, &id, reason, false, now);
        }
        if let Some(key) = self.clients.remove(&client).and_then(|c| c.connect_timer) {
            self.timers.remove(&key);
        }
    }

    // ANCHOR: remove_socket
    fn remove_socket(
        &mut self,
        nsp: &str,
        id: &SocketId,
        reason: DisconnectReason,
        tell: bool,
        now: Instant,
    ) {
        let Some(ns) = self.namespaces.get_mut(nsp) else {
            return;
        };
        let Some(mut socket) = ns.sockets.remove(id) else {
            return;
        };
        if let (Some(r), Some(pid)) = (self.recovery.as_mut(), socket.pid.take())
            && recovery::recoverable(reason)
        {
            let session = Session {
                sid: id.clone(),
                pid,
                nsp: nsp.to_owned(),
                rooms: ns.adapter.socket_rooms(id),
                data: std::mem::take(&mut socket.data),
                disconnected_at: now,
            };
            r.persist(session, now);
        }
        ns.adapter.del_all(id);
        if ns.dynamic && ns.sockets.is_empty() {
            self.namespaces.remove(nsp);
        }
        if let Some(c) = self.clients.get_mut(&socket.client) {
            c.sockets.remove(nsp);
        }
        if tell {
            self.send_to(socket.client, Packet::disconnect(nsp), false);
        }
        self.homes.remove(id);
        for (ack, pending) in socket.pending_acks {
            match pending {
                Pending::Single(key) => {
                    self.timers.remove(&key);
                    self.events.push_back(Event::AckTimeout {
                        socket: id.clone(),
                        id: AckId(ack),
                    })
                }
                Pending::Group(gid) => {
                    if let Some(g) = self.groups.get_mut(&gid) {
                        // It will never answer: the collection cannot be
                        // complete; it ends when nothing more can come.
                        g.waiting.remove(id);
                        g.lost = true;
                        self.check_group(gid);
                    }
                }
            }
        }
        self.events.push_back(Event::Disconnect {
            socket: id.clone(),
            nsp: nsp.to_owned(),
            reason,
        });
    }
    // ANCHOR_END: remove_socket

    fn send_to(&mut self, client: ClientId, packet: Packet, volatile: bool) {
        let encoded = Arc::new(packet.encode());
        self.encodes += 1;
        self.transmits.push_back(Transmit::Send {
            client,
            packet: encoded,
            volatile,
        });
    }

    fn find(&self, socket: &SocketId) -> Option<(&str, &Socket)> {
        let (name, ns) = self.namespaces.get_key_value(self.homes.get(socket)?)?;
        Some((name.as_str(), ns.sockets.get(socket)?))
    }

    fn nsp_of(&self, socket: &SocketId) -> Result<String, SioError> {
        self.find(socket)
            .map(|(n, _)| n.to_owned())
            .ok_or(SioError::NoSocket)
    }

    // ---- the application's side ---------------------------------------

    /// Emit `name` to one socket.
    pub fn emit(
        &mut self,
        socket: &SocketId,
        name: &str,
        args: Vec<Value>,
    ) -> Result<(), SioError> {
        check_name(name)?;
        let (nsp, s) = self.find(socket).ok_or(SioError::NoSocket)?;
        let (mut packet, client) = (Packet::event(nsp, name, args, None), s.client);
        // With recovery, Node sends even this through its adapter, to the
        // socket's own room, so that it is stamped and kept.
        let Some(offset) = self
            .recovery
            .as_mut()
            .and_then(|r| r.stamp(&mut packet, false))
        else {
            self.send_to(client, packet, false);
            return Ok(());
        };
        let encoded = Arc::new(packet.encode());
        self.encodes += 1;
        let opts = BroadcastOptions {
            rooms: BTreeSet::from([socket.as_str().to_owned()]),
            ..BroadcastOptions::default()
        };
        let recovery = self.recovery.as_mut().expect("stamped");
        recovery.retain(&packet.nsp, offset, Arc::clone(&encoded), &opts);
        self.transmits.push_back(Transmit::Send {
            client,
            packet: encoded,
            volatile: false,
        });
        Ok(())
    }

    /// `send`: the `message` event.
    pub fn send(&mut self, socket: &SocketId, args: Vec<Value>) -> Result<(), SioError> {
        self.emit(socket, "message", args)
    }

    // ANCHOR: emit_with_ack
    /// Emit and await the client's answer: an [`Event::Ack`] with this id,
    /// or an [`Event::AckTimeout`] after `timeout` (Node's
    /// `socket.timeout(ms).emitWithAck`, python-socketio's `call`).
    pub fn emit_with_ack(
        &mut self,
        socket: &SocketId,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
        now: Instant,
    ) -> Result<AckId, SioError> {
        check_name(name)?;
        let nsp = self.nsp_of(socket)?;
        let max = self.config.max_pending_acks;
        let ns = self.namespaces.get_mut(&nsp).expect("found");
        let s = ns.sockets.get_mut(socket).expect("found");
        if s.pending_acks.len() >= max {
            return Err(SioError::TooManyPendingAcks { max });
        }
        let id = ns.next_ack;
        ns.next_ack += 1;
        let client = s.client;
        self.send_to(client, Packet::event(&nsp, name, args, Some(id)), false);
        let key = self.add_timer(now + timeout, Timer::Ack(nsp.clone(), socket.clone(), id));
        let ns = self.namespaces.get_mut(&nsp).expect("found");
        let s = ns.sockets.get_mut(socket).expect("found");
        s.pending_acks.insert(id, Pending::Single(key));
        Ok(AckId(id))
    }
    // ANCHOR_END: emit_with_ack

    /// Answer a client's ack request (its callback runs with `args`).
    pub fn ack(&mut self, request: AckRequest, args: Vec<Value>) -> Result<(), SioError> {
        let (nsp, s) = self.find(&request.socket).ok_or(SioError::NoSocket)?;
        let (packet, client) = (Packet::ack(nsp, request.id, args), s.client);
        self.send_to(client, packet, false);
        Ok(())
    }

    // ANCHOR: join
    /// Put a socket in a room (Node's `join`, python's `enter_room`).
    pub fn join(&mut self, socket: &SocketId, room: &str) -> Result<(), SioError> {
        let nsp = self.nsp_of(socket)?;
        let (max_len, max_rooms) = (self.config.max_room_len, self.config.max_rooms_per_socket);
        if room.len() > max_len {
            return Err(SioError::RoomNameTooLong {
                len: room.len(),
                max: max_len,
            });
        }
        let adapter = &mut self.namespaces.get_mut(&nsp).expect("found").adapter;
        if adapter.room_count(socket) >= max_rooms && !adapter.contains(socket, room) {
            return Err(SioError::TooManyRooms { max: max_rooms });
        }
        adapter.add(socket, room);
        Ok(())
    }
    // ANCHOR_END: join

    /// Take a socket out of a room (Node's `leave`, python's `leave_room`).
    pub fn leave(&mut self, socket: &SocketId, room: &str) -> Result<(), SioError> {
        let nsp = self.nsp_of(socket)?;
        self.namespaces
            .get_mut(&nsp)
            .expect("found")
            .adapter
            .del(socket, room);
        Ok(())
    }

    /// A socket's rooms, its own included (Node's `socket.rooms`).
    pub fn rooms(&self, socket: &SocketId) -> Result<Vec<String>, SioError> {
        let nsp = self.nsp_of(socket)?;
        Ok(self.namespaces[&nsp].adapter.socket_rooms(socket))
    }

    /// Every room of a namespace that has a socket.
    pub fn namespace_rooms(&self, nsp: &str) -> Result<Vec<String>, SioError> {
        Ok(self
            .namespaces
            .get(nsp)
            .ok_or(SioError::NoNamespace)?
            .adapter
            .rooms())
    }

    /// A socket's `data`.
    pub fn data(&self, socket: &SocketId) -> Result<&serde_json::Value, SioError> {
        self.find(socket)
            .map(|(_, s)| &s.data)
            .ok_or(SioError::NoSocket)
    }

    /// A socket's `data`, to change.
    pub fn data_mut(&mut self, socket: &SocketId) -> Result<&mut serde_json::Value, SioError> {
        let nsp = self.nsp_of(socket)?;
        Ok(&mut self
            .namespaces
            .get_mut(&nsp)
            .expect("found")
            .sockets
            .get_mut(socket)
            .expect("found")
            .data)
    }

    /// The handshake of a socket's connection (Node's
    /// `socket.handshake`, python-socketio's `environ`).
    pub fn environ(&self, socket: &SocketId) -> Result<&Environ, SioError> {
        let (_, s) = self.find(socket).ok_or(SioError::NoSocket)?;
        self.clients
            .get(&s.client)
            .map(|c| &c.environ)
            .ok_or(SioError::NoSocket)
    }

    /// The namespace a socket is in.
    pub fn socket_namespace(&self, socket: &SocketId) -> Option<&str> {
        self.find(socket).map(|(n, _)| n)
    }

    /// Disconnect a socket from its namespace (the client hears
    /// `io server disconnect`); with `close`, close its whole connection.
    pub fn disconnect(
        &mut self,
        socket: &SocketId,
        close: bool,
        now: Instant,
    ) -> Result<(), SioError> {
        let (nsp, s) = self.find(socket).ok_or(SioError::NoSocket)?;
        let (nsp, client) = (nsp.to_owned(), s.client);
        if close {
            // As Node's `client._disconnect()`: every socket of the client
            // is told (`io server disconnect` on its side), then the
            // connection closes.
            let sockets: Vec<(String, SocketId)> = self
                .clients
                .get(&client)
                .map(|c| {
                    c.sockets
                        .iter()
                        .map(|(n, s)| (n.clone(), s.clone()))
                        .collect()
                })
                .unwrap_or_default();
            for (nsp, id) in sockets {
                self.remove_socket(
                    &nsp,
                    &id,
                    DisconnectReason::ServerNamespaceDisconnect,
                    true,
                    now,
                );
            }
            self.drop_client(client, DisconnectReason::ForcedServerClose, now);
            self.transmits.push_back(Transmit::Close {
                client,
                why: CloseWhy::ForcedServerClose,
            });
        } else {
            self.remove_socket(
                &nsp,
                socket,
                DisconnectReason::ServerNamespaceDisconnect,
                true,
                now,
            );
        }
        Ok(())
    }

    /// The server stops: every socket hears `server shutting down`.
    pub fn shutdown(&mut self, now: Instant) {
        let clients: Vec<ClientId> = self.clients.keys().copied().collect();
        for client in clients {
            self.drop_client(client, DisconnectReason::ServerShuttingDown, now);
        }
    }

    // ANCHOR: of
    /// Everyone in a namespace, to narrow with [`Operator::to`] /
    /// [`Operator::except`] (Node's `io.of(nsp)`).
    pub fn of(&mut self, nsp: &str) -> Operator<'_> {
        Operator {
            server: self,
            nsp: nsp.to_owned(),
            opts: BroadcastOptions::default(),
            local: false,
        }
    }

    /// A broadcast from `socket`: everyone in its namespace but itself
    /// (Node's `socket.broadcast`, python's `skip_sid`).
    pub fn broadcast_from(&mut self, socket: &SocketId) -> Result<Operator<'_>, SioError> {
        let nsp = self.nsp_of(socket)?;
        Ok(self.of(&nsp).except(socket.as_str()))
    }
    // ANCHOR_END: of
}

fn check_name(name: &str) -> Result<(), SioError> {
    if RESERVED_EVENTS.contains(&name) {
        return Err(SioError::ReservedEvent(name.to_owned()));
    }
    Ok(())
}

impl Namespace {
    fn new(adapter: Box<dyn Adapter>, config: NamespaceConfig, dynamic: bool) -> Namespace {
        Namespace {
            sockets: BTreeMap::new(),
            adapter,
            config,
            dynamic,
            next_ack: 0,
        }
    }
}

// ANCHOR: operator
/// A selection of sockets in one namespace (Node's `BroadcastOperator`):
/// chain [`to`](Operator::to) and [`except`](Operator::except), then act.
pub struct Operator<'a> {
    server: &'a mut Server,
    nsp: String,
    opts: BroadcastOptions,
    local: bool,
}

impl Operator<'_> {
    /// Also reach the sockets in `room`.
    pub fn to(mut self, room: &str) -> Self {
        self.opts.rooms.insert(room.to_owned());
        self
    }

    /// But not the sockets in `room`.
    pub fn except(mut self, room: &str) -> Self {
        self.opts.except.insert(room.to_owned());
        self
    }

    /// Drop the packet for clients that cannot take it now.
    pub fn volatile(mut self) -> Self {
        self.opts.volatile = true;
        self
    }

    /// This server's sockets only (Node's `io.local`): with a cluster
    /// adapter, what follows is neither published nor forwarded to the
    /// other servers, and requests are answered from here alone.
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// Encode once, and send to every selected socket; returns how many.
    pub fn emit(self, name: &str, args: Vec<Value>) -> Result<usize, SioError> {
        check_name(name)?;
        let packet = Packet::event(&self.nsp, name, args, None);
        let publish = !self.local;
        Ok(deliver(self.server, &self.nsp, &self.opts, packet, None, publish).len())
    }
    // ANCHOR_END: operator

    // ANCHOR: broadcast_ack
    /// Emit to the selection and collect every answer until `timeout`:
    /// one [`Event::BroadcastAck`] with this id, when all answered or the
    /// time is up (Node's `io.timeout(ms).emitWithAck`). One ack id serves
    /// every recipient, so the packet is still encoded once.
    pub fn emit_with_ack(
        self,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
        now: Instant,
    ) -> Result<BroadcastAckId, SioError> {
        check_name(name)?;
        let server = self.server;
        let ns = server
            .namespaces
            .get_mut(&self.nsp)
            .ok_or(SioError::NoNamespace)?;
        let ack = ns.next_ack;
        ns.next_ack += 1;
        server.next_group += 1;
        let gid = BroadcastAckId(server.next_group);
        // The other servers get it without this server's ack id.
        let bare = Arc::new(Packet::event(&self.nsp, name, args.clone(), None).encode());
        let packet = Packet::event(&self.nsp, name, args, Some(ack));
        let reached = deliver(
            server,
            &self.nsp,
            &self.opts,
            packet,
            Some((gid, ack)),
            false,
        );
        let id = server.new_request();
        let request = ClusterRequest::BroadcastWithAck {
            packet: bare,
            opts: self.opts.clone(),
            timeout,
        };
        let clustered = !self.local
            && server
                .namespaces
                .get_mut(&self.nsp)
                .is_some_and(|ns| ns.adapter.cluster_request(id, request, now));
        if clustered {
            server.cluster.insert(id, PendingCluster::Group(gid));
        }
        let group = Group {
            nsp: self.nsp.clone(),
            ack,
            waiting: reached.into_iter().collect(),
            responses: Vec::new(),
            servers: if clustered { None } else { Some(0) },
            counted: 0,
            clients: 0,
            remote: Vec::new(),
            reply_to: None,
            lost: false,
        };
        server.groups.insert(gid, group);
        server.check_group(gid);
        if server.groups.contains_key(&gid) {
            server.add_timer(now + timeout, Timer::Broadcast(gid));
        }
        Ok(gid)
    }
    // ANCHOR_END: broadcast_ack

    // ANCHOR: server_side
    /// The selected sockets' ids.
    pub fn sockets(&self) -> Vec<SocketId> {
        self.server
            .namespaces
            .get(&self.nsp)
            .map_or_else(Vec::new, |ns| ns.adapter.select(&self.opts))
    }

    /// Snapshots of the selected sockets (Node's `fetchSockets`).
    pub fn fetch_sockets(&self) -> Vec<SocketInfo> {
        let Some(ns) = self.server.namespaces.get(&self.nsp) else {
            return Vec::new();
        };
        ns.adapter
            .select(&self.opts)
            .into_iter()
            .filter_map(|id| {
                let s = ns.sockets.get(&id)?;
                let environ = self.server.clients.get(&s.client).map(|c| &c.environ);
                Some(SocketInfo {
                    rooms: ns.adapter.socket_rooms(&id),
                    nsp: self.nsp.clone(),
                    data: s.data.clone(),
                    handshake: handshake(environ, &s.auth),
                    auth: s.auth.clone(),
                    id,
                })
            })
            .collect()
    }

    /// Put every selected socket in `rooms` (Node's `socketsJoin`). A
    /// socket over its caps is left out; the errors come back with it.
    pub fn sockets_join(mut self, rooms: &[&str]) -> Vec<(SocketId, SioError)> {
        let mut refused = Vec::new();
        for id in self.sockets() {
            for room in rooms {
                if let Err(e) = self.server.join(&id, room) {
                    refused.push((id.clone(), e));
                }
            }
        }
        let rooms = rooms.iter().map(|r| r.to_string()).collect();
        self.tell_adapter(ServerSideOp::Join(rooms));
        refused
    }

    /// Take every selected socket out of `rooms` (Node's `socketsLeave`).
    pub fn sockets_leave(mut self, rooms: &[&str]) {
        for id in self.sockets() {
            for room in rooms {
                let _ = self.server.leave(&id, room);
            }
        }
        let rooms = rooms.iter().map(|r| r.to_string()).collect();
        self.tell_adapter(ServerSideOp::Leave(rooms));
    }

    /// Disconnect every selected socket (Node's `disconnectSockets`); with
    /// `close`, close their whole connections. Returns how many.
    pub fn disconnect_sockets(mut self, close: bool, now: Instant) -> usize {
        let ids = self.sockets();
        for id in &ids {
            let _ = self.server.disconnect(id, close, now);
        }
        self.tell_adapter(ServerSideOp::Disconnect { close });
        ids.len()
    }

    fn tell_adapter(&mut self, op: ServerSideOp) {
        if self.local {
            return;
        }
        if let Some(ns) = self.server.namespaces.get_mut(&self.nsp) {
            ns.adapter.server_side(&op, &self.opts);
        }
    }
    // ANCHOR_END: server_side
}

// ANCHOR: deliver
/// Encode once, then queue the same `Arc` for every recipient; with
/// `publish`, the adapter also hands the packet to the other servers.
fn deliver(
    server: &mut Server,
    nsp: &str,
    opts: &BroadcastOptions,
    mut packet: Packet,
    group: Option<(BroadcastAckId, u64)>,
    publish: bool,
) -> Vec<SocketId> {
    let Some(ns) = server.namespaces.get_mut(nsp) else {
        return Vec::new();
    };
    // With recovery on, an event without ack gets its offset and is kept.
    let offset = match (server.recovery.as_mut(), group) {
        (Some(r), None) => r.stamp(&mut packet, opts.volatile),
        _ => None,
    };
    let encoded = Arc::new(packet.encode());
    server.encodes += 1;
    if let (Some(r), Some(offset)) = (server.recovery.as_mut(), offset) {
        r.retain(nsp, offset, Arc::clone(&encoded), opts);
    }
    let mut reached = Vec::new();
    // A broadcast with acks goes to the other servers as a request instead.
    let recipients = if publish && group.is_none() {
        ns.adapter.broadcast(&encoded, opts)
    } else {
        ns.adapter.select(opts)
    };
    for id in recipients {
        let Some(s) = ns.sockets.get_mut(&id) else {
            continue;
        };
        let writable = server.clients.get(&s.client).is_some_and(|c| c.writable);
        if opts.volatile && !writable {
            continue;
        }
        if let Some((gid, ack)) = group {
            s.pending_acks.insert(ack, Pending::Group(gid));
        }
        let packet = Arc::clone(&encoded);
        server.transmits.push_back(Transmit::Send {
            client: s.client,
            packet,
            volatile: opts.volatile,
        });
        reached.push(id);
    }
    reached
}
// ANCHOR_END: deliver

#[path = "server_cluster.rs"]
mod cluster;

use cluster::handshake;

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod recovery_tests;
