//! The exercises: listing, hints, checking, and the CI proof.
//!
//! `exercises/info.toml` lists them; each is a test target of the
//! `netladder-exercises` package (its stub) with a twin `_solution` target
//! (the reference solution, carrying the very same tests).
//!
//! The learner's progress (what passed, which hints were given) is kept in
//! `.netladder-progress.json` at the repository root: outside `target/`, so
//! `cargo clean` keeps it, and ignored by git.

use crate::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Deserialize)]
struct Info {
    exercise: Vec<Exercise>,
}

/// One exercise, as `exercises/info.toml` describes it.
#[derive(Deserialize)]
pub struct Exercise {
    pub name: String,
    pub chapter: u32,
    /// The learner's file, relative to `exercises/`.
    pub path: String,
    /// The reference solution, relative to `exercises/`.
    pub solution: String,
    /// The book page and heading it belongs to, like `ch01-tcp.md#framing`.
    pub section: String,
    /// Graded hints, given one at a time: a nudge first, an outline last.
    pub hints: Vec<String>,
}

impl Exercise {
    fn target(&self) -> String {
        self.name.replace('-', "_")
    }

    fn solution_target(&self) -> String {
        format!("{}_solution", self.target())
    }
}

fn exercises_dir(root: &Path) -> PathBuf {
    root.join("exercises")
}

/// Reads `info.toml` and checks that `Cargo.toml` has both test targets of
/// every exercise, at the paths `info.toml` gives.
pub fn load(root: &Path) -> Result<Vec<Exercise>> {
    let dir = exercises_dir(root);
    let info = fs::read_to_string(dir.join("info.toml"))
        .map_err(|e| format!("exercises/info.toml: {e}"))?;
    let info: Info = toml::from_str(&info).map_err(|e| format!("exercises/info.toml: {e}"))?;
    let manifest = fs::read_to_string(dir.join("Cargo.toml"))
        .map_err(|e| format!("exercises/Cargo.toml: {e}"))?;
    let manifest: toml::Table =
        toml::from_str(&manifest).map_err(|e| format!("exercises/Cargo.toml: {e}"))?;
    let targets: BTreeMap<&str, &str> = manifest
        .get("test")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t.get("name")?.as_str()?, t.get("path")?.as_str()?)))
        .collect();
    for exercise in &info.exercise {
        for (target, path) in [
            (exercise.target(), &exercise.path),
            (exercise.solution_target(), &exercise.solution),
        ] {
            match targets.get(target.as_str()) {
                Some(found) if found == path => {}
                Some(found) => {
                    return Err(format!(
                        "exercises/Cargo.toml: target {target} points at {found}, not {path}"
                    ));
                }
                None => {
                    return Err(format!(
                        "exercises/Cargo.toml has no [[test]] target named {target}"
                    ));
                }
            }
        }
    }
    Ok(info.exercise)
}

pub fn find<'a>(exercises: &'a [Exercise], name: &str) -> Result<&'a Exercise> {
    exercises.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<_> = exercises.iter().map(|e| e.name.as_str()).collect();
        format!("no exercise named {name}; there are: {}", names.join(", "))
    })
}

/// How one run of an exercise's tests went.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Compiled, and every test passed.
    Passed { tests: usize },
    /// Compiled, and some tests failed.
    Failed { passed: usize, failed: usize },
    /// Did not compile (or cargo failed before running tests).
    Broken,
}

struct Run {
    outcome: Outcome,
    output: String,
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
}

/// Runs one test target of the exercises package: the learner's, or with
/// `copy`, the package at that manifest path built into that target folder
/// (`verify`'s pristine copy).
fn run_target(root: &Path, target: &str, copy: Option<(&Path, &Path)>) -> Result<Run> {
    let mut command = cargo();
    command
        .current_dir(root)
        .args(["test", "--quiet", "--color", "never"])
        // A failing test's message, not a backtrace, whatever the
        // learner's shell exports.
        .env("RUST_BACKTRACE", "0");
    match copy {
        Some((manifest, target_dir)) => command
            .arg("--manifest-path")
            .arg(manifest)
            .env("CARGO_TARGET_DIR", target_dir),
        None => command.args(["-p", "netladder-exercises"]),
    };
    let output = command
        .args(["--test", target])
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let counts = parse_counts(&text);
    let outcome = match (output.status.success(), counts) {
        (true, Some((passed, 0))) => Outcome::Passed { tests: passed },
        (false, Some((passed, failed))) if failed > 0 => Outcome::Failed { passed, failed },
        _ => Outcome::Broken,
    };
    Ok(Run {
        outcome,
        output: text,
    })
}

