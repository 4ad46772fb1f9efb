//! Compression: the `permessage-deflate` extension (RFC 7692), sans-IO.
//!
//! Two halves:
//!
//! - **negotiation**, in the opening handshake: the client offers
//!   `permessage-deflate` with some parameters, the server accepts the first
//!   offer it can honour and answers with the parameters both will use
//!   ([`accept_offers`], [`ClientOffer`]);
//! - **the codec** ([`Deflate`]), after it: a compressed message is the raw
//!   DEFLATE (RFC 1951) of its payload, flushed with a sync flush and with
//!   the `00 00 ff ff` that ends every sync flush cut off; its first frame
//!   has RSV1 set. The receiver puts the four bytes back and inflates.
//!
//! The four parameters:
//!
//! | parameter | in an offer | in the answer |
//! |---|---|---|
//! | `server_no_context_takeover` | "server, please reset" | "I reset after every message" |
//! | `client_no_context_takeover` | "I will reset" (a hint) | "client, reset" |
//! | `server_max_window_bits=N` | "server, use at most 2^N bytes of window" | the server's window |
//! | `client_max_window_bits[=N]` | "you may limit my window" | "client, use at most 2^N" |
//!
//! *Context takeover* means a compressor keeps its window (the last 32 KiB
//! it saw) from one message to the next, so that the second chat message
//! can point back into the first one. It compresses better, and it costs
//! memory on every connection for as long as it lives: that is the trade
//! chapter 3's "Compression" section measures.

use super::connection::Role;
use super::extensions::{self, Extension};
use crate::http::Headers;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::fmt;
use std::time::Duration;

/// The extension's registered name.
pub const NAME: &str = "permessage-deflate";

/// What every sync flush ends with, and what RFC 7692 §7.2.1 has the sender
/// remove and the receiver add back.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What we want from compression, for either role.
///
/// The two `*_no_context_takeover` flags and the two window sizes are
/// named after who compresses, as in the RFC: as a server,
/// `server_no_context_takeover` is about our own compressor and
/// `client_no_context_takeover` is what we ask of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    /// The server resets its compressor after every message. Default `true`:
    /// a server then holds no compressor between messages, so an idle
    /// connection costs nothing for compression, and a broadcast is
    /// compressed once for all its connections ([`super::shared`]). The
    /// server answers with it whether or not the client asked.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message (so the server
    /// frees its decompressor between messages). Default `true`.
    pub client_no_context_takeover: bool,
    /// The server's window, 2^N bytes (8 to 15). Default 15. With 8, which
    /// zlib cannot compress with, the server sends its messages
    /// uncompressed (always allowed).
    pub server_max_window_bits: u8,
    /// The client's window, 8 to 15. Default 15.
    pub client_max_window_bits: u8,
    /// Messages shorter than this many bytes are sent uncompressed: for a
    /// few bytes, compression costs more CPU than it saves. Default 64.
    pub threshold: usize,
    /// The zlib level, 0 to 9. Default 6.
    pub level: u32,
    /// With context takeover, a compressor unused for this long is dropped
    /// (the next message starts a fresh one; the peer's decompressor
    /// follows, as a fresh DEFLATE block is a valid continuation of the
    /// stream). Default 30 s.
    pub idle_timeout: Duration,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            threshold: 64,
            level: 6,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

impl DeflateConfig {
    /// Both sides keep their context between messages: better ratio, and a
    /// compressor and a decompressor held per connection while it lives.
    pub fn with_context_takeover(mut self) -> Self {
        self.server_no_context_takeover = false;
        self.client_no_context_takeover = false;
        self
    }
}

/// `--deflate on|off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// Offer (client) or accept (server) compression.
    On,
    /// Never compress: no offer, and offers declined.
    Off,
}

