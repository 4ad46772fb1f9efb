//! The glue: a Socket.IO [`Server`] and its [`Handlers`] over an
//! [`EngineIo`], on either driver, with a handle for every other thread.
//!
//! [`EngineIo`] gives sessions across connections and reports what happens
//! on a channel. One thread, `socketio-events`, reads that channel and feeds
//! the server ([`Server::on_open`], [`Server::on_message`],
//! [`Server::on_close`]); a second, `socketio-timers`, sleeps until
//! [`Server::poll_timeout`] and calls [`Server::handle_timeout`] (connect
//! and ack timeouts). Both take one lock over the server and the handlers,
//! and after each turn *settle*: send what the server said by itself (a
//! CONNECT's answer), run the handlers on the server's events, then turn
//! the rest of [`Server::poll_transmit`] into Engine.IO sends, each part in
//! one [`EngineIo::send_batch`], all still under the lock, so that two
//! threads' packets for one client can never swap places.
//!
//! So handlers run on one thread, whatever the driver: a handler that
//! blocks holds up every client's events (Flask-SocketIO's `async_mode`
//! lesson). Blocking work belongs on another thread, which answers
//! through a [`SioHandle`]: cloneable, `Send`, usable from any thread
//! (a timer thread, a worker pool) to emit, join, leave, disconnect or
//! await acks.
//!
//! Broadcasts: the server encodes a broadcast once ([`Transmit`] carries one
//! `Arc<Encoded>` for all recipients); here each of its messages becomes
//! one [`SharedMessage`] for all of them, so the WebSocket frame is built
//! once and every connection queues the same buffer
//! ([`Outgoing::Shared`]).

use super::handlers::Handlers;
use super::packet::Encoded;
use super::server::{AckId, AckRequest, ClientId, Environ, Server, SioError, Transmit};
use super::{AckResult, SocketId, Value};
use crate::engineio::idhash::IdMap;
use crate::engineio::{
    EioEvent, EioProtocol, EngineIo, EngineIoConfig, Outgoing, Payload, SharedMessage, Sid,
};
use crate::http::{Request, Response};
use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// The Socket.IO path: Engine.IO under `/socket.io/`.
pub const DEFAULT_PATH: &str = "/socket.io/";

/// An Engine.IO configuration for Socket.IO: the same, on `/socket.io/`.
pub fn engine_config() -> EngineIoConfig {
    EngineIoConfig {
        path: DEFAULT_PATH.to_string(),
        ..EngineIoConfig::default()
    }
}

/// Why a [`SioHandle`] call did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandleError {
    /// The server refused (no such socket, a reserved name, a cap).
    Sio(SioError),
    /// Called from inside a handler, which already holds the server: use
    /// the `&mut Server` the handler was given, or [`SioHandle::defer`].
    InHandler,
    /// The server was shut down.
    Stopped,
}

impl From<SioError> for HandleError {
    fn from(e: SioError) -> HandleError {
        HandleError::Sio(e)
    }
}

impl std::fmt::Display for HandleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandleError::Sio(e) => write!(f, "{e}"),
            HandleError::InHandler => {
                f.write_str("a handle used inside a handler: use its server, or defer")
            }
            HandleError::Stopped => f.write_str("the Socket.IO server has stopped"),
        }
    }
}

impl std::error::Error for HandleError {}

/// Work queued by [`SioHandle::defer`].
type Deferred = Box<dyn FnOnce(&mut Server, &mut Handlers, Instant) + Send>;

/// Everything under the one lock.
struct State {
    server: Server,
    handlers: Handlers,
    clients: IdMap<Sid, ClientId>,
    sids: IdMap<ClientId, Sid>,
    next_client: u64,
    /// When the timer thread wakes next (`None`: it is awake).
    timer_at: Option<Instant>,
    stopped: bool,
}

struct Inner {
    state: Mutex<State>,
    deferred: Mutex<Vec<Deferred>>,
    timer: Condvar,
    engine: EngineIo,
}

thread_local! {
    /// This thread holds the state lock (it is running handlers).
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

/// The lock, marked as held on this thread while it lives.
struct Held<'a> {
    guard: Option<MutexGuard<'a, State>>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        HOLDING.with(|h| h.set(false));
    }
}

impl<'a> std::ops::Deref for Held<'a> {
    type Target = State;
    fn deref(&self) -> &State {
        self.guard.as_ref().expect("held")
    }
}

impl<'a> std::ops::DerefMut for Held<'a> {
    fn deref_mut(&mut self) -> &mut State {
        self.guard.as_mut().expect("held")
    }
}

