//! The server's request router, sans-IO: one call per HTTP request on the
//! Engine.IO path, deciding what the connection does with it. The driver
//! glue (a protocol per TCP connection, sharing one `Arc<Mutex<Server>>`)
//! calls [`Server::route`], then acts on the [`Route`]; after any call it
//! drains the touched session's [`Session::poll_transmit`] and hands each
//! transmit to the connection that holds its token.
//!
//! [`Session::poll_transmit`]: super::session::Session::poll_transmit

use super::cors::Cors;
use super::error::ErrorCode;
use super::handshake::{self, EioRequest, Method, Sid, Transport};
use super::registry::{OpenError, Registry};
use super::session::{self, GetOutcome, GetToken, SessionConfig, WsToken};
use crate::http::Response;
use std::sync::Arc;
use std::time::Instant;

/// What the router needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The method, like `GET`.
    pub method: &'a str,
    /// Path and query.
    pub target: &'a str,
    /// The `Origin` field, if any.
    pub origin: Option<&'a str>,
    /// The request carries WebSocket upgrade headers.
    pub websocket_upgrade: bool,
    /// `Access-Control-Request-Headers`, for a preflight.
    pub cors_request_headers: Option<&'a str>,
    /// The body (a POST's payload).
    pub body: &'a [u8],
}

