//! One WebSocket connection as a sans-IO state machine.
//!
//! [`WsConnection`] is fed the bytes that arrive after the handshake and
//! returns whole [`WsMessage`]s; whatever it wants to send (pongs, close
//! replies, the application's messages) it queues in an output buffer the
//! caller drains. It never touches a socket or a clock.
//!
//! Payloads are consumed as they arrive, not when their frame is complete: a
//! 16 MiB frame never sits 16 MiB deep in the driver's buffer, and a text
//! frame whose first bytes are bad UTF-8 fails before its last bytes come.
//! Only an incomplete frame *header* (at most 14 bytes) is left unconsumed.

use super::close::{self, MAX_REASON_LEN, code};
use super::deflate::{Deflate, DeflateConfig, InflateError, Plan};
use super::frame::{self, FrameHeader, MAX_CONTROL_PAYLOAD, Opcode};
use super::mask::apply_mask;
use super::shared::{SharedFrame, SharedSend};
use super::utf8::Utf8Text;
use std::fmt;
use std::time::Duration;

/// RSV1 in [`FrameHeader::rsv`] (whose low three bits are RSV1-3): set on
/// the first frame of a compressed message.
const RSV1: u8 = 0b100;

/// Which end of the connection we are. It decides who masks (RFC 6455 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection: incoming frames must be masked, ours not.
    Server,
    /// We opened it: we mask every frame, incoming frames must not be masked.
    Client,
}

/// Limits of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The largest message (all fragments together) we accept; a larger one
    /// fails the connection with 1009. Default 16 MiB.
    pub max_message_size: usize,
    /// The largest single frame payload we accept, checked as soon as the
    /// header arrives; 1009 otherwise. Default 16 MiB.
    pub max_frame_size: usize,
    /// How long to wait for the peer's close frame after sending ours before
    /// closing the transport anyway. The state machine keeps no clock; the
    /// driver glue ([`super::WsProtocol`]) uses it. Default 5 s.
    pub close_timeout: Duration,
    /// Compression (`permessage-deflate`) to offer (client) or accept
    /// (server); `None` turns it off. Default: on, with
    /// [`DeflateConfig::default`]. It applies once a handshake agreed on it
    /// ([`WsConnection::set_deflate`]).
    pub deflate: Option<DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_size: 16 * 1024 * 1024,
            max_frame_size: 16 * 1024 * 1024,
            close_timeout: Duration::from_secs(5),
            deflate: Some(DeflateConfig::default()),
        }
    }
}

/// What the peer sent, one whole message at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message, checked to be UTF-8.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping. The pong is already queued (unless we are closing).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The peer's close frame: its code (1005 when it gave none) and reason.
    Close(u16, String),
}

/// Where the close handshake is (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's. We send nothing more,
    /// but still deliver what the peer sends until its close arrives.
    ClosingByUs,
    /// The peer sent a close frame and we answered it. The handshake is
    /// complete; the transport should now close (the server closes TCP first,
    /// §7.1.1). Anything more from the peer is ignored.
    ClosingByPeer,
    /// Our close was answered, or the connection failed. Nothing more is
    /// sent or delivered.
    Closed,
}

/// The peer broke the protocol (or a limit). The connection has queued a
/// close frame with `code` (if it could still send one) and is
/// [`State::Closed`]: flush the output, then close the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// The close code sent: 1002, 1007 or 1009.
    pub code: u16,
    /// What went wrong, for logs (and the close frame's reason).
    pub reason: String,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.code)
    }
}

impl std::error::Error for ProtocolError {}

/// Why the application could not send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsSendError {
    /// We already sent a close frame (or the connection failed).
    NotOpen,
    /// A ping or pong payload over 125 bytes.
    ControlTooLong,
    /// A close code that may not be sent (see [`close::is_valid_code`]).
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes.
    ReasonTooLong,
}

