//! The chat with rooms behind `ch05-sio-server`'s page, on the namespace
//! `/chat`: handlers on top of the sans-IO [`Server`], nothing else.
//!
//! The protocol the page speaks (every answer is an ack, every push an
//! event):
//!
//! | client emits | with | the ack | others hear |
//! |---|---|---|---|
//! | `name` | a name | `{ok, name}` | `rooms` (everyone), `system` in the user's rooms on a rename |
//! | `join` | a room | `{ok, room}` | `rooms` (everyone), `system` in that room |
//! | `leave` | a room | `{ok, room}` | `rooms` (everyone), `system` in that room |
//! | `chat` | `{room, text}` | `{ok, id, to}` (the delivered tick) | `chat` `{room, from, text, id}` in that room, not the sender |
//! | `typing` | `{room, typing}` | none | `typing` `{room, name, typing}` in that room, volatile |
//!
//! A refused request is answered `{ok: false, error}` and changes nothing.
//! Names, rooms and texts are checked and bounded; a user is in at most
//! [`MAX_ROOMS_PER_USER`] rooms and the server holds at most
//! [`MAX_ROOMS`] rooms, so what a client can make the server keep is
//! bounded too.
//!
//! Chat rooms live in the adapter under a `#` prefix (`#lobby`), so a room
//! can never be mistaken for a socket's own room, which is named after its
//! id.
//!
//! The room list (who is in which room) is the whole cluster's when the
//! server is one of several (`--redis`, chapter 6): it is computed from
//! `fetchSockets` over the namespace, which every server answers, and a
//! server whose users change tells the others with a server-side event,
//! `presence`, so that they fetch again. Each server pushes the list to its
//! own sockets only. Nothing waits: the fetch's answer comes back as an
//! event, through the `defer` hook the server passes in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use netladder::socketio::{Answers, Ctx, Handlers, Server, SocketId, SocketInfo, Value};
use serde::Deserialize;
use serde_json::json;

/// The chat's namespace.
pub const NSP: &str = "/chat";
/// The room everyone sees in the list, even when it is empty.
pub const LOBBY: &str = "lobby";
/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 24;
/// Longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 24;
/// Longest message, in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// Most rooms one user may be in at once.
pub const MAX_ROOMS_PER_USER: usize = 8;
/// Most rooms the server keeps at once (a room exists while someone is in it).
pub const MAX_ROOMS: usize = 200;

// ANCHOR: validate
/// A name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control
/// characters.
pub fn check_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 {
        return Err("a name cannot be empty".into());
    }
    if chars > MAX_NAME_CHARS {
        return Err(format!("a name has at most {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("a name cannot hold control characters".into());
    }
    Ok(name.to_owned())
}

/// A room: trimmed, 1 to [`MAX_ROOM_CHARS`] letters, digits, `-` or `_`.
pub fn check_room(raw: &str) -> Result<String, String> {
    let room = raw.trim();
    let chars = room.chars().count();
    if chars == 0 {
        return Err("a room name cannot be empty".into());
    }
    if chars > MAX_ROOM_CHARS {
        return Err(format!(
            "a room name has at most {MAX_ROOM_CHARS} characters"
        ));
    }
    if !room
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    {
        return Err("a room name is letters, digits, - and _".into());
    }
    Ok(room.to_owned())
}

/// A message: 1 to [`MAX_TEXT_CHARS`] characters once trimmed.
pub fn check_text(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err("an empty message".into());
    }
    if chars > MAX_TEXT_CHARS {
        return Err(format!("a message has at most {MAX_TEXT_CHARS} characters"));
    }
    Ok(text.to_owned())
}
// ANCHOR_END: validate

/// The adapter's name for a chat room.
fn adapter_room(room: &str) -> String {
    format!("#{room}")
}

#[derive(Default)]
struct User {
    name: Option<String>,
    rooms: BTreeSet<String>,
}

/// Who is who and where, among this server's sockets.
#[derive(Default)]
struct Chat {
    users: HashMap<SocketId, User>,
    next_message: u64,
}

