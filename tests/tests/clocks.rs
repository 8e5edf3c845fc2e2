//! Laptop clocks that are wrong: a year behind, a year ahead. Each laptop
//! is a real CLI process under `faketime`, syncing with a real server whose
//! clock is right; the server's clock is the reference.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use sprechtag_e2e::{PASSPHRASE, TestServer, workspace_binary};
use sprechtag_schemas::IsoDate;
use sprechtag_server::storage::Role;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// `sprechtag` in `dir` with its clock moved by `shift` (faketime syntax,
/// e.g. "-365d"); the JSON lines it printed.
fn run(dir: &Path, shift: &str, args: &[&str]) -> Vec<Value> {
    let output = Command::new("faketime")
        .args(["-f", shift])
        .arg(workspace_binary("sprechtag"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("SPRECHTAG_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("faketime (apt install faketime) runs sprechtag");
    assert!(
        output.status.success(),
        "sprechtag {args:?} under faketime {shift}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// A back-office laptop with its clock moved by `shift`, enrolled and
/// with one case (wohngeld) recorded before its first sync; the case's id
/// and its request's id.
fn laptop(server: &TestServer, dir: &Path, shift: &str) -> (String, String) {
    let code = server.enrolment_code("skewed", Role::Backoffice, "buergerbuero");
    run(
        dir,
        shift,
        &["enrol", "--server", &server.url, "--code", &code],
    );
    let draft = dir.with_extension("json");
    std::fs::write(
        &draft,
        json!({
            "citizen": { "surname": "Zeitlos", "given_names": "Erika" },
            "requests": [ { "service_id": "wohngeld" } ]
        })
        .to_string(),
    )
    .expect("draft");
    let created = run(
        dir,
        shift,
        &["case", "new", "--json", draft.to_str().expect("UTF-8")],
    );
    let id = created[0]["id"].as_str().expect("id").to_string();
    let shown = run(dir, shift, &["case", "show", &id]);
    let request = shown[0]["requests"][0]["id"]
        .as_str()
        .expect("request id")
        .to_string();
    (id, request)
}

#[test]
fn a_laptop_a_year_behind_learns_the_servers_time_and_forwards_with_a_due_date_from_today() {
    let server = TestServer::start();
    let root = tempfile::tempdir().expect("dir");
    let dir = root.path().join("behind");
    let (id, request) = laptop(&server, &dir, "-365d");
    let report = run(&dir, "-365d", &["sync"]);
    let offset = report[0]["clock_offset_ms"]
        .as_i64()
        .expect("clock_offset_ms");
    assert!(
        (offset - 365 * DAY_MS).abs() < DAY_MS,
        "a year behind: {offset} ms"
    );
    let forwarded = run(
        &dir,
        "-365d",
        &[
            "case",
            "forward",
            &id,
            &request,
            "--office",
            "Wohngeldstelle",
        ],
    );
    let due: IsoDate = forwarded[0]["due"]
        .as_str()
        .or_else(|| forwarded[0]["forwarding"]["due"].as_str())
        .expect("a due date")
        .parse()
        .expect("a date");
    let today = IsoDate::today();
    assert!(due > today, "due {due}, not a year ago (today is {today})");
    assert!(due <= today.add_working_days(60), "due {due}");
    // Nothing is overdue everywhere at once.
    let overdue = run(&dir, "-365d", &["case", "list", "--overdue"]);
    assert!(overdue.is_empty(), "{overdue:?}");
}

#[test]
fn a_laptop_a_year_ahead_never_makes_durations_negative_in_the_statistics() {
    let server = TestServer::start();
    let root = tempfile::tempdir().expect("dir");
    let dir = root.path().join("ahead");
    // Recorded a year "in the future", before the laptop learnt better.
    let (id, _) = laptop(&server, &dir, "+365d");
    let report = run(&dir, "+365d", &["sync"]);
    let offset = report[0]["clock_offset_ms"]
        .as_i64()
        .expect("clock_offset_ms");
    assert!(
        (offset + 365 * DAY_MS).abs() < DAY_MS,
        "a year ahead: {offset} ms"
    );
    run(&dir, "+365d", &["case", "set", &id, "status", "done"]);
    let statistics = run(&dir, "+365d", &["statistics"]);
    let median = statistics[0]["days_to_done_median"]
        .as_f64()
        .expect("a median of one done case");
    assert!(median >= 0.0, "days_to_done_median {median}");
}

#[test]
fn an_enrolment_code_issued_by_a_server_clock_a_year_ahead_is_not_valid_for_a_year() {
    use sprechtag_server::storage::{NewDevice, Storage};
    let server = TestServer::start();
    let code = sprechtag_server::enrolment_code();
    let key = sprechtag_server::server_key(server.dir.path()).expect("server key");
    // Issued while the server's clock was a year ahead; it is right again.
    let a_year_ahead = chrono::Utc::now() + chrono::Duration::seconds(365 * 24 * 3600 + 15 * 60);
    server
        .storage()
        .create_device(
            &NewDevice {
                name: "jumped".into(),
                user: "j".into(),
                role: Role::Caseworker,
                department: "buergerbuero".into(),
            },
            &sprechtag_server::api::code_hash(&key, &code),
            a_year_ahead,
        )
        .expect("register");
    let root = tempfile::tempdir().expect("dir");
    let output = Command::new(workspace_binary("sprechtag"))
        .arg("--data-dir")
        .arg(root.path().join("laptop"))
        .args(["enrol", "--server", &server.url, "--code", &code])
        .env("SPRECHTAG_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("run sprechtag");
    assert!(
        !output.status.success(),
        "a code valid for a year must not be taken"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("expired"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn comments_keep_their_causal_order_when_clocks_disagree() {
    let server = TestServer::start();
    let root = tempfile::tempdir().expect("dir");
    let dir = root.path().join("field");
    // Fifty seconds behind: too little to be corrected, enough to disagree.
    let (id, _) = laptop(&server, &dir, "-50s");
    run(&dir, "-50s", &["sync"]);
    let mut office = server.laptop("office", Role::Backoffice, "buergerbuero");
    office.sync();
    office
        .store
        .comment_case(&id, "Erst die Rückfrage beim Amt.")
        .expect("the office's comment");
    office.sync();
    run(&dir, "-50s", &["sync"]);
    run(
        &dir,
        "-50s",
        &["case", "comment", &id, "Dann die Antwort vom Außendienst."],
    );
    let shown = run(&dir, "-50s", &["case", "show", &id]);
    let comments = shown[0]["comments"].as_array().expect("comments");
    let texts: Vec<&str> = comments.iter().filter_map(|c| c["text"].as_str()).collect();
    assert_eq!(
        texts,
        [
            "Erst die Rückfrage beim Amt.",
            "Dann die Antwort vom Außendienst."
        ],
        "in the order they were written, one after seeing the other"
    );
    let at = |i: usize| comments[i]["at"].as_str().expect("at").to_string();
    assert!(
        at(1) < at(0),
        "the clocks disagree: {} before {}",
        at(1),
        at(0)
    );
    run(&dir, "-50s", &["sync"]);
    office.sync();
    let on_office = office.store.case(&id).expect("case");
    let texts: Vec<&str> = on_office.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Erst die Rückfrage beim Amt.",
            "Dann die Antwort vom Außendienst."
        ]
    );
}
