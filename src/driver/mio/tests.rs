//! Tests of the mio driver: echo, many connections, client connections,
//! backpressure. The driver contract itself is tested on both drivers in
//! `tests/driver_contract.rs`.

use super::*;
use crate::driver::{Ctx, Mailbox};
use crate::echo::Echo;
use std::io::{BufRead, BufReader, Read, Write};
use std::net;
use std::sync::Mutex;

fn start_echo(config: Config) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    spawn(listener, |_| Echo, config);
    addr
}

fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

#[test]
fn echoes_and_closes_after_half_close() {
    let addr = start_echo(Config::default());
    let mut stream = connect(addr);
    let payload: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    let mut writer = stream.try_clone().unwrap();
    let sent = payload.clone();
    let sender = thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        writer.shutdown(net::Shutdown::Write).unwrap();
    });
    let mut echoed = Vec::new();
    stream.read_to_end(&mut echoed).unwrap();
    sender.join().unwrap();
    assert!(
        echoed == payload,
        "echo differs: {} of {} bytes",
        echoed.len(),
        payload.len()
    );
}

#[test]
fn many_connections_on_one_thread() {
    let addr = start_echo(Config::default());
    let mut streams: Vec<_> = (0..200).map(|_| connect(addr)).collect();
    for (i, stream) in streams.iter_mut().enumerate() {
        stream.write_all(format!("{i}\n").as_bytes()).unwrap();
    }
    for (i, stream) in streams.iter_mut().enumerate() {
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        assert_eq!(line, format!("{i}\n"));
    }
}

/// Sends one line, expects it back, then closes.
struct Pinger {
    line: Vec<u8>,
    echoed: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Protocol for Pinger {
    type Mail = ();

    fn on_open(&mut self, _mailbox: Mailbox<()>, ctx: &mut Ctx) {
        ctx.send(&self.line);
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        if input.len() < self.line.len() {
            return 0; // need more
        }
        self.echoed
            .lock()
            .unwrap()
            .push(input[..self.line.len()].to_vec());
        ctx.close();
        self.line.len()
    }
}

#[test]
fn client_connections_run_to_completion_then_the_loop_returns() {
    let addr = start_echo(Config::default());
    let echoed = Arc::new(Mutex::new(Vec::new()));
    let clients = (0..50)
        .map(|i| {
            let line = format!("ping {i}\n").into_bytes();
            (
                addr,
                Pinger {
                    line,
                    echoed: Arc::clone(&echoed),
                },
            )
        })
        .collect();
    connect_all(clients, Config::default()).unwrap();
    let mut got = echoed.lock().unwrap().clone();
    got.sort();
    let mut want: Vec<_> = (0..50)
        .map(|i| format!("ping {i}\n").into_bytes())
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_refused_connect_ends_the_client_loop() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let echoed = Arc::new(Mutex::new(Vec::new()));
    let client = Pinger {
        line: b"x".to_vec(),
        echoed: Arc::clone(&echoed),
    };
    connect_all(vec![(unused, client)], Config::default()).unwrap();
    assert!(echoed.lock().unwrap().is_empty());
}

#[test]
fn a_peer_that_never_reads_is_cut_off() {
    let addr = start_echo(Config {
        pause_above: 16 * 1024,
        max_unsent: 64 * 1024,
        stall_timeout: Duration::from_millis(500),
        ..Config::default()
    });
    let mut hog = connect(addr);
    hog.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Send far more than kernel buffers plus the cap hold, never reading
    // the echo: the server must drop us rather than buffer it all.
    let chunk = vec![b'x'; 64 * 1024];
    let error = (0..1000).find_map(|_| hog.write_all(&chunk).err());
    let error = error.expect("64 MiB went through without the server cutting us off");
    // A reset or broken pipe from the server, not our own write timeout.
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
        "{error:?}"
    );
    // Others are still served.
    let mut other = connect(addr);
    other.write_all(b"still here\n").unwrap();
    let mut line = String::new();
    BufReader::new(other).read_line(&mut line).unwrap();
    assert_eq!(line, "still here\n");
}

/// A short read ends a readable turn, so a FIN that comes with (or right
/// after) a small message must still be seen: by its own edge, or because
/// the event already reported it. Small messages and a half-close, many
/// times over: each is echoed and the connection ends.
#[test]
fn a_small_message_and_a_fin_are_both_seen() {
    let addr = start_echo(Config::default());
    for i in 0..200u32 {
        let mut stream = connect(addr);
        let line = format!("message {i}\n");
        stream.write_all(line.as_bytes()).unwrap();
        stream.shutdown(net::Shutdown::Write).unwrap();
        let mut echoed = String::new();
        stream.read_to_string(&mut echoed).unwrap();
        assert_eq!(echoed, line);
    }
}