// ANCHOR: presence
/// Every room with its members' names, the lobby always included, from
/// `fetchSockets`' answer: this server's sockets and every other server's.
/// A socket's name is in its `data`, its chat rooms are its `#` rooms.
fn room_list(sockets: &[SocketInfo]) -> serde_json::Value {
    let mut rooms: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    rooms.insert(LOBBY, Vec::new());
    for socket in sockets {
        let Some(name) = socket.data.get("name").and_then(|n| n.as_str()) else {
            continue; // no name yet: in no room
        };
        for room in socket.rooms.iter().filter_map(|r| r.strip_prefix('#')) {
            rooms.entry(room).or_default().push(name);
        }
    }
    serde_json::Value::Array(
        rooms
            .into_iter()
            .map(|(room, mut members)| {
                members.sort_unstable();
                json!({"room": room, "members": members})
            })
            .collect(),
    )
}

/// Work to run on the loop right after the current handler, with the
/// handlers at hand (to await a cluster request's answer):
/// `SioHandle::defer` in the server, the unit tests' own queue in theirs.
pub type Defer = Arc<dyn Fn(Deferred) + Send + Sync>;
/// One piece of deferred work.
pub type Deferred = Box<dyn FnOnce(&mut Server, &mut Handlers, Instant) + Send>;

/// This server's view of the room list: what it last pushed to its
/// sockets, and whether a fetch is on its way (at most one at a time; a
/// change meanwhile asks for one more when it is back).
#[derive(Default)]
struct Presence {
    shown: Option<serde_json::Value>,
    fetching: bool,
    again: bool,
}

/// Fetch every server's sockets, then push the room list to ours if it
/// changed. Never waits: the answer comes as an event, and a server that
/// does not answer costs a request timeout, not a stalled loop.
fn refresh(presence: &Arc<Mutex<Presence>>, defer: &Defer) {
    {
        let mut p = presence.lock().expect("presence state");
        if p.fetching {
            p.again = true;
            return;
        }
        p.fetching = true;
    }
    let (presence, again) = (Arc::clone(presence), Arc::clone(defer));
    defer(Box::new(move |io, handlers, now| {
        let Ok(id) = io.of(NSP).fetch_all_sockets(now) else {
            presence.lock().expect("presence state").fetching = false;
            return;
        };
        handlers.on_reply(id, move |io, answers, _report| {
            let Answers::Sockets(sockets) = answers else {
                return;
            };
            let list = room_list(&sockets);
            let mut p = presence.lock().expect("presence state");
            p.fetching = false;
            if p.shown.as_ref() != Some(&list) {
                p.shown = Some(list.clone());
                // Ours only: each server pushes to its own sockets.
                let _ = io.of(NSP).local().emit("rooms", value(list));
            }
            if std::mem::take(&mut p.again) {
                drop(p);
                refresh(&presence, &again);
            }
        });
    }));
}

/// Our users changed: tell the other servers, and look again ourselves.
fn changed(server: &mut Server, presence: &Arc<Mutex<Presence>>, defer: &Defer) {
    let _ = server.server_side_emit(NSP, "presence", vec![], Instant::now());
    refresh(presence, defer);
}
// ANCHOR_END: presence

impl Chat {
    fn room_exists(&self, room: &str) -> bool {
        room == LOBBY || self.users.values().any(|u| u.rooms.contains(room))
    }

    fn room_count(&self) -> usize {
        let mut all: BTreeSet<&str> = BTreeSet::new();
        for user in self.users.values() {
            all.extend(user.rooms.iter().map(String::as_str));
        }
        all.len()
    }
}

fn value(json: serde_json::Value) -> Vec<Value> {
    vec![Value::from(json)]
}

fn refuse(server: &mut Server, ctx: &mut Ctx, error: impl Into<String>) {
    let error: String = error.into();
    let _ = ctx.ack(server, value(json!({"ok": false, "error": error})));
}

/// A line from the server to everyone in `room` but `except`.
fn notice(server: &mut Server, room: &str, except: &SocketId, text: String) {
    let _ = server
        .of(NSP)
        .to(&adapter_room(room))
        .except(except.as_str())
        .emit("system", value(json!({"room": room, "text": text})));
}

#[derive(Deserialize)]
struct ChatMessage {
    room: String,
    text: String,
}

#[derive(Deserialize)]
struct Typing {
    room: String,
    typing: bool,
}

