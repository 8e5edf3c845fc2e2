//! The command line as scripts see it: a real `sprechtag` process per call,
//! a fresh data dir per test, the passphrase from the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use tempfile::TempDir;

const PASSPHRASE: &str = "Kirchturm-Laterne-42";

/// A temporary folder whose `data` subfolder is the (not yet created) data dir.
struct Sandbox {
    tmp: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            tmp: tempfile::tempdir().expect("a temp dir can be created"),
        }
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn other_data(&self) -> PathBuf {
        self.tmp.path().join("data-b")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn write_json(&self, name: &str, value: &Value) -> PathBuf {
        let path = self.file(name);
        std::fs::write(&path, value.to_string()).expect("the JSON file can be written");
        path
    }
}

fn sprechtag(data_dir: &Path, passphrase: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sprechtag"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("SPRECHTAG_PASSPHRASE", passphrase)
        .output()
        .expect("the sprechtag binary can be started")
}

fn describe(args: &[&str], output: &Output) -> String {
    format!(
        "sprechtag {args:?}\n  status: {}\n  stdout: {}\n  stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs a command that must succeed; returns its stdout.
fn ok(data_dir: &Path, args: &[&str]) -> String {
    let output = sprechtag(data_dir, PASSPHRASE, args);
    assert!(
        output.status.success(),
        "expected success: {}",
        describe(args, &output)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// Runs a command that must print exactly one JSON object.
fn ok_json(data_dir: &Path, args: &[&str]) -> Value {
    let stdout = ok(data_dir, args);
    let value: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("sprechtag {args:?} printed no JSON ({e}): {stdout}"));
    assert!(value.is_object(), "sprechtag {args:?} printed {value}");
    value
}

/// Runs a command that must print one JSON object per line.
fn ok_lines(data_dir: &Path, args: &[&str]) -> Vec<Value> {
    ok(data_dir, args)
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("sprechtag {args:?}: line {line:?} is no JSON: {e}"));
            assert!(value.is_object(), "sprechtag {args:?}: line {line:?}");
            value
        })
        .collect()
}

/// Runs a command that must fail; returns its stderr.
fn fails_with(data_dir: &Path, passphrase: &str, args: &[&str]) -> String {
    let output = sprechtag(data_dir, passphrase, args);
    assert!(
        !output.status.success(),
        "expected failure: {}",
        describe(args, &output)
    );
    assert!(
        output.stdout.is_empty(),
        "a failing command prints no result: {}",
        describe(args, &output)
    );
    let stderr = String::from_utf8(output.stderr).expect("stderr is UTF-8");
    assert!(
        !stderr.trim().is_empty(),
        "a failing command explains itself on stderr: sprechtag {args:?}"
    );
    stderr
}

fn fails(data_dir: &Path, args: &[&str]) -> String {
    fails_with(data_dir, PASSPHRASE, args)
}

/// Every file below `dir` (relative name) with its contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("the data dir can be listed") {
            let path = entry.expect("a dir entry can be read").path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let bytes = std::fs::read(&path).expect("a data file can be read");
                let name = path
                    .strip_prefix(root)
                    .expect("entries lie below the root")
                    .to_path_buf();
                files.insert(name, bytes);
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    assert!(!files.is_empty(), "{} holds no files", dir.display());
    files
}

fn assert_unchanged(before: &BTreeMap<PathBuf, Vec<u8>>, dir: &Path, what: &str) {
    let after = snapshot(dir);
    let names_before: Vec<_> = before.keys().collect();
    let names_after: Vec<_> = after.keys().collect();
    assert_eq!(
        names_before, names_after,
        "{what}: the data dir's files changed"
    );
    for (name, bytes) in before {
        assert!(after[name] == *bytes, "{what}: {} changed", name.display());
    }
}

