//! One Engine.IO session on the server, sans-IO: a state machine that lives
//! across many HTTP requests and at most two WebSocket connections, fed
//! requests, frames and times, and asked what to send where.
//!
//! The driver glue owns the connections; the session only knows them by
//! tokens. A held GET is a [`GetToken`], a WebSocket a [`WsToken`]. What the
//! session wants sent comes out of [`Session::poll_transmit`] addressed to a
//! token, exactly once; if that connection is gone, the glue hands the
//! packets back ([`Session::give_back`]) so nothing is lost silently.

use super::error::{self, ErrorCode};
use super::handshake::{OpenInfo, Sid, Transport};
use super::handshake_request::HandshakeRequest;
use super::packet::{self, Packet, PacketError, Payload, SharedMessage, WsFrame};
use crate::http::Response;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The close code for a WebSocket that asks to join a session which
/// already has one (upgraded, or probing): 1008, policy violation. See
/// [`Session::begin_upgrade`].
pub const REFUSED_WEBSOCKET: u16 = 1008;

/// A session's settings, shared by every session of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// How often the server pings (`pingInterval`, 25 s like Node).
    pub ping_interval: Duration,
    /// How long it waits for the pong (`pingTimeout`, 20 s).
    pub ping_timeout: Duration,
    /// The largest payload in bytes (`maxPayload`, 1,000,000): a POST body,
    /// a WebSocket message, and (at least one packet aside) a poll answer.
    pub max_payload: usize,
    /// The most packets waiting to go out; [`Session::send`] refuses more.
    pub max_queue: usize,
    /// How long a WebSocket may take from its handshake to the client's
    /// upgrade packet before the attempt is dropped (10 s).
    pub upgrade_timeout: Duration,
    /// Whether polling sessions are offered the WebSocket upgrade.
    pub allow_upgrades: bool,
}

impl Default for SessionConfig {
    fn default() -> SessionConfig {
        SessionConfig {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            max_queue: 4096,
            upgrade_timeout: Duration::from_millis(10_000),
            allow_upgrades: true,
        }
    }
}

/// Where a session's packets travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// HTTP long-polling.
    Polling,
    /// Still polling, while a WebSocket is being probed.
    Upgrading,
    /// One WebSocket.
    WebSocket,
    /// Over; see the [`Event::Close`] reason.
    Closed,
}

/// What went wrong with a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFault {
    /// A second GET while one was held.
    ConcurrentGet,
    /// A second POST while one was being read.
    ConcurrentPost,
    /// A held GET's connection ended before its answer went out.
    PollConnectionLost,
    /// A WebSocket message over `maxPayload`.
    PayloadTooLarge,
}

// ANCHOR: close_reason
/// Why a session ended. [`CloseReason::as_str`] gives the names Node's
/// Engine.IO (and so Socket.IO) reports to applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed: a close packet, or its WebSocket went away.
    TransportClose,
    /// The transport broke a rule or broke down.
    TransportError(TransportFault),
    /// No pong within `pingTimeout` of a ping.
    PingTimeout,
    /// The client sent something that is not Engine.IO.
    ParseError,
    /// The application closed the session.
    ForcedClose,
    /// The server is stopping.
    ServerShuttingDown,
}
// ANCHOR_END: close_reason

impl CloseReason {
    /// The reason as Node's Engine.IO names it.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError(_) => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShuttingDown => "server shutting down",
        }
    }

    /// Whether the client is still there to be told: the queue is flushed
    /// and a close packet follows it. Otherwise the queue is dropped.
    fn graceful(self) -> bool {
        matches!(
            self,
            CloseReason::ForcedClose | CloseReason::ServerShuttingDown
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the application hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The session is open (the first event of every session).
    Open,
    /// A message from the client.
    Message(Payload),
    /// The session now runs on its WebSocket.
    Upgraded,
    /// The session is over (the last event).
    Close(CloseReason),
}

/// Names one held GET. Only the current token is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GetToken(u64);

/// Names one POST being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PostToken(u64);

/// Names one WebSocket connection of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WsToken(u64);

/// The answer to a poll (`GET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetOutcome {
    /// Answer at once with this payload ([`poll_response`]).
    Respond(Vec<u8>),
    /// Hold the request: its answer comes from [`Session::poll_transmit`]
    /// as a [`Transmit::Poll`] with this token.
    Hold(GetToken),
}