impl fmt::Display for WsSendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsSendError::NotOpen => f.write_str("the connection is closing or closed"),
            WsSendError::ControlTooLong => f.write_str("control payload over 125 bytes"),
            WsSendError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            WsSendError::ReasonTooLong => f.write_str("close reason over 123 bytes"),
        }
    }
}

impl std::error::Error for WsSendError {}

/// The frame whose payload is being read.
#[derive(Debug)]
struct InFrame {
    opcode: Opcode,
    fin: bool,
    mask: Option<[u8; 4]>,
    /// Payload bytes read so far: where the mask key continues.
    read: u64,
    /// Payload bytes still to come.
    remaining: u64,
}

/// The kind of data message being reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

/// A WebSocket connection, after the handshake.
#[derive(Debug)]
pub struct WsConnection {
    role: Role,
    config: Config,
    state: State,
    /// The frame being read, between its header and its last payload byte.
    frame: Option<InFrame>,
    /// The data message being reassembled, if any, and its bytes so far.
    message: Option<Kind>,
    /// A binary message's bytes, or a text message's bytes not yet checked
    /// (at most an unfinished character, between pieces).
    data: Vec<u8>,
    /// A text message's checked part.
    text: Utf8Text,
    /// The current control frame's payload. Separate from `data` because a
    /// control frame may arrive between the fragments of a message.
    control: Vec<u8>,
    out: Vec<u8>,
    failed: bool,
    /// The negotiated compression, if any.
    deflate: Option<Deflate>,
    /// The message being reassembled is compressed (RSV1 on its first frame).
    compressed: bool,
    /// A compressed frame's payload piece, unmasked before inflating. Freed
    /// with the message.
    scratch: Vec<u8>,
}

impl WsConnection {
    /// A connection that has just completed its handshake.
    pub fn new(role: Role, config: Config) -> WsConnection {
        WsConnection {
            role,
            config,
            state: State::Open,
            frame: None,
            message: None,
            data: Vec::new(),
            text: Utf8Text::new(),
            control: Vec::new(),
            out: Vec::new(),
            failed: false,
            deflate: None,
            compressed: false,
            scratch: Vec::new(),
        }
    }

    /// Turns on the compression a handshake agreed on: RSV1 then marks
    /// compressed messages, both ways.
    pub fn set_deflate(&mut self, deflate: Deflate) {
        self.deflate = Some(deflate);
    }

    /// The negotiated compression, if any.
    pub fn deflate(&self) -> Option<&Deflate> {
        self.deflate.as_ref()
    }

    /// The connection has been idle a while: free the compression state
    /// that may be freed (see [`Deflate::release_idle`]). Returns whether
    /// anything was freed. The driver glue calls it from a timer.
    pub fn release_idle(&mut self) -> bool {
        if self.message.is_some() {
            return false; // inside a message: its context is in use
        }
        self.deflate.as_mut().is_some_and(Deflate::release_idle)
    }

    /// Does the connection hold a compressor or a decompressor right now?
    pub fn holds_compression_context(&self) -> bool {
        self.deflate
            .as_ref()
            .is_some_and(|d| d.holds_context() != (false, false))
    }

    /// The limits and settings it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the close handshake is.
    pub fn state(&self) -> State {
        self.state
    }

    /// Did the connection fail (a protocol error, not a clean close)?
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Should the transport close once the output is flushed? True when the
    /// close handshake is complete or the connection failed. (A client may
    /// prefer to wait a moment for the server's FIN first; RFC 6455 §7.1.1
    /// allows either.)
    pub fn should_close_transport(&self) -> bool {
        matches!(self.state, State::ClosingByPeer | State::Closed)
    }

    /// Bytes queued to send.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Takes the queued bytes.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Moves the queued bytes to the end of `dst`, without copying when
    /// `dst` is empty.
    pub fn drain_output_into(&mut self, dst: &mut Vec<u8>) {
        if dst.is_empty() {
            std::mem::swap(dst, &mut self.out);
        } else {
            dst.append(&mut self.out);
        }
    }

