//! The balancer as a [`Protocol`]: a front connection per client, a back
//! connection per forwarded request, joined through their mailboxes.
//!
//! A **front** ([`Conn::Front`]) parses the client's requests with
//! [`ServerConn`], one at a time. For each, it picks a backend
//! ([`Table::route`]) and asks the driver's [`Connector`] for a **back**
//! connection ([`Conn::Back`]) to it, which sends the request (with
//! `Connection: close`, as nginx does by default: one request per backend
//! connection, so no stale kept-alive connection can swallow a request),
//! reads the answer with [`ResponseParser`], and mails it to the front. The
//! front learns the session id from a handshake's answer, re-frames the
//! response for its client, and takes the next request.
//!
//! A `101 Switching Protocols` answer joins the two connections: from then
//! on each side mails what it reads to the other, unread.
//!
//! Every buffer has a bound: a request is at most [`Limits`] (chapter 2's
//! 413/431/408 answers for the rest), a response at most
//! [`MAX_RESPONSE_BODY`], bytes a client sends while its request is being
//! forwarded at most [`MAX_PENDING`], and a tunnel side that falls
//! [`MAX_TUNNEL_UNSENT`] behind is dropped.

use super::{Route, Table, query_param, sid_from_open_packet};
use crate::driver::{CloseReason, Connector, Ctx, Mailbox, MailboxError, Protocol};
use crate::engineio::ErrorCode;
use crate::http::client::write_request;
use crate::http::{
    ClientResponse, Headers, Limits, Outcome, Request, Response, ResponseParser, ServerConn,
};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// The largest response body the balancer will carry (a polling payload is
/// at most the server's `maxPayload`, 1 MB by default).
pub const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// Bytes a client may send while its current request is being forwarded
/// (pipelined requests, or WebSocket frames sent right after an upgrade
/// request). Past it the connection is dropped.
pub const MAX_PENDING: usize = 2 * 1024 * 1024;

/// Bytes one side of a tunnel may have waiting for its peer before the
/// tunnel is dropped: the other side sends faster than this one reads.
pub const MAX_TUNNEL_UNSENT: usize = 4 * 1024 * 1024;

/// How long a backend may take to answer a request. Long-polls are held
/// up to the backend's `pingInterval` (25 s by default).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the front and back connections of one client tell each other.
pub enum Mail {
    /// The back connection for request `id` is open: its mailbox.
    Attached { id: u64, back: Mailbox<Mail> },
    /// The backend's whole answer to request `id`.
    Response { id: u64, response: ClientResponse },
    /// The backend switched protocols: its `101`, then the bytes read after
    /// it. The connections are a tunnel from now on.
    Switched {
        id: u64,
        response: ClientResponse,
        rest: Vec<u8>,
    },
    /// Request `id` got no answer.
    Failed { id: u64, failure: Failure },
    /// Tunnel bytes.
    Data(Vec<u8>),
    /// The other side of the tunnel (or the client) is gone: close.
    Eof,
}

/// Why a forwarded request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The backend could not be reached: try another, if the request may go
    /// anywhere.
    Connect(io::ErrorKind),
    /// The backend was reached but gave no valid answer.
    Broken(String),
}

/// What every connection of one balancer shares.
pub struct Balancer {
    table: Mutex<Table>,
    limits: Limits,
}

