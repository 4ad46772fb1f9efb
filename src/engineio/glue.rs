//! The server glue: Engine.IO on both drivers.
//!
//! One [`EioProtocol`] runs per TCP connection. It speaks HTTP/1.1 (chapter
//! 2's [`ServerConn`]) until a request on the Engine.IO path asks for a
//! WebSocket; then it answers `101` and becomes a WebSocket (chapter 3's
//! [`WsConnection`]) on the same socket, with any bytes already read. So
//! one listener serves the application's own pages, polling and WebSocket.
//!
//! Every connection shares one [`EngineIo`]: the router ([`Server`]) and
//! its sessions under one lock, and a table from `(sid, token)` to the
//! connection that holds that token (a held GET, a WebSocket). After
//! anything touches a session (a request, a frame, a timer, a send from
//! any thread), `Shared::flush` drains the session under the lock: its
//! events go to the application's channel, its transmits to their
//! connections' *outboxes*.
//!
//! An outbox is a small queue per connection plus a wake-up: the first
//! transmit put in an empty outbox sends one [`EioMail::Wake`] through the
//! connection's [`Mailbox`], and the connection, on its own thread, takes
//! everything queued. One wake-up stands for any number of transmits, so a
//! thread sending 10,000 messages cannot overflow the driver's bounded
//! inbox. A transmit that cannot be queued (the connection is gone) goes
//! back to its session at once, still under the lock
//! ([`Session::give_back`](super::Session::give_back)): nothing is lost, doubled or reordered.
//!
//! Timers: one thread per [`EngineIo`] sleeps until the registry's earliest
//! deadline ([`Registry::poll_timeout`]), runs the due timers and flushes
//! the sessions they touched. Heartbeats therefore run even when no
//! connection of a session is open at the moment (between two polls), on
//! either driver, and a held poll is answered by the ping. The connections
//! keep their own timers only for HTTP and WebSocket matters (a held GET's
//! safety deadline, a close handshake).
//!
//! [`Registry::poll_timeout`]: super::Registry::poll_timeout

use super::compress::HttpCompression;
use super::cors::Cors;
use super::handshake::{Query, Sid};
use super::handshake_request::HandshakeRequest;
use super::idhash::IdMap;
use super::packet::{Packet, Payload, SharedMessage, WsFrame};
use super::server::{AllowRequest, RequestView, Route, Server};
use super::session::{
    self, CloseReason, Event, GetToken, SendError, SessionConfig, Transmit, TransportFault, WsToken,
};
use crate::driver::{self, Ctx, Mailbox, Protocol};
use crate::http::server::Outcome;
use crate::http::{Limits, Request, Response, ServerConn};
use crate::ws::connection::{Config as WsConfig, State as WsState, WsConnection, WsMessage};
use crate::ws::deflate::DeflateConfig;
use crate::ws::handover::handover;
use crate::ws::handshake::server::{HandshakePolicy, OriginPolicy, is_websocket_upgrade};
use crate::ws::protocol::receive_messages;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

/// An Engine.IO server's settings.
#[derive(Clone)]
pub struct EngineIoConfig {
    /// Heartbeats, `maxPayload`, queue sizes.
    pub session: SessionConfig,
    /// The Engine.IO path, `/engine.io/`.
    pub path: String,
    /// Who may call from another origin.
    pub cors: Cors,
    /// Sessions open at once.
    pub max_sessions: usize,
    /// The application's veto (Node's `allowRequest`): error code 4.
    pub allow_request: Option<AllowRequest>,
    /// gzip/deflate on polling answers (Node's `httpCompression`).
    pub http_compression: HttpCompression,
    /// permessage-deflate on the WebSocket transport (Node's
    /// `perMessageDeflate`), negotiated as chapter 3's server does; `None`
    /// declines every offer. Default: on, without context takeover.
    pub ws_deflate: Option<DeflateConfig>,
}

impl Default for EngineIoConfig {
    fn default() -> EngineIoConfig {
        EngineIoConfig {
            session: SessionConfig::default(),
            path: super::handshake::DEFAULT_PATH.to_string(),
            cors: Cors::default(),
            max_sessions: 100_000,
            allow_request: None,
            http_compression: HttpCompression::default(),
            ws_deflate: Some(DeflateConfig::default()),
        }
    }
}

impl std::fmt::Debug for EngineIoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineIoConfig")
            .field("session", &self.session)
            .field("path", &self.path)
            .field("cors", &self.cors)
            .field("max_sessions", &self.max_sessions)
            .field("http_compression", &self.http_compression)
            .field("ws_deflate", &self.ws_deflate)
            .finish_non_exhaustive()
    }
}

// ANCHOR: app_events
/// What the application hears, in order for each session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EioEvent {
    /// A new session, with the request that opened it (for a
    /// WebSocket-only session, its upgrade request).
    Open(Sid, Arc<HandshakeRequest>),
    /// A message from the client.
    Message(Sid, Payload),
    /// The session moved to its WebSocket.
    Upgraded(Sid),
    /// The session is over, and why (`"ping timeout"`, `"transport
    /// close"`... through [`CloseReason::as_str`]).
    Close(Sid, CloseReason),
}
// ANCHOR_END: app_events

/// What reaches an Engine.IO connection through its mailbox: "your outbox
/// has something".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EioMail {
    /// Take what is in the outbox.
    Wake,
}

// ANCHOR: outgoing
/// One thing to do for one session in [`EngineIo::send_batch`].
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A message for this session alone.
    Message(Payload),
    /// A message shared with other sessions (a broadcast): a WebSocket
    /// sends its one prebuilt frame, without copying it.
    Shared(Arc<SharedMessage>),
    /// Messages that go together or not at all: dropped if the session
    /// already has packets waiting for a transport, or its WebSocket's
    /// driver had bytes unwritten at the connection's last callback (a
    /// `volatile` emit).
    Volatile(Vec<Arc<SharedMessage>>),
    /// Close the session once what is queued is delivered.
    Close,
}
// ANCHOR_END: outgoing