fn assert_mentions(stderr: &str, needle: &str) {
    assert!(
        stderr.contains(needle),
        "stderr should mention {needle:?}, got: {stderr}"
    );
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

fn is_case_number(number: &str) -> bool {
    let bytes = number.as_bytes();
    bytes.len() == 8
        && bytes[..3].iter().all(u8::is_ascii_uppercase)
        && bytes[3] == b'-'
        && bytes[4..].iter().all(u8::is_ascii_digit)
}

fn open_office_hour(data: &Path, place: &str, date: &str) -> String {
    let printed = ok_json(
        data,
        &[
            "office-hour",
            "open",
            "--place",
            place,
            "--date",
            date,
            "--caseworker",
            "Anna Schäfer",
        ],
    );
    str_at(&printed, "/id").to_string()
}

fn zwoelfmeier_draft(office_hour_id: &str) -> Value {
    json!({
        "office_hour_id": office_hour_id,
        "citizen": {
            "surname": "Zwölfmeier",
            "given_names": "Wilhelmine",
            "birth_date": "1941-03-07",
            "phone": "0171 4455667"
        },
        "notes": "Braucht Hörgerät-Schleife; Tochter ruft zurück.",
        "requests": [
            { "service_id": "personalausweis" },
            { "service_id": "wohngeld" }
        ]
    })
}

fn baecker_draft(office_hour_id: &str) -> Value {
    json!({
        "office_hour_id": office_hour_id,
        "citizen": {
            "surname": "Bäcker",
            "given_names": "Otto",
            "phone": "06541 1234"
        },
        "notes": "Termin im Frühjahr",
        "requests": [ { "service_id": "reisepass" } ]
    })
}

/// A created case: its id and number.
struct Created {
    id: String,
    number: String,
}

fn new_case(sandbox: &Sandbox, data: &Path, name: &str, draft: &Value) -> Created {
    let file = sandbox.write_json(name, draft);
    let printed = ok_json(data, &["case", "new", "--json", path_str(&file)]);
    Created {
        id: str_at(&printed, "/id").to_string(),
        number: str_at(&printed, "/number").to_string(),
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// A data dir with one office hour in Kleinbrück and Frau Zwölfmeier's case.
fn store_with_case(sandbox: &Sandbox) -> (String, Created) {
    let data = sandbox.data();
    let office_hour = open_office_hour(&data, "Kleinbrück, Dorfgemeinschaftshaus", "2026-11-22");
    let case = new_case(
        sandbox,
        &data,
        "zwoelfmeier.json",
        &zwoelfmeier_draft(&office_hour),
    );
    (office_hour, case)
}

fn show(data: &Path, id: &str) -> Value {
    ok_json(data, &["case", "show", id])
}

fn first_request_and_document(case: &Value) -> (String, String) {
    (
        str_at(case, "/requests/0/id").to_string(),
        str_at(case, "/requests/0/documents/0/id").to_string(),
    )
}

#[test]
fn opening_an_office_hour_prints_its_id() {
    let sandbox = Sandbox::new();
    let printed = ok_json(
        &sandbox.data(),
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
    let id = str_at(&printed, "/id");
    assert!(
        !id.trim().is_empty(),
        "the office hour has an id: {printed}"
    );
    let listed = ok_lines(&sandbox.data(), &["office-hour", "list"]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(str_at(&listed[0], "/id"), id);
    assert_eq!(str_at(&listed[0], "/village"), "Kleinbrück");
    assert_eq!(str_at(&listed[0], "/venue"), "Dorfgemeinschaftshaus");
}

#[test]
fn new_cases_get_an_id_and_distinct_case_numbers() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (office_hour, first) = store_with_case(&sandbox);
    let second = new_case(
        &sandbox,
        &data,
        "baecker.json",
        &baecker_draft(&office_hour),
    );
    for created in [&first, &second] {
        assert!(!created.id.is_empty(), "a case id is printed");
        assert!(
            is_case_number(&created.number),
            "{:?} is not shaped like ABC-0001",
            created.number
        );
    }
    assert_ne!(first.id, second.id);
    assert_ne!(first.number, second.number);
}

#[test]
fn case_show_prints_the_recorded_case_with_unchecked_checklists() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (office_hour, created) = store_with_case(&sandbox);
    let case = show(&data, &created.id);
    assert_eq!(str_at(&case, "/id"), created.id);
    assert_eq!(str_at(&case, "/number"), created.number);
    assert_eq!(str_at(&case, "/status"), "open");
    assert_eq!(str_at(&case, "/office_hour_id"), office_hour);
    assert_eq!(str_at(&case, "/citizen/surname"), "Zwölfmeier");
    assert_eq!(str_at(&case, "/citizen/given_names"), "Wilhelmine");
    assert_eq!(str_at(&case, "/citizen/birth_date"), "1941-03-07");
    assert_eq!(str_at(&case, "/citizen/phone"), "0171 4455667");
    assert_eq!(
        str_at(&case, "/notes"),
        "Braucht Hörgerät-Schleife; Tochter ruft zurück."
    );
    let requests = case["requests"].as_array().expect("requests is a list");
    let services: Vec<&str> = requests.iter().map(|r| str_at(r, "/service_id")).collect();
    assert_eq!(services, ["personalausweis", "wohngeld"]);
    for request in requests {
        assert!(
            !str_at(request, "/id").is_empty(),
            "request id in {request}"
        );
        let documents = request["documents"]
            .as_array()
            .expect("documents is a list");
        assert!(
            !documents.is_empty(),
            "the checklist is filled in: {request}"
        );
        for document in documents {
            assert!(!str_at(document, "/id").is_empty());
            assert_eq!(str_at(document, "/state"), "unchecked", "{document}");
        }
    }
    // The case number works wherever the id does.
    assert_eq!(show(&data, &created.number), case);
}

#[test]
fn case_set_changes_notes_phone_and_status() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let id = created.id.as_str();
    let printed = ok_json(
        &data,
        &["case", "set", id, "notes", "Rückruf am Montag, ÄÖÜß"],
    );
    assert_eq!(str_at(&printed, "/id"), id);
    ok_json(&data, &["case", "set", id, "citizen.phone", "06541 998877"]);
    ok_json(
        &data,
        &["case", "set", id, "status", "waiting_for_documents"],
    );
    let case = show(&data, id);
    assert_eq!(str_at(&case, "/notes"), "Rückruf am Montag, ÄÖÜß");
    assert_eq!(str_at(&case, "/citizen/phone"), "06541 998877");
    assert_eq!(str_at(&case, "/status"), "waiting_for_documents");
    // Dates in the German form, flags in words, list elements by id.
    ok_json(
        &data,
        &["case", "set", id, "citizen.birth_date", "08.03.1941"],
    );
    ok_json(
        &data,
        &["case", "set", id, "citizen.needs.hard_of_hearing", "ja"],
    );
    ok_json(
        &data,
        &[
            "case",
            "set",
            id,
            "requests.1.documents.antragsformular.note",
            "liegt bei",
        ],
    );
    let case = show(&data, id);
    assert_eq!(str_at(&case, "/citizen/birth_date"), "1941-03-08");
    assert_eq!(
        case.pointer("/citizen/needs/hard_of_hearing"),
        Some(&json!(true))
    );
    let note = case["requests"][1]["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .find(|d| d["id"] == "antragsformular")
        .expect("Wohngeld needs an Antragsformular");
    assert_eq!(str_at(note, "/note"), "liegt bei");
    assert_eq!(str_at(&case, "/citizen/surname"), "Zwölfmeier");
    assert_eq!(str_at(&case, "/number"), created.number);
}

#[test]
fn case_check_sets_each_document_state() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let (request, document) = first_request_and_document(&show(&data, &created.id));
    for (given, stored) in [
        ("presented", "presented"),
        ("missing", "missing"),
        ("not-applicable", "not_applicable"),
        ("unchecked", "unchecked"),
    ] {
        ok_json(
            &data,
            &["case", "check", &created.id, &request, &document, given],
        );
        let case = show(&data, &created.id);
        assert_eq!(
            str_at(&case, "/requests/0/documents/0/state"),
            stored,
            "after `case check ... {given}`"
        );
        // Only that document changes.
        assert_eq!(str_at(&case, "/requests/0/documents/1/state"), "unchecked");
    }
}

#[test]
fn case_list_search_finds_by_name_village_service_number_and_notes() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, zwoelfmeier) = store_with_case(&sandbox);
    let elsewhere = open_office_hour(&data, "Großweiler, Feuerwehrhaus", "2026-11-23");
    let baecker = new_case(&sandbox, &data, "baecker.json", &baecker_draft(&elsewhere));

    let everything = ok_lines(&data, &["case", "list"]);
    assert_eq!(everything.len(), 2, "{everything:?}");

    for search in [
        "zwölf",
        "Zwölfmeier",
        "zwolf",
        "kleinbruck",
        "Zw",
        "kleinbr",
        "ausw",
        zwoelfmeier.number.as_str(),
        &zwoelfmeier.number.to_lowercase(),
        "Hörgerät",
        "Tochter",
    ] {
        let found = ok_lines(&data, &["case", "list", "--search", search]);
        let ids: Vec<&str> = found.iter().map(|row| str_at(row, "/id")).collect();
        assert_eq!(ids, [zwoelfmeier.id.as_str()], "--search {search:?}");
        assert_eq!(str_at(&found[0], "/number"), zwoelfmeier.number);
        assert_eq!(str_at(&found[0], "/surname"), "Zwölfmeier");
    }
    for search in [
        "bäck",
        "großw",
        "reisep",
        baecker.number.as_str(),
        "Frühjahr",
    ] {
        let found = ok_lines(&data, &["case", "list", "--search", search]);
        let ids: Vec<&str> = found.iter().map(|row| str_at(row, "/id")).collect();
        assert_eq!(ids, [baecker.id.as_str()], "--search {search:?}");
    }
    let none = ok_lines(&data, &["case", "list", "--search", "Xylophon"]);
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn export_and_import_into_a_fresh_data_dir_reproduces_the_case() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    ok_json(
        &data,
        &[
            "case",
            "set",
            &created.id,
            "status",
            "waiting_for_documents",
        ],
    );
    let file = sandbox.file("case.automerge");
    ok_json(&data, &["case", "export", &created.id, path_str(&file)]);
    assert!(
        std::fs::metadata(&file).expect("the export exists").len() > 0,
        "the export is not empty"
    );
    // Only its owner may read it: it holds the whole case.
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file).expect("the export").permissions()
        ) & 0o777,
        0o600
    );

    let other = sandbox.other_data();
    let imported = ok_json(&other, &["case", "import", path_str(&file)]);
    assert_eq!(str_at(&imported, "/id"), created.id);
    assert_eq!(str_at(&imported, "/number"), created.number);
    assert_eq!(
        ok(&other, &["case", "show", &created.id]),
        ok(&data, &["case", "show", &created.id]),
    );
    let listed = ok_lines(&other, &["case", "list", "--search", "zwölf"]);
    assert_eq!(listed.len(), 1, "the imported case is indexed: {listed:?}");
}