/// Why a POST was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostError {
    /// A protocol error code (400 and JSON).
    Code(ErrorCode),
    /// The body is over `maxPayload` (413). The session stays open.
    TooLarge,
    /// The body is not a payload (400, Bad request). The session is closed
    /// with [`CloseReason::ParseError`].
    Parse(PacketError),
}

impl PostError {
    /// The response to send.
    pub fn response(&self) -> Response {
        match self {
            PostError::Code(code) => code.response(),
            PostError::TooLarge => error::payload_too_large(),
            PostError::Parse(_) => ErrorCode::BadRequest.response(),
        }
    }
}

/// Why [`Session::send`] refused a message (which it gives back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The session is closed.
    Closed(Payload),
    /// `max_queue` packets are already waiting. The application chooses:
    /// drop the message (a "volatile" send), retry later, or close the
    /// session as too slow.
    Full(Payload),
}

impl SendError {
    /// The message that was not queued.
    pub fn into_payload(self) -> Payload {
        match self {
            SendError::Closed(p) | SendError::Full(p) => p,
        }
    }
}

// ANCHOR: transmit
/// Something to send on one of the session's connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Answer the held GET `token` with these packets (see
    /// [`Transmit::body`], [`poll_response`]). If its connection is gone,
    /// give them back with [`Session::give_back`].
    Poll {
        /// The held GET.
        token: GetToken,
        /// The packets, in order.
        packets: Vec<Packet>,
    },
    /// Send these packets, one frame each ([`Packet::to_ws_frame`]), on
    /// WebSocket `token`.
    Frames {
        /// The WebSocket.
        token: WsToken,
        /// The packets, in order.
        packets: Vec<Packet>,
    },
    /// Close WebSocket `token` with this close code.
    CloseWebSocket {
        /// The WebSocket.
        token: WsToken,
        /// 1000 normal, 1002 protocol error, 1009 too big, 1001 going away.
        code: u16,
    },
}
// ANCHOR_END: transmit

impl Transmit {
    /// A poll answer's HTTP body (a polling payload).
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Transmit::Poll { packets, .. } = self {
            packet::encode_payload(packets, &mut out);
        }
        out
    }
}

/// A 200 answer to a poll, with `body` (a payload).
pub fn poll_response(body: Vec<u8>) -> Response {
    Response::new(200)
        .header("Content-Type", "text/plain; charset=UTF-8")
        .body(body)
}

/// The 200 `ok` answer to an accepted POST.
pub fn post_response() -> Response {
    Response::new(200)
        .header("Content-Type", "text/html")
        .body(&b"ok"[..])
}

/// The WebSocket being probed for an upgrade.
#[derive(Debug, Clone, Copy)]
struct Probe {
    ws: WsToken,
    /// `2probe` came and `3probe` went: polls are now answered with noop.
    probed: bool,
    deadline: Instant,
}

/// Where the packets go now.
#[derive(Debug)]
enum Carrier {
    Polling {
        get: Option<GetToken>,
        probe: Option<Probe>,
    },
    WebSocket(WsToken),
}