/// Which of a session's tokens a connection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    Get(GetToken),
    Ws(WsToken),
}

/// Transmits waiting for one connection.
struct Outbox {
    state: Mutex<OutboxState>,
    mailbox: Mailbox<EioMail>,
    /// Bytes the driver had not yet written when the connection's last
    /// callback began (`Ctx::unsent()`): a WebSocket whose peer reads
    /// slowly has a backlog here that its session cannot see. Volatile
    /// sends skip a connection with one.
    backlog: AtomicUsize,
}

#[derive(Default)]
struct OutboxState {
    transmits: VecDeque<(Sid, Transmit)>,
    /// A wake-up is on its way.
    woken: bool,
    /// The connection is gone.
    closed: bool,
    /// Run the event hook when the wake-up arrives
    /// ([`EngineIo::hook_after_writing`]).
    rehook: bool,
}

/// Transmits an outbox may hold before its connection counts as stalled.
const OUTBOX_CAP: usize = 4096;

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a transmit and wakes the connection; gives it back if the
    /// connection is gone or stalled.
    fn push(&self, sid: &Sid, transmit: Transmit) -> Result<(), Transmit> {
        let mut state = self.lock();
        if state.closed || state.transmits.len() >= OUTBOX_CAP || !self.wake(&mut state) {
            return Err(transmit);
        }
        state.transmits.push_back((sid.clone(), transmit));
        Ok(())
    }

    /// Makes sure a wake-up is on its way (one stands for everything
    /// queued until it arrives); false if none could be sent, and the
    /// connection is marked gone if its mailbox is closed.
    fn wake(&self, state: &mut OutboxState) -> bool {
        if state.woken {
            return true;
        }
        if let Err(e) = self.mailbox.send(EioMail::Wake) {
            if e.is_closed() {
                state.closed = true;
            }
            return false;
        }
        state.woken = true;
        true
    }

    /// Records the driver's backlog at the start of a callback.
    fn note_backlog(&self, ctx: &Ctx) {
        self.backlog.store(ctx.unsent(), Ordering::Relaxed);
    }

    /// The backlog last recorded.
    fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }

    /// Wakes the connection with nothing new, so that its next callback
    /// records a fresh backlog (after a volatile send skipped it, there
    /// may be no other reason for a callback soon).
    fn poke(&self) {
        let mut state = self.lock();
        if !state.closed {
            self.wake(&mut state);
        }
    }

    /// Asks for the event hook in the callback the wake-up brings; false
    /// if the connection is gone.
    fn rehook(&self) -> bool {
        let mut state = self.lock();
        if state.closed || !self.wake(&mut state) {
            return false;
        }
        state.rehook = true;
        true
    }

    /// Whether the event hook was asked for, and forgets it.
    fn take_rehook(&self) -> bool {
        std::mem::take(&mut self.lock().rehook)
    }

    /// Everything queued.
    fn take(&self, woken_mail: bool) -> VecDeque<(Sid, Transmit)> {
        let mut state = self.lock();
        if woken_mail {
            state.woken = false;
        }
        std::mem::take(&mut state.transmits)
    }

    /// The connection is gone: what was still queued.
    fn close(&self) -> VecDeque<(Sid, Transmit)> {
        let mut state = self.lock();
        state.closed = true;
        std::mem::take(&mut state.transmits)
    }
}

/// The state every connection shares, under one lock.
struct Shared {
    server: Server,
    conns: IdMap<(Sid, Slot), Arc<Outbox>>,
    events: Sender<EioEvent>,
    /// Events were sent under this hold of the lock: the event hook runs
    /// when it is let go.
    events_sent: bool,
    stopped: bool,
    /// When the timer thread, asleep, wakes next (`None`: not known to be
    /// asleep). A session whose next deadline is no earlier needs no
    /// wake-up: waking it for every message cost a scan of every session.
    timer_at: Option<Instant>,
}

impl Shared {
    // ANCHOR: flush
    /// Drains session `sid`: its events to the application, its transmits
    /// to the connections that hold their tokens. A transmit nobody can
    /// take goes back to the session at once, under this same lock.
    fn flush(&mut self, sid: &Sid, now: Instant) {
        let Ok(session) = self.server.registry.get_mut(sid) else {
            return;
        };
        while let Some(transmit) = session.poll_transmit() {
            let slot = match &transmit {
                Transmit::Poll { token, .. } => Slot::Get(*token),
                Transmit::Frames { token, .. } | Transmit::CloseWebSocket { token, .. } => {
                    Slot::Ws(*token)
                }
            };
            let key = (sid.clone(), slot);
            // A held GET is answered once: its entry goes with its answer.
            let outbox = match slot {
                Slot::Get(_) => self.conns.remove(&key),
                Slot::Ws(_) => self.conns.get(&key).cloned(),
            };
            let result = match outbox {
                Some(outbox) => outbox.push(sid, transmit),
                None => Err(transmit),
            };
            if let Err(transmit) = result {
                session.give_back(transmit, now);
            }
        }
        while let Some(event) = session.poll_event() {
            let event = match event {
                Event::Open => {
                    let request = session.take_request().unwrap_or_default();
                    EioEvent::Open(sid.clone(), request)
                }
                Event::Message(m) => EioEvent::Message(sid.clone(), m),
                Event::Upgraded => EioEvent::Upgraded(sid.clone()),
                Event::Close(reason) => EioEvent::Close(sid.clone(), reason),
            };
            // Nobody listening is the application's choice.
            let _ = self.events.send(event);
            self.events_sent = true;
        }
        if session.is_finished() {
            self.server.registry.remove(sid);
            self.conns.retain(|(s, _), _| s != sid);
        }
    }
    // ANCHOR_END: flush

