//! The sessions of one server, by sid. The server glue shares one registry
//! between every connection (`Arc<Mutex<Registry>>`): a poll held on one
//! connection is answered when a POST on another, a timer, or a send from
//! another thread gives its session something to say.

use super::error::ErrorCode;
use super::handshake::Sid;
use super::idhash::IdMap;
use super::session::{CloseReason, Session, SessionConfig, WsToken};
use std::time::Instant;

// ANCHOR: registry
/// Every live session of a server.
#[derive(Debug)]
pub struct Registry {
    config: SessionConfig,
    /// Boxed, so that a map's spare slots cost a pointer each, not a
    /// `Session`.
    sessions: IdMap<Sid, Box<Session>>,
    max_sessions: usize,
    /// Sessions opened since the last [`Registry::take_opened`].
    opened: Vec<Sid>,
}

/// Why a new session was not opened.
#[derive(Debug)]
pub enum OpenError {
    /// `max_sessions` are open.
    Full,
    /// The operating system's random source failed.
    Random(getrandom::Error),
}

impl Registry {
    /// An empty registry; at most `max_sessions` sessions at a time.
    pub fn new(config: SessionConfig, max_sessions: usize) -> Registry {
        Registry {
            config,
            sessions: IdMap::default(),
            max_sessions,
            opened: Vec::new(),
        }
    }

    /// The session settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// A fresh sid no live session has.
    fn new_sid(&self) -> Result<Sid, OpenError> {
        if self.sessions.len() >= self.max_sessions {
            return Err(OpenError::Full);
        }
        loop {
            let sid = Sid::generate().map_err(OpenError::Random)?;
            if !self.sessions.contains_key(&sid) {
                return Ok(sid);
            }
        }
    }

    /// A polling handshake: the new session's id and the answer's body.
    pub fn open_polling(&mut self, now: Instant) -> Result<(Sid, Vec<u8>), OpenError> {
        let sid = self.new_sid()?;
        let (session, body) = Session::open_polling(sid.clone(), self.config.clone(), now);
        self.sessions.insert(sid.clone(), Box::new(session));
        self.opened.push(sid.clone());
        Ok((sid, body))
    }

    /// A WebSocket handshake: the new session's id and its WebSocket's
    /// token (the open packet is its first transmit).
    pub fn open_websocket(&mut self, now: Instant) -> Result<(Sid, WsToken), OpenError> {
        let sid = self.new_sid()?;
        let (session, ws) = Session::open_websocket(sid.clone(), self.config.clone(), now);
        self.sessions.insert(sid.clone(), Box::new(session));
        self.opened.push(sid.clone());
        Ok((sid, ws))
    }

    /// The live session `sid`, or error code 1.
    pub fn get_mut(&mut self, sid: &Sid) -> Result<&mut Session, ErrorCode> {
        self.sessions
            .get_mut(sid)
            .map(|s| &mut **s)
            .ok_or(ErrorCode::UnknownSid)
    }

    /// The live session `sid` as of `now`, or error code 1: its timers
    /// that are due by `now` run first. A request that arrives after a
    /// deadline (a pong that never came) then finds what the deadline did,
    /// whether or not the timer thread got to it first.
    pub fn get_at(&mut self, sid: &Sid, now: Instant) -> Result<&mut Session, ErrorCode> {
        let session = self.get_mut(sid)?;
        if session.poll_timeout().is_some_and(|at| at <= now) {
            session.handle_timeout(now);
        }
        Ok(session)
    }

    /// The sessions opened since the last call: the glue announces them
    /// (their first event, [`super::Event::Open`], waits in each).
    pub fn take_opened(&mut self) -> Vec<Sid> {
        std::mem::take(&mut self.opened)
    }

    /// Forgets session `sid` (once it is finished), returning it.
    pub fn remove(&mut self, sid: &Sid) -> Option<Session> {
        self.sessions.remove(sid).map(|s| *s)
    }

    /// The sids of every session held.
    pub fn sids(&self) -> Vec<Sid> {
        self.sessions.keys().cloned().collect()
    }

    /// The number of sessions held (closed ones included until removed).
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The earliest timer of any session. (A linear scan: a heap keyed by
    /// sid, as in chapter 4's timers, is the step up for many sessions.)
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(|s| s.poll_timeout())
            .min()
    }