impl Inner {
    /// Takes the lock, unless this thread has it already.
    fn hold(&self) -> Result<Held<'_>, HandleError> {
        if HOLDING.with(Cell::get) {
            return Err(HandleError::InHandler);
        }
        let guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        HOLDING.with(|h| h.set(true));
        Ok(Held { guard: Some(guard) })
    }

    fn take_deferred(&self) -> Vec<Deferred> {
        std::mem::take(&mut *self.deferred.lock().unwrap_or_else(|e| e.into_inner()))
    }

    // ANCHOR: settle
    /// After anything touched the server: what it already has to send, in
    /// one batch; handlers (and deferred work) until nothing is left, then
    /// what they sent, in one batch; then the timer thread if a deadline
    /// moved earlier.
    fn settle(&self, state: &mut State, now: Instant) {
        // What the server says by itself (a CONNECT's answer, a refusal)
        // goes out before the handlers run, as Node's socket.io sends the
        // CONNECT before it emits `connection`.
        let early = outgoing(&mut state.server, &state.sids);
        if !early.is_empty() {
            let refused = self.engine.send_batch(early);
            if refused > 0 {
                tracing::debug!("{refused} Engine.IO messages not queued (gone, full or volatile)");
            }
        }
        let State {
            server, handlers, ..
        } = state;
        loop {
            // A handler that panics loses its own event, not the server:
            // the rest are dispatched on the next round.
            let dispatched = catch_unwind(AssertUnwindSafe(|| handlers.dispatch(server, now)));
            if dispatched.is_err() {
                tracing::error!("a Socket.IO handler panicked; its event is dropped");
                continue;
            }
            let deferred = self.take_deferred();
            if deferred.is_empty() {
                break;
            }
            for work in deferred {
                if catch_unwind(AssertUnwindSafe(|| work(server, handlers, now))).is_err() {
                    tracing::error!("deferred Socket.IO work panicked");
                }
            }
        }
        let batch = outgoing(server, &state.sids);
        if !batch.is_empty() {
            let refused = self.engine.send_batch(batch);
            if refused > 0 {
                tracing::debug!("{refused} Engine.IO messages not queued (gone, full or volatile)");
            }
        }
        if let Some(at) = state.server.poll_timeout()
            && state.timer_at.is_none_or(|t| at < t)
        {
            state.timer_at = Some(at);
            self.timer.notify_one();
        }
    }
    // ANCHOR_END: settle
}

// ANCHOR: outgoing
/// The server's transmits as Engine.IO sends. A packet sent to several
/// clients (one `Arc<Encoded>`) becomes one [`SharedMessage`] per message,
/// made once and shared; a packet for one client moves its text as is.
fn outgoing(server: &mut Server, sids: &IdMap<ClientId, Sid>) -> Vec<(Sid, Outgoing)> {
    let mut batch = Vec::new();
    let mut shared: HashMap<*const Encoded, (Arc<Encoded>, Vec<Arc<SharedMessage>>)> =
        HashMap::new();
    while let Some(transmit) = server.poll_transmit() {
        match transmit {
            Transmit::Send {
                client,
                packet,
                volatile,
            } => {
                let Some(sid) = sids.get(&client) else {
                    continue;
                };
                let key = Arc::as_ptr(&packet);
                if volatile || Arc::strong_count(&packet) > 1 || shared.contains_key(&key) {
                    let (_, messages) = shared.entry(key).or_insert_with(|| {
                        let messages = packet.payloads().map(SharedMessage::new).collect();
                        (Arc::clone(&packet), messages)
                    });
                    if volatile {
                        batch.push((sid.clone(), Outgoing::Volatile(messages.clone())));
                    } else {
                        for m in messages.iter() {
                            batch.push((sid.clone(), Outgoing::Shared(Arc::clone(m))));
                        }
                    }
                } else {
                    let encoded = Arc::try_unwrap(packet).unwrap_or_else(|a| (*a).clone());
                    batch.push((sid.clone(), Outgoing::Message(Payload::Text(encoded.text))));
                    for attachment in encoded.attachments {
                        batch.push((sid.clone(), Outgoing::Message(Payload::Binary(attachment))));
                    }
                }
            }
            Transmit::Close { client, why } => {
                if let Some(sid) = sids.get(&client) {
                    tracing::info!("{}: closing ({why:?})", sid.as_str());
                    batch.push((sid.clone(), Outgoing::Close));
                }
            }
        }
    }
    batch
}
// ANCHOR_END: outgoing

// ANCHOR: socketio
/// A running Socket.IO server: its Engine.IO endpoint, its two threads and
/// the state they share. Serve it with [`SocketIo::factory`] on either
/// driver.
pub struct SocketIo {
    handle: SioHandle,
}

