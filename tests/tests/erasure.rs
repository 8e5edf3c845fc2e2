//! Erasure everywhere (Art. 17 GDPR) and retention: a case erased by the
//! back office, by an administrator on the server or by its retention
//! period is gone from every byte the server and the laptops keep — their
//! databases, logs, prints and exports — and a laptop that edited it
//! offline cannot bring it back.

use std::path::{Path, PathBuf};
use std::process::Command;

use sprechtag::print::{self, PrintKind};
use sprechtag::store::{CaseFilter, StoreError};
use sprechtag_e2e::{Laptop, TestServer, workspace_binary};
use sprechtag_schemas::wire::RefusalCode;
use sprechtag_schemas::{Case, CaseStatus};
use sprechtag_server::storage::{Role, Storage};

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a data dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes())
            {
                found.push(path);
            }
        }
    }
    found
}

const FIRST_SPELLING: &str = "Wunderlichstein";
const SECOND_SPELLING: &str = "Wunderlichsteyn";
const NOTE: &str = "Zebrafieber";

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a data dir").flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files
}

/// Prints the receipt and saves a CSV export of all cases into the data
/// dir, as the app does; returns the receipt's path.
fn print_and_export(laptop: &mut Laptop, case: &Case) -> PathBuf {
    let printed = print::make(&mut laptop.store, PrintKind::Receipt, &case.id).expect("print");
    let receipt = print::save_in_data_dir(
        &laptop.data_dir(),
        PrintKind::Receipt,
        &printed.name,
        &printed.bytes,
    )
    .expect("save the receipt");
    let exports = laptop.data_dir().join(print::EXPORTS_DIR);
    std::fs::create_dir_all(&exports).expect("exports folder");
    let mut csv = Vec::new();
    laptop
        .store
        .export_cases_csv(&CaseFilter::default(), &mut csv)
        .expect("export");
    std::fs::write(exports.join("faelle.csv"), csv).expect("write the export");
    receipt
}

fn case_count(laptop: &Laptop) -> usize {
    laptop
        .store
        .list_cases(&CaseFilter::default())
        .expect("list")
        .total
}

