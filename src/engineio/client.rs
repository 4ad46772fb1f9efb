//! The Engine.IO v4 client, sans-IO: it says which HTTP requests to make,
//! which WebSocket to open and which frames to send, and is told what came
//! back. A blocking client (and chapter 5b's Socket.IO client) drives it.
//!
//! By default it opens on polling and upgrades to a WebSocket when the
//! server offers one; it can also be held to one transport. It answers the
//! server's pings with pongs, and gives up on a server that has not pinged
//! for `pingInterval + pingTimeout`.

use super::handshake::{DEFAULT_PATH, OpenInfo, Transport};
use super::packet::{self, Packet, PacketError, Payload, WsFrame};
use std::collections::VecDeque;
use std::time::Instant;

/// Which transports the client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transports {
    /// Polling first, then a WebSocket if the server offers it.
    PollingThenUpgrade,
    /// Polling only.
    PollingOnly,
    /// A WebSocket from the start.
    WebSocketOnly,
}

/// The client's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The Engine.IO path (`/engine.io/`).
    pub path: String,
    /// Which transports to use.
    pub transports: Transports,
    /// The most packets waiting to go out; [`Client::send`] refuses more.
    pub max_queue: usize,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            path: DEFAULT_PATH.to_string(),
            transports: Transports::PollingThenUpgrade,
            max_queue: 4096,
        }
    }
}

/// Which of the client's requests a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// The handshake GET.
    Handshake,
    /// A poll GET.
    Poll,
    /// A POST of packets.
    Post,
}

/// An HTTP request to make for the polling transport: the handshake, a
/// poll, or a POST of packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollingRequest {
    /// What it is for; pass it back with the response.
    pub kind: RequestKind,
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path and query, like `/engine.io/?EIO=4&transport=polling&sid=...`.
    pub target: String,
    /// The body (a payload; empty for a GET).
    pub body: Vec<u8>,
}

// ANCHOR: action
/// What the client wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Make this HTTP request, and report with
    /// [`Client::on_http_response`] or [`Client::on_http_failed`].
    Http(PollingRequest),
    /// Open a WebSocket to this target; report [`Client::on_ws_open`],
    /// frames with [`Client::on_ws_frame`], the end with
    /// [`Client::on_ws_closed`].
    OpenWebSocket {
        /// Path and query.
        target: String,
    },
    /// Send this frame on the WebSocket.
    Frame(WsFrame),
    /// Close the WebSocket.
    CloseWebSocket,
}
// ANCHOR_END: action

/// The client's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Waiting for the open packet.
    Opening,
    /// Open on polling.
    Polling,
    /// Open on polling, probing a WebSocket.
    Upgrading,
    /// Open on a WebSocket.
    WebSocket,
    /// Over.
    Closed,
}

/// Why the client's session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCloseReason {
    /// The server closed the session (a close packet, its WebSocket closed).
    TransportClose,
    /// A request failed or was refused (its status), or the WebSocket
    /// could not be opened.
    TransportError(Option<u16>),
    /// No ping from the server for `pingInterval + pingTimeout`.
    PingTimeout,
    /// The server sent something that is not Engine.IO.
    ParseError(PacketError),
    /// [`Client::close`] was called.
    ForcedClose,
}

/// What the application hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The session is open.
    Open(OpenInfo),
    /// A message from the server.
    Message(Payload),
    /// The session moved to its WebSocket.
    Upgraded,
    /// The session is over.
    Close(ClientCloseReason),
}

/// The probe WebSocket during an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// Asked to open; waiting for it.
    Connecting,
    /// `2probe` sent.
    Probing,
    /// `3probe` came: polling is paused until no request is in flight.
    Pausing,
}

// ANCHOR: client
/// One client session.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    state: ClientState,
    open: Option<OpenInfo>,
    probe: Option<Probe>,
    get_in_flight: bool,
    post_in_flight: bool,
    /// Packets to send, in order, on whatever transport is current.
    outbox: VecDeque<Packet>,
    actions: VecDeque<Action>,
    events: VecDeque<ClientEvent>,
    /// When the client gives up on a silent server.
    ping_deadline: Option<Instant>,
    /// `close()` was called and waits for the outbox to drain.
    closing: bool,
}
// ANCHOR_END: client

impl Client {
    /// A client that starts at once: the first action is the handshake.
    pub fn new(config: ClientConfig) -> Client {
        let mut client = Client {
            config,
            state: ClientState::Opening,
            open: None,
            probe: None,
            get_in_flight: false,
            post_in_flight: false,
            outbox: VecDeque::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            ping_deadline: None,
            closing: false,
        };
        match client.config.transports {
            Transports::WebSocketOnly => {
                let target = client.target(Transport::WebSocket, false);
                client.actions.push_back(Action::OpenWebSocket { target });
            }
            _ => {
                client.get_in_flight = true;
                let target = client.target(Transport::Polling, false);
                client.actions.push_back(Action::Http(PollingRequest {
                    kind: RequestKind::Handshake,
                    method: "GET",
                    target,
                    body: Vec::new(),
                }));
            }
        }
        client
    }