/// The compression flags of chapter 3's server and client (and any program
/// that flattens them into its own with `#[command(flatten)]`).
#[derive(Debug, Clone, clap::Args)]
pub struct DeflateArgs {
    /// Compression (permessage-deflate, RFC 7692): on or off.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    pub deflate: OnOff,
    /// Messages shorter than this many bytes are sent uncompressed.
    #[arg(long, default_value_t = 64)]
    pub deflate_threshold: usize,
    /// Window size, 2^N bytes (8 to 15), for both directions: smaller costs
    /// less memory and compresses less.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u8).range(8..=15))]
    pub deflate_window_bits: u8,
    /// Keep the compression context between messages (context takeover):
    /// better ratio, and a compressor and decompressor held per connection.
    #[arg(long)]
    pub deflate_takeover: bool,
    /// With --deflate-takeover: seconds a connection may sit idle before its
    /// compressor is dropped.
    #[arg(long, default_value_t = 30)]
    pub deflate_idle_secs: u64,
    /// The zlib level, 0 (store) to 9 (smallest): 1 costs a fraction of
    /// the CPU of the default 6 for a somewhat worse ratio (scripts/autobahn
    /// uses 1, as it tests correctness, not ratio).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub deflate_level: u32,
}

impl DeflateArgs {
    /// The configuration these flags ask for; `None` when off.
    pub fn config(&self) -> Option<DeflateConfig> {
        if self.deflate == OnOff::Off {
            return None;
        }
        let mut config = DeflateConfig {
            threshold: self.deflate_threshold,
            server_max_window_bits: self.deflate_window_bits,
            client_max_window_bits: self.deflate_window_bits,
            idle_timeout: Duration::from_secs(self.deflate_idle_secs),
            level: self.deflate_level,
            ..DeflateConfig::default()
        };
        if self.deflate_takeover {
            config = config.with_context_takeover();
        }
        Some(config)
    }
}

/// The parameters both ends agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The server compresses with at most 2^N bytes of window.
    pub server_max_window_bits: u8,
    /// The client compresses with at most 2^N bytes of window.
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// No parameter: both keep their context, both use 15 bits.
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// Why an offer (or an answer) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    /// A parameter RFC 7692 does not define.
    Unknown(String),
    /// The same parameter twice.
    Duplicate(String),
    /// A value where none is allowed, none where one is needed, or a window
    /// size outside 8..=15.
    BadValue(String),
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::Unknown(p) => write!(f, "unknown parameter {p}"),
            ParamError::Duplicate(p) => write!(f, "parameter {p} given twice"),
            ParamError::BadValue(p) => write!(f, "bad value for {p}"),
        }
    }
}

impl std::error::Error for ParamError {}

/// One `permessage-deflate` element's parameters, checked against RFC 7692
/// §7.1 but not yet negotiated. A window size of `Some(None)` is a bare
/// `client_max_window_bits` (allowed in an offer only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offer {
    /// `server_no_context_takeover` present.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover` present.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits`, with its value if it had one.
    pub client_max_window_bits: Option<Option<u8>>,
}

/// A window size: a decimal 8 to 15, no leading zero (RFC 7692 §7.1.2).
fn window_bits(name: &str, value: Option<&str>) -> Result<u8, ParamError> {
    let bad = || ParamError::BadValue(name.to_string());
    let value = value.ok_or_else(bad)?;
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match value.parse::<u8>() {
        Ok(bits @ 8..=15) => Ok(bits),
        _ => Err(bad()),
    }
}