impl Balancer {
    /// A balancer over `backends` (at least one), reading requests within
    /// `limits`.
    pub fn new(backends: Vec<SocketAddr>, limits: Limits) -> Arc<Balancer> {
        assert!(!backends.is_empty(), "a balancer needs a backend");
        Arc::new(Balancer {
            table: Mutex::new(Table::new(backends)),
            limits,
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sessions the balancer remembers now.
    pub fn sessions(&self) -> usize {
        self.table().sessions()
    }

    /// The factory for accepted connections, given the driver's connector.
    pub fn factory(
        self: &Arc<Self>,
        connector: Connector<Conn>,
    ) -> impl Fn(SocketAddr) -> Conn + Send + Sync + 'static {
        let balancer = Arc::clone(self);
        move |peer| {
            Conn::Front(Box::new(Front::new(
                Arc::clone(&balancer),
                connector.clone(),
                peer,
            )))
        }
    }
}

/// One connection of the balancer: to a client, or to a backend.
pub enum Conn {
    /// A client's connection.
    Front(Box<Front>),
    /// A connection to a backend, carrying one request (or a tunnel).
    Back(Box<Back>),
}

impl Protocol for Conn {
    type Mail = Mail;

    fn on_open(&mut self, mailbox: Mailbox<Mail>, ctx: &mut Ctx) {
        match self {
            Conn::Front(front) => front.me = Some(mailbox),
            Conn::Back(back) => back.on_open(mailbox, ctx),
        }
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        match self {
            Conn::Front(front) => front.on_bytes(input, ctx),
            Conn::Back(back) => back.on_bytes(input, ctx),
        }
    }

    fn on_eof(&mut self, input: &[u8], ctx: &mut Ctx) {
        match self {
            Conn::Front(front) => front.on_eof(ctx),
            Conn::Back(back) => back.on_eof(input, ctx),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        if let Conn::Front(front) = self {
            front.on_timer(ctx);
        }
    }

    fn on_message(&mut self, message: Mail, ctx: &mut Ctx) {
        match self {
            Conn::Front(front) => front.on_message(message, ctx),
            Conn::Back(back) => back.on_message(message, ctx),
        }
    }

    fn on_shutdown(&mut self, ctx: &mut Ctx) {
        if let Conn::Front(front) = self {
            front.tell_back(Mail::Eof);
        }
        ctx.close();
    }

    fn on_closed(&mut self, reason: CloseReason) {
        match self {
            Conn::Front(front) => front.tell_back(Mail::Eof),
            Conn::Back(back) => back.on_closed(reason),
        }
    }
}

/// A request being forwarded.
struct InFlight {
    id: u64,
    /// The request as the backend gets it (kept to try another backend).
    bytes: Arc<[u8]>,
    method: String,
    /// The session it names, if any: it must go to that session's backend.
    sid: Option<String>,
    /// A polling handshake: learn the sid from the answer.
    handshake: bool,
    backend: usize,
    /// Backends tried so far.
    tried: usize,
    back: Option<Mailbox<Mail>>,
    deadline: Instant,
}

enum FrontState {
    /// Reading the next request.
    Ready,
    /// A request is with a backend.
    Forwarding(InFlight),
    /// Joined to a backend after a `101`.
    Tunnel(Mailbox<Mail>),
    /// Closing.
    Done,
}

/// The client side. See the module docs.
pub struct Front {
    balancer: Arc<Balancer>,
    connector: Connector<Conn>,
    me: Option<Mailbox<Mail>>,
    peer: SocketAddr,
    http: ServerConn,
    /// Client bytes not yet parsed.
    pending: Vec<u8>,
    state: FrontState,
    next_id: u64,
    /// The client half-closed: finish the current answer, then close.
    client_eof: bool,
}

impl Front {
    fn new(balancer: Arc<Balancer>, connector: Connector<Conn>, peer: SocketAddr) -> Front {
        let http = ServerConn::new(balancer.limits.clone(), Instant::now());
        Front {
            balancer,
            connector,
            me: None,
            peer,
            http,
            pending: Vec::new(),
            state: FrontState::Ready,
            next_id: 0,
            client_eof: false,
        }
    }

    fn tell_back(&mut self, mail: Mail) {
        let back = match &mut self.state {
            FrontState::Forwarding(flight) => flight.back.take(),
            FrontState::Tunnel(back) => Some(back.clone()),
            _ => None,
        };
        if let Some(back) = back {
            let _ = back.send(mail);
        }
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        match &self.state {
            FrontState::Tunnel(back) => {
                if let Err(err) = back.send(Mail::Data(input.to_vec())) {
                    self.tunnel_broken(err, ctx);
                }
            }
            FrontState::Done => {}
            FrontState::Ready | FrontState::Forwarding(_) => {
                if self.pending.len() + input.len() > MAX_PENDING {
                    warn!(
                        "{}: over {MAX_PENDING} bytes sent ahead; dropped",
                        self.peer
                    );
                    self.finish(ctx, true);
                    return input.len();
                }
                self.pending.extend_from_slice(input);
                self.pump(ctx);
            }
        }
        input.len()
    }

    fn tunnel_broken(&mut self, err: MailboxError<Mail>, ctx: &mut Ctx) {
        if !err.is_closed() {
            warn!(
                "{}: the backend side of the tunnel is behind; dropped",
                self.peer
            );
        }
        self.finish(ctx, true);
    }

    /// Ends the connection: abort at once, or close after what is queued.
    fn finish(&mut self, ctx: &mut Ctx, abort: bool) {
        self.tell_back(Mail::Eof);
        self.state = FrontState::Done;
        if abort {
            ctx.abort();
        } else {
            ctx.close();
        }
    }

    /// Parses requests while none is in flight.
    fn pump(&mut self, ctx: &mut Ctx) {
        while matches!(self.state, FrontState::Ready) {
            let mut out = Vec::new();
            let progress = self.http.receive(&self.pending, ctx.now(), &mut out);
            self.pending
                .drain(..progress.consumed.min(self.pending.len()));
            ctx.send(&out);
            match progress.outcome {
                Outcome::NeedMore => break,
                Outcome::Stopped => break,
                Outcome::Request(request) => self.start(request, ctx),
            }
        }
        self.after(ctx);
    }

    /// Closes if HTTP says so, and keeps the timer right.
    fn after(&mut self, ctx: &mut Ctx) {
        match &self.state {
            FrontState::Ready if self.http.should_close() || self.client_eof => {
                self.state = FrontState::Done;
                ctx.close();
            }
            FrontState::Ready => match self.http.deadline() {
                Some(at) => ctx.wake_at(at),
                None => ctx.cancel_timer(),
            },
            FrontState::Forwarding(flight) => ctx.wake_at(flight.deadline),
            FrontState::Tunnel(_) | FrontState::Done => ctx.cancel_timer(),
        }
    }

    /// Routes a request and forwards it.
    fn start(&mut self, request: Request, ctx: &mut Ctx) {
        let now = ctx.now();
        let sid = query_param(request.query(), "sid").map(str::to_string);
        let route = match &sid {
            Some(sid) if sid.len() > super::MAX_SID_LEN => Route::UnknownSession,
            sid => self.balancer.table().route(sid.as_deref(), now),
        };
        let backend = match route {
            Route::Backend(backend) => backend,
            Route::UnknownSession => {
                debug!("{}: unknown sid {:?}", self.peer, sid);
                return self.answer(&ErrorCode::UnknownSid.response(), ctx);
            }
        };
        let upgrade = is_upgrade(&request.headers);
        let handshake = sid.is_none()
            && request.method == "GET"
            && query_param(request.query(), "transport") == Some("polling");
        let bytes = backend_request(&request, upgrade, self.peer);
        self.next_id += 1;
        let flight = InFlight {
            id: self.next_id,
            bytes: Arc::from(bytes),
            method: request.method,
            sid,
            handshake,
            backend,
            tried: 1,
            back: None,
            deadline: now + RESPONSE_TIMEOUT,
        };
        self.connect(flight, ctx);
    }

    /// Opens a back connection for `flight`.
    fn connect(&mut self, flight: InFlight, ctx: &mut Ctx) {
        let Some(me) = self.me.clone() else {
            return self.answer(&bad_gateway("the balancer is not ready"), ctx);
        };
        let addr = self.balancer.table().backends()[flight.backend];
        debug!("{}: request {} to {addr}", self.peer, flight.id);
        let back = Back {
            front: me,
            id: flight.id,
            request: Arc::clone(&flight.bytes),
            parser: Some(ResponseParser::new(&flight.method).max_body(MAX_RESPONSE_BODY)),
            tunnel: false,
            reported: false,
        };
        self.state = FrontState::Forwarding(flight);
        if self
            .connector
            .connect(addr, Conn::Back(Box::new(back)))
            .is_err()
        {
            self.state = FrontState::Ready;
            self.answer(&bad_gateway("the balancer is shutting down"), ctx);
        }
    }

    /// Answers the current request from the balancer itself.
    fn answer(&mut self, response: &Response, ctx: &mut Ctx) {
        self.state = FrontState::Ready;
        let mut out = Vec::new();
        if self.http.respond(response, ctx.now(), &mut out).is_err() {
            warn!("{}: no request to answer", self.peer);
        }
        ctx.send(&out);
    }

    fn on_message(&mut self, message: Mail, ctx: &mut Ctx) {
        match message {
            Mail::Attached { id, back } => match &mut self.state {
                FrontState::Forwarding(flight) if flight.id == id => flight.back = Some(back),
                _ => {
                    let _ = back.send(Mail::Eof);
                }
            },
            Mail::Response { id, response } => {
                let FrontState::Forwarding(flight) = &self.state else {
                    return;
                };
                if flight.id != id {
                    return;
                }
                if flight.handshake
                    && response.status == 200
                    && let Some(sid) = sid_from_open_packet(&response.body)
                {
                    info!("session {sid} lives on backend {}", flight.backend);
                    self.balancer.table().learn(sid, flight.backend, ctx.now());
                }
                if let Some(sid) = &flight.sid
                    && response.status == 400
                    && response.body.starts_with(br#"{"code":1,"#)
                {
                    // The backend no longer knows the session (it closed):
                    // neither will we.
                    self.balancer.table().forget(sid);
                }
                self.balancer.table().mark_up(flight.backend);
                let reply = relay(&response);
                self.answer(&reply, ctx);
                self.pump(ctx);
            }
            Mail::Switched { id, response, rest } => {
                let FrontState::Forwarding(flight) = &mut self.state else {
                    return;
                };
                if flight.id != id {
                    return;
                }
                let Some(back) = flight.back.take() else {
                    return self.finish(ctx, true);
                };
                info!("{}: tunnel to backend {}", self.peer, flight.backend);
                ctx.send(&switching_head(&response));
                ctx.send(&rest);
                // What the client sent after its upgrade request is the
                // start of the new protocol.
                let early = std::mem::take(&mut self.pending);
                self.state = FrontState::Tunnel(back.clone());
                if !early.is_empty()
                    && let Err(err) = back.send(Mail::Data(early))
                {
                    return self.tunnel_broken(err, ctx);
                }
                if self.client_eof {
                    return self.finish(ctx, false);
                }
                ctx.cancel_timer();
            }
            Mail::Failed { id, failure } => {
                let FrontState::Forwarding(flight) = &self.state else {
                    return;
                };
                if flight.id != id {
                    return;
                }
                self.failed(failure, ctx);
            }
            Mail::Data(bytes) => {
                if matches!(self.state, FrontState::Tunnel(_)) {
                    ctx.send(&bytes);
                    if ctx.unsent() > MAX_TUNNEL_UNSENT {
                        warn!("{}: not reading the tunnel; dropped", self.peer);
                        self.finish(ctx, true);
                    }
                }
            }
            Mail::Eof => {
                if matches!(self.state, FrontState::Tunnel(_)) {
                    self.state = FrontState::Done;
                    ctx.close();
                }
            }
        }
    }

    /// The current request got no answer from its backend.
    fn failed(&mut self, failure: Failure, ctx: &mut Ctx) {
        let FrontState::Forwarding(mut flight) =
            std::mem::replace(&mut self.state, FrontState::Ready)
        else {
            return;
        };
        let now = ctx.now();
        let n = self.balancer.table().backends().len();
        let addr = self.balancer.table().backends()[flight.backend];
        match failure {
            Failure::Connect(kind) => {
                warn!("backend {addr} refused a connection: {kind}");
                self.balancer.table().mark_down(flight.backend, now);
                if let Some(sid) = &flight.sid {
                    // The session lived there: it is gone with its server.
                    self.balancer.table().forget(sid);
                    let why = format!("the backend of session {sid} ({addr}) is down");
                    self.answer(&bad_gateway(&why), ctx);
                } else if flight.tried < n {
                    flight.backend = self
                        .balancer
                        .table()
                        .next_backend(now, Some(flight.backend));
                    flight.tried += 1;
                    flight.back = None;
                    self.next_id += 1;
                    flight.id = self.next_id;
                    self.connect(flight, ctx);
                } else {
                    self.answer(&bad_gateway("no backend accepts connections"), ctx);
                }
            }
            Failure::Broken(why) => {
                warn!("backend {addr}: {why}");
                self.answer(&bad_gateway(&format!("backend {addr}: {why}")), ctx);
            }
        }
        self.pump(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        match &self.state {
            FrontState::Forwarding(flight) if ctx.now() >= flight.deadline => {
                warn!(
                    "{}: backend {} did not answer in time",
                    self.peer, flight.backend
                );
                self.tell_back(Mail::Eof);
                self.state = FrontState::Ready;
                let timeout = Response::new(504).text("the backend did not answer in time\n");
                self.answer(&timeout, ctx);
                self.pump(ctx);
            }
            FrontState::Ready => {
                let mut out = Vec::new();
                self.http.on_timer(ctx.now(), &mut out);
                ctx.send(&out);
                self.after(ctx);
            }
            _ => self.after(ctx),
        }
    }

    fn on_eof(&mut self, ctx: &mut Ctx) {
        self.client_eof = true;
        match self.state {
            FrontState::Forwarding(_) => {} // answer first, then close
            _ => self.finish(ctx, false),
        }
    }
}

/// The back side: one request to one backend (or a tunnel after `101`).
pub struct Back {
    front: Mailbox<Mail>,
    id: u64,
    request: Arc<[u8]>,
    parser: Option<ResponseParser>,
    tunnel: bool,
    /// The front has heard the outcome: nothing more to report on close.
    reported: bool,
}

impl Back {
    fn on_open(&mut self, mailbox: Mailbox<Mail>, ctx: &mut Ctx) {
        let attached = Mail::Attached {
            id: self.id,
            back: mailbox,
        };
        if self.front.send(attached).is_err() {
            self.reported = true;
            ctx.abort();
            return;
        }
        ctx.send_shared(Arc::clone(&self.request));
    }

    fn report(&mut self, mail: Mail, ctx: &mut Ctx) {
        self.reported = true;
        if self.front.send(mail).is_err() {
            ctx.abort();
        }
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        if self.tunnel {
            if self.front.send(Mail::Data(input.to_vec())).is_err() {
                ctx.abort();
            }
            return input.len();
        }
        let Some(parser) = &mut self.parser else {
            return input.len(); // answered: the rest is not ours to read
        };
        match parser.feed(input) {
            Ok((used, None)) => used,
            Ok((used, Some(response))) if response.status == 101 => {
                self.parser = None;
                self.tunnel = true;
                let mail = Mail::Switched {
                    id: self.id,
                    response,
                    rest: input[used..].to_vec(),
                };
                self.report(mail, ctx);
                input.len()
            }
            Ok((_, Some(response))) => {
                self.parser = None;
                let mail = Mail::Response {
                    id: self.id,
                    response,
                };
                self.report(mail, ctx);
                ctx.close();
                input.len()
            }
            Err(err) => {
                self.parser = None;
                let failure = Failure::Broken(format!("invalid response: {err}"));
                let mail = Mail::Failed {
                    id: self.id,
                    failure,
                };
                self.report(mail, ctx);
                ctx.abort();
                input.len()
            }
        }
    }

    fn on_eof(&mut self, input: &[u8], ctx: &mut Ctx) {
        if let Some(parser) = &mut self.parser {
            // A body that runs to the end of the stream ends here.
            let _ = parser.feed(input);
            let mail = match parser.finish() {
                Ok(response) => Mail::Response {
                    id: self.id,
                    response,
                },
                Err(err) => Mail::Failed {
                    id: self.id,
                    failure: Failure::Broken(err.to_string()),
                },
            };
            self.parser = None;
            self.report(mail, ctx);
        } else if self.tunnel {
            let _ = self.front.send(Mail::Eof);
            self.reported = true;
        }
        ctx.close();
    }

    fn on_message(&mut self, message: Mail, ctx: &mut Ctx) {
        match message {
            Mail::Data(bytes) => {
                ctx.send(&bytes);
                if ctx.unsent() > MAX_TUNNEL_UNSENT {
                    warn!("backend not reading the tunnel; dropped");
                    ctx.abort();
                }
            }
            Mail::Eof => {
                self.reported = true;
                ctx.close();
            }
            _ => {}
        }
    }

    fn on_closed(&mut self, reason: CloseReason) {
        if self.tunnel {
            let _ = self.front.send(Mail::Eof);
        } else if !self.reported {
            let failure = match reason {
                CloseReason::ConnectFailed(kind) => Failure::Connect(kind),
                other => Failure::Broken(format!("connection ended: {other}")),
            };
            let _ = self.front.send(Mail::Failed {
                id: self.id,
                failure,
            });
        }
    }
}

/// Whether a request asks to switch to WebSocket.
fn is_upgrade(headers: &Headers) -> bool {
    headers.has_token("Connection", "upgrade") && headers.has_token("Upgrade", "websocket")
}

/// Header fields that describe one hop, not the message (RFC 9110 §7.6.1):
/// never forwarded as they are.
const HOP_BY_HOP: [&str; 9] = [
    "Connection",
    // Answered by the balancer itself (chapter 2's `100 Continue`).
    "Expect",
    "Keep-Alive",
    "Proxy-Connection",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "Content-Length",
];

/// The request as the backend gets it: hop-by-hop fields dropped (kept for
/// an upgrade, which needs `Connection: Upgrade` and `Upgrade`), the body
/// with its length, `Connection: close`, and the client's address in
/// `X-Forwarded-For`.
fn backend_request(request: &Request, upgrade: bool, peer: SocketAddr) -> Vec<u8> {
    let mut headers = Headers::new();
    for (name, value) in request.headers.iter() {
        let hop = HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name));
        let keep = upgrade
            && (name.eq_ignore_ascii_case("Connection") || name.eq_ignore_ascii_case("Upgrade"));
        if !hop || keep {
            headers.push(name, value.to_vec());
        }
    }
    if !upgrade {
        headers.push("Connection", "close");
    }
    headers.push("X-Forwarded-For", peer.ip().to_string());
    let mut out = Vec::new();
    write_request(
        &request.method,
        &request.target,
        &headers,
        &request.body,
        &mut out,
    );
    out
}

/// The backend's answer as the client gets it: its status and fields, minus
/// hop-by-hop ones ([`ServerConn`] frames the body for this connection).
fn relay(response: &ClientResponse) -> Response {
    let mut reply = Response::new(response.status).reason(response.reason.clone());
    for (name, value) in response.headers.iter() {
        if !HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            reply = reply.header(name, value.to_vec());
        }
    }
    reply.body(response.body.clone())
}

/// A `101` head, fields as the backend sent them.
fn switching_head(response: &ClientResponse) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 101 {}\r\n", response.reason).into_bytes();
    for (name, value) in response.headers.iter() {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A `502 Bad Gateway` saying why.
fn bad_gateway(why: &str) -> Response {
    Response::new(502).text(format!("bad gateway: {why}\n"))
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
