//! The sharded variant: Socket.IO servers sharing rooms through a Redis 7
//! **Cluster** with sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`), wire
//! compatible with Node's `createShardedAdapter` from
//! `@socket.io/redis-adapter` 8.3 in its default `dynamic` subscription
//! mode.
//!
//! With classic `PUBLISH`, every message goes to every node of a Redis
//! Cluster. A sharded channel lives on the one node that owns its hash slot
//! (CRC16 of the name, mod 16384), so the pub/sub load spreads over the
//! nodes. Node's sharded adapter uses one channel per namespace
//! (`socket.io#/#`), one per public room (`socket.io#/#room#`, subscribed
//! while a server has the room) and one per server for responses; the
//! messages are `socket.io-adapter`'s cluster messages ([`super::cluster`]).
//!
//! The I/O, on redis-rs plain connections (its synchronous cluster client
//! has no sharded subscriptions):
//! - a **supervisor** thread reads the slot map (`CLUSTER SLOTS`) from the
//!   node in the URL, then starts one **subscriber** thread per master;
//!   each subscribes there to the wanted channels whose slot that master
//!   owns, follows the adapters' changes, reconnects with a backoff, and
//!   puts each message in its namespace's mailbox, then wakes the loop;
//! - a **publisher** thread `SPUBLISH`es each message on the master that
//!   owns its channel, and reads the slot map again after a `MOVED`.
//!
//! The servers' requests (`fetchSockets`, `serverSideEmit` with acks,
//! broadcasts with acks) go on the namespace's channel too, and the
//! answers on the requester's own channel, `socket.io#/#<uid>#`. How many
//! servers should answer is the namespace channel's subscriber count,
//! `PUBSUB SHARDNUMSUB socket.io#/#` (asked of the master that owns it,
//! just before the request goes out), minus the requester: Node's sharded
//! adapter (`socket.io-adapter`'s plain `ClusterAdapter`) counts its peers
//! this way, not by heartbeats, so a netladder server is counted as soon
//! as it is subscribed, and answers. A request gives up after the requests
//! timeout (5 s) and reports who answered.
//!
//! `allRooms` has no message in this protocol (Node's sharded adapter has
//! no `allRooms`): [`Server::all_rooms`](crate::socketio::Server::all_rooms)
//! answers with this server's rooms and a report that says so. A slot map
//! that changes while running (resharding, failover) is only noticed by
//! the publisher.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::adapter::{socket_info, socket_value};
use super::channels::{ShardedChannels, looks_like_a_socket_id};
use super::cluster::{
    BroadcastData, ClusterMessage, FetchSocketsData, Head, MayHoldBinary, MessageType, OpData,
    ResponseData, ServerSideEmitData, SubscriptionMode,
};
use super::hub::{RedisOptions, Wake, factory, no_uid};
use super::requests::{RequestKind, RequestTracker};
use super::wire::{WireOpts, WirePacket};
use crate::socketio::Value;
use crate::socketio::adapter::{
    Adapter, BroadcastOptions, InMemoryAdapter, ServerSideOp, SocketId,
};
use crate::socketio::cluster::{
    Answers, ClusterRequest, Remote, Reply, ReplyTo, Report, RequestId,
};
use crate::socketio::packet::{Encoded, Limits};

// ANCHOR: slot
/// The hash slot of a key or sharded channel, as Redis Cluster computes it:
/// CRC16 (XMODEM) of the name, or of its `{hash tag}` when it has a
/// non-empty one, mod 16384.
pub fn key_slot(key: &[u8]) -> u16 {
    let key = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(key) % 16384
}

fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}
// ANCHOR_END: slot

/// Which master owns which slots: `(first, last, "host:port")`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotMap {
    ranges: Vec<(u16, u16, String)>,
}

impl SlotMap {
    /// Read a `CLUSTER SLOTS` reply; `default_host` stands for a node
    /// whose address Redis leaves empty.
    pub fn from_reply(reply: &::redis::Value, default_host: &str) -> Option<SlotMap> {
        use ::redis::Value as V;
        let V::Array(items) = reply else { return None };
        let mut ranges = Vec::new();
        for item in items {
            let V::Array(parts) = item else { return None };
            let (Some(V::Int(first)), Some(V::Int(last)), Some(V::Array(master))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                return None;
            };
            let host = match master.first() {
                Some(V::BulkString(h)) if !h.is_empty() => String::from_utf8(h.clone()).ok()?,
                _ => default_host.to_owned(),
            };
            let Some(V::Int(port)) = master.get(1) else {
                return None;
            };
            ranges.push((
                u16::try_from(*first).ok()?,
                u16::try_from(*last).ok()?,
                format!("{host}:{port}"),
            ));
        }
        (!ranges.is_empty()).then_some(SlotMap { ranges })
    }

    /// The master that owns `channel`.
    pub fn owner(&self, channel: &str) -> Option<&str> {
        let slot = key_slot(channel.as_bytes());
        self.ranges
            .iter()
            .find(|(a, b, _)| (*a..=*b).contains(&slot))
            .map(|(_, _, addr)| addr.as_str())
    }