    // ANCHOR: receive
    /// Reads frames from `input`, pushing every completed message onto
    /// `messages`. Returns how many bytes were consumed: everything but an
    /// incomplete frame header, which must be offered again with more bytes.
    ///
    /// On a protocol error the connection queues a close frame with the
    /// error's code, becomes [`State::Closed`] and returns the error; the
    /// messages completed before it are still in `messages`.
    pub fn receive(
        &mut self,
        input: &[u8],
        messages: &mut Vec<WsMessage>,
    ) -> Result<usize, ProtocolError> {
        let mut pos = 0;
        let completed_before = messages.len();
        loop {
            if matches!(self.state, State::ClosingByPeer | State::Closed) {
                // After the peer's close nothing it sends has meaning (§5.5.1).
                return Ok(input.len());
            }
            let rest = input.get(pos..).unwrap_or_default();
            let Some(frame) = &self.frame else {
                // Between frames: we need a whole header before anything else.
                let problem = match frame::decode_header(rest) {
                    Ok(None) => return Ok(pos),
                    // A close behind messages of this read: hand the
                    // messages over first, so that their answers leave
                    // before our echo of the close ends the conversation.
                    Ok(Some((header, _)))
                        if header.opcode == Opcode::Close && messages.len() > completed_before =>
                    {
                        return Ok(pos);
                    }
                    Ok(Some((header, used))) => match self.check_header(&header) {
                        Ok(()) => {
                            pos += used;
                            self.start_frame(header);
                            continue;
                        }
                        Err(problem) => problem,
                    },
                    Err(err) => (code::PROTOCOL_ERROR, err.to_string()),
                };
                // A bad frame after good messages: stop in front of it, so
                // the application sees (and may answer) those messages
                // before our close frame goes out. The caller offers the
                // rest again, and then it fails.
                if messages.len() > completed_before {
                    return Ok(pos);
                }
                return Err(self.fail(problem.0, problem.1));
            };
            // Inside a payload: take what has arrived, up to the frame's end.
            let take = usize::try_from(frame.remaining).map_or(rest.len(), |r| r.min(rest.len()));
            if take > 0 {
                self.read_payload(&rest[..take])?;
                pos += take;
            }
            if self.frame.as_ref().is_some_and(|f| f.remaining == 0) {
                self.finish_frame(messages)?;
            } else {
                return Ok(pos); // the payload continues in a later read
            }
        }
    }
    // ANCHOR_END: receive

    // ANCHOR: start_frame
    /// Checks a new frame's header against the connection's state: the
    /// close code and reason to fail with, if it breaks a rule.
    fn check_header(&self, header: &FrameHeader) -> Result<(), (u16, String)> {
        let fail = |code: u16, why: &str| Err((code, why.to_string()));
        // RSV1 means "compressed", on a data message's first frame only,
        // and only once permessage-deflate is agreed (RFC 7692 §6). RSV2
        // and RSV3 mean nothing here.
        if header.rsv & 0b011 != 0 {
            return fail(code::PROTOCOL_ERROR, "RSV2 or RSV3 set");
        }
        if header.rsv & RSV1 != 0 {
            if self.deflate.is_none() {
                return fail(code::PROTOCOL_ERROR, "RSV1 set without an extension");
            }
            if !matches!(header.opcode, Opcode::Text | Opcode::Binary) {
                return fail(
                    code::PROTOCOL_ERROR,
                    "RSV1 set on a control or continuation frame",
                );
            }
        }
        match (self.role, header.mask) {
            (Role::Server, None) => {
                return fail(code::PROTOCOL_ERROR, "unmasked frame from a client");
            }
            (Role::Client, Some(_)) => {
                return fail(code::PROTOCOL_ERROR, "masked frame from a server");
            }
            _ => {}
        }
        if header.payload_len > self.config.max_frame_size as u64 {
            return fail(code::TOO_BIG, "frame too big");
        }
        match header.opcode {
            Opcode::Continuation if self.message.is_none() => {
                return fail(code::PROTOCOL_ERROR, "continuation without a message");
            }
            Opcode::Text | Opcode::Binary if self.message.is_some() => {
                return fail(code::PROTOCOL_ERROR, "new message inside a fragmented one");
            }
            _ => {}
        }
        // A compressed message's size is checked as it inflates.
        let compressed = self.compressed || header.rsv & RSV1 != 0;
        if !header.opcode.is_control() && !compressed {
            let so_far = self.data.len() + self.text.len();
            let total = (so_far as u64).saturating_add(header.payload_len);
            if total > self.config.max_message_size as u64 {
                return fail(code::TOO_BIG, "message too big");
            }
        }
        Ok(())
    }

