//! A writer killed with SIGKILL at random moments loses no edit it reported
//! as committed, and leaves a database that passes `PRAGMA integrity_check`.
//!
//! The writer is this test binary itself, re-executed to run only
//! `child_writer` with `CRASH_CHILD_DIR` set.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use rand::Rng;
use sprechtag::store::Store;
use sprechtag_schemas::{Case, Citizen};

const PASSPHRASE: &str = "Absturz-Sicher-2026";
const DIR_ENV: &str = "CRASH_CHILD_DIR";
const CASE_ENV: &str = "CRASH_CHILD_CASE";
/// Every line the child means for the parent starts with this.
const MARK: &str = "CRASH-CHILD";
const ROUNDS: usize = 8;

fn catalog() -> Arc<sprechtag_schemas::Catalog> {
    Arc::new(sprechtag::catalog::shipped().expect("the shipped catalogue is valid"))
}

/// The edit numbers in the notes, in order ("edit 1\nedit 2\n...").
fn edits_in(notes: &str) -> Vec<u64> {
    notes
        .lines()
        .map(|line| {
            line.strip_prefix("edit ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected line {line:?} in the notes"))
        })
        .collect()
}

/// The child: appends "edit N" lines to the notes until it is killed.
#[test]
#[ignore = "helper: run as a child process by the crash test"]
fn child_writer() {
    let Some(dir) = std::env::var_os(DIR_ENV) else {
        return;
    };
    let case_id = std::env::var(CASE_ENV).expect("the parent names the case");
    let mut store =
        Store::open(Path::new(&dir), PASSPHRASE, catalog()).expect("the child opens the store");
    let case = store.case(&case_id).expect("the child reads the case");
    let mut notes = case.notes.as_str().to_string();
    let mut next = edits_in(&notes).last().copied().unwrap_or(0) + 1;
    let mut out = std::io::stdout();
    writeln!(out, "{MARK} ready {next}").expect("stdout");
    out.flush().expect("stdout");
    // A safety net in case the parent dies without killing us.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        notes.push_str(&format!("edit {next}\n"));
        store
            .set_case_field(&case_id, "notes", &notes)
            .expect("the edit is stored");
        writeln!(out, "{MARK} committed {next}").expect("stdout");
        out.flush().expect("stdout");
        next += 1;
    }
}

/// Kills the child if the parent test panics half-way.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one child until a random kill; returns the edits it reported.
fn run_child_round(dir: &Path, case_id: &str) -> Vec<u64> {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let child = Command::new(exe)
        .args([
            "--exact",
            "child_writer",
            "--nocapture",
            "--include-ignored",
        ])
        .env(DIR_ENV, dir)
        .env(CASE_ENV, case_id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the child can be started");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("stdout is piped");
    let mut stderr = child.0.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find(MARK) {
                let _ = tx.send(line[at + MARK.len()..].trim().to_string());
            }
        }
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    // Count the delay from the moment the child has the store open, so the
    // kill lands among the writes rather than during start-up.
    let first = rx.recv_timeout(Duration::from_secs(60));
    let delay = rand::rng().random_range(50..=400);
    std::thread::sleep(Duration::from_millis(delay));
    let killed_while_running = matches!(child.0.try_wait(), Ok(None));
    child.0.kill().expect("SIGKILL can be sent");
    child.0.wait().expect("the killed child is reaped");
    reader.join().expect("the stdout reader finishes");
    let stderr_text = stderr_reader.join().expect("the stderr reader finishes");

    let first = first.unwrap_or_else(|_| panic!("the child never got ready: {stderr_text}"));
    assert!(
        first.starts_with("ready "),
        "unexpected first line {first:?}"
    );
    assert!(
        killed_while_running,
        "the child stopped before it was killed: {stderr_text}"
    );
    rx.try_iter()
        .map(|line| {
            line.strip_prefix("committed ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected child line {line:?}"))
        })
        .collect()
}

#[test]
fn a_writer_killed_at_random_moments_loses_no_committed_edit_and_leaves_an_intact_database() {
    let tmp = tempfile::tempdir().expect("a temp dir can be created");
    let dir = tmp.path().join("data");
    let case_id = {
        let mut store = Store::create(&dir, PASSPHRASE, catalog()).expect("the store is created");
        let case = store
            .create_case(Case::draft(Citizen {
                surname: "Zwölfmeier".into(),
                given_names: "Wilhelmine".into(),
                ..Citizen::default()
            }))
            .expect("the case is created");
        case.id
    };

    let mut reported = Vec::new();
    for _ in 0..ROUNDS {
        reported.extend(run_child_round(&dir, &case_id));
    }
    eprintln!(
        "{} edits reported committed over {ROUNDS} killed children",
        reported.len()
    );
    assert!(
        !reported.is_empty(),
        "no child reported a committed edit: the test checked nothing"
    );

    let mut store = Store::open(&dir, PASSPHRASE, catalog()).expect("the store reopens");
    assert_eq!(store.integrity_check().expect("integrity_check runs"), "ok");
    let notes = store
        .case(&case_id)
        .expect("the case is readable")
        .notes
        .as_str()
        .to_string();
    let stored = edits_in(&notes);
    eprintln!("{} edits stored", stored.len());
    // Each child continued from what was stored: the notes hold 1, 2, 3, ...
    // without a gap or a repetition, at least up to the last reported edit.
    let expected: Vec<u64> = (1..=stored.len() as u64).collect();
    assert_eq!(stored, expected, "the notes are not a clean sequence");
    for n in &reported {
        assert!(
            stored.contains(n),
            "edit {n} was reported committed but is missing (stored up to {:?})",
            stored.last()
        );
    }
    // The index agrees with the document.
    let page = store
        .list_cases(&sprechtag::store::CaseFilter {
            search: "Zwölfmeier".into(),
            ..Default::default()
        })
        .expect("the case list works");
    assert_eq!(page.rows.len(), 1);
}