/// The passed and failed counts of libtest's `test result:` line.
fn parse_counts(output: &str) -> Option<(usize, usize)> {
    let line = output.lines().find(|l| l.starts_with("test result:"))?;
    let count = |word: &str| -> Option<usize> {
        let before = line.split(word).next()?;
        before
            .rsplit(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())?
            .parse()
            .ok()
    };
    Some((count(" passed")?, count(" failed")?))
}

/// The failing tests of a libtest run, compactly: each test's name, where
/// it panicked, and its message; no backtrace, no libtest chatter. A build
/// error shows the compiler's errors instead.
pub fn failure_summary(output: &str) -> String {
    // (tests, where and what): failures with the same message are grouped,
    // so ten tests stopped by the same `todo!()` take three lines.
    let mut failures: Vec<(Vec<String>, String)> = Vec::new();
    let mut lines = output.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(test) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        else {
            continue;
        };
        let mut message = String::new();
        let mut in_backtrace = false;
        while let Some(&next) = lines.peek() {
            if next.starts_with("---- ") || next == "failures:" {
                break;
            }
            lines.next();
            in_backtrace |= next.starts_with("stack backtrace:");
            if in_backtrace
                || next.starts_with("note: run with `RUST_BACKTRACE")
                || next.trim().is_empty()
            {
                continue;
            }
            // "thread 'tests::x' (1234) panicked at FILE:LINE:COL:" -> "at FILE:LINE:COL"
            let next = match next.split_once("panicked at ") {
                Some((thread, at)) if thread.starts_with("thread '") => {
                    format!("at {}", at.trim_end_matches(':'))
                }
                _ => next.to_string(),
            };
            message.push_str(&format!("      {next}\n"));
        }
        match failures.iter_mut().find(|(_, m)| *m == message) {
            Some((tests, _)) => tests.push(test.to_string()),
            None => failures.push((vec![test.to_string()], message)),
        }
    }
    let mut summary = String::new();
    for (tests, message) in &failures {
        let names = tests.join(", ");
        summary.push_str(&format!("  ✗ {names}\n{message}"));
    }
    if summary.is_empty() {
        // No test ran: show the compiler's errors (and only those).
        let mut keep = false;
        for line in output.lines() {
            if line.starts_with("error") || line.starts_with("warning: unused") {
                keep = line.starts_with("error");
            }
            if keep {
                summary.push_str(line);
                summary.push('\n');
            }
        }
    }
    if summary.is_empty() {
        summary = output.to_string();
    }
    summary.trim_end().to_string()
}

/// What the learner has done, kept between runs.
#[derive(Serialize, Deserialize, Default)]
pub struct Saved {
    /// Per exercise: the file's hash when last checked, and whether it passed.
    checked: BTreeMap<String, (u64, bool)>,
    /// Per exercise: how many hints have been given.
    #[serde(default)]
    hints: BTreeMap<String, usize>,
}

/// The progress file: at the repository root, outside `target/` so that
/// `cargo clean` keeps it, and listed in `.gitignore`.
pub const PROGRESS_FILE: &str = ".netladder-progress.json";

