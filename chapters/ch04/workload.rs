//! The load: one closed-loop echo client per connection, as a sans-IO
//! protocol on netladder's own mio loop.
//!
//! Closed loop: each connection has exactly one message in flight. It sends,
//! waits for the whole echo, checks every byte, records the round trip, and
//! sends the next, until the run's deadline or message budget.

use crate::stats::Latencies;
use netladder::driver::{Ctx, Mailbox, Protocol};
use netladder::http::client::parse_response_head;
use netladder::ws::Role;
use netladder::ws::deflate::{Deflate, DeflateConfig};
use netladder::ws::frame::{self, Opcode};
use netladder::ws::handshake::client::ClientHandshake;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Everything the connections of one run share.
pub struct Run {
    /// When connections stop sending.
    pub deadline: Instant,
    /// Messages still allowed (the `--messages` cap).
    pub budget: AtomicU64,
    /// Connections that completed their first round trip.
    pub established: AtomicUsize,
    /// Connections that failed: a wrong echo, or no answer by the grace time.
    pub failed: AtomicUsize,
    /// Every recorded round trip (merged when a connection ends).
    pub latencies: Mutex<Latencies>,
    /// Messages echoed and verified.
    pub messages: AtomicU64,
}

/// How long past the deadline a connection may wait for its last echo.
pub const GRACE: Duration = Duration::from_secs(10);

impl Run {
    pub fn new(deadline: Instant, budget: u64) -> Arc<Run> {
        Arc::new(Run {
            deadline,
            budget: AtomicU64::new(budget),
            established: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            latencies: Mutex::new(Latencies::default()),
            messages: AtomicU64::new(0),
        })
    }

    /// Takes one message from the budget; false once it is spent.
    fn take_one(&self) -> bool {
        self.budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }
}

/// Wraps a payload for a transport: raw bytes for TCP, a frame for WebSocket.
pub trait Transport: Send + 'static {
    /// Bytes to send before the first message (a handshake), if any.
    fn greeting(&mut self) -> Vec<u8>;
    /// Consumes the reply to the greeting; `Ok(None)` while incomplete.
    fn read_greeting(&mut self, input: &[u8]) -> Result<Option<usize>, String>;
    /// Appends `payload`, encoded, to `out`.
    fn encode(&mut self, payload: &[u8], out: &mut Vec<u8>);
    /// The next echoed payload in `input`: (payload length, bytes used).
    /// `Ok(None)` while incomplete. The payload is `input[start..start+len]`.
    fn decode(&mut self, input: &[u8]) -> Result<Option<Decoded>, String>;
}

/// Where an echoed payload sits in the input.
pub struct Decoded {
    pub start: usize,
    pub len: usize,
    pub used: usize,
    /// A compressed echo's payload, inflated (then `start`/`len` are moot).
    pub inflated: Option<Vec<u8>>,
}

/// Raw TCP: the payload is the message.
pub struct RawTcp {
    pub size: usize,
}

impl Transport for RawTcp {
    fn greeting(&mut self) -> Vec<u8> {
        Vec::new()
    }

    fn read_greeting(&mut self, _input: &[u8]) -> Result<Option<usize>, String> {
        Ok(Some(0))
    }

    fn encode(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(payload);
    }

    fn decode(&mut self, input: &[u8]) -> Result<Option<Decoded>, String> {
        Ok((input.len() >= self.size).then_some(Decoded {
            inflated: None,
            start: 0,
            len: self.size,
            used: self.size,
        }))
    }
}

/// WebSocket: an opening handshake, then one masked binary frame per
/// message; echoes come back as unmasked frames.
pub struct WebSocket {
    handshake: ClientHandshake,
    /// Compression, once the server agreed to it (`--deflate on`).
    deflate: Option<Deflate>,
    /// A fresh mask per connection; reusing it per frame is enough for a
    /// load test (browsers draw one per frame).
    mask: [u8; 4],
}

impl WebSocket {
    pub fn new(
        host: &str,
        path: &str,
        mask: [u8; 4],
        deflate: Option<DeflateConfig>,
    ) -> Result<WebSocket, String> {
        let mut handshake =
            ClientHandshake::new(host, path, &[], None).map_err(|e| e.to_string())?;
        if let Some(config) = deflate {
            handshake = handshake.with_deflate(config);
        }
        Ok(WebSocket {
            handshake,
            deflate: None,
            mask,
        })
    }
}

impl Transport for WebSocket {
    fn greeting(&mut self) -> Vec<u8> {
        self.handshake.request_bytes().to_vec()
    }

    fn read_greeting(&mut self, input: &[u8]) -> Result<Option<usize>, String> {
        match parse_response_head(input).map_err(|e| e.to_string())? {
            None => Ok(None),
            Some((head, rest)) => {
                self.handshake
                    .check_response(head.status, &head.headers)
                    .map_err(|e| e.to_string())?;
                if let Some(offer) = self.handshake.deflate_offer() {
                    let params = self
                        .handshake
                        .deflate_params(&head.headers)
                        .ok_or("the server declined compression")?;
                    self.deflate = Some(Deflate::new(Role::Client, params, offer.config()));
                }
                Ok(Some(input.len() - rest.len()))
            }
        }
    }

    fn encode(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        match &mut self.deflate {
            Some(deflate) if deflate.should_compress(payload.len()) => {
                let mut compressed = Vec::new();
                deflate.compress(payload, &mut compressed);
                let first = out.len();
                frame::encode_frame(out, true, Opcode::Binary, &compressed, Some(self.mask));
                out[first] |= 0x40; // RSV1: compressed
            }
            _ => frame::encode_frame(out, true, Opcode::Binary, payload, Some(self.mask)),
        }
    }

