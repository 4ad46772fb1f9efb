//! `ch04-loadgen --protocol sio`: Socket.IO load on netladder's mio loop,
//! each connection the project's own sans-IO clients stacked (Engine.IO
//! on a WebSocket, Socket.IO on top), so pings are answered and every
//! packet goes through the real encoder and decoder.
//!
//! Modes (`--sio-mode`), against a server with the bench events (`echo`
//! acked with its arguments; `join(room)` acked; `broadcast(room, ...)`
//! sent on to the room as event `broadcast`):
//!
//! - `echo`: N clients, closed loop, each with one `echo` in flight.
//! - `broadcast`: N receivers join one room, one more client sends
//!   `broadcast(room, seq, payload)` with up to `--window` broadcasts not
//!   yet fully delivered; deliveries/s, and the fan-out latency from the
//!   emit to the *last* receiver's receipt (p50/p99).
//! - `idle` (or `--idle`): N clients connect, make one `echo`, and stay
//!   connected answering heartbeats until the deadline; a client the
//!   server drops counts as failed. With `--server-pid`, the server's RSS.

use crate::stats::{Latencies, ProcSample, TICKS_PER_SECOND};
use netladder::driver::{Ctx, Mailbox, Protocol, mio};
use netladder::engineio::client::{
    Action, Client as Eio, ClientConfig as EioConfig, ClientEvent as EioEvent, Transports,
};
use netladder::engineio::packet::WsFrame;
use netladder::http::client::parse_response_head;
use netladder::socketio::Value;
use netladder::socketio::client::{Client as Sio, ClientConfig, ClientEvent, Output};
use netladder::ws::frame::{self, Opcode};
use netladder::ws::handshake::client::ClientHandshake;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum SioMode {
    /// Closed-loop `echo` with acks.
    Echo,
    /// Room broadcast: N receivers, one sender.
    Broadcast,
    /// Connected, heartbeats only.
    Idle,
}

/// The settings `loadgen` passes on.
pub struct SioArgs {
    pub addr: SocketAddr,
    pub path: String,
    pub namespace: String,
    pub mode: SioMode,
    pub connections: usize,
    pub size: usize,
    pub duration: Duration,
    /// Echo: stop after this many echoes sent in all (a fixed amount of
    /// work, e.g. for `scripts/callgrind-sio-echo`).
    pub messages: Option<u64>,
    pub window: usize,
    pub server_pid: Option<u32>,
    pub json: bool,
}

const ROOM: &str = "bench";
const GRACE: Duration = Duration::from_secs(10);
/// A receiver whose `join` has no ack after this long sends it again
/// (joining is idempotent). socketioxide 0.18 sends CONNECT and then spawns
/// the connect handler that registers the events, so under load an event
/// sent right after CONNECT can arrive before its handler exists and go
/// unanswered; `join_retries` in the report counts these.
const JOIN_RETRY: Duration = Duration::from_secs(2);

/// What every connection shares.
struct Run {
    mode: SioMode,
    deadline: Instant,
    receivers: usize,
    window: usize,
    established: AtomicUsize,
    failed: AtomicUsize,
    /// Broadcast: `join`s sent again after JOIN_RETRY without an ack.
    join_retries: AtomicU64,
    /// Echo: acks verified. Broadcast: deliveries (one per receiver).
    messages: AtomicU64,
    /// Echo: echoes sent, and the most that may be (`--messages`).
    sent: AtomicU64,
    limit: u64,
    /// Broadcasts sent / fully delivered.
    broadcasts: AtomicU64,
    complete: AtomicU64,
    latencies: Mutex<Latencies>,
    /// Broadcast seq -> (sent at, receivers still to get it).
    fanout: Mutex<HashMap<u64, (Instant, usize)>>,
    sender: Mutex<Option<Mailbox<()>>>,
    /// Echo: everyone waits, connected, until all are; then the last one
    /// in wakes the rest, so that no handshake competes with the load.
    expected: usize,
    waiting: Mutex<Vec<Mailbox<()>>>,
}

enum Role {
    Echo,
    Idle,
    Receiver,
    Sender,
}

struct Conn {
    run: Arc<Run>,
    nsp: String,
    role: Role,
    handshake: Option<ClientHandshake>,
    eio: Eio,
    sio: Sio,
    mask: [u8; 4],
    payload: String,
    sent_at: Instant,
    counter: u64,
    established: bool,
    latencies: Latencies,
    /// The sender: next sequence number.
    seq: u64,
    done: bool,
    mailbox: Option<Mailbox<()>>,
    started: bool,
    /// A receiver: when its last `join` went out, until it is acked.
    join_sent: Option<Instant>,
}

