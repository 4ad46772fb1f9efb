//! The server's side of a cluster (chapter 6): applying what the other
//! servers sent ([`Server::handle_remote`]) and the operations whose
//! answers come from every server (see [`crate::socketio::cluster`]).

use super::*;
use crate::socketio::cluster::Remote;

impl Server {
    pub(super) fn new_request(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    // ANCHOR: handle_remote
    /// Apply what the adapters heard from the other servers: broadcasts to
    /// deliver here, operations on local sockets, requests to answer, and
    /// the answers to this server's own requests. The glue calls it when
    /// the adapter's I/O thread wakes the loop (and
    /// [`Server::handle_timeout`] calls it too). It never blocks.
    pub fn handle_remote(&mut self, now: Instant) {
        let names: Vec<String> = self.namespaces.keys().cloned().collect();
        for nsp in names {
            while let Some(remote) = self
                .namespaces
                .get_mut(&nsp)
                .and_then(|ns| ns.adapter.poll_remote(now))
            {
                self.apply_remote(&nsp, remote, now);
            }
        }
    }
    // ANCHOR_END: handle_remote

    fn apply_remote(&mut self, nsp: &str, remote: Remote, now: Instant) {
        match remote {
            Remote::Broadcast { packet, opts } => deliver_local(self, nsp, &opts, packet),
            Remote::Op { op, opts } => {
                let ids = self
                    .namespaces
                    .get(nsp)
                    .map_or_else(Vec::new, |ns| ns.adapter.select(&opts));
                for id in ids {
                    match &op {
                        ServerSideOp::Join(rooms) => {
                            for room in rooms {
                                if let Err(e) = self.join(&id, room) {
                                    tracing::debug!(socket = %id, room, %e, "remote join refused");
                                }
                            }
                        }
                        ServerSideOp::Leave(rooms) => {
                            for room in rooms {
                                let _ = self.leave(&id, room);
                            }
                        }
                        ServerSideOp::Disconnect { close } => {
                            let _ = self.disconnect(&id, *close, now);
                        }
                    }
                }
            }
            Remote::Fetch { to, opts } => {
                let mut operator = self.of(nsp);
                operator.opts = opts;
                let sockets = operator.fetch_sockets();
                if let Some(ns) = self.namespaces.get_mut(nsp) {
                    ns.adapter.reply(Reply::Sockets { to, sockets });
                }
            }
            Remote::ServerSideEmit { name, args, ack } => {
                self.events.push_back(Event::ServerSideEmit {
                    nsp: nsp.to_owned(),
                    name,
                    args,
                    ack: ack.map(|to| ServerSideAck {
                        nsp: nsp.to_owned(),
                        to,
                    }),
                });
            }
            Remote::BroadcastWithAck {
                to,
                mut packet,
                opts,
                timeout,
            } => {
                let Some(ns) = self.namespaces.get_mut(nsp) else {
                    return;
                };
                let ack = ns.next_ack;
                ns.next_ack += 1;
                packet.id = Some(ack);
                self.next_group += 1;
                let gid = BroadcastAckId(self.next_group);
                let reached = deliver(self, nsp, &opts, packet, Some((gid, ack)), false);
                let clients = reached.len() as u64;
                if let Some(ns) = self.namespaces.get_mut(nsp) {
                    let to = to.clone();
                    ns.adapter.reply(Reply::ClientCount { to, clients });
                }
                if clients > 0 {
                    let group = Group {
                        nsp: nsp.to_owned(),
                        ack,
                        waiting: reached.into_iter().collect(),
                        responses: Vec::new(),
                        servers: Some(0),
                        counted: 0,
                        clients: 0,
                        remote: Vec::new(),
                        reply_to: Some(to),
                        lost: false,
                    };
                    self.groups.insert(gid, group);
                    self.add_timer(now + timeout, Timer::Broadcast(gid));
                }
            }
            Remote::Servers { id, servers } => {
                if let Some(gid) = self.group_of(id) {
                    if let Some(g) = self.groups.get_mut(&gid) {
                        g.servers = Some(servers);
                    }
                    self.check_group(gid);
                }
            }
            Remote::ClientCount { id, clients } => {
                if let Some(gid) = self.group_of(id) {
                    if let Some(g) = self.groups.get_mut(&gid) {
                        g.counted += 1;
                        g.clients += clients;
                    }
                    self.check_group(gid);
                }
            }
            Remote::Ack { id, value } => {
                if let Some(gid) = self.group_of(id) {
                    if let Some(g) = self.groups.get_mut(&gid) {
                        g.remote.push(value);
                    }
                    self.check_group(gid);
                }
            }
            Remote::Done {
                id,
                answers,
                report,
            } => {
                let answers = match (self.cluster.remove(&id), answers) {
                    (Some(PendingCluster::Sockets(mut local)), Answers::Sockets(remote)) => {
                        local.extend(remote);
                        Answers::Sockets(local)
                    }
                    (Some(PendingCluster::Rooms(local)), Answers::Rooms(remote)) => {
                        let all: BTreeSet<String> = local.into_iter().chain(remote).collect();
                        Answers::Rooms(all.into_iter().collect())
                    }
                    (Some(PendingCluster::Acks), answers @ Answers::Acks(_)) => answers,
                    (Some(PendingCluster::Group(gid)), _) => {
                        // The group's own timer ends it; keep the link.
                        self.cluster.insert(id, PendingCluster::Group(gid));
                        return;
                    }
                    _ => return, // not ours, or already over
                };
                self.events.push_back(Event::ClusterReply {
                    id,
                    answers,
                    report,
                });
            }
        }
    }

    fn group_of(&self, id: RequestId) -> Option<BroadcastAckId> {
        match self.cluster.get(&id) {
            Some(PendingCluster::Group(gid)) => Some(*gid),
            _ => None,
        }
    }

    /// Send `request` through `nsp`'s adapter. When nobody else is there to
    /// ask, the answer is `local`'s, at once.
    fn start_request(
        &mut self,
        nsp: &str,
        request: ClusterRequest,
        local: PendingCluster,
        ask_others: bool,
        now: Instant,
    ) -> Result<RequestId, SioError> {
        let id = self.new_request();
        let ns = self.namespaces.get_mut(nsp).ok_or(SioError::NoNamespace)?;
        if ask_others && ns.adapter.cluster_request(id, request, now) {
            self.cluster.insert(id, local);
        } else {
            let answers = match local {
                PendingCluster::Sockets(s) => Answers::Sockets(s),
                PendingCluster::Rooms(r) => Answers::Rooms(r),
                PendingCluster::Acks | PendingCluster::Group(_) => Answers::Acks(Vec::new()),
            };
            self.events.push_back(Event::ClusterReply {
                id,
                answers,
                report: Report::local(),
            });
        }
        Ok(id)
    }

    /// Every room of `nsp` on every server (Node's `adapter.allRooms()`):
    /// an [`Event::ClusterReply`] with [`Answers::Rooms`] follows.
    pub fn all_rooms(&mut self, nsp: &str, now: Instant) -> Result<RequestId, SioError> {
        let local = self.namespace_rooms(nsp)?;
        self.start_request(
            nsp,
            ClusterRequest::AllRooms,
            PendingCluster::Rooms(local),
            true,
            now,
        )
    }

    /// An event for the other servers' applications (Node's
    /// `io.serverSideEmit`); this server's own does not hear it.
    pub fn server_side_emit(
        &mut self,
        nsp: &str,
        name: &str,
        args: Vec<Value>,
        now: Instant,
    ) -> Result<(), SioError> {
        check_name(name)?;
        let mut data = vec![Value::from(name)];
        data.extend(args);
        let id = self.new_request();
        let ns = self.namespaces.get_mut(nsp).ok_or(SioError::NoNamespace)?;
        ns.adapter
            .cluster_request(id, ClusterRequest::ServerSideEmit(data), now);
        Ok(())
    }

    /// The same, each other server answering once (Node's
    /// `serverSideEmitWithAck`): an [`Event::ClusterReply`] with
    /// [`Answers::Acks`] follows, by the request timeout at the latest.
    pub fn server_side_emit_with_ack(
        &mut self,
        nsp: &str,
        name: &str,
        args: Vec<Value>,
        now: Instant,
    ) -> Result<RequestId, SioError> {
        check_name(name)?;
        let mut data = vec![Value::from(name)];
        data.extend(args);
        self.start_request(
            nsp,
            ClusterRequest::ServerSideEmitWithAck(data),
            PendingCluster::Acks,
            true,
            now,
        )
    }

    /// Answer another server's [`Event::ServerSideEmit`] (once).
    pub fn server_side_ack(&mut self, ack: ServerSideAck, value: Value) -> Result<(), SioError> {
        let ns = self
            .namespaces
            .get_mut(&ack.nsp)
            .ok_or(SioError::NoNamespace)?;
        ns.adapter.reply(Reply::ServerSideAck { to: ack.to, value });
        Ok(())
    }
}

impl Operator<'_> {
    // ANCHOR: fetch_all
    /// `fetchSockets()` across the cluster: this server's selected sockets
    /// and every other server's, in an [`Event::ClusterReply`] with
    /// [`Answers::Sockets`] (at once with a local adapter, or after
    /// [`Operator::local`]).
    pub fn fetch_all_sockets(self, now: Instant) -> Result<RequestId, SioError> {
        let local = self.fetch_sockets();
        let request = ClusterRequest::FetchSockets(self.opts.clone());
        let nsp = self.nsp.clone();
        let ask_others = !self.local;
        self.server.start_request(
            &nsp,
            request,
            PendingCluster::Sockets(local),
            ask_others,
            now,
        )
    }
    // ANCHOR_END: fetch_all
}