/// The application's veto on a request (Node's `allowRequest`): `false`
/// answers error code 4, Forbidden.
pub type AllowRequest = Arc<dyn Fn(&RequestView<'_>) -> bool + Send + Sync>;

// ANCHOR: route
/// What the connection does with a request.
#[derive(Debug)]
pub enum Route {
    /// Not the Engine.IO path: the application's own HTTP handler answers.
    NotEngineIo,
    /// Answer now.
    Respond(Response),
    /// Hold the request. Its answer is the session's
    /// [`session::Transmit::Poll`] with this token (wrap it with
    /// [`Server::poll_answer`]). If the connection dies first, tell the
    /// session ([`session::Session::get_lost`]).
    Hold {
        /// The session.
        sid: Sid,
        /// The held GET.
        token: GetToken,
    },
    /// Accept the WebSocket handshake and hand the connection to the
    /// WebSocket layer; its frames go to the session with this token.
    WebSocket {
        /// The session.
        sid: Sid,
        /// The WebSocket's token.
        token: WsToken,
        /// A new session (handshake) rather than an upgrade probe.
        new_session: bool,
    },
}
// ANCHOR_END: route

/// The Engine.IO endpoint: its path, sessions, CORS and veto.
pub struct Server {
    /// The endpoint's path, `/engine.io/`.
    pub path: String,
    /// Every session.
    pub registry: Registry,
    /// The CORS settings.
    pub cors: Cors,
    /// The application's veto, if any.
    pub allow_request: Option<AllowRequest>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("path", &self.path)
            .field("registry", &self.registry)
            .field("cors", &self.cors)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// An endpoint at `/engine.io/` with no CORS and no veto.
    pub fn new(config: SessionConfig, max_sessions: usize) -> Server {
        Server {
            path: handshake::DEFAULT_PATH.to_string(),
            registry: Registry::new(config, max_sessions),
            cors: Cors::default(),
            allow_request: None,
        }
    }

    /// Routes one request at `now`.
    pub fn route(&mut self, req: &RequestView<'_>, now: Instant) -> Route {
        if !handshake::matches_path(req.target, &self.path) {
            return Route::NotEngineIo;
        }
        let method = Method::parse(req.method);
        let kind = match handshake::classify(method, req.target, req.websocket_upgrade) {
            Ok(EioRequest::Preflight) => {
                return Route::Respond(self.cors.preflight(req.origin, req.cors_request_headers));
            }
            Ok(kind) => kind,
            Err(code) => return self.error(req, code),
        };
        if let Some(allow) = &self.allow_request
            && !allow(req)
        {
            return self.error(req, ErrorCode::Forbidden);
        }
        match kind {
            EioRequest::Preflight => unreachable!("answered above"),
            EioRequest::Handshake(Transport::Polling) => match self.registry.open_polling(now) {
                Ok((_, body)) => self.respond(req, session::poll_response(body)),
                Err(e) => self.open_failed(req, e),
            },
            EioRequest::Handshake(Transport::WebSocket) => {
                match self.registry.open_websocket(now) {
                    Ok((sid, token)) => Route::WebSocket {
                        sid,
                        token,
                        new_session: true,
                    },
                    Err(e) => self.open_failed(req, e),
                }
            }
            EioRequest::Poll(sid) => {
                let outcome = self.registry.get_at(&sid, now).and_then(|s| s.on_get(now));
                match outcome {
                    Ok(GetOutcome::Respond(body)) => {
                        self.respond(req, session::poll_response(body))
                    }
                    Ok(GetOutcome::Hold(token)) => Route::Hold { sid, token },
                    Err(code) => self.error(req, code),
                }
            }
            EioRequest::Post(sid) => {
                let result = match self.registry.get_at(&sid, now) {
                    Ok(s) => s.on_post(req.body, now),
                    Err(code) => Err(session::PostError::Code(code)),
                };
                match result {
                    Ok(()) => self.respond(req, session::post_response()),
                    Err(e) => self.respond(req, e.response()),
                }
            }
            EioRequest::Upgrade(sid) => {
                match self
                    .registry
                    .get_at(&sid, now)
                    .and_then(|s| s.begin_upgrade(now))
                {
                    Ok(token) => Route::WebSocket {
                        sid,
                        token,
                        new_session: false,
                    },
                    Err(code) => self.error(req, code),
                }
            }
        }
    }

    fn respond(&self, req: &RequestView<'_>, response: Response) -> Route {
        Route::Respond(self.cors.apply(req.origin, response))
    }

    fn error(&self, req: &RequestView<'_>, code: ErrorCode) -> Route {
        self.respond(req, code.response())
    }

    fn open_failed(&self, req: &RequestView<'_>, e: OpenError) -> Route {
        match e {
            OpenError::Full => self.respond(req, Response::new(503).text("too many sessions")),
            OpenError::Random(_) => self.respond(req, Response::new(500).text("no randomness")),
        }
    }

    /// The HTTP answer to a held poll, from its transmit's body, with the
    /// CORS headers for the request's `origin`.
    pub fn poll_answer(&self, origin: Option<&str>, body: Vec<u8>) -> Response {
        self.cors.apply(origin, session::poll_response(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::cors::AllowedOrigins;
    use crate::engineio::session::Transmit;
    use crate::engineio::{OpenInfo, Packet, WsFrame};
    use std::time::Duration;

    fn get(target: &str) -> RequestView<'_> {
        RequestView {
            method: "GET",
            target,
            origin: None,
            websocket_upgrade: false,
            cors_request_headers: None,
            body: b"",
        }
    }

    fn status(route: &Route) -> u16 {
        match route {
            Route::Respond(r) => r.status,
            other => panic!("{other:?}"),
        }
    }

    fn handshake(server: &mut Server, now: Instant) -> Sid {
        let Route::Respond(r) = server.route(&get("/engine.io/?EIO=4&transport=polling"), now)
        else {
            panic!()
        };
        assert_eq!(r.status, 200);
        let text = String::from_utf8(r.body).unwrap();
        OpenInfo::from_json(&text[1..]).unwrap().sid
    }

    #[test]
    fn a_polling_session_across_requests() {
        let now = Instant::now();
        let mut server = Server::new(SessionConfig::default(), 100);
        assert!(matches!(
            server.route(&get("/other"), now),
            Route::NotEngineIo
        ));
        let sid = handshake(&mut server, now);
        let poll = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let Route::Hold { token, .. } = server.route(&get(&poll), now) else {
            panic!()
        };
        // A POST on another connection...
        let post = RequestView {
            method: "POST",
            body: b"4hello",
            ..get(&poll)
        };
        let r = server.route(&post, now);
        assert_eq!(status(&r), 200);
        let session = server.registry.get_mut(&sid).unwrap();
        session.poll_event(); // Open
        assert_eq!(
            session.poll_event(),
            Some(crate::engineio::Event::Message(
                crate::engineio::Payload::Text("hello".into())
            ))
        );
        // ...and the application's answer goes to the held GET.
        session
            .send(crate::engineio::Payload::Text("back".into()))
            .unwrap();
        let t = session.poll_transmit().unwrap();
        assert!(matches!(t, Transmit::Poll { token: held, .. } if held == token));
        assert_eq!(server.poll_answer(None, t.body()).body, b"4back");
    }

    #[test]
    fn errors_are_400_json_and_unknown_sids_are_code_1() {
        let now = Instant::now();
        let mut server = Server::new(SessionConfig::default(), 100);
        let r = server.route(&get("/engine.io/?EIO=4&transport=polling&sid=nope"), now);
        let Route::Respond(r) = r else { panic!() };
        assert_eq!(r.status, 400);
        assert_eq!(r.body, br#"{"code":1,"message":"Session ID unknown"}"#);
        let r = server.route(&get("/engine.io/?EIO=3&transport=polling"), now);
        assert_eq!(status(&r), 400);
        let r = server.route(
            &RequestView {
                method: "POST",
                body: &[b'4'; 1_000_001],
                ..get("/engine.io/?EIO=4&transport=polling&sid=nope")
            },
            now,
        );
        assert_eq!(status(&r), 400, "an unknown sid, whatever the size");
    }

    #[test]
    fn an_oversized_post_is_413() {
        let now = Instant::now();
        let mut server = Server::new(SessionConfig::default(), 100);
        let sid = handshake(&mut server, now);
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let big = vec![b'4'; 1_000_001];
        let post = RequestView {
            method: "POST",
            body: &big,
            ..get(&target)
        };
        assert_eq!(status(&server.route(&post, now)), 413);
        let ok = RequestView {
            body: &big[..1_000_000],
            ..post
        };
        assert_eq!(status(&server.route(&ok, now)), 200, "exactly maxPayload");
    }

    #[test]
    fn the_veto_is_code_4_and_cors_is_applied() {
        let now = Instant::now();
        let mut server = Server::new(SessionConfig::default(), 100);
        server.cors = Cors {
            origins: AllowedOrigins::List(vec!["http://ok.test".into()]),
            credentials: true,
        };
        server.allow_request = Some(Arc::new(|r: &RequestView<'_>| {
            r.origin.is_none_or(|o| o == "http://ok.test")
        }));
        let mut req = get("/engine.io/?EIO=4&transport=polling");
        req.origin = Some("http://evil.test");
        let Route::Respond(r) = server.route(&req, now) else {
            panic!()
        };
        assert_eq!(r.body, br#"{"code":4,"message":"Forbidden"}"#);
        req.origin = Some("http://ok.test");
        let Route::Respond(r) = server.route(&req, now) else {
            panic!()
        };
        assert_eq!(r.status, 200);
        assert_eq!(
            r.headers.get_str("access-control-allow-origin"),
            Some("http://ok.test")
        );
        let preflight = RequestView {
            method: "OPTIONS",
            cors_request_headers: Some("content-type"),
            ..req
        };
        assert_eq!(status(&server.route(&preflight, now)), 204);
    }

    #[test]
    fn websocket_handshakes_and_upgrades() {
        let now = Instant::now();
        let mut server = Server::new(SessionConfig::default(), 100);
        let ws = RequestView {
            websocket_upgrade: true,
            ..get("/engine.io/?EIO=4&transport=websocket")
        };
        let Route::WebSocket {
            sid,
            token,
            new_session: true,
        } = server.route(&ws, now)
        else {
            panic!()
        };
        let session = server.registry.get_mut(&sid).unwrap();
        let Some(Transmit::Frames { token: t, packets }) = session.poll_transmit() else {
            panic!()
        };
        assert_eq!(t, token);
        assert!(matches!(&packets[0], Packet::Open(_)));
        // An upgrade probe for a polling session.
        let polling = handshake(&mut server, now);
        let target = format!("/engine.io/?EIO=4&transport=websocket&sid={polling}");
        let probe = RequestView {
            websocket_upgrade: true,
            ..get(&target)
        };
        let Route::WebSocket {
            token,
            new_session: false,
            ..
        } = server.route(&probe, now)
        else {
            panic!()
        };
        let session = server.registry.get_mut(&polling).unwrap();
        session.on_ws_frame(token, WsFrame::Text("2probe".into()), now);
        assert_eq!(
            session.poll_transmit(),
            Some(Transmit::Frames {
                token,
                packets: vec![Packet::Pong("probe".into())]
            })
        );
        // One upgrade at a time: a second WebSocket is accepted, then
        // closed at once, and the first one's upgrade goes on.
        let Route::WebSocket {
            token: second,
            new_session: false,
            ..
        } = server.route(&probe, now)
        else {
            panic!()
        };
        let session = server.registry.get_mut(&polling).unwrap();
        assert_eq!(
            session.poll_transmit(),
            Some(Transmit::CloseWebSocket {
                token: second,
                code: crate::engineio::session::REFUSED_WEBSOCKET
            })
        );
        assert_eq!(session.state(), crate::engineio::State::Upgrading);
        // An unknown sid is still refused before any handshake.
        let unknown = RequestView {
            websocket_upgrade: true,
            ..get("/engine.io/?EIO=4&transport=websocket&sid=nope")
        };
        assert_eq!(status(&server.route(&unknown, now)), 400);
    }

    #[test]
    fn a_request_after_the_pong_deadline_finds_the_session_closed() {
        let t0 = Instant::now();
        let config = SessionConfig {
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            ..SessionConfig::default()
        };
        let mut server = Server::new(config, 100);
        let ping_sent = |server: &mut Server, sid: &Sid| {
            // The timer thread's turn at 300 ms: the ping is queued.
            let session = server.registry.get_mut(sid).unwrap();
            session.handle_timeout(t0 + Duration::from_millis(300));
            assert_eq!(session.queued(), 1);
        };
        let sid = handshake(&mut server, t0);
        ping_sent(&mut server, &sid);
        let poll = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        // The timer thread has not run the deadline yet: the request
        // itself finds it passed.
        let later = t0 + Duration::from_millis(500);
        let r = server.route(&get(&poll), later);
        assert_eq!(status(&r), 400);
        let session = server.registry.get_mut(&sid).unwrap();
        assert_eq!(
            session.close_reason(),
            Some(crate::engineio::CloseReason::PingTimeout)
        );
        // One tick earlier, the ping was waiting for this poll.
        let sid = handshake(&mut server, t0);
        ping_sent(&mut server, &sid);
        let poll = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let Route::Respond(r) = server.route(&get(&poll), later - Duration::from_millis(1)) else {
            panic!()
        };
        assert_eq!((r.status, r.body), (200, b"2".to_vec()));
    }
}