// ANCHOR: parse_params
/// Reads one `permessage-deflate` element's parameters: an unknown or
/// repeated parameter, or a bad value, makes the whole element unusable
/// (RFC 7692 §5.1 and §7.1).
pub fn parse_params(extension: &Extension) -> Result<Offer, ParamError> {
    let mut offer = Offer::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in &extension.params {
        let name = name.as_str();
        if seen.contains(&name) {
            return Err(ParamError::Duplicate(name.to_string()));
        }
        seen.push(name);
        let value = value.as_deref();
        match name {
            "server_no_context_takeover" | "client_no_context_takeover" => {
                if value.is_some() {
                    return Err(ParamError::BadValue(name.to_string()));
                }
                if name == "server_no_context_takeover" {
                    offer.server_no_context_takeover = true;
                } else {
                    offer.client_no_context_takeover = true;
                }
            }
            "server_max_window_bits" => {
                offer.server_max_window_bits = Some(window_bits(name, value)?);
            }
            "client_max_window_bits" => {
                offer.client_max_window_bits = Some(match value {
                    None => None,
                    Some(_) => Some(window_bits(name, value)?),
                });
            }
            _ => return Err(ParamError::Unknown(name.to_string())),
        }
    }
    Ok(offer)
}
// ANCHOR_END: parse_params

impl DeflateParams {
    /// The element that announces these parameters in a server's answer.
    /// Parameters at their default are left out.
    pub fn to_extension(&self) -> Extension {
        let mut ext = Extension::new(NAME);
        if self.server_no_context_takeover {
            ext = ext.param("server_no_context_takeover", None);
        }
        if self.client_no_context_takeover {
            ext = ext.param("client_no_context_takeover", None);
        }
        if self.server_max_window_bits < 15 {
            let bits = self.server_max_window_bits.to_string();
            ext = ext.param("server_max_window_bits", Some(&bits));
        }
        if self.client_max_window_bits < 15 {
            let bits = self.client_max_window_bits.to_string();
            ext = ext.param("client_max_window_bits", Some(&bits));
        }
        ext
    }

    /// The `Sec-WebSocket-Extensions` value of the server's answer.
    pub fn response_header(&self) -> String {
        self.to_extension().to_string()
    }
}

// ANCHOR: accept_offers
/// The server's side: the first `permessage-deflate` offer in `headers`
/// that we can honour, and the parameters to answer with. `None` when the
/// client offered none we can use (or the header is not well formed): the
/// connection then goes on without compression. Other extensions are
/// ignored: we answer only with what we accept.
pub fn accept_offers(headers: &Headers, ours: &DeflateConfig) -> Option<DeflateParams> {
    let offers = extensions::parse_headers(headers).ok()?;
    offers
        .iter()
        .filter(|ext| ext.name.eq_ignore_ascii_case(NAME))
        .find_map(|ext| accept_offer(&parse_params(ext).ok()?, ours))
}

/// Our answer to one well-formed offer.
pub fn accept_offer(offer: &Offer, ours: &DeflateConfig) -> Option<DeflateParams> {
    // The client may forbid our context takeover; we may forbid it anyway.
    let server_no_context_takeover =
        offer.server_no_context_takeover || ours.server_no_context_takeover;
    // We may always ask the client to reset; if it offered to, we take it.
    let client_no_context_takeover =
        offer.client_no_context_takeover || ours.client_no_context_takeover;
    let server_max_window_bits = offer
        .server_max_window_bits
        .unwrap_or(15)
        .min(ours.server_max_window_bits.clamp(8, 15));
    // We can limit the client's window only if it said we may.
    let client_max_window_bits = match offer.client_max_window_bits {
        None => 15,
        Some(theirs) => theirs
            .unwrap_or(15)
            .min(ours.client_max_window_bits.clamp(8, 15)),
    };
    Some(DeflateParams {
        server_no_context_takeover,
        client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    })
}
// ANCHOR_END: accept_offers

/// The client's side: what we offer, and whether the server's answer is
/// acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOffer {
    config: DeflateConfig,
}

/// The server's answer about extensions cannot be accepted: the client
/// must fail the connection (RFC 6455 §4.1, RFC 7692 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// The header is not well formed.
    Syntax,
    /// An extension we did not offer, or `permessage-deflate` twice.
    NotOffered(String),
    /// A parameter problem.
    Param(ParamError),
    /// A parameter the server may not send given our offer: a bare
    /// `client_max_window_bits`, a window larger than we asked for, or no
    /// `server_no_context_takeover` when we asked for it.
    Disagrees(&'static str),
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::Syntax => f.write_str("malformed Sec-WebSocket-Extensions"),
            AnswerError::NotOffered(name) => write!(f, "extension {name} not offered"),
            AnswerError::Param(err) => write!(f, "permessage-deflate: {err}"),
            AnswerError::Disagrees(what) => write!(f, "permessage-deflate: {what}"),
        }
    }
}

