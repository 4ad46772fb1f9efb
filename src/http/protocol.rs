//! [`HttpProtocol`]: a [`ServerConn`] behind the driver's [`Protocol`] trait,
//! calling an application [`Handler`].
//!
//! # Answering now or later
//!
//! For each request the handler returns a [`Reply`]:
//!
//! - [`Reply::Now`] with the response, written at once;
//! - [`Reply::Later`]: the request is *held*. The handler keeps the
//!   [`Responder`] it was given and, from any thread, calls
//!   [`Responder::send`] when the answer exists. The response travels as a
//!   [`HttpMail`] through the connection's [`Mailbox`], so the connection's
//!   own thread writes it, in order with everything else. If `within`
//!   passes first, the `otherwise` response is sent instead.
//!
//! Long polling is exactly this: `GET /poll` stores its responder and
//! replies `Later { within: 30 s, otherwise: 204 }`; `POST /send` takes the
//! stored responders and sends each the message.
//!
//! A held request is answered exactly once. Its responders (clones share
//! one answer slot) and the connection agree through that slot: the first
//! [`Responder::send`] wins; a later one, a send after the request timed
//! out, and a send to a connection that has closed all fail and hand the
//! response back, so the caller can give it to someone else (a long poll's
//! message goes to the next poller instead of vanishing). A response that
//! was accepted is the one written: the `otherwise` response no longer
//! races it. Each responder also carries its request's number, so an answer
//! can never be mistaken for the answer to the *next* request.
//!
//! # Held requests and pipelining
//!
//! Responses must leave in request order. While a request is held, this
//! protocol reads no further requests: bytes that arrive are kept (up to
//! one full request's worth, `max_head_bytes + max_body_bytes`) and parsed
//! once the held request is answered. A client that sends more than that
//! behind a held request is disconnected.
//!
//! The same waiting protects memory from a peer that pipelines requests
//! and reads slowly, or not at all. One read can hold a thousand tiny
//! `GET`s for a large file, and answering them all at once would queue a
//! thousand copies of it. So once [`MAX_QUEUED_OUTPUT`] bytes wait for the
//! peer ([`Ctx::unsent`]), no further request is parsed: the rest is kept
//! as above, and the connection looks again every [`BACKLOG_RETRY`] until
//! the peer has taken enough.

use super::limits::Limits;
use super::request::Request;
use super::response::Response;
use super::server::{Outcome, ServerConn};
use crate::driver::{CloseReason, Ctx, Mailbox, Protocol};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ANCHOR: handler
/// The application: turns requests into responses.
///
/// Answer `HEAD` as you would `GET`: the writer sends the head only, with
/// the `Content-Length` of the body you gave. Errors in the request itself
/// (the limits table) never reach the handler.
pub trait Handler: Send + Sync + 'static {
    /// Answers `request`, now or later through `responder`.
    fn handle(&self, request: Request, responder: Responder) -> Reply;
}

/// Any `Fn(Request, Responder) -> Reply` closure is a handler.
impl<F> Handler for F
where
    F: Fn(Request, Responder) -> Reply + Send + Sync + 'static,
{
    fn handle(&self, request: Request, responder: Responder) -> Reply {
        self(request, responder)
    }
}

/// A handler's answer to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Send this response now.
    Now(Response),
    /// Hold the request: the response will come through the [`Responder`].
    /// If it has not come `within` this time, send `otherwise`.
    Later {
        /// How long to wait for the responder.
        within: Duration,
        /// What to send if it does not answer in time (204 for a long poll).
        otherwise: Response,
    },
}

/// What reaches an HTTP connection through its [`Mailbox`].
#[derive(Debug, Clone)]
pub enum HttpMail {
    /// The response to held request number `request`.
    Respond {
        /// Which request ([`Responder`]s know).
        request: u64,
        /// The answer.
        response: Response,
    },
}

/// Where a request's answer stands, shared by its responders and the
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Held, and nobody has answered yet.
    Waiting,
    /// A responder's answer is on its way through the mailbox.
    Sent,
    /// Answered otherwise (at once, or by the timeout), or the connection
    /// is gone: a responder's answer would go nowhere.
    Closed,
}

type AnswerSlot = Arc<Mutex<Answer>>;

fn set(slot: &AnswerSlot, from: Answer, to: Answer) -> bool {
    let mut answer = slot.lock().unwrap_or_else(|e| e.into_inner());
    if *answer == from {
        *answer = to;
        true
    } else {
        false
    }
}

/// Answers one request, from any thread, after its handler has returned
/// [`Reply::Later`]. Cheap to clone; only the first answer counts.
#[derive(Debug, Clone)]
pub struct Responder {
    mailbox: Option<Mailbox<HttpMail>>,
    request: u64,
    slot: AnswerSlot,
}

