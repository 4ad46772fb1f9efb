//! The balancer's protocol without sockets: a front and its backs driven
//! by hand, mail carried between them by the test.

use super::*;
use crate::driver::Deliver;
use std::sync::mpsc::{Receiver, Sender, channel};

/// A mailbox whose messages the test collects.
struct Collect(Mutex<Sender<Mail>>);

impl Deliver<Mail> for Collect {
    fn deliver(&self, message: Mail) -> Result<(), MailboxError<Mail>> {
        let sent = self.0.lock().unwrap().send(message);
        sent.map_err(|e| MailboxError::Closed(e.0))
    }
}

fn mailbox() -> (Mailbox<Mail>, Receiver<Mail>) {
    let (tx, rx) = channel();
    (Mailbox::new(Collect(Mutex::new(tx))), rx)
}

fn backends() -> Vec<SocketAddr> {
    (1..=3)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], 9000 + i)))
        .collect()
}

fn ctx() -> Ctx {
    Ctx::new(Instant::now(), SocketAddr::from(([127, 0, 0, 9], 5555)))
}

/// A front, the connects it asks for, and the mail sent to it.
struct Rig {
    front: Conn,
    connects: Receiver<(SocketAddr, Conn)>,
    to_front: Receiver<Mail>,
    balancer: Arc<Balancer>,
}

fn rig() -> Rig {
    let balancer = Balancer::new(backends(), Limits::default());
    let (tx, connects) = channel();
    let tx = Mutex::new(tx);
    let connector = Connector::new(move |addr, conn| {
        tx.lock().unwrap().send((addr, conn)).unwrap();
        Ok(())
    });
    let mut front = balancer.factory(connector)(SocketAddr::from(([127, 0, 0, 9], 5555)));
    let (mailbox, to_front) = mailbox();
    front.on_open(mailbox, &mut ctx());
    Rig {
        front,
        connects,
        to_front,
        balancer,
    }
}

impl Rig {
    /// The client sends `request`: the backend it goes to, and its back.
    fn request(&mut self, request: &str) -> (SocketAddr, Conn) {
        let mut c = ctx();
        assert_eq!(
            self.front.on_bytes(request.as_bytes(), &mut c),
            request.len()
        );
        self.connects.try_recv().expect("a backend connection")
    }

    /// Opens `back` and has it answer `response`; delivers what it mailed
    /// to the front; returns what the client got and what the backend got.
    fn answer(&mut self, back: &mut Conn, response: &str) -> (String, String) {
        let (back_box, _to_back) = mailbox();
        let mut b = ctx();
        back.on_open(back_box, &mut b);
        let sent_to_backend = String::from_utf8(b.queued().to_vec()).unwrap();
        back.on_bytes(response.as_bytes(), &mut ctx());
        let mut c = ctx();
        while let Ok(mail) = self.to_front.try_recv() {
            self.front.on_message(mail, &mut c);
        }
        (
            String::from_utf8(c.queued().to_vec()).unwrap(),
            sent_to_backend,
        )
    }
}

const HANDSHAKE: &str = "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
/// The answer to a handshake: session S1.
fn open_response() -> String {
    let open = r#"0{"sid":"S1","upgrades":[]}"#;
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{open}",
        open.len()
    )
}

