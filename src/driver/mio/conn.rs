//! One connection on the event loop: its socket, its protocol, its buffers,
//! and where it is in its life, as one enum so that an impossible
//! combination (lingering while still connecting, say) cannot be written.

use super::inbox::InboxState;
use crate::driver::{CloseReason, Output};
use mio::net::TcpStream;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// An outbound connect has not finished: nothing can be written yet.
    Connecting {
        /// The protocol already asked to close: do so once connected and
        /// what it queued is written.
        close_after: bool,
    },
    /// Bytes flow both ways (as far as `reading` allows).
    Open(Reading),
    /// The protocol asked to close: what is queued is being written, then
    /// our FIN goes out. What the peer sends meanwhile is discarded.
    Closing {
        /// The peer's FIN has arrived already: no need to linger for it.
        peer_fin: bool,
    },
    /// Our FIN is out; we wait until `until` for the peer's, so that late
    /// bytes from it are not answered with a reset.
    Lingering {
        /// When we stop waiting.
        until: Instant,
    },
}

/// Whether an open connection reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reading {
    /// Reading whatever arrives.
    Active,
    /// Not reading: too many bytes wait to be sent to this peer.
    Paused,
    /// The peer sent FIN: nothing more will arrive.
    PeerFin,
}

/// Unsent bytes are waiting: since when nothing was taken, and when to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stall {
    /// The last time the peer took some of our output.
    pub last_progress: Instant,
    /// When the stall check is due.
    pub check_at: Instant,
}

/// One connection's state between events.
pub(super) struct Conn<P> {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub generation: u64,
    pub protocol: P,
    pub phase: Phase,
    /// A partial message the protocol left unconsumed (empty when idle).
    pub input: Vec<u8>,
    /// Bytes the kernel has not taken yet (empty when idle).
    pub output: Output,
    /// The protocol's timer.
    pub timer: Option<Instant>,
    /// Set while output waits.
    pub stall: Option<Stall>,
    /// Whether WRITABLE interest is registered now.
    pub writable_interest: bool,
    /// Whether the connection is on the loop's ready list.
    pub on_ready_list: bool,
    /// How much of `output` the loop's server-wide count includes.
    pub counted: usize,
    pub inbox: Arc<InboxState>,
}

impl<P> Conn<P> {
    /// Whether a read now would be useful.
    pub fn wants_to_read(&self) -> bool {
        matches!(
            self.phase,
            Phase::Open(Reading::Active)
                | Phase::Closing { peer_fin: false }
                | Phase::Lingering { .. }
        )
    }

    /// Whether the deadline `at` of `kind` is still this connection's.
    pub fn has_deadline(&self, at: Instant, kind: super::timers::TimerKind) -> bool {
        use super::timers::TimerKind;
        match kind {
            TimerKind::Protocol => self.timer == Some(at),
            TimerKind::Stall => self.stall.is_some_and(|stall| stall.check_at == at),
            TimerKind::Linger => self.phase == Phase::Lingering { until: at },
        }
    }

    /// An outbound connect became ready: it either failed or is established.
    pub fn finish_connect(&mut self) -> Result<(), CloseReason> {
        match self.stream.take_error() {
            Ok(Some(err)) | Err(err) => return Err(CloseReason::ConnectFailed(err.kind())),
            Ok(None) => {}
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.phase = match self.phase {
                    Phase::Connecting { close_after: true } => Phase::Closing { peer_fin: false },
                    _ => Phase::Open(Reading::Active),
                };
                self.flush(&mut Vec::new()).map(|_| ())
            }
            // Not connected yet (a spurious wake-up): wait for the next event.
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(()),
            Err(err) => Err(CloseReason::ConnectFailed(err.kind())),
        }
    }

    // ANCHOR: flush
    /// Writes as much output as the kernel takes now (one vectored write
    /// per round, shared buffers included). Returns how many bytes went.
    pub fn flush(&mut self, spare: &mut Vec<u8>) -> Result<usize, CloseReason> {
        if matches!(self.phase, Phase::Connecting { .. }) || self.output.is_empty() {
            return Ok(0); // written once the connect completes
        }
        let written = self
            .output
            .write_reusing(&mut self.stream, spare)
            .map_err(|err| CloseReason::WriteFailed(err.kind()))?;
        if written > 0
            && let Some(stall) = &mut self.stall
        {
            stall.last_progress = Instant::now();
        }
        Ok(written)
    }
    // ANCHOR_END: flush
}