#[test]
fn an_erased_case_is_gone_from_every_byte_everywhere_and_an_offline_edit_does_not_bring_it_back() {
    let server = TestServer::start_plain();
    let enrol = |name: &str, role: Role| server.laptop(name, role, "buergeramt");
    let mut field = enrol("laptop-kleinbrueck", Role::Caseworker);
    let mut colleague = enrol("laptop-grossdorf", Role::Caseworker);
    let mut office = enrol("backoffice-1", Role::Backoffice);

    // A visit, its name corrected once (history holds both spellings).
    let case = field.new_case(FIRST_SPELLING, &["wohngeld"]);
    let kept = field.new_case("Bleibtreu", &["personalausweis"]);
    field
        .store
        .set_case_field(&case.id, "notes", &format!("Diagnose {NOTE}"))
        .expect("notes");
    field.sync();
    field
        .store
        .set_case_field(&case.id, "citizen.surname", SECOND_SPELLING)
        .expect("rename");
    field.sync();
    colleague.sync();
    office.sync();
    let mut receipts = Vec::new();
    for laptop in [&mut field, &mut colleague, &mut office] {
        assert_eq!(case_count(laptop), 2);
        receipts.push(print_and_export(laptop, &case));
    }
    // The scan can fail: the server's plain database holds both spellings.
    for needle in [FIRST_SPELLING, SECOND_SPELLING, NOTE] {
        assert!(
            !files_containing(server.dir.path(), needle).is_empty(),
            "{needle} should be in the server's files before the erasure"
        );
    }

    // The colleague's laptop is offline and adds to the notes.
    colleague
        .store
        .set_case_field(&case.id, "notes", &format!("Diagnose {NOTE}, Nachtrag"))
        .expect("offline edit");

    // A caseworker may not erase; the back office may.
    let refused = field
        .store
        .erase_case(&case.number, "Antrag nach Art. 17 DSGVO");
    assert!(
        matches!(refused, Err(StoreError::MayNotErase(Role::Caseworker))),
        "{refused:?}"
    );
    let tombstone = office
        .store
        .erase_case(&case.number, "Antrag nach Art. 17 DSGVO")
        .expect("erase");
    assert_eq!(tombstone.number, case.number);
    assert_eq!(case_count(&office), 1, "gone from the office at once");
    assert!(!receipts[2].exists(), "the office's print is removed");
    let report = office.sync();
    assert_eq!(report.erasures_sent, 1, "{report:?}");

    let report = field.sync();
    assert_eq!(report.erased, 1, "{report:?}");
    // The offline laptop's upload is refused as erased; its copy goes.
    let report = colleague
        .connection
        .sync(&mut colleague.store)
        .expect("sync");
    assert_eq!(report.erased, 1, "{report:?}");
    assert!(report.complete(), "{report:?}");
    // Another round everywhere: nothing comes back.
    for laptop in [&mut field, &mut colleague, &mut office] {
        laptop.sync();
        assert_eq!(case_count(laptop), 1);
        assert!(matches!(
            laptop.store.case(&case.id),
            Err(StoreError::Erased { .. })
        ));
        let search = laptop
            .store
            .list_cases(&CaseFilter {
                search: NOTE.into(),
                ..CaseFilter::default()
            })
            .expect("search");
        assert_eq!(search.total, 0);
        assert_eq!(laptop.store.case(&kept.id).expect("kept").id, kept.id);
    }
    for receipt in &receipts {
        assert!(!receipt.exists(), "{} is left", receipt.display());
    }

    // The server refuses the document for good and tells why.
    let storage = server.storage();
    let tombstones = storage.tombstones().expect("tombstones");
    assert_eq!(tombstones.len(), 1);
    assert_eq!(tombstones[0].number, case.number);
    assert_eq!(
        tombstones[0].erased_by,
        "backoffice-1-user (".to_string() + &office.store.device().prefix + ")"
    );
    let audit = storage
        .audit_entries(&sprechtag_server::audit::Filter {
            case_id: Some(case.id.clone()),
            ..Default::default()
        })
        .expect("audit");
    assert!(audit.iter().any(|e| e.event == "case_erased"));

    // No byte of the server's data dir or any laptop's holds either
    // spelling or the note — with the stores closed, as a thief finds them.
    let dirs: Vec<PathBuf> = [&field, &colleague, &office]
        .iter()
        .map(|l| l.data_dir())
        .collect();
    let _kept: Vec<tempfile::TempDir> = [field, colleague, office]
        .into_iter()
        .map(|laptop| laptop.dir)
        .collect();
    drop(storage);
    for dir in dirs.iter().map(PathBuf::as_path).chain([server.dir.path()]) {
        for needle in [FIRST_SPELLING, SECOND_SPELLING, NOTE] {
            let found = files_containing(dir, needle);
            assert!(found.is_empty(), "{needle} is still in {found:?}");
        }
    }
    // The export that named the erased case is removed with it.
    assert!(
        all_files(&dirs[0])
            .iter()
            .all(|p| !p.ends_with("faelle.csv"))
    );
}

