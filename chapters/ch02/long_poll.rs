//! The long-polling demo: server push as it was done before WebSocket.
//!
//! Every message posted to `/send` gets a number. `GET /poll?after=N` asks
//! for the first message after N: if there is one, it comes back at once;
//! if not, the request is *held* until one is posted, or until the poll
//! timeout answers 204 No Content and the browser simply asks again. This is
//! how Engine.IO's polling transport works (chapter 5).

use netladder::http::{Reply, Request, Responder, Response};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Messages kept for pollers that were between two polls when they came.
const KEPT: usize = 100;
/// The longest message accepted, in bytes.
const MAX_MESSAGE: usize = 4096;

/// The demo's state, shared by every connection.
pub struct LongPoll {
    timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The last `KEPT` messages, with their numbers.
    messages: VecDeque<(u64, String)>,
    next_id: u64,
    /// Held polls, each with the time its connection gives up on it
    /// (answering 204 itself).
    waiting: Vec<(Instant, Responder)>,
}

fn message_response(id: u64, text: &str) -> Response {
    Response::new(200)
        .header("X-Message-Id", id.to_string())
        .header("Cache-Control", "no-store")
        .text(text.to_string())
}

impl LongPoll {
    /// A demo whose held polls give up after `timeout`.
    pub fn new(timeout: Duration) -> LongPoll {
        LongPoll {
            timeout,
            state: Mutex::new(State {
                next_id: 1,
                ..State::default()
            }),
        }
    }

    // ANCHOR: poll
    /// `GET /poll?after=N`: the next message, now or when it comes.
    pub fn poll(&self, request: &Request, responder: Responder) -> Reply {
        let after = query_value(request, "after")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((id, text)) = state.messages.iter().find(|(id, _)| *id > after) {
            return Reply::Now(message_response(*id, text));
        }
        // Nothing new: hold the request. Polls past their deadline have
        // been answered with 204 by their connection: forget them.
        let now = Instant::now();
        state.waiting.retain(|(gives_up, _)| *gives_up > now);
        state.waiting.push((now + self.timeout, responder));
        Reply::Later {
            within: self.timeout,
            otherwise: Response::new(204).header("Cache-Control", "no-store"),
        }
    }
    // ANCHOR_END: poll

    // ANCHOR: send
    /// `POST /send`: number the message and answer every held poll.
    pub fn send(&self, request: &Request) -> Response {
        let text = match std::str::from_utf8(&request.body) {
            Ok(text) if !text.trim().is_empty() && text.len() <= MAX_MESSAGE => {
                text.trim().to_string()
            }
            _ => {
                return Response::new(400)
                    .text(format!("send 1 to {MAX_MESSAGE} bytes of UTF-8 text\n"));
            }
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let id = state.next_id;
        state.next_id += 1;
        state.messages.push_back((id, text.clone()));
        if state.messages.len() > KEPT {
            state.messages.pop_front();
        }
        let mut delivered = 0;
        for (_, responder) in state.waiting.drain(..) {
            // The held request answers on its own connection's thread or loop.
            if responder.send(message_response(id, &text)).is_ok() {
                delivered += 1;
            }
        }
        Response::new(200).text(format!(
            "message {id} delivered to {delivered} waiting poll(s)\n"
        ))
    }
    // ANCHOR_END: send
}

/// The value of `name` in the request's query string, if present.
fn query_value<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}