    fn decode(&mut self, input: &[u8]) -> Result<Option<Decoded>, String> {
        let Some((header, start)) = frame::decode_header(input).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let compressed = header.rsv == 0b100 && self.deflate.is_some();
        if header.opcode != Opcode::Binary
            || header.mask.is_some()
            || !header.fin
            || (header.rsv != 0 && !compressed)
        {
            return Err(format!("unexpected frame from the server: {header:?}"));
        }
        let len = usize::try_from(header.payload_len).map_err(|e| e.to_string())?;
        if input.len() < start + len {
            return Ok(None);
        }
        let mut inflated = None;
        if let (true, Some(deflate)) = (compressed, &mut self.deflate) {
            let mut out = Vec::new();
            let limit = 64 << 20;
            deflate
                .inflate(&input[start..start + len], &mut out, limit)
                .and_then(|()| deflate.finish_message(&mut out, limit))
                .map_err(|e| format!("bad compressed echo: {e:?}"))?;
            inflated = Some(out);
        }
        Ok(Some(Decoded {
            inflated,
            start,
            len,
            used: start + len,
        }))
    }
}

/// What a connection does once established.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send, await the echo, repeat.
    Echo,
    /// One round trip, then hold the connection open until the deadline.
    Idle,
}

/// One closed-loop client connection.
pub struct Client<T> {
    run: Arc<Run>,
    transport: T,
    mode: Mode,
    /// The message in flight and when it left.
    payload: Vec<u8>,
    sent_at: Instant,
    greeted: bool,
    established: bool,
    latencies: Latencies,
    counter: u64,
}

impl<T: Transport> Client<T> {
    pub fn new(run: Arc<Run>, transport: T, mode: Mode, size: usize, id: usize) -> Client<T> {
        // A payload unique to this connection, so a crossed echo is caught.
        let seed = format!("{id:08x}");
        let payload = seed.bytes().cycle().take(size).collect();
        Client {
            run,
            transport,
            mode,
            payload,
            sent_at: Instant::now(),
            greeted: false,
            established: false,
            latencies: Latencies::default(),
            counter: 0,
        }
    }

    fn send_next(&mut self, ctx: &mut Ctx) {
        // Vary the first bytes each round: a stale echo must not pass.
        self.counter += 1;
        let stamp = self.counter.to_le_bytes();
        let n = stamp.len().min(self.payload.len());
        self.payload[..n].copy_from_slice(&stamp[..n]);
        self.sent_at = ctx.now();
        // Encode straight into the send queue: no second copy per message.
        self.transport.encode(&self.payload, ctx.send_buffer());
    }

    fn fail(&mut self, why: &str, ctx: &mut Ctx) {
        tracing::warn!("{}: {why}", ctx.peer());
        self.run.failed.fetch_add(1, Ordering::Relaxed);
        ctx.abort();
    }
}

impl<T: Transport> Protocol for Client<T> {
    type Mail = ();

    fn on_open(&mut self, _mailbox: Mailbox<()>, ctx: &mut Ctx) {
        ctx.wake_at(self.run.deadline + GRACE);
        let greeting = self.transport.greeting();
        if greeting.is_empty() {
            self.greeted = true;
            self.send_next(ctx);
        } else {
            ctx.send(&greeting);
        }
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        let mut used = 0;
        if !self.greeted {
            match self.transport.read_greeting(input) {
                Ok(Some(n)) => {
                    used = n;
                    self.greeted = true;
                    self.send_next(ctx);
                }
                Ok(None) => return 0,
                Err(why) => {
                    self.fail(&why, ctx);
                    return input.len();
                }
            }
        }
        loop {
            let decoded = match self.transport.decode(&input[used..]) {
                Ok(Some(decoded)) => decoded,
                Ok(None) => return used,
                Err(why) => {
                    self.fail(&why, ctx);
                    return input.len();
                }
            };
            let echoed = match &decoded.inflated {
                Some(inflated) => inflated.as_slice(),
                None => &input[used + decoded.start..used + decoded.start + decoded.len],
            };
            if echoed != self.payload.as_slice() {
                self.fail("the echo differs from what was sent", ctx);
                return input.len();
            }
            used += decoded.used;
            let now = ctx.now();
            self.latencies.record(now - self.sent_at);
            self.run.messages.fetch_add(1, Ordering::Relaxed);
            if !self.established {
                self.established = true;
                self.run.established.fetch_add(1, Ordering::Relaxed);
            }
            match self.mode {
                Mode::Echo if now < self.run.deadline && self.run.take_one() => self.send_next(ctx),
                Mode::Echo => ctx.close(),
                Mode::Idle => ctx.wake_at(self.run.deadline),
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        if self.mode == Mode::Idle && self.established && ctx.now() < self.run.deadline + GRACE {
            ctx.close(); // held until the deadline: done
        } else {
            self.fail("no echo before the grace time ran out", ctx);
        }
    }

    fn on_eof(&mut self, _input: &[u8], ctx: &mut Ctx) {
        if self.mode == Mode::Echo && ctx.now() < self.run.deadline {
            self.fail("the server closed the connection early", ctx);
        } else {
            ctx.close();
        }
    }
}

impl<T> Drop for Client<T> {
    fn drop(&mut self) {
        // Hand this connection's samples to the run as it ends.
        if let Ok(mut all) = self.run.latencies.lock() {
            all.merge(&mut self.latencies);
        }
    }
}
