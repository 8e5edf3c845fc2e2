//! The knowledge base, through the app: the back office changes a
//! service's checklist and adds an answer in the edit mode of *Leistungen*
//! and syncs; a caseworker laptop, offline, finds the answer by search,
//! checks a new request against the new checklist, and sees that an old
//! request's list changed — without it changing. Driven through the
//! accessibility tree (kittest) on real stores with a real server.

use egui::Key;
use egui::accesskit::Role;
use sprechtag::store::Store;
use sprechtag_e2e::gui::{Gui, Queryable};
use sprechtag_e2e::{PASSPHRASE, TestServer, catalog};
use sprechtag_server::storage::Role as DeviceRole;

const NEW_NAME: &str = "Bisheriger Ausweis oder Reisepass";
const NEW_DOCUMENT: &str = "Meldebescheinigung, nicht älter als drei Monate";
const QUESTION: &str = "Wie lange gilt ein Personalausweis?";
const ANSWER: &str = "Zehn Jahre. Wer jünger als 24 ist, bekommt einen für sechs Jahre.";

#[test]
fn the_back_office_changes_a_checklist_and_answers_a_question_and_every_laptop_knows_offline() {
    let server = TestServer::start();
    let mut field = server.laptop("field", DeviceRole::Caseworker, "buergerbuero");
    // A visit recorded before the change: its checklist stays as it was.
    let old = field.new_case("Altmann", &["personalausweis"]);
    field.sync();
    let office = server.laptop("office", DeviceRole::Backoffice, "buergerbuero");
    let office_dir = office.data_dir();
    drop(office.store);

    let service = catalog()
        .service("personalausweis")
        .expect("id card")
        .clone();
    let old_name = service.documents[0].name.de.clone();
    let mut gui = Gui::new(&office_dir);
    gui.unlock();
    gui.activate(Role::Tab, "Leistungen");
    gui.fill(Role::TextInput, "Leistung suchen", "personalausweis");
    gui.activate(Role::Button, "Personalausweis beantragen");
    gui.activate(Role::Button, "Leistung bearbeiten");
    gui.fill(Role::TextInput, "Unterlage 1", NEW_NAME);
    gui.fill(Role::TextInput, "Neue Unterlage", NEW_DOCUMENT);
    gui.press(Key::Enter);
    assert!(
        gui.has(Role::TextInput, "Unterlage 3"),
        "the new document is listed"
    );
    gui.activate(Role::Button, "Leistung speichern");
    gui.wait_for("the saved service", |h| {
        h.query_by_label_contains("„Personalausweis beantragen“ gespeichert")
            .is_some()
    });
    gui.activate(Role::Button, "Frage und Antwort zu dieser Leistung");
    gui.fill(Role::TextInput, "Frage", QUESTION);
    gui.fill(
        Role::MultilineTextInput,
        "Antwort (in einfacher Sprache)",
        ANSWER,
    );
    gui.activate(Role::Button, "Antwort speichern");
    gui.wait_for("the saved answer", |h| {
        h.query_by_label_contains("Antwort gespeichert").is_some()
    });
    gui.sync_now();
    drop(gui);

    // The caseworker's laptop syncs once, then works without the server.
    field.sync();
    let field_dir = field.data_dir();
    drop(field.store);
    drop(server);
    let mut gui = Gui::new(&field_dir);
    gui.unlock();
    gui.activate(Role::Tab, "Leistungen");
    gui.fill(Role::TextInput, "Leistung suchen", "wie lange gilt");
    gui.wait_for("the answer in the results", |h| {
        h.query_by_label(ANSWER).is_some()
    });
    assert!(gui.shows(QUESTION));

    // A new visit: the request lists the new checklist.
    gui.open_office_hour("Kleinbrück", "Anna Schäfer");
    gui.shortcut(Key::N);
    gui.type_text("Neumann");
    gui.wait_saved("the new case");
    gui.fill(Role::TextInput, "Anliegen hinzufügen", "personalausweis");
    gui.press(Key::Enter);
    gui.wait_for("the new checklist", |h| {
        h.query_by_role_and_label(Role::RadioButton, &format!("{NEW_DOCUMENT}: vorgelegt"))
            .is_some()
    });
    assert!(gui.has(Role::RadioButton, &format!("{NEW_NAME}: vorgelegt")));
    assert!(!gui.shows("Unterlagenliste geändert"));
    gui.wait_saved("the request");

    // The old visit keeps its list and says what changed.
    gui.open_from_list("altmann", &format!("{} · Altmann", old.number));
    gui.wait_for("the old checklist", |h| {
        h.query_by_role_and_label(Role::RadioButton, &format!("{old_name}: vorgelegt"))
            .is_some()
    });
    assert!(!gui.has(Role::RadioButton, &format!("{NEW_DOCUMENT}: vorgelegt")));
    assert!(gui.shows("Unterlagenliste geändert"));
    assert!(gui.shows(&format!("neu: {NEW_DOCUMENT}")));
    assert!(gui.shows(&format!("„{old_name}“ heißt jetzt „{NEW_NAME}“")));
    drop(gui);

    let mut store = Store::open(&field_dir, PASSPHRASE, catalog()).expect("open");
    let kept = store.case(&old.id).expect("old case");
    assert_eq!(kept.requests[0].documents, old.requests[0].documents);
    assert_eq!(
        kept.requests[0].checklist_version,
        service.checklist_version()
    );
    let new_version = store
        .catalog()
        .service("personalausweis")
        .expect("service")
        .checklist_version();
    assert_ne!(new_version, service.checklist_version());
}

