//! [`RedisAdapter`]: rooms in memory like [`InMemoryAdapter`], plus
//! everything Node's `@socket.io/redis-adapter` v8 (classic pub/sub) does
//! on the wire, so that netladder and Node servers can share one cluster.
//!
//! It never touches a socket: it `try_send`s what to publish to the
//! [`hub`](super::hub)'s publisher thread and reads its mailbox (filled by
//! the subscriber thread) when the server calls
//! [`Adapter::poll_remote`]. Requests it sent are tracked by a
//! `RequestTracker` (in `requests.rs`), with the requests timeout
//! (Node's `requestsTimeout`, 5 s).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

use super::channels::Channels;
use super::hub::{Command, Incoming, Shared};
use super::requests::{RequestKind, RequestTracker};
use super::wire::{
    BroadcastMessage, RemoteSocket, Request, RequestType, Response, Selection, WireOpts, WirePacket,
};
use crate::socketio::adapter::{
    Adapter, BroadcastOptions, InMemoryAdapter, ServerSideOp, SocketId,
};
use crate::socketio::cluster::{Answers, ClusterRequest, Remote, Reply, ReplyTo, RequestId};
use crate::socketio::packet::{Encoded, Limits};
use crate::socketio::{SocketInfo, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fetch,
    AllRooms,
    ServerSideAck,
    BroadcastAck,
}

impl RequestKind for Kind {
    type Answer = Response;

    fn is_broadcast_ack(self) -> bool {
        self == Kind::BroadcastAck
    }

    /// netladder's answers say who sent them; Node's do not.
    fn responder(answer: &Response) -> Option<String> {
        answer.uid.clone()
    }

    fn answers(self, nsp: &str, answers: Vec<Response>) -> Answers {
        match self {
            Kind::Fetch => Answers::Sockets(
                answers
                    .iter()
                    .flat_map(|r| r.sockets.iter().flatten())
                    .filter_map(|v| socket_info(nsp, v))
                    .collect(),
            ),
            Kind::AllRooms => {
                let rooms: BTreeSet<String> = answers
                    .into_iter()
                    .flat_map(|r| r.rooms.unwrap_or_default())
                    .collect();
                Answers::Rooms(rooms.into_iter().collect())
            }
            Kind::ServerSideAck | Kind::BroadcastAck => Answers::Acks(
                answers
                    .into_iter()
                    .map(|r| r.data.unwrap_or(Value::Null))
                    .collect(),
            ),
        }
    }
}

// ANCHOR: adapter
/// A namespace's adapter in a Redis cluster.
pub struct RedisAdapter {
    local: InMemoryAdapter,
    nsp: String,
    channels: Channels,
    shared: Arc<Shared>,
    token: u64,
    commands: SyncSender<Command>,
    mailbox: Receiver<Incoming>,
    timeout: Duration,
    requests: RequestTracker<Kind>,
    out: VecDeque<Remote>,
}
// ANCHOR_END: adapter

impl RedisAdapter {
    pub(crate) fn new(nsp: &str, shared: Arc<Shared>, commands: SyncSender<Command>) -> Self {
        let (token, mailbox) = shared.register(nsp);
        RedisAdapter {
            local: InMemoryAdapter::default(),
            nsp: nsp.to_owned(),
            channels: Channels::new(&shared.opts.prefix, nsp),
            timeout: shared.opts.requests_timeout,
            shared,
            token,
            commands,
            mailbox,
            requests: RequestTracker::new(nsp),
            out: VecDeque::new(),
        }
    }

    fn uid(&self) -> &str {
        &self.shared.uid
    }

    fn publish(&self, channel: String, payload: Vec<u8>) {
        if self
            .commands
            .try_send(Command::Publish { channel, payload })
            .is_err()
        {
            self.shared.count_drop();
            tracing::warn!(nsp = self.nsp, "Redis publish queue full: message dropped");
        }
    }

    fn respond(&self, response: Response) {
        self.publish(self.channels.response(), response.encode());
    }

