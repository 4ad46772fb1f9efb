//! The glue: a Socket.IO [`Server`] and its [`Handlers`] over an
//! [`EngineIo`], on either driver, with a handle for every other thread.
//!
//! [`EngineIo`] gives sessions across connections and reports what happens
//! on a channel. The server and its handlers live under one lock. Whoever
//! made Engine.IO events takes that lock and handles them itself
//! ([`EngineIo::on_events`]): on `--driver mio` the event loop that read a
//! packet runs its handler, on `--driver threads` the connection's own
//! thread, and Engine.IO's timer thread handles the heartbeat's closes.
//! The events are taken off the channel under the lock, so they are
//! handled in order whichever thread takes them. A second thread,
//! `socketio-timers`, sleeps until [`Server::poll_timeout`] and calls
//! [`Server::handle_timeout`] (connect and ack timeouts).
//!
//! After each turn the lock's holder *settles*: it sends what the server
//! said by itself (a CONNECT's answer), runs the handlers on the server's
//! events, then turns the rest of [`Server::poll_transmit`] into Engine.IO
//! sends, each part in one [`EngineIo::send_batch`], all still under the
//! lock, so that two threads' packets for one client can never swap
//! places; and it goes round again while events wait on the channel.
//!
//! So handlers run one at a time, whatever the driver, and on mio on the
//! loop itself: a handler that blocks holds up every client (Flask-SocketIO's
//! `async_mode` lesson). Blocking work belongs on another thread, which
//! answers through a [`SioHandle`]: cloneable, `Send`, usable from any
//! thread (a timer thread, a worker pool) to emit, join, leave, disconnect
//! or await acks.
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
use std::sync::mpsc::Receiver;
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

/// How a turn of [`Inner::settle_on`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    Done,
    /// A CONNECT's answer waits for its callback to return; the handlers
    /// run in a later one.
    HandlersLater,
}

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
    /// Engine.IO's events, taken only under this lock, so in order.
    events: Receiver<EioEvent>,
}

struct Inner {
    state: Mutex<State>,
    deferred: Mutex<Vec<Deferred>>,
    timer: Condvar,
    engine: EngineIo,
}

thread_local! {
    /// The server whose state lock this thread holds (it is running
    /// handlers), by the address of its `Inner`; 0 for none.
    static HOLDING: Cell<usize> = const { Cell::new(0) };
}

/// The lock, marked as held on this thread while it lives.
struct Held<'a> {
    guard: Option<MutexGuard<'a, State>>,
    /// What `HOLDING` was before: another server's lock, held further up
    /// this thread's stack.
    outer: usize,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.guard = None;
        HOLDING.with(|h| h.set(self.outer));
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
        let me = self.address();
        let outer = HOLDING.with(Cell::get);
        if outer == me {
            return Err(HandleError::InHandler);
        }
        let guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        HOLDING.with(|h| h.set(me));
        Ok(Held {
            guard: Some(guard),
            outer,
        })
    }

    /// Names this server in `HOLDING`.
    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Whether this thread holds this server's lock.
    fn held_here(&self) -> bool {
        HOLDING.with(Cell::get) == self.address()
    }

    // ANCHOR: pump
    /// Engine.IO's hook: events wait on the channel. Handles them here,
    /// on the thread that made them, unless this thread holds the lock
    /// already (its own sends closed a session): then the settle under
    /// way takes them before it lets go.
    fn pump(&self) {
        let Ok(mut state) = self.hold() else {
            return;
        };
        if state.stopped {
            return;
        }
        self.settle_on(&mut state, Instant::now(), true);
    }
    // ANCHOR_END: pump

    fn take_deferred(&self) -> Vec<Deferred> {
        std::mem::take(&mut *self.deferred.lock().unwrap_or_else(|e| e.into_inner()))
    }

    // ANCHOR: settle
    /// After anything touched the server, and until no Engine.IO event
    /// waits: the events for the server; what it already has to send, in
    /// one batch; handlers (and deferred work) until nothing is left, then
    /// what they sent, in one batch. Last, the timer thread if a deadline
    /// moved earlier.
    fn settle(&self, state: &mut State, now: Instant) {
        self.settle_on(state, now, false);
    }

    /// [`Inner::settle`], told whether this thread is a driver's, in a
    /// connection's callback (`pump`): there a CONNECT's answer is
    /// written only when the callback returns, so the handlers wait for a
    /// later callback ([`EngineIo::hook_after_writing`]).
    fn settle_on(&self, state: &mut State, now: Instant, on_driver: bool) {
        let mut first = true;
        loop {
            let mut events = false;
            while let Ok(event) = state.events.try_recv() {
                on_event(state, event, now);
                events = true;
            }
            // Sends can close sessions (a forced close), and their events
            // were left for this thread, which holds the lock.
            if !events && !first {
                break;
            }
            first = false;
            if self.settle_once(state, now, on_driver) == Turn::HandlersLater {
                break;
            }
        }
        if let Some(at) = state.server.poll_timeout()
            && state.timer_at.is_none_or(|t| at < t)
        {
            state.timer_at = Some(at);
            self.timer.notify_one();
        }
    }

    fn settle_once(&self, state: &mut State, now: Instant, on_driver: bool) -> Turn {
        // What the server says by itself (a CONNECT's answer, a refusal)
        // goes out before the handlers run, as Node's socket.io sends the
        // CONNECT before it emits `connection`.
        let early = outgoing(&mut state.server, &state.sids);
        if !early.is_empty() {
            let mut sids: Vec<Sid> = Vec::new();
            if on_driver {
                sids = early.iter().map(|(sid, _)| sid.clone()).collect();
                sids.dedup();
            }
            let refused = self.engine.send_batch(early);
            if refused > 0 {
                tracing::debug!("{refused} Engine.IO messages not queued (gone, full or volatile)");
            }
            // Every WebSocket asked (no short cut: each must be asked).
            let asked = sids
                .iter()
                .fold(false, |any, sid| self.engine.hook_after_writing(sid) | any);
            if asked {
                return Turn::HandlersLater;
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
        Turn::Done
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
                events,
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
        handle.inner.engine.on_events(move || {
            if let Some(inner) = weak.upgrade() {
                inner.pump();
            }
        });
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
        if !self.inner.held_here() {
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
