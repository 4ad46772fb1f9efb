use super::*;
use crate::driver::{Deliver, MailboxError};

/// A mailbox that counts its wake-ups.
struct Count(Arc<AtomicUsize>);

impl Deliver<EioMail> for Count {
    fn deliver(&self, _: EioMail) -> Result<(), MailboxError<EioMail>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

const UPGRADE: &str = "GET /engine.io/?EIO=4&transport=websocket&k=v HTTP/1.1\r\n\
    Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
    X-Token: t0k\r\n\r\n";

#[test]
fn a_websocket_session_opens_with_its_upgrade_request_and_volatile_skips_a_backlog() {
    let (engine, events) = EngineIo::new(EngineIoConfig::default());
    let factory = engine.factory(|_| Response::new(404));
    let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let now = Instant::now();
    let mut conn = factory(peer);
    let wakes = Arc::new(AtomicUsize::new(0));
    conn.on_open(
        Mailbox::new(Count(Arc::clone(&wakes))),
        &mut Ctx::new(now, peer),
    );
    let mut ctx = Ctx::new(now, peer);
    assert_eq!(conn.on_bytes(UPGRADE.as_bytes(), &mut ctx), UPGRADE.len());
    assert!(ctx.queued().starts_with(b"HTTP/1.1 101"));
    let Ok(EioEvent::Open(sid, request)) = events.recv_timeout(Duration::from_secs(5)) else {
        panic!("no open event")
    };
    assert_eq!(request.url, "/engine.io/?EIO=4&transport=websocket&k=v");
    assert_eq!(request.query_param("k"), Some("v"));
    assert_eq!(request.header("x-token"), Some("t0k"));
    assert_eq!(request.address, Some(peer));
    let volatile = || {
        let message = SharedMessage::new(Payload::Text("tick".into()));
        [(sid.clone(), Outgoing::Volatile(vec![message]))]
    };
    // The open packet leaves, and the driver still holds 5000 bytes.
    conn.on_message(EioMail::Wake, &mut Ctx::for_driver(now, peer, 5000));
    let before = wakes.load(Ordering::Relaxed);
    assert_eq!(engine.send_batch(volatile()), 1, "skipped: a backlog");
    assert_eq!(
        wakes.load(Ordering::Relaxed),
        before + 1,
        "the connection is poked to look again"
    );
    // Its next callback finds the driver's buffer empty.
    conn.on_message(EioMail::Wake, &mut Ctx::for_driver(now, peer, 0));
    assert_eq!(engine.send_batch(volatile()), 0, "sent");
    engine.shutdown();
}