#[test]
fn the_server_erases_a_case_by_number_and_retention_erases_what_has_expired() {
    let server = TestServer::start_plain();
    let mut field = server.laptop("laptop-kleinbrueck", Role::Caseworker, "buergeramt");
    let erased = field.new_case(FIRST_SPELLING, &["wohngeld"]);
    let done = field.new_case(SECOND_SPELLING, &["personalausweis"]);
    let open = field.new_case("Offenbach", &["personalausweis"]);
    field
        .store
        .set_case_field(&done.id, "status", CaseStatus::Done.as_str())
        .expect("done");
    field.sync();

    let server_binary = workspace_binary("sprechtag-server");
    let run = |args: &[&str]| {
        let output = Command::new(&server_binary)
            .args(args)
            .arg("--data-dir")
            .arg(server.dir.path())
            .output()
            .expect("run sprechtag-server");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    };

    // An administrator on the server erases a case by its number.
    let printed = run(&[
        "case",
        "erase",
        &erased.number,
        "--reason",
        "Antrag nach Art. 17",
    ]);
    let tombstone: serde_json::Value = serde_json::from_str(printed.trim()).expect("json");
    assert_eq!(tombstone["doc_id"], erased.id.as_str());
    assert_eq!(tombstone["number"], erased.number.as_str());

    // Retention: nothing has expired today; a year on, the done case has,
    // the open one never does. A dry run only lists it.
    let today = chrono::Utc::now().date_naive();
    let in_a_year = (today + chrono::Days::new(365)).to_string();
    assert_eq!(
        run(&["retention", "run", "--as-of", &today.to_string()]),
        ""
    );
    let dry = run(&["retention", "run", "--as-of", &in_a_year, "--dry-run"]);
    let listed: serde_json::Value = serde_json::from_str(dry.trim()).expect("one json line");
    assert_eq!(listed["doc_id"], done.id.as_str());
    assert_eq!(listed["erased"], false);
    assert!(server.storage().tombstones().expect("tombstones").len() == 1);
    let real = run(&["retention", "run", "--as-of", &in_a_year]);
    let listed: serde_json::Value = serde_json::from_str(real.trim()).expect("one json line");
    assert_eq!(listed["erased"], true);
    assert_eq!(listed["retention_days"], 365);

    // The laptop learns both at its next sync.
    let report = field.sync();
    assert_eq!(report.erased, 2, "{report:?}");
    let left = field
        .store
        .list_cases(&CaseFilter::default())
        .expect("list")
        .rows;
    assert_eq!(
        left.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [open.id.as_str()]
    );
    // An upload of an erased case (a copy kept elsewhere) is refused.
    let audit = server
        .storage()
        .audit_entries(&sprechtag_server::audit::Filter::default())
        .expect("audit");
    let erasures: Vec<&str> = audit
        .iter()
        .filter(|e| e.event == "case_erased")
        .filter_map(|e| e.detail["by"].as_str())
        .collect();
    assert_eq!(erasures, ["server administration", "retention"]);
    for needle in [FIRST_SPELLING, SECOND_SPELLING] {
        let found = files_containing(server.dir.path(), needle);
        assert!(found.is_empty(), "{needle} is still in {found:?}");
    }
    assert_eq!(RefusalCode::Erased.as_str(), "erased");
}

