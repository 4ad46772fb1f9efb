//! Exercise ch05-upgrade: the server's side of the upgrade dance.
//!
//! An Engine.IO session starts on long-polling and moves to a WebSocket
//! without losing or reordering a message:
//!
//! 1. The client opens a WebSocket for the same session and sends the
//!    probe `2probe`; the server answers `3probe` on that WebSocket.
//! 2. From then on, polls are answered with a noop `6` only (the one held
//!    at that moment, if any, at once), so the client can pause polling.
//!    Messages sent meanwhile wait in the queue.
//! 3. The client sends the upgrade packet `5` on the WebSocket; the
//!    session switches, and everything queued goes out there, in order.
//!
//! Here a message is text, and travels as `4` + text. A poll answer joins
//! packets with `\x1e`.
//!
//! Reference solution.

use std::collections::VecDeque;

/// Where the session is in the dance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Plain polling.
    Polling,
    /// `3probe` sent: polls get noops, messages wait.
    Probed,
    /// On the WebSocket.
    Upgraded,
}

/// Something to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// The body that answers the held poll.
    Poll(String),
    /// A text frame on the WebSocket.
    Ws(String),
}

/// One session's outgoing side.
#[derive(Debug)]
pub struct Upgrade {
    /// Where the session is.
    pub stage: Stage,
    /// A poll is being held, waiting for something to send.
    pub held: bool,
    /// Encoded packets waiting (`4hello`), oldest first.
    pub queue: VecDeque<String>,
}

impl Upgrade {
    /// A polling session, no poll held, nothing queued.
    pub fn new() -> Upgrade {
        Upgrade {
            stage: Stage::Polling,
            held: false,
            queue: VecDeque::new(),
        }
    }

    /// The application sends `text`. While polling, a held poll is
    /// answered with everything queued; once upgraded, each packet is a
    /// frame; while probed, it waits.
    pub fn send(&mut self, text: &str) -> Vec<Out> {
        self.queue.push_back(format!("4{text}"));
        self.flush()
    }

    /// Whatever can go out now.
    fn flush(&mut self) -> Vec<Out> {
        match self.stage {
            Stage::Polling if self.held && !self.queue.is_empty() => {
                self.held = false;
                let packets: Vec<String> = self.queue.drain(..).collect();
                vec![Out::Poll(packets.join("\x1e"))]
            }
            Stage::Upgraded => self.queue.drain(..).map(Out::Ws).collect(),
            _ => Vec::new(),
        }
    }

    /// A poll arrives. `Some(body)` answers it now; `None` holds it.
    pub fn on_poll(&mut self) -> Option<String> {
        match self.stage {
            Stage::Probed => Some("6".to_string()),
            Stage::Polling if !self.queue.is_empty() => {
                let packets: Vec<String> = self.queue.drain(..).collect();
                Some(packets.join("\x1e"))
            }
            _ => {
                self.held = true;
                None
            }
        }
    }

    /// A text frame arrives on the new WebSocket. Anything out of order
    /// (a second probe, `5` before the probe) is ignored.
    pub fn on_ws_frame(&mut self, frame: &str) -> Vec<Out> {
        match (self.stage, frame) {
            (Stage::Polling, "2probe") => {
                self.stage = Stage::Probed;
                let mut out = vec![Out::Ws("3probe".to_string())];
                if self.held {
                    self.held = false;
                    out.push(Out::Poll("6".to_string()));
                }
                out
            }
            (Stage::Probed, "5") => {
                self.stage = Stage::Upgraded;
                self.flush()
            }
            _ => Vec::new(),
        }
    }
}

impl Default for Upgrade {
    fn default() -> Upgrade {
        Upgrade::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(s: &str) -> Out {
        Out::Poll(s.to_string())
    }

    fn ws(s: &str) -> Out {
        Out::Ws(s.to_string())
    }

    #[test]
    fn polling_holds_then_answers_with_everything_queued() {
        let mut u = Upgrade::new();
        assert_eq!(u.on_poll(), None, "nothing to say: hold");
        assert_eq!(u.send("a"), vec![poll("4a")]);
        assert_eq!(u.send("b"), vec![], "no poll held");
        assert_eq!(u.send("c"), vec![]);
        assert_eq!(u.on_poll(), Some("4b\x1e4c".to_string()));
    }

    #[test]
    fn the_probe_is_answered_and_the_held_poll_gets_a_noop() {
        let mut u = Upgrade::new();
        assert_eq!(u.on_poll(), None);
        assert_eq!(u.on_ws_frame("2probe"), vec![ws("3probe"), poll("6")]);
        assert_eq!(u.stage, Stage::Probed);
        assert_eq!(u.on_poll(), Some("6".to_string()), "polls now get noops");
    }

    #[test]
    fn messages_wait_during_the_upgrade_and_keep_their_order() {
        let mut u = Upgrade::new();
        assert_eq!(u.send("before"), vec![]);
        assert_eq!(u.on_ws_frame("2probe"), vec![ws("3probe")]);
        assert_eq!(u.send("during"), vec![]);
        assert_eq!(u.on_poll(), Some("6".to_string()), "not the queue");
        assert_eq!(u.on_ws_frame("5"), vec![ws("4before"), ws("4during")]);
        assert_eq!(u.stage, Stage::Upgraded);
        assert_eq!(u.send("after"), vec![ws("4after")]);
    }

    #[test]
    fn out_of_order_frames_are_ignored() {
        let mut u = Upgrade::new();
        assert_eq!(u.on_ws_frame("5"), vec![], "no upgrade before the probe");
        assert_eq!(u.stage, Stage::Polling);
        assert_eq!(u.on_ws_frame("2probe"), vec![ws("3probe")]);
        assert_eq!(u.on_ws_frame("2probe"), vec![], "one probe");
        assert_eq!(u.on_ws_frame("5"), vec![]);
        assert_eq!(u.stage, Stage::Upgraded);
    }
}
