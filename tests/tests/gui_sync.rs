//! What a caseworker records in the desktop app reaches the server and the
//! back office: the app is driven through its accessibility tree (kittest)
//! on a real, enrolled store, syncs with a real server from its own status
//! bar, and a second laptop receives the case.

use egui::Key;
use egui::accesskit::Role;
use egui_kittest::kittest::NodeT;
use sprechtag::store::{CaseFilter, Store};
use sprechtag_e2e::gui::{Gui, Queryable, button_starting_with};
use sprechtag_e2e::{PASSPHRASE, TestServer, catalog};
use sprechtag_schemas::{CaseStatus, DocumentState, IsoDate};
use sprechtag_server::storage::{Role as DeviceRole, Storage};

/// Regression: the editor's first edit after creating a case cleared the
/// department it had never seen, and the server refused every visit
/// recorded in the GUI (`wrong_department`).
#[test]
fn a_visit_recorded_and_edited_in_the_gui_reaches_the_back_office_field_by_field() {
    let server = TestServer::start();
    let field = server.laptop("laptop-kleinbrueck", DeviceRole::Caseworker, "buergerbuero");
    let data_dir = field.data_dir();
    drop(field.store);
    let service = catalog()
        .service("personalausweis")
        .expect("id card")
        .clone();
    let (old_card, photo) = (&service.documents[0].name.de, &service.documents[1].name.de);

    let mut gui = Gui::new(&data_dir);
    gui.unlock();
    gui.activate(Role::Button, "Sprechtag eröffnen");
    gui.type_text("Kleinbrück");
    gui.press(Key::Tab);
    gui.type_text("Dorfgemeinschaftshaus");
    gui.fill(Role::TextInput, "Sachbearbeitung", "Anna Schäfer");
    gui.activate(Role::Button, "Eröffnen");
    gui.wait_office_hour_open();

    // The visit: created with the first letters of the name …
    gui.shortcut(Key::N);
    gui.type_text("Krüger");
    gui.wait_saved("the new case");
    // … then edited field by field, each edit saved on the last.
    for (label, text) in [
        ("Vorname(n)", "Hans-Jürgen"),
        ("Geburtsdatum (TT.MM.JJJJ)", "14.03.1941"),
        ("Straße und Hausnummer", "Lindenweg 3"),
        ("Postleitzahl", "09484"),
        ("Wohnort", "Kleinbrück"),
        ("Telefon", "037348 1234"),
    ] {
        gui.fill(Role::TextInput, label, text);
        gui.wait_saved(label);
    }
    gui.activate(Role::CheckBox, "Großdruck");
    gui.activate(
        Role::CheckBox,
        "Einwilligung in die Datenverarbeitung erteilt",
    );
    gui.fill(Role::TextInput, "Anliegen hinzufügen", "ausw");
    gui.press(Key::Enter);
    gui.activate(Role::RadioButton, &format!("{photo}: vorgelegt"));
    gui.activate(Role::RadioButton, &format!("{old_card}: fehlt"));
    gui.fill(
        Role::TextInput,
        &format!("Notiz zu {old_card}"),
        "bringt die Tochter vorbei",
    );
    gui.fill(
        Role::MultilineTextInput,
        "Notizen zum Besuch",
        "Hörgerät beachten.",
    );
    gui.wait_saved("the whole visit");

    // Sync from the status bar, as the caseworker would.
    gui.sync_now();
    assert!(!gui.shows("abgelehnt"), "nothing is refused");
    drop(gui);

    // The back office receives the case with every field intact.
    let mut office = server.laptop("backoffice", DeviceRole::Backoffice, "buergerbuero");
    office.sync();
    let mut recorded = Store::open(&data_dir, PASSPHRASE, catalog()).expect("open the laptop");
    let row = recorded
        .list_cases(&CaseFilter::default())
        .expect("list")
        .rows
        .pop()
        .expect("the visit");
    let ours = recorded.case(&row.id).expect("the laptop's case");
    let theirs = office.store.case(&row.id).expect("the back office has it");
    assert_eq!(theirs, ours);
    assert_eq!(theirs.department.as_deref(), Some("buergerbuero"));
    assert_eq!(theirs.citizen.surname, "Krüger");
    assert_eq!(theirs.citizen.given_names, "Hans-Jürgen");
    assert_eq!(
        theirs.citizen.birth_date,
        Some("1941-03-14".parse::<IsoDate>().expect("date"))
    );
    assert_eq!(theirs.citizen.address.street, "Lindenweg 3");
    assert_eq!(theirs.citizen.address.postcode, "09484");
    assert_eq!(theirs.citizen.address.town, "Kleinbrück");
    assert_eq!(theirs.citizen.phone, "037348 1234");
    assert!(theirs.citizen.needs.large_print);
    assert!(theirs.citizen.consent.given);
    assert_eq!(theirs.citizen.consent.date, Some(IsoDate::today()));
    assert_eq!(theirs.status, CaseStatus::Open);
    // Recorded in the enrolled user's name (the server takes no other),
    // not the name typed into the office hour.
    assert_eq!(theirs.created_by, "laptop-kleinbrueck-user");
    assert!(theirs.office_hour_id.is_some());
    let request = &theirs.requests[0];
    assert_eq!(request.service_id, "personalausweis");
    assert_eq!(request.documents[0].state, DocumentState::Missing);
    assert_eq!(request.documents[0].note, "bringt die Tochter vorbei");
    assert_eq!(request.documents[1].state, DocumentState::Presented);
    assert_eq!(theirs.notes.as_str(), "Hörgerät beachten.");
    assert_eq!(theirs.editors.len(), 1, "the laptop signed its edits");
}

