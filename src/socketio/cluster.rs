//! What crosses the [`Adapter`](super::Adapter) boundary when the server is
//! one of several: requests this server sends to the others, what the
//! others ask of it, and the answers, with their reports.
//!
//! The server stays sans-IO. A cluster adapter (chapter 6's
//! [`RedisAdapter`](super::redis::RedisAdapter)) publishes through a
//! channel to an I/O thread and never waits; what the other servers send
//! arrives later, in the adapter's mailbox, and the glue hands it to the
//! server with [`Server::handle_remote`](super::Server::handle_remote)
//! (when the I/O thread wakes the loop) and on
//! [`Server::handle_timeout`](super::Server::handle_timeout). So every
//! operation that needs the other servers' answers returns an id at once,
//! and its result comes back later as an event:
//!
//! | Node | here | result |
//! |---|---|---|
//! | `await io.fetchSockets()` | [`Operator::fetch_all_sockets`](super::Operator::fetch_all_sockets) | [`Event::ClusterReply`](super::Event::ClusterReply) with [`Answers::Sockets`] |
//! | `await io.of("/").adapter.allRooms()` | [`Server::all_rooms`](super::Server::all_rooms) | [`Answers::Rooms`] |
//! | `io.serverSideEmit(ev, ...)` | [`Server::server_side_emit`](super::Server::server_side_emit) | none; the others hear [`Event::ServerSideEmit`](super::Event::ServerSideEmit) |
//! | `await io.serverSideEmitWithAck(ev, ...)` | [`Server::server_side_emit_with_ack`](super::Server::server_side_emit_with_ack) | [`Answers::Acks`] |
//! | `await io.timeout(t).emitWithAck(ev)` | [`Operator::emit_with_ack`](super::Operator::emit_with_ack) (unchanged) | [`Event::BroadcastAck`](super::Event::BroadcastAck), `remote` filled |
//! | `io.socketsJoin(r)`, `socketsLeave`, `disconnectSockets` | unchanged: local at once, then forwarded | none (Node waits for nobody either) |
//!
//! With the in-memory adapter every request finishes at once with the
//! local answers only (`report.expected == Some(0)`).

use std::sync::Arc;
use std::time::Duration;

use super::adapter::{BroadcastOptions, ServerSideOp};
use super::packet::{Encoded, Packet};
use super::server::SocketInfo;
use super::value::Value;

/// A request of this server's to the others, named by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

// ANCHOR: cluster_request
/// What the server asks the other servers (through
/// [`Adapter::cluster_request`](super::Adapter::cluster_request)).
#[derive(Debug, Clone)]
pub enum ClusterRequest {
    /// `fetchSockets()` on a selection.
    FetchSockets(BroadcastOptions),
    /// Every room of every server.
    AllRooms,
    /// `serverSideEmit([event, ...args])`: nobody answers.
    ServerSideEmit(Vec<Value>),
    /// `serverSideEmitWithAck([event, ...args])`: each server answers once.
    ServerSideEmitWithAck(Vec<Value>),
    /// A broadcast with acks: each server sends it to its clients, says how
    /// many, then forwards each client's ack.
    BroadcastWithAck {
        /// The packet, encoded once (without an ack id: each server uses
        /// its own).
        packet: Arc<Encoded>,
        /// The selection.
        opts: BroadcastOptions,
        /// How long the acks are awaited.
        timeout: Duration,
    },
}
// ANCHOR_END: cluster_request

/// Where an answer goes: opaque to the server, which hands it back in a
/// [`Reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    /// The request's id on the wire.
    pub request_id: String,
    /// The requesting server's uid, if it said.
    pub uid: Option<String>,
}