impl std::error::Error for AnswerError {}

impl ClientOffer {
    /// An offer made from `config`.
    pub fn new(config: DeflateConfig) -> ClientOffer {
        ClientOffer { config }
    }

    /// The configuration the offer was made from.
    pub fn config(&self) -> &DeflateConfig {
        &self.config
    }

    /// The `Sec-WebSocket-Extensions` value to send. We always accept a
    /// limit on our window (`client_max_window_bits`).
    pub fn header_value(&self) -> String {
        let mut ext = Extension::new(NAME);
        if self.config.client_no_context_takeover {
            ext = ext.param("client_no_context_takeover", None);
        }
        if self.config.server_no_context_takeover {
            ext = ext.param("server_no_context_takeover", None);
        }
        if self.config.server_max_window_bits < 15 {
            let bits = self.config.server_max_window_bits.clamp(8, 15).to_string();
            ext = ext.param("server_max_window_bits", Some(&bits));
        }
        ext = ext.param("client_max_window_bits", None);
        ext.to_string()
    }

    /// Checks the server's answer: `Ok(None)` if it declined compression.
    pub fn check_answer(&self, headers: &Headers) -> Result<Option<DeflateParams>, AnswerError> {
        let answer = extensions::parse_headers(headers).map_err(|_| AnswerError::Syntax)?;
        let mut chosen = None;
        for ext in &answer {
            if !ext.name.eq_ignore_ascii_case(NAME) || chosen.is_some() {
                return Err(AnswerError::NotOffered(ext.name.clone()));
            }
            chosen = Some(parse_params(ext).map_err(AnswerError::Param)?);
        }
        let Some(answer) = chosen else {
            return Ok(None);
        };
        let asked_server_window = self.config.server_max_window_bits.clamp(8, 15);
        let server_max_window_bits = answer.server_max_window_bits.unwrap_or(15);
        if asked_server_window < 15 && server_max_window_bits > asked_server_window {
            return Err(AnswerError::Disagrees("server window larger than asked"));
        }
        if self.config.server_no_context_takeover && !answer.server_no_context_takeover {
            return Err(AnswerError::Disagrees(
                "server_no_context_takeover asked for, not answered",
            ));
        }
        let client_max_window_bits = match answer.client_max_window_bits {
            None => 15,
            Some(None) => {
                return Err(AnswerError::Disagrees(
                    "client_max_window_bits without a value",
                ));
            }
            Some(Some(bits)) => bits,
        };
        Ok(Some(DeflateParams {
            server_no_context_takeover: answer.server_no_context_takeover,
            // We offered it as a promise, so we keep it even if unanswered.
            client_no_context_takeover: answer.client_no_context_takeover
                || self.config.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
        }))
    }
}

/// What went wrong inflating a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// The message inflates past the limit (close with 1009).
    TooBig,
    /// Not valid DEFLATE data (close with 1007).
    Corrupt,
}

/// How much output room one inflate step gets: the most a message can
/// overshoot its limit by is nothing (the room is capped by the limit), and
/// a small message never reserves more than it needs.
const INFLATE_STEP: usize = 16 * 1024;

// ANCHOR: spares
/// Compressors and decompressors between messages, for connections that
/// reset their context after every message anyway: such a connection has
/// nothing to keep, so it borrows a reset one for each message instead of
/// allocating (and zeroing) a fresh one, which costs more than compressing
/// a chat message. Shared by every connection of the process, and bounded:
/// memory stays O(1), not O(connections).
struct Spares {
    compressors: Vec<(u8, u32, Compress)>,
    decompressors: Vec<(u8, Decompress)>,
}

