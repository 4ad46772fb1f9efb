//! Chapter 1 integration tests: the real echo server binary, both drivers,
//! over real loopback sockets.

mod common;

use common::{IO_TIMEOUT, Server};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::thread;
use std::time::Duration;

const SERVER: &str = env!("CARGO_BIN_EXE_ch01-echo-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_ch01-echo-client");
const DRIVERS: [&str; 3] = ["raw", "threads", "mio"];

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Reads exactly `len` bytes, however they are split across reads.
fn read_n(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    stream.read_exact(&mut buf).unwrap();
    buf
}

fn for_each_driver(test: impl Fn(&Server)) {
    for driver in DRIVERS {
        let server = Server::start(SERVER, &["--driver", driver]);
        test(&server);
    }
}

#[test]
fn echoes_over_a_real_socket() {
    for_each_driver(|server| {
        let mut stream = connect(server);
        stream.write_all(b"hello, socket\n").unwrap();
        assert_eq!(read_n(&mut stream, 14), b"hello, socket\n");
    });
}

#[test]
fn fifty_concurrent_clients_each_get_their_own_bytes() {
    for_each_driver(|server| {
        let clients: Vec<_> = (0..50)
            .map(|i| {
                let mut stream = connect(server);
                thread::spawn(move || {
                    for round in 0..20 {
                        let message = format!("client {i} round {round}\n");
                        stream.write_all(message.as_bytes()).unwrap();
                        assert_eq!(read_n(&mut stream, message.len()), message.as_bytes());
                    }
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
    });
}

#[test]
fn byte_at_a_time_writes_come_back_whole() {
    for_each_driver(|server| {
        let mut stream = connect(server);
        stream.set_nodelay(true).unwrap();
        let message = b"one byte per write\n";
        for byte in message {
            stream.write_all(&[*byte]).unwrap();
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(read_n(&mut stream, message.len()), message);
    });
}

#[test]
fn half_close_gets_everything_then_eof() {
    for_each_driver(|server| {
        let mut stream = connect(server);
        let payload: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut writer = stream.try_clone().unwrap();
        let sent = payload.clone();
        // Write on another thread: the echo comes back while we still send,
        // and a single thread doing both could fill both buffers and stall.
        let sender = thread::spawn(move || {
            writer.write_all(&sent).unwrap();
            writer.shutdown(Shutdown::Write).unwrap(); // our FIN
        });
        let mut echoed = Vec::new();
        stream.read_to_end(&mut echoed).unwrap(); // ends at the server's FIN
        sender.join().unwrap();
        assert_eq!(echoed, payload);
    });
}

#[test]
fn a_client_vanishing_mid_line_does_not_hurt_others() {
    for_each_driver(|server| {
        let mut steady = connect(server);
        steady.write_all(b"before\n").unwrap();
        assert_eq!(read_n(&mut steady, 7), b"before\n");
        for _ in 0..10 {
            let mut quitter = connect(server);
            quitter.write_all(b"half a li").unwrap();
            // Dropping with unread echo in the buffer makes the kernel send a
            // reset: the rudest way to vanish.
            thread::sleep(Duration::from_millis(5));
            drop(quitter);
        }
        steady.write_all(b"after\n").unwrap();
        assert_eq!(read_n(&mut steady, 6), b"after\n");
    });
}

#[test]
fn a_thousand_clients_one_after_another() {
    for_each_driver(|server| {
        for i in 0..1000 {
            let mut stream = connect(server);
            let message = format!("{i}\n");
            stream.write_all(message.as_bytes()).unwrap();
            assert_eq!(read_n(&mut stream, message.len()), message.as_bytes());
        }
        // Still serving after all of them have gone.
        let mut last = connect(server);
        last.write_all(b"still here\n").unwrap();
        assert_eq!(read_n(&mut last, 11), b"still here\n");
    });
}

#[test]
fn the_client_binary_echoes_hello() {
    for_each_driver(|server| {
        for extra in [
            &[][..],
            &["--byte-at-a-time", "--delay-ms", "1"],
            &["--framing", "length"],
        ] {
            let output = Command::new(CLIENT)
                .args(["--addr", &server.addr.to_string(), "--message", "hello"])
                .args(extra)
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                "hello\n",
                "with {extra:?}"
            );
        }
    });
}

#[test]
fn the_client_binary_sends_stdin_lines() {
    let server = Server::start(SERVER, &[]);
    let mut child = Command::new(CLIENT)
        .args(["--addr", &server.addr.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"first\nsecond\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "first\nsecond\n");
}