    /// Every master, once.
    pub fn masters(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self.ranges.iter().map(|(_, _, a)| a.as_str()).collect();
        set.into_iter().map(str::to_owned).collect()
    }
}

// ANCHOR: commands
/// What the publisher thread is asked to do.
enum Command {
    /// `SPUBLISH channel payload`.
    Publish { channel: String, payload: Vec<u8> },
    /// A request: `PUBSUB SHARDNUMSUB count` first, the answer to the
    /// adapter of `nsp` (so it is in the mailbox before any response),
    /// then `SPUBLISH channel payload`.
    Request {
        nsp: String,
        request_id: String,
        count: String,
        channel: String,
        payload: Vec<u8>,
    },
}

/// What arrives in an adapter's mailbox.
enum Incoming {
    /// A message on one of the namespace's channels.
    Message(Vec<u8>),
    /// How many servers listen on the namespace's channel, this one
    /// included, for a request of ours (an error when Redis could not be
    /// asked: the request then was not sent).
    Servers {
        request_id: String,
        count: Result<usize, String>,
    },
}
// ANCHOR_END: commands

struct Route {
    token: u64,
    mailbox: SyncSender<Incoming>,
    channels: BTreeSet<String>,
}

struct Shared {
    opts: RedisOptions,
    uid: String,
    shutdown: AtomicBool,
    routes: Mutex<BTreeMap<String, Route>>,
    generation: AtomicU64,
    next_token: AtomicU64,
    /// Per master: the generation it is subscribed for (empty until the
    /// slot map is known).
    subscribed: Mutex<Vec<Arc<AtomicU64>>>,
    dropped: AtomicU64,
    wake: Wake,
}

impl Shared {
    fn new(opts: RedisOptions, uid: String, wake: Wake) -> Shared {
        Shared {
            opts,
            uid,
            shutdown: AtomicBool::new(false),
            routes: Mutex::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            next_token: AtomicU64::new(0),
            subscribed: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
            wake,
        }
    }

    fn register(&self, nsp: &str, channels: BTreeSet<String>) -> (u64, Receiver<Incoming>) {
        let (tx, rx) = mpsc::sync_channel(self.opts.mailbox);
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let route = Route {
            token,
            mailbox: tx,
            channels,
        };
        self.routes
            .lock()
            .expect("no panics while locked")
            .insert(nsp.to_owned(), route);
        self.generation.fetch_add(1, Ordering::SeqCst);
        (token, rx)
    }

