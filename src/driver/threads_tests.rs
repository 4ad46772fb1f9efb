//! Tests of the threaded driver's own mechanics. The driver contract and
//! the limits shared with the mio driver are tested on both drivers in
//! `tests/driver_contract.rs` and `tests/driver_limits.rs`.

use super::*;
use std::sync::mpsc;

/// Consumes bytes slowly (a millisecond per call) and counts mail.
struct Slow {
    mail: mpsc::Sender<Mailbox<u32>>,
}

impl Protocol for Slow {
    type Mail = u32;

    fn on_open(&mut self, mailbox: Mailbox<u32>, _ctx: &mut Ctx) {
        let _ = self.mail.send(mailbox);
    }

    fn on_bytes(&mut self, input: &[u8], _ctx: &mut Ctx) -> usize {
        thread::sleep(Duration::from_millis(1));
        input.len()
    }
}

#[test]
fn a_peer_flooding_bytes_does_not_fill_its_own_mailbox() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let config = Config {
        inbox_capacity: 8,
        read_chunk: 64,
        ..Config::default()
    };
    spawn(
        listener,
        move |_| Slow {
            mail: tx.lock().unwrap().clone(),
        },
        config,
    );
    let mut flooder = TcpStream::connect(addr).unwrap();
    let mailbox = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    // Keep the reader far ahead of the slow owner.
    let flood = thread::spawn(move || {
        let chunk = [b'x'; 64];
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            if flooder.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    thread::sleep(Duration::from_millis(100));
    // Bytes have their own limit: the mailbox still has all its room.
    for i in 0..8 {
        assert!(
            mailbox.send(i).is_ok(),
            "mail {i} refused while bytes flood in"
        );
    }
    // And its own limit still holds, giving the message back.
    let mut full = None;
    for i in 8..1000 {
        if let Err(err) = mailbox.send(i) {
            full = Some(err);
            break;
        }
    }
    assert!(matches!(full, Some(MailboxError::Full(_))), "{full:?}");
    flood.join().unwrap();
}