    /// Starts reading a frame whose header passed [`Self::check_header`].
    fn start_frame(&mut self, header: FrameHeader) {
        if matches!(header.opcode, Opcode::Text | Opcode::Binary) {
            self.compressed = header.rsv & RSV1 != 0;
        }
        match header.opcode {
            Opcode::Text => self.message = Some(Kind::Text),
            Opcode::Binary => self.message = Some(Kind::Binary),
            Opcode::Continuation => {}
            Opcode::Close | Opcode::Ping | Opcode::Pong => self.control.clear(),
        }
        self.frame = Some(InFrame {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            read: 0,
            remaining: header.payload_len,
        });
    }
    // ANCHOR_END: start_frame

    /// Appends a piece of the current frame's payload, unmasked, and checks
    /// text as it goes so that bad UTF-8 fails before the message ends.
    fn read_payload(&mut self, chunk: &[u8]) -> Result<(), ProtocolError> {
        let Some(frame) = &mut self.frame else {
            return Ok(());
        };
        let control = frame.opcode.is_control();
        let compressed = self.compressed && !control;
        let target = if frame.opcode.is_control() {
            &mut self.control
        } else if compressed {
            self.scratch.clear();
            &mut self.scratch
        } else {
            &mut self.data
        };
        let start = target.len();
        target.extend_from_slice(chunk);
        if let Some(key) = frame.mask {
            apply_mask(&mut target[start..], key, (frame.read % 4) as usize);
        }
        frame.read += chunk.len() as u64;
        frame.remaining -= chunk.len() as u64;
        if compressed {
            let limit = self.config.max_message_size.saturating_sub(self.text.len());
            if let Some(deflate) = &mut self.deflate {
                let result = deflate.inflate(&self.scratch, &mut self.data, limit);
                self.inflated(result)?;
            }
        }
        if !control && self.message == Some(Kind::Text) && self.text.feed(&mut self.data).is_err() {
            return Err(self.fail(code::INVALID_PAYLOAD, "text is not UTF-8"));
        }
        Ok(())
    }

    /// Fails the connection if inflating went wrong.
    fn inflated(&mut self, result: Result<(), InflateError>) -> Result<(), ProtocolError> {
        match result {
            Ok(()) => Ok(()),
            Err(InflateError::TooBig) => Err(self.fail(code::TOO_BIG, "message too big")),
            Err(InflateError::Corrupt) => {
                Err(self.fail(code::INVALID_PAYLOAD, "bad compressed data"))
            }
        }
    }