impl Conn {
    fn new(
        run: Arc<Run>,
        role: Role,
        host: &str,
        (path, nsp): (&str, &str),
        size: usize,
        id: usize,
    ) -> Conn {
        let target = format!("{path}?EIO=4&transport=websocket");
        let handshake = ClientHandshake::new(host, &target, &[], None).expect("a valid handshake");
        let eio = Eio::new(EioConfig {
            path: path.to_owned(),
            transports: Transports::WebSocketOnly,
            ..EioConfig::default()
        });
        let mut sio = Sio::new(ClientConfig {
            reconnection: false,
            seed: Some(id as u64 + 1),
            ..ClientConfig::default()
        });
        let _ = sio.connect(nsp, None);
        let seed = format!("{id:08x}");
        Conn {
            run,
            nsp: nsp.to_owned(),
            role,
            handshake: Some(handshake),
            eio,
            sio,
            mask: (id as u32).wrapping_mul(2_654_435_761).to_le_bytes(),
            payload: seed.chars().cycle().take(size).collect(),
            sent_at: Instant::now(),
            counter: 0,
            established: false,
            latencies: Latencies::default(),
            seq: 0,
            done: false,
            mailbox: None,
            started: false,
            join_sent: None,
        }
    }

    fn fail(&mut self, why: &str, ctx: &mut Ctx) {
        if !self.done {
            self.done = true;
            tracing::warn!("{}: {why}", ctx.peer());
            self.run.failed.fetch_add(1, Ordering::Relaxed);
        }
        ctx.abort();
    }