/// The progress file; `NETLADDER_PROGRESS` names another (the tests use it
/// to leave the learner's own progress alone).
fn state_file(root: &Path) -> PathBuf {
    std::env::var_os("NETLADDER_PROGRESS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(PROGRESS_FILE))
}

fn load_saved(root: &Path) -> Saved {
    // Before the progress moved to the root it lived under target/.
    let old = root.join("target/netladder-learn/state.json");
    fs::read_to_string(state_file(root))
        .or_else(|_| fs::read_to_string(old))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn save(root: &Path, saved: &Saved) -> Result<()> {
    let path = state_file(root);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(saved).map_err(|e| e.to_string())?;
    fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn file_hash(root: &Path, exercise: &Exercise) -> Result<u64> {
    let path = exercises_dir(root).join(&exercise.path);
    let text = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    Ok(hasher.finish())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Done,
    Failing,
    /// Changed since the last check, or never checked.
    Unchecked,
}

impl State {
    fn label(self) -> &'static str {
        match self {
            State::Done => "done",
            State::Failing => "failing",
            State::Unchecked => "to do",
        }
    }
}

fn state_of(root: &Path, saved: &Saved, exercise: &Exercise) -> Result<State> {
    let hash = file_hash(root, exercise)?;
    Ok(match saved.checked.get(&exercise.name) {
        Some(&(seen, true)) if seen == hash => State::Done,
        Some(&(seen, false)) if seen == hash => State::Failing,
        _ => State::Unchecked,
    })
}

fn progress_bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(0);
    format!(
        "[{}{}] {done}/{total} exercises done",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled)
    )
}

/// Prints the progress bar alone (the home shows it).
pub fn print_progress(root: &Path) -> Result<()> {
    let exercises = load(root)?;
    let saved = load_saved(root);
    let mut done = 0;
    for exercise in &exercises {
        if state_of(root, &saved, exercise)? == State::Done {
            done += 1;
        }
    }
    say!("Exercises: {}", progress_bar(done, exercises.len()));
    say!(
        "  cargo learn watch | cargo learn list | cargo learn hint NAME | cargo learn check [NAME]"
    );
    say!("  (progress is kept in {PROGRESS_FILE} at the repository root)");
    Ok(())
}

/// The URL-fragment id mdBook gives a heading: lower case, spaces become
/// dashes, and everything but letters, digits, `-` and `_` is dropped.
pub fn heading_id(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The page title and heading of an exercise's `section`, as the book
/// shows them, or `None` if the page or heading does not exist.
pub fn section_title(root: &Path, section: &str) -> Option<(String, String)> {
    let (page, id) = section.split_once('#')?;
    let text = fs::read_to_string(root.join("book/src").join(page)).ok()?;
    let mut title = None;
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            continue;
        }
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let heading = heading.trim_start_matches('#').trim();
        if title.is_none() {
            title = Some(heading.to_string());
        }
        if heading_id(heading) == id {
            return Some((title?, heading.to_string()));
        }
    }
    None
}

fn book_place(root: &Path, exercise: &Exercise) -> String {
    match section_title(root, &exercise.section) {
        Some((_, heading)) => format!("§ {heading}"),
        None => exercise.section.clone(),
    }
}

/// `list`: every exercise with its state, then the progress bar.
pub fn list(root: &Path) -> Result<()> {
    let exercises = load(root)?;
    let saved = load_saved(root);
    let mut done = 0;
    let width = exercises.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for exercise in &exercises {
        let state = state_of(root, &saved, exercise)?;
        if state == State::Done {
            done += 1;
        }
        say!(
            "  ch{:02}  {:<width$}  {:<8} {:<32} exercises/{}",
            exercise.chapter,
            exercise.name,
            state.label(),
            book_place(root, exercise),
            exercise.path
        );
    }
    say!("{}", progress_bar(done, exercises.len()));
    if let Some(next) = next_exercise(root, &exercises, &saved, None) {
        say!(
            "next: cargo learn watch (or cargo learn check {})",
            next.name
        );
    }
    Ok(())
}

/// The first exercise that is not done, starting after `after` (and
/// wrapping round), or `None` when every one is done.
pub fn next_not_done<'a>(
    root: &Path,
    exercises: &'a [Exercise],
    after: Option<&str>,
) -> Option<&'a Exercise> {
    next_exercise(root, exercises, &load_saved(root), after)
}

fn next_exercise<'a>(
    root: &Path,
    exercises: &'a [Exercise],
    saved: &Saved,
    after: Option<&str>,
) -> Option<&'a Exercise> {
    let start = after
        .and_then(|name| exercises.iter().position(|e| e.name == name))
        .map_or(0, |at| at + 1);
    (0..exercises.len())
        .map(|i| &exercises[(start + i) % exercises.len()])
        .find(|e| !matches!(state_of(root, saved, e), Ok(State::Done)))
}