    /// Send a request that awaits answers; false if it could not be queued.
    fn send_request(&mut self, id: RequestId, kind: Kind, request: Request, deadline: Instant) {
        let request_id = request.request_id.clone().unwrap_or_default();
        let command = Command::Request {
            nsp: self.nsp.clone(),
            numsub: self.channels.request(),
            channel: self.channels.request(),
            payload: request.encode(),
            request_id: request_id.clone(),
        };
        let queued = self.commands.try_send(command).is_ok();
        self.requests.start(request_id.clone(), id, kind, deadline);
        if !queued {
            self.shared.count_drop();
            let error = "the Redis queue is full".to_owned();
            self.requests.fail(&request_id, error, &mut self.out);
        }
    }

    fn on_incoming(&mut self, incoming: Incoming, now: Instant) {
        match incoming {
            Incoming::Servers { request_id, numsub } => {
                // NUMSUB counts this server too: the tracker subtracts it.
                self.requests.on_servers(&request_id, numsub, &mut self.out);
            }
            Incoming::Message { channel, payload } => {
                if channel == self.channels.request() {
                    self.on_request(&payload, now);
                } else if channel.starts_with(&self.channels.response()) {
                    self.on_response(&payload);
                } else {
                    self.on_broadcast(&channel, &payload);
                }
            }
        }
    }

    // ANCHOR: on_broadcast
    fn on_broadcast(&mut self, channel: &str, payload: &[u8]) {
        match self.channels.room_of(channel) {
            None => return,
            // A room nobody here is in: nothing to deliver (Node skips it
            // before decoding too).
            Some(room) if !room.is_empty() && !self.local.has_room(room) => {
                return;
            }
            Some(_) => {}
        }
        let msg = match BroadcastMessage::decode_for(payload, self.uid(), &self.nsp) {
            Ok(Some(msg)) => msg,
            Ok(None) => return, // our own, or another namespace's
            Err(e) => {
                tracing::warn!(channel, error = %e, "malformed broadcast from Redis; ignored");
                return;
            }
        };
        match msg.packet.to_packet() {
            Ok(packet) => self.out.push_back(Remote::Broadcast {
                packet,
                opts: msg.opts.to_options(),
            }),
            Err(e) => tracing::warn!(channel, error = %e, "unusable broadcast from Redis; ignored"),
        }
    }
    // ANCHOR_END: on_broadcast