impl Responder {
    /// Delivers `response` to the connection, exactly once. If it cannot be
    /// the answer (already answered, timed out, the client left, or the
    /// connection is not keeping up), it is handed back.
    pub fn send(&self, response: Response) -> Result<(), Response> {
        let Some(mailbox) = &self.mailbox else {
            return Err(response);
        };
        // Holding the slot while sending: the connection cannot time the
        // request out between our check and the message's arrival.
        let mut answer = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if *answer != Answer::Waiting {
            return Err(response);
        }
        let mail = HttpMail::Respond {
            request: self.request,
            response,
        };
        match mailbox.send(mail) {
            Ok(()) => {
                *answer = Answer::Sent;
                Ok(())
            }
            Err(err) => match err.into_message() {
                HttpMail::Respond { response, .. } => Err(response),
            },
        }
    }

    /// The number of the request this responder answers.
    pub fn request(&self) -> u64 {
        self.request
    }
}
// ANCHOR_END: handler

/// The request being held, and what to do when its time is up.
#[derive(Debug)]
struct Held {
    request: u64,
    deadline: Instant,
    otherwise: Response,
    slot: AnswerSlot,
}

/// Bytes waiting for the peer beyond which no further pipelined request is
/// parsed until they drain: at most this plus one response is queued.
pub const MAX_QUEUED_OUTPUT: usize = 1024 * 1024;

/// How often a connection that stopped parsing for that reason looks again.
pub const BACKLOG_RETRY: Duration = Duration::from_millis(2);

/// One HTTP connection running `H`. See the module docs.
pub struct HttpProtocol<H> {
    handler: Arc<H>,
    limits: Limits,
    /// Made in `on_open`, where the clock is first known.
    conn: Option<ServerConn>,
    mailbox: Option<Mailbox<HttpMail>>,
    next_request: u64,
    held: Option<Held>,
    /// Bytes that arrived while a request was held, not yet parsed.
    stash: Vec<u8>,
    /// The peer has half-closed: finish what is owed, then close.
    peer_done: bool,
    /// Parsing stopped with [`MAX_QUEUED_OUTPUT`] bytes waiting for the
    /// peer; the rest is in `stash`.
    backlogged: bool,
}

impl<H: Handler> HttpProtocol<H> {
    /// A connection that will serve `handler` within `limits`.
    pub fn new(handler: Arc<H>, limits: Limits) -> HttpProtocol<H> {
        HttpProtocol {
            handler,
            limits,
            conn: None,
            mailbox: None,
            next_request: 0,
            held: None,
            stash: Vec::new(),
            peer_done: false,
            backlogged: false,
        }
    }

    /// A factory for a driver: one `HttpProtocol` per accepted connection,
    /// all sharing `handler`.
    pub fn factory(
        handler: H,
        limits: Limits,
    ) -> impl Fn(SocketAddr) -> HttpProtocol<H> + Send + Sync + 'static {
        let handler = Arc::new(handler);
        move |_peer| HttpProtocol::new(Arc::clone(&handler), limits.clone())
    }

    /// The connection, made on first use if the driver skipped `on_open`.
    fn conn(&mut self, now: Instant) -> &mut ServerConn {
        let limits = &self.limits;
        self.conn
            .get_or_insert_with(|| ServerConn::new(limits.clone(), now))
    }

    // ANCHOR: dispatch
    /// Parses and answers requests in `input` until it runs out, a request is
    /// held, the peer has enough answers waiting, or the connection stops.
    /// Returns the bytes used.
    fn serve(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        let mut used = 0;
        while self.held.is_none() {
            if ctx.unsent() >= MAX_QUEUED_OUTPUT && used < input.len() {
                self.backlogged = true;
                break;
            }
            let now = ctx.now();
            let progress = self
                .conn(now)
                .receive(&input[used..], now, ctx.send_buffer());
            used += progress.consumed;
            match progress.outcome {
                Outcome::Request(request) => self.dispatch(request, ctx),
                Outcome::NeedMore | Outcome::Stopped => break,
            }
        }
        used
    }

    /// Hands one request to the handler and acts on its reply.
    fn dispatch(&mut self, request: Request, ctx: &mut Ctx) {
        let number = self.next_request;
        self.next_request += 1;
        let slot: AnswerSlot = Arc::new(Mutex::new(Answer::Waiting));
        let responder = Responder {
            mailbox: self.mailbox.clone(),
            request: number,
            slot: Arc::clone(&slot),
        };
        match self.handler.handle(request, responder) {
            Reply::Now(response) => {
                set(&slot, Answer::Waiting, Answer::Closed);
                self.respond(&response, ctx);
            }
            Reply::Later { within, otherwise } => {
                self.held = Some(Held {
                    request: number,
                    deadline: ctx.now() + within,
                    otherwise,
                    slot,
                });
            }
        }
    }
    // ANCHOR_END: dispatch

    fn respond(&mut self, response: &Response, ctx: &mut Ctx) {
        let now = ctx.now();
        // Every request the connection handed out owes exactly one response,
        // and this is it, so the call cannot fail; if it ever did, the bug
        // should show in the log, not take the process down.
        if self
            .conn(now)
            .respond(response, now, ctx.send_buffer())
            .is_err()
        {
            tracing::error!("a response with no request to answer");
        }
    }

    /// The held request was answered: parse what waited behind it.
    fn release(&mut self, response: &Response, ctx: &mut Ctx) {
        self.held = None;
        self.respond(response, ctx);
        self.resume(ctx);
    }

    /// Parses what was kept.
    fn resume(&mut self, ctx: &mut Ctx) {
        self.backlogged = false;
        let stash = std::mem::take(&mut self.stash);
        let used = self.serve(&stash, ctx);
        self.keep_unparsed(&stash[used.min(stash.len())..], ctx);
    }

    /// Keeps bytes that cannot be parsed yet because a request is held (or
    /// because earlier bytes are already kept).
    fn keep_unparsed(&mut self, bytes: &[u8], ctx: &mut Ctx) {
        let cap = self.limits.max_head_bytes + self.limits.max_body_bytes;
        if self.stash.len() + bytes.len() > cap {
            tracing::debug!("{}: too much pipelined behind a held request", ctx.peer());
            ctx.abort();
            return;
        }
        self.stash.extend_from_slice(bytes);
    }

    /// After every callback: close if done, else ask for the next deadline.
    fn settle(&mut self, ctx: &mut Ctx) {
        let now = ctx.now();
        let conn = self.conn(now);
        let finished = conn.should_close();
        let owed = conn.unanswered();
        let conn_deadline = conn.deadline();
        let waiting = self.held.is_some() || self.backlogged;
        if finished || (self.peer_done && !waiting && owed == 0) {
            ctx.close();
            return;
        }
        let held_deadline = self.held.as_ref().map(|held| held.deadline);
        let retry = self.backlogged.then(|| now + BACKLOG_RETRY);
        match [held_deadline, conn_deadline, retry]
            .into_iter()
            .flatten()
            .min()
        {
            Some(at) => ctx.wake_at(at),
            None => ctx.cancel_timer(),
        }
    }
}

