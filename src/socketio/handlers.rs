//! Handlers: the callback style of Node and python-socketio, on top of the
//! event queue of [`Server`]. The server stays a plain state machine; a
//! [`Handlers`] table drains its events and calls what was registered.

use std::collections::HashMap;
use std::fmt;
use std::time::Instant;

use serde::de::DeserializeOwned;

use super::adapter::SocketId;
use super::server::{AckId, AckRequest, BroadcastAckId, DisconnectReason, Event, Server, SioError};
use super::value::Value;

// ANCHOR: args
/// An event's arguments, with typed access through `serde`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Args(pub Vec<Value>);

/// An argument that is missing or not of the asked type.
#[derive(Debug)]
pub struct ArgError {
    /// Which argument (`None`: the whole list).
    pub index: Option<usize>,
    /// What serde said.
    pub error: serde_json::Error,
}

impl Args {
    /// Argument `i` as any `Deserialize` type (a missing one reads as
    /// `null`, so `Option<T>` works for optional arguments).
    pub fn get<T: DeserializeOwned>(&self, i: usize) -> Result<T, ArgError> {
        let value = self.0.get(i).cloned().unwrap_or_default();
        value.deserialize().map_err(|error| ArgError {
            index: Some(i),
            error,
        })
    }

    /// All arguments as one type, e.g. a tuple `(String, u32)`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ArgError> {
        Value::Array(self.0.clone())
            .deserialize()
            .map_err(|error| ArgError { index: None, error })
    }

    /// Argument `i` as plain JSON (binary as an array of numbers).
    pub fn json(&self, i: usize) -> serde_json::Value {
        self.0
            .get(i)
            .map_or(serde_json::Value::Null, Value::to_json)
    }
}
// ANCHOR_END: args

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "argument {i}: {}", self.error),
            None => write!(f, "arguments: {}", self.error),
        }
    }
}

impl std::error::Error for ArgError {}

/// What an event handler gets.
pub struct Ctx {
    /// The socket that emitted.
    pub socket: SocketId,
    /// Its namespace.
    pub nsp: String,
    /// The arguments.
    pub args: Args,
    /// When the event was dispatched.
    pub now: Instant,
    ack: Option<AckRequest>,
}

impl Ctx {
    /// Whether the client waits for an answer.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Take the client's ack request out, to answer it later from another
    /// thread (`SioHandle::ack`) after blocking work; `None` if the client
    /// wants no answer or it was taken already.
    pub fn take_ack(&mut self) -> Option<AckRequest> {
        self.ack.take()
    }

    /// Answer the client's callback (once; later calls do nothing).
    pub fn ack(&mut self, server: &mut Server, args: Vec<Value>) -> Result<(), SioError> {
        match self.ack.take() {
            Some(request) => server.ack(request, args),
            None => Ok(()),
        }
    }
}

/// The answer to an emit with ack: the arguments, or none in time.
pub type AckResult = Result<Args, AckTimedOut>;

/// No answer in time (or the socket left first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckTimedOut;

type ConnectFn = Box<dyn FnMut(&mut Server, &SocketId, &Value) + Send>;
type EventFn = Box<dyn FnMut(&mut Server, &mut Ctx) + Send>;
type DisconnectFn = Box<dyn FnMut(&mut Server, &SocketId, DisconnectReason) + Send>;
type AckFn = Box<dyn FnOnce(&mut Server, AckResult) + Send>;
type BroadcastAckFn = Box<dyn FnOnce(&mut Server, Vec<(SocketId, Args)>, bool) + Send>;

// ANCHOR: handlers
/// Callbacks by namespace and event name.
#[derive(Default)]
pub struct Handlers {
    connect: HashMap<String, ConnectFn>,
    events: HashMap<(String, String), EventFn>,
    any: HashMap<String, EventFn>,
    disconnect: HashMap<String, DisconnectFn>,
    acks: HashMap<(SocketId, AckId), AckFn>,
    broadcast_acks: HashMap<BroadcastAckId, BroadcastAckFn>,
}

impl Handlers {
    /// Run `f` when a socket joins `nsp` (Node's `connection`).
    pub fn on_connect(
        &mut self,
        nsp: &str,
        f: impl FnMut(&mut Server, &SocketId, &Value) + Send + 'static,
    ) -> &mut Self {
        self.connect.insert(nsp.to_owned(), Box::new(f));
        self
    }

    /// Run `f` for event `name` on `nsp` (`socket.on(name, …)`).
    pub fn on(
        &mut self,
        nsp: &str,
        name: &str,
        f: impl FnMut(&mut Server, &mut Ctx) + Send + 'static,
    ) -> &mut Self {
        self.events
            .insert((nsp.to_owned(), name.to_owned()), Box::new(f));
        self
    }

