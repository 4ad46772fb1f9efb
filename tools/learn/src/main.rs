//! `netladder-learn`: the learner's home and the exercise runner.
//!
//! - `home` (the default): builds the book, prints the chapters with their run
//!   commands and the exercise progress, and serves the book on loopback.
//! - `list`, `hint NAME`, `check [NAME]`: the exercises, rustlings-style.
//! - `verify`: proves every exercise's tests fail on the stub and pass on
//!   the reference solution (CI runs it).
//! - `book`: builds the book, failing on any warning or broken link (CI runs it).

mod book;
mod chapters;
mod exercises;
mod serve;

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
    /// List every exercise with its state, and a progress bar.
    List,
    /// Print the hint for one exercise.
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
        Command::Hint { name } => exercises::hint(&root, &name),
        Command::Check { name } => exercises::check(&root, name.as_deref()),
        Command::Verify => exercises::verify(&root),
        Command::Book => book::build(&root).map(|out| println!("book built in {}", out.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Any error, as a message for the learner.
pub type Result<T> = std::result::Result<T, String>;

fn home(root: &std::path::Path, addr: &str) -> Result<()> {
    // Bind first: a wrong or busy address should fail before the build.
    let listener = serve::bind_loopback(addr)?;
    let site = book::build(root)?;
    chapters::print();
    println!();
    exercises::print_progress(root)?;
    println!();
    serve::serve(&site, listener)
}