// ANCHOR: register
/// Register the chat's handlers on `/chat` (the namespace must exist:
/// `server.namespace(NSP)`); `defer` runs work after the current handler.
pub fn register(handlers: &mut Handlers, defer: Defer) {
    let chat = Arc::new(Mutex::new(Chat::default()));
    let state = |chat: &Arc<Mutex<Chat>>| Arc::clone(chat);
    let presence = Arc::new(Mutex::new(Presence::default()));

    let (c, p, d) = (state(&chat), Arc::clone(&presence), Arc::clone(&defer));
    handlers.on_connect(NSP, move |server, socket, _auth| {
        c.lock()
            .expect("chat state")
            .users
            .insert(socket.clone(), User::default());
        // The list as last shown, at once; then a fresh look, in case it
        // is stale (no user of ours changed since this server started).
        let shown = p
            .lock()
            .expect("presence state")
            .shown
            .get_or_insert_with(|| room_list(&[]))
            .clone();
        let _ = server.emit(socket, "rooms", value(shown));
        refresh(&p, &d);
    });

    // Another server's users changed.
    let (p, d) = (Arc::clone(&presence), Arc::clone(&defer));
    handlers.on_server_side(NSP, "presence", move |_server, _args, _ack| {
        refresh(&p, &d);
    });

    let (c, p, d) = (state(&chat), Arc::clone(&presence), Arc::clone(&defer));
    handlers.on(NSP, "name", move |server, ctx| {
        let name = match ctx.args.get::<String>(0) {
            Ok(raw) => check_name(&raw),
            Err(_) => Err("a name is a string".into()),
        };
        let name = match name {
            Ok(name) => name,
            Err(e) => return refuse(server, ctx, e),
        };
        let mut chat = c.lock().expect("chat state");
        let Some(user) = chat.users.get_mut(&ctx.socket) else {
            return refuse(server, ctx, "not connected");
        };
        let old = user.name.replace(name.clone());
        let rooms: Vec<String> = user.rooms.iter().cloned().collect();
        if let Ok(data) = server.data_mut(&ctx.socket) {
            *data = json!({"name": name});
        }
        let _ = ctx.ack(server, value(json!({"ok": true, "name": name})));
        if let Some(old) = old.filter(|old| *old != name) {
            for room in &rooms {
                notice(server, room, &ctx.socket, format!("{old} is now {name}"));
            }
        }
        drop(chat);
        if !rooms.is_empty() {
            changed(server, &p, &d);
        }
    });

    let (c, p, d) = (state(&chat), Arc::clone(&presence), Arc::clone(&defer));
    handlers.on(NSP, "join", move |server, ctx| {
        let room = match ctx.args.get::<String>(0) {
            Ok(raw) => check_room(&raw),
            Err(_) => Err("a room is a string".into()),
        };
        let room = match room {
            Ok(room) => room,
            Err(e) => return refuse(server, ctx, e),
        };
        let mut chat = c.lock().expect("chat state");
        let new_room = !chat.room_exists(&room);
        let full = chat.room_count() >= MAX_ROOMS;
        let Some(user) = chat.users.get_mut(&ctx.socket) else {
            return refuse(server, ctx, "not connected");
        };
        let Some(name) = user.name.clone() else {
            return refuse(server, ctx, "pick a name first");
        };
        if user.rooms.contains(&room) {
            let _ = ctx.ack(server, value(json!({"ok": true, "room": room})));
            return;
        }
        if user.rooms.len() >= MAX_ROOMS_PER_USER {
            let error = format!("at most {MAX_ROOMS_PER_USER} rooms at once");
            return refuse(server, ctx, error);
        }
        if new_room && full {
            return refuse(server, ctx, format!("the server holds {MAX_ROOMS} rooms"));
        }
        if let Err(e) = server.join(&ctx.socket, &adapter_room(&room)) {
            return refuse(server, ctx, e.to_string());
        }
        user.rooms.insert(room.clone());
        drop(chat);
        let _ = ctx.ack(server, value(json!({"ok": true, "room": room})));
        notice(server, &room, &ctx.socket, format!("{name} joined"));
        changed(server, &p, &d);
    });

    let (c, p, d) = (state(&chat), Arc::clone(&presence), Arc::clone(&defer));
    handlers.on(NSP, "leave", move |server, ctx| {
        let Ok(room) = ctx.args.get::<String>(0) else {
            return refuse(server, ctx, "a room is a string");
        };
        let mut chat = c.lock().expect("chat state");
        let Some(user) = chat.users.get_mut(&ctx.socket) else {
            return refuse(server, ctx, "not connected");
        };
        if !user.rooms.remove(&room) {
            return refuse(server, ctx, "not in that room");
        }
        let name = user.name.clone().unwrap_or_default();
        drop(chat);
        let _ = server.leave(&ctx.socket, &adapter_room(&room));
        let _ = ctx.ack(server, value(json!({"ok": true, "room": room})));
        notice(server, &room, &ctx.socket, format!("{name} left"));
        changed(server, &p, &d);
    });

    let c = state(&chat);
    handlers.on(NSP, "chat", move |server, ctx| {
        let Ok(message) = ctx.args.get::<ChatMessage>(0) else {
            return refuse(server, ctx, "a message is {room, text}");
        };
        let text = match check_text(&message.text) {
            Ok(text) => text,
            Err(e) => return refuse(server, ctx, e),
        };
        let mut chat = c.lock().expect("chat state");
        let Some(user) = chat.users.get(&ctx.socket) else {
            return refuse(server, ctx, "not connected");
        };
        if !user.rooms.contains(&message.room) {
            return refuse(server, ctx, "join the room first");
        }
        let from = user.name.clone().unwrap_or_default();
        chat.next_message += 1;
        let id = chat.next_message;
        let out = json!({"room": message.room, "from": from, "text": text, "id": id});
        let to = server
            .broadcast_from(&ctx.socket)
            .and_then(|op| op.to(&adapter_room(&message.room)).emit("chat", value(out)));
        match to {
            Ok(to) => {
                let _ = ctx.ack(server, value(json!({"ok": true, "id": id, "to": to})));
            }
            Err(e) => refuse(server, ctx, e.to_string()),
        }
    });

    let c = state(&chat);
    handlers.on(NSP, "typing", move |server, ctx| {
        let Ok(typing) = ctx.args.get::<Typing>(0) else {
            return;
        };
        let chat = c.lock().expect("chat state");
        let Some(user) = chat.users.get(&ctx.socket) else {
            return;
        };
        if !user.rooms.contains(&typing.room) {
            return;
        }
        let name = user.name.clone().unwrap_or_default();
        let out = json!({"room": typing.room, "name": name, "typing": typing.typing});
        // Volatile: a typing notice a slow client cannot take now is stale
        // by the time it could.
        let _ = server.broadcast_from(&ctx.socket).and_then(|op| {
            op.to(&adapter_room(&typing.room))
                .volatile()
                .emit("typing", value(out))
        });
    });

    let (c, p, d) = (state(&chat), presence, defer);
    handlers.on_disconnect(NSP, move |server, socket, _reason| {
        let Some(user) = c.lock().expect("chat state").users.remove(socket) else {
            return;
        };
        let name = user.name.unwrap_or_default();
        for room in &user.rooms {
            notice(server, room, socket, format!("{name} left"));
        }
        if !user.rooms.is_empty() {
            changed(server, &p, &d);
        }
    });
}
// ANCHOR_END: register