#[test]
fn importing_an_edited_copy_merges_with_concurrent_local_edits() {
    let sandbox = Sandbox::new();
    let a = sandbox.data();
    let b = sandbox.other_data();
    let (_, created) = store_with_case(&sandbox);
    let id = created.id.as_str();
    let to_b = sandbox.file("a-to-b.automerge");
    ok_json(&a, &["case", "export", id, path_str(&to_b)]);
    ok_json(&b, &["case", "import", path_str(&to_b)]);

    // Concurrently: B edits the notes, A edits the phone and the status.
    ok_json(
        &b,
        &[
            "case",
            "set",
            id,
            "notes",
            "Geändert auf Gerät B: Hörgerät geprüft",
        ],
    );
    ok_json(&a, &["case", "set", id, "citizen.phone", "06541 555000"]);
    ok_json(&a, &["case", "set", id, "status", "waiting_for_documents"]);

    let to_a = sandbox.file("b-to-a.automerge");
    ok_json(&b, &["case", "export", id, path_str(&to_a)]);
    ok_json(&a, &["case", "import", path_str(&to_a)]);

    let merged = show(&a, id);
    assert_eq!(
        str_at(&merged, "/notes"),
        "Geändert auf Gerät B: Hörgerät geprüft"
    );
    assert_eq!(str_at(&merged, "/citizen/phone"), "06541 555000");
    assert_eq!(str_at(&merged, "/status"), "waiting_for_documents");
    assert_eq!(str_at(&merged, "/citizen/surname"), "Zwölfmeier");
    // The index follows the merge.
    let found = ok_lines(&a, &["case", "list", "--search", "geprüft"]);
    assert_eq!(found.len(), 1, "{found:?}");

    // Importing the same file again changes nothing.
    ok_json(&a, &["case", "import", path_str(&to_a)]);
    assert_eq!(show(&a, id), merged);
}