/// At most this many of each kind wait in [`SPARES`].
const MAX_SPARES: usize = 4;

static SPARES: std::sync::Mutex<Spares> = std::sync::Mutex::new(Spares {
    compressors: Vec::new(),
    decompressors: Vec::new(),
});

fn spare_compressor(bits: u8, level: Compression) -> Compress {
    let found = SPARES.lock().ok().and_then(|mut spares| {
        let at = spares
            .compressors
            .iter()
            .position(|(b, l, _)| *b == bits && *l == level.level())?;
        Some(spares.compressors.swap_remove(at).2)
    });
    found.unwrap_or_else(|| Compress::new_with_window_bits(level, false, bits))
}

fn return_compressor(bits: u8, level: Compression, mut compressor: Compress) {
    compressor.reset();
    if let Ok(mut spares) = SPARES.lock()
        && spares.compressors.len() < MAX_SPARES
    {
        spares.compressors.push((bits, level.level(), compressor));
    }
}

fn spare_decompressor(bits: u8) -> Decompress {
    let found = SPARES.lock().ok().and_then(|mut spares| {
        let at = spares.decompressors.iter().position(|(b, _)| *b == bits)?;
        Some(spares.decompressors.swap_remove(at).1)
    });
    found.unwrap_or_else(|| Decompress::new_with_window_bits(false, bits))
}

fn return_decompressor(bits: u8, mut decompressor: Decompress) {
    decompressor.reset(false);
    if let Ok(mut spares) = SPARES.lock()
        && spares.decompressors.len() < MAX_SPARES
    {
        spares.decompressors.push((bits, decompressor));
    }
}
// ANCHOR_END: spares

// ANCHOR: fresh
/// What a message compressed with a fresh context depends on: the window
/// (2^N bytes, 9 to 15) and the zlib level. RFC 7692 §7.1.1.1: with
/// `server_no_context_takeover` agreed, the server compresses every
/// message as if it were the first, so a message compressed once with a
/// key is a valid message for every connection that agreed the same
/// window; the level only changes the bytes, not who can read them, but it
/// is part of the key so that a server's frames are those its settings ask
/// for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FreshKey {
    window_bits: u8,
    level: u32,
}

impl FreshKey {
    /// A key for a window of 2^`window_bits` bytes (raised to 9, which
    /// reads whatever 8 would write, as zlib cannot compress with 8) and a
    /// zlib `level` (at most 9).
    pub fn new(window_bits: u8, level: u32) -> FreshKey {
        FreshKey {
            window_bits: window_bits.clamp(9, 15),
            level: level.min(9),
        }
    }

    /// The window, in bits.
    pub fn window_bits(&self) -> u8 {
        self.window_bits
    }

    /// The zlib level.
    pub fn level(&self) -> u32 {
        self.level
    }
}

/// How one connection sends one data message (see [`Deflate::plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Uncompressed: under the threshold, or an 8-bit window.
    Plain,
    /// Compressed with a fresh context: shareable between connections.
    Fresh(FreshKey),
    /// Compressed with this connection's own context.
    Own,
}

/// Compresses one whole message with a fresh context (a spare compressor,
/// reset and given back after), appending to `out` without the final
/// `00 00 ff ff`. Every connection that agreed `key`'s window and does not
/// keep its context can send the result.
pub fn compress_fresh(payload: &[u8], key: FreshKey, out: &mut Vec<u8>) {
    let level = Compression::new(key.level);
    let mut compressor = spare_compressor(key.window_bits, level);
    sync_flush(&mut compressor, payload, out);
    return_compressor(key.window_bits, level, compressor);
}
// ANCHOR_END: fresh