    fn target(&self, transport: Transport, with_sid: bool) -> String {
        let mut t = format!("{}?EIO=4&transport={}", self.config.path, transport.name());
        if with_sid && let Some(open) = &self.open {
            t.push_str("&sid=");
            t.push_str(open.sid.as_str());
        }
        t
    }

    /// The state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The server's handshake, once open.
    pub fn open_info(&self) -> Option<&OpenInfo> {
        self.open.as_ref()
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Queues a message. `Err` gives it back: the client is closed or
    /// `max_queue` packets are waiting.
    pub fn send(&mut self, message: Payload) -> Result<(), Payload> {
        if self.state == ClientState::Closed
            || self.closing
            || self.outbox.len() >= self.config.max_queue
        {
            return Err(message);
        }
        self.outbox.push_back(Packet::Message(message));
        Ok(())
    }

    /// Ends the session: what is queued goes first, then a close packet.
    pub fn close(&mut self) {
        if self.state == ClientState::Closed || self.closing {
            return;
        }
        if self.state == ClientState::Opening {
            self.finish(ClientCloseReason::ForcedClose);
            return;
        }
        self.closing = true;
        self.outbox.push_back(Packet::Close);
    }

    // ANCHOR: poll_action
    /// The next thing to do. Call until `None` after every input.
    pub fn poll_action(&mut self) -> Option<Action> {
        if let Some(a) = self.actions.pop_front() {
            return Some(a);
        }
        match self.state {
            ClientState::Polling | ClientState::Upgrading => {
                let paused = self.probe == Some(Probe::Pausing);
                if paused && !self.get_in_flight && !self.post_in_flight {
                    // Nothing in flight on polling: switch.
                    self.probe = None;
                    self.state = ClientState::WebSocket;
                    self.events.push_back(ClientEvent::Upgraded);
                    return Some(Action::Frame(Packet::Upgrade.to_ws_frame()));
                }
                if paused {
                    return None;
                }
                if !self.post_in_flight && !self.outbox.is_empty() {
                    self.post_in_flight = true;
                    let mut body = Vec::new();
                    let packets = self.take_for_post();
                    let closes = packets.last() == Some(&Packet::Close);
                    packet::encode_payload(&packets, &mut body);
                    if closes {
                        self.finish(ClientCloseReason::ForcedClose);
                    }
                    return Some(Action::Http(PollingRequest {
                        kind: RequestKind::Post,
                        method: "POST",
                        target: self.target(Transport::Polling, true),
                        body,
                    }));
                }
                if !self.get_in_flight {
                    self.get_in_flight = true;
                    return Some(Action::Http(PollingRequest {
                        kind: RequestKind::Poll,
                        method: "GET",
                        target: self.target(Transport::Polling, true),
                        body: Vec::new(),
                    }));
                }
                None
            }
            ClientState::WebSocket => {
                let packet = self.outbox.pop_front()?;
                if packet == Packet::Close {
                    self.finish(ClientCloseReason::ForcedClose);
                    self.actions.push_back(Action::CloseWebSocket);
                }
                Some(Action::Frame(packet.to_ws_frame()))
            }
            ClientState::Opening | ClientState::Closed => None,
        }
    }
    // ANCHOR_END: poll_action

    /// Outbox packets for one POST: up to the server's `maxPayload`, at
    /// least one.
    fn take_for_post(&mut self) -> Vec<Packet> {
        let max = self.open.as_ref().map_or(usize::MAX, |o| o.max_payload);
        let mut size = 0;
        let mut packets = Vec::new();
        while let Some(next) = self.outbox.front() {
            let len = packet::polling_len(next) + usize::from(!packets.is_empty());
            if !packets.is_empty() && size + len > max {
                break;
            }
            size += len;
            packets.extend(self.outbox.pop_front());
        }
        packets
    }

    /// The response to a request of `kind`.
    pub fn on_http_response(&mut self, kind: RequestKind, status: u16, body: &[u8], now: Instant) {
        match kind {
            RequestKind::Handshake | RequestKind::Poll => self.get_in_flight = false,
            RequestKind::Post => self.post_in_flight = false,
        }
        if self.state == ClientState::Closed {
            return;
        }
        if status != 200 {
            self.finish(ClientCloseReason::TransportError(Some(status)));
            return;
        }
        if kind == RequestKind::Post {
            return;
        }
        match packet::decode_payload(body, usize::MAX) {
            Ok(packets) => {
                for p in packets {
                    self.on_packet(p, now);
                }
            }
            Err(e) => self.finish(ClientCloseReason::ParseError(e)),
        }
    }

    /// A request of `kind` failed (connection refused, reset...).
    pub fn on_http_failed(&mut self, kind: RequestKind) {
        match kind {
            RequestKind::Handshake | RequestKind::Poll => self.get_in_flight = false,
            RequestKind::Post => self.post_in_flight = false,
        }
        self.finish(ClientCloseReason::TransportError(None));
    }

    /// The WebSocket asked for is open.
    pub fn on_ws_open(&mut self) {
        if self.probe == Some(Probe::Connecting) {
            self.probe = Some(Probe::Probing);
            self.actions
                .push_back(Action::Frame(Packet::Ping("probe".into()).to_ws_frame()));
        }
    }

    /// A frame from the WebSocket.
    pub fn on_ws_frame(&mut self, frame: WsFrame, now: Instant) {
        if self.state == ClientState::Closed {
            return;
        }
        let packet = match Packet::from_ws_frame(frame, usize::MAX) {
            Ok(p) => p,
            Err(e) => {
                self.actions.push_back(Action::CloseWebSocket);
                self.finish(ClientCloseReason::ParseError(e));
                return;
            }
        };
        match self.state {
            ClientState::Upgrading => match packet {
                Packet::Pong(data) if data == "probe" && self.probe == Some(Probe::Probing) => {
                    self.probe = Some(Probe::Pausing);
                }
                _ => self.abandon_upgrade(),
            },
            _ => self.on_packet(packet, now),
        }
    }

    /// The WebSocket closed or failed.
    pub fn on_ws_closed(&mut self) {
        match self.state {
            ClientState::Upgrading => {
                self.probe = None;
                self.state = ClientState::Polling;
            }
            ClientState::Opening => self.finish(ClientCloseReason::TransportError(None)),
            ClientState::WebSocket => self.finish(ClientCloseReason::TransportClose),
            _ => {}
        }
    }

    fn abandon_upgrade(&mut self) {
        self.probe = None;
        self.state = ClientState::Polling;
        self.actions.push_back(Action::CloseWebSocket);
    }

    // ANCHOR: on_packet
    fn on_packet(&mut self, packet: Packet, now: Instant) {
        match packet {
            Packet::Open(json) if self.state == ClientState::Opening => {
                let Some(info) = OpenInfo::from_json(&json) else {
                    self.finish(ClientCloseReason::ParseError(PacketError::Empty));
                    return;
                };
                self.ping_deadline = Some(now + info.ping_interval + info.ping_timeout);
                let upgrade = self.config.transports == Transports::PollingThenUpgrade
                    && info.upgrades.contains(&Transport::WebSocket);
                self.state = if self.config.transports == Transports::WebSocketOnly {
                    ClientState::WebSocket
                } else {
                    ClientState::Polling
                };
                self.open = Some(info.clone());
                self.events.push_back(ClientEvent::Open(info));
                if upgrade {
                    self.state = ClientState::Upgrading;
                    self.probe = Some(Probe::Connecting);
                    let target = self.target(Transport::WebSocket, true);
                    self.actions.push_back(Action::OpenWebSocket { target });
                }
            }
            Packet::Ping(data) => {
                if let Some(open) = &self.open {
                    self.ping_deadline = Some(now + open.ping_interval + open.ping_timeout);
                }
                // Pongs go ahead of messages: they are what keeps us alive.
                self.outbox.push_front(Packet::Pong(data));
            }
            Packet::Message(m) => self.events.push_back(ClientEvent::Message(m)),
            // Never decoded from the wire; taken as the message it holds.
            Packet::Shared(m) => self
                .events
                .push_back(ClientEvent::Message(m.payload().clone())),
            Packet::Close => {
                if self.state == ClientState::WebSocket {
                    self.actions.push_back(Action::CloseWebSocket);
                }
                self.finish(ClientCloseReason::TransportClose);
            }
            Packet::Open(_) | Packet::Pong(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }
    // ANCHOR_END: on_packet

    fn finish(&mut self, reason: ClientCloseReason) {
        if self.state == ClientState::Closed {
            return;
        }
        if self.probe.take().is_some() {
            self.actions.push_back(Action::CloseWebSocket);
        }
        self.state = ClientState::Closed;
        self.ping_deadline = None;
        self.outbox.clear();
        self.events.push_back(ClientEvent::Close(reason));
    }

    /// When [`Client::handle_timeout`] wants to run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ping_deadline
    }

    /// The server has not pinged in time: the session is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ping_deadline.is_some_and(|at| at <= now) {
            if self.state == ClientState::WebSocket {
                self.actions.push_back(Action::CloseWebSocket);
            }
            self.finish(ClientCloseReason::PingTimeout);
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