/// The server encrypted at rest: no name in any byte of its data dir; its
/// files are the owner's only; every command needs the key, and a key file
/// others may read is refused.
#[test]
fn an_encrypted_server_keeps_no_name_readable_and_refuses_a_key_others_may_read() {
    let server = TestServer::start();
    let mut field = server.laptop("laptop-kleinbrueck", Role::Caseworker, "buergeramt");
    let case = field.new_case(FIRST_SPELLING, &["wohngeld"]);
    field
        .store
        .set_case_field(&case.id, "notes", NOTE)
        .expect("notes");
    field.sync();
    let dir = server.dir.path();
    for needle in [FIRST_SPELLING, NOTE] {
        let found = files_containing(dir, needle);
        assert!(found.is_empty(), "{needle} is readable in {found:?}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(dir), 0o700);
        for file in all_files(dir) {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    // Without the key the server's commands cannot read it, and say so.
    let without_key = Command::new(workspace_binary("sprechtag-server"))
        .args(["device", "list", "--data-dir"])
        .arg(dir)
        .env_remove("SPRECHTAG_SERVER_DB_KEY_FILE")
        .output()
        .expect("run");
    assert!(!without_key.status.success());
    let message = String::from_utf8_lossy(&without_key.stderr);
    assert!(message.contains("--db-key-file"), "{message}");
    let with_key = sprechtag_e2e::server_command(dir)
        .args(["device", "list", "--data-dir"])
        .arg(dir)
        .output()
        .expect("run");
    assert!(with_key.status.success());
    assert!(String::from_utf8_lossy(&with_key.stdout).contains("laptop-kleinbrueck"));

    // A copy of the key that others may read is refused.
    let loose = tempfile::tempdir().expect("dir");
    let loose_key = loose.path().join("db.key");
    std::fs::copy(dir.join(sprechtag_e2e::TEST_KEY_FILE), &loose_key).expect("copy");
    #[cfg(unix)]
    std::fs::set_permissions(
        &loose_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("mode");
    let refused = Command::new(workspace_binary("sprechtag-server"))
        .args(["device", "list", "--data-dir"])
        .arg(dir)
        .arg("--db-key-file")
        .arg(&loose_key)
        .output()
        .expect("run");
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("readable by its owner only"), "{message}");
}

/// A wrongly recorded diagnosis is corrected by the back office: the case
/// is written anew under its number without history, the wrong value is
/// gone from every byte, the rest of the case is intact, the history starts
/// at the correction — and an edit another laptop made offline meanwhile is
/// carried over.
#[test]
fn a_correction_removes_the_wrong_value_from_every_byte_and_keeps_the_rest() {
    let server = TestServer::start_plain();
    let enrol = |name: &str, role: Role| server.laptop(name, role, "buergeramt");
    let mut field = enrol("laptop-kleinbrueck", Role::Caseworker);
    let mut colleague = enrol("laptop-grossdorf", Role::Caseworker);
    let mut office = enrol("backoffice-1", Role::Backoffice);

    let case = field.new_case(FIRST_SPELLING, &["wohngeld"]);
    field
        .store
        .set_case_field(&case.id, "notes", &format!("Diagnose {NOTE}"))
        .expect("the wrong note");
    field
        .store
        .set_case_field(&case.id, "citizen.address.town", "Kleinbrück")
        .expect("town");
    field.sync();
    colleague.sync();
    office.sync();
    assert!(!files_containing(server.dir.path(), NOTE).is_empty());

    // Offline, the colleague adds the phone number.
    colleague
        .store
        .set_case_field(&case.id, "citizen.phone", "0171 999")
        .expect("offline edit");

    // A caseworker may not correct; the back office may.
    assert!(matches!(
        field
            .store
            .correct_case(&case.id, "notes", "Keine Angaben", "Berichtigung Art. 16"),
        Err(StoreError::MayNotErase(Role::Caseworker))
    ));
    let corrected = office
        .store
        .correct_case(
            &case.number,
            "notes",
            "Keine Angaben",
            "Berichtigung Art. 16",
        )
        .expect("correct");
    assert_ne!(corrected.id, case.id);
    assert_eq!(corrected.number, case.number);
    assert!(corrected.history_deleted_at.is_some());
    let report = office.sync();
    assert_eq!(report.erasures_sent, 1, "{report:?}");

    field.sync();
    let report = colleague
        .connection
        .sync(&mut colleague.store)
        .expect("sync");
    assert_eq!(report.carried_over, 1, "{report:?}");
    colleague.sync();
    for laptop in [&mut office, &mut field, &mut colleague] {
        laptop.sync();
    }
    for laptop in [&mut field, &mut colleague, &mut office] {
        let now = laptop.store.case(&case.number).expect("by its number");
        assert_eq!(now.id, corrected.id);
        assert_eq!(now.notes.as_str(), "Keine Angaben");
        assert_eq!(now.citizen.surname, FIRST_SPELLING);
        assert_eq!(now.citizen.address.town, "Kleinbrück");
        assert_eq!(now.citizen.phone, "0171 999", "the offline edit is kept");
        assert_eq!(now.requests.len(), 1);
        assert_eq!(now.created_by, case.created_by);
        assert!(matches!(
            laptop.store.case(&case.id),
            Err(StoreError::Erased { .. })
        ));
        // The history begins with the correction.
        let history = laptop.store.case_history(&corrected.id).expect("history");
        assert!(
            history.iter().all(|e| e.message != "new case"),
            "{history:?}"
        );
    }

    let dirs: Vec<PathBuf> = [&field, &colleague, &office]
        .iter()
        .map(|l| l.data_dir())
        .collect();
    let _kept: Vec<tempfile::TempDir> = [field, colleague, office]
        .into_iter()
        .map(|laptop| laptop.dir)
        .collect();
    for dir in dirs.iter().map(PathBuf::as_path).chain([server.dir.path()]) {
        let found = files_containing(dir, NOTE);
        assert!(found.is_empty(), "{NOTE} is still in {found:?}");
    }
    assert!(
        !files_containing(server.dir.path(), FIRST_SPELLING).is_empty(),
        "the rest of the case is still there"
    );
}

/// A citizen asks what is held about them (Art. 15): the back office makes
/// the report from its laptop — every case of that name and birth date with
/// its fields, who changed it, and from the server's audit who received and
/// opened it. A caseworker device may not.
#[test]
fn the_back_office_prints_a_citizen_s_access_report_with_the_server_s_record_of_access() {
    let server = TestServer::start();
    let mut field = server.laptop("laptop-kleinbrueck", Role::Caseworker, "buergeramt");
    let mut office = server.laptop("backoffice-1", Role::Backoffice, "buergeramt");
    let case = field.new_case("Krüger", &["wohngeld"]);
    let other = field.new_case("Krüger", &["personalausweis"]);
    field
        .store
        .set_case_field(&case.id, "citizen.birth_date", "14.03.1941")
        .expect("birth date");
    field
        .store
        .set_case_field(&other.id, "citizen.birth_date", "02.02.1950")
        .expect("another Krüger");
    field
        .store
        .set_case_field(&case.id, "notes", "Hörgerät beachten")
        .expect("notes");
    field.sync();
    office.sync();
    office.store.record_opened(&case.id).expect("opened");
    office.sync();

    let report = |laptop: &Laptop, out: &Path| {
        Command::new(workspace_binary("sprechtag"))
            .arg("--data-dir")
            .arg(laptop.data_dir())
            .args([
                "case",
                "subject-report",
                "--surname",
                "krüger",
                "--birth-date",
                "14.03.1941",
                "--out",
            ])
            .arg(out)
            .env("SPRECHTAG_PASSPHRASE", sprechtag_e2e::PASSPHRASE)
            .output()
            .expect("run sprechtag")
    };
    // The server answers a caseworker device's own request for the record
    // of access with 403, whatever the app would do.
    let asked = sprechtag::sync::case_access(&field.store, &case.id);
    assert!(
        matches!(asked, Err(sprechtag::sync::SyncError::Forbidden(_))),
        "{asked:?}"
    );
    let dir = tempfile::tempdir().expect("dir");
    let refused = report(&field, &dir.path().join("no.pdf"));
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("back-office"));

    let pdf = dir.path().join("auskunft.pdf");
    let made = report(&office, &pdf);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&made.stdout).expect("json");
    assert_eq!(printed["cases"], 1, "only the Krüger born on 14.03.1941");
    assert_eq!(printed["access_complete"], true);
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&pdf).expect("pdf").permissions()
        ) & 0o777,
        0o600
    );
    let text = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in [
        "Auskunft über Ihre gespeicherten Daten",
        "Erika Krüger",
        "14.03.1941",
        &format!("Vorgang {}", case.number),
        "Hörgerät beachten",
        "Wohngeld",
        "Wer hat den Vorgang wann geändert?",
        "laptop-kleinbrueck-user",
        "hat eine Kopie erhalten",
        "backoffice-1-user",
        "hat den Vorgang geöffnet",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    assert!(!text.contains(&other.number), "another citizen's case");
}

