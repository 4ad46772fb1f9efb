//! Tests of [`HttpProtocol`] through the driver contract alone: `Ctx`s made
//! by hand, a mailbox that collects, made-up times. No sockets.

use super::*;
use crate::driver::{Close, Deliver, MailboxError, TimerRequest};
use std::sync::Mutex;

/// A mailbox backend that keeps what it is sent, for the test to deliver.
#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<HttpMail>>>);

impl Deliver<HttpMail> for Inbox {
    fn deliver(&self, message: HttpMail) -> Result<(), MailboxError<HttpMail>> {
        self.0.lock().unwrap().push(message);
        Ok(())
    }
}

impl Inbox {
    fn take(&self) -> Vec<HttpMail> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The chapter's long-poll demo in miniature: `GET /poll` waits for the next
/// `POST /send`, or 204 after 30 s; anything else is answered at once.
#[derive(Default)]
struct LongPoll {
    waiting: Mutex<Vec<Responder>>,
}

const POLL_WAIT: Duration = Duration::from_secs(30);

impl Handler for LongPoll {
    fn handle(&self, request: Request, responder: Responder) -> Reply {
        match (request.method.as_str(), request.path()) {
            ("GET", "/poll") => {
                self.waiting.lock().unwrap().push(responder);
                Reply::Later {
                    within: POLL_WAIT,
                    otherwise: Response::new(204),
                }
            }
            ("POST", "/send") => {
                for waiter in self.waiting.lock().unwrap().drain(..) {
                    let _ = waiter.send(Response::new(200).body(request.body.clone()));
                }
                Reply::Now(Response::new(200).text("sent"))
            }
            _ => Reply::Now(Response::new(200).text(request.target)),
        }
    }
}

struct Conn {
    protocol: HttpProtocol<LongPoll>,
    inbox: Inbox,
}

fn peer() -> SocketAddr {
    "127.0.0.1:9".parse().unwrap()
}

fn open(handler: &Arc<LongPoll>, now: Instant) -> (Conn, Ctx) {
    let mut protocol = HttpProtocol::new(Arc::clone(handler), Limits::default());
    let inbox = Inbox::default();
    let mut ctx = Ctx::new(now, peer());
    protocol.on_open(Mailbox::new(inbox.clone()), &mut ctx);
    (Conn { protocol, inbox }, ctx)
}

/// Offers `input` as the driver would, returning the callback's `Ctx`.
fn bytes(conn: &mut Conn, input: &[u8], now: Instant) -> (usize, Ctx) {
    let mut ctx = Ctx::new(now, peer());
    let used = conn.protocol.on_bytes(input, &mut ctx);
    (used, ctx)
}

/// Delivers everything in the connection's mailbox.
fn deliver(conn: &mut Conn, now: Instant) -> Ctx {
    let mut ctx = Ctx::new(now, peer());
    for message in conn.inbox.take() {
        conn.protocol.on_message(message, &mut ctx);
    }
    ctx
}

fn timer(conn: &mut Conn, now: Instant) -> Ctx {
    let mut ctx = Ctx::new(now, peer());
    conn.protocol.on_timer(&mut ctx);
    ctx
}

fn text(ctx: &Ctx) -> String {
    String::from_utf8_lossy(&ctx.queued()[..]).into_owned()
}

const POLL: &[u8] = b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n";
const SEND: &[u8] = b"POST /send HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";

#[test]
fn a_held_poll_is_answered_by_another_connections_post() {
    let handler = Arc::new(LongPoll::default());
    let start = Instant::now();
    let (mut poller, _) = open(&handler, start);
    let (mut sender, _) = open(&handler, start);

    let (used, ctx) = bytes(&mut poller, POLL, start);
    assert_eq!(used, POLL.len());
    assert_eq!(&ctx.queued()[..], b"", "held: nothing to say yet");
    assert_eq!(ctx.timer_request(), TimerRequest::At(start + POLL_WAIT));

    let later = start + Duration::from_secs(3);
    let (_, ctx) = bytes(&mut sender, SEND, later);
    assert!(text(&ctx).ends_with("\r\n\r\nsent"));
    assert!(sender.inbox.take().is_empty());

    let ctx = deliver(&mut poller, later);
    let answer = text(&ctx);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("Content-Length: 5\r\n\r\nhello"));
    assert_eq!(ctx.close_request(), None, "kept alive");
    // Back to waiting for the next request: the idle clock runs.
    assert_eq!(
        ctx.timer_request(),
        TimerRequest::At(later + Limits::default().idle_timeout)
    );
}