#[cfg(test)]
mod tests {
    use super::*;
    use netladder::engineio::Payload;
    use netladder::socketio::{ClientId, Config, DisconnectReason, Environ, Transmit};
    use std::time::Instant;

    struct Chatroom {
        server: Server,
        handlers: Handlers,
        deferred: Arc<Mutex<Vec<Deferred>>>,
        now: Instant,
        acks: u64,
    }

    /// One packet as the tests read it: to whom, the type digit, the ack
    /// id if any, and the JSON array.
    #[derive(Debug)]
    struct Out {
        client: ClientId,
        kind: char,
        ack: Option<u64>,
        data: serde_json::Value,
        volatile: bool,
    }

    fn parse(client: ClientId, text: &str, volatile: bool) -> Out {
        let kind = text.chars().next().expect("a type");
        let rest = text[1..].strip_prefix("/chat,").expect("on /chat");
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let ack = (digits > 0).then(|| rest[..digits].parse().expect("digits"));
        let data = serde_json::from_str(&rest[digits..]).unwrap_or(serde_json::Value::Null);
        Out {
            client,
            kind,
            ack,
            data,
            volatile,
        }
    }

    impl Chatroom {
        fn new() -> Chatroom {
            let mut server = Server::new(Config::default());
            server.namespace(NSP);
            let mut handlers = Handlers::default();
            let deferred: Arc<Mutex<Vec<Deferred>>> = Arc::default();
            let queue = Arc::clone(&deferred);
            register(
                &mut handlers,
                Arc::new(move |work| queue.lock().unwrap().push(work)),
            );
            Chatroom {
                server,
                handlers,
                deferred,
                now: Instant::now(),
                acks: 0,
            }
        }

