//! Chapter 3: a WebSocket server written by hand on RFC 6455.
//!
//! Every path echoes text and binary messages, except `/chat`, where every
//! message goes to every connected client. `/` over plain HTTP serves a page
//! that uses the browser's own `WebSocket` API for both.

use clap::Parser;
use netladder::cli::ServerArgs;
use netladder::ws::deflate::DeflateArgs;
use netladder::ws::{
    Broadcast, HttpResponse, MemberId, Outgoing, ServerConfig, WsContext, WsHandler, WsMessage,
    WsServerProtocol,
};
use std::net::TcpListener;
use std::sync::Arc;

#[derive(Parser)]
#[command(about = "Chapter 3: WebSocket echo and chat server, with a browser demo at /")]
struct Args {
    /// Address to listen on, HOST:PORT (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7003")]
    addr: String,
    /// Largest message accepted, in bytes (over it: close 1009).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_message: usize,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    deflate: DeflateArgs,
}

const DEMO_PAGE: &str = include_str!("demo.html");

// ANCHOR: app
/// One connection's application: echo, or the chat room on `/chat`.
struct App {
    room: Broadcast<Outgoing>,
    /// Set when this connection joined the room.
    member: Option<MemberId>,
}

impl WsHandler for App {
    fn on_open(&mut self, ws: &mut WsContext<'_>) {
        if ws.info().path == "/chat" {
            self.member = Some(self.room.join(ws.mailbox().clone()));
        }
    }

    fn on_message(&mut self, message: WsMessage, ws: &mut WsContext<'_>) {
        match (message, self.member) {
            // Chat: hand the text to every member's mailbox, ours included,
            // framed (and compressed) once for all of them.
            (WsMessage::Text(text), Some(_)) => {
                self.room.send_all(&Outgoing::shared_text(text));
            }
            (WsMessage::Text(text), None) => {
                let _ = ws.send_text(&text);
            }
            (WsMessage::Binary(data), _) => {
                let _ = ws.send_binary(&data);
            }
            _ => {} // pings are answered by the connection itself
        }
    }

    fn on_close(&mut self, _code: u16, _reason: &str) {
        if let Some(member) = self.member.take() {
            self.room.leave(member);
        }
    }
}
// ANCHOR_END: app

fn main() -> std::io::Result<()> {
    netladder::cli::init_logging();
    let args = Args::parse();
    let mut config = ServerConfig::default().with_http(|request| match request.path {
        "/" | "/index.html" => HttpResponse::html(DEMO_PAGE),
        _ => HttpResponse::text(404, "not found: the demo page is at /\n"),
    });
    config.ws.max_message_size = args.max_message;
    config.ws.max_frame_size = args.max_message;
    config.ws.deflate = args.deflate.config();
    let config = Arc::new(config);
    let room = Broadcast::new();
    let new_connection = move |_peer| {
        let app = App {
            room: room.clone(),
            member: None,
        };
        WsServerProtocol::new(app, Arc::clone(&config))
    };
    let listener = TcpListener::bind(&args.addr)?;
    println!("listening on {}", listener.local_addr()?);
    netladder::cli::serve(
        args.server.driver,
        args.server.max_conns,
        &netladder::cli::http_refusal(),
        listener,
        new_connection,
    )
}
