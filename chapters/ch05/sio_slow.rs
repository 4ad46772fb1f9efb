//! The async-mode lesson: a handler that blocks, and the way out.
//!
//! Handlers run where the server's state lives: on `--driver mio`, on the
//! event loop itself, so while one handler sleeps (a slow query, a CPU-heavy
//! call, `thread::sleep`) no other client is read, written or pinged. That
//! is Flask-SocketIO's `async_mode` problem: under eventlet or gevent a
//! blocking call that is not monkey-patched freezes every client.
//!
//! The fix is to move the blocking work to a worker thread and answer from
//! there, through the server's handle (emit or ack from any thread). The
//! pool is bounded: a fixed number of threads and a bounded queue, so a
//! client that floods slow requests is told "busy" instead of growing a
//! queue without end.
//!
//! Two events show it, both with an ack and `{ms}` (at most [`MAX_MS`]):
//!
//! - `slow`: the handler sleeps `ms` inline, then acks. Everyone waits.
//! - `slow-offload`: the handler hands the sleep to the pool and returns
//!   at once; the worker acks when done. Nobody else waits.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use netladder::socketio::{AckRequest, Handlers, Server, SioHandle, Value};
use serde_json::json;

/// The longest sleep a `slow` or `slow-offload` event may ask for, in ms.
pub const MAX_MS: u64 = 2000;

/// The pool's answer when its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

type Job = Box<dyn FnOnce() + Send>;

// ANCHOR: offload
/// A fixed set of worker threads taking jobs from a bounded queue.
#[derive(Clone)]
pub struct Offload {
    jobs: SyncSender<Job>,
}

impl Offload {
    /// Start `threads` workers (at least one) sharing a queue of `queue`
    /// jobs. They stop when the last `Offload` clone is dropped.
    pub fn new(threads: usize, queue: usize) -> Offload {
        let (jobs, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            thread::Builder::new()
                .name(format!("offload-{i}"))
                .spawn(move || worker(&rx))
                .expect("spawn a worker thread");
        }
        Offload { jobs }
    }

    /// Queue `job` for a worker; [`Busy`] when the queue is full (the job
    /// is not run).
    pub fn run(&self, job: impl FnOnce() + Send + 'static) -> Result<(), Busy> {
        match self.jobs.try_send(Box::new(job)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        // Hold the lock only to take a job, never while running it.
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // every sender is gone
        }
    }
}
// ANCHOR_END: offload

/// A slow event's `{ms}`, checked: 1 to [`MAX_MS`].
pub fn slow_ms(arg: &serde_json::Value) -> Result<u64, String> {
    match arg.get("ms").and_then(serde_json::Value::as_u64) {
        Some(ms) if (1..=MAX_MS).contains(&ms) => Ok(ms),
        _ => Err(format!("expected {{\"ms\": 1..={MAX_MS}}}")),
    }
}

fn answer(json: serde_json::Value) -> Vec<Value> {
    vec![Value::from(json)]
}

// ANCHOR: handlers
/// The two slow events on the main namespace; `pool` runs the offloaded
/// ones and `handle` carries their answers back.
pub fn register(handlers: &mut Handlers, handle: &SioHandle, pool: Offload) {
    // Blocking inline: this thread holds the server while it sleeps, so
    // nobody's events are handled until it returns.
    handlers.on("/", "slow", |io, ctx| {
        let ms = match slow_ms(&ctx.args.json(0)) {
            Ok(ms) => ms,
            Err(error) => {
                let _ = ctx.ack(io, answer(json!({"ok": false, "error": error})));
                return;
            }
        };
        thread::sleep(Duration::from_millis(ms));
        let _ = ctx.ack(io, answer(json!({"ok": true, "ms": ms, "where": "inline"})));
    });
    // Offloaded: take the ack out of the context, hand the work to the
    // pool, return at once. The worker answers through the handle.
    let handle = handle.clone();
    handlers.on("/", "slow-offload", move |io, ctx| {
        let ms = slow_ms(&ctx.args.json(0));
        let Some(request) = ctx.take_ack() else {
            return; // nobody waits for the answer: no work to do
        };
        let ms = match ms {
            Ok(ms) => ms,
            Err(error) => return refuse(io, request, error),
        };
        let copy = AckRequest {
            socket: request.socket.clone(),
            id: request.id,
        };
        let handle = handle.clone();
        let queued = pool.run(move || {
            thread::sleep(Duration::from_millis(ms));
            let done = answer(json!({"ok": true, "ms": ms, "where": "worker"}));
            if let Err(e) = handle.ack(request, done) {
                tracing::debug!("slow-offload: answer not sent: {e}");
            }
        });
        if queued.is_err() {
            refuse(io, copy, "busy: the worker pool's queue is full".into());
        }
    });
}
// ANCHOR_END: handlers

fn refuse(io: &mut Server, request: AckRequest, error: String) {
    let _ = io.ack(request, answer(json!({"ok": false, "error": error})));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn jobs_run_on_worker_threads() {
        let pool = Offload::new(2, 4);
        let (tx, rx) = channel();
        for i in 0..4 {
            let tx = tx.clone();
            pool.run(move || {
                let name = thread::current().name().unwrap_or_default().to_owned();
                tx.send((i, name)).unwrap();
            })
            .unwrap();
        }
        let mut got: Vec<_> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        got.sort();
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert!(got.iter().all(|(_, name)| name.starts_with("offload-")));
    }

    #[test]
    fn a_full_queue_says_busy_instead_of_growing() {
        let pool = Offload::new(1, 1);
        let (started_tx, started) = channel();
        let (release, release_rx) = channel::<()>();
        pool.run(move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
        })
        .unwrap();
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(pool.run(|| {}), Ok(()), "one job fits in the queue");
        assert_eq!(pool.run(|| {}), Err(Busy), "the next does not");
        release.send(()).unwrap();
    }

    #[test]
    fn slow_requests_are_bounded() {
        assert_eq!(slow_ms(&serde_json::json!({"ms": 100})), Ok(100));
        assert!(slow_ms(&serde_json::json!({"ms": 0})).is_err());
        assert!(slow_ms(&serde_json::json!({"ms": MAX_MS + 1})).is_err());
        assert!(slow_ms(&serde_json::json!({"ms": "5"})).is_err());
        assert!(slow_ms(&serde_json::json!(5)).is_err());
    }
}