    /// The current frame's payload is complete.
    fn finish_frame(&mut self, messages: &mut Vec<WsMessage>) -> Result<(), ProtocolError> {
        let Some(frame) = self.frame.take() else {
            return Ok(());
        };
        match frame.opcode {
            Opcode::Ping => {
                let payload = std::mem::take(&mut self.control);
                // Answer at once with the same payload (§5.5.2), unless we
                // have sent our close: after that we send nothing.
                if self.state == State::Open {
                    self.send_frame(Opcode::Pong, &payload);
                }
                messages.push(WsMessage::Ping(payload));
            }
            Opcode::Pong => messages.push(WsMessage::Pong(std::mem::take(&mut self.control))),
            Opcode::Close => self.receive_close(messages)?,
            Opcode::Text | Opcode::Binary | Opcode::Continuation if frame.fin => {
                if std::mem::take(&mut self.compressed) {
                    self.scratch = Vec::new();
                    let limit = self.config.max_message_size.saturating_sub(self.text.len());
                    if let Some(deflate) = &mut self.deflate {
                        let result = deflate.finish_message(&mut self.data, limit);
                        self.inflated(result)?;
                    }
                    if self.message == Some(Kind::Text) && self.text.feed(&mut self.data).is_err() {
                        return Err(self.fail(code::INVALID_PAYLOAD, "text is not UTF-8"));
                    }
                }
                let mut data = std::mem::take(&mut self.data);
                let text = std::mem::take(&mut self.text);
                match self.message.take() {
                    Some(Kind::Binary) => messages.push(WsMessage::Binary(data)),
                    Some(Kind::Text) => match text.finish(&mut data) {
                        Ok(text) => messages.push(WsMessage::Text(text)),
                        // Only an unfinished last character can get here:
                        // everything else failed as it arrived.
                        Err(_) => {
                            return Err(self.fail(code::INVALID_PAYLOAD, "text ends mid-character"));
                        }
                    },
                    None => {}
                }
            }
            Opcode::Text | Opcode::Binary | Opcode::Continuation => {} // more fragments to come
        }
        Ok(())
    }

    // ANCHOR: receive_close
    /// The peer's close frame: validate it, answer it if we did not start
    /// the closing, and report it.
    fn receive_close(&mut self, messages: &mut Vec<WsMessage>) -> Result<(), ProtocolError> {
        let payload = std::mem::take(&mut self.control);
        let (code, reason) = match close::parse_close_payload(&payload) {
            Ok(Some((code, reason))) => (code, reason.to_string()),
            Ok(None) => (code::NO_STATUS, String::new()),
            Err(err) => return Err(self.fail(err.close_code(), err.to_string())),
        };
        match self.state {
            State::Open => {
                // Echo the code (not the reason), or an empty close for an
                // empty one: 1005 must never go on the wire.
                let echo = if code == code::NO_STATUS {
                    Vec::new()
                } else {
                    close::close_payload(code, "")
                };
                self.send_frame(Opcode::Close, &echo);
                self.state = State::ClosingByPeer;
            }
            State::ClosingByUs => self.state = State::Closed,
            State::ClosingByPeer | State::Closed => {}
        }
        messages.push(WsMessage::Close(code, reason));
        Ok(())
    }
    // ANCHOR_END: receive_close

    /// Fails the connection (§7.1.7): send a close frame with `code` if we
    /// still may, forget any partial message, and stop.
    fn fail(&mut self, code: u16, reason: impl Into<String>) -> ProtocolError {
        let reason = reason.into();
        if self.state == State::Open {
            let mut cut = reason.len().min(MAX_REASON_LEN);
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            let payload = close::close_payload(code, &reason[..cut]);
            self.send_frame(Opcode::Close, &payload);
        }
        self.state = State::Closed;
        self.failed = true;
        self.frame = None;
        self.message = None;
        self.data = Vec::new();
        self.text = Utf8Text::new();
        self.compressed = false;
        self.scratch = Vec::new();
        if let Some(deflate) = &mut self.deflate {
            deflate.end_message();
        }
        ProtocolError { code, reason }
    }

    /// Queues one final frame; clients mask it with a fresh random key.
    fn send_frame(&mut self, opcode: Opcode, payload: &[u8]) {
        let mask = match self.role {
            Role::Server => None,
            Role::Client => Some(random_mask()),
        };
        frame::encode_frame(&mut self.out, true, opcode, payload, mask);
    }

    fn ensure_open(&self) -> Result<(), WsSendError> {
        match self.state {
            State::Open => Ok(()),
            _ => Err(WsSendError::NotOpen),
        }
    }