/// A case the server refuses is named by number and citizen in the status
/// bar, with the reason and what to do, in German.
#[test]
fn a_refused_case_is_reported_by_number_and_name_in_plain_german() {
    let server = TestServer::start();
    let mut field = server.laptop("laptop", DeviceRole::Caseworker, "buergerbuero");
    let case = field.new_case("Müller", &["personalausweis"]);
    // A case that lost its department (as the GUI's defect made them).
    field
        .store
        .set_case_field(&case.id, "department", "null")
        .expect("clear the department");
    let data_dir = field.data_dir();
    drop(field.store);

    let mut gui = Gui::new(&data_dir);
    // The sync worker syncs as soon as the store is unlocked.
    gui.unlock();
    let expected = format!(
        "Fall {} (Müller, Erika) wurde vom Server abgelehnt: Die Abteilung dieses Geräts ist \
         darin nicht eingetragen. Die Daten bleiben auf diesem Gerät gespeichert. Bitte wenden \
         Sie sich an die Administration.",
        case.number
    );
    gui.wait_for("the refusal", |h| h.query_by_label(&expected).is_some());
}

/// A laptop used before it was enrolled: enrolment gives its visits
/// numbers with the enrolled prefix (the server takes a new case with no
/// other), and the old number — perhaps on a receipt the citizen holds —
/// still finds the case, in the app and on the back office's laptop, and
/// stands on the receipt beside the new one.
#[test]
fn a_visit_recorded_before_enrolment_gets_the_enrolled_prefix_and_keeps_its_old_number() {
    let server = TestServer::start();
    let code = server.enrolment_code("laptop-1", DeviceRole::Caseworker, "buergerbuero");
    let dir = tempfile::tempdir().expect("tempdir");
    let open = || Store::open(dir.path(), PASSPHRASE, catalog()).expect("open the laptop");

    let mut gui = Gui::new(dir.path());
    gui.unlock_first_start();
    gui.open_office_hour("Kleinbrück", "Anna Schäfer");
    gui.shortcut(Key::N);
    gui.type_text("Krüger");
    gui.wait_saved("the visit before enrolment");
    let old_prefix = open().device().prefix.clone();
    let old_number = format!("{old_prefix}-0001");

    gui.activate(Role::Tab, "Einstellungen");
    gui.fill(Role::TextInput, "Server-Adresse", &server.url);
    gui.fill(Role::TextInput, "Anmeldecode", &code);
    gui.press(Key::Enter);
    gui.wait_for("the enrolment", |h| {
        h.query_by_label_contains("Das Gerät ist angemeldet.")
            .is_some()
    });
    let prefix = open().device().prefix.clone();
    assert_ne!(prefix, old_prefix);
    let number = format!("{prefix}-0002");

    // The old number finds the case under its new one.
    gui.open_from_list(&old_number, &format!("{number} · Krüger"));
    assert!(gui.shows(&format!("(vorher {old_number})")));
    gui.sync_now();
    assert!(!gui.shows("abgelehnt"), "nothing is refused");
    drop(gui);

    let mut recorded = open();
    let case = recorded.case(&old_number).expect("found by its old number");
    assert_eq!(case.number, number);
    assert_eq!(case.former_numbers, vec![old_number.clone()]);
    assert_eq!(
        case.created_by, "laptop-1-user",
        "in the enrolled user's name"
    );

    // The back office indexes it from the server's summary: the old
    // number finds it there too.
    let mut office = server.laptop("backoffice", DeviceRole::Backoffice, "buergerbuero");
    office.sync();
    let found = office
        .store
        .list_cases(&CaseFilter {
            search: old_number.clone(),
            ..CaseFilter::default()
        })
        .expect("search");
    assert_eq!(found.total, 1, "{found:?}");
    assert_eq!(found.rows[0].number, number);
    assert_eq!(
        office.store.case(&old_number).expect("resolved").id,
        case.id
    );

    // The receipt names both numbers.
    let printed = sprechtag::print::make(
        &mut recorded,
        sprechtag::print::PrintKind::Receipt,
        &case.id,
    )
    .expect("receipt");
    let pdf = dir.path().join("receipt-test.pdf");
    std::fs::write(&pdf, &printed.bytes).expect("write");
    let text = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("{number} (vorher {old_number})")),
        "{text}"
    );
}