    /// Runs every due timer; returns the sids whose sessions ran one (they
    /// may have transmits and events).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Sid> {
        let mut touched = Vec::new();
        for (sid, session) in &mut self.sessions {
            if session.poll_timeout().is_some_and(|at| at <= now) {
                session.handle_timeout(now);
                touched.push(sid.clone());
            }
        }
        touched
    }

    /// Closes every session (a graceful server shutdown).
    pub fn close_all(&mut self, now: Instant) -> Vec<Sid> {
        for session in self.sessions.values_mut() {
            session.close(now, CloseReason::ServerShuttingDown);
        }
        self.sessions.keys().cloned().collect()
    }

    /// Forgets sessions that are closed with nothing left to send, and
    /// returns them (for their last events).
    pub fn remove_finished(&mut self) -> Vec<Session> {
        let done: Vec<Sid> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.is_finished())
            .map(|(sid, _)| sid.clone())
            .collect();
        done.iter()
            .filter_map(|sid| self.sessions.remove(sid))
            .map(|s| *s)
            .collect()
    }
}
// ANCHOR_END: registry

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::session::{CloseReason, Event, GetOutcome, Transmit};
    use std::time::Duration;

    fn config() -> SessionConfig {
        SessionConfig {
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            ..SessionConfig::default()
        }
    }

    #[test]
    fn sessions_are_found_by_sid_and_unknown_sids_are_code_1() {
        let now = Instant::now();
        let mut r = Registry::new(config(), 10);
        let (sid, body) = r.open_polling(now).unwrap();
        assert!(String::from_utf8(body).unwrap().contains(sid.as_str()));
        assert!(r.get_mut(&sid).is_ok());
        assert_eq!(
            r.get_mut(&Sid::new("nope")).err(),
            Some(ErrorCode::UnknownSid)
        );
        let (sid2, _) = r.open_websocket(now).unwrap();
        assert_ne!(sid, sid2);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn the_session_count_is_capped() {
        let now = Instant::now();
        let mut r = Registry::new(config(), 1);
        r.open_polling(now).unwrap();
        assert!(matches!(r.open_polling(now), Err(OpenError::Full)));
    }

    /// A held poll on one "connection" answered by a timer: the ping.
    #[test]
    fn timers_answer_held_polls_and_dead_sessions_are_removed() {
        let t0 = Instant::now();
        let mut r = Registry::new(config(), 10);
        let (a, _) = r.open_polling(t0).unwrap();
        let (b, _) = r.open_polling(t0 + Duration::from_millis(100)).unwrap();
        let Ok(GetOutcome::Hold(get)) = r.get_mut(&a).unwrap().on_get(t0) else {
            panic!()
        };
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_millis(300)));
        assert_eq!(
            r.handle_timeout(t0 + Duration::from_millis(300)),
            vec![a.clone()]
        );
        let session = r.get_mut(&a).unwrap();
        assert_eq!(
            session.poll_transmit(),
            Some(Transmit::Poll {
                token: get,
                packets: vec![crate::engineio::Packet::Ping(String::new())]
            })
        );
        // Nobody answers either ping: each times out pingTimeout after its
        // own ping, and is removed once finished.
        let ms = Duration::from_millis;
        assert_eq!(r.handle_timeout(t0 + ms(400)), vec![b.clone()], "b's ping");
        assert!(r.remove_finished().is_empty());
        assert_eq!(
            r.handle_timeout(t0 + ms(500)),
            vec![a.clone()],
            "a's timeout"
        );
        let gone = r.remove_finished();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].sid(), &a);
        assert_eq!(gone[0].close_reason(), Some(CloseReason::PingTimeout));
        assert_eq!(r.len(), 1);
        r.handle_timeout(t0 + ms(600));
        assert_eq!(r.remove_finished()[0].sid(), &b);
        assert!(r.is_empty());
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn shutting_down_closes_every_session() {
        let now = Instant::now();
        let mut r = Registry::new(config(), 10);
        let (sid, _) = r.open_polling(now).unwrap();
        r.close_all(now);
        let s = r.get_mut(&sid).unwrap();
        assert_eq!(s.poll_event(), Some(Event::Open));
        assert_eq!(
            s.poll_event(),
            Some(Event::Close(CloseReason::ServerShuttingDown))
        );
        assert_eq!(s.on_get(now), Ok(GetOutcome::Respond(b"1".to_vec())));
        assert_eq!(r.remove_finished().len(), 1);
    }
}
