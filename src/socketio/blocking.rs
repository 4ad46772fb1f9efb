//! A blocking Socket.IO client: the sans-IO [`client::Client`] driven over
//! the blocking Engine.IO client ([`crate::engineio::blocking`]), one new
//! Engine.IO session per (re)connection.
//!
//! ```no_run
//! use netladder::socketio::blocking::ClientBuilder;
//! use netladder::socketio::client::ClientEvent;
//! use std::time::Duration;
//!
//! let mut io = ClientBuilder::new("http://127.0.0.1:7005")?
//!     .namespace("/")
//!     .connect()?;
//! io.emit("chat", vec!["hello".into()])?;
//! // socket.timeout(5000).emitWithAck("echo", 1) in Node; `call` in python-socketio
//! let answer = io.call("echo", vec![1i64.into()], Duration::from_secs(5))?;
//! println!("{answer:?}");
//! while let Some(event) = io.next_event(Duration::from_secs(1)) {
//!     if let ClientEvent::Event { name, args, .. } = event {
//!         println!("{name}: {args:?}");
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! It has no thread of its own: it moves (sends queued packets, answers
//! pings, finishes an upgrade) only inside its methods, so a program that
//! emits and then does something else for a long time should call
//! [`Client::next_event`] now and then. During an upgrade, packets wait in
//! the queue until the switch to the WebSocket, which needs that pumping.
//!
//! [`client::Client`]: super::client::Client

use super::client::{Client as SansIo, ClientConfig, ClientError, ClientEvent, Output};
use super::value::Value;
use crate::engineio::blocking::BlockingClient;
use crate::engineio::client::{
    ClientConfig as EioConfig, ClientEvent as EioEvent, ClientState, Transports,
};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// The longest single wait for Engine.IO input, so timers run in between.
const STEP: Duration = Duration::from_millis(50);

/// Why [`ClientBuilder::connect`] or [`Client::call`] failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The URL is not `http://HOST:PORT[/path]` (or `ws://`).
    BadUrl(String),
    /// The server refused the namespace: `CONNECT_ERROR {message, data}`.
    Refused {
        /// The error's message.
        message: String,
        /// Its `data`.
        data: Option<Value>,
    },
    /// Nothing (or no answer) in time.
    Timeout,
    /// The client gave up or was closed.
    Closed,
    /// The client refused the request.
    Client(ClientError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadUrl(url) => write!(f, "not an http://HOST:PORT URL: {url}"),
            Error::Refused { message, data } => match data {
                Some(data) => write!(f, "refused: {message} ({})", data.to_json()),
                None => write!(f, "refused: {message}"),
            },
            Error::Timeout => f.write_str("timed out"),
            Error::Closed => f.write_str("the client is closed"),
            Error::Client(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Error {
        Error::Client(e)
    }
}

/// Settings for a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    authority: String,
    path: String,
    namespace: String,
    auth: Option<Value>,
    transports: Transports,
    config: ClientConfig,
    connect_timeout: Duration,
}

impl ClientBuilder {
    /// A client of the server at `url`: `http://HOST:PORT` (or `ws://`,
    /// or bare `HOST:PORT`), optionally with the Engine.IO path
    /// (`/socket.io/` by default).
    pub fn new(url: &str) -> Result<ClientBuilder, Error> {
        let rest = ["http://", "ws://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme))
            .unwrap_or(url);
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if authority.is_empty() || !authority.contains(':') || rest.contains("://") {
            return Err(Error::BadUrl(url.to_owned()));
        }
        let path = match path {
            "" | "/" => "/socket.io/".to_owned(),
            p if p.ends_with('/') => p.to_owned(),
            p => format!("{p}/"),
        };
        Ok(ClientBuilder {
            authority: authority.to_owned(),
            path,
            namespace: "/".into(),
            auth: None,
            transports: Transports::PollingThenUpgrade,
            config: ClientConfig::default(),
            connect_timeout: Duration::from_secs(20),
        })
    }

    /// The namespace to join (`/` by default).
    pub fn namespace(mut self, nsp: &str) -> ClientBuilder {
        self.namespace = nsp.to_owned();
        self
    }

    /// The `auth` object sent in the `CONNECT`.
    pub fn auth(mut self, auth: Value) -> ClientBuilder {
        self.auth = Some(auth);
        self
    }

    /// Which transports (polling then upgrade, by default).
    pub fn transports(mut self, transports: Transports) -> ClientBuilder {
        self.transports = transports;
        self
    }

    /// The sans-IO client's settings (reconnection, limits).
    pub fn config(mut self, config: ClientConfig) -> ClientBuilder {
        self.config = config;
        self
    }

    /// Reconnect or not when the session is lost (on by default).
    pub fn reconnection(mut self, on: bool) -> ClientBuilder {
        self.config.reconnection = on;
        self
    }

    /// How long [`ClientBuilder::connect`] waits (20 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// A client that has started connecting; its events tell the rest.
    pub fn start(self) -> Client {
        let mut sio = SansIo::new(self.config);
        // A fresh client is never closed: connect cannot fail.
        let _ = sio.connect(&self.namespace, self.auth);
        let mut client = Client {
            sio,
            eio: None,
            authority: self.authority,
            eio_config: EioConfig {
                path: self.path,
                transports: self.transports,
                ..EioConfig::default()
            },
            namespace: self.namespace,
            stash: VecDeque::new(),
        };
        client.drive();
        client
    }

    /// Connects and waits until the namespace is joined (reconnecting in
    /// between if the server is not up yet): `Err` if refused, or after
    /// the connect timeout.
    pub fn connect(self) -> Result<Client, Error> {
        let timeout = self.connect_timeout;
        let mut client = self.start();
        let deadline = Instant::now() + timeout;
        let mut kept = VecDeque::new();
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match client.next_event(left) {
                Some(ClientEvent::Connect { nsp, .. }) if nsp == client.namespace => break Ok(()),
                Some(ClientEvent::ConnectError {
                    nsp, message, data, ..
                }) if nsp == client.namespace => break Err(Error::Refused { message, data }),
                Some(ClientEvent::ReconnectFailed) => break Err(Error::Closed),
                Some(ClientEvent::Reconnecting { .. } | ClientEvent::Reconnected { .. }) => {}
                Some(other) => kept.push_back(other),
                None => break Err(Error::Timeout),
            }
        };
        match result {
            Ok(()) => {
                client.stash = kept;
                Ok(client)
            }
            Err(e) => {
                client.close();
                Err(e)
            }
        }
    }
}

/// A blocking Socket.IO client.
pub struct Client {
    sio: SansIo,
    eio: Option<BlockingClient>,
    authority: String,
    eio_config: EioConfig,
    namespace: String,
    /// Events read while waiting for something else (an ack).
    stash: VecDeque<ClientEvent>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("sio", &self.sio)
            .field("authority", &self.authority)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The sans-IO client underneath (state, sids, recovery).
    pub fn sans_io(&self) -> &SansIo {
        &self.sio
    }

    /// The namespace given to the builder.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The socket id on the main namespace, while connected.
    pub fn sid(&self) -> Option<&str> {
        self.sio.sid(&self.namespace)
    }

    /// Whether the last connect recovered the previous session
    /// (Node's `socket.recovered`).
    pub fn recovered(&self) -> bool {
        self.sio.recovered(&self.namespace)
    }

    /// Whether the namespace is connected.
    pub fn is_connected(&self) -> bool {
        self.sio.is_connected(&self.namespace)
    }

    /// The Engine.IO transport in use: `"polling"`, `"websocket"` or `None`.
    pub fn transport(&self) -> Option<&'static str> {
        match self.eio.as_ref()?.client().state() {
            ClientState::Polling | ClientState::Upgrading => Some("polling"),
            ClientState::WebSocket => Some("websocket"),
            ClientState::Opening | ClientState::Closed => None,
        }
    }

    /// Joins another namespace on the same session (events report it).
    pub fn connect_namespace(&mut self, nsp: &str, auth: Option<Value>) -> Result<(), Error> {
        self.sio.connect(nsp, auth)?;
        self.drive();
        Ok(())
    }

    /// Emits on the main namespace.
    pub fn emit(&mut self, name: &str, args: Vec<Value>) -> Result<(), Error> {
        let nsp = self.namespace.clone();
        self.emit_to(&nsp, name, args)
    }

    /// Emits on `nsp`.
    pub fn emit_to(&mut self, nsp: &str, name: &str, args: Vec<Value>) -> Result<(), Error> {
        self.sio.emit(nsp, name, args)?;
        self.drive();
        Ok(())
    }

    /// Emits asking for an ack, without waiting: the answer comes as
    /// [`ClientEvent::Ack`] (or [`ClientEvent::AckTimeout`]) with this id.
    pub fn emit_with_ack(
        &mut self,
        nsp: &str,
        name: &str,
        args: Vec<Value>,
        timeout: Option<Duration>,
    ) -> Result<u64, Error> {
        let id = self
            .sio
            .emit_with_ack(nsp, name, args, timeout, Instant::now())?;
        self.drive();
        Ok(id)
    }

    /// Emits on the main namespace and waits for the ack (python-socketio's
    /// `call`, Node's `emitWithAck`). Events that come meanwhile wait for
    /// [`Client::next_event`].
    pub fn call(
        &mut self,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Vec<Value>, Error> {
        let nsp = self.namespace.clone();
        self.call_in(&nsp, name, args, timeout)
    }

    /// [`Client::call`] on `nsp`.
    pub fn call_in(
        &mut self,
        nsp: &str,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Vec<Value>, Error> {
        let id = self.emit_with_ack(nsp, name, args, Some(timeout))?;
        loop {
            // The ack's own deadline ends this loop with AckTimeout.
            match self.pump(Instant::now() + STEP) {
                Some(ClientEvent::Ack { id: got, args, .. }) if got == id => return Ok(args),
                Some(ClientEvent::AckTimeout { id: got, .. }) if got == id => {
                    return Err(Error::Timeout);
                }
                Some(ClientEvent::ReconnectFailed) => {
                    self.stash.push_back(ClientEvent::ReconnectFailed);
                    return Err(Error::Closed);
                }
                Some(other) => self.stash.push_back(other),
                None if self.sio.is_closed() => return Err(Error::Closed),
                None => {}
            }
        }
    }

    /// Answers the server's event that asked for ack `id` on the main
    /// namespace.
    pub fn ack(&mut self, id: u64, args: Vec<Value>) -> Result<(), Error> {
        let nsp = self.namespace.clone();
        self.ack_in(&nsp, id, args)
    }

    /// Answers ack `id` on `nsp`.
    pub fn ack_in(&mut self, nsp: &str, id: u64, args: Vec<Value>) -> Result<(), Error> {
        self.sio.ack(nsp, id, args)?;
        self.drive();
        Ok(())
    }

    /// Leaves `nsp`.
    pub fn disconnect_namespace(&mut self, nsp: &str) {
        self.sio.disconnect(nsp);
        self.drive();
    }

    /// Leaves every namespace and closes the session.
    pub fn close(&mut self) {
        self.sio.close();
        self.drive();
    }

    /// The next event, waiting at most `timeout`. `None` on timeout, and
    /// at once when the client is closed and nothing is left.
    pub fn next_event(&mut self, timeout: Duration) -> Option<ClientEvent> {
        if let Some(e) = self.stash.pop_front() {
            return Some(e);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.pump(deadline) {
                return Some(e);
            }
            if Instant::now() >= deadline || (self.sio.is_closed() && self.eio.is_none()) {
                return None;
            }
        }
    }

    /// Runs until an event or `until`.
    fn pump(&mut self, until: Instant) -> Option<ClientEvent> {
        loop {
            self.drive();
            if let Some(e) = self.sio.poll_event() {
                return Some(e);
            }
            let now = Instant::now();
            if self.sio.poll_timeout().is_some_and(|at| at <= now) {
                self.sio.handle_timeout(now);
                continue;
            }
            if now >= until || (self.sio.is_closed() && self.eio.is_none()) {
                return None;
            }
            let mut wait = until - now;
            if let Some(at) = self.sio.poll_timeout() {
                wait = wait.min(at - now);
            }
            let wait = wait.min(STEP);
            let Some(eio) = &mut self.eio else {
                std::thread::sleep(wait);
                continue;
            };
            match eio.next_event(wait) {
                Some(EioEvent::Open(_)) => self.sio.on_open(Instant::now()),
                Some(EioEvent::Message(m)) => self.sio.on_message(m, Instant::now()),
                Some(EioEvent::Upgraded) | None => {}
                Some(EioEvent::Close(reason)) => {
                    self.eio = None;
                    self.sio.on_close(&reason, Instant::now());
                }
            }
        }
    }

    /// Carries out what the sans-IO client asks for.
    fn drive(&mut self) {
        while let Some(output) = self.sio.poll_output() {
            match output {
                Output::Open => {
                    self.eio = Some(BlockingClient::connect(
                        &self.authority,
                        self.eio_config.clone(),
                    ));
                }
                Output::Send(payload) => {
                    if let Some(eio) = &mut self.eio {
                        // Refused only when the session is closing: its
                        // Close event follows and reconnection takes over.
                        let _ = eio.send(payload);
                    }
                }
                Output::Close => {
                    if let Some(mut eio) = self.eio.take() {
                        eio.close();
                    }
                }
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let b = ClientBuilder::new("http://127.0.0.1:7005").unwrap();
        assert_eq!(
            (b.authority.as_str(), b.path.as_str()),
            ("127.0.0.1:7005", "/socket.io/")
        );
        let b = ClientBuilder::new("ws://localhost:1/custom").unwrap();
        assert_eq!(
            (b.authority.as_str(), b.path.as_str()),
            ("localhost:1", "/custom/")
        );
        let b = ClientBuilder::new("127.0.0.1:9/").unwrap();
        assert_eq!(b.path, "/socket.io/");
        for bad in ["", "http://", "https://x:1", "http://nohost/"] {
            assert!(ClientBuilder::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_refused_connection_times_out_cleanly() {
        // Port 1 on loopback: nobody listens.
        let started = Instant::now();
        let err = ClientBuilder::new("http://127.0.0.1:1")
            .unwrap()
            .connect_timeout(Duration::from_millis(300))
            .connect()
            .unwrap_err();
        assert_eq!(err, Error::Timeout);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