/// `hint NAME`: the next hint (the first, then the second when asked
/// again, up to the last, which then repeats). The count is saved.
pub fn hint(root: &Path, name: &str) -> Result<()> {
    let exercises = load(root)?;
    let exercise = find(&exercises, name)?;
    let mut saved = load_saved(root);
    say!("{}", next_hint(root, exercise, &mut saved));
    save(root, &saved)
}

/// The text of the next hint for `exercise`, recorded as given in `saved`.
fn next_hint(root: &Path, exercise: &Exercise, saved: &mut Saved) -> String {
    let total = exercise.hints.len();
    let given = saved.hints.entry(exercise.name.clone()).or_insert(0);
    let level = (*given + 1).min(total);
    *given = level;
    let text = exercise.hints[level - 1].trim();
    let after = if level < total {
        format!(
            "Stuck still? `cargo learn hint {}` again gives hint {} of {total}.",
            exercise.name,
            level + 1
        )
    } else {
        format!(
            "That was the last hint. The reference solution is exercises/{}; peek, close it, and write your own.",
            exercise.solution
        )
    };
    format!(
        "{} (exercises/{}, book: {}), hint {level} of {total}:\n\n{text}\n\n{after}",
        exercise.name,
        exercise.path,
        book_place(root, exercise)
    )
}

/// `check [NAME]`: runs the tests, shows failures, records the result.
pub fn check(root: &Path, name: Option<&str>) -> Result<()> {
    let exercises = load(root)?;
    let chosen: Vec<&Exercise> = match name {
        Some(name) => vec![find(&exercises, name)?],
        None => exercises.iter().collect(),
    };
    let mut saved = load_saved(root);
    let mut failing = Vec::new();
    for exercise in chosen {
        let hash = file_hash(root, exercise)?;
        let run = run_target(root, &exercise.target(), None)?;
        let passed = matches!(run.outcome, Outcome::Passed { .. });
        if name.is_some() && !passed {
            say!("{}", failure_summary(&run.output));
        }
        say!("{}", verdict(exercise, &run.outcome));
        if !passed {
            failing.push(exercise.name.clone());
        }
        saved.checked.insert(exercise.name.clone(), (hash, passed));
    }
    save(root, &saved)?;
    let done = exercises
        .iter()
        .filter(|e| matches!(state_of(root, &saved, e), Ok(State::Done)))
        .count();
    say!("{}", progress_bar(done, exercises.len()));
    match failing.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "not done yet: {}; `cargo learn hint {first}` may help",
            failing.join(", ")
        )),
    }
}

/// Runs one exercise's tests, records the result, and returns whether it
/// passed with a compact report: the failures (if any), the verdict, and
/// the progress bar.
pub fn check_quietly(root: &Path, exercise: &Exercise) -> Result<(bool, String)> {
    let exercises = load(root)?;
    let hash = file_hash(root, exercise)?;
    let run = run_target(root, &exercise.target(), None)?;
    let passed = matches!(run.outcome, Outcome::Passed { .. });
    let mut saved = load_saved(root);
    saved.checked.insert(exercise.name.clone(), (hash, passed));
    save(root, &saved)?;
    let mut report = String::new();
    if !passed {
        report.push_str(&failure_summary(&run.output));
        report.push('\n');
    }
    report.push_str(&verdict(exercise, &run.outcome));
    report.push('\n');
    let done = exercises
        .iter()
        .filter(|e| matches!(state_of(root, &saved, e), Ok(State::Done)))
        .count();
    report.push_str(&progress_bar(done, exercises.len()));
    Ok((passed, report))
}

fn verdict(exercise: &Exercise, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Passed { tests } => format!("✓ {}: all {tests} tests pass", exercise.name),
        Outcome::Failed { passed, failed } => {
            format!("✗ {}: {failed} failing, {passed} passing", exercise.name)
        }
        Outcome::Broken => format!("✗ {}: does not compile", exercise.name),
    }
}

/// The tests of an exercise file: everything from `#[cfg(test)]` on.
fn tests_section(text: &str) -> Option<&str> {
    text.find("#[cfg(test)]").map(|at| &text[at..])
}

