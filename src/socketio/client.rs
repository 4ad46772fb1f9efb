//! The Socket.IO v5 client, sans-IO: the layer above an Engine.IO client
//! session (any: the sans-IO [`crate::engineio::client::Client`] on a loop,
//! or the blocking one).
//!
//! It is told that the Engine.IO session opened, what messages came, and
//! that it closed; it says what to send ([`Output::Send`]), when to open a
//! new session ([`Output::Open`]: at the start and for each reconnection)
//! and when to close it. Like Node's `Manager` it multiplexes namespaces
//! over one session, and like its `Socket` it keeps per namespace:
//!
//! - the `CONNECT` with its `auth`, answered by the server's sid or a
//!   `CONNECT_ERROR {message, data}` (then that namespace stays down until
//!   [`Client::connect`] is called again, as in Node);
//! - events in both directions, with acks both ways: [`Client::emit_with_ack`]
//!   returns an id that a [`ClientEvent::Ack`] or [`ClientEvent::AckTimeout`]
//!   later answers, and an event from the server that wants an answer
//!   carries `ack: Some(id)` for [`Client::ack`];
//! - a send buffer: emits made while the namespace is not connected go out
//!   once it is (bounded by [`ClientConfig::max_buffer`]);
//! - **connection state recovery** (Socket.IO 4.6+): when the server's
//!   `CONNECT` answer carries a `pid`, the client remembers it and the
//!   offset of the last event it got without an ack id (the server appends
//!   it as the last, string, argument), and sends both back in its next
//!   `CONNECT`. The server then answers with the same `pid` and replays
//!   what was missed: [`ClientEvent::Connect`] says `recovered: true`.
//!
//! **Reconnection.** When the session ends for any reason but
//! [`Client::close`] (the server went away, a ping timeout, a parse
//! error), the client waits and opens a new session, then sends every
//! namespace's `CONNECT` again. The waits grow exponentially from
//! `reconnection_delay`, capped at `reconnection_delay_max`, each moved at
//! random by up to `randomization_factor` of itself (jitter), so that a
//! thousand clients of a restarted server do not all come back in the same
//! millisecond. A namespace the server disconnected (`io server
//! disconnect`) is not reconnected, as in Node.
//!
//! It reads no clock: `now` comes in, [`Client::poll_timeout`] says when
//! to call [`Client::handle_timeout`] (reconnection and ack timeouts).

use super::packet::{Decoder, Limits, Packet, PacketError, PacketType};
use super::value::Value;
use crate::engineio::Payload;
use crate::engineio::client::ClientCloseReason;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

/// The client's settings (defaults as in Node's `socket.io-client`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Reconnect when the session ends unasked.
    pub reconnection: bool,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub reconnection_attempts: Option<u32>,
    /// The first wait before reconnecting (1 s).
    pub reconnection_delay: Duration,
    /// The longest wait (5 s).
    pub reconnection_delay_max: Duration,
    /// Jitter: each wait moves by up to this fraction of itself (0.5).
    pub randomization_factor: f64,
    /// The decoder's caps on binary attachments.
    pub limits: Limits,
    /// Most packets buffered per namespace while it is not connected.
    pub max_buffer: usize,
    /// Most acks awaited at once, over all namespaces.
    pub max_pending_acks: usize,
    /// Seed of the jitter's generator (`None`: from the OS).
    pub seed: Option<u64>,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_secs(1),
            reconnection_delay_max: Duration::from_secs(5),
            randomization_factor: 0.5,
            limits: Limits {
                max_attachments: 64,
                max_attachment_bytes: 64 << 20,
            },
            max_buffer: 4096,
            max_pending_acks: 65_536,
            seed: None,
        }
    }
}

/// What the client wants done with its Engine.IO session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a new Engine.IO session, then call [`Client::on_open`] (or
    /// [`Client::on_close`] if it fails).
    Open,
    /// Send this message on the session.
    Send(Payload),
    /// Close the session (what was sent before goes first).
    Close,
}