    fn set_channels(&self, nsp: &str, token: u64, channels: BTreeSet<String>) {
        let mut routes = self.routes.lock().expect("no panics while locked");
        if let Some(r) = routes.get_mut(nsp).filter(|r| r.token == token) {
            r.channels = channels;
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn unregister(&self, nsp: &str, token: u64) {
        let mut routes = self.routes.lock().expect("no panics while locked");
        if routes.get(nsp).is_some_and(|r| r.token == token) {
            routes.remove(nsp);
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Channel -> namespace, for the channels `owned` says yes to.
    fn wanted(&self, owned: impl Fn(&str) -> bool) -> HashMap<String, String> {
        let routes = self.routes.lock().expect("no panics while locked");
        routes
            .iter()
            .flat_map(|(nsp, r)| r.channels.iter().map(move |c| (c, nsp)))
            .filter(|(c, _)| owned(c))
            .map(|(c, nsp)| (c.clone(), nsp.clone()))
            .collect()
    }

    fn deliver(&self, nsp: &str, incoming: Incoming) {
        let routes = self.routes.lock().expect("no panics while locked");
        let Some(route) = routes.get(nsp) else { return };
        if route.mailbox.try_send(incoming).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        drop(routes);
        (self.wake)();
    }

    fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    fn nap(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stopping() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        !self.stopping()
    }
}

// ANCHOR: hub
/// One server's link to a Redis Cluster in sharded mode, and the factory
/// of its [`ShardedAdapter`]s. Dropping it stops the threads.
pub struct ShardedHub {
    shared: Arc<Shared>,
    commands: SyncSender<Command>,
    threads: Vec<JoinHandle<()>>,
}

impl ShardedHub {
    /// Start the threads; `opts.url` is any node of the cluster. Fails only
    /// on a malformed URL.
    pub fn start(opts: RedisOptions, wake: Wake) -> Result<ShardedHub, ::redis::RedisError> {
        ::redis::Client::open(opts.url.as_str())?;
        let uid = random_id().map_err(no_uid)?;
        let (commands, queue) = mpsc::sync_channel(opts.queue);
        let shared = Arc::new(Shared::new(opts, uid, wake));
        let s = Arc::clone(&shared);
        let sup = std::thread::Builder::new()
            .name("redis-ssub".into())
            .spawn(move || supervisor(&s))?;
        let s = Arc::clone(&shared);
        let publ = std::thread::Builder::new()
            .name("redis-spub".into())
            .spawn(move || publisher(&s, queue))?;
        Ok(ShardedHub {
            shared,
            commands,
            threads: vec![sup, publ],
        })
    }

    /// The adapters' factory, for `Server::set_adapter`.
    pub fn factory(&self) -> impl Fn(&str) -> Box<dyn Adapter> + Send + Sync + 'static {
        factory(&self.shared, &self.commands, ShardedAdapter::new)
    }

    /// This server's uid on the wire (16 hex digits, as Node's
    /// `ClusterAdapter` makes them).
    pub fn uid(&self) -> &str {
        &self.shared.uid
    }

    /// Whether every master's subscriber is subscribed to what the
    /// adapters want now, each subscription confirmed by Redis.
    pub fn is_ready(&self) -> bool {
        let g = self.shared.generation.load(Ordering::SeqCst);
        let subs = self
            .shared
            .subscribed
            .lock()
            .expect("no panics while locked");
        !subs.is_empty() && subs.iter().all(|s| s.load(Ordering::SeqCst) == g)
    }

    /// Messages dropped: mailboxes full, queue full, or Redis unreachable.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}
// ANCHOR_END: hub

/// A fresh id the way `socket.io-adapter`'s `ClusterAdapter` makes its
/// uids and request ids: 8 random bytes in hex.
fn random_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Drop for ShardedHub {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn default_host(url: &str) -> String {
    ::redis::Client::open(url)
        .ok()
        .and_then(|c| match &c.get_connection_info().addr {
            ::redis::ConnectionAddr::Tcp(h, _) => Some(h.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "127.0.0.1".to_owned())
}

fn connect(url: &str, timeout: Duration) -> ::redis::RedisResult<::redis::Connection> {
    let client = ::redis::Client::open(url)?;
    let con = client.get_connection_with_timeout(timeout)?;
    con.set_write_timeout(Some(timeout))?;
    con.set_read_timeout(Some(timeout))?;
    Ok(con)
}

fn node_url(addr: &str) -> String {
    format!("redis://{addr}/")
}

fn slot_map(opts: &RedisOptions, url: &str) -> ::redis::RedisResult<SlotMap> {
    let mut con = connect(url, opts.io_timeout)?;
    let reply: ::redis::Value = ::redis::cmd("CLUSTER").arg("SLOTS").query(&mut con)?;
    SlotMap::from_reply(&reply, &default_host(&opts.url)).ok_or_else(|| {
        ::redis::RedisError::from((
            ::redis::ErrorKind::ResponseError,
            "not a usable CLUSTER SLOTS reply (is this a Redis Cluster?)",
        ))
    })
}

fn supervisor(shared: &Arc<Shared>) {
    let mut backoff = Duration::from_millis(50);
    let map = loop {
        match slot_map(&shared.opts, &shared.opts.url) {
            Ok(map) => break map,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "no Redis Cluster slot map yet");
                if !shared.nap(backoff) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    };
    let mut threads = Vec::new();
    for master in map.masters() {
        let seen = Arc::new(AtomicU64::new(u64::MAX));
        shared
            .subscribed
            .lock()
            .expect("no panics while locked")
            .push(Arc::clone(&seen));
        let s = Arc::clone(shared);
        let m = map.clone();
        let spawned = std::thread::Builder::new()
            .name("redis-ssub-node".into())
            .spawn(move || node_subscriber(&s, &m, &master, &seen));
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => tracing::error!(error = %e, "cannot start a subscriber thread"),
        }
    }
    for t in threads {
        let _ = t.join();
    }
}

// ANCHOR: subscriber
fn node_subscriber(shared: &Shared, map: &SlotMap, master: &str, seen: &AtomicU64) {
    let mut backoff = Duration::from_millis(50);
    while !shared.stopping() {
        match listen(shared, map, master, seen, &mut backoff) {
            Ok(()) => return,
            Err(e) => {
                seen.store(u64::MAX, Ordering::SeqCst);
                tracing::warn!(error = %e, master, retry_in = ?backoff, "sharded subscriber lost; reconnecting");
                if !shared.nap(backoff) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

fn listen(
    shared: &Shared,
    map: &SlotMap,
    master: &str,
    seen: &AtomicU64,
    backoff: &mut Duration,
) -> ::redis::RedisResult<()> {
    // RESP3: messages come as pushes, which redis-rs hands to the push
    // channel on every read. (Its `recv_response` skips one reply after
    // each read timeout, so the replies themselves are not for us to use.)
    let url = format!("{}?protocol=resp3", node_url(master));
    let mut con = connect(&url, shared.opts.io_timeout)?;
    let (push_tx, pushes) = mpsc::channel();
    con.set_push_sender(push_tx);
    con.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut current: HashMap<String, String> = HashMap::new();
    let mut subscribed_for = u64::MAX;
    // Confirmations still to come for `subscribed_for`: only when they are
    // all in is the master counted as subscribed (`ShardedHub::is_ready`).
    let mut unconfirmed = 0usize;
    loop {
        if shared.stopping() {
            return Ok(());
        }
        let generation = shared.generation.load(Ordering::SeqCst);
        if generation != subscribed_for {
            let wanted = shared.wanted(|c| map.owner(c) == Some(master));
            let add: Vec<&String> = wanted
                .keys()
                .filter(|c| !current.contains_key(*c))
                .collect();
            let remove: Vec<&String> = current
                .keys()
                .filter(|c| !wanted.contains_key(*c))
                .collect();
            // One command per channel: a sharded subscription names
            // channels of one slot only (CROSSSLOT otherwise). The
            // confirmations come back as pushes, counted below.
            for (verb, list) in [("SSUBSCRIBE", add), ("SUNSUBSCRIBE", remove)] {
                for c in list {
                    let packed = ::redis::cmd(verb).arg(c.as_str()).get_packed_command();
                    con.send_packed_command(&packed)?;
                    unconfirmed += 1;
                }
            }
            current = wanted;
            subscribed_for = generation;
            *backoff = Duration::from_millis(50);
        }
        match con.recv_response() {
            Ok(_) => {}
            Err(e) if e.is_timeout() || interrupted(&e) => {}
            // An error reply (a refused subscription): say so, go on.
            Err(e) if !e.is_io_error() => {
                unconfirmed = unconfirmed.saturating_sub(1);
                tracing::warn!(error = %e, master, "Redis refused a sharded subscription");
            }
            Err(e) => return Err(e),
        }
        while let Ok(push) = pushes.try_recv() {
            if matches!(
                push.kind,
                ::redis::PushKind::SSubscribe | ::redis::PushKind::SUnsubscribe
            ) {
                unconfirmed = unconfirmed.saturating_sub(1);
            } else if let Some((channel, payload)) = smessage(push)
                && let Some(nsp) = current.get(&channel)
            {
                shared.deliver(nsp, Incoming::Message(payload));
            }
        }
        if unconfirmed == 0 {
            seen.store(subscribed_for, Ordering::SeqCst);
        }
    }
}

/// A read cut by a signal (the process was stopped and continued).
fn interrupted(e: &::redis::RedisError) -> bool {
    std::error::Error::source(e)
        .and_then(|c| c.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::Interrupted)
}

/// An `smessage` push: `(channel, payload)`; `None` for the others (the
/// subscription confirmations).
fn smessage(push: ::redis::PushInfo) -> Option<(String, Vec<u8>)> {
    use ::redis::Value as V;
    if push.kind != ::redis::PushKind::SMessage {
        return None;
    }
    let mut it = push.data.into_iter();
    match (it.next(), it.next()) {
        (Some(V::BulkString(channel)), Some(V::BulkString(payload))) => {
            Some((String::from_utf8(channel).ok()?, payload))
        }
        _ => None,
    }
}
// ANCHOR_END: subscriber

// ANCHOR: publisher
fn publisher(shared: &Shared, queue: Receiver<Command>) {
    let mut links = Links::default();
    loop {
        let command = match queue.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) if !shared.stopping() => continue,
            Err(_) => return,
        };
        let (channel, payload) = match command {
            Command::Publish { channel, payload } => (channel, payload),
            Command::Request {
                nsp,
                request_id,
                count,
                channel,
                payload,
            } => {
                // The namespace channel's subscribers live on its master.
                let servers = links.on_owner(shared, &count, |con| {
                    ::redis::cmd("PUBSUB")
                        .arg("SHARDNUMSUB")
                        .arg(&count)
                        .query::<Vec<(String, usize)>>(con)
                        .map(|r| super::requests::servers_from_numsub(&r, &count))
                });
                let failed = servers.is_err();
                shared.deliver(
                    &nsp,
                    Incoming::Servers {
                        request_id,
                        count: servers,
                    },
                );
                if failed {
                    continue;
                }
                (channel, payload)
            }
        };
        let sent = links.on_owner(shared, &channel, |con| {
            ::redis::cmd("SPUBLISH")
                .arg(&channel)
                .arg(&payload)
                .query::<i64>(con)
        });
        if let Err(e) = sent {
            tracing::warn!(error = %e, channel, "SPUBLISH failed: message dropped");
            shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The publisher's connections, one per master, and the slot map.
#[derive(Default)]
struct Links {
    map: Option<SlotMap>,
    cons: HashMap<String, ::redis::Connection>,
}

impl Links {
    /// Run `command` on the master that owns `channel`. After an error (a
    /// `MOVED`, a lost node) the connection and the slot map are dropped,
    /// to be asked for again next time.
    fn on_owner<T>(
        &mut self,
        shared: &Shared,
        channel: &str,
        command: impl FnOnce(&mut ::redis::Connection) -> ::redis::RedisResult<T>,
    ) -> Result<T, String> {
        if self.map.is_none() {
            self.map = Some(slot_map(&shared.opts, &shared.opts.url).map_err(|e| e.to_string())?);
        }
        let Some(owner) = self.map.as_ref().and_then(|m| m.owner(channel)) else {
            self.map = None;
            return Err(format!("no master owns the slot of {channel}"));
        };
        let owner = owner.to_owned();
        let con = match self.cons.entry(owner.clone()) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => match connect(&node_url(&owner), shared.opts.io_timeout) {
                Ok(c) => v.insert(c),
                Err(e) => {
                    self.map = None;
                    return Err(format!("cannot reach {owner}: {e}"));
                }
            },
        };
        command(con).map_err(|e| {
            self.cons.remove(&owner);
            self.map = None;
            e.to_string()
        })
    }
}
// ANCHOR_END: publisher

/// What kind of answers a request of ours waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// FETCH_SOCKETS_RESPONSE, one per server.
    Fetch,
    /// SERVER_SIDE_EMIT_RESPONSE, one per server.
    ServerSideAck,
    /// BROADCAST_CLIENT_COUNT once per server, then BROADCAST_ACK per
    /// client, until the broadcast's own timeout.
    BroadcastAck,
}

impl RequestKind for Kind {
    /// `(responder uid, answer)`: every cluster message names its sender.
    type Answer = (String, ResponseData);

    fn is_broadcast_ack(self) -> bool {
        self == Kind::BroadcastAck
    }

    fn responder((uid, _): &(String, ResponseData)) -> Option<String> {
        Some(uid.clone())
    }

    fn answers(self, nsp: &str, answers: Vec<(String, ResponseData)>) -> Answers {
        match self {
            Kind::Fetch => Answers::Sockets(
                answers
                    .iter()
                    .flat_map(|(_, r)| r.sockets.iter().flatten())
                    .filter_map(|v| socket_info(nsp, v))
                    .collect(),
            ),
            Kind::ServerSideAck | Kind::BroadcastAck => Answers::Acks(
                answers
                    .into_iter()
                    .map(|(_, r)| r.packet.unwrap_or(Value::Null))
                    .collect(),
            ),
        }
    }
}

// ANCHOR: adapter
/// A namespace's adapter on sharded pub/sub: rooms in memory; broadcasts,
/// server-side operations and requests shared in Node's cluster format.
pub struct ShardedAdapter {
    local: InMemoryAdapter,
    nsp: String,
    channels: ShardedChannels,
    shared: Arc<Shared>,
    token: u64,
    commands: SyncSender<Command>,
    mailbox: Receiver<Incoming>,
    timeout: Duration,
    requests: RequestTracker<Kind>,
    out: VecDeque<Remote>,
}
// ANCHOR_END: adapter

impl ShardedAdapter {
    fn new(nsp: &str, shared: Arc<Shared>, commands: SyncSender<Command>) -> Self {
        let channels = ShardedChannels::new(&shared.opts.prefix, nsp);
        let base = [channels.main(), channels.response(&shared.uid)].into();
        let (token, mailbox) = shared.register(nsp, base);
        ShardedAdapter {
            local: InMemoryAdapter::default(),
            nsp: nsp.to_owned(),
            channels,
            timeout: shared.opts.requests_timeout,
            shared,
            token,
            commands,
            mailbox,
            requests: RequestTracker::new(nsp),
            out: VecDeque::new(),
        }
    }

    /// The channels to be subscribed to now: the namespace's, ours, and
    /// (`dynamic` mode) each public room's while we have it.
    fn wanted(&self) -> BTreeSet<String> {
        let mut set: BTreeSet<String> = [
            self.channels.main(),
            self.channels.response(&self.shared.uid),
        ]
        .into();
        for room in self.local.rooms() {
            if !looks_like_a_socket_id(&room) {
                set.insert(self.channels.room(&room));
            }
        }
        set
    }

    fn resubscribe(&self) {
        self.shared
            .set_channels(&self.nsp, self.token, self.wanted());
    }

    /// A message of ours, `{type, data, uid, nsp}`, in its bytes.
    fn message<D: Serialize + DeserializeOwned + MayHoldBinary>(
        &self,
        kind: MessageType,
        data: D,
    ) -> Vec<u8> {
        ClusterMessage {
            kind: kind as u8,
            data: Some(data),
            uid: self.shared.uid.clone(),
            nsp: self.nsp.clone(),
        }
        .encode()
    }

    fn publish(&self, channel: String, payload: Vec<u8>) {
        if self
            .commands
            .try_send(Command::Publish { channel, payload })
            .is_err()
        {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(nsp = self.nsp, "Redis publish queue full: message dropped");
        }
    }

    fn request_id(&self) -> String {
        // Only our own channel carries the answers: an id unique among
        // this adapter's requests would do, a random one is Node's way.
        random_id().unwrap_or_else(|_| {
            format!(
                "{:016x}",
                self.shared.next_token.fetch_add(1, Ordering::Relaxed)
            )
        })
    }

    // ANCHOR: send_request
    /// Publish a request on the namespace's channel; the publisher counts
    /// the servers there first (SHARDNUMSUB), and the answers come to our
    /// own channel until `deadline`.
    fn send_request(
        &mut self,
        id: RequestId,
        kind: Kind,
        request_id: String,
        payload: Vec<u8>,
        deadline: Instant,
    ) {
        let command = Command::Request {
            nsp: self.nsp.clone(),
            request_id: request_id.clone(),
            count: self.channels.main(),
            channel: self.channels.main(),
            payload,
        };
        let queued = self.commands.try_send(command).is_ok();
        self.requests.start(request_id.clone(), id, kind, deadline);
        if !queued {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            let error = "the Redis queue is full".to_owned();
            self.requests.fail(&request_id, error, &mut self.out);
        }
    }
    // ANCHOR_END: send_request

    fn on_incoming(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Message(payload) => self.on_message(&payload),
            Incoming::Servers { request_id, count } => {
                // SHARDNUMSUB counts this server too: the tracker subtracts it.
                self.requests.on_servers(&request_id, count, &mut self.out);
            }
        }
    }

    // ANCHOR: on_message
    fn on_message(&mut self, payload: &[u8]) {
        let head = match Head::decode(payload) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(nsp = self.nsp, error = %e, "malformed cluster message; ignored");
                return;
            }
        };
        let Some(kind) = MessageType::from_number(head.kind) else {
            tracing::debug!(kind = head.kind, "unknown cluster message type; ignored");
            return;
        };
        if kind.is_response() {
            // On our own channel: an answer to one of our requests.
            self.on_response(kind, head.uid, payload);
            return;
        }
        if head.uid == self.shared.uid || head.nsp != self.nsp {
            return;
        }
        let result = match kind {
            MessageType::Broadcast => self.on_broadcast(head.uid, payload),
            MessageType::SocketsJoin
            | MessageType::SocketsLeave
            | MessageType::DisconnectSockets => self.on_operation(kind, payload),
            MessageType::FetchSockets => decode::<FetchSocketsData>(payload).map(|d| {
                self.out.push_back(Remote::Fetch {
                    to: reply_to(d.request_id, head.uid),
                    opts: d.opts.to_options(),
                });
            }),
            MessageType::ServerSideEmit => decode::<ServerSideEmitData>(payload).map(|d| {
                let mut packet = d.packet.into_iter();
                let Some(Value::String(name)) = packet.next() else {
                    tracing::debug!("a server-side emit without an event name; ignored");
                    return;
                };
                self.out.push_back(Remote::ServerSideEmit {
                    name,
                    args: packet.collect(),
                    ack: d.request_id.map(|r| reply_to(r, head.uid)),
                });
            }),
            // The heartbeats of socket.io-adapter's ClusterAdapterWithHeartbeat
            // (Node's sharded adapter neither sends them nor needs them: it
            // counts servers with SHARDNUMSUB, as we do).
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(nsp = self.nsp, ?kind, error = %e, "malformed cluster message; ignored");
        }
    }
    // ANCHOR_END: on_message

    fn on_broadcast(&mut self, from: String, payload: &[u8]) -> Result<(), String> {
        let mut data = decode::<BroadcastData>(payload)?;
        // Node's sharded adapter leaves the packet's nsp out (its
        // namespace is the message's): the "/" it would default to is
        // wrong for any other namespace.
        data.packet.nsp = self.nsp.clone();
        let packet = data.packet.to_packet().map_err(|e| e.to_string())?;
        let opts = data.opts.to_options();
        match data.request_id {
            None => self.out.push_back(Remote::Broadcast { packet, opts }),
            Some(request_id) => {
                let timeout = data
                    .opts
                    .flags
                    .timeout
                    .map_or(self.timeout, Duration::from_millis);
                self.out.push_back(Remote::BroadcastWithAck {
                    to: reply_to(request_id, from),
                    packet,
                    opts,
                    timeout,
                });
            }
        }
        Ok(())
    }

    fn on_operation(&mut self, kind: MessageType, payload: &[u8]) -> Result<(), String> {
        let data = decode::<OpData>(payload)?;
        let rooms = data.rooms.unwrap_or_default();
        let op = match kind {
            MessageType::SocketsJoin => ServerSideOp::Join(rooms),
            MessageType::SocketsLeave => ServerSideOp::Leave(rooms),
            _ => ServerSideOp::Disconnect {
                close: data.close.unwrap_or(false),
            },
        };
        self.out.push_back(Remote::Op {
            op,
            opts: data.opts.to_options(),
        });
        Ok(())
    }

    // ANCHOR: on_response
    fn on_response(&mut self, kind: MessageType, from: String, payload: &[u8]) {
        let data = match decode::<ResponseData>(payload) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(nsp = self.nsp, error = %e, "malformed response; ignored");
                return;
            }
        };
        let request_id = data.request_id.clone();
        let Some((id, asked)) = self.requests.get(&request_id) else {
            return; // too late, or not ours
        };
        match (asked, kind) {
            (Kind::BroadcastAck, MessageType::BroadcastClientCount) => {
                self.out.push_back(Remote::ClientCount {
                    id,
                    clients: data.client_count.unwrap_or(0),
                });
            }
            (Kind::BroadcastAck, MessageType::BroadcastAck) => {
                self.out.push_back(Remote::Ack {
                    id,
                    value: data.packet.unwrap_or(Value::Null),
                });
            }
            (Kind::Fetch, MessageType::FetchSocketsResponse)
            | (Kind::ServerSideAck, MessageType::ServerSideEmitResponse) => {
                self.requests
                    .answer(&request_id, (from, data), &mut self.out);
            }
            _ => tracing::debug!(?kind, "a response of another type than asked; ignored"),
        }
    }
    // ANCHOR_END: on_response
}

/// Where an answer to server `uid`'s request goes.
fn reply_to(request_id: String, uid: String) -> ReplyTo {
    ReplyTo {
        request_id,
        uid: Some(uid),
    }
}

/// The data of a message whose type is known.
fn decode<D: Serialize + DeserializeOwned + MayHoldBinary>(payload: &[u8]) -> Result<D, String> {
    ClusterMessage::<D>::decode(payload)
        .map_err(|e| e.to_string())?
        .data
        .ok_or_else(|| "no data".to_owned())
}

impl Drop for ShardedAdapter {
    fn drop(&mut self) {
        self.shared.unregister(&self.nsp, self.token);
    }
}

impl Adapter for ShardedAdapter {
    fn add(&mut self, socket: &SocketId, room: &str) {
        let new = !self.local.has_room(room);
        self.local.add(socket, room);
        if new && !looks_like_a_socket_id(room) {
            self.resubscribe();
        }
    }
    fn del(&mut self, socket: &SocketId, room: &str) {
        self.local.del(socket, room);
        if !self.local.has_room(room) && !looks_like_a_socket_id(room) {
            self.resubscribe();
        }
    }
    fn del_all(&mut self, socket: &SocketId) {
        let rooms = self.local.socket_rooms(socket);
        self.local.del_all(socket);
        if rooms
            .iter()
            .any(|r| !looks_like_a_socket_id(r) && !self.local.has_room(r))
        {
            self.resubscribe();
        }
    }
    fn socket_rooms(&self, socket: &SocketId) -> Vec<String> {
        self.local.socket_rooms(socket)
    }
    fn contains(&self, socket: &SocketId, room: &str) -> bool {
        self.local.contains(socket, room)
    }
    fn room_count(&self, socket: &SocketId) -> usize {
        self.local.room_count(socket)
    }
    fn rooms(&self) -> Vec<String> {
        self.local.rooms()
    }
    fn select(&self, opts: &BroadcastOptions) -> Vec<SocketId> {
        self.local.select(opts)
    }

    // ANCHOR: broadcast
    fn broadcast(&mut self, packet: &Arc<Encoded>, opts: &BroadcastOptions) -> Vec<SocketId> {
        match WirePacket::from_encoded(packet, Limits::default()) {
            Ok(wire) => {
                let data = BroadcastData {
                    packet: wire,
                    request_id: None,
                    opts: WireOpts::from_options(opts),
                };
                let channel = self
                    .channels
                    .for_broadcast(&data, SubscriptionMode::Dynamic);
                self.publish(channel, self.message(MessageType::Broadcast, data));
            }
            Err(e) => tracing::warn!(error = %e, "a broadcast that cannot be read back"),
        }
        self.local.select(opts)
    }
    // ANCHOR_END: broadcast

    fn server_side(&mut self, op: &ServerSideOp, opts: &BroadcastOptions) {
        let opts = WireOpts::from_options(opts);
        let (kind, data) = match op {
            ServerSideOp::Join(rooms) => (
                MessageType::SocketsJoin,
                OpData {
                    opts,
                    rooms: Some(rooms.clone()),
                    close: None,
                },
            ),
            ServerSideOp::Leave(rooms) => (
                MessageType::SocketsLeave,
                OpData {
                    opts,
                    rooms: Some(rooms.clone()),
                    close: None,
                },
            ),
            ServerSideOp::Disconnect { close } => (
                MessageType::DisconnectSockets,
                OpData {
                    opts,
                    rooms: None,
                    close: Some(*close),
                },
            ),
        };
        self.publish(self.channels.main(), self.message(kind, data));
    }

    // ANCHOR: cluster_request
    fn cluster_request(&mut self, id: RequestId, request: ClusterRequest, now: Instant) -> bool {
        let rid = self.request_id();
        match request {
            ClusterRequest::FetchSockets(opts) => {
                let data = FetchSocketsData {
                    opts: WireOpts::from_options(&opts),
                    request_id: rid.clone(),
                };
                let payload = self.message(MessageType::FetchSockets, data);
                self.send_request(id, Kind::Fetch, rid, payload, now + self.timeout);
            }
            ClusterRequest::ServerSideEmit(packet) => {
                let data = ServerSideEmitData {
                    request_id: None,
                    packet,
                };
                let payload = self.message(MessageType::ServerSideEmit, data);
                self.publish(self.channels.main(), payload);
            }
            ClusterRequest::ServerSideEmitWithAck(packet) => {
                let data = ServerSideEmitData {
                    request_id: Some(rid.clone()),
                    packet,
                };
                let payload = self.message(MessageType::ServerSideEmit, data);
                self.send_request(id, Kind::ServerSideAck, rid, payload, now + self.timeout);
            }
            ClusterRequest::BroadcastWithAck {
                packet,
                opts,
                timeout,
            } => {
                let Ok(mut wire) = WirePacket::from_encoded(&packet, Limits::default()) else {
                    return false;
                };
                wire.id = None;
                let mut wire_opts = WireOpts::from_options(&opts);
                wire_opts.flags.timeout = Some(timeout.as_millis() as u64);
                let data = BroadcastData {
                    packet: wire,
                    request_id: Some(rid.clone()),
                    opts: wire_opts,
                };
                let payload = self.message(MessageType::Broadcast, data);
                self.send_request(id, Kind::BroadcastAck, rid, payload, now + timeout);
            }
            ClusterRequest::AllRooms => {
                // No such message between ClusterAdapters: our rooms only
                // (the server adds them), and a report that says why.
                self.out.push_back(Remote::Done {
                    id,
                    answers: Answers::Rooms(Vec::new()),
                    report: Report {
                        error: Some(
                            "the sharded adapter's protocol has no all-rooms request: \
                             this server's rooms only"
                                .into(),
                        ),
                        ..Report::default()
                    },
                });
            }
        }
        true
    }
    // ANCHOR_END: cluster_request

    // ANCHOR: reply
    fn reply(&mut self, reply: Reply) {
        let (to, kind, data) = match reply {
            Reply::Sockets { to, sockets } => {
                let data = ResponseData {
                    request_id: to.request_id.clone(),
                    sockets: Some(sockets.into_iter().map(socket_value).collect()),
                    ..ResponseData::default()
                };
                (to, MessageType::FetchSocketsResponse, data)
            }
            Reply::ServerSideAck { to, value } => {
                let data = ResponseData {
                    request_id: to.request_id.clone(),
                    packet: Some(value),
                    ..ResponseData::default()
                };
                (to, MessageType::ServerSideEmitResponse, data)
            }
            Reply::ClientCount { to, clients } => {
                let data = ResponseData {
                    request_id: to.request_id.clone(),
                    client_count: Some(clients),
                    ..ResponseData::default()
                };
                (to, MessageType::BroadcastClientCount, data)
            }
            Reply::Ack { to, value } => {
                let data = ResponseData {
                    request_id: to.request_id.clone(),
                    packet: Some(value),
                    ..ResponseData::default()
                };
                (to, MessageType::BroadcastAck, data)
            }
        };
        let Some(uid) = to.uid else {
            tracing::debug!("an answer for a requester without a uid; dropped");
            return;
        };
        // To the requester's own channel.
        self.publish(self.channels.response(&uid), self.message(kind, data));
    }
    // ANCHOR_END: reply

    fn poll_remote(&mut self, _now: Instant) -> Option<Remote> {
        while self.out.is_empty() {
            match self.mailbox.try_recv() {
                Ok(incoming) => self.on_incoming(incoming),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.requests.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.requests.handle_timeout(now, &mut self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // CRC16/XMODEM check value, and slots from the Redis Cluster spec
        // and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
    }

    #[test]
    fn a_slot_map_names_the_owner() {
        use ::redis::Value as V;
        let node = |h: &str, p| V::Array(vec![V::BulkString(h.into()), V::Int(p)]);
        let reply = V::Array(vec![
            V::Array(vec![V::Int(0), V::Int(8191), node("127.0.0.1", 7000)]),
            V::Array(vec![V::Int(8192), V::Int(16383), node("", 7001)]),
        ]);
        let map = SlotMap::from_reply(&reply, "localhost").unwrap();
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(map.owner("bar"), Some("127.0.0.1:7000"));
        assert_eq!(map.owner("foo"), Some("localhost:7001"));
        assert_eq!(map.masters(), vec!["127.0.0.1:7000", "localhost:7001"]);
        assert!(SlotMap::from_reply(&V::Array(vec![]), "h").is_none());
        assert!(SlotMap::from_reply(&V::Int(1), "h").is_none());
    }

    #[test]
    fn server_side_operations_read_as_node_writes_them() {
        let json = br#"{"type":4,"data":{"opts":{"rooms":["a"],"except":[]},"rooms":["b"]},"uid":"xyz","nsp":"/"}"#;
        let data: OpData = decode(json).unwrap();
        assert_eq!(data.rooms, Some(vec!["b".to_owned()]));
        assert_eq!(data.opts.rooms, vec!["a".to_owned()]);
        let head = Head::decode(json).unwrap();
        assert_eq!(
            (head.kind, head.uid.as_str(), head.nsp.as_str()),
            (4, "xyz", "/")
        );
        assert!(Head::decode(b"{").is_err());
        assert!(decode::<OpData>(br#"{"type":4,"uid":"xyz","nsp":"/"}"#).is_err());
    }

    #[test]
    fn ids_look_like_nodes() {
        let a = random_id().unwrap();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_id().unwrap());
    }
}

#[cfg(test)]
#[path = "sharded_tests.rs"]
mod request_tests;
