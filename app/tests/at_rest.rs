//! Data at rest: no personal data readable in any file of the data dir, while
//! the store is open (WAL present) or closed; a wrong passphrase changes no
//! file; a weak passphrase creates nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sprechtag::store::{NewOfficeHour, Store, StoreError};
use sprechtag_schemas::{Case, CaseStatus, Catalog, Citizen, DocumentState, Request};

const PASSPHRASE: &str = "Leuchtturm-Fischbrötchen-7";
const SURNAME: &str = "Zwölfmeier";
const GIVEN_NAME: &str = "Wilhelmine";
const PHONE: &str = "0171 4455667";
const NOTE_WORD: &str = "Hörgerät";

fn catalog() -> Arc<Catalog> {
    Arc::new(sprechtag::catalog::shipped().expect("the shipped catalogue is valid"))
}

/// Every file below `dir`, recursively, with its raw bytes.
fn files_below(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("the folder can be listed") {
            let path = entry.expect("a dir entry can be read").path();
            if path.is_dir() {
                walk(&path, files);
            } else {
                let bytes = std::fs::read(&path).expect("the file can be read");
                files.insert(path, bytes);
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, &mut files);
    files
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The secrets to look for, as byte patterns with a label.
fn needles() -> Vec<(String, Vec<u8>)> {
    let mut needles: Vec<(String, Vec<u8>)> = [SURNAME, GIVEN_NAME, PHONE, NOTE_WORD]
        .iter()
        .map(|text| (format!("{text:?} (UTF-8)"), text.as_bytes().to_vec()))
        .collect();
    needles.push((format!("{SURNAME:?} (UTF-16LE)"), utf16le(SURNAME)));
    needles
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Which needles occur in which files below `dir`.
fn plain_text_leaks(dir: &Path) -> Vec<String> {
    let mut leaks = Vec::new();
    for (path, bytes) in files_below(dir) {
        for (label, needle) in needles() {
            if contains(&bytes, &needle) {
                leaks.push(format!("{label} in {}", path.display()));
            }
        }
    }
    leaks
}

/// A store with an office hour and Frau Zwölfmeier's case, edited a little.
fn store_with_personal_data(dir: &Path) -> (Store, String) {
    let mut store = Store::create(dir, PASSPHRASE, catalog()).expect("the store is created");
    let office_hour = store
        .open_office_hour(NewOfficeHour {
            village: "Kleinbrück".into(),
            venue: "Dorfgemeinschaftshaus".into(),
            date: "2026-11-22".parse().expect("a valid date"),
            caseworker: "Anna Schäfer".into(),
        })
        .expect("the office hour opens");
    let mut draft = Case::draft(Citizen {
        surname: SURNAME.into(),
        given_names: GIVEN_NAME.into(),
        phone: PHONE.into(),
        ..Citizen::default()
    });
    draft.office_hour_id = Some(office_hour.id);
    draft.notes =
        autosurgeon::Text::with_value(format!("Trägt ein {NOTE_WORD}, bitte laut sprechen."));
    let service = store
        .catalog()
        .service("personalausweis")
        .expect("the catalogue has the Personalausweis")
        .clone();
    draft.requests.push(Request::for_service(&service));
    let case = store.create_case(draft).expect("the case is created");

    store
        .set_case_field(
            &case.id,
            "notes",
            &format!("Trägt ein {NOTE_WORD}, bitte laut sprechen. Rückruf über {PHONE}."),
        )
        .expect("the notes are edited");
    store
        .set_case_field(&case.id, "citizen.address.town", "Kleinbrück")
        .expect("the town is edited");
    let request = &case.requests[0];
    store
        .check_document(
            &case.id,
            &request.id,
            &request.documents[0].id,
            DocumentState::Presented,
        )
        .expect("a document is checked");
    store
        .set_case_field(&case.id, "status", "waiting_for_documents")
        .expect("the status is edited");
    store
        .set_case_field(&case.id, "citizen.needs.hard_of_hearing", "ja")
        .expect("a need is recorded");
    let stored = store.case(&case.id).expect("the case reads back");
    assert_eq!(stored.citizen.surname, SURNAME);
    assert!(stored.notes.as_str().contains(NOTE_WORD));
    assert_eq!(stored.status, CaseStatus::WaitingForDocuments);
    assert!(stored.citizen.needs.hard_of_hearing);
    (store, case.id)
}

#[test]
fn the_leak_search_finds_personal_data_in_a_plain_file() {
    // The control: the same search must see the data where it is plain.
    let plain = tempfile::tempdir().expect("a temp dir can be created");
    std::fs::write(
        plain.path().join("notes.txt"),
        format!("{SURNAME}, {GIVEN_NAME}, Tel. {PHONE}: {NOTE_WORD}"),
    )
    .expect("write");
    let nested = plain.path().join("sub");
    std::fs::create_dir(&nested).expect("mkdir");
    std::fs::write(nested.join("utf16.txt"), utf16le(SURNAME)).expect("write");
    let leaks = plain_text_leaks(plain.path());
    assert_eq!(leaks.len(), needles().len(), "{leaks:#?}");
}

#[test]
fn no_personal_data_is_readable_in_the_data_dir_while_open_or_after_closing() {
    let tmp = tempfile::tempdir().expect("a temp dir can be created");
    let dir = tmp.path().join("data");
    let (store, case_id) = store_with_personal_data(&dir);

    let open_files = files_below(&dir);
    assert!(
        open_files
            .keys()
            .any(|p| p.to_string_lossy().ends_with("-wal")),
        "with the store open, a WAL file exists and is searched: {:?}",
        open_files.keys().collect::<Vec<_>>()
    );
    let leaks = plain_text_leaks(&dir);
    assert!(leaks.is_empty(), "plain text while open: {leaks:#?}");

    drop(store);
    let leaks = plain_text_leaks(&dir);
    assert!(leaks.is_empty(), "plain text after closing: {leaks:#?}");

    // And the data is really there, behind the passphrase.
    let mut store = Store::open(&dir, PASSPHRASE, catalog()).expect("the store reopens");
    assert_eq!(
        store.case(&case_id).expect("the case").citizen.surname,
        SURNAME
    );
    assert_eq!(store.integrity_check().expect("integrity check"), "ok");
    drop(store);
    let leaks = plain_text_leaks(&dir);
    assert!(leaks.is_empty(), "plain text after reopening: {leaks:#?}");
}

#[test]
fn a_wrong_passphrase_is_refused_and_changes_no_file() {
    let tmp = tempfile::tempdir().expect("a temp dir can be created");
    let dir = tmp.path().join("data");
    let (store, case_id) = store_with_personal_data(&dir);
    drop(store);
    let before = files_below(&dir);
    assert!(!before.is_empty());

    for wrong in ["Leuchtturm-Fischbrötchen-8", "wrong-passphrase", ""] {
        let outcome = Store::open(&dir, wrong, catalog());
        assert!(
            matches!(outcome, Err(StoreError::WrongPassphrase)),
            "passphrase {wrong:?}: {outcome:?}"
        );
        let after = files_below(&dir);
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>(),
            "a wrong passphrase added or removed files"
        );
        for (path, bytes) in &before {
            assert!(
                after[path] == *bytes,
                "a wrong passphrase changed {}",
                path.display()
            );
        }
    }

    let mut store = Store::open(&dir, PASSPHRASE, catalog()).expect("the right one still works");
    assert_eq!(
        store.case(&case_id).expect("the case").citizen.given_names,
        GIVEN_NAME
    );
}

#[test]
fn a_passphrase_shorter_than_eight_characters_is_refused_and_nothing_is_created() {
    let tmp = tempfile::tempdir().expect("a temp dir can be created");
    let dir = tmp.path().join("data");
    // Seven characters, though more than eight bytes in UTF-8.
    for weak in ["", "kurz", "1234567", "Äpfelöß"] {
        let outcome = Store::create(&dir, weak, catalog());
        assert!(
            matches!(outcome, Err(StoreError::WeakPassphrase)),
            "passphrase {weak:?}: {outcome:?}"
        );
        assert!(
            !dir.exists(),
            "a refused passphrase created {}",
            dir.display()
        );
    }
    assert_eq!(sprechtag::store::MIN_PASSPHRASE_CHARS, 8);
    // Eight characters are enough.
    let store = Store::create(&dir, "Äpfelöß8", catalog()).expect("8 characters are accepted");
    drop(store);
    assert!(Store::exists(&dir));
}

/// Prints and exports do not pile up: whenever the data are opened, those
/// older than the set number of days (7 unless set) are removed; newer
/// ones stay; a longer period keeps them.
#[test]
fn prints_and_exports_older_than_the_set_days_are_removed_when_the_data_are_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::create(dir.path(), PASSPHRASE, catalog()).expect("store");
    assert_eq!(store.keep_files_days().expect("days"), 7);
    drop(store);
    let file = |folder: &str, name: &str, age_days: u64| {
        let folder = dir.path().join(folder);
        std::fs::create_dir_all(&folder).expect("folder");
        let path = folder.join(name);
        std::fs::write(&path, SURNAME).expect("write");
        let then =
            std::time::SystemTime::now() - std::time::Duration::from_secs(age_days * 86_400 + 60);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(then))
            .expect("age the file");
        path
    };
    let old_print = file("prints", "Eingangsbestaetigung-KMR-0001.pdf", 8);
    let old_export = file("exports", "statistik-2026-11-01.csv", 30);
    let new_print = file("prints", "Eingangsbestaetigung-KMR-0002.pdf", 2);
    let kept_longer = file("prints", "Terminbrief-KMR-0003.pdf", 10);

    let mut store = Store::open(dir.path(), PASSPHRASE, catalog()).expect("open");
    assert!(!old_print.exists() && !old_export.exists());
    assert!(new_print.exists());
    assert!(!kept_longer.exists());

    store.set_keep_files_days(30).expect("30 days");
    assert!(store.set_keep_files_days(0).is_err());
    drop(store);
    let ten_days = file("prints", "Terminbrief-KMR-0004.pdf", 10);
    let _store = Store::open(dir.path(), PASSPHRASE, catalog()).expect("open");
    assert!(ten_days.exists(), "kept: 30 days are set");
}
