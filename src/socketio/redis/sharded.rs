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
//! What is in: broadcasts (to rooms, with `except`, both ways) and
//! `socketsJoin` / `socketsLeave` / `disconnectSockets`. Not in yet:
//! heartbeats and requests (`fetchSockets`, `serverSideEmit`, broadcasts
//! with acks): those are answered from this server's own sockets, and
//! Node's servers, which count peers by heartbeat, do not wait for ours.
//! A slot map that changes while running (resharding, failover) is only
//! noticed by the publisher.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::channels::{ShardedChannels, looks_like_a_socket_id};
use super::cluster::{BroadcastData, ClusterMessage, MayHoldBinary, MessageType, SubscriptionMode};
use super::hub::{RedisOptions, Wake};
use super::wire::{WireError, WireOpts, WirePacket};
use crate::socketio::adapter::{
    Adapter, BroadcastOptions, InMemoryAdapter, ServerSideOp, SocketId,
};
use crate::socketio::cluster::Remote;
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

struct Route {
    token: u64,
    mailbox: SyncSender<Vec<u8>>,
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
    fn register(&self, nsp: &str, channels: BTreeSet<String>) -> (u64, Receiver<Vec<u8>>) {
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

    fn deliver(&self, nsp: &str, payload: Vec<u8>) {
        let routes = self.routes.lock().expect("no panics while locked");
        let Some(route) = routes.get(nsp) else { return };
        if route.mailbox.try_send(payload).is_err() {
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
    commands: SyncSender<(String, Vec<u8>)>,
    threads: Vec<JoinHandle<()>>,
}

impl ShardedHub {
    /// Start the threads; `opts.url` is any node of the cluster. Fails only
    /// on a malformed URL.
    pub fn start(opts: RedisOptions, wake: Wake) -> Result<ShardedHub, ::redis::RedisError> {
        ::redis::Client::open(opts.url.as_str())?;
        let uid = super::new_uid().map_err(|e| {
            ::redis::RedisError::from((
                ::redis::ErrorKind::ClientError,
                "no randomness for the uid",
                e.to_string(),
            ))
        })?;
        let (commands, queue) = mpsc::sync_channel(opts.queue);
        let shared = Arc::new(Shared {
            opts,
            uid,
            shutdown: AtomicBool::new(false),
            routes: Mutex::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
            next_token: AtomicU64::new(0),
            subscribed: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
            wake,
        });
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
        let shared = Arc::clone(&self.shared);
        let commands = self.commands.clone();
        move |nsp: &str| -> Box<dyn Adapter> {
            Box::new(ShardedAdapter::new(
                nsp,
                Arc::clone(&shared),
                commands.clone(),
            ))
        }
    }

    /// This server's uid on the wire.
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
                shared.deliver(nsp, payload);
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
fn publisher(shared: &Shared, queue: Receiver<(String, Vec<u8>)>) {
    let mut map: Option<SlotMap> = None;
    let mut cons: HashMap<String, ::redis::Connection> = HashMap::new();
    loop {
        let (channel, payload) = match queue.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) if !shared.stopping() => continue,
            Err(_) => return,
        };
        if map.is_none() {
            map = slot_map(&shared.opts, &shared.opts.url)
                .map_err(|e| tracing::warn!(error = %e, "no slot map: message dropped"))
                .ok();
        }
        let Some(owner) = map.as_ref().and_then(|m| m.owner(&channel)) else {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let owner = owner.to_owned();
        if !cons.contains_key(&owner) {
            match connect(&node_url(&owner), shared.opts.io_timeout) {
                Ok(c) => {
                    cons.insert(owner.clone(), c);
                }
                Err(e) => {
                    tracing::warn!(error = %e, owner, "cannot reach the channel's master");
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                    map = None;
                    continue;
                }
            }
        }
        let Some(con) = cons.get_mut(&owner) else {
            continue;
        };
        let sent = ::redis::cmd("SPUBLISH")
            .arg(&channel)
            .arg(&payload)
            .query::<i64>(con);
        if let Err(e) = sent {
            tracing::warn!(error = %e, channel, "SPUBLISH failed: message dropped");
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            // MOVED, a lost node: ask for the slot map and connect again.
            cons.remove(&owner);
            map = None;
        }
    }
}
// ANCHOR_END: publisher

/// The data of SOCKETS_JOIN / SOCKETS_LEAVE (`{opts, rooms}`) and
/// DISCONNECT_SOCKETS (`{opts, close}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpData {
    /// Which sockets.
    pub opts: WireOpts,
    /// The rooms to join or leave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// Whether to close the whole connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close: Option<bool>,
}

impl MayHoldBinary for OpData {
    fn has_binary(&self) -> bool {
        false
    }
}

/// Just the head of a cluster message, to pick the type to decode.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: u8,
    uid: String,
    nsp: String,
}

fn decode<D: DeserializeOwned>(bytes: &[u8]) -> Result<D, WireError> {
    if bytes.first() == Some(&b'{') {
        serde_json::from_slice(bytes).map_err(|e| WireError::Json(e.to_string()))
    } else {
        rmp_serde::from_slice(bytes).map_err(|e| WireError::Msgpack(e.to_string()))
    }
}

// ANCHOR: adapter
/// A namespace's adapter on sharded pub/sub: rooms in memory, broadcasts
/// and server-side operations shared in Node's cluster format.
pub struct ShardedAdapter {
    local: InMemoryAdapter,
    nsp: String,
    channels: ShardedChannels,
    shared: Arc<Shared>,
    token: u64,
    commands: SyncSender<(String, Vec<u8>)>,
    mailbox: Receiver<Vec<u8>>,
    out: VecDeque<Remote>,
}
// ANCHOR_END: adapter

impl ShardedAdapter {
    fn new(nsp: &str, shared: Arc<Shared>, commands: SyncSender<(String, Vec<u8>)>) -> Self {
        let channels = ShardedChannels::new(&shared.opts.prefix, nsp);
        let base = [channels.main(), channels.response(&shared.uid)].into();
        let (token, mailbox) = shared.register(nsp, base);
        ShardedAdapter {
            local: InMemoryAdapter::default(),
            nsp: nsp.to_owned(),
            channels,
            shared,
            token,
            commands,
            mailbox,
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

    fn publish<D: Serialize + DeserializeOwned + MayHoldBinary>(
        &self,
        channel: String,
        kind: MessageType,
        data: D,
    ) {
        let msg = ClusterMessage {
            kind: kind as u8,
            data: Some(data),
            uid: self.shared.uid.clone(),
            nsp: self.nsp.clone(),
        };
        if self.commands.try_send((channel, msg.encode())).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(nsp = self.nsp, "Redis publish queue full: message dropped");
        }
    }

    // ANCHOR: on_message
    fn on_message(&mut self, payload: &[u8]) {
        let head: Head = match decode(payload) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(nsp = self.nsp, error = %e, "malformed cluster message; ignored");
                return;
            }
        };
        if head.uid == self.shared.uid || head.nsp != self.nsp {
            return;
        }
        let broadcast = MessageType::Broadcast as u8;
        let join = MessageType::SocketsJoin as u8;
        let leave = MessageType::SocketsLeave as u8;
        let disconnect = MessageType::DisconnectSockets as u8;
        if head.kind == broadcast {
            let Ok(msg) = decode::<ClusterMessage<BroadcastData>>(payload) else {
                tracing::warn!(nsp = self.nsp, "malformed broadcast; ignored");
                return;
            };
            let Some(mut data) = msg.data else { return };
            // Node's sharded adapter leaves the packet's nsp out (its
            // namespace is the message's): the "/" it would default to is
            // wrong for any other namespace.
            data.packet.nsp = self.nsp.clone();
            if data.request_id.is_some() {
                tracing::debug!("a broadcast with acks: not supported in sharded mode yet");
                return;
            }
            match data.packet.to_packet() {
                Ok(packet) => self.out.push_back(Remote::Broadcast {
                    packet,
                    opts: data.opts.to_options(),
                }),
                Err(e) => tracing::warn!(error = %e, "unusable broadcast; ignored"),
            }
        } else if [join, leave, disconnect].contains(&head.kind) {
            let Ok(msg) = decode::<ClusterMessage<OpData>>(payload) else {
                tracing::warn!(nsp = self.nsp, "malformed server-side operation; ignored");
                return;
            };
            let Some(data) = msg.data else { return };
            let rooms = data.rooms.unwrap_or_default();
            let op = if head.kind == join {
                ServerSideOp::Join(rooms)
            } else if head.kind == leave {
                ServerSideOp::Leave(rooms)
            } else {
                ServerSideOp::Disconnect {
                    close: data.close.unwrap_or(false),
                }
            };
            self.out.push_back(Remote::Op {
                op,
                opts: data.opts.to_options(),
            });
        } else {
            tracing::trace!(
                kind = head.kind,
                "cluster message not handled in sharded mode"
            );
        }
    }
    // ANCHOR_END: on_message
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
                self.publish(channel, MessageType::Broadcast, data);
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
        self.publish(self.channels.main(), kind, data);
    }

    fn poll_remote(&mut self, _now: Instant) -> Option<Remote> {
        while self.out.is_empty() {
            match self.mailbox.try_recv() {
                Ok(payload) => self.on_message(&payload),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        self.out.pop_front()
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
        let msg: ClusterMessage<OpData> = decode(json).unwrap();
        let data = msg.data.unwrap();
        assert_eq!(data.rooms, Some(vec!["b".to_owned()]));
        assert_eq!(data.opts.rooms, vec!["a".to_owned()]);
        let head: Head = decode(json).unwrap();
        assert_eq!(
            (head.kind, head.uid.as_str(), head.nsp.as_str()),
            (4, "xyz", "/")
        );
        assert!(decode::<Head>(b"{").is_err());
    }
}
