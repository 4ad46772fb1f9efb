//! The Redis adapter's I/O: two threads per server on redis-rs, between
//! Redis and the event loop, which never waits for Redis.
//!
//! - The **subscriber** holds the subscribed connection: `PSUBSCRIBE
//!   socket.io#<nsp>#*` and `SUBSCRIBE` to the request and response
//!   channels of every namespace that has a [`RedisAdapter`]. Each message
//!   goes into that adapter's mailbox (a bounded channel: when the loop
//!   falls that far behind, messages are dropped and counted, pub/sub is
//!   at-most-once anyway), then the loop is woken (`wake`, a `mio::Waker`
//!   in the glue). After a lost connection it reconnects with a backoff
//!   (50 ms doubling to 1 s) and subscribes again to everything.
//! - The **publisher** takes commands from a bounded queue: `PUBLISH`,
//!   and for a request `PUBSUB NUMSUB` of the request channel first, whose
//!   count goes to the adapter's mailbox before the request is published
//!   (so it is there before any answer). Every step has a timeout; when
//!   Redis is unreachable the command is dropped (counted) and a request
//!   is reported as failed.
//!
//! The adapter only ever `try_send`s to the publisher and `try_recv`s its
//! mailbox: a slow, blocked or dead Redis costs the loop nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::adapter::RedisAdapter;
use super::channels::Channels;
use super::requests::DEFAULT_TIMEOUT;
use crate::socketio::Adapter;

/// How to reach Redis and how long to wait.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://127.0.0.1:6379`.
    pub url: String,
    /// The channels' prefix (Node's `key` option, `socket.io` by default).
    pub prefix: String,
    /// How long a request waits for the other servers (Node: 5 s).
    pub requests_timeout: Duration,
    /// The longest wait for any one Redis step (connect, a reply).
    pub io_timeout: Duration,
    /// Messages a namespace's mailbox holds before dropping.
    pub mailbox: usize,
    /// Commands the publisher's queue holds before dropping.
    pub queue: usize,
}

impl RedisOptions {
    /// Node's defaults for `url`.
    pub fn new(url: &str) -> RedisOptions {
        RedisOptions {
            url: url.to_owned(),
            prefix: Channels::DEFAULT_PREFIX.to_owned(),
            requests_timeout: DEFAULT_TIMEOUT,
            io_timeout: Duration::from_secs(2),
            mailbox: 16 * 1024,
            queue: 16 * 1024,
        }
    }
}

/// Wakes the event loop after a message went into a mailbox.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// What the publisher thread is asked to do.
pub(crate) enum Command {
    Publish {
        channel: String,
        payload: Vec<u8>,
    },
    /// NUMSUB `numsub`, tell the adapter of `nsp`, then publish.
    Request {
        nsp: String,
        numsub: String,
        channel: String,
        payload: Vec<u8>,
        request_id: String,
    },
}

/// What arrives in an adapter's mailbox.
pub(crate) enum Incoming {
    /// A message on one of the namespace's channels.
    Message { channel: String, payload: Vec<u8> },
    /// How many servers listen on the request channel, for a request of
    /// ours (an error when Redis could not be asked).
    Servers {
        request_id: String,
        numsub: Result<usize, String>,
    },
}

pub(crate) struct Route {
    token: u64,
    mailbox: SyncSender<Incoming>,
}

/// What the threads and the adapters share.
pub(crate) struct Shared {
    pub(crate) opts: RedisOptions,
    pub(crate) uid: String,
    shutdown: AtomicBool,
    routes: Mutex<BTreeMap<String, Route>>,
    generation: AtomicU64,
    subscribed: AtomicU64,
    connected: AtomicBool,
    next_token: AtomicU64,
    reconnects: AtomicU64,
    dropped: AtomicU64,
    wake: Wake,
}

impl Shared {
    /// A new namespace: its mailbox, and a subscription soon.
    pub(crate) fn register(&self, nsp: &str) -> (u64, Receiver<Incoming>) {
        let (tx, rx) = mpsc::sync_channel(self.opts.mailbox);
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let route = Route { token, mailbox: tx };
        self.routes
            .lock()
            .expect("no panics while locked")
            .insert(nsp.to_owned(), route);
        self.generation.fetch_add(1, Ordering::SeqCst);
        (token, rx)
    }

