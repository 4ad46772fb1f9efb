//! The server side of one HTTP/1.1 connection, sans-IO.
//!
//! [`ServerConn`] is fed the bytes that arrived and hands back whole
//! [`Request`]s; it is handed [`Response`]s and writes their bytes. It never
//! touches a socket or the clock: callers pass `now` in, and ask
//! [`ServerConn::deadline`] when they want to be woken.
//!
//! It keeps the rules a connection lives by:
//!
//! - **order**: responses go out in the order the requests came
//!   (pipelining). Each request handed out owes one response; an error found
//!   in a later request waits behind the responses still owed;
//! - **persistence**: after a response that ends the connection
//!   (`Connection: close`, HTTP/1.0 without keep-alive, any error) nothing
//!   more is read, and [`ServerConn::should_close`] turns true once every
//!   owed response is written;
//! - **limits** and **timeouts** from [`Limits`].

use super::chunked::{ChunkedDecoder, ChunkedLimits, write_chunk, write_last_chunk};
use super::error::RequestError;
use super::headers::{Headers, Version};
use super::limits::Limits;
use super::request::{BodyKind, Request, RequestHead, parse_head};
use super::response::{Answering, BodyFraming, Response, write_head, write_response};
use std::collections::VecDeque;
use std::time::Instant;

/// What one [`ServerConn::receive`] call found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of input used. The caller must not offer them again.
    pub consumed: usize,
    /// What came of them.
    pub outcome: Outcome,
}

/// The result of feeding bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No whole request yet: offer the rest of the input again with more.
    NeedMore,
    /// A whole request. It owes a response ([`ServerConn::respond`]).
    Request(Request),
    /// The connection reads no more requests: it failed (the error answer is
    /// written or queued) or a response ended it. Close once
    /// [`ServerConn::should_close`] says so.
    Stopped,
}

/// Where the reader is.
#[derive(Debug)]
enum Reading {
    /// Between requests, or inside a head.
    Head,
    /// Inside a body (boxed: a head is large, and the other states tiny).
    Body(Box<InBody>),
    /// No more requests will be read.
    Stopped,
}

/// A request whose body is being read.
#[derive(Debug)]
struct InBody {
    head: RequestHead,
    body: Vec<u8>,
    decoder: BodyDecoder,
    /// A `100 Continue` is owed, but earlier responses must go first.
    continue_owed: bool,
}

#[derive(Debug)]
enum BodyDecoder {
    Length(u64),
    Chunked(ChunkedDecoder, Headers),
}

/// What a response must know of the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owed {
    head_only: bool,
    keep_alive: bool,
    version: Version,
}

/// A streamed (chunked) response in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Streaming {
    owed: Owed,
    framing: BodyFraming,
}

/// Responding in the wrong state: no request is waiting for an answer, or
/// a streamed response is (or is not) in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NothingToAnswer;

impl std::fmt::Display for NothingToAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no request is waiting for this response")
    }
}

impl std::error::Error for NothingToAnswer {}

/// One HTTP/1.1 server connection. See the module docs.
#[derive(Debug)]
pub struct ServerConn {
    limits: Limits,
    reading: Reading,
    /// Requests handed out and not yet answered, oldest first.
    owed: VecDeque<Owed>,
    /// The error answer for a bad request that arrived behind owed ones.
    queued_error: Option<Response>,
    streaming: Option<Streaming>,
    /// When the current head's first byte arrived (for the head timeout).
    head_started: Option<Instant>,
    /// When the current body started (for the body timeout).
    body_started: Option<Instant>,
    /// When the connection last became idle (for the idle timeout).
    idle_since: Option<Instant>,
    /// The idle timeout fired: close without a word.
    expired: bool,
}