/// A server that ran on a plain database is encrypted in place: stopped,
/// `sprechtag-server encrypt` with the key, started with it; laptops go on
/// syncing; the plain file is kept aside for the administrator to destroy,
/// never silently.
#[test]
fn a_plain_server_database_is_encrypted_in_place_and_laptops_go_on() {
    use sprechtag_e2e::{ServerProcess, free_port};
    let dir = tempfile::tempdir().expect("server dir");
    let port = free_port();
    let mut server = ServerProcess::start_plain(dir.path(), port);
    let code = sprechtag_e2e::enrolment_code(dir.path(), "laptop", Role::Caseworker, "buergeramt");
    let mut field = Laptop::enrolled(&server.url, &code);
    let case = field.new_case(FIRST_SPELLING, &["wohngeld"]);
    field.sync();
    assert!(!files_containing(dir.path(), FIRST_SPELLING).is_empty());

    // While it runs, the database cannot be converted.
    let key = sprechtag_e2e::test_key_file(dir.path());
    let encrypt = || {
        Command::new(workspace_binary("sprechtag-server"))
            .args(["encrypt", "--data-dir"])
            .arg(dir.path())
            .arg("--db-key-file")
            .arg(&key)
            .output()
            .expect("run")
    };
    let running = encrypt();
    assert!(!running.status.success(), "refused while the server runs");
    let message = String::from_utf8_lossy(&running.stderr);
    assert!(message.contains("locked"), "{message}");
    server.kill();
    let done = encrypt();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&done.stdout).expect("json");
    let kept = PathBuf::from(printed["plaintext_kept"].as_str().expect("the kept copy"));
    assert!(kept.exists());
    let again = encrypt();
    assert!(!again.status.success(), "a second run changes nothing");
    assert!(String::from_utf8_lossy(&again.stderr).contains(".plaintext exists"));

    // The same server, encrypted now: the laptop goes on.
    let _server = ServerProcess::start(dir.path(), port);
    field
        .store
        .set_case_field(&case.id, "notes", NOTE)
        .expect("edit");
    let report = field.sync();
    assert_eq!(report.uploaded, 1);
    let database = dir.path().join(sprechtag_server::storage::DATABASE_FILE);
    for needle in [FIRST_SPELLING, NOTE] {
        let found: Vec<PathBuf> = files_containing(dir.path(), needle)
            .into_iter()
            .filter(|p| *p != kept)
            .collect();
        assert!(found.is_empty(), "{needle} readable in {found:?}");
    }
    assert!(database.exists());
    assert!(
        !files_containing(dir.path(), FIRST_SPELLING)
            .iter()
            .all(|p| *p != kept),
        "the kept plain copy is what the administrator destroys"
    );
}