    /// Flushes the sessions opened since the last call. Only the router
    /// opens sessions, and every call follows a [`Server::route`] under the
    /// same lock: so a session opened here was opened by `request` (from
    /// `peer`), which it records before its open event goes out.
    fn flush_opened(&mut self, now: Instant, request: &Request, peer: SocketAddr) {
        let opened = self.server.registry.take_opened();
        if !opened.is_empty() {
            let info = HandshakeRequest::new(request, Some(peer), SystemTime::now());
            let info = Arc::new(info);
            for sid in &opened {
                if let Ok(session) = self.server.registry.get_mut(sid) {
                    session.set_request(Arc::clone(&info));
                }
            }
        }
        for sid in opened {
            self.flush(&sid, now);
        }
    }
}

struct Inner {
    shared: Mutex<Shared>,
    /// Run after the lock is let go by a hold that sent events
    /// ([`EngineIo::on_events`]).
    hook: OnceLock<EventHook>,
    /// Wakes the timer thread: deadlines may have moved.
    timer: Condvar,
    config: EngineIoConfig,
    /// What broadcasts cost on the WebSocket transport.
    counters: SharedCounters,
}

/// Counts of the work shared messages cost on WebSockets (see
/// [`SharedMessage`]).
#[derive(Default)]
struct SharedCounters {
    /// Shared frames built: one per form (uncompressed, or compressed for
    /// one window and level) of each message that reached a WebSocket.
    frames_built: AtomicU64,
    /// Shared messages compressed: once per compressed form, plus once per
    /// connection that compressed one with its own context.
    compressions: AtomicU64,
}

/// What [`EngineIo::on_events`] installs.
type EventHook = Box<dyn Fn() + Send + Sync>;

impl Inner {
    /// The shared state, until the returned guard is dropped; then, if
    /// that hold sent events, the event hook runs on this thread.
    fn lock(&self) -> Locked<'_> {
        Locked {
            guard: Some(self.lock_quietly()),
            inner: self,
        }
    }

    /// The shared state, for a hold that sends no events (the timer
    /// thread's sleep).
    fn lock_quietly(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// ANCHOR: locked
/// A hold of the shared state. Letting it go runs the event hook when
/// events were sent meanwhile: on the thread that caused them, with no
/// lock of Engine.IO's held, so the hook may call back into the endpoint.
struct Locked<'a> {
    guard: Option<MutexGuard<'a, Shared>>,
    inner: &'a Inner,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        let sent = std::mem::take(&mut guard.events_sent);
        drop(guard);
        if sent && let Some(hook) = self.inner.hook.get() {
            hook();
        }
    }
}
// ANCHOR_END: locked

impl std::ops::Deref for Locked<'_> {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        self.guard.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Shared {
        self.guard.as_mut().expect("held until dropped")
    }
}

// ANCHOR: engineio
/// An Engine.IO endpoint, for the application: cheap to clone, usable from
/// any thread. Its events arrive on the channel [`EngineIo::new`] returns.
#[derive(Clone)]
pub struct EngineIo {
    inner: Arc<Inner>,
}