// ANCHOR: remote
/// What the other servers want from this one, or how one of its own
/// requests is going: the adapter's output, applied by
/// [`Server::handle_remote`](super::Server::handle_remote).
#[derive(Debug, Clone)]
pub enum Remote {
    /// Deliver a broadcast to the local sockets (not to be published again).
    Broadcast {
        /// The packet.
        packet: Packet,
        /// The selection.
        opts: BroadcastOptions,
    },
    /// `socketsJoin`/`socketsLeave`/`disconnectSockets` from another server:
    /// apply to the local sockets (not to be forwarded again).
    Op {
        /// Which.
        op: ServerSideOp,
        /// On whom.
        opts: BroadcastOptions,
    },
    /// Another server's `fetchSockets`: answer with [`Reply::Sockets`].
    Fetch {
        /// Where the answer goes.
        to: ReplyTo,
        /// The selection.
        opts: BroadcastOptions,
    },
    /// Another server's `serverSideEmit`.
    ServerSideEmit {
        /// The event.
        name: String,
        /// Its arguments.
        args: Vec<Value>,
        /// Set when the sender awaits one answer ([`Reply::ServerSideAck`]).
        ack: Option<ReplyTo>,
    },
    /// Another server's broadcast with acks: deliver, answer
    /// [`Reply::ClientCount`], then [`Reply::Ack`] per client ack.
    BroadcastWithAck {
        /// Where the answers go.
        to: ReplyTo,
        /// The packet (this server gives it an ack id).
        packet: Packet,
        /// The selection.
        opts: BroadcastOptions,
        /// How long to forward acks.
        timeout: Duration,
    },
    /// For a broadcast with acks of ours: how many other servers should
    /// answer (`PUBSUB NUMSUB`, or `SHARDNUMSUB` in sharded mode, minus
    /// this one).
    Servers {
        /// Which request.
        id: RequestId,
        /// How many.
        servers: usize,
    },
    /// For a broadcast with acks of ours: one server sent it to `clients`.
    ClientCount {
        /// Which request.
        id: RequestId,
        /// How many clients will ack.
        clients: u64,
    },
    /// For a broadcast with acks of ours: one remote client's ack (its
    /// first argument, as Node's adapter forwards it).
    Ack {
        /// Which request.
        id: RequestId,
        /// The ack.
        value: Value,
    },
    /// A request of ours is over: the other servers' answers.
    Done {
        /// Which request.
        id: RequestId,
        /// What they said.
        answers: Answers,
        /// Who said it, and whether some did not.
        report: Report,
    },
}
// ANCHOR_END: remote

/// The server's answer to a [`Remote`] request, for the adapter to publish.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The local sockets a [`Remote::Fetch`] selected.
    Sockets {
        /// To whom.
        to: ReplyTo,
        /// The sockets, with their handshakes.
        sockets: Vec<SocketInfo>,
    },
    /// The answer to a [`Remote::ServerSideEmit`] with an ack.
    ServerSideAck {
        /// To whom.
        to: ReplyTo,
        /// The one argument.
        value: Value,
    },
    /// How many local clients a [`Remote::BroadcastWithAck`] reached.
    ClientCount {
        /// To whom.
        to: ReplyTo,
        /// How many.
        clients: u64,
    },
    /// One local client's ack to a [`Remote::BroadcastWithAck`].
    Ack {
        /// To whom.
        to: ReplyTo,
        /// The client's first ack argument.
        value: Value,
    },
}

/// What the servers answered to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answers {
    /// `fetchSockets`: every selected socket, local ones first.
    Sockets(Vec<SocketInfo>),
    /// All rooms, each once, sorted.
    Rooms(Vec<String>),
    /// `serverSideEmitWithAck`: one answer per other server.
    Acks(Vec<Value>),
}

// ANCHOR: report
/// How a request went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// How many other servers were expected to answer (`PUBSUB NUMSUB` of
    /// the request channel, or in sharded mode `PUBSUB SHARDNUMSUB` of the
    /// namespace's channel, minus this one); `None` if Redis never said.
    pub expected: Option<usize>,
    /// How many answered.
    pub answered: usize,
    /// The uids of the servers that answered and said who they are
    /// (netladder servers do; Node's classic responses carry no uid, so a
    /// Node server counts in `answered` only there; in sharded mode every
    /// response names its sender).
    pub responders: Vec<String>,
    /// Whether the request timed out before every expected server answered.
    pub timed_out: bool,
    /// Why the request could not be sent (Redis unreachable), if so.
    pub error: Option<String>,
}
// ANCHOR_END: report

impl Report {
    /// The report of a request nobody else had to answer.
    pub fn local() -> Report {
        Report {
            expected: Some(0),
            ..Report::default()
        }
    }
}

/// A server-side event's ack: answer it once with
/// [`Server::server_side_ack`](super::Server::server_side_ack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSideAck {
    /// The namespace it came on.
    pub nsp: String,
    /// Where the answer goes.
    pub to: ReplyTo,
}
