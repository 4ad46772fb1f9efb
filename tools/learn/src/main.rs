//! `netladder-learn`: the learner's home and the exercise runner.
//!
//! - `home` (the default): builds the book, prints the chapters with their run
//!   commands and the exercise progress, and serves the book on loopback.
//! - `watch [NAME]`: re-checks the current exercise on every save and moves
//!   on when it passes.
//! - `list`, `hint NAME`, `check [NAME]`: the exercises, rustlings-style;
//!   hints are graded (asked again, the next one comes).
//! - `verify`: proves every exercise's tests fail on the stub and pass on
//!   the reference solution (CI runs it).
//! - `book`: builds the book, failing on any warning or broken link (CI runs it).

/// `println!` for the learner's terminal, except that a closed stdout
/// (`cargo learn list | head`) ends the program quietly instead of
/// panicking on the broken pipe.
macro_rules! say {
    () => {
        $crate::say_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::say_line(format_args!($($arg)*))
    };
}

mod book;
mod chapters;
mod exercises;
mod serve;
mod watch;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "netladder's learner home: the book, the chapters, the exercises")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Build the book, print the chapters and progress, and serve the book.
    Home {
        /// Where to serve the book, HOST:PORT (loopback only).
        #[arg(long, default_value = "127.0.0.1:7000")]
        addr: String,
    },
    /// List every exercise with its state, its book section, and a progress bar.
    List,
    /// Work through the exercises: re-check on every save, move on when one
    /// passes. Keys: h for a hint, q or Esc to quit.
    Watch {
        /// The exercise to start with (default: the first one not done).
        name: Option<String>,
    },
    /// Print the next hint for one exercise (ask again for the next, up to 3).
    Hint {
        /// The exercise, as `cargo learn list` shows it (e.g. ch01-read-line).
        name: String,
    },
    /// Run one exercise's tests, or every exercise's when no name is given.
    Check {
        /// The exercise to check.
        name: Option<String>,
    },
    /// Prove that every stub fails its tests and every solution passes them.
    Verify,
    /// Build the book into target/book, failing on warnings or broken links.
    Book,
}

/// The repository root, where `Cargo.toml` of the workspace lives.
fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let root = repo_root();
    let result = match args.command.unwrap_or(Command::Home {
        addr: "127.0.0.1:7000".to_string(),
    }) {
        Command::Home { addr } => home(&root, &addr),
        Command::List => exercises::list(&root),
        Command::Watch { name } => watch::watch(&root, name.as_deref()),
        Command::Hint { name } => exercises::hint(&root, &name),
        Command::Check { name } => exercises::check(&root, name.as_deref()),
        Command::Verify => exercises::verify(&root),
        Command::Book => book::build(&root).map(|out| say!("book built in {}", out.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Writes one line to stdout; if stdout is gone (a closed pipe), exits.
pub fn say_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{args}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// Any error, as a message for the learner.
pub type Result<T> = std::result::Result<T, String>;

fn home(root: &std::path::Path, addr: &str) -> Result<()> {
    // Bind first: a wrong or busy address should fail before the build.
    let listener = serve::bind_loopback(addr)?;
    let site = book::build(root)?;
    chapters::print();
    say!();
    exercises::print_progress(root)?;
    say!();
    serve::serve(&site, listener)
}