/// Why a namespace was disconnected (the strings are Node's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server sent `DISCONNECT` (no reconnection for this namespace).
    IoServerDisconnect,
    /// [`Client::disconnect`] or [`Client::close`].
    IoClientDisconnect,
    /// The server stopped pinging.
    PingTimeout,
    /// The connection was closed.
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The server sent something that is not Socket.IO.
    ParseError,
}

impl DisconnectReason {
    /// Node's name for it (`"io server disconnect"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::IoServerDisconnect => "io server disconnect",
            DisconnectReason::IoClientDisconnect => "io client disconnect",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::ParseError => "parse error",
        }
    }

    fn from_engine(reason: &ClientCloseReason) -> DisconnectReason {
        match reason {
            ClientCloseReason::TransportClose => DisconnectReason::TransportClose,
            ClientCloseReason::TransportError(_) => DisconnectReason::TransportError,
            ClientCloseReason::PingTimeout => DisconnectReason::PingTimeout,
            ClientCloseReason::ParseError(_) => DisconnectReason::ParseError,
            ClientCloseReason::ForcedClose => DisconnectReason::IoClientDisconnect,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ANCHOR: client_event
/// What the application hears.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A namespace is connected: its `sid`, and whether the server
    /// recovered the previous session (same `pid`, missed packets replayed).
    Connect {
        /// The namespace.
        nsp: String,
        /// The socket's id on the server.
        sid: String,
        /// Connection state recovery worked.
        recovered: bool,
    },
    /// The server refused a namespace (middleware): `{message, data}`.
    ConnectError {
        /// The namespace.
        nsp: String,
        /// The error's message.
        message: String,
        /// The error's `data`, if any.
        data: Option<Value>,
    },
    /// An event from the server. With `ack: Some(id)` it wants an answer:
    /// [`Client::ack`]. With recovery on, the last argument is the offset.
    Event {
        /// The namespace.
        nsp: String,
        /// The event's name.
        name: String,
        /// Its arguments (binary in place).
        args: Vec<Value>,
        /// The ack id to answer, if the server asked.
        ack: Option<u64>,
    },
    /// The server answered our [`Client::emit_with_ack`] number `id`.
    Ack {
        /// The namespace.
        nsp: String,
        /// The id [`Client::emit_with_ack`] returned.
        id: u64,
        /// The answer's arguments.
        args: Vec<Value>,
    },
    /// No answer to ack `id` in time (or the namespace went away).
    AckTimeout {
        /// The namespace.
        nsp: String,
        /// The id [`Client::emit_with_ack`] returned.
        id: u64,
    },
    /// A namespace was disconnected.
    Disconnect {
        /// The namespace.
        nsp: String,
        /// Why.
        reason: DisconnectReason,
    },
    /// The session ended; a new one opens after `delay` (attempt `attempt`).
    Reconnecting {
        /// 1 for the first attempt after a loss.
        attempt: u32,
        /// The wait before it.
        delay: Duration,
    },
    /// A new session is open after `attempts` attempts.
    Reconnected {
        /// How many it took.
        attempts: u32,
    },
    /// `reconnection_attempts` ran out: the client is closed.
    ReconnectFailed,
}
// ANCHOR_END: client_event

/// Why the client refused to queue something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// [`Client::close`] was called, or reconnection gave up.
    Closed,
    /// No [`Client::connect`] for this namespace.
    UnknownNamespace(String),
    /// The namespace's send buffer is full.
    BufferFull,
    /// Too many acks awaited.
    TooManyAcks,
    /// Reserved event names (`connect`, `disconnect`...) cannot be emitted.
    ReservedEvent(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Closed => f.write_str("the client is closed"),
            ClientError::UnknownNamespace(nsp) => write!(f, "not connected to namespace {nsp}"),
            ClientError::BufferFull => f.write_str("the send buffer is full"),
            ClientError::TooManyAcks => f.write_str("too many acks awaited"),
            ClientError::ReservedEvent(name) => write!(f, "{name:?} is a reserved event name"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A namespace's state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NsState {
    /// `CONNECT` to send (when the session opens) or sent.
    Connecting { sent: bool },
    /// The server said yes.
    Connected { sid: String },
    /// Refused, or disconnected by the server: not reconnected.
    Down,
}

#[derive(Debug)]
struct Namespace {
    state: NsState,
    auth: Option<Value>,
    /// Recovery: the server's private session id, and the last offset.
    pid: Option<String>,
    offset: Option<String>,
    recovered: bool,
    /// Packets emitted while not connected.
    buffer: VecDeque<Packet>,
}

/// The Engine.IO session, as far as this layer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Opening,
    Open,
    /// Gone; reopened at `reconnect_at` if set.
    Closed,
}

/// An ack we wait for.
#[derive(Debug)]
struct PendingAck {
    nsp: String,
    deadline: Option<Instant>,
}

// ANCHOR: client
/// One Socket.IO client: a manager of namespaces over one Engine.IO
/// session at a time.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    engine: Engine,
    namespaces: BTreeMap<String, Namespace>,
    decoder: Decoder,
    outputs: VecDeque<Output>,
    events: VecDeque<ClientEvent>,
    acks: HashMap<u64, PendingAck>,
    next_ack: u64,
    /// Failed attempts since the last open session.
    attempts: u32,
    reconnect_at: Option<Instant>,
    /// [`Client::close`] was called, or reconnection gave up.
    closed: bool,
    rng: u64,
}
// ANCHOR_END: client

