//! Outbound connections opened while a server runs: what a proxy needs.
//!
//! A [`Connector`] asks the driver to connect to an address and run a
//! protocol on the new connection, with the same contract as an accepted
//! one: [`Protocol::on_open`] at once (bytes sent then wait until the
//! connect completes), and [`Protocol::on_closed`] with
//! [`CloseReason::ConnectFailed`] if it never does. The balancer of
//! chapter 6 opens its backend connections this way. Get one from
//! [`super::mio::serve_with_connector`] or [`super::threads::connector`].

use super::{CloseReason, Protocol};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// Opens outbound connections on a running driver. Cheap to clone; usable
/// from any thread, including from inside a protocol's callbacks.
pub struct Connector<P> {
    inner: Arc<dyn Fn(SocketAddr, P) -> Result<(), P> + Send + Sync>,
}

impl<P> Clone for Connector<P> {
    fn clone(&self) -> Self {
        Connector {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<P> fmt::Debug for Connector<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Connector")
    }
}

impl<P: Protocol> Connector<P> {
    /// A connector backed by a driver's own way of connecting. Drivers make
    /// these.
    pub fn new(connect: impl Fn(SocketAddr, P) -> Result<(), P> + Send + Sync + 'static) -> Self {
        Connector {
            inner: Arc::new(connect),
        }
    }

    /// Starts connecting to `addr`, running `protocol` on the connection.
    /// Never blocks. A connect that fails later reaches the protocol as
    /// [`Protocol::on_closed`] with [`CloseReason::ConnectFailed`]; `Err`
    /// gives the protocol back at once when the driver is shutting down.
    pub fn connect(&self, addr: SocketAddr, protocol: P) -> Result<(), P> {
        (self.inner)(addr, protocol)
    }
}

/// Tells a protocol whose connect failed before it ever opened.
pub(crate) fn refused<P: Protocol>(mut protocol: P, kind: std::io::ErrorKind) {
    protocol.on_closed(CloseReason::ConnectFailed(kind));
}