    /// Run `f` for events on `nsp` that no [`Handlers::on`] takes (Node's
    /// `onAny`); the event's name comes first in `ctx.args`.
    pub fn on_other(
        &mut self,
        nsp: &str,
        f: impl FnMut(&mut Server, &mut Ctx) + Send + 'static,
    ) -> &mut Self {
        self.any.insert(nsp.to_owned(), Box::new(f));
        self
    }

    /// Run `f` when a socket leaves `nsp`.
    pub fn on_disconnect(
        &mut self,
        nsp: &str,
        f: impl FnMut(&mut Server, &SocketId, DisconnectReason) + Send + 'static,
    ) -> &mut Self {
        self.disconnect.insert(nsp.to_owned(), Box::new(f));
        self
    }

    /// Run `f` with the answer to [`Server::emit_with_ack`]'s `id`.
    pub fn on_ack(
        &mut self,
        socket: &SocketId,
        id: AckId,
        f: impl FnOnce(&mut Server, AckResult) + Send + 'static,
    ) {
        self.acks.insert((socket.clone(), id), Box::new(f));
    }

    /// Run `f` with a broadcast's collected answers (and whether all came).
    pub fn on_broadcast_ack(
        &mut self,
        id: BroadcastAckId,
        f: impl FnOnce(&mut Server, Vec<(SocketId, Args)>, bool) + Send + 'static,
    ) {
        self.broadcast_acks.insert(id, Box::new(f));
    }