/// `verify`: for every exercise, the stub compiles and fails every test, the
/// solution passes the same number of tests, and both carry identical tests.
///
/// The stubs checked are the committed ones (`git show HEAD:...`), in a
/// copy of the exercises package under `target/`, whatever the working tree
/// holds: a learner's solved exercise never turns this red. A stub git does
/// not know yet (a new exercise) is taken from the working tree.
pub fn verify(root: &Path) -> Result<()> {
    let exercises = load(root)?;
    let target = target_dir(root)?;
    let pristine = Pristine::make(
        root,
        &exercises_dir(root),
        &target.join("netladder-learn/pristine"),
        &exercises,
    )?;
    if !pristine.from_working_tree.is_empty() {
        say!(
            "not in git yet, checked as they are: {}",
            pristine.from_working_tree.join(", ")
        );
    }
    if !pristine.edited.is_empty() {
        say!(
            "your edits are left alone; the committed stubs are checked: {}",
            pristine.edited.join(", ")
        );
    }
    let (mut good, mut bad) = (0, 0);
    for exercise in &exercises {
        match verify_one(&pristine, exercise) {
            Ok(summary) => {
                good += 1;
                say!("ok    {:<24} {summary}", exercise.name);
            }
            Err(problem) => {
                bad += 1;
                say!("FAIL  {:<24} {problem}", exercise.name);
            }
        }
    }
    say!("exercise proof: {good} passed, {bad} failed");
    if bad == 0 {
        Ok(())
    } else {
        Err(format!("{bad} exercise(s) failed the proof"))
    }
}

/// A copy of the exercises package with the committed stubs, built in the
/// workspace's own target folder so compiled dependencies are shared.
struct Pristine {
    /// The root of the repository (for `current_dir`).
    root: PathBuf,
    /// The workspace's target folder, shared with the copy.
    target: PathBuf,
    /// The copy's folder (it holds `Cargo.toml`).
    dir: PathBuf,
    /// Stubs that git does not know, taken from the working tree.
    from_working_tree: Vec<String>,
    /// Stubs whose working copy differs from the committed one.
    edited: Vec<String>,
}

impl Pristine {
    /// Copies the exercises package from `source` (the working tree's
    /// `exercises/`) to `dir`, then puts the committed stubs in place.
    fn make(root: &Path, source: &Path, dir: &Path, exercises: &[Exercise]) -> Result<Pristine> {
        let target = target_dir(root)?;
        let dir = dir.to_path_buf();
        let _ = fs::remove_dir_all(&dir);
        copy_dir(source, &dir)?;
        // A workspace of its own, with the root's lock file and target folder.
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).map_err(|e| e.to_string())?;
        let manifest = standalone_manifest(root, &manifest)?;
        fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
        fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))
            .map_err(|e| format!("Cargo.lock: {e}"))?;
        let (mut from_working_tree, mut edited) = (Vec::new(), Vec::new());
        for exercise in exercises {
            let working = fs::read_to_string(dir.join(&exercise.path)).unwrap_or_default();
            match committed(root, &format!("exercises/{}", exercise.path)) {
                Some(text) => {
                    if text != working {
                        edited.push(exercise.name.clone());
                    }
                    fs::write(dir.join(&exercise.path), text).map_err(|e| e.to_string())?;
                }
                None => from_working_tree.push(exercise.name.clone()),
            }
        }
        Ok(Pristine {
            root: root.to_path_buf(),
            target,
            dir,
            from_working_tree,
            edited,
        })
    }

    fn read(&self, path: &str) -> Result<String> {
        fs::read_to_string(self.dir.join(path)).map_err(|e| format!("{path}: {e}"))
    }

    fn run(&self, target: &str) -> Result<Run> {
        let manifest = self.dir.join("Cargo.toml");
        run_target(&self.root, target, Some((&manifest, &self.target)))
    }
}

/// A file as committed at `HEAD`, or `None` without git or outside it.
fn committed(root: &Path, path: &str) -> Option<String> {
    let output = Command::new("git")
        .current_dir(root)
        .args(["show", &format!("HEAD:{path}")])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).ok())
        .flatten()
}

/// Where cargo builds this workspace (`CARGO_TARGET_DIR` and config included).
fn target_dir(root: &Path) -> Result<PathBuf> {
    let output = cargo()
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata gave no target_directory".to_string())
}