// ANCHOR: session
/// One session: its transport, its outgoing queue, its timers.
#[derive(Debug)]
pub struct Session {
    sid: Sid,
    config: SessionConfig,
    carrier: Carrier,
    /// Packets waiting for a transport, in order.
    queue: VecDeque<Packet>,
    /// Sends addressed to a token that go ahead of the queue (3probe, the
    /// noop to a paused poll, a close).
    urgent: VecDeque<Transmit>,
    events: VecDeque<Event>,
    post: Option<PostToken>,
    next_token: u64,
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
    closed: Option<CloseReason>,
    /// After a graceful close: when to stop waiting for a poll to carry the
    /// last packets.
    linger: Option<Instant>,
    /// The request that opened the session, once the glue gives it.
    request: Option<Arc<HandshakeRequest>>,
    /// The close code for the session's WebSocket when the session ends.
    close_ws_with: u16,
    /// The session's WebSocket is gone (nothing more can be sent on it).
    ws_gone: bool,
    /// The session's WebSocket was told to close.
    ws_close_sent: bool,
}
// ANCHOR_END: session

impl Session {
    /// Opens a session on polling at `now`. Returns it and the handshake
    /// GET's answer body (the open packet).
    pub fn open_polling(sid: Sid, config: SessionConfig, now: Instant) -> (Session, Vec<u8>) {
        let session = Session::new(sid, config, now, Transport::Polling);
        let mut body = Vec::new();
        session
            .open_packet(Transport::Polling)
            .encode_polling(&mut body);
        (session, body)
    }

    /// Opens a session directly on a WebSocket (a handshake with
    /// `transport=websocket`). The open packet is the first transmit.
    pub fn open_websocket(sid: Sid, config: SessionConfig, now: Instant) -> (Session, WsToken) {
        let mut session = Session::new(sid, config, now, Transport::WebSocket);
        let ws = session.token();
        let ws = WsToken(ws);
        session.carrier = Carrier::WebSocket(ws);
        let open = session.open_packet(Transport::WebSocket);
        session.queue.push_back(open);
        (session, ws)
    }

    fn new(sid: Sid, config: SessionConfig, now: Instant, _on: Transport) -> Session {
        let next_ping = Some(now + config.ping_interval);
        Session {
            sid,
            config,
            carrier: Carrier::Polling {
                get: None,
                probe: None,
            },
            queue: VecDeque::new(),
            urgent: VecDeque::new(),
            events: VecDeque::from([Event::Open]),
            post: None,
            next_token: 0,
            next_ping,
            pong_deadline: None,
            closed: None,
            linger: None,
            request: None,
            close_ws_with: 1000,
            ws_gone: false,
            ws_close_sent: false,
        }
    }