    /// Drain the server's events into the callbacks; returns how many
    /// events were handled. Handlers may emit, join, disconnect: whatever
    /// they cause is dispatched in the same call.
    pub fn dispatch(&mut self, server: &mut Server, now: Instant) -> usize {
        let mut handled = 0;
        while let Some(event) = server.poll_event() {
            handled += 1;
            match event {
                Event::Connect { socket, nsp, auth } => {
                    if let Some(f) = self.connect.get_mut(&nsp) {
                        f(server, &socket, &auth);
                    }
                }
                Event::Event {
                    socket,
                    nsp,
                    name,
                    args,
                    ack,
                } => {
                    let key = (nsp, name);
                    let mut ctx = Ctx {
                        socket,
                        nsp: key.0.clone(),
                        args: Args(args),
                        now,
                        ack,
                    };
                    if let Some(f) = self.events.get_mut(&key) {
                        f(server, &mut ctx);
                    } else if let Some(f) = self.any.get_mut(&key.0) {
                        ctx.args.0.insert(0, Value::String(key.1));
                        f(server, &mut ctx);
                    }
                }
                Event::Ack { socket, id, args } => {
                    if let Some(f) = self.acks.remove(&(socket, id)) {
                        f(server, Ok(Args(args)));
                    }
                }
                Event::AckTimeout { socket, id } => {
                    if let Some(f) = self.acks.remove(&(socket, id)) {
                        f(server, Err(AckTimedOut));
                    }
                }
                Event::BroadcastAck {
                    id,
                    responses,
                    complete,
                } => {
                    if let Some(f) = self.broadcast_acks.remove(&id) {
                        let responses = responses.into_iter().map(|(s, a)| (s, Args(a))).collect();
                        f(server, responses, complete);
                    }
                }
                Event::Disconnect {
                    socket,
                    nsp,
                    reason,
                } => {
                    self.acks.retain(|(s, _), _| *s != socket);
                    if let Some(f) = self.disconnect.get_mut(&nsp) {
                        f(server, &socket, reason);
                    }
                }
            }
        }
        handled
    }
}
// ANCHOR_END: handlers

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::Payload;
    use crate::socketio::server::{ClientId, Config, Environ, Transmit};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    fn texts(server: &mut Server) -> Vec<(ClientId, String)> {
        std::iter::from_fn(|| server.poll_transmit())
            .filter_map(|t| match t {
                Transmit::Send { client, packet, .. } => Some((client, packet.text.clone())),
                Transmit::Close { .. } => None,
            })
            .collect()
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Chat {
        room: String,
        text: String,
    }

    // ANCHOR: chat_example
    fn chat(log: Arc<Mutex<Vec<String>>>) -> Handlers {
        let mut h = Handlers::default();
        h.on_connect("/", |server, socket, _auth| {
            server.join(socket, "lobby").expect("under the caps");
        })
        .on("/", "chat", |server, ctx| match ctx.args.get::<Chat>(0) {
            Ok(msg) => {
                let args = vec![Value::from(msg.text)];
                let _ = server
                    .broadcast_from(&ctx.socket)
                    .map(|op| op.to(&msg.room).emit("chat", args));
                let _ = ctx.ack(server, vec![Value::from("delivered")]);
            }
            Err(e) => {
                let _ = ctx.ack(server, vec![Value::from(e.to_string())]);
            }
        })
        .on("/", "sum", |server, ctx| {
            let (a, b): (i64, i64) = ctx.args.parse().unwrap_or((0, 0));
            let _ = ctx.ack(server, vec![Value::from(a + b)]);
        })
        .on_disconnect("/", move |_, socket, reason| {
            log.lock().unwrap().push(format!("{socket} left: {reason}"));
        });
        h
    }
    // ANCHOR_END: chat_example

    fn open(server: &mut Server, client: ClientId, now: Instant) {
        server.on_open(client, Environ::default(), now);
        server.on_message(client, Payload::Text("0".into()), now);
    }

    #[test]
    fn handlers_get_typed_arguments_and_answer_acks() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut h = chat(Arc::clone(&log));
        let mut s = Server::new(Config::default());
        let now = Instant::now();
        let (a, b) = (ClientId(1), ClientId(2));
        open(&mut s, a, now);
        open(&mut s, b, now);
        assert_eq!(h.dispatch(&mut s, now), 2);
        texts(&mut s);
        s.on_message(
            a,
            Payload::Text(r#"27["chat",{"room":"lobby","text":"hi"}]"#.into()),
            now,
        );
        h.dispatch(&mut s, now);
        assert_eq!(
            texts(&mut s),
            [
                (b, r#"2["chat","hi"]"#.into()),
                (a, r#"37["delivered"]"#.into())
            ]
        );
        s.on_message(a, Payload::Text(r#"28["chat",{"room":1}]"#.into()), now);
        s.on_message(a, Payload::Text(r#"29["sum",2,40]"#.into()), now);
        h.dispatch(&mut s, now);
        let sent = texts(&mut s);
        assert!(
            sent[0].1.starts_with(r#"38["argument 0: invalid type"#),
            "{sent:?}"
        );
        assert_eq!(sent[1], (a, "39[42]".into()));
        s.on_close(b, DisconnectReason::TransportClose, now);
        h.dispatch(&mut s, now);
        assert!(log.lock().unwrap()[0].ends_with("left: transport close"));
    }

    #[test]
    fn ack_callbacks_run_once_with_the_answer_or_the_timeout() {
        let mut h = Handlers::default();
        let got = Arc::new(Mutex::new(Vec::new()));
        let mut s = Server::new(Config::default());
        let now = Instant::now();
        open(&mut s, ClientId(1), now);
        let Some(Event::Connect { socket, .. }) = s.poll_event() else {
            panic!()
        };
        let second = Duration::from_secs(1);
        for _ in 0..2 {
            let id = s.emit_with_ack(&socket, "q", vec![], second, now).unwrap();
            let got = Arc::clone(&got);
            h.on_ack(&socket, id, move |_, answer| {
                got.lock().unwrap().push(answer)
            });
        }
        s.on_message(ClientId(1), Payload::Text(r#"30[true]"#.into()), now);
        h.dispatch(&mut s, now);
        s.handle_timeout(now + second);
        h.dispatch(&mut s, now + second);
        assert_eq!(
            *got.lock().unwrap(),
            [Ok(Args(vec![Value::Bool(true)])), Err(AckTimedOut)]
        );
        let gid = s.of("/").emit_with_ack("all", vec![], second, now).unwrap();
        let done = Arc::new(Mutex::new(None));
        let d = Arc::clone(&done);
        h.on_broadcast_ack(gid, move |_, answers, complete| {
            *d.lock().unwrap() = Some((answers.len(), complete))
        });
        s.on_message(ClientId(1), Payload::Text(r#"32["ok"]"#.into()), now);
        h.dispatch(&mut s, now);
        assert_eq!(*done.lock().unwrap(), Some((1, true)));
    }

    #[test]
    fn unknown_events_reach_the_catch_all_with_their_name() {
        let mut h = Handlers::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&seen);
        h.on_other("/", move |_, ctx| s2.lock().unwrap().push(ctx.args.json(0)));
        let mut s = Server::new(Config::default());
        let now = Instant::now();
        open(&mut s, ClientId(1), now);
        s.on_message(ClientId(1), Payload::Text(r#"2["whatever",1]"#.into()), now);
        h.dispatch(&mut s, now);
        assert_eq!(*seen.lock().unwrap(), [serde_json::json!("whatever")]);
    }
}
