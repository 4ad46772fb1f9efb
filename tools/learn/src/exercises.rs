//! The exercises: listing, hints, checking, and the CI proof.
//!
//! `exercises/info.toml` lists them; each is a test target of the
//! `netladder-exercises` package (its stub) with a twin `_solution` target
//! (the reference solution, carrying the very same tests).

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
    pub hint: String,
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

fn find<'a>(exercises: &'a [Exercise], name: &str) -> Result<&'a Exercise> {
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

/// Runs one test target of the exercises package.
fn run_target(root: &Path, target: &str) -> Result<Run> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(root)
        .args([
            "test",
            "--quiet",
            "--color",
            "never",
            "-p",
            "netladder-exercises",
            "--test",
            target,
        ])
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

/// What the learner has done with an exercise, from the last check.
#[derive(Serialize, Deserialize, Default)]
struct Saved {
    /// Per exercise: the file's hash when last checked, and whether it passed.
    checked: BTreeMap<String, (u64, bool)>,
}

fn state_file(root: &Path) -> PathBuf {
    root.join("target/netladder-learn/state.json")
}

fn load_saved(root: &Path) -> Saved {
    fs::read_to_string(state_file(root))
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
    println!("Exercises: {}", progress_bar(done, exercises.len()));
    println!("  cargo learn list | cargo learn hint NAME | cargo learn check [NAME]");
    Ok(())
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
        println!(
            "  ch{:02}  {:<width$}  {:<8} exercises/{}",
            exercise.chapter,
            exercise.name,
            state.label(),
            exercise.path
        );
    }
    println!("{}", progress_bar(done, exercises.len()));
    if let Some(next) = exercises
        .iter()
        .find(|e| !matches!(state_of(root, &saved, e), Ok(State::Done)))
    {
        println!("next: cargo learn check {}", next.name);
    }
    Ok(())
}

/// `hint NAME`.
pub fn hint(root: &Path, name: &str) -> Result<()> {
    let exercises = load(root)?;
    let exercise = find(&exercises, name)?;
    println!(
        "{} (exercises/{}):\n{}",
        exercise.name,
        exercise.path,
        exercise.hint.trim()
    );
    Ok(())
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
        let run = run_target(root, &exercise.target())?;
        let passed = matches!(run.outcome, Outcome::Passed { .. });
        match run.outcome {
            Outcome::Passed { tests } => println!("✓ {}: all {tests} tests pass", exercise.name),
            Outcome::Failed { passed, failed } => {
                if name.is_some() {
                    println!("{}", run.output.trim_end());
                }
                println!("✗ {}: {failed} failing, {passed} passing", exercise.name);
                failing.push(exercise.name.clone());
            }
            Outcome::Broken => {
                println!("{}", run.output.trim_end());
                println!("✗ {}: does not compile", exercise.name);
                failing.push(exercise.name.clone());
            }
        }
        saved.checked.insert(exercise.name.clone(), (hash, passed));
    }
    save(root, &saved)?;
    let done = exercises
        .iter()
        .filter(|e| matches!(state_of(root, &saved, e), Ok(State::Done)))
        .count();
    println!("{}", progress_bar(done, exercises.len()));
    match failing.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "not done yet: {}; `cargo learn hint {first}` may help",
            failing.join(", ")
        )),
    }
}

/// The tests of an exercise file: everything from `#[cfg(test)]` on.
fn tests_section(text: &str) -> Option<&str> {
    text.find("#[cfg(test)]").map(|at| &text[at..])
}

/// `verify`: for every exercise, the stub compiles and fails every test, the
/// solution passes the same number of tests, and both carry identical tests.
pub fn verify(root: &Path) -> Result<()> {
    let exercises = load(root)?;
    let (mut good, mut bad) = (0, 0);
    for exercise in &exercises {
        match verify_one(root, exercise) {
            Ok(summary) => {
                good += 1;
                println!("ok    {:<24} {summary}", exercise.name);
            }
            Err(problem) => {
                bad += 1;
                println!("FAIL  {:<24} {problem}", exercise.name);
            }
        }
    }
    println!("exercise proof: {good} passed, {bad} failed");
    if bad == 0 {
        Ok(())
    } else {
        Err(format!("{bad} exercise(s) failed the proof"))
    }
}

fn verify_one(root: &Path, exercise: &Exercise) -> Result<String> {
    let dir = exercises_dir(root);
    let read = |p: &str| fs::read_to_string(dir.join(p)).map_err(|e| format!("{p}: {e}"));
    let (stub, solution) = (read(&exercise.path)?, read(&exercise.solution)?);
    if !stub.contains("todo!(") {
        return Err("the stub has no todo!(): is it solved in place?".into());
    }
    match (tests_section(&stub), tests_section(&solution)) {
        (Some(a), Some(b)) if a == b => {}
        (Some(_), Some(_)) => return Err("the stub's and the solution's tests differ".into()),
        _ => return Err("a #[cfg(test)] section is missing".into()),
    }
    let stub_run = run_target(root, &exercise.target())?;
    let stub_tests = match stub_run.outcome {
        Outcome::Failed { passed: 0, failed } => failed,
        Outcome::Failed { passed, .. } => {
            return Err(format!("{passed} test(s) pass on the untouched stub"));
        }
        Outcome::Passed { .. } => return Err("the stub passes its tests".into()),
        Outcome::Broken => return Err(format!("the stub does not compile:\n{}", stub_run.output)),
    };
    let solution_run = run_target(root, &exercise.solution_target())?;
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
            assert!(
                !exercise.hint.trim().is_empty(),
                "{} has no hint",
                exercise.name
            );
        }
    }
}