// ANCHOR: sync_flush
/// Deflates `payload` into `out` with a sync flush, and cuts the
/// `00 00 ff ff` that ends it.
fn sync_flush(compressor: &mut Compress, payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let before_in = compressor.total_in();
    loop {
        let done = (compressor.total_in() - before_in) as usize;
        // Compressed data is rarely larger than its input plus a little.
        out.reserve(payload.len() - done + 64);
        let status = compressor.compress_vec(&payload[done..], out, FlushCompress::Sync);
        let consumed_all = (compressor.total_in() - before_in) as usize == payload.len();
        // A sync flush is complete when the output buffer was not filled.
        if consumed_all && out.len() < out.capacity() || status.is_err() {
            break;
        }
    }
    // Every sync flush ends with an empty stored block: 00 00 ff ff.
    if out[start..].ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
}
// ANCHOR_END: sync_flush

/// One connection's compression state, after a successful negotiation.
///
/// The compressor and the decompressor exist only while they are needed:
/// created when a message needs them, and dropped after it when the
/// agreed parameters say that context is reset anyway. With context
/// takeover the decompressor must live as long as the connection (the peer
/// may point back into earlier messages); the compressor can still be
/// dropped when idle ([`Deflate::release_idle`]).
pub struct Deflate {
    role: Role,
    params: DeflateParams,
    threshold: usize,
    level: Compression,
    compressor: Option<Compress>,
    decompressor: Option<Decompress>,
    /// Compressed bytes of the message being inflated: a stream of empty
    /// blocks inflates to nothing, so the input needs a cap of its own.
    taken_in: u64,
}

impl fmt::Debug for Deflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflate")
            .field("role", &self.role)
            .field("params", &self.params)
            .field("compressor", &self.compressor.is_some())
            .field("decompressor", &self.decompressor.is_some())
            .finish()
    }
}

impl Deflate {
    /// The codec for `role` with the agreed `params`; `config` gives the
    /// threshold and level.
    pub fn new(role: Role, params: DeflateParams, config: &DeflateConfig) -> Deflate {
        Deflate {
            role,
            params,
            threshold: config.threshold,
            level: Compression::new(config.level.min(9)),
            compressor: None,
            decompressor: None,
            taken_in: 0,
        }
    }

    /// The agreed parameters.
    pub fn params(&self) -> &DeflateParams {
        &self.params
    }

    /// Our compressor's (no takeover, window bits).
    fn ours(&self) -> (bool, u8) {
        match self.role {
            Role::Server => (
                self.params.server_no_context_takeover,
                self.params.server_max_window_bits,
            ),
            Role::Client => (
                self.params.client_no_context_takeover,
                self.params.client_max_window_bits,
            ),
        }
    }

    /// The peer's compressor's (no takeover, window bits).
    fn theirs(&self) -> (bool, u8) {
        match self.role {
            Role::Server => (
                self.params.client_no_context_takeover,
                self.params.client_max_window_bits,
            ),
            Role::Client => (
                self.params.server_no_context_takeover,
                self.params.server_max_window_bits,
            ),
        }
    }

    /// Does a compressor or decompressor exist right now?
    pub fn holds_context(&self) -> (bool, bool) {
        (self.compressor.is_some(), self.decompressor.is_some())
    }

    /// Should a message of `len` bytes go out compressed? Not under the
    /// threshold, and never with an agreed window of 8 bits, which zlib
    /// cannot compress with (RFC 7692 lets any message go uncompressed).
    pub fn should_compress(&self, len: usize) -> bool {
        len >= self.threshold && self.ours().1 > 8
    }