#[test]
fn concurrent_edits_of_the_notes_on_two_devices_are_both_kept() {
    let sandbox = Sandbox::new();
    let a = sandbox.data();
    let b = sandbox.other_data();
    let (_, created) = store_with_case(&sandbox);
    let id = created.id.as_str();
    let original = "Braucht Hörgerät-Schleife; Tochter ruft zurück.";
    let to_b = sandbox.file("a-to-b.automerge");
    ok_json(&a, &["case", "export", id, path_str(&to_b)]);
    ok_json(&b, &["case", "import", path_str(&to_b)]);

    ok_json(
        &a,
        &[
            "case",
            "set",
            id,
            "notes",
            &format!("{original}\nA: Übergabe an Sozialamt"),
        ],
    );
    ok_json(
        &b,
        &[
            "case",
            "set",
            id,
            "notes",
            &format!("B: Führerschein fehlt\n{original}"),
        ],
    );

    let to_a = sandbox.file("b-to-a.automerge");
    ok_json(&b, &["case", "export", id, path_str(&to_a)]);
    ok_json(&a, &["case", "import", path_str(&to_a)]);
    assert_eq!(
        str_at(&show(&a, id), "/notes"),
        format!("B: Führerschein fehlt\n{original}\nA: Übergabe an Sozialamt")
    );
}

#[test]
fn catalog_search_ranks_personalausweis_first_for_ausw() {
    let sandbox = Sandbox::new();
    let found = ok_lines(&sandbox.data(), &["catalog", "search", "ausw"]);
    assert!(!found.is_empty(), "`catalog search ausw` finds something");
    assert_eq!(str_at(&found[0], "/id"), "personalausweis");
    assert!(
        !sandbox.data().exists(),
        "catalog search creates no data dir"
    );
}

#[test]
fn catalog_list_prints_at_least_25_services_one_per_line() {
    let sandbox = Sandbox::new();
    let services = ok_lines(&sandbox.data(), &["catalog", "list"]);
    assert!(services.len() >= 25, "only {} services", services.len());
    for service in &services {
        assert!(!str_at(service, "/id").is_empty());
        assert!(!str_at(service, "/name").is_empty());
    }
    assert!(!sandbox.data().exists(), "catalog list creates no data dir");
}

// ---- failures: a clear message, a non-zero exit, and nothing written ----

#[test]
fn the_snapshot_comparison_sees_a_successful_edit() {
    // The control for the "writes nothing" checks below.
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let before = snapshot(&data);
    ok_json(&data, &["case", "set", &created.id, "notes", "geändert"]);
    let after = snapshot(&data);
    assert_ne!(before, after, "an edit must show in the snapshot");
}

#[test]
fn unknown_case_id_is_reported_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let (request, document) = first_request_and_document(&show(&data, &created.id));
    let before = snapshot(&data);
    let unknown = "4f1c0d1e-0000-4000-8000-000000000000";
    for args in [
        vec!["case", "show", unknown],
        vec!["case", "show", "XXX-9999"],
        vec!["case", "set", unknown, "notes", "egal"],
        vec!["case", "check", unknown, &request, &document, "presented"],
        vec!["case", "export", unknown, "/nonexistent/never-written"],
    ] {
        let stderr = fails(&data, &args);
        assert_mentions(&stderr, args[2]);
        assert_unchanged(&before, &data, &format!("sprechtag {args:?}"));
    }
}

#[test]
fn unknown_request_or_document_in_case_check_is_reported_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let (request, document) = first_request_and_document(&show(&data, &created.id));
    let before = snapshot(&data);
    let stderr = fails(
        &data,
        &[
            "case",
            "check",
            &created.id,
            "no-such-request",
            &document,
            "presented",
        ],
    );
    assert_mentions(&stderr, "no-such-request");
    assert_unchanged(&before, &data, "unknown request");
    let stderr = fails(
        &data,
        &[
            "case",
            "check",
            &created.id,
            &request,
            "no-such-document",
            "presented",
        ],
    );
    assert_mentions(&stderr, "no-such-document");
    assert_unchanged(&before, &data, "unknown document");
}

#[test]
fn invalid_json_for_case_new_is_reported_and_creates_nothing() {
    let sandbox = Sandbox::new();
    let broken = sandbox.file("broken.json");
    std::fs::write(&broken, "{ \"citizen\": { \"surname\": \"Zwölfmeier\" ").expect("write");
    // In a fresh folder: no data dir appears.
    let fresh = sandbox.data();
    let stderr = fails(&fresh, &["case", "new", "--json", path_str(&broken)]);
    assert_mentions(&stderr, "broken.json");
    assert!(
        !fresh.exists(),
        "a failed `case new` created {}",
        fresh.display()
    );

    // In an existing store: nothing changes.
    let existing = sandbox.other_data();
    open_office_hour(&existing, "Kleinbrück, Dorfgemeinschaftshaus", "2026-11-22");
    let before = snapshot(&existing);
    let stderr = fails(&existing, &["case", "new", "--json", path_str(&broken)]);
    assert_mentions(&stderr, "broken.json");
    let wrong_shape = sandbox.write_json("wrong-shape.json", &json!({ "citizen": 42 }));
    let stderr = fails(
        &existing,
        &["case", "new", "--json", path_str(&wrong_shape)],
    );
    assert_mentions(&stderr, "wrong-shape.json");
    let missing = sandbox.file("does-not-exist.json");
    let stderr = fails(&existing, &["case", "new", "--json", path_str(&missing)]);
    assert_mentions(&stderr, "does-not-exist.json");
    assert_unchanged(&before, &existing, "invalid case JSON");
}