impl<H: Handler> Protocol for HttpProtocol<H> {
    type Mail = HttpMail;

    fn on_open(&mut self, mailbox: Mailbox<HttpMail>, ctx: &mut Ctx) {
        self.mailbox = Some(mailbox);
        self.conn(ctx.now());
        self.settle(ctx);
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        let used = if self.held.is_some() {
            // Wait: responses must stay in order.
            self.keep_unparsed(input, ctx);
            input.len()
        } else if !self.stash.is_empty() {
            // Earlier bytes were kept: the new ones go behind them.
            let mut stash = std::mem::take(&mut self.stash);
            stash.extend_from_slice(input);
            let used = self.serve(&stash, ctx);
            self.keep_unparsed(&stash[used.min(stash.len())..], ctx);
            input.len()
        } else {
            let used = self.serve(input, ctx);
            if self.held.is_some() || self.backlogged {
                // Held (or backlogged) mid-buffer: keep the rest ourselves,
                // because the driver only offers its leftovers again when new
                // bytes arrive, and we go on from `on_message` or `on_timer`.
                self.keep_unparsed(&input[used..], ctx);
                input.len()
            } else {
                used
            }
        };
        self.settle(ctx);
        used
    }

    fn on_eof(&mut self, input: &[u8], ctx: &mut Ctx) {
        // A partial request in `input` can never complete; what is owed is
        // still answered (the client may be reading after half-closing).
        let _ = input;
        self.peer_done = true;
        self.settle(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        let now = ctx.now();
        // Time is up, unless an answer is already on its way: then it is
        // the one to write, and it arrives with the next message.
        if let Some(held) = self.held.take_if(|held| {
            now >= held.deadline && set(&held.slot, Answer::Waiting, Answer::Closed)
        }) {
            self.release(&held.otherwise, ctx);
        }
        if self.backlogged && self.held.is_none() && ctx.unsent() < MAX_QUEUED_OUTPUT {
            self.resume(ctx);
        }
        let conn = self.conn(now);
        conn.on_timer(now, ctx.send_buffer());
        self.settle(ctx);
    }

    fn on_message(&mut self, message: HttpMail, ctx: &mut Ctx) {
        match message {
            HttpMail::Respond { request, response } => {
                if self
                    .held
                    .as_ref()
                    .is_some_and(|held| held.request == request)
                {
                    self.release(&response, ctx);
                } else {
                    tracing::debug!(
                        "{}: dropping a late answer to request {request}",
                        ctx.peer()
                    );
                }
            }
        }
        self.settle(ctx);
    }

    fn on_closed(&mut self, reason: CloseReason) {
        let _ = reason;
        if let Some(held) = self.held.take() {
            set(&held.slot, Answer::Waiting, Answer::Closed);
        }
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