impl EngineIo {
    /// An endpoint with `config`, its timer thread, and the receiving end
    /// of its events.
    pub fn new(config: EngineIoConfig) -> (EngineIo, Receiver<EioEvent>) {
        let (events, receiver) = channel();
        let mut server = Server::new(config.session.clone(), config.max_sessions);
        server.path = config.path.clone();
        server.cors = config.cors.clone();
        server.allow_request = config.allow_request.clone();
        let inner = Arc::new(Inner {
            shared: Mutex::new(Shared {
                server,
                conns: IdMap::default(),
                events,
                events_sent: false,
                stopped: false,
                timer_at: None,
            }),
            hook: OnceLock::new(),
            timer: Condvar::new(),
            config,
            counters: SharedCounters::default(),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("engineio-timers".into())
            .spawn(move || run_timers(weak))
            .expect("spawning the Engine.IO timer thread");
        (EngineIo { inner }, receiver)
    }

    // ANCHOR: on_events
    /// Installs `hook`, run whenever events have gone to the channel: on
    /// the thread whose work made them (a connection's callback on its
    /// driver, the timer thread, a caller of [`EngineIo::send`]), after
    /// Engine.IO's lock is let go. An application that drains the channel
    /// there, under a lock of its own, handles each event on the thread
    /// that read it, with no thread of its own to hand it to: Socket.IO's
    /// glue does. Events stay in order however many threads run the hook
    /// at once, as long as they are taken from the channel under that one
    /// lock. Set once; a second call returns `false` and changes nothing.
    pub fn on_events(&self, hook: impl Fn() + Send + Sync + 'static) -> bool {
        self.inner.hook.set(Box::new(hook)).is_ok()
    }
    // ANCHOR_END: on_events

    /// Runs the event hook again later on the WebSocket that carries
    /// session `sid`: in the callback its wake-up brings, so after the
    /// callback that takes what is queued for it now has been written.
    /// Socket.IO's glue uses it so that a CONNECT's answer reaches the
    /// socket before the namespace's `connection` handlers run (a handler
    /// that blocks, or that emits at once, does not hold the answer back or
    /// share its write). False, and nothing asked, if the session has no
    /// WebSocket open here.
    pub fn hook_after_writing(&self, sid: &Sid) -> bool {
        let mut shared = self.inner.lock();
        let Ok(session) = shared.server.registry.get_mut(sid) else {
            return false;
        };
        let Some(token) = session.websocket() else {
            return false;
        };
        let Some(outbox) = shared.conns.get(&(sid.clone(), Slot::Ws(token))).cloned() else {
            return false;
        };
        drop(shared);
        outbox.rehook()
    }

    /// Queues `message` for session `sid`; gives it back if the session is
    /// gone or its queue is full.
    pub fn send(&self, sid: &Sid, message: Payload) -> Result<(), SendError> {
        let mut shared = self.inner.lock();
        let now = Instant::now();
        let result = match shared.server.registry.get_mut(sid) {
            Ok(session) => session.send(message),
            Err(_) => Err(SendError::Closed(message)),
        };
        shared.flush(sid, now);
        result
    }

    /// Does `items` in order under one lock (a broadcast to 1,000 sessions
    /// takes the lock once, not 1,000 times). Returns how many messages
    /// were not queued: their session is gone or its queue is full, or a
    /// volatile one found packets waiting.
    pub fn send_batch(&self, items: impl IntoIterator<Item = (Sid, Outgoing)>) -> usize {
        let mut guard = self.inner.lock();
        let shared = &mut *guard;
        let now = Instant::now();
        let mut refused = 0;
        let mut touched: Vec<Sid> = Vec::new();
        let mut closed = false;
        let conns = &shared.conns;
        for (sid, item) in items {
            let Ok(session) = shared.server.registry.get_mut(&sid) else {
                refused += usize::from(!matches!(item, Outgoing::Close));
                continue;
            };
            let result = match item {
                Outgoing::Volatile(_) if session.queued() == 0 => {
                    // Packets may wait in the driver instead, behind a
                    // WebSocket's slow reader.
                    let outbox = session
                        .websocket()
                        .and_then(|token| conns.get(&(sid.clone(), Slot::Ws(token))));
                    match (outbox, item) {
                        (Some(outbox), _) if outbox.backlog() > 0 => {
                            outbox.poke();
                            Err(())
                        }
                        (_, Outgoing::Volatile(messages)) => messages
                            .into_iter()
                            .try_for_each(|m| session.send_shared(m).map_err(drop)),
                        _ => unreachable!("matched as volatile"),
                    }
                }
                Outgoing::Message(payload) => session.send(payload).map_err(drop),
                Outgoing::Shared(message) => session.send_shared(message).map_err(drop),
                Outgoing::Volatile(_) => Err(()),
                Outgoing::Close => {
                    session.close(now, CloseReason::ForcedClose);
                    closed = true;
                    Ok(())
                }
            };
            refused += usize::from(result.is_err());
            if touched.last() != Some(&sid) {
                touched.push(sid);
            }
        }
        touched.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        touched.dedup();
        for sid in touched {
            shared.flush(&sid, now);
        }
        drop(guard);
        if closed {
            self.inner.timer.notify_one();
        }
        refused
    }

    /// How many shared WebSocket frames were built so far: for each
    /// broadcast message, one per form it took (uncompressed, or
    /// compressed for one window size and level), however many WebSockets
    /// it reached.
    pub fn shared_frames_built(&self) -> u64 {
        self.inner.counters.frames_built.load(Ordering::Relaxed)
    }

    /// How many times a broadcast message was compressed for WebSockets:
    /// once per compressed form shared by every connection that does not
    /// keep its compression context (the default), and once per
    /// connection that does (`DeflateConfig::with_context_takeover`).
    pub fn shared_compressions(&self) -> u64 {
        self.inner.counters.compressions.load(Ordering::Relaxed)
    }

    /// Closes session `sid` from the server side: what is queued is still
    /// delivered, then a close packet.
    pub fn close(&self, sid: &Sid) {
        let mut shared = self.inner.lock();
        let now = Instant::now();
        if let Ok(session) = shared.server.registry.get_mut(sid) {
            session.close(now, CloseReason::ForcedClose);
        }
        shared.flush(sid, now);
        self.inner.timer.notify_one();
    }

    /// The number of live sessions.
    pub fn sessions(&self) -> usize {
        self.inner.lock().server.registry.len()
    }

    /// Closes every session (server shutdown) and stops the timer thread.
    pub fn shutdown(&self) {
        let mut shared = self.inner.lock();
        let now = Instant::now();
        for sid in shared.server.registry.close_all(now) {
            shared.flush(&sid, now);
        }
        shared.stopped = true;
        self.inner.timer.notify_one();
    }

    /// A driver factory: one [`EioProtocol`] per connection. `pages`
    /// answers every request off the Engine.IO path.
    pub fn factory(
        &self,
        pages: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> impl Fn(SocketAddr) -> EioProtocol + Send + Sync + 'static {
        let engine = self.clone();
        let pages: Pages = Arc::new(pages);
        move |_peer| EioProtocol::new(engine.clone(), Arc::clone(&pages))
    }
}
// ANCHOR_END: engineio

impl std::fmt::Debug for EngineIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineIo")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

// ANCHOR: timers
/// The timer thread: sleeps until the earliest session deadline, runs what
/// is due and flushes what it touched. Ends when the endpoint is shut down
/// or dropped.
fn run_timers(inner: Weak<Inner>) {
    loop {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let now = Instant::now();
        {
            // Let go before sleeping: the events of what was due go to
            // the application now (the hook runs on this thread).
            let mut shared = inner.lock();
            if shared.stopped {
                return;
            }
            for sid in shared.server.registry.handle_timeout(now) {
                shared.flush(&sid, now);
            }
        }
        let mut shared = inner.lock_quietly();
        if shared.stopped {
            return;
        }
        // At most a second asleep, to notice a dropped endpoint.
        let wait = shared
            .server
            .registry
            .poll_timeout()
            .map_or(Duration::from_secs(1), |at| {
                at.saturating_duration_since(now)
                    .min(Duration::from_secs(1))
            });
        shared.timer_at = Some(now + wait);
        let mut shared = inner
            .timer
            .wait_timeout(shared, wait)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        shared.timer_at = None;
    }
}
// ANCHOR_END: timers

type Pages = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// A request's `Accept-Encoding` fields, joined by commas.
fn accept_encoding(request: &Request) -> Option<String> {
    let fields: Vec<&str> = request
        .headers
        .get_all("accept-encoding")
        .filter_map(|v| std::str::from_utf8(v).ok())
        .collect();
    (!fields.is_empty()).then(|| fields.join(","))
}

/// A poll being held on this connection.
struct HeldGet {
    sid: Sid,
    token: GetToken,
    origin: Option<String>,
    /// Its `Accept-Encoding`, for compressing the answer.
    accept_encoding: Option<String>,
    /// The safety net: answer a noop if nothing came by then.
    deadline: Instant,
}

/// The connection's HTTP side.
struct HttpSide {
    conn: ServerConn,
    held: Option<HeldGet>,
    /// Bytes that arrived while a poll was held, not yet parsed.
    stash: Vec<u8>,
    peer_done: bool,
}

/// The connection's WebSocket side, after the `101`.
struct WsSide {
    sid: Sid,
    token: WsToken,
    conn: WsConnection,
    close_timer_set: bool,
    messages: Vec<WsMessage>,
}

enum Mode {
    Http(Box<HttpSide>),
    WebSocket(Box<WsSide>),
}

// ANCHOR: protocol
/// One TCP connection: plain HTTP, Engine.IO polling, or (after an upgrade
/// request) one of a session's WebSockets.
pub struct EioProtocol {
    engine: EngineIo,
    pages: Pages,
    limits: Limits,
    mode: Mode,
    outbox: Option<Arc<Outbox>>,
}
// ANCHOR_END: protocol

impl EioProtocol {
    fn new(engine: EngineIo, pages: Pages) -> EioProtocol {
        let max_payload = engine.inner.config.session.max_payload;
        let limits = Limits {
            // The session answers an oversized POST with 413 and stays
            // open; far larger ones are refused (413) before being read.
            max_body_bytes: max_payload.saturating_add(64 * 1024),
            ..Limits::default()
        };
        let conn = ServerConn::new(limits.clone(), Instant::now());
        EioProtocol {
            engine,
            pages,
            limits,
            mode: Mode::Http(Box::new(HttpSide {
                conn,
                held: None,
                stash: Vec::new(),
                peer_done: false,
            })),
            outbox: None,
        }
    }

    fn http(&mut self) -> Option<&mut HttpSide> {
        match &mut self.mode {
            Mode::Http(h) => Some(h),
            Mode::WebSocket(_) => None,
        }
    }

    /// Parses and answers requests until the input runs out, a poll is
    /// held, or the connection becomes a WebSocket. Returns bytes used.
    fn serve(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        let mut used = 0;
        loop {
            let now = ctx.now();
            let Some(http) = self.http() else {
                return used;
            };
            if http.held.is_some() {
                return used;
            }
            let progress = http.conn.receive(&input[used..], now, ctx.send_buffer());
            used += progress.consumed;
            match progress.outcome {
                Outcome::Request(request) => self.dispatch(request, ctx),
                Outcome::NeedMore | Outcome::Stopped => return used,
            }
        }
    }

    fn respond(&mut self, response: &Response, ctx: &mut Ctx) {
        let now = ctx.now();
        if let Some(http) = self.http()
            && http.conn.respond(response, now, ctx.send_buffer()).is_err()
        {
            tracing::error!("a response with no request to answer");
        }
    }

    // ANCHOR: dispatch
    /// One request: the Engine.IO router first, the pages otherwise.
    fn dispatch(&mut self, request: Request, ctx: &mut Ctx) {
        let now = ctx.now();
        let upgrade = is_websocket_upgrade(&request.headers);
        let origin = request.headers.get_str("origin");
        let accept_encoding = accept_encoding(&request);
        let view = RequestView {
            method: &request.method,
            target: &request.target,
            origin,
            websocket_upgrade: upgrade,
            cors_request_headers: request.headers.get_str("access-control-request-headers"),
            body: &request.body,
        };
        let engine = self.engine.clone();
        let handover = if upgrade {
            // The WebSocket handshake's own rules first, through the same
            // handover as chapter 3's server (Origin is the Engine.IO
            // veto's business, so any origin passes here).
            let policy = HandshakePolicy {
                subprotocols: Vec::new(),
                origin: OriginPolicy::Any,
            };
            let max = engine.inner.config.session.max_payload;
            let config = WsConfig {
                // One more byte than a packet may have: the session
                // names an oversized message itself.
                max_message_size: max.saturating_add(1),
                max_frame_size: max.saturating_add(1),
                // permessage-deflate, as chapter 3's server agrees it.
                deflate: engine.inner.config.ws_deflate.clone(),
                ..WsConfig::default()
            };
            match handover((&request).into(), &policy, &config) {
                Ok(handover) => Some(handover),
                Err(rejection) => {
                    let response = Response::new(rejection.status).text(rejection.reason);
                    self.respond(&response.header("Connection", "close"), ctx);
                    return;
                }
            }
        } else {
            None
        };
        let mut shared = engine.inner.lock();
        let route = shared.server.route(&view, now);
        let sid = Query::parse(&request.target).sid.map(Sid::new);
        match route {
            Route::NotEngineIo => {
                shared.flush_opened(now, &request, ctx.peer());
                drop(shared);
                let response = (self.pages)(&request);
                self.respond(&response, ctx);
            }
            Route::Respond(response) => {
                if let Some(sid) = &sid {
                    shared.flush(sid, now);
                }
                // A new polling session: its open event.
                shared.flush_opened(now, &request, ctx.peer());
                drop(shared);
                engine.inner.timer.notify_one();
                let response = if request.method == "GET" {
                    let compression = &engine.inner.config.http_compression;
                    compression.apply(accept_encoding.as_deref(), response)
                } else {
                    response
                };
                self.respond(&response, ctx);
            }
            Route::Hold { sid, token } => {
                let outbox = self.outbox.clone();
                if let Some(outbox) = outbox {
                    shared.conns.insert((sid.clone(), Slot::Get(token)), outbox);
                }
                shared.flush(&sid, now);
                drop(shared);
                let within = engine.inner.config.session.ping_interval
                    + engine.inner.config.session.ping_timeout;
                if let Some(http) = self.http() {
                    http.held = Some(HeldGet {
                        sid,
                        token,
                        origin: origin.map(str::to_string),
                        accept_encoding,
                        deadline: now + within,
                    });
                }
            }
            Route::WebSocket { sid, token, .. } => {
                if let Some(outbox) = self.outbox.clone() {
                    shared.conns.insert((sid.clone(), Slot::Ws(token)), outbox);
                }
                // The router answers `WebSocket` only to an upgrade request,
                // which has its handover by now.
                let Some(handover) = handover else {
                    drop(shared);
                    tracing::error!("a WebSocket route without an upgrade request");
                    ctx.abort();
                    return;
                };
                handover.accepted.write_response(ctx.send_buffer());
                let conn = handover.connection;
                self.mode = Mode::WebSocket(Box::new(WsSide {
                    sid: sid.clone(),
                    token,
                    conn,
                    close_timer_set: false,
                    messages: Vec::new(),
                }));
                // Only now that its WebSocket is known: a new session's
                // first transmit is the open packet (and its open event
                // carries this upgrade request).
                shared.flush_opened(now, &request, ctx.peer());
                shared.flush(&sid, now);
                drop(shared);
                engine.inner.timer.notify_one();
            }
        }
    }
    // ANCHOR_END: dispatch

    /// Records, for volatile sends, what the driver still holds for the
    /// peer as this callback begins.
    fn note_backlog(&self, ctx: &Ctx) {
        if let Some(outbox) = &self.outbox {
            outbox.note_backlog(ctx);
        }
    }

    /// Takes what the outbox holds and acts on it.
    fn drain_outbox(&mut self, woken_mail: bool, ctx: &mut Ctx) {
        let Some(outbox) = self.outbox.clone() else {
            return;
        };
        let transmits = outbox.take(woken_mail);
        let mut undelivered = Vec::new();
        for (sid, transmit) in transmits {
            if let Some(t) = self.deliver(&sid, transmit, ctx) {
                undelivered.push((sid, t));
            }
        }
        if !undelivered.is_empty() {
            self.give_back(undelivered, ctx.now());
        }
    }

    /// Delivers one transmit on this connection; returns it if it is not
    /// for anything this connection holds.
    fn deliver(&mut self, sid: &Sid, transmit: Transmit, ctx: &mut Ctx) -> Option<Transmit> {
        match (&mut self.mode, transmit) {
            (Mode::Http(http), Transmit::Poll { token, packets }) => {
                let held = http.held.take_if(|h| h.token == token && &h.sid == sid);
                let Some(held) = held else {
                    return Some(Transmit::Poll { token, packets });
                };
                let body = Transmit::Poll { token, packets }.body();
                let config = &self.engine.inner.config;
                let response = config.http_compression.apply(
                    held.accept_encoding.as_deref(),
                    config
                        .cors
                        .apply(held.origin.as_deref(), session::poll_response(body)),
                );
                self.respond(&response, ctx);
                self.release_stash(ctx);
                None
            }
            (Mode::WebSocket(ws), Transmit::Frames { token, packets })
                if ws.token == token && &ws.sid == sid =>
            {
                let mut sent = 0;
                for packet in &packets {
                    let result = match packet {
                        // The shared frame, built (and compressed) once for
                        // every connection that sends it the same way.
                        Packet::Shared(message) => match ws.conn.send_shared(message.websocket()) {
                            Ok(shared) => {
                                let counters = &self.engine.inner.counters;
                                if shared.built {
                                    counters.frames_built.fetch_add(1, Ordering::Relaxed);
                                }
                                if shared.compressed {
                                    counters.compressions.fetch_add(1, Ordering::Relaxed);
                                }
                                if let Some(frame) = shared.frame {
                                    // What the connection queued goes first.
                                    ws.conn.drain_output_into(ctx.send_buffer());
                                    ctx.send_shared(frame);
                                }
                                Ok(())
                            }
                            Err(_) => Err(()),
                        },
                        packet => match packet.to_ws_frame() {
                            WsFrame::Text(text) => ws.conn.send_text(&text),
                            WsFrame::Binary(bytes) => ws.conn.send_binary(&bytes),
                        }
                        .map_err(drop),
                    };
                    if result.is_err() {
                        break;
                    }
                    sent += 1;
                }
                if sent < packets.len() {
                    let rest = packets[sent..].to_vec();
                    return Some(Transmit::Frames {
                        token,
                        packets: rest,
                    });
                }
                None
            }
            (Mode::WebSocket(ws), Transmit::CloseWebSocket { token, code })
                if ws.token == token && &ws.sid == sid =>
            {
                if ws.conn.state() == WsState::Open {
                    let _ = ws.conn.close(code, "");
                }
                None
            }
            (_, transmit) => Some(transmit),
        }
    }

    /// The held poll's safety deadline passed with nothing to send: free
    /// its slot (under the lock, so no answer can be on its way) and
    /// answer a noop.
    fn time_out_poll(&mut self, mut shared: Locked<'_>, ctx: &mut Ctx) {
        let Some(held) = self.http().and_then(|h| h.held.take()) else {
            return;
        };
        shared
            .conns
            .remove(&(held.sid.clone(), Slot::Get(held.token)));
        if let Ok(session) = shared.server.registry.get_mut(&held.sid) {
            session.release_get(held.token);
        }
        drop(shared);
        let noop = self.engine.inner.config.cors.apply(
            held.origin.as_deref(),
            session::poll_response(b"6".to_vec()),
        );
        self.respond(&noop, ctx);
        self.release_stash(ctx);
    }

    /// Gives undelivered transmits back to their sessions.
    fn give_back(&self, transmits: Vec<(Sid, Transmit)>, now: Instant) {
        let mut shared = self.engine.inner.lock();
        let mut touched = Vec::new();
        for (sid, transmit) in transmits {
            if let Ok(session) = shared.server.registry.get_mut(&sid) {
                session.give_back(transmit, now);
            }
            touched.push(sid);
        }
        for sid in touched {
            shared.flush(&sid, now);
        }
    }

    /// After a held poll is answered: parse what waited behind it.
    fn release_stash(&mut self, ctx: &mut Ctx) {
        let Some(http) = self.http() else {
            return;
        };
        let stash = std::mem::take(&mut http.stash);
        if stash.is_empty() {
            return;
        }
        let used = self.serve(&stash, ctx);
        let rest = &stash[used.min(stash.len())..];
        match &mut self.mode {
            Mode::Http(_) => self.keep_unparsed(rest, ctx),
            Mode::WebSocket(_) => {
                let rest = rest.to_vec();
                self.ws_bytes(&rest, ctx);
            }
        }
    }

    fn keep_unparsed(&mut self, bytes: &[u8], ctx: &mut Ctx) {
        let cap = self.limits.max_head_bytes + self.limits.max_body_bytes;
        let Some(http) = self.http() else {
            return;
        };
        if http.stash.len() + bytes.len() > cap {
            tracing::debug!("{}: too much pipelined behind a held poll", ctx.peer());
            ctx.abort();
            return;
        }
        http.stash.extend_from_slice(bytes);
    }

    /// HTTP bytes arrived (or were kept).
    fn http_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        let held = self.http().is_some_and(|h| h.held.is_some());
        let stashed = self.http().is_some_and(|h| !h.stash.is_empty());
        if held {
            self.keep_unparsed(input, ctx);
            return input.len();
        }
        let (buffer, from_stash) = if stashed {
            let mut stash = self.http().map(|h| std::mem::take(&mut h.stash));
            let mut all = stash.take().unwrap_or_default();
            all.extend_from_slice(input);
            (all, true)
        } else {
            (Vec::new(), false)
        };
        let data: &[u8] = if from_stash { &buffer } else { input };
        let used = self.serve(data, ctx);
        let rest = &data[used.min(data.len())..];
        match &self.mode {
            Mode::WebSocket(_) => {
                let rest = rest.to_vec();
                self.ws_bytes(&rest, ctx);
                input.len()
            }
            Mode::Http(h) if h.held.is_some() || from_stash => {
                self.keep_unparsed(rest, ctx);
                input.len()
            }
            Mode::Http(_) => input.len() - rest.len(),
        }
    }

    // ANCHOR: ws_bytes
    /// WebSocket bytes: frames become packets for the session, through
    /// chapter 3's receive loop ([`receive_messages`]).
    fn ws_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        let Mode::WebSocket(ws) = &mut self.mode else {
            return 0;
        };
        let now = ctx.now();
        let engine = &self.engine;
        let (sid, token) = (&ws.sid, ws.token);
        let mut peer_closed = false;
        let mut wake_timer = false;
        let mut messages = std::mem::take(&mut ws.messages);
        let (consumed, failed) =
            receive_messages(&mut ws.conn, input, &mut messages, |_, batch| {
                let mut shared = engine.inner.lock();
                let timer_at = shared.timer_at;
                if let Ok(session) = shared.server.registry.get_mut(sid) {
                    for message in batch.drain(..) {
                        match message {
                            WsMessage::Text(text) => {
                                session.on_ws_frame(token, WsFrame::Text(text), now);
                            }
                            WsMessage::Binary(bytes) => {
                                session.on_ws_frame(token, WsFrame::Binary(bytes), now);
                            }
                            WsMessage::Close(..) => peer_closed = true,
                            WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                        }
                    }
                    // Deadlines may have moved (a pong, an upgrade, a
                    // close): wake the timer thread only if this session's
                    // next one now comes before the thread would wake.
                    let next = session.poll_timeout();
                    wake_timer |= next.is_some_and(|at| timer_at.is_none_or(|t| at < t));
                }
                shared.flush(sid, now);
            });
        ws.messages = messages;
        if let Some(err) = &failed {
            tracing::debug!("{}: engine.io websocket failed: {err}", ctx.peer());
        }
        if failed.is_some() || peer_closed {
            let mut shared = engine.inner.lock();
            if let Ok(session) = shared.server.registry.get_mut(sid) {
                match failed.as_ref().map(|e| e.code) {
                    Some(1009) => session.close(
                        now,
                        CloseReason::TransportError(TransportFault::PayloadTooLarge),
                    ),
                    _ => session.ws_closed(token, now),
                }
            }
            shared.flush(sid, now);
        }
        if wake_timer || failed.is_some() || peer_closed {
            engine.inner.timer.notify_one();
        }
        consumed
    }
    // ANCHOR_END: ws_bytes