/// The exercises' manifest made standalone: the values it inherits from the
/// workspace written in, and an empty `[workspace]` of its own.
fn standalone_manifest(root: &Path, manifest: &str) -> Result<String> {
    let workspace = fs::read_to_string(root.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let workspace: toml::Table = toml::from_str(&workspace).map_err(|e| e.to_string())?;
    let package = workspace
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.as_table())
        .ok_or("the root Cargo.toml has no [workspace.package]")?;
    let mut out = String::from("[workspace]\n\n");
    for line in manifest.lines() {
        match line
            .strip_suffix(".workspace = true")
            .and_then(|key| Some((key, package.get(key.trim())?)))
        {
            Some((key, value)) => out.push_str(&format!("{key} = {value}\n")),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()))?;
        } else {
            fs::copy(&path, to.join(entry.file_name()))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

fn verify_one(pristine: &Pristine, exercise: &Exercise) -> Result<String> {
    let (stub, solution) = (
        pristine.read(&exercise.path)?,
        pristine.read(&exercise.solution)?,
    );
    if !stub.contains("todo!(") {
        return Err("the stub has no todo!(): is it solved in place?".into());
    }
    match (tests_section(&stub), tests_section(&solution)) {
        (Some(a), Some(b)) if a == b => {}
        (Some(_), Some(_)) => return Err("the stub's and the solution's tests differ".into()),
        _ => return Err("a #[cfg(test)] section is missing".into()),
    }
    if exercise.hints.len() != 3 || exercise.hints.iter().any(|h| h.trim().is_empty()) {
        return Err("it needs three hints in info.toml".into());
    }
    let stub_run = pristine.run(&exercise.target())?;
    let stub_tests = match stub_run.outcome {
        Outcome::Failed { passed: 0, failed } => failed,
        Outcome::Failed { passed, .. } => {
            return Err(format!("{passed} test(s) pass on the untouched stub"));
        }
        Outcome::Passed { .. } => return Err("the stub passes its tests".into()),
        Outcome::Broken => return Err(format!("the stub does not compile:\n{}", stub_run.output)),
    };
    let solution_run = pristine.run(&exercise.solution_target())?;
    match solution_run.outcome {
        Outcome::Passed { tests } if tests == stub_tests => Ok(format!(
            "stub fails {stub_tests}/{stub_tests} tests, solution passes {tests}/{tests}"
        )),
        Outcome::Passed { tests } => {
            Err(format!("solution ran {tests} tests, the stub {stub_tests}"))
        }
        _ => Err(format!("the solution fails:\n{}", solution_run.output)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_libtests_result_line() {
        let ok = "running 3 tests\n...\ntest result: ok. 3 passed; 0 failed; 0 ignored; 0 measured";
        assert_eq!(parse_counts(ok), Some((3, 0)));
        let failed =
            "test result: FAILED. 1 passed; 12 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(parse_counts(failed), Some((1, 12)));
        assert_eq!(parse_counts("error[E0308]: mismatched types"), None);
    }

    #[test]
    fn progress_bar_fills_in_proportion() {
        assert!(progress_bar(0, 3).starts_with("[------"));
        assert!(progress_bar(3, 3).starts_with("[######"));
        assert!(progress_bar(0, 0).ends_with("0/0 exercises done"));
    }

    #[test]
    fn every_exercise_in_the_repo_is_consistent() {
        let root = crate::repo_root();
        let exercises = load(&root).unwrap();
        assert!(exercises.len() >= 3);
        for exercise in &exercises {
            assert!(
                exercise
                    .name
                    .starts_with(&format!("ch{:02}-", exercise.chapter))
            );
            assert_eq!(exercise.hints.len(), 3, "{} needs 3 hints", exercise.name);
            assert!(
                section_title(&root, &exercise.section).is_some(),
                "{}: no heading {} in the book",
                exercise.name,
                exercise.section
            );
        }
    }

    #[test]
    fn the_pristine_copy_is_a_workspace_of_its_own() {
        let root = crate::repo_root();
        let manifest = fs::read_to_string(root.join("exercises/Cargo.toml")).unwrap();
        let copy = standalone_manifest(&root, &manifest).unwrap();
        assert!(copy.starts_with("[workspace]"));
        assert!(!copy.contains(".workspace = true"), "{copy}");
        assert!(copy.contains("edition = \"2024\""), "{copy}");
        let parsed: toml::Table = toml::from_str(&copy).unwrap();
        assert_eq!(
            parsed["package"]["name"].as_str(),
            Some("netladder-exercises")
        );
    }

    #[test]
    fn verify_copies_the_committed_stub_over_a_solved_one() {
        let root = crate::repo_root();
        let exercises = load(&root).unwrap();
        let exercise = &exercises[0];
        if committed(&root, &format!("exercises/{}", exercise.path)).is_none() {
            return; // not a git checkout: nothing to compare with
        }
        let scratch =
            std::env::temp_dir().join(format!("netladder-pristine-{}", std::process::id()));
        let (learner, copy) = (scratch.join("learner"), scratch.join("copy"));
        copy_dir(&exercises_dir(&root), &learner).unwrap();
        // The learner solved the first exercise in place.
        fs::copy(
            learner.join(&exercise.solution),
            learner.join(&exercise.path),
        )
        .unwrap();
        let pristine = Pristine::make(&root, &learner, &copy, &exercises).unwrap();
        let stub = fs::read_to_string(copy.join(&exercise.path)).unwrap();
        let solved = fs::read_to_string(learner.join(&exercise.path)).unwrap();
        fs::remove_dir_all(&scratch).unwrap();
        assert!(stub.contains("todo!("), "the copy has the committed stub");
        assert!(
            !solved.contains("todo!("),
            "the learner's file is left as it was"
        );
        assert!(pristine.edited.contains(&exercise.name));
        assert!(pristine.from_working_tree.is_empty());
    }

    #[test]
    fn heading_ids_are_mdbooks() {
        assert_eq!(
            heading_id("HTTP/1.0 and HTTP/1.1 defaults"),
            "http10-and-http11-defaults"
        );
        assert_eq!(heading_id("Tokens and the slab"), "tokens-and-the-slab");
        assert_eq!(heading_id("The 5-tuple"), "the-5-tuple");
    }

    #[test]
    fn hints_come_one_at_a_time_and_stop_at_the_last() {
        let root = crate::repo_root();
        let exercises = load(&root).unwrap();
        let exercise = &exercises[0];
        let mut saved = Saved::default();
        let first = next_hint(&root, exercise, &mut saved);
        assert!(first.contains("hint 1 of 3"), "{first}");
        assert!(first.contains(exercise.hints[0].trim()));
        assert!(!first.contains(exercise.hints[1].trim()));
        let second = next_hint(&root, exercise, &mut saved);
        assert!(second.contains("hint 2 of 3") && second.contains(exercise.hints[1].trim()));
        let third = next_hint(&root, exercise, &mut saved);
        assert!(third.contains("hint 3 of 3") && third.contains("last hint"));
        let again = next_hint(&root, exercise, &mut saved);
        assert!(again.contains("hint 3 of 3"));
        assert_eq!(saved.hints[&exercise.name], 3);
    }

    #[test]
    fn failures_are_shown_without_backtraces() {
        let output = "running 2 tests\ntest tests::a ... FAILED\ntest tests::b ... ok\n\nfailures:\n\n\
---- tests::a stdout ----\n\nthread 'tests::a' (123) panicked at ch01/read_line.rs:40:5:\n\
assertion `left == right` failed\n  left: 1\n right: 2\nstack backtrace:\n   0: std::panicking\n\
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\n\
failures:\n    tests::a\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored\n";
        let summary = failure_summary(output);
        assert!(summary.contains("✗ tests::a"), "{summary}");
        assert!(summary.contains("at ch01/read_line.rs:40:5"), "{summary}");
        assert!(summary.contains("left: 1"), "{summary}");
        assert!(!summary.contains("backtrace"), "{summary}");
        assert!(!summary.contains("tests::b"), "{summary}");
        let broken = "   Compiling x\nerror[E0308]: mismatched types\n --> ch01/read_line.rs:3:1\n\nerror: could not compile\n";
        assert!(failure_summary(broken).starts_with("error[E0308]"));
    }
}
