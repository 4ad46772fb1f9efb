//! The chapter list the home prints: what each rung is and how to run it.

struct Chapter {
    number: u32,
    title: &'static str,
    /// Commands to try, from the repository root; empty while not written.
    run: &'static [&'static str],
}

const CHAPTERS: &[Chapter] = &[
    Chapter {
        number: 1,
        title: "TCP: sockets and byte streams (std::net, a thread per connection)",
        run: &[
            "cargo run --bin ch01-echo-server -- --addr 127.0.0.1:7001",
            "cargo run --bin ch01-echo-client -- --addr 127.0.0.1:7001 --message hello",
        ],
    },
    Chapter {
        number: 2,
        title: "HTTP/1.1 on httparse: keep-alive, limits, long polling",
        run: &[
            "cargo run --bin ch02-http-server -- --root . --addr 127.0.0.1:7002",
            "curl -v http://127.0.0.1:7002/README.md",
            "browser: http://127.0.0.1:7002/demo/long-poll in two tabs",
        ],
    },
    Chapter {
        number: 3,
        title: "WebSocket by hand (RFC 6455): echo, chat, Autobahn-clean",
        run: &[
            "cargo run --bin ch03-ws-server",
            "browser: http://127.0.0.1:7003/ in two tabs",
            "cargo run --bin ch03-ws-client -- ws://127.0.0.1:7003/echo",
        ],
    },
    Chapter {
        number: 4,
        title: "An event loop on mio: threads vs event loop, measured",
        run: &[
            "cargo run --release --bin ch03-ws-server -- --driver mio",
            "cargo run --release --bin ch04-loadgen -- --protocol ws --addr 127.0.0.1:7003 -n 1000",
            "cargo run --release -p netladder-compare",
        ],
    },
    Chapter {
        number: 5,
        title: "Engine.IO v4 + Socket.IO v5",
        run: &[
            "cargo run --bin ch05-sio-server",
            "browser: http://127.0.0.1:7005/ in two tabs (the chat with rooms)",
            "cargo run --release --bin ch05-sio-server -- --driver mio",
            "cd tests/node && npm ci && node sio_stall.mjs http://127.0.0.1:7005",
        ],
    },
    Chapter {
        number: 6,
        title: "Scale-out: rooms shared through Redis",
        run: &[],
    },
];

/// Prints every chapter with its run commands.
pub fn print() {
    say!("The ladder:");
    for chapter in CHAPTERS {
        let state = if chapter.run.is_empty() {
            "  (coming)"
        } else {
            ""
        };
        say!("  {}. {}{state}", chapter.number, chapter.title);
        for command in chapter.run {
            // Shell commands get a prompt; "browser: URL" lines are pages to open.
            if command.starts_with("browser:") {
                say!("       {command}");
            } else {
                say!("       $ {command}");
            }
        }
    }
}