    /// After every callback: own transmits, queued bytes, timers, closing.
    fn settle(&mut self, ctx: &mut Ctx) {
        self.drain_outbox(false, ctx);
        let now = ctx.now();
        match &mut self.mode {
            Mode::Http(http) => {
                let finished = http.conn.should_close();
                let owed = http.conn.unanswered();
                // A client that stops sending while its poll is held has
                // gone (no Engine.IO client half-closes while it polls): the
                // poll is given up now, and `on_closed` closes the session
                // with a transport error, as Node does ("poll connection
                // closed prematurely"). Waiting to answer it would only
                // write the answer into a connection that is most likely
                // dead (a network cut, a killed client), and keep the
                // session, which connection state recovery could restore
                // at once, until the heartbeat gives up on it.
                let poll_abandoned = http.peer_done && http.held.is_some();
                if finished || poll_abandoned || (http.peer_done && owed == 0) {
                    ctx.close();
                    return;
                }
                let held = http.held.as_ref().map(|h| h.deadline);
                match [held, http.conn.deadline()].into_iter().flatten().min() {
                    Some(at) => ctx.wake_at(at),
                    None => ctx.cancel_timer(),
                }
            }
            Mode::WebSocket(ws) => {
                ws.conn.drain_output_into(ctx.send_buffer());
                if ws.conn.state() == WsState::ClosingByUs && !ws.close_timer_set {
                    ws.close_timer_set = true;
                    ctx.wake_at(now + WsConfig::default().close_timeout);
                } else if ws.conn.state() == WsState::Open && ws.conn.holds_compression_context() {
                    // Context takeover: free the compression state once
                    // the WebSocket has been quiet a while.
                    let idle = self.engine.inner.config.ws_deflate.as_ref();
                    if let Some(idle) = idle.map(|d| d.idle_timeout) {
                        ctx.wake_at(now + idle);
                    }
                }
                if ws.conn.should_close_transport() {
                    ctx.cancel_timer();
                    ctx.close();
                }
            }
        }
    }
}

