//! Echo as a sans-IO protocol: the end of chapter 1.
//!
//! The chapter's first server does everything in one function: accept, read,
//! write. Here the protocol part is pulled out. `Echo` never sees a socket; a
//! driver ([`crate::driver::threads`], later `mio`) feeds it bytes and writes
//! what it queues.

use crate::driver::{Ctx, Protocol};

// ANCHOR: echo
/// Sends every byte back. When the peer half-closes, it finishes sending and
/// closes too.
#[derive(Debug, Default)]
pub struct Echo;

impl Protocol for Echo {
    /// Echo takes no messages from outside.
    type Mail = ();

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        ctx.send(input);
        input.len() // all of it: echo has no partial messages
    }
    // `on_eof` keeps its default: close once everything is flushed.
}
// ANCHOR_END: echo

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Close;
    use std::time::Instant;

    fn ctx() -> Ctx {
        Ctx::new(Instant::now(), "127.0.0.1:1".parse().unwrap())
    }

    #[test]
    fn echoes_every_byte_even_one_at_a_time() {
        let mut echo = Echo;
        let mut sent = Vec::new();
        for byte in b"hello\n" {
            let mut ctx = ctx();
            assert_eq!(echo.on_bytes(&[*byte], &mut ctx), 1);
            sent.extend(ctx.take_output().to_vec());
        }
        assert_eq!(sent, b"hello\n");
    }

    #[test]
    fn half_close_closes_after_flushing() {
        let mut echo = Echo;
        let mut ctx = ctx();
        echo.on_eof(&[], &mut ctx);
        assert_eq!(ctx.close_request(), Some(Close::AfterFlush));
    }
}