    // ANCHOR: on_request
    fn on_request(&mut self, payload: &[u8], _now: Instant) {
        let request = match Request::decode(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(nsp = self.nsp, error = %e, "malformed request from Redis; ignored");
                return;
            }
        };
        if request.uid.as_deref() == Some(self.uid()) {
            return; // our own: already applied here
        }
        let to = ReplyTo {
            request_id: request.request_id.clone().unwrap_or_default(),
            uid: request.uid.clone(),
        };
        let opts = request
            .opts
            .as_ref()
            .map(WireOpts::to_options)
            .unwrap_or_default();
        let Some(kind) = request.request_type() else {
            tracing::debug!(kind = request.kind, "unknown request type; ignored");
            return;
        };
        match kind {
            RequestType::Sockets => {
                let rooms = request.rooms.clone().unwrap_or_default();
                let sel = BroadcastOptions {
                    rooms: rooms.into_iter().collect(),
                    ..BroadcastOptions::default()
                };
                let ids = self.local.select(&sel);
                self.respond(Response {
                    request_id: to.request_id,
                    sockets: Some(ids.iter().map(|i| Value::from(i.as_str())).collect()),
                    uid: Some(self.uid().to_owned()),
                    ..Response::default()
                });
            }
            RequestType::AllRooms => self.respond(Response {
                request_id: to.request_id,
                rooms: Some(self.local.rooms()),
                uid: Some(self.uid().to_owned()),
                ..Response::default()
            }),
            RequestType::RemoteJoin | RequestType::RemoteLeave | RequestType::RemoteDisconnect => {
                // The older single-socket form names a socket instead.
                let opts = match (&request.opts, &request.sid) {
                    (None, Some(sid)) => BroadcastOptions {
                        rooms: [sid.clone()].into(),
                        ..BroadcastOptions::default()
                    },
                    _ => opts,
                };
                let mut rooms = request.rooms.clone().unwrap_or_default();
                rooms.extend(request.room.clone());
                let op = match kind {
                    RequestType::RemoteJoin => ServerSideOp::Join(rooms),
                    RequestType::RemoteLeave => ServerSideOp::Leave(rooms),
                    _ => ServerSideOp::Disconnect {
                        close: request.close.unwrap_or(false),
                    },
                };
                self.out.push_back(Remote::Op { op, opts });
                if request.opts.is_none() && request.request_id.is_some() {
                    self.respond(Response {
                        request_id: to.request_id,
                        uid: Some(self.uid().to_owned()),
                        ..Response::default()
                    });
                }
            }
            RequestType::RemoteFetch => self.out.push_back(Remote::Fetch { to, opts }),
            RequestType::ServerSideEmit => {
                let mut data = request.data.clone().unwrap_or_default();
                if data.is_empty() {
                    return;
                }
                let Value::String(name) = data.remove(0) else {
                    return;
                };
                let ack = request.request_id.is_some().then_some(to);
                self.out.push_back(Remote::ServerSideEmit {
                    name,
                    args: data,
                    ack,
                });
            }
            RequestType::Broadcast => {
                let Some(packet) = request.packet.as_ref().and_then(|p| p.to_packet().ok()) else {
                    tracing::warn!("a broadcast request without a usable packet; ignored");
                    return;
                };
                let timeout = request
                    .opts
                    .as_ref()
                    .and_then(|o| o.flags.timeout)
                    .map_or(self.timeout, Duration::from_millis);
                self.out.push_back(Remote::BroadcastWithAck {
                    to,
                    packet,
                    opts,
                    timeout,
                });
            }
            RequestType::BroadcastClientCount | RequestType::BroadcastAck => {}
        }
    }
    // ANCHOR_END: on_request

    fn on_response(&mut self, payload: &[u8]) {
        let response = match Response::decode(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "malformed response from Redis; ignored");
                return;
            }
        };
        let request_id = response.request_id.clone();
        let Some((id, kind)) = self.requests.get(&request_id) else {
            return; // another server's, or too late
        };
        if kind == Kind::BroadcastAck {
            match response.kind.and_then(RequestType::from_number) {
                Some(RequestType::BroadcastClientCount) => {
                    self.out.push_back(Remote::ClientCount {
                        id,
                        clients: response.client_count.unwrap_or(0),
                    })
                }
                Some(RequestType::BroadcastAck) => self.out.push_back(Remote::Ack {
                    id,
                    value: response.packet.unwrap_or(Value::Null),
                }),
                _ => {}
            }
            return;
        }
        // Unlike the sharded adapter, no check of the response's type: the
        // answers to fetchSockets and allRooms carry none.
        self.requests.answer(&request_id, response, &mut self.out);
    }
}

/// A socket from a REMOTE_FETCH answer (or the sharded adapter's
/// FETCH_SOCKETS_RESPONSE), as `fetch_sockets` returns it.
pub(crate) fn socket_info(nsp: &str, v: &Value) -> Option<SocketInfo> {
    let r = RemoteSocket::from_value(v)?;
    let handshake = r.handshake.to_json();
    let auth = Value::from(handshake.get("auth").cloned().unwrap_or_default());
    Some(SocketInfo {
        id: SocketId::new(&r.id),
        nsp: nsp.to_owned(),
        rooms: r.rooms,
        data: r.data.to_json(),
        auth,
        handshake,
    })
}

/// A local socket as a fetch answer describes it to the other servers:
/// `{id, handshake, rooms, data}`.
pub(crate) fn socket_value(s: SocketInfo) -> Value {
    RemoteSocket {
        id: s.id.as_str().to_owned(),
        handshake: Value::from(s.handshake),
        rooms: s.rooms,
        data: Value::from(s.data),
    }
    .to_value()
}

fn selection(opts: &BroadcastOptions) -> Selection {
    Selection {
        rooms: opts.rooms.iter().cloned().collect(),
        except: opts.except.iter().cloned().collect(),
    }
}