/// A citizen asks the back office to erase their data: in the app, the
/// case's *Fall löschen* asks first (naming number and citizen, saying it
/// cannot be undone) for a reason; the case is gone at once, the server
/// learns it at the next sync, and the caseworker's laptop drops its copy.
#[test]
fn the_back_office_erases_a_case_in_the_app_and_every_laptop_drops_it() {
    let server = TestServer::start();
    let mut field = server.laptop("laptop-kleinbrueck", DeviceRole::Caseworker, "buergerbuero");
    let case = field.new_case("Krüger", &["wohngeld"]);
    let kept = field.new_case("Lorenz", &["personalausweis"]);
    field.sync();
    let office = server.laptop("backoffice", DeviceRole::Backoffice, "buergerbuero");
    let data_dir = office.data_dir();
    drop(office.store);

    let mut gui = Gui::new(&data_dir);
    gui.unlock();
    gui.sync_now();
    gui.activate(Role::Tab, "Fälle");
    gui.open_from_list("krüger", &format!("{} · Krüger, Erika", case.number));
    gui.activate(Role::Button, "Fall löschen …");
    assert!(
        gui.shows(&format!(
            "Fall {} von Erika Krüger wird auf diesem Gerät, auf dem Server und auf allen \
             Laptops endgültig gelöscht",
            case.number
        )),
        "the confirmation names the case and the citizen"
    );
    assert!(gui.shows("Das lässt sich nicht rückgängig machen."));
    // No reason, no erasure.
    assert!(
        gui.harness
            .get_by_role_and_label(Role::Button, "Endgültig löschen")
            .accesskit_node()
            .is_disabled(),
        "the button waits for a reason"
    );
    gui.fill(
        Role::TextInput,
        "Grund (ohne persönliche Daten, z. B. „Antrag nach Art. 17 DSGVO“)",
        "Antrag nach Art. 17 DSGVO",
    );
    gui.activate(Role::Button, "Endgültig löschen");
    gui.wait_for("the erasure", |h| {
        h.query_by_label_contains(&format!("Fall {} wurde gelöscht.", case.number))
            .is_some()
    });
    gui.wait_for("the case to leave the list", |h| {
        h.query_by(button_starting_with(&format!("{} ·", case.number)))
            .is_none()
    });
    gui.sync_now();
    drop(gui);

    let report = field.sync();
    assert_eq!(report.erased, 1, "{report:?}");
    assert!(matches!(
        field.store.case(&case.id),
        Err(sprechtag::store::StoreError::Erased { .. })
    ));
    assert_eq!(
        field.store.case(&kept.id).expect("the other case stays").id,
        kept.id
    );
    let office = Store::open(&data_dir, PASSPHRASE, catalog()).expect("open the back office");
    assert_eq!(
        office
            .list_cases(&CaseFilter::default())
            .expect("list")
            .total,
        1
    );
    assert_eq!(
        server
            .storage()
            .tombstones()
            .expect("tombstones")
            .iter()
            .map(|t| t.number.as_str())
            .collect::<Vec<_>>(),
        [case.number.as_str()]
    );
}