/// A broadcast from another server: encode once, send to the local
/// selection, and do not publish it again.
fn deliver_local(server: &mut Server, nsp: &str, opts: &BroadcastOptions, packet: Packet) {
    let Some(ns) = server.namespaces.get(nsp) else {
        return;
    };
    let recipients = ns.adapter.select(opts);
    if recipients.is_empty() {
        return;
    }
    let encoded = Arc::new(packet.encode());
    server.encodes += 1;
    for id in recipients {
        let Some(s) = ns.sockets.get(&id) else {
            continue;
        };
        let writable = server.clients.get(&s.client).is_some_and(|c| c.writable);
        if opts.volatile && !writable {
            continue;
        }
        server.transmits.push_back(Transmit::Send {
            client: s.client,
            packet: Arc::clone(&encoded),
            volatile: opts.volatile,
        });
    }
}

/// A socket's handshake the way Node's `socket.handshake` holds it (what a
/// `fetchSockets` answer carries to the other servers).
pub(super) fn handshake(environ: Option<&Environ>, auth: &Value) -> serde_json::Value {
    let pairs = |list: &[(String, String)]| {
        serde_json::Value::Object(
            list.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), serde_json::Value::from(v.as_str())))
                .collect(),
        )
    };
    let empty = Environ::default();
    let e = environ.unwrap_or(&empty);
    let query = serde_json::Value::Object(
        e.query
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect(),
    );
    serde_json::json!({
        "headers": pairs(&e.headers),
        "address": e.address.as_deref().unwrap_or(""),
        "url": e.url,
        "issued": e.issued_ms(),
        "query": query,
        "auth": auth.to_json(),
    })
}
