//! A blocking WebSocket client over `std::net`.
//!
//! The opening handshake is an HTTP/1.1 request and response, so it reuses
//! chapter 2's client: [`crate::http::client::parse_url`] and
//! [`crate::http::client::parse_response_head`]. After the `101`, the socket
//! carries frames, handled by the sans-IO [`WsConnection`] in the client role
//! (which masks everything it sends).

use super::connection::{Config, Role, State, WsConnection, WsMessage};
use super::deflate::Deflate;
use super::handshake::client::ClientHandshake;
use crate::http::client::{parse_response_head, parse_url};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long the opening handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// An open WebSocket connection, from the client's side.
#[derive(Debug)]
pub struct WsClient {
    stream: TcpStream,
    conn: WsConnection,
    /// Bytes read but not yet consumed: a partial frame header.
    input: Vec<u8>,
    /// Messages decoded and not yet returned by [`WsClient::recv`].
    ready: VecDeque<WsMessage>,
    subprotocol: Option<String>,
}

fn other(err: impl std::fmt::Display) -> io::Error {
    io::Error::other(err.to_string())
}

// ANCHOR: connect
/// Connects to a `ws://host[:port]/path` URL, offering `subprotocols`.
pub fn connect(url: &str, subprotocols: &[&str], config: Config) -> io::Result<WsClient> {
    let http_url = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ws") => format!("http://{rest}"),
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("wss") => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "wss:// needs TLS, which netladder does not do",
            ));
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a ws:// URL: {url}"),
            ));
        }
    };
    let target = parse_url(&http_url)?;
    let mut stream = TcpStream::connect((target.host.as_str(), target.port))?;
    stream.set_nodelay(true)?;
    // A server that accepts but never answers must not hang us forever.
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut handshake = ClientHandshake::new(&target.authority, &target.target, subprotocols, None)
        .map_err(other)?;
    if let Some(deflate) = &config.deflate {
        handshake = handshake.with_deflate(deflate.clone());
    }
    stream.write_all(handshake.request_bytes())?;

    // Read until the response head is whole; frames may follow it at once.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (subprotocol, deflate, rest) = loop {
        if let Some((head, rest)) = parse_response_head(&buf).map_err(other)? {
            let subprotocol = handshake
                .check_response(head.status, &head.headers)
                .map_err(other)?;
            let deflate = handshake.deflate_params(&head.headers);
            break (subprotocol, deflate, rest.to_vec());
        }
        match stream.read(&mut chunk)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => buf.extend_from_slice(&chunk[..n]),
        }
    };
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(None)?;
    let mut conn = WsConnection::new(Role::Client, config.clone());
    if let (Some(params), Some(ours)) = (deflate, &config.deflate) {
        conn.set_deflate(Deflate::new(Role::Client, params, ours));
    }
    Ok(WsClient {
        stream,
        conn,
        input: rest,
        ready: VecDeque::new(),
        subprotocol,
    })
}
// ANCHOR_END: connect

impl WsClient {
    /// The subprotocol the server chose, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The compression agreed with the server, if any.
    pub fn deflate(&self) -> Option<&crate::ws::DeflateParams> {
        self.conn.deflate().map(|d| d.params())
    }

    /// Where the close handshake is.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// Limits how long [`WsClient::recv`] blocks; a timeout is an error of
    /// kind `WouldBlock` or `TimedOut`, after which `recv` can be called again.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.conn.send_text(text).map_err(other)?;
        self.flush()
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> io::Result<()> {
        self.conn.send_binary(data).map_err(other)?;
        self.flush()
    }

    /// Sends a ping; its pong comes back through [`WsClient::recv`].
    pub fn send_ping(&mut self, payload: &[u8]) -> io::Result<()> {
        self.conn.send_ping(payload).map_err(other)?;
        self.flush()
    }

    /// Starts the close handshake; keep calling `recv` until it returns
    /// `None` to see the server's answer.
    pub fn close(&mut self, code: u16, reason: &str) -> io::Result<()> {
        self.conn.close(code, reason).map_err(other)?;
        self.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        let out = self.conn.take_output();
        if !out.is_empty() {
            self.stream.write_all(&out)?;
        }
        Ok(())
    }

    // ANCHOR: recv
    /// The next message (pings are answered automatically, and returned
    /// too). `None` once the connection has closed; the close frame itself
    /// is returned first as [`WsMessage::Close`].
    pub fn recv(&mut self) -> io::Result<Option<WsMessage>> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Ok(Some(message));
            }
            if !self.input.is_empty() {
                let mut messages = Vec::new();
                let result = self.conn.receive(&self.input, &mut messages);
                self.ready.extend(messages);
                self.flush()?; // pongs, and our answer to a close
                match result {
                    Ok(used) => {
                        self.input.drain(..used);
                    }
                    Err(err) => {
                        self.input.clear();
                        if self.ready.is_empty() {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                err.to_string(),
                            ));
                        }
                    }
                }
                if !self.ready.is_empty() {
                    continue;
                }
            }
            if self.conn.should_close_transport() || self.conn.state() == State::Closed {
                let _ = self.stream.shutdown(std::net::Shutdown::Both);
                return Ok(None);
            }
            match self.stream.read(&mut chunk)? {
                0 => {
                    self.conn.transport_closed();
                    return Ok(None);
                }
                n => self.input.extend_from_slice(&chunk[..n]),
            }
        }
    }
    // ANCHOR_END: recv
}