#[test]
fn unknown_service_in_case_new_is_reported_and_creates_nothing() {
    let sandbox = Sandbox::new();
    let mut draft = zwoelfmeier_draft("unused");
    draft
        .as_object_mut()
        .expect("the draft is an object")
        .remove("office_hour_id");
    draft["requests"][1]["service_id"] = json!("einhornpass");
    let file = sandbox.write_json("unknown-service.json", &draft);

    let fresh = sandbox.data();
    let stderr = fails(&fresh, &["case", "new", "--json", path_str(&file)]);
    assert_mentions(&stderr, "einhornpass");
    assert!(
        !fresh.exists(),
        "a failed `case new` created {}",
        fresh.display()
    );

    let existing = sandbox.other_data();
    open_office_hour(&existing, "Kleinbrück, Dorfgemeinschaftshaus", "2026-11-22");
    let before = snapshot(&existing);
    let stderr = fails(&existing, &["case", "new", "--json", path_str(&file)]);
    assert_mentions(&stderr, "einhornpass");
    assert_unchanged(&before, &existing, "unknown service");
    assert!(ok_lines(&existing, &["case", "list"]).is_empty());
}

#[test]
fn unknown_status_is_reported_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let before = snapshot(&data);
    let stderr = fails(&data, &["case", "set", &created.id, "status", "bogus"]);
    assert_mentions(&stderr, "bogus");
    assert_unchanged(&before, &data, "status bogus");
    assert_eq!(str_at(&show(&data, &created.id), "/status"), "open");
}

#[test]
fn impossible_birth_date_in_case_set_is_reported_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let before = snapshot(&data);
    let stderr = fails(
        &data,
        &[
            "case",
            "set",
            &created.id,
            "citizen.birth_date",
            "30.02.1941",
        ],
    );
    assert_mentions(&stderr, "30.02.1941");
    assert_unchanged(&before, &data, "birth date 30.02.1941");
    assert_eq!(
        str_at(&show(&data, &created.id), "/citizen/birth_date"),
        "1941-03-07"
    );
}

#[test]
fn fixed_and_unknown_fields_cannot_be_set_and_nothing_is_written() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let before = snapshot(&data);
    for field in ["id", "number", "created_at"] {
        let stderr = fails(&data, &["case", "set", &created.id, field, "x"]);
        assert_mentions(&stderr, field);
        assert_mentions(&stderr, "cannot be changed");
        assert_unchanged(&before, &data, &format!("case set {field}"));
    }
    let stderr = fails(
        &data,
        &["case", "set", &created.id, "citizen.shoe_size", "44"],
    );
    assert_mentions(&stderr, "citizen.shoe_size");
    assert_unchanged(&before, &data, "case set citizen.shoe_size");
    let case = show(&data, &created.id);
    assert_eq!(str_at(&case, "/id"), created.id);
    assert_eq!(str_at(&case, "/number"), created.number);
}

#[test]
fn unknown_document_state_is_reported_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let (request, document) = first_request_and_document(&show(&data, &created.id));
    let before = snapshot(&data);
    let stderr = fails(
        &data,
        &[
            "case",
            "check",
            &created.id,
            &request,
            &document,
            "vorhanden",
        ],
    );
    assert_mentions(&stderr, "vorhanden");
    assert_mentions(&stderr, "presented");
    assert_unchanged(&before, &data, "unknown document state");
}

#[test]
fn wrong_passphrase_is_reported_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let before = snapshot(&data);
    for args in [
        vec!["case", "show", created.id.as_str()],
        vec!["case", "list"],
        vec!["case", "set", created.id.as_str(), "notes", "überschrieben"],
        vec![
            "office-hour",
            "open",
            "--place",
            "Kleinbrück",
            "--date",
            "2026-11-29",
            "--caseworker",
            "Anna Schäfer",
        ],
    ] {
        let stderr = fails_with(&data, "wrong-passphrase", &args);
        assert_mentions(&stderr.to_lowercase(), "passphrase");
        assert_unchanged(&before, &data, &format!("wrong passphrase, {args:?}"));
    }
    // The right passphrase still works.
    assert_eq!(
        str_at(&show(&data, &created.id), "/citizen/surname"),
        "Zwölfmeier"
    );
}

#[test]
fn impossible_office_hour_date_is_reported_and_creates_nothing() {
    let sandbox = Sandbox::new();
    let fresh = sandbox.data();
    let args = [
        "office-hour",
        "open",
        "--place",
        "Kleinbrück, Dorfgemeinschaftshaus",
        "--date",
        "2026-02-30",
        "--caseworker",
        "Anna Schäfer",
    ];
    let stderr = fails(&fresh, &args);
    assert_mentions(&stderr, "2026-02-30");
    assert!(
        !fresh.exists(),
        "a failed office-hour open created the data dir"
    );

    let existing = sandbox.other_data();
    open_office_hour(&existing, "Großweiler", "2026-11-23");
    let before = snapshot(&existing);
    let stderr = fails(&existing, &args);
    assert_mentions(&stderr, "2026-02-30");
    assert_unchanged(&before, &existing, "office-hour open 2026-02-30");
}

