//! `cargo learn`'s exercise commands, run as the real binary: graded hints
//! kept in the progress file, `watch`'s compact report and its keys, and a
//! closed stdout that ends `list` quietly.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const LEARN: &str = env!("CARGO_BIN_EXE_netladder-learn");

/// A progress file of the test's own, so the learner's stays untouched.
fn progress(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "netladder-progress-{name}-{}.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

fn learn(args: &[&str], progress: &PathBuf) -> String {
    let output = Command::new(LEARN)
        .args(args)
        .env("NETLADDER_PROGRESS", progress)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn hints_are_graded_and_remembered() {
    let file = progress("hints");
    let first = learn(&["hint", "ch02-keep-alive"], &file);
    assert!(first.contains("hint 1 of 3"), "{first}");
    let second = learn(&["hint", "ch02-keep-alive"], &file);
    assert!(second.contains("hint 2 of 3"), "{second}");
    assert_ne!(first, second);
    let third = learn(&["hint", "ch02-keep-alive"], &file);
    assert!(third.contains("hint 3 of 3") && third.contains("last hint"));
    // Another exercise starts from its own first hint.
    assert!(learn(&["hint", "ch01-read-line"], &file).contains("hint 1 of 3"));
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("\"ch02-keep-alive\": 3"), "{saved}");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn list_shows_the_book_section_and_survives_a_closed_pipe() {
    let file = progress("list");
    let listed = learn(&["list"], &file);
    assert!(listed.contains("§ Framing"), "{listed}");
    // stdout closed before anything is written, as `| head -0` does.
    let mut child = Command::new(LEARN)
        .arg("list")
        .env("NETLADDER_PROGRESS", &file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn watch_reports_compactly_and_quits_on_q() {
    let file = progress("watch");
    let mut child = Command::new(LEARN)
        .args(["watch", "ch03-accept-key"])
        .env("NETLADDER_PROGRESS", &file)
        // Asked for, and still no backtrace in the report.
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut report = String::new();
    // The first check compiles the exercise: allow a slow machine.
    while !report.contains("[q]") {
        match lines.recv_timeout(Duration::from_secs(300)) {
            Ok(line) => report.push_str(&(line + "\n")),
            Err(_) => {
                let _ = child.kill();
                panic!("no prompt from watch:\n{report}");
            }
        }
    }
    assert!(report.contains("✗ ch03-accept-key"), "{report}");
    assert!(report.contains("not yet implemented"), "{report}");
    assert!(!report.contains("backtrace"), "{report}");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"q\n").unwrap();
    let mut waited = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        waited += 1;
        if waited > 100 {
            let _ = child.kill();
            panic!("watch did not quit on q");
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let _ = std::fs::remove_file(&file);
}
