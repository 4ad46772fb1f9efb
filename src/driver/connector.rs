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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{Ctx, Mailbox, mio, threads};
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::mpsc::{Sender, channel};
    use std::time::Duration;

    /// Reports what it reads and how it ended.
    struct Probe(Sender<String>);

    impl Protocol for Probe {
        type Mail = ();
        fn on_open(&mut self, _mailbox: Mailbox<()>, ctx: &mut Ctx) {
            ctx.send(b"hello");
        }
        fn on_bytes(&mut self, input: &[u8], _ctx: &mut Ctx) -> usize {
            let _ = self.0.send(String::from_utf8_lossy(input).into_owned());
            input.len()
        }
        fn on_closed(&mut self, reason: CloseReason) {
            let _ = self.0.send(format!("closed: {reason}"));
        }
    }

    /// A peer that reads our greeting, answers, and closes.
    fn peer() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut greeting = [0; 5];
            std::io::Read::read_exact(&mut stream, &mut greeting).unwrap();
            stream.write_all(b"hi ").unwrap();
            stream.write_all(&greeting).unwrap();
        });
        addr
    }

    /// A loopback port nobody listens on.
    fn refusing() -> SocketAddr {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    fn check(connector: &Connector<Probe>) {
        let wait = Duration::from_secs(10);
        let (tx, rx) = channel();
        assert!(connector.connect(peer(), Probe(tx)).is_ok());
        let mut got = String::new();
        loop {
            let line = rx.recv_timeout(wait).expect("news from the connection");
            if line.starts_with("closed") {
                assert_eq!(line, "closed: closed");
                break;
            }
            got.push_str(&line);
        }
        assert_eq!(got, "hi hello");
        let (tx, rx) = channel();
        assert!(connector.connect(refusing(), Probe(tx)).is_ok());
        assert_eq!(
            rx.recv_timeout(wait).unwrap(),
            "closed: connect failed: connection refused"
        );
    }

    #[test]
    fn the_mio_loop_connects_out_while_serving() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (handles_tx, handles) = channel();
        let server = std::thread::spawn(move || {
            let handles_tx2 = handles_tx.clone();
            mio::serve_with_connector(
                listener,
                move |connector: Connector<Probe>| {
                    handles_tx.send(Ok(connector)).unwrap();
                    |_peer| -> Probe { unreachable!("nobody connects to this server") }
                },
                mio::Config::default(),
                move |shutdown| handles_tx2.send(Err(shutdown)).unwrap(),
            )
        });
        let Ok(connector) = handles.recv().unwrap() else {
            panic!("the connector comes first")
        };
        let Err(shutdown) = handles.recv().unwrap() else {
            panic!("then the shutdown handle")
        };
        check(&connector);
        shutdown.shutdown();
        server.join().unwrap().unwrap();
        // A stopped loop gives the protocol back.
        let (tx, _rx) = channel();
        assert!(connector.connect(refusing(), Probe(tx)).is_err());
    }

    #[test]
    fn the_threads_driver_connects_out() {
        check(&threads::connector(threads::Config::default()));
    }
}