#[test]
fn read_commands_on_a_missing_data_dir_fail_without_creating_it() {
    let sandbox = Sandbox::new();
    let missing = sandbox.data();
    for args in [
        vec!["case", "list"],
        vec!["case", "list", "--search", "zwölf"],
        vec!["case", "show", "ABC-0001"],
        vec!["office-hour", "list"],
    ] {
        let stderr = fails(&missing, &args);
        assert_mentions(&stderr, path_str(&missing));
        assert!(
            !missing.exists(),
            "sprechtag {args:?} created {}",
            missing.display()
        );
    }
}

#[test]
fn case_list_shows_the_most_recently_changed_case_first() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (office_hour, first) = store_with_case(&sandbox);
    let second = new_case(
        &sandbox,
        &data,
        "baecker.json",
        &baecker_draft(&office_hour),
    );
    let ids = |rows: Vec<Value>| -> Vec<String> {
        rows.iter()
            .map(|row| str_at(row, "/id").to_string())
            .collect()
    };
    assert_eq!(
        ids(ok_lines(&data, &["case", "list"])),
        [second.id.clone(), first.id.clone()]
    );
    ok_json(&data, &["case", "set", &first.id, "notes", "nachgereicht"]);
    assert_eq!(
        ids(ok_lines(&data, &["case", "list"])),
        [first.id.clone(), second.id.clone()]
    );
    let rows = ok_lines(&data, &["case", "list", "--limit", "1", "--offset", "1"]);
    assert_eq!(ids(rows), [second.id]);
}

fn draft_with_unknown_office_hour() -> Value {
    let mut draft = zwoelfmeier_draft("11111111-2222-4333-8444-555555555555");
    draft["requests"] = json!([{ "service_id": "wohngeld" }]);
    draft
}

fn draft_without_a_name() -> Value {
    json!({
        "citizen": { "surname": "  ", "given_names": "" },
        "requests": [ { "service_id": "wohngeld" } ]
    })
}

/// Bytes of a valid automerge document that holds no case.
fn automerge_without_a_case() -> Vec<u8> {
    automerge::AutoCommit::new().save()
}

#[test]
fn case_new_with_an_unknown_office_hour_or_without_a_name_writes_nothing() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (office_hour, created) = store_with_case(&sandbox);
    let before = snapshot(&data);
    let file = sandbox.write_json(
        "unknown-office-hour.json",
        &draft_with_unknown_office_hour(),
    );
    let stderr = fails(&data, &["case", "new", "--json", path_str(&file)]);
    assert_mentions(&stderr, "11111111-2222-4333-8444-555555555555");
    assert_unchanged(&before, &data, "case new with an unknown office hour");

    let file = sandbox.write_json("no-name.json", &draft_without_a_name());
    let stderr = fails(&data, &["case", "new", "--json", path_str(&file)]);
    assert_mentions(&stderr, "surname");
    assert_unchanged(&before, &data, "case new without a name");

    let rows = ok_lines(&data, &["case", "list"]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(str_at(&rows[0], "/id"), created.id);
    // The failed attempts used up no case number.
    let next = new_case(
        &sandbox,
        &data,
        "baecker.json",
        &baecker_draft(&office_hour),
    );
    assert_eq!(
        next.number[4..].parse::<u32>().expect("digits"),
        created.number[4..].parse::<u32>().expect("digits") + 1
    );
}

#[test]
fn importing_a_file_that_holds_no_case_is_reported_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let garbage = sandbox.file("garbage.automerge");
    std::fs::write(&garbage, b"this is not automerge").expect("write");
    let empty = sandbox.file("empty-doc.automerge");
    std::fs::write(&empty, automerge_without_a_case()).expect("write");

    let fresh = sandbox.other_data();
    let stderr = fails(&fresh, &["case", "import", path_str(&garbage)]);
    assert_mentions(&stderr, "garbage.automerge");
    assert!(!fresh.exists(), "a failed import created the data dir");

    let data = sandbox.data();
    store_with_case(&sandbox);
    let before = snapshot(&data);
    let stderr = fails(&data, &["case", "import", path_str(&garbage)]);
    assert_mentions(&stderr, "garbage.automerge");
    assert_unchanged(&before, &data, "import of garbage");
    let stderr = fails(&data, &["case", "import", path_str(&empty)]);
    assert_mentions(&stderr, "case");
    assert_unchanged(&before, &data, "import of a document without a case");
}

#[test]
fn failing_case_new_or_import_on_a_fresh_data_dir_creates_nothing() {
    let sandbox = Sandbox::new();
    let fresh = sandbox.data();
    let unknown_office_hour = sandbox.write_json(
        "unknown-office-hour.json",
        &draft_with_unknown_office_hour(),
    );
    let no_name = sandbox.write_json("no-name.json", &draft_without_a_name());
    let no_case = sandbox.file("empty-doc.automerge");
    std::fs::write(&no_case, automerge_without_a_case()).expect("write");
    for args in [
        vec!["case", "new", "--json", path_str(&unknown_office_hour)],
        vec!["case", "new", "--json", path_str(&no_name)],
        vec!["case", "import", path_str(&no_case)],
    ] {
        fails(&fresh, &args);
        assert!(
            !fresh.exists(),
            "the failed `sprechtag {args:?}` created {}",
            fresh.display()
        );
    }
}

