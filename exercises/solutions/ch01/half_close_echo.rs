//! Exercise ch01-half-close-echo: echo until the peer half-closes.
//!
//! A TCP connection has two directions, and each side closes its own. A
//! client that is done sending calls `shutdown(Write)`: its FIN makes our
//! `read` return 0, yet it can still receive. A good echo server sends back
//! everything, then closes its own direction so the client's
//! `read_to_end` finishes.
//!
//! Reference solution.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};

/// Writes back every byte read from `stream` until the peer half-closes,
/// then shuts down our sending side. Returns how many bytes were echoed.
pub fn echo_until_eof(stream: &mut TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                stream.write_all(&buf[..n])?;
                total += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    stream.shutdown(Shutdown::Write)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;
    use std::time::Duration;

    /// Runs `echo_until_eof` on the server side of a loopback connection and
    /// `client` on the other. The server's stream is handed back, not
    /// dropped, so only an explicit `shutdown` can end the client's reads.
    fn with_echo_server(client: impl FnOnce(TcpStream)) -> (u64, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let echoed = echo_until_eof(&mut stream).unwrap();
            (echoed, stream)
        });
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client(stream);
        server.join().expect("the server side panicked")
    }

    #[test]
    fn echoes_then_closes_after_the_peer_half_closes() {
        let (echoed, _server_side) = with_echo_server(|mut stream| {
            stream.write_all(b"hello, ").unwrap();
            stream.write_all(b"half-close").unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
            let mut back = Vec::new();
            stream
                .read_to_end(&mut back)
                .expect("EOF from the server's shutdown");
            assert_eq!(back, b"hello, half-close");
        });
        assert_eq!(echoed, 17);
    }

    #[test]
    fn echoes_a_megabyte_written_while_reading() {
        let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let expected = payload.clone();
        let (echoed, _server_side) = with_echo_server(move |mut stream| {
            let mut writer = stream.try_clone().unwrap();
            let sender = thread::spawn(move || {
                writer.write_all(&payload).unwrap();
                writer.shutdown(Shutdown::Write).unwrap();
            });
            let mut back = Vec::new();
            stream.read_to_end(&mut back).unwrap();
            sender.join().unwrap();
            assert!(back == expected, "the echo differs from what was sent");
        });
        assert_eq!(echoed, 1_000_000);
    }

    #[test]
    fn an_immediate_half_close_echoes_nothing() {
        let (echoed, _server_side) = with_echo_server(|mut stream| {
            stream.shutdown(Shutdown::Write).unwrap();
            let mut back = Vec::new();
            stream.read_to_end(&mut back).unwrap();
            assert!(back.is_empty());
        });
        assert_eq!(echoed, 0);
    }
}