fn request_id() -> String {
    super::new_uid().unwrap_or_else(|_| "000000".into())
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        self.shared.unregister(&self.nsp, self.token);
    }
}

impl Adapter for RedisAdapter {
    fn add(&mut self, socket: &SocketId, room: &str) {
        self.local.add(socket, room);
    }
    fn del(&mut self, socket: &SocketId, room: &str) {
        self.local.del(socket, room);
    }
    fn del_all(&mut self, socket: &SocketId) {
        self.local.del_all(socket);
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
                let msg = BroadcastMessage {
                    uid: self.uid().to_owned(),
                    packet: wire,
                    opts: WireOpts::from_options(opts),
                };
                let channel = self
                    .channels
                    .for_rooms(opts.rooms.iter().map(String::as_str));
                self.publish(channel, msg.encode());
            }
            Err(e) => {
                tracing::warn!(error = %e, "a broadcast that cannot be read back; not published")
            }
        }
        self.local.select(opts)
    }
    // ANCHOR_END: broadcast

    fn server_side(&mut self, op: &ServerSideOp, opts: &BroadcastOptions) {
        let sel = selection(opts);
        let uid = Some(self.uid());
        let request = match op {
            ServerSideOp::Join(rooms) => Request::sockets_join(uid, &sel, rooms.clone()),
            ServerSideOp::Leave(rooms) => Request::sockets_leave(uid, &sel, rooms.clone()),
            ServerSideOp::Disconnect { close } => Request::disconnect_sockets(uid, &sel, *close),
        };
        self.publish(self.channels.request(), request.encode());
    }

    fn cluster_request(&mut self, id: RequestId, request: ClusterRequest, now: Instant) -> bool {
        let deadline = now + self.timeout;
        let uid = self.uid().to_owned();
        let rid = request_id();
        match request {
            ClusterRequest::FetchSockets(opts) => {
                let r = Request::fetch_sockets(&uid, &rid, &selection(&opts));
                self.send_request(id, Kind::Fetch, r, deadline);
            }
            ClusterRequest::AllRooms => {
                let r = Request::all_rooms(&uid, &rid);
                self.send_request(id, Kind::AllRooms, r, deadline);
            }
            ClusterRequest::ServerSideEmit(data) => {
                let r = Request::server_side_emit(&uid, None, data);
                self.publish(self.channels.request(), r.encode());
            }
            ClusterRequest::ServerSideEmitWithAck(data) => {
                let r = Request::server_side_emit(&uid, Some(&rid), data);
                self.send_request(id, Kind::ServerSideAck, r, deadline);
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
                let r = Request::broadcast(&uid, &rid, wire, wire_opts);
                self.send_request(id, Kind::BroadcastAck, r, now + timeout);
            }
        }
        true
    }

    fn reply(&mut self, reply: Reply) {
        let uid = Some(self.uid().to_owned());
        let response = match reply {
            Reply::Sockets { to, sockets } => Response {
                request_id: to.request_id,
                sockets: Some(sockets.into_iter().map(socket_value).collect()),
                uid,
                ..Response::default()
            },
            Reply::ServerSideAck { to, value } => Response {
                kind: Some(RequestType::ServerSideEmit as u8),
                request_id: to.request_id,
                data: Some(value),
                uid,
                ..Response::default()
            },
            Reply::ClientCount { to, clients } => Response {
                kind: Some(RequestType::BroadcastClientCount as u8),
                request_id: to.request_id,
                client_count: Some(clients),
                uid,
                ..Response::default()
            },
            Reply::Ack { to, value } => Response {
                kind: Some(RequestType::BroadcastAck as u8),
                request_id: to.request_id,
                packet: Some(value),
                uid,
                ..Response::default()
            },
        };
        self.respond(response);
    }

    fn poll_remote(&mut self, now: Instant) -> Option<Remote> {
        while self.out.is_empty() {
            match self.mailbox.try_recv() {
                Ok(incoming) => self.on_incoming(incoming, now),
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