#[test]
fn a_caseworker_proposes_an_answer_which_shows_as_a_proposal_until_the_back_office_accepts_it() {
    let server = TestServer::start();
    let field = server.laptop("field", DeviceRole::Caseworker, "buergerbuero");
    let field_dir = field.data_dir();
    drop(field.store);
    let mut gui = Gui::new(&field_dir);
    gui.unlock();
    gui.activate(Role::Tab, "Leistungen");
    gui.activate(Role::Button, "Frage und Antwort hinzufügen");
    assert!(gui.shows("als Vorschlag gespeichert"));
    assert!(!gui.has(Role::Button, "Stellen bearbeiten"), "no edit mode");
    gui.fill(
        Role::TextInput,
        "Frage",
        "Kann ich im Bürgerbüro mit Karte zahlen?",
    );
    gui.fill(
        Role::MultilineTextInput,
        "Antwort (in einfacher Sprache)",
        "Ja, mit Girocard.",
    );
    gui.activate(Role::Button, "Als Vorschlag speichern");
    gui.wait_for("the proposal", |h| {
        h.query_by_label_contains("Vorschlag gespeichert").is_some()
    });
    gui.fill(Role::TextInput, "Leistung suchen", "karte");
    assert!(gui.shows("(Vorschlag)"));
    gui.sync_now();
    drop(gui);

    let mut office = server.laptop("office", DeviceRole::Backoffice, "buergerbuero");
    office.sync();
    let office_dir = office.data_dir();
    drop(office.store);
    let mut gui = Gui::new(&office_dir);
    gui.unlock();
    gui.activate(Role::Tab, "Leistungen");
    gui.wait_for("the proposals", |h| {
        h.query_by_label_contains("Vorschläge aus dem Außendienst (1)")
            .is_some()
    });
    gui.activate(
        Role::Button,
        "Antwort freigeben: Kann ich im Bürgerbüro mit Karte zahlen?",
    );
    gui.wait_for("the accepted answer", |h| {
        h.query_by_label_contains("Antwort freigegeben").is_some()
    });
    gui.fill(Role::TextInput, "Leistung suchen", "karte");
    assert!(!gui.shows("(Vorschlag)"));
}

#[test]
fn an_imported_catalogue_becomes_everybodys_with_the_next_sync_and_only_the_back_office_edits_it() {
    let server = TestServer::start();
    let mut office = server.laptop("office", DeviceRole::Backoffice, "buergerbuero");
    // Another department: the knowledge base is the county's.
    let mut field = server.laptop("field", DeviceRole::Caseworker, "sozialamt");
    let mut edition = (*catalog()).clone();
    edition.version = "2027-01-01".into();
    edition.offices[0].email = "neu@kreis.example".into();
    office
        .store
        .import_catalog(edition.clone())
        .expect("import");
    office.sync();
    field.sync();
    assert_eq!(field.store.catalog().version, "2027-01-01");
    assert_eq!(field.store.catalog().offices[0].email, "neu@kreis.example");

    // A caseworker's laptop refuses before the server would.
    let refused = field.store.import_catalog(edition);
    assert!(
        matches!(refused, Err(sprechtag::store::StoreError::Forbidden { .. })),
        "{refused:?}"
    );
    // An edit that would leave the catalogue inconsistent is refused
    // whole, and nothing of it is stored.
    let broken = office.store.edit_catalog("point to nowhere", |catalog| {
        catalog.services[0].office_id = "nirgends".into();
        Ok(())
    });
    assert!(
        matches!(broken, Err(sprechtag::store::StoreError::Invalid(_))),
        "{broken:?}"
    );
    assert_eq!(office.store.pending_count().expect("pending"), 0);
    // An office's address, as the edit mode stores it.
    let mut office_entry = office.store.catalog().offices[1].clone();
    office_entry.email = "zulassung-neu@kreis.example".into();
    office_entry.share_citizen_contact = true;
    office.store.save_office(office_entry).expect("save office");
    office.sync();
    field.sync();
    let seen = &field.store.catalog().offices[1];
    assert_eq!(seen.email, "zulassung-neu@kreis.example");
    assert!(seen.share_citizen_contact);
}
