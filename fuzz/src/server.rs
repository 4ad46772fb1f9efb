//! A WebSocket server connection (`WsServerProtocol`) driven without a
//! driver: a [`Ctx`] per run, bytes offered the way a driver offers them.

use crate::Feed;
use netladder::driver::{Close, Ctx, Protocol, TimerRequest};
use netladder::ws::handshake::server::{HandshakePolicy, OriginPolicy};
use netladder::ws::{HttpResponse, ServerConfig, State, WsContext, WsHandler, WsMessage};
use netladder::ws::{WsServerProtocol, server::HttpRequest};
use std::sync::Arc;
use std::time::Instant;

/// A handler that does nothing. The protocol is never given a mailbox
/// (that is the driver's, whose API is changing), so handlers are not
/// called; the handshake and the WebSocket underneath still run.
pub struct Quiet;

impl WsHandler for Quiet {
    fn on_message(&mut self, _message: WsMessage, _ws: &mut WsContext<'_>) {}
}

/// A server configuration chosen by `selector`'s bits.
pub fn config(selector: u8, subprotocols: Vec<String>) -> Arc<ServerConfig> {
    let mut config = ServerConfig {
        ws: crate::ws_config(),
        ..ServerConfig::default()
    };
    if selector & 1 == 1 {
        config = config.with_http(|request: &HttpRequest<'_>| match request.path {
            "/" => HttpResponse::html("<p>page</p>"),
            _ => HttpResponse::text(404, "not found"),
        });
    }
    if selector & 2 == 2 {
        config.http_limits.max_head_bytes = 64 + usize::from(selector >> 2);
    }
    config.handshake = HandshakePolicy {
        subprotocols,
        origin: if selector & 4 == 4 {
            OriginPolicy::Any
        } else {
            OriginPolicy::Local
        },
    };
    Arc::new(config)
}

/// What the server did with its input.
#[derive(Debug, PartialEq)]
pub struct Run {
    /// Every byte it queued.
    pub output: Vec<u8>,
    /// How it wants the connection to end.
    pub close: Option<Close>,
    /// Its last timer request.
    pub timer: TimerRequest,
    /// The WebSocket's state, once upgraded.
    pub ws: Option<State>,
}

/// Offers `input` to a fresh server connection through `feed` (see
/// [`crate::whole`] and [`crate::bytewise`]), stopping once it asks to close.
pub fn run(config: &Arc<ServerConfig>, now: Instant, input: &[u8], feed: Feed) -> Run {
    let mut server = WsServerProtocol::new(Quiet, Arc::clone(config));
    let mut ctx = Ctx::new(now, "127.0.0.1:9".parse().unwrap());
    let mut timer = TimerRequest::Keep;
    feed(input, &mut |buf| {
        if ctx.close_request().is_some() {
            return None;
        }
        let used = server.on_bytes(buf, &mut ctx);
        assert!(used <= buf.len(), "consumed more than offered");
        if ctx.timer_request() != TimerRequest::Keep {
            timer = ctx.timer_request();
        }
        Some(used)
    });
    Run {
        output: ctx.take_output().to_vec(),
        close: ctx.close_request(),
        timer,
        ws: server.websocket().map(|ws| ws.connection().state()),
    }
}

/// The callbacks that end a connection, after `run`: none may panic.
pub fn finish(config: &Arc<ServerConfig>, now: Instant, input: &[u8]) {
    let mut server = WsServerProtocol::new(Quiet, Arc::clone(config));
    let mut ctx = Ctx::new(now, "127.0.0.1:9".parse().unwrap());
    let used = server.on_bytes(input, &mut ctx);
    server.on_timer(&mut ctx);
    server.on_shutdown(&mut ctx);
    server.on_eof(&input[used.min(input.len())..], &mut ctx);
}