/// A complaint names someone in the citizen's words: erasing the case takes
/// the entries recorded for it along, and one on its own can be erased —
/// on the server and every laptop, by the back office only.
#[test]
fn ideas_and_complaints_are_erased_with_their_case_or_on_their_own() {
    use sprechtag::store::NewFeedback;
    use sprechtag_schemas::{FeedbackCategory, FeedbackKind};

    // Plain, so that its bytes can be searched.
    let server = TestServer::start_plain();
    let mut field = server.laptop("field", Role::Caseworker, "buergerbuero");
    let mut office = server.laptop("office", Role::Backoffice, "buergerbuero");
    let case = field.new_case("Beschwerdeführer", &["wohngeld"]);
    let record = |laptop: &mut Laptop, text: &str, case: Option<String>| {
        laptop
            .store
            .record_feedback(NewFeedback {
                kind: FeedbackKind::Complaint,
                category: FeedbackCategory::Staff,
                text: text.into(),
                case,
            })
            .expect("record")
    };
    let linked = record(
        &mut field,
        "Herr Beschwerdeführer war unzufrieden.",
        Some(case.number.clone()),
    );
    let alone = record(&mut field, "Die Rampe ist zu steil.", None);
    field.sync();
    office.sync();
    assert_eq!(office.store.feedback_list().expect("list").len(), 2);

    // The caseworker may not.
    let refused = field.store.erase_feedback(&alone.id, "Bitte löschen");
    assert!(
        matches!(refused, Err(StoreError::MayNotErase(_))),
        "{refused:?}"
    );

    office
        .store
        .erase_case(&case.id, "Antrag nach Art. 17 DSGVO")
        .expect("erase the case");
    let left: Vec<String> = office
        .store
        .feedback_list()
        .expect("list")
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(
        left,
        std::slice::from_ref(&alone.id),
        "the case's complaint went with it"
    );
    office.sync();
    field.sync();
    let left: Vec<String> = field
        .store
        .feedback_list()
        .expect("list")
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(left, std::slice::from_ref(&alone.id));
    let tombstones = server.storage().tombstones().expect("tombstones");
    assert!(tombstones.iter().any(|t| t.doc_id == linked.id));

    office
        .store
        .erase_feedback(&alone.id, "Auf Wunsch entfernt")
        .expect("erase the entry");
    office.sync();
    field.sync();
    assert!(field.store.feedback_list().expect("list").is_empty());
    assert!(
        files_containing(server.dir.path(), "Rampe").is_empty(),
        "nothing of its words on the server's disk"
    );
}
