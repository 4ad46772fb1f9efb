//! HTTP/1.1, sans-IO, on top of the `httparse` crate (chapter 2).
//!
//! `httparse` turns bytes into a borrowed view of a head and nothing more.
//! Everything HTTP/1.1 builds on top is here, in small files:
//!
//! | file | what it does |
//! |---|---|
//! | [`headers`] | header fields and the version |
//! | [`request`] | the [`Request`] type and the head parser: framing, keep-alive, `Expect` |
//! | [`chunked`] | the chunked transfer coding, decoder and encoder |
//! | [`response`] | the [`Response`] builder and the response writer |
//! | [`limits`] | [`Limits`]: sizes and timeouts, each with its status code |
//! | [`error`] | [`RequestError`]: what a bad request gets |
//! | [`server`] | [`ServerConn`]: one connection's state machine |
//! | [`protocol`] | [`HttpProtocol`]: a [`Handler`] on a [`crate::driver`] |
//! | [`client`] | [`ResponseParser`], the request writer and a blocking `get` |
//!
//! # Layers
//!
//! [`ServerConn`] knows HTTP and nothing else: it is fed bytes and yields
//! requests; it is handed responses and yields bytes. [`HttpProtocol`] puts
//! it behind the driver's [`crate::driver::Protocol`] trait and calls your
//! [`Handler`] for each request.
//!
//! # Answering later (long polling)
//!
//! A handler need not answer at once. It returns [`Reply::Later`] with a
//! deadline and a fallback response, and keeps the [`Responder`] it was given
//! (say, in a list of waiting pollers). Later, any thread calls
//! [`Responder::send`]: the response travels through the connection's
//! [`crate::driver::Mailbox`] as a [`HttpMail`] and is written when the driver
//! delivers it. If the deadline passes first, the fallback is sent and a late
//! [`Responder::send`] is ignored (each responder names its request).
//!
//! While a request is held, requests pipelined behind it wait unread, so
//! responses always leave in request order.

pub mod chunked;
pub mod client;
pub mod error;
pub mod headers;
pub mod limits;
#[cfg(test)]
mod mutations;
pub mod protocol;
pub mod request;
pub mod response;
pub mod server;

pub use client::{ClientResponse, ResponseParser};
pub use error::RequestError;
pub use headers::{Headers, Version};
pub use limits::Limits;
pub use protocol::{Handler, HttpMail, HttpProtocol, Reply, Responder};
pub use request::Request;
pub use response::Response;
pub use server::{Outcome, Progress, ServerConn};