impl SocketIo {
    /// Starts `server` over a new Engine.IO endpoint with `config` (use
    /// [`engine_config`] for the `/socket.io/` path). `handlers` is given
    /// a handle first, for handlers that hand work to other threads.
    pub fn start(
        config: EngineIoConfig,
        server: Server,
        handlers: impl FnOnce(&SioHandle) -> Handlers,
    ) -> SocketIo {
        let (engine, events) = EngineIo::new(config);
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                server,
                handlers: Handlers::default(),
                clients: IdMap::default(),
                sids: IdMap::default(),
                next_client: 0,
                timer_at: None,
                stopped: false,
            }),
            deferred: Mutex::new(Vec::new()),
            timer: Condvar::new(),
            engine,
        });
        let handle = SioHandle { inner };
        let built = handlers(&handle);
        if let Ok(mut state) = handle.inner.hold() {
            state.handlers = built;
        }
        let weak = Arc::downgrade(&handle.inner);
        std::thread::Builder::new()
            .name("socketio-events".into())
            .spawn(move || run_events(weak, events))
            .expect("spawning the Socket.IO event thread");
        let weak = Arc::downgrade(&handle.inner);
        std::thread::Builder::new()
            .name("socketio-timers".into())
            .spawn(move || run_timers(weak))
            .expect("spawning the Socket.IO timer thread");
        SocketIo { handle }
    }

    /// A handle for other threads.
    pub fn handle(&self) -> SioHandle {
        self.handle.clone()
    }

    /// The Engine.IO endpoint underneath.
    pub fn engine(&self) -> &EngineIo {
        &self.handle.inner.engine
    }

    /// A driver factory: one connection each; `pages` answers every
    /// request off the Socket.IO path.
    pub fn factory(
        &self,
        pages: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> impl Fn(SocketAddr) -> EioProtocol + Send + Sync + 'static {
        self.engine().factory(pages)
    }

    /// Stops: every socket hears `server shutting down`, every session
    /// closes, the threads end.
    pub fn shutdown(&self) {
        if let Ok(mut state) = self.handle.inner.hold() {
            let now = Instant::now();
            state.server.shutdown(now);
            self.handle.inner.settle(&mut state, now);
            state.stopped = true;
        }
        self.handle.inner.timer.notify_one();
        self.handle.inner.engine.shutdown();
    }
}
// ANCHOR_END: socketio

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo").finish_non_exhaustive()
    }
}

/// Feeds Engine.IO's events to the server, several per lock when they
/// queue up.
fn run_events(inner: Weak<Inner>, events: Receiver<EioEvent>) {
    /// Most events handled under one lock.
    const BATCH: usize = 256;
    loop {
        let first = match events.recv_timeout(Duration::from_secs(1)) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => match inner.upgrade() {
                Some(inner) if !inner.hold().is_ok_and(|s| s.stopped) => continue,
                _ => return,
            },
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let Ok(mut state) = inner.hold() else {
            return;
        };
        if state.stopped {
            return;
        }
        let now = Instant::now();
        on_event(&mut state, first, now);
        for event in events.try_iter().take(BATCH - 1) {
            on_event(&mut state, event, now);
        }
        inner.settle(&mut state, now);
    }
}

// ANCHOR: on_event
/// One Engine.IO event, for the server.
fn on_event(state: &mut State, event: EioEvent, now: Instant) {
    match event {
        EioEvent::Open(sid, request) => {
            state.next_client += 1;
            let client = ClientId(state.next_client);
            state.clients.insert(sid.clone(), client);
            tracing::debug!("{}: socket.io client {} open", sid.as_str(), client.0);
            state.sids.insert(client, sid);
            state.server.on_open(client, Environ::from(&*request), now);
        }
        EioEvent::Message(sid, message) => {
            if let Some(&client) = state.clients.get(&sid) {
                state.server.on_message(client, message, now);
            }
        }
        EioEvent::Upgraded(_) => {}
        EioEvent::Close(sid, reason) => {
            if let Some(client) = state.clients.remove(&sid) {
                tracing::debug!(
                    "{}: socket.io client {} closed ({reason})",
                    sid.as_str(),
                    client.0
                );
                state.sids.remove(&client);
                state.server.on_close(client, reason.into(), now);
            }
        }
    }
}
// ANCHOR_END: on_event

/// Sleeps until the server's next deadline, fires what is due.
fn run_timers(inner: Weak<Inner>) {
    loop {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let Ok(mut state) = inner.hold() else {
            return;
        };
        if state.stopped {
            return;
        }
        let now = Instant::now();
        state.timer_at = None;
        state.server.handle_timeout(now);
        inner.settle(&mut state, now);
        // At most a second asleep, to notice a dropped server.
        let wait = state
            .server
            .poll_timeout()
            .map_or(Duration::from_secs(1), |at| {
                at.saturating_duration_since(now)
                    .min(Duration::from_secs(1))
            });
        state.timer_at = Some(now + wait);
        let guard = state.guard.take().expect("held");
        drop(state);
        let _unused = inner
            .timer
            .wait_timeout(guard, wait)
            .unwrap_or_else(|e| e.into_inner());
    }
}