    /// A namespace went away (unless it was made again since).
    pub(crate) fn unregister(&self, nsp: &str, token: u64) {
        let mut routes = self.routes.lock().expect("no panics while locked");
        if routes.get(nsp).is_some_and(|r| r.token == token) {
            routes.remove(nsp);
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn deliver(&self, nsp: &str, incoming: Incoming) {
        let routes = self.routes.lock().expect("no panics while locked");
        let Some(route) = routes.get(nsp) else { return };
        if route.mailbox.try_send(incoming).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    nsp,
                    dropped = n,
                    "the loop is behind: Redis messages dropped"
                );
            }
            return;
        }
        drop(routes);
        (self.wake)();
    }

    pub(crate) fn count_drop(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

// ANCHOR: hub
/// One server's link to Redis: the two threads, and a factory of
/// [`RedisAdapter`]s for [`Server::set_adapter`](crate::socketio::Server::set_adapter).
/// Dropping it stops the threads.
pub struct RedisHub {
    shared: Arc<Shared>,
    commands: SyncSender<Command>,
    threads: Vec<JoinHandle<()>>,
}

impl RedisHub {
    /// Start the threads (they connect, and reconnect, on their own).
    /// Fails only on a malformed URL.
    pub fn start(opts: RedisOptions, wake: Wake) -> Result<RedisHub, ::redis::RedisError> {
        ::redis::Client::open(opts.url.as_str())?;
        let uid = super::new_uid().map_err(no_uid)?;
        let (commands, queue) = mpsc::sync_channel(opts.queue);
        let shared = Arc::new(Shared {
            opts,
            uid,
            shutdown: AtomicBool::new(false),
            routes: Mutex::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            subscribed: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            next_token: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            wake,
        });
        let s = Arc::clone(&shared);
        let sub = std::thread::Builder::new()
            .name("redis-sub".into())
            .spawn(move || subscriber(&s))
            .map_err(io_error)?;
        let s = Arc::clone(&shared);
        let publ = std::thread::Builder::new()
            .name("redis-pub".into())
            .spawn(move || publisher(&s, queue))
            .map_err(io_error)?;
        Ok(RedisHub {
            shared,
            commands,
            threads: vec![sub, publ],
        })
    }

    /// The adapters' factory, for `Server::set_adapter`.
    pub fn factory(&self) -> impl Fn(&str) -> Box<dyn Adapter> + Send + Sync + 'static {
        factory(&self.shared, &self.commands, RedisAdapter::new)
    }

    /// This server's uid on the wire.
    pub fn uid(&self) -> &str {
        &self.shared.uid
    }

    /// Whether the subscriber is connected and subscribed for every
    /// namespace there is now, each subscription confirmed by Redis
    /// (redis-rs waits for the confirmation). A server that says it is
    /// listening only after this holds loses no message published to it
    /// from then on (`ch05-sio-server --redis` does).
    pub fn is_ready(&self) -> bool {
        self.shared.connected.load(Ordering::SeqCst)
            && self.shared.subscribed.load(Ordering::SeqCst)
                == self.shared.generation.load(Ordering::SeqCst)
    }

    /// How many times the subscriber connected again after losing Redis.
    pub fn reconnects(&self) -> u64 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }

    /// Messages dropped: mailboxes full, queue full, or Redis unreachable.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}
// ANCHOR_END: hub