    // ANCHOR: compress
    /// Compresses one whole message's payload into `out` (appended), with
    /// the final `00 00 ff ff` removed (RFC 7692 §7.2.1).
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let (no_takeover, bits) = self.ours();
        if no_takeover {
            // Nothing to keep: a spare compressor, returned reset.
            let key = FreshKey::new(bits, self.level.level());
            compress_fresh(payload, key, out);
            return;
        }
        let level = self.level;
        let compressor = self
            .compressor
            .get_or_insert_with(|| Compress::new_with_window_bits(level, false, bits.max(9)));
        sync_flush(compressor, payload, out);
    }
    // ANCHOR_END: compress

    // ANCHOR: plan
    /// How this connection sends a data message of `len` bytes: as it is,
    /// compressed with a fresh context (the same bytes for every
    /// connection with the same [`FreshKey`], so one compressed frame can
    /// serve them all), or compressed with its own context (context
    /// takeover: its compressor remembers its earlier messages).
    pub fn plan(&self, len: usize) -> Plan {
        let (no_takeover, bits) = self.ours();
        if !self.should_compress(len) {
            Plan::Plain
        } else if no_takeover {
            Plan::Fresh(FreshKey::new(bits, self.level.level()))
        } else {
            Plan::Own
        }
    }
    // ANCHOR_END: plan

    // ANCHOR: inflate
    /// Inflates a piece of a compressed message's payload, appending to
    /// `out`, which may hold at most `limit` bytes: past it, stop at once
    /// with [`InflateError::TooBig`]. Output grows in small steps, so a
    /// bomb is stopped at the limit, never inflated whole.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        // Compressed input gets a generous cap too: DEFLATE can emit empty
        // blocks forever, which inflate to nothing.
        self.taken_in += input.len() as u64;
        if self.taken_in > (limit as u64).saturating_mul(2).saturating_add(1024) {
            return Err(InflateError::TooBig);
        }
        let (their_reset, bits) = self.theirs();
        let bits = bits.max(9);
        let decompressor = self.decompressor.get_or_insert_with(|| {
            if their_reset {
                spare_decompressor(bits)
            } else {
                Decompress::new_with_window_bits(false, bits)
            }
        });
        let mut rest = input;
        let mut buf = [0u8; INFLATE_STEP];
        loop {
            // Room for one more byte than allowed: filling it means too big.
            let room = (limit + 1).saturating_sub(out.len()).min(INFLATE_STEP);
            if room == 0 {
                return Err(InflateError::TooBig);
            }
            let before_in = decompressor.total_in();
            let before_out = decompressor.total_out();
            let status = decompressor
                .decompress(rest, &mut buf[..room], FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            let used = (decompressor.total_in() - before_in) as usize;
            let produced = (decompressor.total_out() - before_out) as usize;
            out.extend_from_slice(&buf[..produced]);
            rest = &rest[used..];
            if out.len() > limit {
                return Err(InflateError::TooBig);
            }
            if status == Status::StreamEnd {
                // A final block (BFINAL): the stream is over; what follows
                // starts a new one.
                decompressor.reset(false);
                if rest.is_empty() {
                    return Ok(());
                }
                continue;
            }
            let filled = produced == room;
            if rest.is_empty() && !filled {
                return Ok(());
            }
            if used == 0 && produced == 0 {
                return Err(InflateError::Corrupt); // no progress possible
            }
        }
    }

    /// The compressed message is complete: add the tail back and inflate
    /// what it releases, then reset if the peer does not take over context.
    pub fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        let result = self.inflate(&TAIL, out, limit);
        self.end_message();
        result
    }
    // ANCHOR_END: inflate

    /// Forgets the message being inflated (it ended, or the connection
    /// failed) and frees the decompressor when it is reset anyway.
    pub fn end_message(&mut self) {
        self.taken_in = 0;
        let (their_reset, bits) = self.theirs();
        if their_reset && let Some(decompressor) = self.decompressor.take() {
            return_decompressor(bits.max(9), decompressor);
        }
    }

    /// The connection has been idle: drop what may be dropped. Our
    /// compressor always may (the peer's decompressor reads a fresh stream
    /// as a continuation); the decompressor only when the peer resets its
    /// context anyway. Returns whether something was freed.
    pub fn release_idle(&mut self) -> bool {
        let freed = self.compressor.take().is_some();
        if self.theirs().0 && self.taken_in == 0 {
            return self.decompressor.take().is_some() || freed;
        }
        freed
    }
}

#[cfg(test)]
#[path = "deflate_tests.rs"]
mod tests;