        /// Dispatch, then run the deferred work and dispatch what it
        /// caused, until nothing is left (what the glue's settle does).
        fn settle(&mut self) {
            loop {
                self.handlers.dispatch(&mut self.server, self.now);
                let work = std::mem::take(&mut *self.deferred.lock().unwrap());
                if work.is_empty() {
                    return;
                }
                for w in work {
                    w(&mut self.server, &mut self.handlers, self.now);
                }
            }
        }

        fn sent(&mut self) -> Vec<Out> {
            std::iter::from_fn(|| self.server.poll_transmit())
                .filter_map(|t| match t {
                    Transmit::Send {
                        client,
                        packet,
                        volatile,
                    } => Some(parse(client, &packet.text, volatile)),
                    Transmit::Close { .. } => None,
                })
                .collect()
        }

        fn connect(&mut self, client: u64) -> ClientId {
            let client = ClientId(client);
            self.server.on_open(client, Environ::default(), self.now);
            self.server
                .on_message(client, Payload::Text("0/chat,".into()), self.now);
            self.settle();
            client
        }

        /// Emit with an ack id; returns the ack's JSON and everything else
        /// that was sent.
        fn emit(
            &mut self,
            client: ClientId,
            event: &str,
            arg: serde_json::Value,
        ) -> (serde_json::Value, Vec<Out>) {
            self.acks += 1;
            let text = format!("2/chat,{}{}", self.acks, json!([event, arg]));
            self.server
                .on_message(client, Payload::Text(text), self.now);
            self.settle();
            let mut ack = serde_json::Value::Null;
            let mut others = Vec::new();
            for out in self.sent() {
                if out.kind == '3' && out.client == client && out.ack == Some(self.acks) {
                    ack = out.data[0].clone();
                } else {
                    others.push(out);
                }
            }
            (ack, others)
        }

        /// Connect, pick a name, join a room; drain what that sent.
        fn user(&mut self, client: u64, name: &str, room: &str) -> ClientId {
            let c = self.connect(client);
            assert_eq!(self.emit(c, "name", json!(name)).0["ok"], true);
            assert_eq!(self.emit(c, "join", json!(room)).0["ok"], true);
            self.sent();
            c
        }
    }