#[test]
fn a_poll_nobody_answers_gets_the_fallback_and_late_answers_are_dropped() {
    let handler = Arc::new(LongPoll::default());
    let start = Instant::now();
    let (mut poller, _) = open(&handler, start);
    bytes(&mut poller, POLL, start);

    let early = timer(&mut poller, start + Duration::from_secs(1));
    assert_eq!(
        &early.queued()[..],
        b"",
        "a spurious wake-up changes nothing"
    );
    assert_eq!(early.timer_request(), TimerRequest::At(start + POLL_WAIT));

    let ctx = timer(&mut poller, start + POLL_WAIT);
    assert!(text(&ctx).starts_with("HTTP/1.1 204 No Content\r\n"));

    // The POST comes too late: its answer names an answered request.
    let (mut sender, _) = open(&handler, start);
    bytes(&mut sender, SEND, start + POLL_WAIT);
    let ctx = deliver(&mut poller, start + POLL_WAIT);
    assert_eq!(
        &ctx.queued()[..],
        b"",
        "a late answer must not answer anything else"
    );
}

#[test]
fn requests_pipelined_behind_a_held_one_wait_their_turn() {
    let handler = Arc::new(LongPoll::default());
    let start = Instant::now();
    let (mut poller, _) = open(&handler, start);
    let mut input = POLL.to_vec();
    input.extend_from_slice(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\nGET /thi");
    let (used, ctx) = bytes(&mut poller, &input, start);
    assert_eq!(used, input.len(), "kept by the protocol, not the driver");
    assert_eq!(&ctx.queued()[..], b"");
    // More arrives while the poll is held: it is kept too.
    let more = b"rd HTTP/1.1\r\nHost: x\r\n\r\nGET /fou";
    let (used, ctx) = bytes(&mut poller, more, start);
    assert_eq!(used, more.len());
    assert_eq!(&ctx.queued()[..], b"");

    let (mut sender, _) = open(&handler, start);
    bytes(&mut sender, SEND, start);
    let ctx = deliver(&mut poller, start);
    let out = text(&ctx);
    let hello = out.find("hello").unwrap();
    let second = out.find("/second").unwrap();
    let third = out.find("/third").unwrap();
    assert!(hello < second && second < third, "{out}");
    assert!(!out.contains("/fou"), "a partial request stays unanswered");

    // The rest of the fourth request arrives after the stash.
    let rest = b"rth HTTP/1.1\r\nHost: x\r\n\r\n";
    let (used, ctx) = bytes(&mut poller, rest, start);
    assert_eq!(used, rest.len());
    assert!(text(&ctx).ends_with("/fourth"), "{}", text(&ctx));
}

#[test]
fn a_stale_answer_to_a_request_answered_at_once_is_dropped() {
    let handler = Arc::new(|request: Request, responder: Responder| {
        // A confused handler: answers now *and* through the responder.
        let _ = responder.send(Response::new(500));
        Reply::Now(Response::new(200).text(request.target))
    });
    let start = Instant::now();
    let mut protocol = HttpProtocol::new(handler, Limits::default());
    let inbox = Inbox::default();
    let mut ctx = Ctx::new(start, peer());
    protocol.on_open(Mailbox::new(inbox.clone()), &mut ctx);
    let mut ctx = Ctx::new(start, peer());
    protocol.on_bytes(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &mut ctx);
    assert!(String::from_utf8_lossy(&ctx.queued()[..]).starts_with("HTTP/1.1 200 "));
    let mut ctx = Ctx::new(start, peer());
    for message in inbox.take() {
        protocol.on_message(message, &mut ctx);
    }
    assert_eq!(&ctx.queued()[..], b"");
}

#[test]
fn a_half_closed_client_still_gets_its_held_answer_then_the_close() {
    let handler = Arc::new(LongPoll::default());
    let start = Instant::now();
    let (mut poller, _) = open(&handler, start);
    bytes(&mut poller, POLL, start);
    let mut ctx = Ctx::new(start, peer());
    poller.protocol.on_eof(&[], &mut ctx);
    assert_eq!(ctx.close_request(), None, "an answer is still owed");
    let ctx = timer(&mut poller, start + POLL_WAIT);
    assert!(text(&ctx).starts_with("HTTP/1.1 204 "));
    assert_eq!(ctx.close_request(), Some(Close::AfterFlush));
}

#[test]
fn slowloris_gets_408_through_the_timer_contract() {
    let handler = Arc::new(LongPoll::default());
    let start = Instant::now();
    let (mut conn, ctx) = open(&handler, start);
    let idle = Limits::default().idle_timeout;
    assert_eq!(ctx.timer_request(), TimerRequest::At(start + idle));

    let head_at = start + Duration::from_secs(1);
    let (used, ctx) = bytes(&mut conn, b"GET / HTTP/1.1\r\nHo", head_at);
    assert_eq!(used, 0, "a partial head is left to the driver");
    let deadline = head_at + Limits::default().head_timeout;
    assert_eq!(ctx.timer_request(), TimerRequest::At(deadline));

    let ctx = timer(&mut conn, deadline);
    assert!(text(&ctx).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    assert_eq!(ctx.close_request(), Some(Close::AfterFlush));
}

#[test]
fn an_idle_connection_is_closed_without_a_word() {
    let handler = Arc::new(LongPoll::default());
    let start = Instant::now();
    let (mut conn, _) = open(&handler, start);
    let ctx = timer(&mut conn, start + Limits::default().idle_timeout);
    assert_eq!(&ctx.queued()[..], b"");
    assert_eq!(ctx.close_request(), Some(Close::AfterFlush));
}

#[test]
fn a_bad_request_is_answered_and_closed() {
    let handler = Arc::new(LongPoll::default());
    let (mut conn, _) = open(&handler, Instant::now());
    let input = b"GET / HTTP/2.0\r\nHost: x\r\n\r\n";
    let (used, ctx) = bytes(&mut conn, input, Instant::now());
    assert_eq!(used, input.len(), "the rest is discarded, not kept");
    assert!(text(&ctx).starts_with("HTTP/1.1 505 "));
    assert_eq!(ctx.close_request(), Some(Close::AfterFlush));
}

#[test]
fn pipelined_requests_wait_while_the_peer_is_behind_on_their_answers() {
    // 1,000 tiny requests for a 64 KiB answer in one read: 64 MB if all
    // were answered at once. At most MAX_QUEUED_OUTPUT (and one answer)
    // is queued per callback, and nothing more while the peer is behind.
    let big = |_: Request, _: Responder| Reply::Now(Response::new(200).body(vec![b'x'; 65536]));
    let mut protocol = HttpProtocol::new(Arc::new(big), Limits::default());
    let start = Instant::now();
    protocol.on_open(Mailbox::new(Inbox::default()), &mut Ctx::new(start, peer()));
    let input = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
    let answers = |ctx: &Ctx| text(ctx).matches("HTTP/1.1 200 OK\r\n").count();

    let mut ctx = Ctx::new(start, peer());
    assert_eq!(protocol.on_bytes(&input, &mut ctx), input.len());
    let queued = ctx.unsent();
    assert!(
        (MAX_QUEUED_OUTPUT..MAX_QUEUED_OUTPUT + 70_000).contains(&queued),
        "{queued} bytes queued"
    );
    let mut answered = answers(&ctx);
    assert_eq!(ctx.timer_request(), TimerRequest::At(start + BACKLOG_RETRY));

    // The peer has read nothing: the retry queues nothing.
    let later = start + BACKLOG_RETRY;
    let mut ctx = Ctx::for_driver(later, peer(), queued);
    protocol.on_timer(&mut ctx);
    assert_eq!(
        ctx.unsent(),
        queued,
        "nothing more while the peer is behind"
    );
    assert_eq!(ctx.timer_request(), TimerRequest::At(later + BACKLOG_RETRY));

    // The peer reads everything each time: the rest comes in batches, in
    // order, each request answered once.
    let mut now = later;
    for _ in 0..100 {
        now += BACKLOG_RETRY;
        let mut ctx = Ctx::new(now, peer());
        protocol.on_timer(&mut ctx);
        assert!(ctx.unsent() < MAX_QUEUED_OUTPUT + 70_000);
        answered += answers(&ctx);
        if answered == 1000 {
            assert_ne!(ctx.timer_request(), TimerRequest::At(now + BACKLOG_RETRY));
            break;
        }
    }
    assert_eq!(answered, 1000);
}