impl ServerConn {
    /// A connection with `limits`, opened at `now` (the idle clock starts).
    pub fn new(limits: Limits, now: Instant) -> ServerConn {
        ServerConn {
            limits,
            reading: Reading::Head,
            owed: VecDeque::new(),
            queued_error: None,
            streaming: None,
            head_started: None,
            body_started: None,
            idle_since: Some(now),
            expired: false,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    // ANCHOR: parse_loop
    /// Feeds `input` (everything buffered). Any interim or error response is
    /// appended to `out`. Call again with what is left after each request:
    /// one buffer may hold several pipelined requests.
    pub fn receive(&mut self, input: &[u8], now: Instant, out: &mut Vec<u8>) -> Progress {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match &mut self.reading {
                Reading::Stopped => {
                    // Nothing after a failure can be trusted: discard it.
                    return progress(input.len(), Outcome::Stopped);
                }
                Reading::Head => {
                    // Empty lines between requests are allowed (RFC 9112 §2.2).
                    let blank = leading_empty_lines(rest);
                    used += blank;
                    let rest = &input[used..];
                    if rest.is_empty() {
                        return progress(used, Outcome::NeedMore);
                    }
                    self.idle_since = None;
                    self.head_started.get_or_insert(now);
                    match parse_head(rest, &self.limits) {
                        Ok(None) => return progress(used, Outcome::NeedMore),
                        Ok(Some((head, len))) => {
                            used += len;
                            self.head_started = None;
                            if let Some(request) = self.start_body(head, now, out) {
                                return progress(used, Outcome::Request(request));
                            }
                        }
                        Err(error) => return progress(input.len(), self.fail(error, out)),
                    }
                }
                Reading::Body(_) => match self.read_body(rest) {
                    Ok((len, None)) => return progress(used + len, Outcome::NeedMore),
                    Ok((len, Some(request))) => {
                        return progress(used + len, Outcome::Request(request));
                    }
                    Err(error) => return progress(input.len(), self.fail(error, out)),
                },
            }
        }
    }
    // ANCHOR_END: parse_loop

    /// After a head: a request without a body is complete now; otherwise
    /// reading moves to the body (after a `100 Continue`, if asked for).
    fn start_body(
        &mut self,
        head: RequestHead,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Option<Request> {
        let decoder = match head.body {
            BodyKind::Empty => {
                self.owe(&head);
                return Some(head.into_request(Vec::new(), Headers::new()));
            }
            BodyKind::Length(len) => BodyDecoder::Length(len),
            BodyKind::Chunked => BodyDecoder::Chunked(
                ChunkedDecoder::new(ChunkedLimits {
                    max_body: self.limits.max_body_bytes,
                    max_line: self.limits.max_chunk_line,
                    max_trailer_bytes: self.limits.max_head_bytes,
                    max_trailers: self.limits.max_headers,
                }),
                Headers::new(),
            ),
        };
        let continue_owed = head.expects_continue;
        self.reading = Reading::Body(Box::new(InBody {
            head,
            body: Vec::new(),
            decoder,
            continue_owed,
        }));
        if !continue_owed {
            self.body_started = Some(now);
        }
        self.send_continue_if_due(now, out);
        None
    }

    /// Sends the owed `100 Continue` once no earlier response is still owed:
    /// an interim response must not cut into another request's answer.
    /// The body clock starts then: the client is not sending before it.
    fn send_continue_if_due(&mut self, now: Instant, out: &mut Vec<u8>) {
        if let Reading::Body(in_body) = &mut self.reading
            && in_body.continue_owed
            && self.owed.is_empty()
            && self.streaming.is_none()
        {
            in_body.continue_owed = false;
            self.body_started = Some(now);
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
    }

    /// Reads body bytes from `rest`: how many it used, and the request once
    /// the body is complete.
    fn read_body(&mut self, rest: &[u8]) -> Result<(usize, Option<Request>), RequestError> {
        let Reading::Body(in_body) = &mut self.reading else {
            return Ok((0, None));
        };
        let InBody { body, decoder, .. } = &mut **in_body;
        let (used, done) = match decoder {
            BodyDecoder::Length(remaining) => {
                // `take` fits in usize: it is at most `rest.len()`.
                let take = (*remaining).min(rest.len() as u64) as usize;
                body.extend_from_slice(&rest[..take]);
                *remaining -= take as u64;
                (take, *remaining == 0)
            }
            BodyDecoder::Chunked(chunked, trailers) => {
                let progress = chunked
                    .decode(rest, body, trailers)
                    .map_err(chunked_error)?;
                (progress.consumed, progress.done)
            }
        };
        if !done {
            return Ok((used, None));
        }
        let finished = std::mem::replace(&mut self.reading, Reading::Head);
        let Reading::Body(in_body) = finished else {
            return Ok((used, None));
        };
        let InBody {
            head,
            body,
            decoder,
            ..
        } = *in_body;
        let trailers = match decoder {
            BodyDecoder::Chunked(_, trailers) => trailers,
            BodyDecoder::Length(_) => Headers::new(),
        };
        self.body_started = None;
        self.owe(&head);
        Ok((used, Some(head.into_request(body, trailers))))
    }

    /// Records that `head` owes a response.
    fn owe(&mut self, head: &RequestHead) {
        self.owed.push_back(Owed {
            head_only: head.method == "HEAD",
            keep_alive: head.keep_alive,
            version: head.version,
        });
    }

    // ANCHOR: fail
    /// A request went wrong: answer with the error's status (now, or after
    /// the responses still owed), then stop reading.
    fn fail(&mut self, error: RequestError, out: &mut Vec<u8>) -> Outcome {
        tracing::debug!("refusing a request: {error}");
        self.reading = Reading::Stopped;
        self.head_started = None;
        self.body_started = None;
        let response = error.response();
        if self.owed.is_empty() && self.streaming.is_none() {
            write_response(&response, closing(Version::Http11), out);
        } else {
            self.queued_error = Some(response);
        }
        Outcome::Stopped
    }
    // ANCHOR_END: fail

    /// Answers the oldest unanswered request with a whole response.
    pub fn respond(
        &mut self,
        response: &Response,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<(), NothingToAnswer> {
        if self.streaming.is_some() {
            return Err(NothingToAnswer);
        }
        let owed = self.owed.pop_front().ok_or(NothingToAnswer)?;
        let to = self.answering(owed, response);
        write_response(response, to, out);
        self.answered(to.keep_alive, now, out);
        Ok(())
    }

    /// Starts a streamed response to the oldest unanswered request: the head
    /// now, the body in [`ServerConn::send_chunk`]s, then
    /// [`ServerConn::finish_stream`]. `response.body` is ignored. HTTP/1.0
    /// clients cannot read chunks, so they get the raw bytes and the end of
    /// the body is the end of the connection.
    pub fn start_stream(
        &mut self,
        response: &Response,
        out: &mut Vec<u8>,
    ) -> Result<(), NothingToAnswer> {
        if self.streaming.is_some() {
            return Err(NothingToAnswer);
        }
        let owed = self.owed.pop_front().ok_or(NothingToAnswer)?;
        let mut to = self.answering(owed, response);
        let framing = if to.version == Version::Http11 {
            BodyFraming::Chunked
        } else {
            to.keep_alive = false;
            BodyFraming::UntilClose
        };
        write_head(response, framing, to, out);
        self.streaming = Some(Streaming {
            owed: Owed {
                keep_alive: to.keep_alive,
                ..owed
            },
            framing,
        });
        Ok(())
    }

    /// Sends part of a streamed body.
    pub fn send_chunk(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), NothingToAnswer> {
        let streaming = self.streaming.ok_or(NothingToAnswer)?;
        match streaming.framing {
            _ if streaming.owed.head_only => {}
            BodyFraming::Chunked => write_chunk(data, out),
            _ => out.extend_from_slice(data),
        }
        Ok(())
    }

    /// Ends a streamed body.
    pub fn finish_stream(
        &mut self,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<(), NothingToAnswer> {
        let streaming = self.streaming.take().ok_or(NothingToAnswer)?;
        if streaming.framing == BodyFraming::Chunked && !streaming.owed.head_only {
            write_last_chunk(out);
        }
        self.answered(streaming.owed.keep_alive, now, out);
        Ok(())
    }

    /// How to answer `owed` with `response`.
    fn answering(&self, owed: Owed, response: &Response) -> Answering {
        Answering {
            head_only: owed.head_only,
            // A handler may end the connection; it cannot revive one the
            // client is ending.
            keep_alive: owed.keep_alive && !response.closes_connection(),
            version: owed.version,
        }
    }

    /// Bookkeeping after a response went out.
    fn answered(&mut self, keep_alive: bool, now: Instant, out: &mut Vec<u8>) {
        if !keep_alive {
            // Requests read behind this one will never be answered.
            self.reading = Reading::Stopped;
            self.owed.clear();
            self.queued_error = None;
            return;
        }
        if self.owed.is_empty() {
            if let Some(error) = self.queued_error.take() {
                write_response(&error, closing(Version::Http11), out);
                return;
            }
            self.send_continue_if_due(now, out);
            if matches!(self.reading, Reading::Head) && self.head_started.is_none() {
                self.idle_since = Some(now);
            }
        }
    }

    /// Whether everything owed is written and no more will be read: the
    /// caller should close once the output is flushed.
    pub fn should_close(&self) -> bool {
        self.expired
            || (matches!(self.reading, Reading::Stopped)
                && self.owed.is_empty()
                && self.queued_error.is_none()
                && self.streaming.is_none())
    }

    /// Requests handed out and not yet answered.
    pub fn unanswered(&self) -> usize {
        self.owed.len() + usize::from(self.streaming.is_some())
    }

    /// When [`ServerConn::on_timer`] should next run, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        if self.should_close() {
            return None;
        }
        if let Some(started) = self.head_started {
            return Some(started + self.limits.head_timeout);
        }
        if let Some(started) = self.body_started {
            return Some(started + self.limits.body_timeout);
        }
        match self.idle_since {
            Some(since) if self.unanswered() == 0 => Some(since + self.limits.idle_timeout),
            _ => None,
        }
    }

    // ANCHOR: timeouts
    /// The timer fired at `now`: a head or body that is late gets 408; a
    /// connection idle too long is to be closed without a word. Early calls
    /// do nothing, so a spurious wake-up is harmless.
    pub fn on_timer(&mut self, now: Instant, out: &mut Vec<u8>) {
        let late = |start: Option<Instant>, limit| start.is_some_and(|s: Instant| now >= s + limit);
        if late(self.head_started, self.limits.head_timeout)
            || late(self.body_started, self.limits.body_timeout)
        {
            self.fail(RequestError::Timeout, out);
        } else if self.unanswered() == 0 && late(self.idle_since, self.limits.idle_timeout) {
            self.reading = Reading::Stopped;
            self.expired = true;
        }
    }
    // ANCHOR_END: timeouts
}

fn progress(consumed: usize, outcome: Outcome) -> Progress {
    Progress { consumed, outcome }
}

/// Error answers end the connection.
fn closing(version: Version) -> Answering {
    Answering {
        head_only: false,
        keep_alive: false,
        version,
    }
}

/// How many bytes of empty lines (`\r\n` or `\n`) start `input`.
fn leading_empty_lines(input: &[u8]) -> usize {
    let mut used = 0;
    loop {
        match &input[used..] {
            [b'\r', b'\n', ..] => used += 2,
            [b'\n', ..] => used += 1,
            _ => return used,
        }
    }
}

/// The status for a chunked-body failure.
fn chunked_error(error: super::chunked::ChunkedError) -> RequestError {
    use super::chunked::ChunkedError;
    match error {
        ChunkedError::Malformed(what) => RequestError::BadRequest(what),
        ChunkedError::TooLarge => RequestError::BodyTooLarge,
        ChunkedError::TrailersTooLarge => RequestError::HeadTooLarge,
        ChunkedError::TooManyTrailers => RequestError::TooManyHeaders,
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
