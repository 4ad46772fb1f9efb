//! The book cannot drift from the command lines: every `cargo run ...`,
//! `cargo learn ...` and `cargo home` in a code block of the book or the
//! README is checked against the real program's `--help`: the binary or
//! package exists, the subcommand exists, and every flag it uses is one the
//! program has (with a value among the allowed ones, where clap lists them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Lines inside fenced code blocks, with where they come from.
fn code_lines(root: &Path) -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("book/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.push(root.join("README.md"));
    files.sort();
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let mut in_code = false;
        let mut pending = String::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if !in_code {
                continue;
            }
            // A shell line continued with a backslash.
            if let Some(start) = line.strip_suffix('\\') {
                pending.push_str(start);
                continue;
            }
            pending.push_str(line);
            lines.push((format!("{name}:{}", i + 1), std::mem::take(&mut pending)));
        }
    }
    lines
}

/// Splits a shell line into words, keeping quoted strings and `$(...)`
/// whole, and stopping at a comment.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = line.chars().peekable();
    let mut depth = 0;
    while let Some(c) = chars.next() {
        match c {
            '#' if word.is_empty() && depth == 0 => break,
            '"' | '\'' if depth == 0 => {
                for q in chars.by_ref() {
                    if q == c {
                        break;
                    }
                    word.push(q);
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                depth += 1;
                word.push(c);
            }
            '(' => word.push(c),
            ')' if depth > 0 => {
                depth -= 1;
                word.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Which program a command runs (cargo's selector) and its arguments.
#[derive(Debug)]
struct Invocation {
    /// `["--bin", "ch01-echo-server"]` or `["-p", "netladder-compare"]`.
    selector: Vec<String>,
    args: Vec<String>,
}

fn invocations(words: &[String]) -> Vec<Invocation> {
    let mut found = Vec::new();
    // Commands may follow a pipe: look at every `cargo`.
    for (at, _) in words.iter().enumerate().filter(|(_, w)| *w == "cargo") {
        let rest = &words[at + 1..];
        let end = rest
            .iter()
            .position(|w| ["|", "&&", ";", ">", "2>"].contains(&w.as_str()))
            .unwrap_or(rest.len());
        let rest = &rest[..end];
        match rest.first().map(String::as_str) {
            Some("run") => {
                let split = rest.iter().position(|w| w == "--").unwrap_or(rest.len());
                let cargo_args = &rest[1..split];
                let mut selector = Vec::new();
                let mut i = 0;
                while i < cargo_args.len() {
                    if ["--bin", "-p", "--package", "--example"].contains(&cargo_args[i].as_str()) {
                        selector = cargo_args[i..=i + 1].to_vec();
                        i += 1;
                    }
                    i += 1;
                }
                if selector.is_empty() {
                    continue;
                }
                let args = rest.get(split + 1..).unwrap_or_default().to_vec();
                found.push(Invocation { selector, args });
            }
            Some("learn") => found.push(Invocation {
                selector: vec!["-p".into(), "netladder-learn".into()],
                args: rest[1..].to_vec(),
            }),
            Some("home") => found.push(Invocation {
                selector: vec!["-p".into(), "netladder-learn".into()],
                args: std::iter::once("home".to_string())
                    .chain(rest[1..].iter().cloned())
                    .collect(),
            }),
            _ => {}
        }
    }
    found
}

/// The `--help` text of a program (and subcommand), built by cargo.
fn help(root: &Path, cache: &mut BTreeMap<Vec<String>, String>, key: Vec<String>) -> String {
    cache
        .entry(key.clone())
        .or_insert_with(|| {
            let (selector, sub) = key.split_at(2);
            let output = Command::new(env!("CARGO"))
                .current_dir(root)
                .args(["run", "--quiet"])
                .args(selector)
                .arg("--")
                .args(sub)
                .arg("--help")
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "`cargo run {} -- {} --help` failed: {}",
                selector.join(" "),
                sub.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        })
        .clone()
}

/// The subcommand names a clap help lists under "Commands:".
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The help entry of `flag`: its line and the description lines under it.
fn entry<'a>(help: &'a str, flag: &str) -> Option<String> {
    let lines: Vec<&'a str> = help.lines().collect();
    let start = lines.iter().position(|l| {
        let l = l.trim_start();
        l.starts_with(&format!("{flag} "))
            || l.starts_with(&format!("{flag},"))
            || l == flag
            || l.starts_with(&format!("{flag}="))
            || l.split(", ").any(|part| {
                part == flag
                    || part.starts_with(&format!("{flag} "))
                    || part.starts_with(&format!("{flag}="))
            })
    })?;
    let mut text = lines[start].to_string();
    for line in &lines[start + 1..] {
        let line_start = line.trim_start();
        let mut chars = line_start.chars();
        // The next flag ends the entry ("- raw: ..." is a listed value).
        if chars.next() == Some('-')
            && chars
                .next()
                .is_some_and(|c| c == '-' || c.is_alphanumeric())
        {
            break;
        }
        text.push(' ');
        text.push_str(line.trim());
    }
    Some(text)
}

/// The values clap lists for a flag: `[possible values: a, b]` in short
/// help, or `Possible values: - a: ... - b: ...` in long help.
fn possible_values(entry: &str) -> Option<Vec<String>> {
    if let Some(list) = entry.split("[possible values: ").nth(1) {
        let list = list.split(']').next()?;
        return Some(list.split(", ").map(|v| v.trim().to_string()).collect());
    }
    let list = entry.split("Possible values:").nth(1)?;
    Some(
        list.split(" - ")
            .skip(1)
            .filter_map(|item| item.split(':').next())
            .map(|v| v.trim().to_string())
            .collect(),
    )
}

fn check(
    root: &Path,
    cache: &mut BTreeMap<Vec<String>, String>,
    place: &str,
    call: &Invocation,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut key = call.selector.clone();
    let mut args = call.args.as_slice();
    let top = help(root, cache, key.clone());
    let commands = subcommands(&top);
    if !commands.is_empty()
        && let Some(first) = args.first().filter(|a| !a.starts_with('-'))
    {
        if !commands.contains(first) {
            problems.push(format!("{place}: no subcommand `{first}` ({commands:?})"));
            return problems;
        }
        key.push(first.clone());
        args = &args[1..];
    }
    let text = help(root, cache, key.clone());
    for (i, arg) in args.iter().enumerate() {
        if !arg.starts_with('-') || arg == "-" || arg.starts_with("-c") && arg.len() > 3 {
            continue;
        }
        let flag = arg.split('=').next().unwrap_or(arg);
        let Some(entry) = entry(&text, flag) else {
            problems.push(format!(
                "{place}: `{flag}` is not a flag of `{}`",
                key.join(" ")
            ));
            continue;
        };
        let value = arg
            .split_once('=')
            .map(|(_, v)| v.to_string())
            .or_else(|| args.get(i + 1).filter(|v| !v.starts_with('-')).cloned());
        if let (Some(value), Some(allowed)) = (value, possible_values(&entry))
            && !allowed.contains(&value)
        {
            problems.push(format!("{place}: `{flag} {value}`: not one of {allowed:?}"));
        }
    }
    problems
}

#[test]
fn values_are_read_from_short_and_long_help() {
    assert_eq!(
        possible_values("--framing <F> How [default: line] [possible values: line, length]"),
        Some(vec!["line".to_string(), "length".to_string()])
    );
    assert_eq!(
        possible_values(
            "--driver <D> Which. Possible values: - raw: The file's. - threads: The library's [default: raw]"
        ),
        Some(vec!["raw".to_string(), "threads".to_string()])
    );
}

#[test]
fn words_keep_quotes_and_substitutions_whole() {
    assert_eq!(
        words(r#"a --message "one two" --pid $(pgrep -n x) # note"#),
        ["a", "--message", "one two", "--pid", "$(pgrep -n x)"]
    );
}

#[test]
fn every_command_in_the_book_matches_the_programs_help() {
    let root = root();
    let mut cache = BTreeMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (place, line) in code_lines(&root) {
        for call in invocations(&words(&line)) {
            checked += 1;
            problems.extend(check(&root, &mut cache, &place, &call));
        }
    }
    assert!(checked > 40, "only {checked} commands found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