fn with_sid(method: &str, sid: &str, body: &str) -> String {
    format!(
        "{method} /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_handshake_teaches_the_sid_and_later_requests_follow_it() {
    let mut rig = rig();
    let (addr, mut back) = rig.request(HANDSHAKE);
    assert_eq!(addr, backends()[0]);
    let open = "0{\"sid\":\"S1\",\"upgrades\":[]}";
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{open}",
        open.len()
    );
    let (client, backend) = rig.answer(&mut back, &response);
    assert!(backend.starts_with("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\n"));
    assert!(backend.contains("Connection: close\r\n"), "{backend}");
    assert!(
        backend.contains("X-Forwarded-For: 127.0.0.9\r\n"),
        "{backend}"
    );
    assert!(client.starts_with("HTTP/1.1 200 OK\r\n"), "{client}");
    assert!(client.ends_with(open), "{client}");
    assert!(
        !client.contains("Connection: close"),
        "the client's connection stays open"
    );
    assert_eq!(rig.balancer.sessions(), 1);
    // Every request of the session goes to the first backend; a new
    // handshake goes on round-robin.
    for _ in 0..3 {
        let (addr, mut back) = rig.request(&with_sid("POST", "S1", "4hi"));
        assert_eq!(addr, backends()[0]);
        let (client, backend) =
            rig.answer(&mut back, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        assert!(backend.ends_with("\r\n\r\n4hi"), "{backend}");
        assert!(client.ends_with("\r\n\r\nok"), "{client}");
    }
    let (addr, _) = rig.request(HANDSHAKE);
    assert_eq!(addr, backends()[1]);
}

#[test]
fn an_unknown_sid_is_answered_by_the_balancer() {
    let mut rig = rig();
    let mut c = ctx();
    let request = with_sid("GET", "nobody", "");
    rig.front.on_bytes(request.as_bytes(), &mut c);
    assert!(rig.connects.try_recv().is_err(), "no backend is asked");
    let reply = String::from_utf8(c.queued().to_vec()).unwrap();
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    assert!(
        reply.ends_with(r#"{"code":1,"message":"Session ID unknown"}"#),
        "{reply}"
    );
}

#[test]
fn a_refused_connect_moves_a_new_session_to_the_next_backend() {
    let mut rig = rig();
    let (addr, mut back) = rig.request(HANDSHAKE);
    assert_eq!(addr, backends()[0]);
    back.on_closed(CloseReason::ConnectFailed(io::ErrorKind::ConnectionRefused));
    let mut c = ctx();
    while let Ok(mail) = rig.to_front.try_recv() {
        rig.front.on_message(mail, &mut c);
    }
    let (addr, mut back) = rig.connects.try_recv().expect("a second try");
    assert_eq!(addr, backends()[1]);
    let (client, _) = rig.answer(&mut back, &open_response());
    assert!(client.starts_with("HTTP/1.1 200 OK"), "{client}");
    // The refusing backend is skipped by the next handshakes.
    let (addr, _) = rig.request(HANDSHAKE);
    assert_eq!(addr, backends()[2]);
}

#[test]
fn a_sessions_dead_backend_gets_a_502_and_the_session_is_forgotten() {
    let mut rig = rig();
    let (_, mut back) = rig.request(HANDSHAKE);
    rig.answer(&mut back, &open_response());
    let (addr, mut back) = rig.request(&with_sid("GET", "S1", ""));
    assert_eq!(addr, backends()[0]);
    back.on_closed(CloseReason::ConnectFailed(io::ErrorKind::ConnectionRefused));
    let mut c = ctx();
    while let Ok(mail) = rig.to_front.try_recv() {
        rig.front.on_message(mail, &mut c);
    }
    assert!(rig.connects.try_recv().is_err(), "not retried elsewhere");
    let reply = String::from_utf8(c.queued().to_vec()).unwrap();
    assert!(reply.starts_with("HTTP/1.1 502 "), "{reply}");
    assert!(reply.contains("S1"), "{reply}");
    assert_eq!(rig.balancer.sessions(), 0);
}

#[test]
fn a_101_joins_the_connections_into_a_tunnel() {
    let mut rig = rig();
    let upgrade = "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
                   Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\
                   Sec-WebSocket-Version: 13\r\n\r\nEARLY";
    let (_, mut back) = rig.request(upgrade);
    let (back_box, to_back) = mailbox();
    let mut b = ctx();
    back.on_open(back_box, &mut b);
    let sent = String::from_utf8(b.queued().to_vec()).unwrap();
    assert!(sent.contains("Upgrade: websocket"), "{sent}");
    assert!(!sent.contains("Connection: close"), "{sent}");
    let switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Accept: a\r\n\r\nFRAME1";
    back.on_bytes(switching.as_bytes(), &mut ctx());
    let mut c = ctx();
    while let Ok(mail) = rig.to_front.try_recv() {
        rig.front.on_message(mail, &mut c);
    }
    let client = String::from_utf8(c.queued().to_vec()).unwrap();
    assert!(
        client.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{client}"
    );
    assert!(client.ends_with("\r\n\r\nFRAME1"), "{client}");
    // What the client sent after its request, then anything later, goes
    // to the backend as it is.
    let mut c = ctx();
    rig.front.on_bytes(b"FRAME2", &mut c);
    let got: Vec<Vec<u8>> = to_back
        .try_iter()
        .filter_map(|m| match m {
            Mail::Data(bytes) => Some(bytes),
            _ => None,
        })
        .collect();
    assert_eq!(got, [b"EARLY".to_vec(), b"FRAME2".to_vec()]);
    // And the backend's bytes reach the client.
    back.on_bytes(b"FRAME3", &mut ctx());
    let mut c = ctx();
    while let Ok(mail) = rig.to_front.try_recv() {
        rig.front.on_message(mail, &mut c);
    }
    assert_eq!(c.queued().as_ref(), b"FRAME3");
}
