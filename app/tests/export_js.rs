//! An exported case is a plain automerge document: the JavaScript
//! implementation loads it and sees the same data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const PASSPHRASE: &str = "Automerge-Brücke-2026";

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/automerge-js")
}

/// Whether the JS side is installed; without it, skip locally and fail in CI.
fn js_available() -> bool {
    if js_dir().join("node_modules/@automerge/automerge").is_dir() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI: {} has no node_modules; run `cd tests/automerge-js && npm ci` before the tests",
        js_dir().display()
    );
    eprintln!(
        "SKIPPED: the JavaScript automerge check needs its packages: \
         `cd tests/automerge-js && npm ci`"
    );
    false
}

fn sprechtag(data_dir: &Path, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_sprechtag"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("SPRECHTAG_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("the sprechtag binary can be started");
    assert_success(&format!("sprechtag {args:?}"), &output);
    serde_json::from_slice(&output.stdout).expect("sprechtag prints JSON")
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn field<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {value}"))
}

#[test]
fn an_exported_case_loads_in_the_javascript_automerge_implementation() {
    if !js_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("a temp dir can be created");
    let data = tmp.path().join("data");
    let office_hour = sprechtag(
        &data,
        &[
            "office-hour",
            "open",
            "--place",
            "Kleinbrück, Dorfgemeinschaftshaus",
            "--date",
            "2026-11-22",
            "--caseworker",
            "Anna Schäfer",
        ],
    );
    let draft = json!({
        "office_hour_id": office_hour["id"],
        "citizen": { "surname": "Zwölfmeier-Größ", "given_names": "Wilhelmine Jörg", "phone": "0171 4455667" },
        "notes": "Hörgerät; Rückruf erwünscht",
        "requests": [ { "service_id": "personalausweis" }, { "service_id": "wohngeld" } ]
    });
    let draft_file = tmp.path().join("case.json");
    std::fs::write(&draft_file, draft.to_string()).expect("the draft can be written");
    let created = sprechtag(
        &data,
        &[
            "case",
            "new",
            "--json",
            draft_file.to_str().expect("UTF-8 path"),
        ],
    );
    let id = created["id"].as_str().expect("an id");
    sprechtag(
        &data,
        &["case", "set", id, "status", "waiting_for_documents"],
    );
    let shown = sprechtag(&data, &["case", "show", id]);

    let export = tmp.path().join("case.automerge");
    sprechtag(
        &data,
        &["case", "export", id, export.to_str().expect("UTF-8 path")],
    );

    let output = Command::new("node")
        .arg(js_dir().join("load.mjs"))
        .arg(&export)
        .current_dir(js_dir())
        .output()
        .expect("node can be started (is Node.js installed?)");
    assert_success("node load.mjs", &output);
    let loaded: Value = serde_json::from_slice(&output.stdout).expect("load.mjs prints JSON");

    assert_eq!(
        field(&loaded, "/citizen/surname"),
        &json!("Zwölfmeier-Größ")
    );
    assert_eq!(
        field(&loaded, "/citizen/given_names"),
        &json!("Wilhelmine Jörg")
    );
    assert_eq!(field(&loaded, "/number"), &created["number"]);
    // A number, not a BigInt (which JSON.stringify refuses).
    assert_eq!(
        field(&loaded, "/schema_version"),
        &json!(sprechtag_schemas::SCHEMA_VERSION)
    );
    assert_eq!(field(&loaded, "/id"), &json!(id));
    assert_eq!(
        field(&loaded, "/requests/0/service_id"),
        &json!("personalausweis")
    );
    assert_eq!(field(&loaded, "/requests/1/service_id"), &json!("wohngeld"));
    assert_eq!(field(&loaded, "/status"), &json!("waiting_for_documents"));
    assert_eq!(
        field(&loaded, "/notes"),
        &json!("Hörgerät; Rückruf erwünscht")
    );
    assert_eq!(
        field(&loaded, "/requests/0/documents/0/state"),
        &json!("unchecked")
    );
    // What JavaScript sees is what `case show` prints.
    assert_eq!(loaded, shown, "JS view and `case show` differ");
}