/// A laptop is lost: the administrator revokes it with `--wipe`. At its
/// next contact the app deletes its database, key, prints and exports and
/// shows only that it was revoked — also after a restart.
#[test]
fn a_laptop_revoked_with_wipe_deletes_its_data_at_its_next_contact() {
    let server = TestServer::start();
    let mut field = server.laptop("laptop-kleinbrueck", DeviceRole::Caseworker, "buergerbuero");
    let case = field.new_case("Krüger", &["wohngeld"]);
    field.sync();
    let printed = sprechtag::print::make(
        &mut field.store,
        sprechtag::print::PrintKind::Receipt,
        &case.id,
    )
    .expect("print");
    let receipt = sprechtag::print::save_in_data_dir(
        &field.data_dir(),
        sprechtag::print::PrintKind::Receipt,
        &printed.name,
        &printed.bytes,
    )
    .expect("save the receipt");
    let device_id = field
        .store
        .enrolment()
        .expect("enrolment")
        .expect("enrolled")
        .device_id;
    let data_dir = field.data_dir();
    drop(field.store);

    let mut gui = Gui::new(&data_dir);
    gui.unlock();
    gui.activate(Role::Tab, "Fälle");
    gui.wait_for("the case in the list", |h| {
        h.query_by(button_starting_with(&format!("{} ·", case.number)))
            .is_some()
    });
    assert!(
        server
            .storage()
            .revoke_device(&device_id, true)
            .expect("revoke with wipe")
    );
    gui.activate(Role::Button, "Jetzt synchronisieren");
    gui.wait_for("the wipe", |h| {
        h.query_by_label_contains("Dieses Gerät wurde gesperrt. Die Daten wurden gelöscht.")
            .is_some()
    });
    assert!(
        gui.harness
            .query_by(button_starting_with(&format!("{} ·", case.number)))
            .is_none(),
        "nothing of the session stays on screen"
    );
    drop(gui);

    let left: Vec<String> = std::fs::read_dir(&data_dir)
        .expect("the data dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["GESPERRT.txt"], "only the note is left");
    assert!(!receipt.exists());
    // A restart shows the same, and sets up no new store.
    let gui = Gui::new(&data_dir);
    assert!(
        gui.harness
            .query_by_label_contains("Dieses Gerät wurde gesperrt.")
            .is_some()
    );
    assert!(
        Store::create(&data_dir, PASSPHRASE, catalog()).is_err(),
        "no new store over a wiped one"
    );
    let device = server
        .storage()
        .devices()
        .expect("devices")
        .into_iter()
        .find(|d| d.id == device_id)
        .expect("the device");
    assert!(device.wipe_delivered_at.is_some());
    let audit = server
        .storage()
        .audit_entries(&sprechtag_server::audit::Filter {
            device_id: Some(device_id),
            ..Default::default()
        })
        .expect("audit");
    assert!(audit.iter().any(|e| e.event == "wipe_delivered"));
}

/// A wrong note is corrected in the app: *Berichtigen …* asks for the
/// field, the right value and a reason; the case comes back under its
/// number with the right value, its history says it was cut short, and
/// the caseworker's laptop takes the correction at its next sync.
#[test]
fn the_back_office_corrects_a_note_in_the_app_without_its_history() {
    let server = TestServer::start();
    let mut field = server.laptop("laptop-kleinbrueck", DeviceRole::Caseworker, "buergerbuero");
    let case = field.new_case("Krüger", &["wohngeld"]);
    field
        .store
        .set_case_field(&case.id, "notes", "Diagnose Zebrafieber")
        .expect("the wrong note");
    field.sync();
    let office = server.laptop("backoffice", DeviceRole::Backoffice, "buergerbuero");
    let data_dir = office.data_dir();
    drop(office.store);

    let mut gui = Gui::new(&data_dir);
    gui.unlock();
    gui.sync_now();
    gui.activate(Role::Tab, "Fälle");
    gui.open_from_list("krüger", &format!("{} · Krüger, Erika", case.number));
    gui.activate(Role::Button, "Berichtigen …");
    assert!(gui.shows(
        "der falsche Wert wird auf diesem Gerät, auf dem Server und auf allen Laptops gelöscht"
    ));
    // Notes are the field offered first.
    gui.fill(Role::MultilineTextInput, "Richtiger Wert", "Keine Angaben");
    gui.fill(
        Role::TextInput,
        "Grund (ohne persönliche Daten, z. B. „Berichtigung nach Art. 16 DSGVO“)",
        "Berichtigung nach Art. 16 DSGVO",
    );
    gui.activate(Role::Button, "Berichtigen und alten Wert löschen");
    gui.wait_for("the corrected case", |h| {
        h.query_by_label_contains(&format!("Fall {} wurde berichtigt.", case.number))
            .is_some()
    });
    let notes = gui
        .harness
        .get_by_role_and_label(Role::MultilineTextInput, "Notizen zum Besuch")
        .accesskit_node()
        .value();
    assert_eq!(notes.as_deref(), Some("Keine Angaben"));
    gui.activate(Role::Button, "Verlauf anzeigen");
    gui.wait_for("the history note", |h| {
        h.query_by_label_contains("wegen Berichtigung gelöscht.")
            .is_some()
    });
    gui.sync_now();
    drop(gui);

    field.sync();
    let now = field.store.case(&case.number).expect("by its number");
    assert_ne!(now.id, case.id);
    assert_eq!(now.notes.as_str(), "Keine Angaben");
    assert_eq!(now.citizen.surname, "Krüger");
}

#[test]
fn a_damaged_store_opens_read_only_in_the_app_and_a_restore_and_a_sync_bring_everything_back() {
    let server = TestServer::start();
    let mut field = server.laptop("laptop-kleinbrueck", DeviceRole::Caseworker, "buergerbuero");
    let before = field.new_case("Vorher", &["wohngeld"]);
    field.sync();
    // The app's automatic backup (daily, and when an office hour closes).
    field.store.backup_now().expect("backup");
    let after = field.new_case("Nachher", &["reisepass"]);
    field.sync();
    let data_dir = field.data_dir();
    drop(field.store);
    // The disk fails under a page of the cases' documents.
    let database = data_dir.join(sprechtag::store::DATABASE_FILE);
    let pages = std::fs::metadata(&database).expect("db").len() / 4096;
    let mut bytes = std::fs::read(&database).expect("read");
    let at = usize::try_from((pages - 2) * 4096 + 300).expect("offset");
    bytes[at..at + 64].fill(0x5a);
    std::fs::write(&database, bytes).expect("damage");

    let mut gui = Gui::new(&data_dir);
    gui.unlock();
    gui.wait_for("the damage banner", |h| {
        h.query_by_label_contains("Die Daten auf diesem Laptop sind beschädigt")
            .is_some()
    });
    assert!(
        !gui.has(Role::Button, "Jetzt synchronisieren")
            && gui.shows("Kein Abgleich: Die Daten sind beschädigt."),
        "a damaged store is not synced"
    );
    gui.activate(Role::Button, "Sicherung wiederherstellen …");
    gui.wait_for("the restore offer", |h| {
        h.query_by(button_starting_with("Sicherung vom")).is_some()
    });
    assert!(gui.is_focused(Role::PasswordInput, "Passphrase"));
    gui.type_text(PASSPHRASE);
    gui.harness
        .get_by(button_starting_with("Sicherung vom"))
        .focus();
    gui.harness.run_steps(2);
    gui.press(Key::Enter);
    gui.wait_for("the restored store", |h| {
        h.query_by_label_contains("wurde wiederhergestellt")
            .is_some()
    });
    assert!(!gui.shows("Die Daten auf diesem Laptop sind beschädigt"));
    let quarantine = data_dir.join(sprechtag::store::backup::QUARANTINE_DIR);
    assert_eq!(
        std::fs::read_dir(&quarantine).expect("quarantine").count(),
        1,
        "the damaged store is kept aside"
    );
    gui.sync_now();
    gui.activate(Role::Tab, "Fälle");
    for case in [&before, &after] {
        gui.wait_for("every case back in the list", |h| {
            h.query_by(button_starting_with(&format!("{} ·", case.number)))
                .is_some()
        });
    }
}

#[test]
fn the_app_makes_its_daily_backup_after_unlocking_and_no_second_one_that_day() {
    let root = tempfile::tempdir().expect("dir");
    let data = root.path().join("data");
    let mut store = Store::create(&data, PASSPHRASE, catalog()).expect("a store");
    store
        .create_case(sprechtag_schemas::Case::draft(sprechtag_schemas::Citizen {
            surname: "Gesichert".into(),
            ..sprechtag_schemas::Citizen::default()
        }))
        .expect("a case");
    drop(store);
    let backups = data.join(sprechtag::store::backup::BACKUPS_DIR);
    let count = |dir: &std::path::Path| std::fs::read_dir(dir).map_or(0, Iterator::count);
    let mut gui = Gui::new(&data);
    gui.unlock();
    gui.wait_for("the daily backup", |_| count(&backups) == 1);
    drop(gui);
    let mut gui = Gui::new(&data);
    gui.unlock();
    gui.wait_for("the lists", |h| {
        h.query_by_role_and_label(Role::Tab, "Fälle").is_some()
    });
    // The worker answers the lists first, then looks at the backup: give
    // it a second, and there must still be one.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while std::time::Instant::now() < until {
        gui.harness.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(count(&backups), 1, "one a day");
    }
    let listed = sprechtag::store::backup::list_backups(&data);
    assert_eq!(listed.len(), 1);
    // It opens with the passphrase and holds the case.
    let restored = tempfile::tempdir().expect("dir");
    sprechtag::store::backup::restore(&restored.path().join("data"), &listed[0].path, PASSPHRASE)
        .expect("restore the backup elsewhere");
    let store = Store::open(&restored.path().join("data"), PASSPHRASE, catalog()).expect("open");
    assert_eq!(
        store
            .list_cases(&CaseFilter::default())
            .expect("list")
            .total,
        1
    );
}
