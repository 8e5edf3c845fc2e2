//! The audit trail answers "who saw and changed what": enrolments and
//! failed ones, each sync with what it took and sent, administrators'
//! commands; and it shows when a row was changed or removed.

use serde_json::Value;
use sprechtag_e2e::{Laptop, TestServer};

fn server_cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    sprechtag_e2e::server_command(dir)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("run sprechtag-server")
}

fn json_lines(output: &std::process::Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn enrolment_code(dir: &std::path::Path, name: &str, role: &str) -> String {
    let output = server_cli(
        dir,
        &[
            "device",
            "enrol",
            "--name",
            name,
            "--user",
            &format!("{name}-user"),
            "--role",
            role,
            "--department",
            "buergerbuero",
        ],
    );
    json_lines(&output)[0]["code"]
        .as_str()
        .expect("a code")
        .to_string()
}

#[test]
fn the_audit_names_who_enrolled_synced_and_received_a_case_and_detects_tampering() {
    let server = TestServer::start();
    let dir = server.dir.path();
    let mut field = Laptop::enrolled(&server.url, &enrolment_code(dir, "field", "caseworker"));
    let mut office = Laptop::enrolled(&server.url, &enrolment_code(dir, "office", "backoffice"));
    // Someone tries a code that does not exist.
    let mut stranger = Laptop::new();
    assert!(sprechtag::sync::enrol(&mut stranger.store, &server.url, "AAAA-BBBB").is_err());

    let case = field.new_case("Krüger", &["wohngeld"]);
    field.sync();
    office.sync();

    let all = json_lines(&server_cli(dir, &["audit"]));
    let events: Vec<&str> = all
        .iter()
        .map(|e| e["event"].as_str().unwrap_or(""))
        .collect();
    for event in ["code_issued", "enrolled", "enrolment_failed", "sync"] {
        assert!(events.contains(&event), "{event} in {events:?}");
    }
    let failed = all
        .iter()
        .find(|e| e["event"] == "enrolment_failed")
        .expect("the failed enrolment");
    assert_eq!(failed["detail"]["address"], "127.0.0.1");
    // Who had the case: the field laptop sent it, the back office received it.
    let about_case = json_lines(&server_cli(dir, &["audit", "--case", &case.id]));
    let field_id = field.store.enrolment().expect("e").expect("e").device_id;
    let office_id = office.store.enrolment().expect("e").expect("e").device_id;
    let took = about_case
        .iter()
        .find(|e| e["device_id"] == field_id.as_str())
        .expect("the upload");
    assert_eq!(took["user"], "field-user");
    assert_eq!(took["detail"]["accepted"][0], case.id.as_str());
    let got = about_case
        .iter()
        .find(|e| e["device_id"] == office_id.as_str())
        .expect("the download");
    assert!(
        got["detail"]["sent"]
            .as_array()
            .is_some_and(|sent| sent.iter().any(|id| id == case.id.as_str())),
        "{got}"
    );
    // Nothing of what the case holds is in the audit.
    let text = String::from_utf8_lossy(&server_cli(dir, &["audit"]).stdout).to_string();
    assert!(!text.contains("Krüger"), "no citizen's name in the audit");

    let verified = json_lines(&server_cli(dir, &["audit", "verify"]));
    assert!(
        verified[0]["entries"].as_u64().is_some_and(|n| n >= 6),
        "{verified:?}"
    );

    // One row changed in the database file, then put back.
    let conn = sprechtag_e2e::raw_server_connection(dir);
    let original: Option<String> = conn
        .query_row("SELECT user FROM audit WHERE seq = 3", [], |r| r.get(0))
        .expect("row 3");
    conn.execute("UPDATE audit SET user = 'jemand-anders' WHERE seq = 3", [])
        .expect("tamper");
    let broken = server_cli(dir, &["audit", "verify"]);
    assert!(!broken.status.success());
    let message = String::from_utf8_lossy(&broken.stderr);
    assert!(message.contains("entry 3 was changed"), "{message}");
    conn.execute("UPDATE audit SET user = ?1 WHERE seq = 3", [&original])
        .expect("undo");
    assert!(server_cli(dir, &["audit", "verify"]).status.success());
    // One row removed.
    conn.execute("DELETE FROM audit WHERE seq = 4", [])
        .expect("remove");
    let broken = server_cli(dir, &["audit", "verify"]);
    assert!(!broken.status.success());
    let message = String::from_utf8_lossy(&broken.stderr);
    assert!(message.contains("removed"), "{message}");
}

/// Opening a case in the app is recorded on the laptop and reaches the
/// server's audit with the next sync: who looked at this citizen's case.
#[test]
fn a_case_opened_on_a_laptop_is_in_the_audit_after_the_next_sync() {
    let server = TestServer::start();
    let dir = server.dir.path();
    let mut field = Laptop::enrolled(&server.url, &enrolment_code(dir, "field", "caseworker"));
    let mut office = Laptop::enrolled(&server.url, &enrolment_code(dir, "office", "backoffice"));
    let case = field.new_case("Krüger", &["wohngeld"]);
    field.sync();
    office.sync();
    // The back office opens the case in the app (its store worker's path).
    office.store.case_with_heads(&case.id).expect("open");
    office.store.record_opened(&case.id).expect("record");
    office.sync();
    let office_id = office.store.enrolment().expect("e").expect("e").device_id;
    let about_case = json_lines(&server_cli(dir, &["audit", "--case", &case.id]));
    let opened: Vec<&Value> = about_case
        .iter()
        .filter(|e| e["event"] == "case_opened")
        .collect();
    assert_eq!(opened.len(), 1, "{about_case:?}");
    assert_eq!(opened[0]["device_id"], office_id.as_str());
    assert_eq!(opened[0]["user"], "office-user");
    // Handed over once: the next sync does not report it again.
    office.sync();
    let again = json_lines(&server_cli(dir, &["audit", "--case", &case.id]));
    assert_eq!(
        again.iter().filter(|e| e["event"] == "case_opened").count(),
        1
    );
}