// ANCHOR: handle
/// The server, from any thread: cheap to clone, `Send` and `Sync`.
///
/// Every call takes the server's lock, does its work, runs the handlers on
/// what it caused and sends the packets before returning. Inside a handler
/// the lock is already held: use the `&mut Server` the handler has, or
/// [`SioHandle::defer`] (which runs right after the handler); other calls
/// return [`HandleError::InHandler`] there rather than deadlock.
#[derive(Clone)]
pub struct SioHandle {
    inner: Arc<Inner>,
}

impl SioHandle {
    /// Runs `f` on the server (any of its API: `of(..).to(..).emit(..)`,
    /// `fetch_sockets`...) and sends what it caused.
    pub fn with<R>(&self, f: impl FnOnce(&mut Server) -> R) -> Result<R, HandleError> {
        self.with_handlers(|server, _, _| f(server))
    }

    /// Like [`SioHandle::with`], with the handlers (to register ack
    /// callbacks) and the time.
    pub fn with_handlers<R>(
        &self,
        f: impl FnOnce(&mut Server, &mut Handlers, Instant) -> R,
    ) -> Result<R, HandleError> {
        let mut state = self.inner.hold()?;
        if state.stopped {
            return Err(HandleError::Stopped);
        }
        let now = Instant::now();
        let State {
            server, handlers, ..
        } = &mut *state;
        let result = f(server, handlers, now);
        self.inner.settle(&mut state, now);
        Ok(result)
    }

    /// Runs `f` later, under the lock: right after the current handlers
    /// when called from one, else at the next settle (made at once).
    pub fn defer(&self, f: impl FnOnce(&mut Server, &mut Handlers, Instant) + Send + 'static) {
        self.inner
            .deferred
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(f));
        if !HOLDING.with(Cell::get) {
            let _ = self.with(|_| ());
        }
    }

    /// `io.to(socket).emit(name, ...args)`.
    pub fn emit(&self, socket: &SocketId, name: &str, args: Vec<Value>) -> Result<(), HandleError> {
        Ok(self.with(|io| io.emit(socket, name, args))??)
    }

    /// `io.of(nsp).to(room).emit(name, ...args)`: how many sockets it
    /// reached.
    pub fn emit_to(
        &self,
        nsp: &str,
        room: &str,
        name: &str,
        args: Vec<Value>,
    ) -> Result<usize, HandleError> {
        Ok(self.with(|io| io.of(nsp).to(room).emit(name, args))??)
    }

    /// `socket.timeout(t).emit(name, ...args, callback)`: `callback` runs
    /// (on the server's thread) with the answer or the timeout.
    pub fn emit_with_ack(
        &self,
        socket: &SocketId,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
        callback: impl FnOnce(&mut Server, AckResult) + Send + 'static,
    ) -> Result<AckId, HandleError> {
        Ok(self.with_handlers(|io, handlers, now| {
            let id = io.emit_with_ack(socket, name, args, timeout, now)?;
            handlers.on_ack(socket, id, callback);
            Ok::<_, SioError>(id)
        })??)
    }

    /// Answers a client's ack request taken out of a handler's context
    /// (`ctx.take_ack()`), e.g. after blocking work on another thread.
    pub fn ack(&self, request: AckRequest, args: Vec<Value>) -> Result<(), HandleError> {
        Ok(self.with(|io| io.ack(request, args))??)
    }

    /// `socket.join(room)`.
    pub fn join(&self, socket: &SocketId, room: &str) -> Result<(), HandleError> {
        Ok(self.with(|io| io.join(socket, room))??)
    }

    /// `socket.leave(room)`.
    pub fn leave(&self, socket: &SocketId, room: &str) -> Result<(), HandleError> {
        Ok(self.with(|io| io.leave(socket, room))??)
    }

    /// `socket.disconnect(close)`.
    pub fn disconnect(&self, socket: &SocketId, close: bool) -> Result<(), HandleError> {
        Ok(self.with_handlers(|io, _, now| io.disconnect(socket, close, now))??)
    }

    /// How many packets the server has encoded (a broadcast counts once).
    pub fn encode_count(&self) -> Result<u64, HandleError> {
        self.with(|io| io.encode_count())
    }

    /// The Engine.IO endpoint underneath (its sessions, its counters).
    pub fn engine(&self) -> &EngineIo {
        &self.inner.engine
    }
}
// ANCHOR_END: handle

impl std::fmt::Debug for SioHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SioHandle").finish_non_exhaustive()
    }
}