impl Client {
    /// A client; its first output is [`Output::Open`]. Add namespaces with
    /// [`Client::connect`] (before or after the session opens).
    pub fn new(config: ClientConfig) -> Client {
        let seed = config.seed.unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            // A fixed seed is still a valid (if predictable) jitter.
            let _ = getrandom::fill(&mut bytes);
            u64::from_le_bytes(bytes)
        });
        Client {
            decoder: Decoder::new(config.limits),
            config,
            engine: Engine::Opening,
            namespaces: BTreeMap::new(),
            outputs: VecDeque::from([Output::Open]),
            events: VecDeque::new(),
            acks: HashMap::new(),
            next_ack: 0,
            attempts: 0,
            reconnect_at: None,
            closed: false,
            // xorshift must not start at zero.
            rng: seed | 1,
        }
    }

    /// Joins namespace `nsp` (`/`, `/chat`) with an optional `auth` object.
    /// Calling it again for a namespace that was refused or disconnected
    /// tries again.
    pub fn connect(&mut self, nsp: &str, auth: Option<Value>) -> Result<(), ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        let ns = self
            .namespaces
            .entry(nsp.to_owned())
            .or_insert_with(|| Namespace {
                state: NsState::Down,
                auth: None,
                pid: None,
                offset: None,
                recovered: false,
                buffer: VecDeque::new(),
            });
        ns.auth = auth;
        if matches!(ns.state, NsState::Down) {
            ns.state = NsState::Connecting { sent: false };
        }
        self.send_connects();
        Ok(())
    }

    /// Whether `nsp` is connected.
    pub fn is_connected(&self, nsp: &str) -> bool {
        matches!(
            self.namespaces.get(nsp).map(|n| &n.state),
            Some(NsState::Connected { .. })
        )
    }

    /// The sid of `nsp`, while connected.
    pub fn sid(&self, nsp: &str) -> Option<&str> {
        match &self.namespaces.get(nsp)?.state {
            NsState::Connected { sid } => Some(sid),
            _ => None,
        }
    }

    /// Whether the last connect of `nsp` recovered the previous session.
    pub fn recovered(&self, nsp: &str) -> bool {
        self.namespaces.get(nsp).is_some_and(|n| n.recovered)
    }

    /// Whether the client is over (closed, or reconnection gave up).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Emits `name(args...)` on `nsp` (buffered until connected).
    pub fn emit(&mut self, nsp: &str, name: &str, args: Vec<Value>) -> Result<(), ClientError> {
        self.queue_event(nsp, name, args, None)
    }

    /// Emits `name(args...)` asking for an ack; the returned id comes back
    /// in [`ClientEvent::Ack`], or [`ClientEvent::AckTimeout`] after
    /// `timeout` (`None`: wait as long as the namespace is connected).
    pub fn emit_with_ack(
        &mut self,
        nsp: &str,
        name: &str,
        args: Vec<Value>,
        timeout: Option<Duration>,
        now: Instant,
    ) -> Result<u64, ClientError> {
        if self.acks.len() >= self.config.max_pending_acks {
            return Err(ClientError::TooManyAcks);
        }
        let id = self.next_ack;
        self.queue_event(nsp, name, args, Some(id))?;
        self.next_ack += 1;
        self.acks.insert(
            id,
            PendingAck {
                nsp: nsp.to_owned(),
                deadline: timeout.map(|t| now + t),
            },
        );
        Ok(id)
    }

    /// Answers the server's event that carried ack id `id` on `nsp`.
    pub fn ack(&mut self, nsp: &str, id: u64, args: Vec<Value>) -> Result<(), ClientError> {
        self.queue(nsp, Packet::ack(nsp, id, args))
    }

    fn queue_event(
        &mut self,
        nsp: &str,
        name: &str,
        args: Vec<Value>,
        id: Option<u64>,
    ) -> Result<(), ClientError> {
        if super::packet::RESERVED_EVENTS.contains(&name) {
            return Err(ClientError::ReservedEvent(name.to_owned()));
        }
        self.queue(nsp, Packet::event(nsp, name, args, id))
    }

    fn queue(&mut self, nsp: &str, packet: Packet) -> Result<(), ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        let engine_open = self.engine == Engine::Open;
        let ns = self
            .namespaces
            .get_mut(nsp)
            .ok_or_else(|| ClientError::UnknownNamespace(nsp.to_owned()))?;
        match ns.state {
            NsState::Connected { .. } if engine_open => {
                push_packet(&mut self.outputs, &packet);
                Ok(())
            }
            NsState::Down => Err(ClientError::UnknownNamespace(nsp.to_owned())),
            _ if ns.buffer.len() >= self.config.max_buffer => Err(ClientError::BufferFull),
            _ => {
                ns.buffer.push_back(packet);
                Ok(())
            }
        }
    }

    /// Leaves `nsp`: a `DISCONNECT` to the server, and
    /// [`ClientEvent::Disconnect`] with `io client disconnect`.
    pub fn disconnect(&mut self, nsp: &str) {
        let Some(ns) = self.namespaces.get_mut(nsp) else {
            return;
        };
        let was = std::mem::replace(&mut ns.state, NsState::Down);
        ns.buffer.clear();
        ns.pid = None;
        ns.offset = None;
        if let NsState::Connected { .. } = was {
            if self.engine == Engine::Open {
                push_packet(&mut self.outputs, &Packet::disconnect(nsp));
            }
            self.events.push_back(ClientEvent::Disconnect {
                nsp: nsp.to_owned(),
                reason: DisconnectReason::IoClientDisconnect,
            });
        }
        self.fail_acks(|a| a.nsp == nsp);
    }

    /// Leaves every namespace and closes the session, for good.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        let names: Vec<String> = self.namespaces.keys().cloned().collect();
        for nsp in names {
            self.disconnect(&nsp);
        }
        self.closed = true;
        self.reconnect_at = None;
        if self.engine != Engine::Closed {
            self.outputs.push_back(Output::Close);
            self.engine = Engine::Closed;
        }
    }

    /// The next thing to do with the session. Call until `None` after
    /// every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// The Engine.IO session is open: every namespace (re)connects.
    pub fn on_open(&mut self, _now: Instant) {
        if self.closed {
            return;
        }
        self.engine = Engine::Open;
        self.decoder = Decoder::new(self.config.limits);
        if self.attempts > 0 {
            self.events.push_back(ClientEvent::Reconnected {
                attempts: self.attempts,
            });
        }
        self.attempts = 0;
        self.send_connects();
    }

    fn send_connects(&mut self) {
        if self.engine != Engine::Open {
            return;
        }
        for (name, ns) in &mut self.namespaces {
            if ns.state != (NsState::Connecting { sent: false }) {
                continue;
            }
            ns.state = NsState::Connecting { sent: true };
            let mut auth = match &ns.auth {
                Some(Value::Object(map)) => map.clone(),
                _ => BTreeMap::new(),
            };
            // Recovery: `Object.assign({pid, offset}, auth)` in Node.
            if let Some(pid) = &ns.pid {
                auth.entry("pid".into())
                    .or_insert_with(|| Value::from(pid.as_str()));
                if let Some(offset) = &ns.offset {
                    auth.entry("offset".into())
                        .or_insert_with(|| Value::from(offset.as_str()));
                }
            }
            let data = (ns.auth.is_some() || !auth.is_empty()).then_some(Value::Object(auth));
            push_packet(&mut self.outputs, &Packet::connect(name, data));
        }
    }

    /// A message from the session.
    pub fn on_message(&mut self, message: Payload, now: Instant) {
        if self.engine != Engine::Open {
            return;
        }
        match self.decoder.feed(message) {
            Ok(Some(packet)) => self.on_packet(packet),
            Ok(None) => {}
            Err(e) => self.parse_error(&e, now),
        }
    }

    fn parse_error(&mut self, error: &PacketError, now: Instant) {
        tracing::warn!("socket.io client: closing on a bad packet: {error}");
        self.outputs.push_back(Output::Close);
        self.lost(DisconnectReason::ParseError, now);
    }

    fn on_packet(&mut self, packet: Packet) {
        let Some(ns) = self.namespaces.get_mut(&packet.nsp) else {
            return; // a namespace we never asked for: ignore, as Node does
        };
        match packet.kind {
            PacketType::Connect => {
                if !matches!(ns.state, NsState::Connecting { .. }) {
                    return;
                }
                let field = |key: &str| match &packet.data {
                    Some(Value::Object(map)) => map.get(key).and_then(Value::as_str),
                    _ => None,
                };
                let Some(sid) = field("sid").map(str::to_owned) else {
                    return;
                };
                let pid = field("pid").map(str::to_owned);
                ns.recovered = pid.is_some() && ns.pid == pid;
                if !ns.recovered {
                    ns.offset = None;
                }
                ns.pid = pid;
                ns.state = NsState::Connected { sid: sid.clone() };
                let recovered = ns.recovered;
                let buffered: Vec<Packet> = ns.buffer.drain(..).collect();
                self.events.push_back(ClientEvent::Connect {
                    nsp: packet.nsp.clone(),
                    sid,
                    recovered,
                });
                for p in &buffered {
                    push_packet(&mut self.outputs, p);
                }
            }
            PacketType::ConnectError => {
                if !matches!(ns.state, NsState::Connecting { .. }) {
                    return;
                }
                ns.state = NsState::Down;
                ns.buffer.clear();
                let (message, data) = match packet.data {
                    Some(Value::Object(mut map)) => (
                        map.remove("message")
                            .and_then(|m| m.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        map.remove("data"),
                    ),
                    Some(Value::String(message)) => (message, None),
                    _ => (String::new(), None),
                };
                self.events.push_back(ClientEvent::ConnectError {
                    nsp: packet.nsp.clone(),
                    message,
                    data,
                });
                let nsp = packet.nsp;
                self.fail_acks(|a| a.nsp == nsp);
            }
            PacketType::Event | PacketType::BinaryEvent => {
                if !matches!(ns.state, NsState::Connected { .. }) {
                    return;
                }
                let Some(Value::Array(mut items)) = packet.data else {
                    return;
                };
                if items.is_empty() {
                    return;
                }
                let Value::String(name) = items.remove(0) else {
                    return;
                };
                // Only an event without an ack id carries an offset: the
                // server never stamps one that wants an answer, whose last
                // string is just an argument.
                if ns.pid.is_some()
                    && packet.id.is_none()
                    && let Some(Value::String(offset)) = items.last()
                {
                    ns.offset = Some(offset.clone());
                }
                self.events.push_back(ClientEvent::Event {
                    nsp: packet.nsp,
                    name,
                    args: items,
                    ack: packet.id,
                });
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let Some(id) = packet.id else { return };
                if self.acks.get(&id).is_none_or(|a| a.nsp != packet.nsp) {
                    return; // late, or never asked: dropped
                }
                self.acks.remove(&id);
                let args = match packet.data {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                };
                self.events.push_back(ClientEvent::Ack {
                    nsp: packet.nsp,
                    id,
                    args,
                });
            }
            PacketType::Disconnect => {
                if !matches!(ns.state, NsState::Connected { .. }) {
                    return;
                }
                ns.state = NsState::Down;
                ns.pid = None;
                ns.offset = None;
                ns.buffer.clear();
                self.events.push_back(ClientEvent::Disconnect {
                    nsp: packet.nsp.clone(),
                    reason: DisconnectReason::IoServerDisconnect,
                });
                let nsp = packet.nsp;
                self.fail_acks(|a| a.nsp == nsp);
            }
        }
    }

    /// The session ended (or could not open) for `reason`.
    pub fn on_close(&mut self, reason: &ClientCloseReason, now: Instant) {
        if self.engine == Engine::Closed {
            return;
        }
        self.lost(DisconnectReason::from_engine(reason), now);
    }

    fn lost(&mut self, reason: DisconnectReason, now: Instant) {
        self.engine = Engine::Closed;
        let mut gone = Vec::new();
        for (name, ns) in &mut self.namespaces {
            match ns.state {
                NsState::Connected { .. } => {
                    gone.push(name.clone());
                    self.events.push_back(ClientEvent::Disconnect {
                        nsp: name.clone(),
                        reason,
                    });
                    ns.state = NsState::Connecting { sent: false };
                }
                NsState::Connecting { .. } => ns.state = NsState::Connecting { sent: false },
                NsState::Down => {}
            }
        }
        // Acks without a deadline would wait for ever: the packet they
        // answer may be lost with the session.
        self.fail_acks(|a| a.deadline.is_none());
        if self.closed {
            return;
        }
        if !self.config.reconnection {
            self.closed = true;
            return;
        }
        if self
            .config
            .reconnection_attempts
            .is_some_and(|max| self.attempts >= max)
        {
            self.closed = true;
            self.events.push_back(ClientEvent::ReconnectFailed);
            return;
        }
        self.attempts += 1;
        let delay = self.backoff(self.attempts);
        self.reconnect_at = Some(now + delay);
        self.events.push_back(ClientEvent::Reconnecting {
            attempt: self.attempts,
            delay,
        });
    }

    // ANCHOR: backoff
    /// The wait before attempt `attempt` (1-based): `delay * 2^(attempt-1)`,
    /// moved by up to ±`randomization_factor` of itself, at most
    /// `reconnection_delay_max`.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let base = self.config.reconnection_delay.as_secs_f64()
            * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
        let jitter = self.config.randomization_factor.clamp(0.0, 1.0);
        // A uniform number in [-1, 1).
        let r = (self.next_random() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        let secs = (base * (1.0 + jitter * r)).max(0.0);
        Duration::from_secs_f64(secs).min(self.config.reconnection_delay_max)
    }
    // ANCHOR_END: backoff

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fail_acks(&mut self, which: impl Fn(&PendingAck) -> bool) {
        let mut failed: Vec<(u64, String)> = self
            .acks
            .iter()
            .filter(|(_, a)| which(a))
            .map(|(id, a)| (*id, a.nsp.clone()))
            .collect();
        failed.sort_unstable();
        for (id, nsp) in failed {
            self.acks.remove(&id);
            self.events.push_back(ClientEvent::AckTimeout { nsp, id });
        }
    }

    /// When [`Client::handle_timeout`] wants to run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let acks = self.acks.values().filter_map(|a| a.deadline).min();
        match (acks, self.reconnect_at) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    /// Runs what is due: ack timeouts, a reconnection.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fail_acks(|a| a.deadline.is_some_and(|d| d <= now));
        if self.reconnect_at.is_some_and(|at| at <= now) {
            self.reconnect_at = None;
            if !self.closed {
                self.engine = Engine::Opening;
                self.outputs.push_back(Output::Open);
            }
        }
    }
}

/// Queues a packet's messages: its text, then its attachments.
fn push_packet(outputs: &mut VecDeque<Output>, packet: &Packet) {
    let encoded = packet.encode();
    outputs.push_back(Output::Send(Payload::Text(encoded.text)));
    for attachment in encoded.attachments {
        outputs.push_back(Output::Send(Payload::Binary(attachment)));
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