    fn events<'a>(outs: &'a [Out], name: &str) -> Vec<&'a Out> {
        outs.iter()
            .filter(|o| o.kind == '2' && o.data[0] == name)
            .collect()
    }

    #[test]
    fn names_rooms_and_texts_are_checked_and_bounded() {
        assert_eq!(check_name("  alice "), Ok("alice".into()));
        assert!(check_name("   ").is_err());
        assert!(check_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert_eq!(
            check_name(&"é".repeat(MAX_NAME_CHARS))
                .unwrap()
                .chars()
                .count(),
            24
        );
        assert!(check_name("a\u{7}b").is_err());
        assert_eq!(check_room("rust-lang_2"), Ok("rust-lang_2".into()));
        assert!(check_room("two words").is_err());
        assert!(check_room("").is_err());
        assert!(check_room("#lobby").is_err());
        assert!(check_room(&"r".repeat(MAX_ROOM_CHARS + 1)).is_err());
        assert!(check_text(" ").is_err());
        assert!(check_text(&"t".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert_eq!(check_text(" hi "), Ok("hi".into()));
    }

    #[test]
    fn a_message_reaches_its_room_only_and_the_sender_gets_a_tick() {
        let mut chat = Chatroom::new();
        let alice = chat.user(1, "alice", "general");
        let bob = chat.user(2, "bob", "general");
        let carol = chat.user(3, "carol", "random");
        let (ack, outs) = chat.emit(alice, "chat", json!({"room": "general", "text": " hi "}));
        assert_eq!(ack["ok"], true);
        assert_eq!(ack["to"], 1, "one other socket in the room");
        let chats = events(&outs, "chat");
        assert_eq!(chats.len(), 1, "{outs:?}");
        assert_eq!(chats[0].client, bob);
        assert_eq!(
            chats[0].data[1],
            json!({"room": "general", "from": "alice", "text": "hi", "id": ack["id"]})
        );
        assert!(outs.iter().all(|o| o.client != carol && o.client != alice));
        let (ack, outs) = chat.emit(carol, "chat", json!({"room": "random", "text": "anyone?"}));
        assert_eq!(
            (ack["ok"].clone(), ack["to"].clone()),
            (json!(true), json!(0))
        );
        assert!(outs.is_empty(), "{outs:?}");
    }

    #[test]
    fn refusals_are_acked_with_a_reason_and_change_nothing() {
        let mut chat = Chatroom::new();
        let alice = chat.connect(1);
        let bob = chat.user(2, "bob", "general");
        let (ack, _) = chat.emit(alice, "join", json!("general"));
        assert_eq!(ack, json!({"ok": false, "error": "pick a name first"}));
        for bad in [json!(""), json!(7), json!("x".repeat(MAX_NAME_CHARS + 1))] {
            let (ack, outs) = chat.emit(alice, "name", bad);
            assert_eq!(ack["ok"], false);
            assert!(outs.is_empty());
        }
        chat.emit(alice, "name", json!("alice"));
        chat.sent();
        let cases = [
            ("join", json!("no spaces")),
            ("join", json!(["general"])),
            ("leave", json!("general")),
            ("chat", json!({"room": "general", "text": "not joined"})),
            ("chat", json!({"room": "general"})),
            ("chat", json!("general")),
        ];
        for (event, arg) in cases {
            let (ack, outs) = chat.emit(alice, event, arg.clone());
            assert_eq!(ack["ok"], false, "{event} {arg}");
            assert!(ack["error"].is_string());
            assert!(outs.is_empty(), "{event} {arg}: {outs:?}");
        }
        chat.emit(alice, "join", json!("general"));
        let long = "y".repeat(MAX_TEXT_CHARS + 1);
        let (ack, outs) = chat.emit(alice, "chat", json!({"room": "general", "text": long}));
        assert_eq!(ack["ok"], false);
        assert!(events(&outs, "chat").is_empty());
        assert!(outs.iter().all(|o| o.client != bob || o.data[0] != "chat"));
    }

    #[test]
    fn the_room_list_and_members_are_pushed_to_everyone() {
        let mut chat = Chatroom::new();
        let alice = chat.connect(1);
        let sent = chat.sent();
        assert_eq!(sent[0].kind, '0', "the CONNECT's answer comes first");
        let first = events(&sent, "rooms");
        assert_eq!(first.len(), 1);
        assert_eq!(
            first[0].data,
            json!(["rooms", [{"room": "lobby", "members": []}]])
        );
        chat.emit(alice, "name", json!("alice"));
        let bob = chat.user(2, "bob", "lobby");
        let (_, outs) = chat.emit(alice, "join", json!("lobby"));
        let rooms = events(&outs, "rooms");
        assert_eq!(rooms.len(), 2, "both sockets hear it");
        assert_eq!(
            rooms[0].data[1],
            json!([{"room": "lobby", "members": ["alice", "bob"]}])
        );
        let system = events(&outs, "system");
        assert_eq!(system.len(), 1);
        assert_eq!(system[0].client, bob);
        assert_eq!(
            system[0].data[1],
            json!({"room": "lobby", "text": "alice joined"})
        );
        let (_, outs) = chat.emit(alice, "join", json!("rust"));
        assert_eq!(
            events(&outs, "rooms")[0].data[1],
            json!([
                {"room": "lobby", "members": ["alice", "bob"]},
                {"room": "rust", "members": ["alice"]}
            ])
        );
        let (_, outs) = chat.emit(alice, "name", json!("ally"));
        let system: Vec<_> = events(&outs, "system")
            .iter()
            .map(|o| o.data[1].clone())
            .collect();
        assert_eq!(
            system,
            [json!({"room": "lobby", "text": "alice is now ally"})]
        );
        chat.server
            .on_close(bob, DisconnectReason::TransportClose, chat.now);
        chat.settle();
        let outs = chat.sent();
        assert_eq!(events(&outs, "system")[0].data[1]["text"], "bob left");
        assert_eq!(
            events(&outs, "rooms")[0].data[1],
            json!([
                {"room": "lobby", "members": ["ally"]},
                {"room": "rust", "members": ["ally"]}
            ])
        );
        let (ack, outs) = chat.emit(alice, "leave", json!("rust"));
        assert_eq!(ack, json!({"ok": true, "room": "rust"}));
        assert_eq!(
            events(&outs, "rooms")[0].data[1],
            json!([{"room": "lobby", "members": ["ally"]}])
        );
    }

    #[test]
    fn the_room_list_is_built_from_every_servers_sockets() {
        // What fetchSockets answers: local and remote sockets alike, each
        // with its own room, its `#` chat rooms and its name in `data`.
        let socket = |id: &str, name: Option<&str>, rooms: &[&str]| SocketInfo {
            id: SocketId::new(id),
            nsp: NSP.into(),
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            data: name.map_or(serde_json::Value::Null, |n| json!({"name": n})),
            auth: Value::Null,
            handshake: json!({}),
        };
        let list = room_list(&[
            socket("s1", Some("bob"), &["s1", "#rust", "#lobby"]),
            socket("s2", Some("ada"), &["#rust", "s2"]),
            socket("s3", None, &["s3"]),
            socket("s4", Some("cyd"), &["s4", "not-a-chat-room"]),
        ]);
        assert_eq!(
            list,
            json!([
                {"room": "lobby", "members": ["bob"]},
                {"room": "rust", "members": ["ada", "bob"]}
            ])
        );
        assert_eq!(room_list(&[]), json!([{"room": "lobby", "members": []}]));
    }

    #[test]
    fn typing_notices_are_volatile_and_stay_in_their_room() {
        let mut chat = Chatroom::new();
        let alice = chat.user(1, "alice", "general");
        let bob = chat.user(2, "bob", "general");
        chat.user(3, "carol", "random");
        let (ack, outs) = chat.emit(alice, "typing", json!({"room": "general", "typing": true}));
        assert_eq!(ack, serde_json::Value::Null, "no ack for typing");
        assert_eq!(outs.len(), 1, "{outs:?}");
        assert_eq!((outs[0].client, outs[0].volatile), (bob, true));
        assert_eq!(
            outs[0].data,
            json!(["typing", {"room": "general", "name": "alice", "typing": true}])
        );
        let (_, outs) = chat.emit(alice, "typing", json!({"room": "random", "typing": true}));
        assert!(outs.is_empty(), "not in that room: {outs:?}");
    }

    #[test]
    fn rooms_per_user_and_rooms_per_server_are_capped() {
        let mut chat = Chatroom::new();
        let alice = chat.user(1, "alice", "r0");
        for i in 1..MAX_ROOMS_PER_USER {
            assert_eq!(
                chat.emit(alice, "join", json!(format!("r{i}"))).0["ok"],
                true
            );
        }
        let (ack, _) = chat.emit(alice, "join", json!("one-more"));
        assert_eq!(ack["ok"], false);
        assert_eq!(
            ack["error"],
            format!("at most {MAX_ROOMS_PER_USER} rooms at once")
        );
        // alice holds 8 rooms; each new user opens 8 more until the cap.
        let users = (MAX_ROOMS / MAX_ROOMS_PER_USER) as u64 + 1;
        for client in 10..10 + users {
            let u = chat.connect(client);
            chat.emit(u, "name", json!("u"));
            for r in 0..MAX_ROOMS_PER_USER {
                let (ack, _) = chat.emit(u, "join", json!(format!("c{client}-{r}")));
                if ack["ok"] == false {
                    assert_eq!(ack["error"], format!("the server holds {MAX_ROOMS} rooms"));
                    let existing = chat.emit(u, "join", json!("r1")).0;
                    assert_eq!(existing["ok"], true, "an existing room can still be joined");
                    return;
                }
            }
        }
        panic!("the server never refused a room");
    }
}