impl Drop for RedisHub {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// An adapters' factory for `Server::set_adapter`, for either hub: each
/// namespace's adapter made by `new`, all sharing the hub's state and its
/// publisher's queue.
pub(crate) fn factory<S, C, A>(
    shared: &Arc<S>,
    commands: &SyncSender<C>,
    new: fn(&str, Arc<S>, SyncSender<C>) -> A,
) -> impl Fn(&str) -> Box<dyn Adapter> + Send + Sync + 'static + use<S, C, A>
where
    S: Send + Sync + 'static,
    C: Send + 'static,
    A: Adapter + 'static,
{
    let shared = Arc::clone(shared);
    let commands = commands.clone();
    move |nsp: &str| -> Box<dyn Adapter> {
        Box::new(new(nsp, Arc::clone(&shared), commands.clone()))
    }
}

/// The error of a hub that got no randomness for its uid.
pub(crate) fn no_uid(e: getrandom::Error) -> ::redis::RedisError {
    ::redis::RedisError::from((
        ::redis::ErrorKind::ClientError,
        "no randomness for the uid",
        e.to_string(),
    ))
}

/// A read cut by a signal (the process was stopped and continued): not a
/// lost connection.
fn interrupted(e: &::redis::RedisError) -> bool {
    std::error::Error::source(e)
        .and_then(|c| c.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::Interrupted)
}

fn io_error(e: std::io::Error) -> ::redis::RedisError {
    ::redis::RedisError::from(e)
}

fn connect(opts: &RedisOptions) -> ::redis::RedisResult<::redis::Connection> {
    let client = ::redis::Client::open(opts.url.as_str())?;
    let con = client.get_connection_with_timeout(opts.io_timeout)?;
    con.set_write_timeout(Some(opts.io_timeout))?;
    con.set_read_timeout(Some(opts.io_timeout))?;
    Ok(con)
}

/// Sleep `d` in small steps; false if asked to stop meanwhile.
fn nap(shared: &Shared, d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if shared.shutdown.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    !shared.shutdown.load(Ordering::SeqCst)
}

// ANCHOR: subscriber
fn subscriber(shared: &Shared) {
    let mut backoff = Duration::from_millis(50);
    let mut first = true;
    while !shared.shutdown.load(Ordering::SeqCst) {
        match subscribe_and_listen(shared, &mut first, &mut backoff) {
            Ok(()) => return,
            Err(e) => {
                shared.connected.store(false, Ordering::SeqCst);
                tracing::warn!(error = %e, retry_in = ?backoff, "Redis subscriber lost; reconnecting");
                if !nap(shared, backoff) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

fn subscribe_and_listen(
    shared: &Shared,
    first: &mut bool,
    backoff: &mut Duration,
) -> ::redis::RedisResult<()> {
    let mut con = connect(&shared.opts)?;
    let mut pubsub = con.as_pubsub();
    // Short reads, to notice new namespaces and shutdown; a read cut by
    // the timeout resumes where it was (redis-rs parses incrementally).
    pubsub.set_read_timeout(Some(Duration::from_millis(100)))?;
    // Channel or pattern -> namespace.
    let mut by_channel: HashMap<String, String> = HashMap::new();
    let mut current: BTreeSet<String> = BTreeSet::new();
    let mut seen = u64::MAX;
    loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            return Ok(());
        }
        let generation = shared.generation.load(Ordering::SeqCst);
        if generation != seen {
            let wanted: BTreeSet<String> = shared
                .routes
                .lock()
                .expect("no panics while locked")
                .keys()
                .cloned()
                .collect();
            for nsp in wanted.difference(&current) {
                let c = Channels::new(&shared.opts.prefix, nsp);
                let direct = [c.request(), c.response(), c.specific_response(&shared.uid)];
                pubsub.psubscribe(c.broadcast_pattern())?;
                pubsub.subscribe(&direct[..])?;
                by_channel.insert(c.broadcast_pattern(), nsp.clone());
                for ch in direct {
                    by_channel.insert(ch, nsp.clone());
                }
            }
            for nsp in current.difference(&wanted) {
                let c = Channels::new(&shared.opts.prefix, nsp);
                let direct = [c.request(), c.response(), c.specific_response(&shared.uid)];
                pubsub.punsubscribe(c.broadcast_pattern())?;
                pubsub.unsubscribe(&direct[..])?;
                by_channel.retain(|_, n| n != nsp);
            }
            current = wanted;
            seen = generation;
            shared.subscribed.store(generation, Ordering::SeqCst);
            if !shared.connected.swap(true, Ordering::SeqCst) {
                if !*first {
                    shared.reconnects.fetch_add(1, Ordering::Relaxed);
                    tracing::info!("Redis subscriber back: subscribed again");
                }
                *first = false;
                *backoff = Duration::from_millis(50);
            }
        }
        let msg = match pubsub.get_message() {
            Ok(msg) => msg,
            Err(e) if e.is_timeout() || interrupted(&e) => continue,
            Err(e) => return Err(e),
        };
        let key = if msg.from_pattern() {
            msg.get_pattern::<String>().unwrap_or_default()
        } else {
            msg.get_channel_name().to_owned()
        };
        if let Some(nsp) = by_channel.get(&key) {
            let incoming = Incoming::Message {
                channel: msg.get_channel_name().to_owned(),
                payload: msg.get_payload_bytes().to_vec(),
            };
            shared.deliver(nsp, incoming);
        }
    }
}
// ANCHOR_END: subscriber

// ANCHOR: publisher
fn publisher(shared: &Shared, queue: Receiver<Command>) {
    let mut con: Option<::redis::Connection> = None;
    let mut retry_at = Instant::now();
    loop {
        let command = match queue.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) if !shared.shutdown.load(Ordering::SeqCst) => continue,
            Err(_) => return,
        };
        if con.is_none() {
            // Once per command, not more often than every 200 ms: during
            // an outage commands are dropped one by one (at-most-once), and
            // the queue, full, drops the rest at the adapter.
            let wait = retry_at.saturating_duration_since(Instant::now());
            if !wait.is_zero() && !nap(shared, wait) {
                return;
            }
            match connect(&shared.opts) {
                Ok(c) => con = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "Redis publisher cannot connect");
                    retry_at = Instant::now() + Duration::from_millis(200);
                }
            }
        }
        let (channel, payload, request) = match command {
            Command::Publish { channel, payload } => (channel, payload, None),
            Command::Request {
                nsp,
                numsub,
                channel,
                payload,
                request_id,
            } => (channel, payload, Some((nsp, numsub, request_id))),
        };
        if let Some((nsp, numsub_channel, request_id)) = request {
            let numsub = match con.as_mut() {
                None => Err("Redis is unreachable".to_owned()),
                Some(c) => ::redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(&numsub_channel)
                    .query::<Vec<(String, usize)>>(c)
                    .map(|r| super::requests::servers_from_numsub(&r, &numsub_channel))
                    .map_err(|e| e.to_string()),
            };
            if numsub.is_err() {
                con = None;
            }
            let failed = numsub.is_err();
            shared.deliver(&nsp, Incoming::Servers { request_id, numsub });
            if failed {
                continue;
            }
        }
        let sent = match con.as_mut() {
            None => false,
            Some(c) => ::redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&payload)
                .query::<i64>(c)
                .map_err(|e| tracing::warn!(error = %e, channel, "PUBLISH failed"))
                .is_ok(),
        };
        if !sent {
            con = None;
            shared.count_drop();
        }
    }
}
// ANCHOR_END: publisher