    fn establish(&mut self) {
        if !self.established {
            self.established = true;
            self.run.established.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Moves packets down the stack and frames onto the wire, and handles
    /// what the Socket.IO client heard.
    fn pump(&mut self, ctx: &mut Ctx) {
        loop {
            let mut progressed = false;
            while let Some(output) = self.sio.poll_output() {
                progressed = true;
                match output {
                    Output::Send(payload) => {
                        let _ = self.eio.send(payload);
                    }
                    Output::Open => {} // the one session, already opening
                    Output::Close => self.eio.close(),
                }
            }
            while let Some(action) = self.eio.poll_action() {
                progressed = true;
                match action {
                    Action::Frame(WsFrame::Text(text)) => frame::encode_frame(
                        ctx.send_buffer(),
                        true,
                        Opcode::Text,
                        text.as_bytes(),
                        Some(self.mask),
                    ),
                    Action::Frame(WsFrame::Binary(bytes)) => frame::encode_frame(
                        ctx.send_buffer(),
                        true,
                        Opcode::Binary,
                        &bytes,
                        Some(self.mask),
                    ),
                    Action::CloseWebSocket => ctx.close(),
                    Action::OpenWebSocket { .. } | Action::Http(_) => {}
                }
            }
            while let Some(event) = self.eio.poll_event() {
                progressed = true;
                let now = ctx.now();
                match event {
                    EioEvent::Open(_) => self.sio.on_open(now),
                    EioEvent::Message(m) => self.sio.on_message(m, now),
                    EioEvent::Upgraded => {}
                    EioEvent::Close(reason) => self.sio.on_close(&reason, now),
                }
            }
            while let Some(event) = self.sio.poll_event() {
                progressed = true;
                self.on_event(event, ctx);
            }
            if !progressed {
                return;
            }
        }
    }

    fn on_event(&mut self, event: ClientEvent, ctx: &mut Ctx) {
        let now = ctx.now();
        match event {
            ClientEvent::Connect { .. } => match self.role {
                Role::Echo => {
                    self.establish();
                    let mut waiting = self.run.waiting.lock().unwrap();
                    if self.run.established.load(Ordering::Relaxed) >= self.run.expected {
                        for other in waiting.drain(..) {
                            let _ = other.send(());
                        }
                        drop(waiting);
                        self.started = true;
                        self.send_echo(now);
                    } else if let Some(mailbox) = self.mailbox.take() {
                        waiting.push(mailbox);
                    }
                }
                Role::Idle => self.send_echo(now),
                Role::Receiver => {
                    self.send_join(now);
                    ctx.wake_at(now + JOIN_RETRY);
                }
                Role::Sender => {
                    self.establish();
                    self.send_broadcasts(now);
                }
            },
            ClientEvent::Ack { args, .. } => match self.role {
                Role::Echo | Role::Idle => {
                    if args.len() != 1 || args[0].as_str() != Some(self.payload.as_str()) {
                        return self.fail("the echo differs from what was sent", ctx);
                    }
                    self.latencies.record(now - self.sent_at);
                    self.run.messages.fetch_add(1, Ordering::Relaxed);
                    self.establish();
                    if matches!(self.role, Role::Echo) && now < self.run.deadline {
                        self.send_echo(now);
                    } else if matches!(self.role, Role::Echo) {
                        self.done = true;
                        self.sio.close();
                    } else {
                        ctx.wake_at(self.run.deadline);
                    }
                }
                Role::Receiver => {
                    self.establish();
                    if self.run.established.load(Ordering::Relaxed) > self.run.receivers
                        && let Some(sender) = &*self.run.sender.lock().unwrap()
                    {
                        let _ = sender.send(());
                    }
                }
                Role::Sender => {}
            },
            ClientEvent::Event { name, args, .. } if name == "broadcast" => {
                let Some(seq) = args.first().and_then(|v| v.to_json().as_u64()) else {
                    return self.fail("a broadcast without its number", ctx);
                };
                self.run.messages.fetch_add(1, Ordering::Relaxed);
                let mut fanout = self.run.fanout.lock().unwrap();
                if let Some((sent, left)) = fanout.get_mut(&seq) {
                    *left -= 1;
                    if *left == 0 {
                        let latency = now - *sent;
                        fanout.remove(&seq);
                        drop(fanout);
                        self.latencies.record(latency);
                        self.run.complete.fetch_add(1, Ordering::Relaxed);
                        if let Some(sender) = &*self.run.sender.lock().unwrap() {
                            let _ = sender.send(());
                        }
                    }
                }
            }
            ClientEvent::Event { .. } => {}
            ClientEvent::Disconnect { reason, .. } => {
                if !self.done && now < self.run.deadline {
                    self.fail(&format!("disconnected: {reason}"), ctx);
                } else {
                    ctx.close();
                }
            }
            ClientEvent::ConnectError { message, .. } => {
                self.fail(&format!("refused: {message}"), ctx);
            }
            ClientEvent::AckTimeout { .. }
            | ClientEvent::Reconnecting { .. }
            | ClientEvent::Reconnected { .. }
            | ClientEvent::ReconnectFailed => {}
        }
    }

    fn send_join(&mut self, now: Instant) {
        self.join_sent = Some(now);
        let _ = self
            .sio
            .emit_with_ack(&self.nsp, "join", vec![ROOM.into()], None, now);
    }

    fn send_echo(&mut self, now: Instant) {
        if matches!(self.role, Role::Echo)
            && self.run.sent.fetch_add(1, Ordering::Relaxed) >= self.run.limit
        {
            // `--messages` reached: this client is done.
            self.done = true;
            self.sio.close();
            return;
        }
        // Vary the first characters each round: a stale echo must not pass.
        self.counter += 1;
        let stamp = format!("{:08x}", self.counter);
        let n = stamp.len().min(self.payload.len());
        self.payload.replace_range(..n, &stamp[..n]);
        self.sent_at = now;
        let _ = self.sio.emit_with_ack(
            &self.nsp,
            "echo",
            vec![self.payload.clone().into()],
            None,
            now,
        );
    }

    fn send_broadcasts(&mut self, now: Instant) {
        let run = Arc::clone(&self.run);
        if run.established.load(Ordering::Relaxed) < run.receivers + 1 || now >= run.deadline {
            return;
        }
        let mut fanout = run.fanout.lock().unwrap();
        while fanout.len() < run.window {
            self.seq += 1;
            fanout.insert(self.seq, (now, run.receivers));
            run.broadcasts.fetch_add(1, Ordering::Relaxed);
            let args = vec![
                Value::from(ROOM),
                Value::from(self.seq),
                Value::from(self.payload.as_str()),
            ];
            let _ = self.sio.emit(&self.nsp, "broadcast", args);
        }
    }
}

impl Protocol for Conn {
    type Mail = ();

    fn on_open(&mut self, mailbox: Mailbox<()>, ctx: &mut Ctx) {
        match self.role {
            Role::Sender => *self.run.sender.lock().unwrap() = Some(mailbox),
            Role::Echo => self.mailbox = Some(mailbox),
            _ => {}
        }
        ctx.wake_at(self.run.deadline + GRACE);
        let request = self.handshake.as_ref().map(|h| h.request_bytes().to_vec());
        ctx.send(&request.unwrap_or_default());
        // The Engine.IO client's first action asks for the WebSocket being opened.
        while self.eio.poll_action().is_some() {}
    }

    fn on_bytes(&mut self, input: &[u8], ctx: &mut Ctx) -> usize {
        let mut used = 0;
        if let Some(handshake) = &self.handshake {
            match parse_response_head(input) {
                Ok(None) => return 0,
                Ok(Some((head, rest))) => {
                    if let Err(e) = handshake.check_response(head.status, &head.headers) {
                        self.fail(&format!("handshake: {e}"), ctx);
                        return input.len();
                    }
                    used = input.len() - rest.len();
                    self.handshake = None;
                    self.eio.on_ws_open();
                }
                Err(e) => {
                    self.fail(&format!("handshake: {e}"), ctx);
                    return input.len();
                }
            }
        }
        loop {
            let rest = &input[used..];
            let (header, start) = match frame::decode_header(rest) {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(e) => {
                    self.fail(&format!("bad frame: {e:?}"), ctx);
                    return input.len();
                }
            };
            let len = header.payload_len as usize;
            if rest.len() < start + len {
                break;
            }
            let payload = &rest[start..start + len];
            used += start + len;
            let frame = match header.opcode {
                Opcode::Text => match std::str::from_utf8(payload) {
                    Ok(text) => WsFrame::Text(text.to_owned()),
                    Err(_) => {
                        self.fail("a text frame that is not UTF-8", ctx);
                        return input.len();
                    }
                },
                Opcode::Binary => WsFrame::Binary(payload.to_vec()),
                Opcode::Close => {
                    self.eio.on_ws_closed();
                    self.pump(ctx);
                    ctx.close();
                    return input.len();
                }
                _ => continue,
            };
            self.eio.on_ws_frame(frame, ctx.now());
        }
        self.pump(ctx);
        used
    }

    fn on_message(&mut self, _mail: (), ctx: &mut Ctx) {
        let now = ctx.now();
        if matches!(self.role, Role::Echo) {
            if !self.started && now < self.run.deadline {
                self.started = true;
                self.send_echo(now);
                self.pump(ctx);
            }
            return;
        }
        self.send_broadcasts(now);
        self.pump(ctx);
        if now >= self.run.deadline && matches!(self.role, Role::Sender) {
            self.done = true;
            ctx.close();
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx) {
        let now = ctx.now();
        if let (Role::Receiver, false, Some(sent)) = (&self.role, self.established, self.join_sent)
            && now < self.run.deadline
        {
            if now >= sent + JOIN_RETRY {
                self.run.join_retries.fetch_add(1, Ordering::Relaxed);
                self.send_join(now);
                self.pump(ctx);
            }
            ctx.wake_at(self.join_sent.unwrap_or(now) + JOIN_RETRY);
            return;
        }
        if now >= self.run.deadline + GRACE && !self.done && matches!(self.role, Role::Echo) {
            return self.fail("no ack before the grace time ran out", ctx);
        }
        if now >= self.run.deadline {
            self.done = true;
            ctx.close();
        } else {
            ctx.wake_at(self.run.deadline);
        }
    }

    fn on_eof(&mut self, _input: &[u8], ctx: &mut Ctx) {
        if !self.done && ctx.now() < self.run.deadline {
            self.fail("the server closed the connection early", ctx);
        } else {
            ctx.close();
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Ok(mut all) = self.run.latencies.lock() {
            all.merge(&mut self.latencies);
        }
    }
}

pub fn run(args: SioArgs) -> Result<(), String> {
    let started = Instant::now();
    let receivers = args.connections;
    let run = Arc::new(Run {
        mode: args.mode,
        deadline: started + args.duration,
        receivers,
        window: args.window.max(1),
        established: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        join_retries: AtomicU64::new(0),
        messages: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        limit: args.messages.unwrap_or(u64::MAX),
        broadcasts: AtomicU64::new(0),
        complete: AtomicU64::new(0),
        latencies: Mutex::new(Latencies::default()),
        fanout: Mutex::new(HashMap::new()),
        sender: Mutex::new(None),
        expected: args.connections + usize::from(args.mode == SioMode::Broadcast),
        waiting: Mutex::new(Vec::new()),
    });
    let host = args.addr.to_string();
    let mut conns = Vec::new();
    for id in 0..args.connections {
        let role = match args.mode {
            SioMode::Echo => Role::Echo,
            SioMode::Idle => Role::Idle,
            SioMode::Broadcast => Role::Receiver,
        };
        let conn = Conn::new(
            Arc::clone(&run),
            role,
            &host,
            (&args.path, &args.namespace),
            args.size,
            id,
        );
        conns.push((args.addr, conn));
    }
    if args.mode == SioMode::Broadcast {
        let conn = Conn::new(
            Arc::clone(&run),
            Role::Sender,
            &host,
            (&args.path, &args.namespace),
            args.size,
            args.connections,
        );
        conns.push((args.addr, conn));
    }
    let before = args.server_pid.and_then(ProcSample::read);
    let config = mio::Config {
        max_unsent_total: 1 << 30,
        ..mio::Config::default()
    };
    // Connecting thousands at once overflows a server's listen backlog
    // (Node's is 511): the kernel then retries the lost SYNs seconds
    // later. So the clients come in batches of 100, 50 ms apart, each
    // batch on a loop of its own.
    let mut loops = Vec::new();
    let mut batches = Vec::new();
    while !conns.is_empty() {
        let rest = conns.split_off(conns.len().min(100));
        batches.push(std::mem::replace(&mut conns, rest));
    }
    let event_loop = thread::spawn(move || {
        for (i, batch) in batches.into_iter().enumerate() {
            if i > 0 {
                thread::sleep(Duration::from_millis(50));
            }
            let config = config.clone();
            loops.push(thread::spawn(move || mio::connect_all(batch, config)));
        }
        for handle in loops {
            handle
                .join()
                .map_err(|_| std::io::Error::other("a loop panicked"))??;
        }
        Ok::<(), std::io::Error>(())
    });
    // Counting starts once everyone is connected (and, for broadcasts, joined).
    let expected = args.connections + usize::from(args.mode == SioMode::Broadcast);
    let mut measured_from = None;
    let mut base = (0, 0);
    let mut at_peak = None;
    while Instant::now() + Duration::from_millis(100) < run.deadline && !event_loop.is_finished() {
        thread::sleep(Duration::from_millis(20));
        if measured_from.is_none() && run.established.load(Ordering::Relaxed) >= expected {
            measured_from = Some(Instant::now());
            base = (
                run.messages.load(Ordering::Relaxed),
                run.complete.load(Ordering::Relaxed),
            );
        }
        at_peak = args.server_pid.and_then(ProcSample::read).or(at_peak);
    }
    let end = Instant::now();
    let (messages, complete) = (
        run.messages.load(Ordering::Relaxed),
        run.complete.load(Ordering::Relaxed),
    );
    let established = run.established.load(Ordering::Relaxed);
    event_loop
        .join()
        .map_err(|_| "the event loop panicked")?
        .map_err(|e| e.to_string())?;
    let failed = run.failed.load(Ordering::Relaxed);
    let seconds = measured_from.map_or(0.0, |from| (end - from).as_secs_f64().max(1e-9));
    let rate = |n: u64| {
        if seconds > 0.0 {
            n as f64 / seconds
        } else {
            0.0
        }
    };
    let mut latencies = std::mem::take(&mut *run.latencies.lock().map_err(|_| "poisoned")?);
    let server = before.zip(at_peak).map(|(before, peak)| {
        let growth = peak.rss_kib.saturating_sub(before.rss_kib);
        serde_json::json!({
            "rss_kib": peak.rss_kib,
            "rss_kib_per_connection": growth as f64 / established.max(1) as f64,
            "cpu_seconds": peak.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / TICKS_PER_SECOND,
        })
    });
    let mode = match run.mode {
        SioMode::Echo => "echo",
        SioMode::Broadcast => "broadcast",
        SioMode::Idle => "idle",
    };
    let report = serde_json::json!({
        "protocol": "sio",
        "mode": mode,
        "connections": args.connections,
        "established": established,
        "failed": failed,
        "join_retries": run.join_retries.load(Ordering::Relaxed),
        "message_bytes": args.size,
        "seconds": seconds,
        "msgs_per_sec": if args.mode == SioMode::Echo { rate(messages - base.0) } else { 0.0 },
        "deliveries_per_sec": if args.mode == SioMode::Broadcast { rate(messages - base.0) } else { 0.0 },
        "broadcasts_per_sec": rate(complete - base.1),
        "broadcasts_sent": run.broadcasts.load(Ordering::Relaxed),
        "latency_us": {
            "p50": latencies.percentile(50.0),
            "p90": latencies.percentile(90.0),
            "p99": latencies.percentile(99.0),
            "max": latencies.percentile(100.0),
        },
        "server": server,
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    }
    if failed > 0 || established < expected {
        return Err(format!(
            "{failed} connection(s) failed, {established} of {expected} established"
        ));
    }
    if measured_from.is_none() {
        return Err("not every client connected before the deadline".into());
    }
    Ok(())
}