    fn open_packet(&self, on: Transport) -> Packet {
        let upgrades = if on == Transport::Polling && self.config.allow_upgrades {
            vec![Transport::WebSocket]
        } else {
            vec![]
        };
        Packet::Open(
            OpenInfo {
                sid: self.sid.clone(),
                upgrades,
                ping_interval: self.config.ping_interval,
                ping_timeout: self.config.ping_timeout,
                max_payload: self.config.max_payload,
            }
            .to_json(),
        )
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// The session's id.
    pub fn sid(&self) -> &Sid {
        &self.sid
    }

    /// Records the request that opened the session (the glue does, before
    /// it announces [`Event::Open`]); a later call does not replace it.
    pub fn set_request(&mut self, request: Arc<HandshakeRequest>) {
        self.request.get_or_insert(request);
    }

    /// The token of the session's WebSocket, once it is on one.
    pub fn websocket(&self) -> Option<WsToken> {
        match self.carrier {
            Carrier::WebSocket(token) => Some(token),
            _ => None,
        }
    }

    /// The request that opened the session, if recorded.
    pub fn request(&self) -> Option<&Arc<HandshakeRequest>> {
        self.request.as_ref()
    }

    /// Takes the recorded request: the glue hands it on with the open
    /// event, once, so that an idle session does not keep its handshake's
    /// headers and query for nothing (the application keeps what it wants).
    pub fn take_request(&mut self) -> Option<Arc<HandshakeRequest>> {
        self.request.take()
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Where the packets travel now.
    pub fn state(&self) -> State {
        match &self.carrier {
            _ if self.closed.is_some() => State::Closed,
            Carrier::WebSocket(_) => State::WebSocket,
            Carrier::Polling { probe: Some(_), .. } => State::Upgrading,
            Carrier::Polling { .. } => State::Polling,
        }
    }

    /// Why the session closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.closed
    }

    /// Closed, with nothing more to send: the registry can forget it.
    pub fn is_finished(&self) -> bool {
        let ws_done = match self.carrier {
            Carrier::WebSocket(_) => self.ws_gone || self.ws_close_sent,
            Carrier::Polling { .. } => true,
        };
        self.closed.is_some() && self.urgent.is_empty() && self.queue.is_empty() && ws_done
    }

    /// The number of packets waiting for a transport.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ANCHOR: send
    /// Queues a message for the client. Packets leave in the order they
    /// were queued, whatever transport carries them.
    pub fn send(&mut self, message: Payload) -> Result<(), SendError> {
        if self.closed.is_some() {
            return Err(SendError::Closed(message));
        }
        if self.queue.len() >= self.config.max_queue {
            return Err(SendError::Full(message));
        }
        self.queue.push_back(Packet::Message(message));
        Ok(())
    }
    // ANCHOR_END: send

    /// Queues a message shared with other sessions (a broadcast), like
    /// [`Session::send`]; a refusal gives back a copy of its payload.
    pub fn send_shared(&mut self, message: Arc<SharedMessage>) -> Result<(), SendError> {
        if self.closed.is_some() {
            return Err(SendError::Closed(message.payload().clone()));
        }
        if self.queue.len() >= self.config.max_queue {
            return Err(SendError::Full(message.payload().clone()));
        }
        self.queue.push_back(Packet::Shared(message));
        Ok(())
    }

    /// Closes the session from the server side. With
    /// [`CloseReason::ForcedClose`] or [`CloseReason::ServerShuttingDown`]
    /// what is queued is still delivered, then a close packet (a poll has
    /// `pingTimeout` to fetch them); any other reason drops the queue.
    pub fn close(&mut self, now: Instant, reason: CloseReason) {
        self.shut(now, reason);
    }

    // ANCHOR: poll
    /// A GET on this session. `Err` is the error to answer with (and may
    /// have closed the session: a second concurrent GET does).
    pub fn on_get(&mut self, now: Instant) -> Result<GetOutcome, ErrorCode> {
        if self.closed.is_some() {
            return self.poll_after_close();
        }
        let Carrier::Polling { get, probe } = &mut self.carrier else {
            return Err(ErrorCode::BadRequest);
        };
        if get.is_some() {
            self.shut(
                now,
                CloseReason::TransportError(TransportFault::ConcurrentGet),
            );
            return Err(ErrorCode::BadRequest);
        }
        if probe.is_some_and(|p| p.probed) {
            // Paused for the upgrade: everything waits for the WebSocket.
            return Ok(GetOutcome::Respond(vec![Packet::Noop.kind().digit()]));
        }
        if !self.queue.is_empty() {
            let packets = self.take_for_poll();
            let mut body = Vec::new();
            packet::encode_payload(&packets, &mut body);
            return Ok(GetOutcome::Respond(body));
        }
        let token = GetToken(self.token());
        if let Carrier::Polling { get, .. } = &mut self.carrier {
            *get = Some(token);
        }
        Ok(GetOutcome::Hold(token))
    }
    // ANCHOR_END: poll

    /// A poll on a closed session: its last packets if a graceful close
    /// left some, otherwise the sid is gone.
    fn poll_after_close(&mut self) -> Result<GetOutcome, ErrorCode> {
        if matches!(self.carrier, Carrier::Polling { get: None, .. }) && !self.queue.is_empty() {
            let packets = self.take_for_poll();
            let mut body = Vec::new();
            packet::encode_payload(&packets, &mut body);
            return Ok(GetOutcome::Respond(body));
        }
        Err(ErrorCode::UnknownSid)
    }

    /// Takes queued packets for one poll answer: as many as fit in
    /// `maxPayload`, and always at least one.
    fn take_for_poll(&mut self) -> Vec<Packet> {
        let mut size = 0;
        let mut packets = Vec::new();
        while let Some(next) = self.queue.front() {
            // The close packet goes in a poll of its own, as Node's does:
            // a client handles the messages before it sees the close
            // (socket.io-client handles a packet on the next tick, so a
            // DISCONNECT in the same payload as the close would lose).
            if !packets.is_empty() && *next == Packet::Close {
                break;
            }
            let len = packet::polling_len(next) + usize::from(!packets.is_empty());
            if !packets.is_empty() && size + len > self.config.max_payload {
                break;
            }
            size += len;
            packets.extend(self.queue.pop_front());
        }
        packets
    }

    /// The held GET `token` was answered by someone else (the HTTP layer's
    /// own deadline, with a noop): its slot is free again.
    pub fn release_get(&mut self, token: GetToken) {
        if let Carrier::Polling { get, .. } = &mut self.carrier
            && *get == Some(token)
        {
            *get = None;
        }
    }

    /// The held GET `token`'s connection ended before any answer: the
    /// client's poll failed, so the session closes (as Node's does).
    pub fn get_lost(&mut self, token: GetToken, now: Instant) {
        if let Carrier::Polling { get, .. } = &mut self.carrier
            && *get == Some(token)
        {
            *get = None;
            self.shut(
                now,
                CloseReason::TransportError(TransportFault::PollConnectionLost),
            );
        }
    }

    // ANCHOR: give_back
    /// A [`Transmit`] that could not be delivered. Call it under the same
    /// lock as the [`Session::poll_transmit`] that produced it, so nothing
    /// else is sent in between.
    ///
    /// - A poll answer that did not go out (the request was already
    ///   answered by the HTTP layer's own deadline, or its connection is
    ///   gone: the `Responder` cannot tell which) goes back to the front of
    ///   the queue, in order, for the next poll. A client that is really
    ///   gone is then found by the heartbeat. (When the glue knows the
    ///   connection died, [`Session::get_lost`] closes at once instead.)
    /// - Frames that did not reach their WebSocket mean the WebSocket is
    ///   gone ([`Session::ws_closed`]): the session closes.
    ///
    /// Packets given back to a closed session are kept for
    /// [`Session::take_unsent`], for `pingTimeout`.
    pub fn give_back(&mut self, transmit: Transmit, now: Instant) {
        let packets = match transmit {
            Transmit::Poll { packets, .. } => packets,
            Transmit::Frames { token, packets } => {
                self.ws_closed(token, now);
                packets
            }
            Transmit::CloseWebSocket { .. } => return,
        };
        for p in packets.into_iter().rev() {
            self.queue.push_front(p);
        }
        if self.closed.is_some() && !self.queue.is_empty() && self.linger.is_none() {
            self.linger = Some(now + self.config.ping_timeout);
        }
    }
    // ANCHOR_END: give_back

    /// The packets that were never sent (after a close). Taking them
    /// finishes the session.
    pub fn take_unsent(&mut self) -> Vec<Packet> {
        self.queue.drain(..).collect()
    }

    // ANCHOR: post
    /// A POST's head arrived: at most one POST may be read at a time.
    pub fn begin_post(&mut self, now: Instant) -> Result<PostToken, ErrorCode> {
        if self.closed.is_some() {
            return Err(ErrorCode::UnknownSid);
        }
        if !matches!(self.carrier, Carrier::Polling { .. }) {
            return Err(ErrorCode::BadRequest);
        }
        if self.post.is_some() {
            self.shut(
                now,
                CloseReason::TransportError(TransportFault::ConcurrentPost),
            );
            return Err(ErrorCode::BadRequest);
        }
        let token = PostToken(self.token());
        self.post = Some(token);
        Ok(token)
    }

    /// The POST `token`'s whole body: its packets are handled in order.
    pub fn finish_post(
        &mut self,
        token: PostToken,
        body: &[u8],
        now: Instant,
    ) -> Result<(), PostError> {
        if self.post != Some(token) {
            return Err(PostError::Code(ErrorCode::BadRequest));
        }
        self.post = None;
        if self.closed.is_some() {
            return Err(PostError::Code(ErrorCode::UnknownSid));
        }
        if body.len() > self.config.max_payload {
            return Err(PostError::TooLarge);
        }
        let packets = match packet::decode_payload(body, self.config.max_payload) {
            Ok(p) => p,
            Err(e) => {
                self.shut(now, CloseReason::ParseError);
                return Err(PostError::Parse(e));
            }
        };
        for p in packets {
            self.on_packet(p, now);
        }
        Ok(())
    }

    /// A POST whose connection ended before its body did.
    pub fn abort_post(&mut self, token: PostToken) {
        if self.post == Some(token) {
            self.post = None;
        }
    }

    /// A whole POST at once: [`Session::begin_post`] then
    /// [`Session::finish_post`].
    pub fn on_post(&mut self, body: &[u8], now: Instant) -> Result<(), PostError> {
        let token = self.begin_post(now).map_err(PostError::Code)?;
        self.finish_post(token, body, now)
    }
    // ANCHOR_END: post

    /// A packet from the client, on the session's own transport.
    fn on_packet(&mut self, packet: Packet, now: Instant) {
        if self.closed.is_some() {
            return;
        }
        match packet {
            Packet::Pong(_) => {
                if self.pong_deadline.take().is_some() {
                    self.next_ping = Some(now + self.config.ping_interval);
                }
            }
            Packet::Message(m) => self.events.push_back(Event::Message(m)),
            // Never decoded from the wire; taken as the message it holds.
            Packet::Shared(m) => self.events.push_back(Event::Message(m.payload().clone())),
            Packet::Close => {
                // The client is leaving and knows it: a poll it still holds
                // is ended with a noop, not a close packet (as Node's
                // engine.io does).
                if let Carrier::Polling { get, .. } = &mut self.carrier
                    && let Some(get) = get.take()
                {
                    self.urgent.push_back(Transmit::Poll {
                        token: get,
                        packets: vec![Packet::Noop],
                    });
                }
                self.shut(now, CloseReason::TransportClose)
            }
            // v4 clients do not ping (the server does); an open, a stray
            // upgrade or a noop means nothing here.
            Packet::Ping(_) | Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    // ANCHOR: upgrade
    /// A WebSocket upgrade request with this session's sid: the WebSocket
    /// becomes the probe. Only a polling session, not already upgrading,
    /// may upgrade.
    ///
    /// A second WebSocket for a session that already has one (upgraded, or
    /// a probe under way) is ignored the way Node's engine.io ignores it:
    /// its handshake is accepted and it is closed at once
    /// ([`REFUSED_WEBSOCKET`]), so the session and its own WebSocket carry
    /// on untouched. Its token is never the session's: its frames and its
    /// end change nothing.
    pub fn begin_upgrade(&mut self, now: Instant) -> Result<WsToken, ErrorCode> {
        if self.closed.is_some() {
            return Err(ErrorCode::UnknownSid);
        }
        let allow = self.config.allow_upgrades;
        let deadline = now + self.config.upgrade_timeout;
        let ws = WsToken(self.token());
        match &mut self.carrier {
            Carrier::Polling {
                probe: probe @ None,
                ..
            } if allow => {
                *probe = Some(Probe {
                    ws,
                    probed: false,
                    deadline,
                });
                Ok(ws)
            }
            Carrier::Polling { probe: Some(_), .. } | Carrier::WebSocket(_) => {
                self.urgent.push_back(Transmit::CloseWebSocket {
                    token: ws,
                    code: REFUSED_WEBSOCKET,
                });
                Ok(ws)
            }
            Carrier::Polling { .. } => Err(ErrorCode::BadRequest),
        }
    }

    /// A frame from WebSocket `token` (the probe or the session's own).
    pub fn on_ws_frame(&mut self, token: WsToken, frame: WsFrame, now: Instant) {
        // Once closed, only a kept upgrade probe is still listened to.
        if self.closed.is_some() && !self.probe().is_some_and(|p| p.ws == token) {
            return;
        }
        let packet = match Packet::from_ws_frame(frame, self.config.max_payload) {
            Ok(p) => p,
            Err(e) => {
                let code = if matches!(e, PacketError::TooLarge { .. }) {
                    1009
                } else {
                    1002
                };
                if self.probe().is_some_and(|p| p.ws == token) {
                    self.abort_upgrade(code);
                } else if matches!(self.carrier, Carrier::WebSocket(ws) if ws == token) {
                    let reason = match e {
                        PacketError::TooLarge { .. } => {
                            CloseReason::TransportError(TransportFault::PayloadTooLarge)
                        }
                        _ => CloseReason::ParseError,
                    };
                    self.close_ws_with = code;
                    self.shut(now, reason);
                }
                return;
            }
        };
        match &mut self.carrier {
            Carrier::WebSocket(ws) if *ws == token => self.on_packet(packet, now),
            Carrier::Polling {
                get,
                probe: Some(probe),
            } if probe.ws == token => match packet {
                Packet::Ping(data) if data == "probe" && !probe.probed => {
                    probe.probed = true;
                    self.urgent.push_back(Transmit::Frames {
                        token,
                        packets: vec![Packet::Pong("probe".into())],
                    });
                    // Answer the held poll with a noop so the client can
                    // pause polling and send its upgrade packet.
                    if let Some(get) = get.take() {
                        self.urgent.push_back(Transmit::Poll {
                            token: get,
                            packets: vec![Packet::Noop],
                        });
                    }
                }
                Packet::Upgrade if probe.probed => {
                    if let Some(get) = get.take() {
                        self.urgent.push_back(Transmit::Poll {
                            token: get,
                            packets: vec![Packet::Noop],
                        });
                    }
                    self.carrier = Carrier::WebSocket(token);
                    if self.closed.is_none() {
                        self.events.push_back(Event::Upgraded);
                    }
                }
                _ => self.abort_upgrade(1002),
            },
            _ => {} // a stale token: a connection the session has let go
        }
    }
    // ANCHOR_END: upgrade

    fn probe(&self) -> Option<Probe> {
        match &self.carrier {
            Carrier::Polling { probe, .. } => *probe,
            Carrier::WebSocket(_) => None,
        }
    }

    /// The upgrade failed: the session stays on polling, the probe closes.
    fn abort_upgrade(&mut self, code: u16) {
        if let Carrier::Polling { probe, .. } = &mut self.carrier
            && let Some(p) = probe.take()
        {
            self.urgent
                .push_back(Transmit::CloseWebSocket { token: p.ws, code });
        }
    }

    /// WebSocket `token` has closed (either side, or the connection broke).
    pub fn ws_closed(&mut self, token: WsToken, now: Instant) {
        match &mut self.carrier {
            Carrier::Polling { probe, .. } if probe.is_some_and(|p| p.ws == token) => {
                *probe = None;
            }
            Carrier::WebSocket(ws) if *ws == token => {
                self.ws_gone = true;
                if self.closed.is_none() {
                    self.shut(now, CloseReason::TransportClose);
                }
            }
            _ => {}
        }
    }

    /// Ends the session, once. A graceful reason flushes the queue and a
    /// close packet; any other drops the queue and answers a held poll with
    /// a close packet.
    fn shut(&mut self, now: Instant, reason: CloseReason) {
        if self.closed.is_some() {
            return;
        }
        self.closed = Some(reason);
        self.events.push_back(Event::Close(reason));
        self.next_ping = None;
        self.pong_deadline = None;
        self.post = None;
        // A graceful close keeps an upgrade probe: a client that paused
        // its polling for the upgrade gets the last packets on the new
        // WebSocket, as Node's does (the probe closes once they are out).
        if let Carrier::Polling { probe, .. } = &mut self.carrier
            && !reason.graceful()
            && let Some(p) = probe.take()
        {
            self.urgent.push_back(Transmit::CloseWebSocket {
                token: p.ws,
                code: 1000,
            });
        }
        if reason == CloseReason::ServerShuttingDown {
            self.close_ws_with = 1001;
        }
        if reason.graceful() {
            self.queue.push_back(Packet::Close);
            if matches!(self.carrier, Carrier::Polling { .. }) {
                self.linger = Some(now + self.config.ping_timeout);
            }
        } else {
            self.queue.clear();
            if let Carrier::Polling { get, .. } = &mut self.carrier
                && let Some(get) = get.take()
            {
                self.urgent.push_back(Transmit::Poll {
                    token: get,
                    packets: vec![Packet::Close],
                });
            }
        }
    }

    // ANCHOR: transmit_fn
    /// The next thing to send, addressed to a connection by its token. Call
    /// it until `None` after anything that may have produced packets (a
    /// send, a POST, a frame, a timeout, a held GET).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.urgent.pop_front() {
            return Some(t);
        }
        match &mut self.carrier {
            Carrier::WebSocket(ws) => {
                let token = *ws;
                let abrupt = self.closed.is_some_and(|r| !r.graceful());
                if self.ws_gone || (abrupt && self.ws_close_sent) {
                    return None;
                }
                if !self.queue.is_empty() {
                    let packets = self.queue.drain(..).collect();
                    return Some(Transmit::Frames { token, packets });
                }
                if self.closed.is_some() && !self.ws_close_sent {
                    self.ws_close_sent = true;
                    return Some(Transmit::CloseWebSocket {
                        token,
                        code: self.close_ws_with,
                    });
                }
                None
            }
            Carrier::Polling { get, .. } => {
                if self.queue.is_empty() {
                    // Closed and all delivered: a kept probe closes now.
                    if self.closed.is_some() && self.probe().is_some() {
                        self.abort_upgrade(1000);
                        return self.urgent.pop_front();
                    }
                    return None;
                }
                let token = get.take()?;
                let packets = self.take_for_poll();
                Some(Transmit::Poll { token, packets })
            }
        }
    }
    // ANCHOR_END: transmit_fn

    // ANCHOR: timers
    /// When [`Session::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed.is_some() {
            return self.linger;
        }
        let probe = self.probe().map(|p| p.deadline);
        [self.next_ping, self.pong_deadline, probe]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers due at `now`: a ping to send, a pong that never came,
    /// an upgrade that took too long.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed.is_some() {
            if self.linger.is_some_and(|at| at <= now) {
                self.linger = None;
                self.queue.clear();
                self.abort_upgrade(1000);
            }
            return;
        }
        if self.pong_deadline.is_some_and(|at| at <= now) {
            self.shut(now, CloseReason::PingTimeout);
            return;
        }
        if let Some(due) = self.next_ping.filter(|at| *at <= now) {
            self.next_ping = None;
            // The pong is due `pingTimeout` after the ping was due, not
            // after a late timer got to it: the heartbeat keeps its
            // schedule, so a silent client is gone `pingInterval +
            // pingTimeout` after its last sign of life however busy the
            // server is. A very late timer still leaves the client half of
            // `pingTimeout` from now.
            let timeout = self.config.ping_timeout;
            self.pong_deadline = Some((due + timeout).max(now + timeout / 2));
            // Control packets are not counted against `max_queue`: there is
            // never more than one ping waiting.
            self.queue.push_back(Packet::Ping(String::new()));
        }
        if self.probe().is_some_and(|p| p.deadline <= now) {
            self.abort_upgrade(1000);
        }
    }
    // ANCHOR_END: timers
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