impl Protocol for EioProtocol {
    type Mail = EioMail;

    fn on_open(&mut self, mailbox: Mailbox<EioMail>, ctx: &mut Ctx) {
        self.outbox = Some(Arc::new(Outbox {
            state: Mutex::new(OutboxState::default()),
            mailbox,
            backlog: AtomicUsize::new(0),
        }));
        if let Some(http) = self.http() {
            http.conn = ServerConn::new(http.conn.limits().clone(), ctx.now());
        }
        self.settle(ctx);
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        self.note_backlog(ctx);
        let used = match self.mode {
            Mode::Http(_) => self.http_bytes(input, ctx),
            Mode::WebSocket(_) => self.ws_bytes(input, ctx),
        };
        self.settle(ctx);
        used
    }

    fn on_eof(&mut self, input: &[u8], ctx: &mut Ctx) {
        let _ = input;
        match &mut self.mode {
            Mode::Http(http) => {
                http.peer_done = true;
                self.settle(ctx);
            }
            Mode::WebSocket(ws) => {
                ws.conn.transport_closed();
                ctx.close();
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        self.note_backlog(ctx);
        let now = ctx.now();
        // Anything already on its way is the answer, not the timeout.
        self.drain_outbox(false, ctx);
        let engine = self.engine.clone();
        match &mut self.mode {
            Mode::Http(http) => {
                if http.held.as_ref().is_some_and(|h| now >= h.deadline) {
                    // Under the lock nothing can be delivered meanwhile:
                    // either the outbox has the answer, or the slot is freed.
                    let shared = engine.inner.lock();
                    let pending = self.outbox.as_ref().map(|o| o.take(false));
                    match pending {
                        Some(pending) if !pending.is_empty() => {
                            drop(shared);
                            let mut undelivered = Vec::new();
                            for (sid, t) in pending {
                                if let Some(t) = self.deliver(&sid, t, ctx) {
                                    undelivered.push((sid, t));
                                }
                            }
                            if !undelivered.is_empty() {
                                self.give_back(undelivered, now);
                            }
                        }
                        _ => self.time_out_poll(shared, ctx),
                    }
                }
                if let Some(http) = self.http() {
                    http.conn.on_timer(now, ctx.send_buffer());
                }
            }
            Mode::WebSocket(ws) => {
                if ws.conn.state() == WsState::ClosingByUs {
                    ws.conn.transport_closed();
                    ctx.close();
                    return;
                }
                if ws.conn.state() == WsState::Open {
                    ws.conn.release_idle();
                }
            }
        }
        self.settle(ctx);
    }

    fn on_message(&mut self, message: EioMail, ctx: &mut Ctx) {
        self.note_backlog(ctx);
        match message {
            EioMail::Wake => {
                self.drain_outbox(true, ctx);
                let rehook = self.outbox.as_ref().is_some_and(|o| o.take_rehook());
                if rehook && let Some(hook) = self.engine.inner.hook.get() {
                    hook();
                }
            }
        }
        self.settle(ctx);
    }

    // ANCHOR: on_shutdown
    /// The server is stopping. The session this connection carries is
    /// closed with "server shutting down": a held poll is answered with the
    /// close packet `1` (after anything still queued), a WebSocket gets the
    /// close packet and then close 1001. Then the connection closes.
    fn on_shutdown(&mut self, ctx: &mut Ctx) {
        let now = ctx.now();
        let sid = match &self.mode {
            Mode::Http(http) => http.held.as_ref().map(|h| h.sid.clone()),
            Mode::WebSocket(ws) => Some(ws.sid.clone()),
        };
        if let Some(sid) = sid {
            let mut shared = self.engine.inner.lock();
            if let Ok(session) = shared.server.registry.get_mut(&sid) {
                session.close(now, CloseReason::ServerShuttingDown);
            }
            // The close packet lands in this connection's outbox.
            shared.flush(&sid, now);
            drop(shared);
            self.drain_outbox(false, ctx);
        }
        match &mut self.mode {
            Mode::WebSocket(ws) => {
                // Already closing if the session's close reached us.
                if ws.conn.state() == WsState::Open {
                    let _ = ws.conn.close(1001, "server shutting down");
                }
                self.settle(ctx);
            }
            Mode::Http(_) => ctx.close(),
        }
    }
    // ANCHOR_END: on_shutdown

    // ANCHOR: on_closed
    fn on_closed(&mut self, reason: driver::CloseReason) {
        tracing::debug!("engine.io connection closed: {reason}");
        // The one clock read in a callback: `on_closed` has no `Ctx`, and the
        // session's close (a linger deadline) needs a time.
        let now = Instant::now();
        let leftovers = self.outbox.as_ref().map(|o| o.close()).unwrap_or_default();
        let mut shared = self.engine.inner.lock();
        let mut touched: Vec<Sid> = Vec::new();
        for (sid, transmit) in leftovers {
            if let Ok(session) = shared.server.registry.get_mut(&sid) {
                session.give_back(transmit, now);
            }
            touched.push(sid);
        }
        match &mut self.mode {
            Mode::Http(http) => {
                if let Some(held) = http.held.take() {
                    shared
                        .conns
                        .remove(&(held.sid.clone(), Slot::Get(held.token)));
                    if let Ok(session) = shared.server.registry.get_mut(&held.sid) {
                        session.get_lost(held.token, now);
                    }
                    touched.push(held.sid);
                }
            }
            Mode::WebSocket(ws) => {
                shared.conns.remove(&(ws.sid.clone(), Slot::Ws(ws.token)));
                if let Ok(session) = shared.server.registry.get_mut(&ws.sid) {
                    session.ws_closed(ws.token, now);
                }
                touched.push(ws.sid.clone());
            }
        }
        for sid in touched {
            shared.flush(&sid, now);
        }
    }
    // ANCHOR_END: on_closed
}

#[cfg(test)]
#[path = "glue_tests.rs"]
mod tests;
