//! `cargo learn watch`: the exercise loop. It checks the current exercise,
//! shows what fails (compactly: the test, where, the message; never a
//! backtrace), checks again on every save, and moves to the next exercise
//! when it passes. Keys: `h` gives the next hint, `q` or Esc quits.
//!
//! Single keys need the terminal out of line mode; that is done with
//! `stty` on `/dev/tty` (and undone on the way out, Ctrl-C included), so no
//! terminal library is needed. Without a terminal (stdin piped), `q` or
//! `h` followed by Enter work the same.

use crate::Result;
use crate::exercises::{self, Exercise};
use notify::{RecursiveMode, Watcher};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

/// What the loop waits for.
enum Event {
    /// A file under `exercises/` changed.
    Saved(PathBuf),
    Key(u8),
    /// stdin ended.
    NoMoreKeys,
}

/// The terminal in single-key mode while alive; restored when dropped.
struct RawTerminal {
    saved: String,
}

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        let saved = stty(&["-g"])?;
        stty(&["-icanon", "-echo", "min", "1"])?;
        let saved = saved.trim().to_string();
        // Ctrl-C still ends the program: put the terminal back first.
        let restore = saved.clone();
        let _ = ctrlc::set_handler(move || {
            let _ = stty(&[&restore]);
            println!();
            std::process::exit(130);
        });
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = stty(&[&self.saved]);
    }
}

/// Runs `stty ARGS` on the controlling terminal; its stdout on success.
fn stty(args: &[&str]) -> Option<String> {
    let tty = std::fs::File::open("/dev/tty").ok()?;
    let output = Command::new("stty")
        .args(args)
        .stdin(Stdio::from(tty))
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

pub fn watch(root: &Path, start: Option<&str>) -> Result<()> {
    let all = exercises::load(root)?;
    let mut current = match start {
        Some(name) => Some(exercises::find(&all, name)?),
        None => exercises::next_not_done(root, &all, None),
    };
    let (events, incoming) = mpsc::channel();
    let saves = events.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && (event.kind.is_modify() || event.kind.is_create())
        {
            for path in event.paths {
                let _ = saves.send(Event::Saved(path));
            }
        }
    })
    .map_err(|e| format!("cannot watch files: {e}"))?;
    let dir = root.join("exercises");
    watcher
        .watch(&dir, RecursiveMode::Recursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    let _raw = RawTerminal::enter();
    thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut byte = [0u8];
        while let Ok(1) = stdin.read(&mut byte) {
            if events.send(Event::Key(byte[0])).is_err() {
                return;
            }
        }
        let _ = events.send(Event::NoMoreKeys);
    });

    loop {
        let Some(exercise) = current else {
            say!("Every exercise passes. Well done!");
            return Ok(());
        };
        let passed = check(root, exercise)?;
        if passed {
            current = exercises::next_not_done(root, &all, Some(&exercise.name));
            if let Some(next) = current {
                say!("\nOn to the next one: {}", next.name);
            }
            continue;
        }
        say!(
            "\nEdit exercises/{} and save; it is checked again.",
            exercise.path
        );
        say!("[h] next hint   [q] or [Esc] quit");
        match wait(&incoming, root, exercise) {
            Wait::Recheck => {}
            Wait::Quit => {
                say!("bye: `cargo learn watch` takes you back here.");
                return Ok(());
            }
        }
    }
}

enum Wait {
    Recheck,
    Quit,
}

/// Waits for a save of the exercise's file (then for the burst of events
/// an editor's save makes to settle), or a key.
fn wait(incoming: &Receiver<Event>, root: &Path, exercise: &Exercise) -> Wait {
    let file = root.join("exercises").join(&exercise.path);
    let mut keys_gone = false;
    loop {
        let event = match incoming.recv() {
            Ok(event) => event,
            Err(_) => return Wait::Quit,
        };
        match event {
            Event::Saved(path) if same_file(&path, &file) => loop {
                match incoming.recv_timeout(Duration::from_millis(200)) {
                    Ok(Event::Key(b'q' | 0x1b)) => return Wait::Quit,
                    Ok(_) => continue,
                    Err(RecvTimeoutError::Timeout) => return Wait::Recheck,
                    Err(RecvTimeoutError::Disconnected) => return Wait::Quit,
                }
            },
            Event::Saved(_) => {}
            Event::Key(b'q' | b'Q' | 0x1b) => return Wait::Quit,
            Event::Key(b'h' | b'H') => {
                if let Err(err) = exercises::hint(root, &exercise.name) {
                    say!("{err}");
                }
            }
            Event::Key(_) => {}
            Event::NoMoreKeys if !keys_gone => {
                // stdin closed (a script, say): keep watching saves only.
                keys_gone = true;
            }
            Event::NoMoreKeys => {}
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || a.canonicalize().ok() == b.canonicalize().ok() && a.file_name() == b.file_name()
}

/// Checks one exercise and shows the result; true when it passes.
fn check(root: &Path, exercise: &Exercise) -> Result<bool> {
    if std::io::stdout().is_terminal() {
        // Clear the screen: each check starts on a fresh page.
        print!("\x1b[2J\x1b[H");
    }
    say!(
        "Checking {} (exercises/{})...",
        exercise.name,
        exercise.path
    );
    let (passed, report) = exercises::check_quietly(root, exercise)?;
    say!("{report}");
    Ok(passed)
}