    // ANCHOR: send_data
    /// Queues a data message as one frame: compressed, with RSV1 set, when
    /// compression was agreed and the message is not under the threshold.
    /// Control frames never go through here: they are never compressed.
    fn send_data(&mut self, opcode: Opcode, payload: &[u8]) {
        let Some(deflate) = self
            .deflate
            .as_mut()
            .filter(|d| d.should_compress(payload.len()))
        else {
            self.send_frame(opcode, payload);
            return;
        };
        let mut compressed = Vec::new();
        deflate.compress(payload, &mut compressed);
        let first_byte = self.out.len();
        self.send_frame(opcode, &compressed);
        self.out[first_byte] |= RSV1 << 4;
    }
    // ANCHOR_END: send_data

    /// Queues a text message (one frame).
    pub fn send_text(&mut self, text: &str) -> Result<(), WsSendError> {
        self.ensure_open()?;
        self.send_data(Opcode::Text, text.as_bytes());
        Ok(())
    }

    /// Queues a binary message (one frame).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), WsSendError> {
        self.ensure_open()?;
        self.send_data(Opcode::Binary, data);
        Ok(())
    }

    // ANCHOR: send_shared
    /// Sends a message shared with other connections (a broadcast). A
    /// server that sends it as it is, or compressed with a fresh context,
    /// gets the shared frame back, to write after [`WsConnection::output`]
    /// without copying it; one whose compressor keeps context, or a client
    /// (which masks), frames the message itself, into its output.
    pub fn send_shared(&mut self, message: &SharedFrame) -> Result<SharedSend, WsSendError> {
        self.ensure_open()?;
        let len = message.payload().len();
        let plan = self.deflate.as_ref().map_or(Plan::Plain, |d| d.plan(len));
        let (frame, built, compressed) = match (self.role, plan) {
            (Role::Server, Plan::Plain) => {
                let (frame, built) = message.plain();
                (Some(frame), built, false)
            }
            (Role::Server, Plan::Fresh(key)) => {
                let (frame, built) = message.compressed(key);
                (Some(frame), built, built)
            }
            (Role::Client, _) | (Role::Server, Plan::Own) => {
                self.send_data(message.opcode(), message.payload());
                (None, false, plan != Plan::Plain)
            }
        };
        Ok(SharedSend {
            frame,
            built,
            compressed,
        })
    }
    // ANCHOR_END: send_shared

    /// Queues a ping; the peer answers with a [`WsMessage::Pong`].
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), WsSendError> {
        self.send_control(Opcode::Ping, payload)
    }

    /// Queues an unsolicited pong (a one-way heartbeat, §5.5.3).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), WsSendError> {
        self.send_control(Opcode::Pong, payload)
    }

    fn send_control(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), WsSendError> {
        self.ensure_open()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(WsSendError::ControlTooLong);
        }
        self.send_frame(opcode, payload);
        Ok(())
    }

    /// Starts the close handshake: queues a close frame and waits for the
    /// peer's ([`State::ClosingByUs`]).
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), WsSendError> {
        self.ensure_open()?;
        if !close::is_valid_code(code) {
            return Err(WsSendError::InvalidCloseCode(code));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(WsSendError::ReasonTooLong);
        }
        self.send_frame(Opcode::Close, &close::close_payload(code, reason));
        self.state = State::ClosingByUs;
        Ok(())
    }

    /// The transport is gone (or we give up waiting): nothing more happens.
    /// Returns whether the close handshake had completed.
    pub fn transport_closed(&mut self) -> bool {
        let clean = matches!(self.state, State::ClosingByPeer | State::Closed) && !self.failed;
        self.state = State::Closed;
        clean
    }
}

/// A fresh masking key from the operating system's CSPRNG. Masks must be
/// unpredictable to a page's script (RFC 6455 §10.3), so no seeded PRNG.
///
/// # Panics
/// If the operating system cannot provide random bytes, which on the systems
/// Rust supports means something is badly broken; never because of the peer.
fn random_mask() -> [u8; 4] {
    getrandom::u32()
        .expect("the OS random number generator failed")
        .to_ne_bytes()
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