/// The back office's commands: forward with a deadline, review with a
/// comment, the history names the changes, CSV export read by Python's csv
/// module with every case present.
#[test]
fn forward_review_history_and_a_csv_export_that_python_reads() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    ok(&data, &["demo", "--cases", "12"]);
    let listed = ok_lines(&data, &["case", "list"]);
    assert_eq!(listed.len(), 12);
    let id = listed[0]["id"].as_str().expect("id").to_string();
    let (request, _) = first_request_and_document(&show(&data, &id));

    let forwarded = ok_json(
        &data,
        &[
            "case",
            "forward",
            &id,
            &request,
            "--office",
            "sozialamt",
            "--due",
            "2099-01-15",
        ],
    );
    assert_eq!(forwarded["forwarding"]["office_id"], "sozialamt");
    assert_eq!(forwarded["forwarding"]["due"], "2099-01-15");
    let reviewed = ok_json(
        &data,
        &[
            "case",
            "review",
            &id,
            "needs-clarification",
            "--comment",
            "Mietvertrag fehlt",
        ],
    );
    assert_eq!(reviewed["review"]["state"], "needs_clarification");
    let case = show(&data, &id);
    assert_eq!(case["status"], "forwarded");
    assert_eq!(case["comments"][0]["text"], "Mietvertrag fehlt");

    let history = ok_lines(&data, &["case", "history", &id]);
    let messages: Vec<&str> = history
        .iter()
        .map(|e| e["message"].as_str().expect("message"))
        .collect();
    assert_eq!(messages.first(), Some(&"new case"), "{messages:?}");
    let forward = history
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("forward"))
        })
        .expect("the forwarding is in the history");
    assert!(
        forward["time"]
            .as_str()
            .is_some_and(|t| t.starts_with("20"))
    );
    assert!(!forward["by"].as_str().unwrap_or_default().is_empty());
    assert!(
        forward["changed"]
            .as_array()
            .expect("changed")
            .iter()
            .any(|p| p
                .as_str()
                .is_some_and(|p| p.starts_with("requests.0.forwarding"))),
        "{forward}"
    );

    // A comma and a quote in a name must survive the CSV.
    ok_json(
        &data,
        &["case", "set", &id, "citizen.surname", "Müller, \"Mü\""],
    );
    let csv = sandbox.file("faelle.csv");
    let exported = ok_json(
        &data,
        &[
            "export",
            "cases",
            "--format",
            "csv",
            "--out",
            &csv.to_string_lossy(),
        ],
    );
    assert_eq!(exported["rows"], 12);
    let script = "import csv, json, sys\n\
                  with open(sys.argv[1], newline='', encoding='utf-8') as f:\n    \
                  rows = list(csv.DictReader(f))\n\
                  print(json.dumps(rows))";
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(&csv)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<BTreeMap<String, String>> =
        serde_json::from_slice(&output.stdout).expect("Python printed the rows");
    let mut numbers: Vec<&str> = rows.iter().map(|r| r["Fallnummer"].as_str()).collect();
    let mut expected: Vec<&str> = listed
        .iter()
        .map(|c| c["number"].as_str().expect("number"))
        .collect();
    numbers.sort_unstable();
    expected.sort_unstable();
    assert_eq!(numbers, expected);
    let row = rows
        .iter()
        .find(|r| r["Fallnummer"] == case["number"].as_str().expect("number"))
        .expect("the forwarded case");
    assert_eq!(row["Nachname"], "Müller, \"Mü\"");
    assert_eq!(row["Status"], "forwarded");
    assert_eq!(row["Frist"], "2099-01-15");
    assert_eq!(row["Weitergeleitet an"], "Sozialamt / Wohngeldstelle");
}

#[test]
fn forwarding_to_an_unknown_office_or_into_the_past_is_refused_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let (_, created) = store_with_case(&sandbox);
    let (request, _) = first_request_and_document(&show(&data, &created.id));
    let before = snapshot(&data);
    for (args, mentions) in [
        (
            vec![
                "case",
                "forward",
                &created.id,
                &request,
                "--office",
                "Mondamt",
            ],
            "Mondamt",
        ),
        (
            vec![
                "case",
                "forward",
                &created.id,
                &request,
                "--office",
                "sozialamt",
                "--due",
                "2001-01-01",
            ],
            "2001-01-01",
        ),
        (
            vec![
                "case",
                "forward",
                &created.id,
                "no-such-request",
                "--office",
                "sozialamt",
            ],
            "no-such-request",
        ),
        (vec!["case", "review", &created.id, "maybe"], "maybe"),
        (
            vec!["export", "cases", "--format", "xlsx", "--out", "x.xlsx"],
            "xlsx",
        ),
    ] {
        let stderr = fails(&data, &args);
        assert_mentions(&stderr, mentions);
        assert_unchanged(&before, &data, &format!("sprechtag {args:?}"));
    }
}

/// Ratings are anonymous: held back on the device until five of an office
/// hour go into its document together; counted in the statistics at once,
/// but no average of fewer than five answers and none per office hour (it
/// would grade its caseworker); the committee's CSV has a row per office
/// hour without grades or caseworker.
#[test]
fn ratings_reach_the_statistics_and_the_committee_csv() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    let opened = ok_json(
        &data,
        &[
            "office-hour",
            "open",
            "--place",
            "Kleinbrück, DGH",
            "--date",
            "2026-11-20",
            "--caseworker",
            "Anna Schäfer",
        ],
    );
    let id = opened["id"].as_str().expect("id").to_string();
    ok_json(
        &data,
        &[
            "rate",
            &id,
            "--advice",
            "1",
            "--clarity",
            "2",
            "--place",
            "3",
        ],
    );
    ok_json(&data, &["rate", &id, "--advice", "2", "--clarity", "2"]);
    let stderr = fails(&data, &["rate", &id, "--advice", "7"]);
    assert_mentions(&stderr, "1 to 6");

    // Two answers: counted, but no average, and not in the document yet.
    let statistics = ok_json(&data, &["statistics"]);
    assert_eq!(statistics["ratings"], 2);
    assert_eq!(statistics["rating_averages"][0], Value::Null);
    assert_eq!(statistics["office_hours"][0]["ratings"], 2);
    assert!(
        statistics["office_hours"][0]
            .get("rating_averages")
            .is_none()
    );
    let shown = ok_json(&data, &["office-hour", "show", &id]);
    assert_eq!(
        shown["office_hour"]["ratings"].as_object().map(|r| r.len()),
        Some(0)
    );

    for _ in 0..3 {
        ok_json(
            &data,
            &[
                "rate",
                &id,
                "--advice",
                "1",
                "--clarity",
                "1",
                "--place",
                "1",
            ],
        );
    }
    let shown = ok_json(&data, &["office-hour", "show", &id]);
    assert_eq!(
        shown["office_hour"]["ratings"].as_object().map(|r| r.len()),
        Some(5)
    );
    let statistics = ok_json(&data, &["statistics"]);
    assert_eq!(statistics["ratings"], 5);
    assert_eq!(statistics["rating_averages"][0], 1.2);
    assert_eq!(statistics["rating_averages"][1], 1.4);
    // Four answers to the third question: no average.
    assert_eq!(statistics["rating_averages"][2], Value::Null);

    let csv = sandbox.file("ausschuss.csv");
    let exported = ok_json(
        &data,
        &["export", "statistics", "--out", &csv.to_string_lossy()],
    );
    assert_eq!(exported["rows"], 1);
    let text = std::fs::read_to_string(&csv).expect("the CSV");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("Datum,Ort,Besucher,Anliegen,Davon vollständig beim ersten Besuch,Bewertungen")
    );
    assert_eq!(lines.next(), Some("2026-11-20,Kleinbrück,0,,,5"));
}

#[test]
fn the_knowledge_base_answers_questions_from_the_command_line() {
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    ok(&data, &["init"]);
    let added = ok_json(
        &data,
        &[
            "knowledge",
            "add",
            "--question",
            "Wie lange gilt ein Personalausweis?",
            "--answer",
            "Zehn Jahre, unter 24 Jahren sechs.",
            "--service",
            "personalausweis",
        ],
    );
    // A laptop that is not enrolled is its own back office: accepted.
    assert_eq!(added["status"], "accepted");
    let hits = ok_lines(&data, &["knowledge", "search", "wie lange gilt"]);
    assert_eq!(hits[0]["type"], "answer", "{hits:?}");
    assert_eq!(hits[0]["answer"], "Zehn Jahre, unter 24 Jahren sechs.");
    let services = ok_lines(&data, &["knowledge", "search", "personalausweis"]);
    assert!(services.iter().any(|h| h["type"] == "service"));
    assert_eq!(ok_lines(&data, &["knowledge", "list"]).len(), 1);
    let id = added["id"].as_str().expect("id");
    let retired = ok_json(&data, &["knowledge", "retire", id]);
    assert_eq!(retired["status"], "retired");
    let hits = ok_lines(&data, &["knowledge", "search", "wie lange gilt"]);
    assert!(hits.iter().all(|h| h["type"] != "answer"), "{hits:?}");
    let unknown = fails(
        &data,
        &[
            "knowledge",
            "add",
            "--question",
            "Q?",
            "--answer",
            "A",
            "--service",
            "mond",
        ],
    );
    assert_mentions(&unknown, "mond");
}

#[test]
fn ideas_and_complaints_are_recorded_anonymous_or_for_a_case_and_listed() {
    let sandbox = Sandbox::new();
    let (_, created) = store_with_case(&sandbox);
    let data = sandbox.data();
    let anonymous = ok_json(
        &data,
        &[
            "feedback",
            "new",
            "--kind",
            "idea",
            "--text",
            "Sprechtag auch samstags",
        ],
    );
    assert_eq!(anonymous["case_id"], Value::Null);
    assert_eq!(anonymous["category"], "other");
    let linked = ok_json(
        &data,
        &[
            "feedback",
            "new",
            "--kind",
            "complaint",
            "--category",
            "waiting",
            "--text",
            "Zu lange gewartet",
            "--case",
            &created.number,
        ],
    );
    assert_eq!(linked["case_id"], created.id.as_str());
    let list = ok_lines(&data, &["feedback", "list"]);
    assert_eq!(list.len(), 2);
    let closed = ok_json(
        &data,
        &[
            "feedback",
            "close",
            linked["id"].as_str().expect("id"),
            "--answer",
            "Entschuldigung, wir planen mehr Termine.",
        ],
    );
    assert!(closed["closed_at"].is_string());
    let wrong = fails(&data, &["feedback", "new", "--kind", "rant", "--text", "x"]);
    assert_mentions(&wrong, "rant");
    let empty = fails(
        &data,
        &["feedback", "new", "--kind", "idea", "--text", "  "],
    );
    assert_mentions(&empty, "citizen said");
    let stats = ok_json(&data, &["statistics"]);
    assert_eq!(
        stats["feedback"].as_array().map(Vec::len),
        Some(2),
        "{stats}"
    );
    let id = anonymous["id"].as_str().expect("id");
    let erased = ok_json(&data, &["feedback", "erase", id, "--reason", "Auf Wunsch"]);
    assert_eq!(erased["erased"], id);
    assert_eq!(ok_lines(&data, &["feedback", "list"]).len(), 1);
    // Erasing the case takes what was recorded for it along.
    ok_json(
        &data,
        &[
            "case",
            "erase",
            &created.number,
            "--reason",
            "Antrag nach Art. 17",
        ],
    );
    assert!(ok_lines(&data, &["feedback", "list"]).is_empty());
}
