//! What a screen reader gets from the app, checked in its accessibility
//! tree: the window's name, headings, tabs, live regions for messages,
//! and where the keyboard focus goes after an error or a removal.

use std::path::Path;
use std::sync::Arc;

use egui::Key;
use egui::accesskit::{Live, Role};
use egui_kittest::kittest::NodeT;
use sprechtag::store::Store;
use sprechtag_e2e::gui::{Gui, Queryable, button_starting_with};
use sprechtag_e2e::{PASSPHRASE, catalog, enrol_offline};
use sprechtag_schemas::{Case, Citizen, Request, Role as DeviceRole};

/// A store with one case of two requests; enrolled with `role` if given.
fn store_with_a_case(dir: &Path, role: Option<DeviceRole>) -> Case {
    let mut store = Store::create(dir, PASSPHRASE, catalog()).expect("create");
    if let Some(role) = role {
        enrol_offline(&mut store, role);
    }
    let catalog = catalog();
    let mut draft = Case::draft(Citizen {
        surname: "Krüger".into(),
        given_names: "Erika".into(),
        ..Citizen::default()
    });
    for service in ["wohngeld", "personalausweis"] {
        draft.requests.push(Request::for_service(
            catalog.service(service).expect("service"),
        ));
    }
    store.create_case(draft).expect("case")
}

fn window_name(gui: &Gui) -> String {
    gui.harness
        .root()
        .accesskit_node()
        .label()
        .unwrap_or_default()
}

fn live(gui: &Gui, label: &str) -> Live {
    gui.harness.get_by_label(label).accesskit_node().live()
}

#[test]
fn the_window_says_where_the_user_is_and_screens_have_headings_and_tabs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let case = store_with_a_case(dir.path(), None);
    let mut gui = Gui::new(dir.path());
    assert_eq!(window_name(&gui), "Sprechtag – Entsperren");
    gui.unlock();
    assert_eq!(window_name(&gui), "Sprechtag – Sprechtage");
    assert!(gui.has(Role::TabList, "Bereiche"));
    assert_eq!(gui.harness.query_all_by_role(Role::Tab).count(), 8);
    let selected = gui.harness.get_by_role_and_label(Role::Tab, "Sprechtage");
    assert_eq!(selected.accesskit_node().is_selected(), Some(true));
    assert!(gui.has(Role::Heading, "Sprechtage"));

    gui.open_from_list("krüger", &format!("{} · Krüger, Erika", case.number));
    gui.wait_for("the editor", |h| {
        h.query_by_role_and_label(Role::Heading, "Anliegen")
            .is_some()
    });
    assert_eq!(
        window_name(&gui),
        format!("Sprechtag – Fall {} · Krüger, Erika", case.number)
    );
    let heading = format!("{} · Krüger, Erika", case.number);
    let title = gui.harness.get_by_role_and_label(Role::Heading, &heading);
    assert_eq!(title.accesskit_node().level(), Some(1));
    for section in ["Angaben zur Person", "Anliegen", "Notizen", "Folgetermin"] {
        let heading = gui.harness.get_by_role_and_label(Role::Heading, section);
        assert_eq!(heading.accesskit_node().level(), Some(2), "{section}");
    }
    let request = gui
        .harness
        .get_by_role_and_label(Role::Heading, "Wohngeld beantragen");
    assert_eq!(request.accesskit_node().level(), Some(3));
    // The case list's header row: column headers with names; a combo box
    // says what it shows.
    gui.shortcut(Key::F);
    let status = gui.harness.get_by_role_and_label(Role::ComboBox, "Status");
    assert_eq!(
        status.accesskit_node().description().as_deref(),
        Some("alle")
    );
    assert!(gui.has(Role::ColumnHeader, "Unterlagen"));
    assert!(gui.has(Role::ColumnHeader, "Frist"));
}

#[test]
fn saved_and_search_counts_are_spoken_as_they_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let case = store_with_a_case(dir.path(), None);
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.shortcut(Key::F);
    gui.type_text("krü");
    gui.wait_for("the count", |h| {
        h.query_by_label("1 von 1 Fällen").is_some()
    });
    assert_eq!(live(&gui, "1 von 1 Fällen"), Live::Polite);
    gui.type_text("xyz");
    gui.wait_for("no match", |h| {
        h.query_by_label("Keine Fälle gefunden").is_some()
    });
    assert_eq!(live(&gui, "Keine Fälle gefunden"), Live::Polite);

    gui.fill(Role::TextInput, "Suche", "krüger");
    let entry = format!("{} · Krüger, Erika", case.number);
    gui.wait_for("the case", |h| {
        h.query_by(button_starting_with(&entry)).is_some()
    });
    gui.harness.get_by(button_starting_with(&entry)).focus();
    gui.harness.run_steps(2);
    gui.press(Key::Enter);
    // The case loads on the store's thread.
    gui.wait_for("the case in the editor", |h| {
        h.query_by_role_and_label(Role::TextInput, "Telefon")
            .is_some()
    });
    gui.fill(Role::TextInput, "Telefon", "0171 555");
    gui.wait_saved("the phone number");
    // Spoken once the edits pause, as a live region of its own.
    gui.wait_for("'Gespeichert' to be spoken", |h| {
        h.query_by_label("Gespeichert")
            .is_some_and(|n| n.accesskit_node().live() == Live::Polite)
    });
}

#[test]
fn a_failed_booking_names_every_wrong_field_at_it_and_focuses_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let case = store_with_a_case(dir.path(), None);
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.open_from_list("krüger", &format!("{} · Krüger, Erika", case.number));
    gui.fill(Role::TextInput, "Uhrzeit (HH:MM)", "25:99");
    // Enter in a field submits the form.
    gui.press(Key::Enter);
    let date_error = gui
        .harness
        .get_by_label_contains("Bitte ein gültiges Datum eingeben");
    // Polite: the focus moves to the first wrong field, which says its
    // error as its description; the others follow without interrupting.
    assert_eq!(date_error.accesskit_node().live(), Live::Polite);
    let invalid = gui
        .harness
        .get_by_role_and_label(Role::TextInput, "Uhrzeit (HH:MM)");
    assert_eq!(
        invalid.accesskit_node().data().invalid(),
        Some(egui::accesskit::Invalid::True)
    );
    assert!(gui.shows("Bitte die Uhrzeit als HH:MM eingeben"));
    assert!(gui.shows("Bitte angeben, worum es bei dem Termin geht."));
    let date = gui
        .harness
        .get_by_role_and_label(Role::TextInput, "Datum (TT.MM.JJJJ)");
    assert!(date.is_focused(), "the first wrong field has the focus");
    assert!(
        date.accesskit_node()
            .description()
            .is_some_and(|d| d.starts_with("Bitte ein gültiges Datum")),
        "the field carries its error"
    );
}

#[test]
fn a_removed_request_can_be_put_back_and_the_focus_is_never_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let case = store_with_a_case(dir.path(), None);
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.open_from_list("krüger", &format!("{} · Krüger, Erika", case.number));
    gui.activate(Role::Button, "Anliegen entfernen: Wohngeld beantragen");
    assert!(!gui.has(Role::Heading, "Wohngeld beantragen"));
    let undo = "Entfernen rückgängig machen: Wohngeld beantragen";

    gui.wait_for("the undo button", |h| {
        h.query_by_role_and_label(Role::Button, undo)
            .is_some_and(|b| b.is_focused())
    });
    assert_eq!(
        live(&gui, "Anliegen „Wohngeld beantragen“ entfernt."),
        Live::Polite
    );
    gui.wait_saved("the removal");
    gui.press(Key::Enter);
    gui.wait_saved("the request put back");
    assert!(gui.has(Role::Heading, "Wohngeld beantragen"));
    assert!(
        gui.harness
            .get_by_role_and_label(Role::TextInput, "Anliegen hinzufügen")
            .is_focused()
    );
    drop(gui);
    let mut store = Store::open(dir.path(), PASSPHRASE, catalog()).expect("open");
    let stored = store.case(&case.id).expect("case");
    let services: Vec<&str> = stored
        .requests
        .iter()
        .map(|r| r.service_id.as_str())
        .collect();
    assert_eq!(
        services,
        ["wohngeld", "personalausweis"],
        "back in its place"
    );
}

#[test]
fn after_a_wrong_passphrase_the_passphrase_field_keeps_the_focus() {
    let dir = tempfile::tempdir().expect("tempdir");
    Store::create(dir.path(), PASSPHRASE, Arc::clone(&catalog())).expect("create");
    let mut gui = Gui::new(dir.path());
    gui.type_text("falsch-falsch");
    gui.press(Key::Enter);
    gui.wait_for("the error", |h| {
        h.query_by_label_contains("Falsche Passphrase").is_some()
    });
    let error = gui.harness.get_by_label_contains("Falsche Passphrase");
    assert_eq!(error.accesskit_node().live(), Live::Assertive);
    assert!(gui.is_focused(Role::PasswordInput, "Passphrase"));
    // Typing again goes straight into the field.
    gui.unlock();
}

#[test]
fn each_role_sees_the_controls_that_fit_it() {
    // Not enrolled: forwarding and verdicts folded away until asked for.
    let dir = tempfile::tempdir().expect("tempdir");
    let case = store_with_a_case(dir.path(), None);
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.open_from_list("krüger", &format!("{} · Krüger, Erika", case.number));
    let folded = "Rückmeldung und Weiterleitung";
    assert!(!gui.has(Role::Button, "Rückfrage stellen"));
    gui.activate(Role::DisclosureTriangle, folded);
    assert!(gui.has(Role::Button, "Rückfrage stellen"));
    assert!(gui.has(Role::Button, "Wohngeld beantragen weiterleiten"));
    drop(gui);

    // The back office: everything open, forwarding beside each request.
    let dir = tempfile::tempdir().expect("tempdir");
    let case = store_with_a_case(dir.path(), Some(DeviceRole::Backoffice));
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    assert!(
        gui.has(Role::Button, "Sprechtag planen"),
        "tours are planned here"
    );
    gui.open_from_list("krüger", &format!("{} · Krüger, Erika", case.number));
    assert!(!gui.has(Role::DisclosureTriangle, folded));
    assert!(gui.has(Role::Button, "Rückfrage stellen"));
    gui.activate(Role::Button, "Wohngeld beantragen weiterleiten");
    gui.wait_for("the forwarding", |h| {
        h.query_by_role_and_label(Role::CheckBox, "Wohngeld beantragen erledigt")
            .is_some()
    });
    gui.wait_saved("the forwarding");
    drop(gui);

    // The same case on a caseworker's laptop: the forwarding shows, but
    // neither the verdicts nor the answer and the settled box.
    let mut store = Store::open(dir.path(), PASSPHRASE, catalog()).expect("open");
    enrol_offline(&mut store, DeviceRole::Caseworker);
    drop(store);
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    assert!(!gui.has(Role::Button, "Sprechtag planen"));
    assert!(gui.has(Role::Button, "Sprechtag eröffnen"));
    gui.open_from_list("krüger", &format!("{} · Krüger, Erika", case.number));
    assert!(gui.shows("Weitergeleitet an"));
    assert!(!gui.has(Role::Button, "Rückfrage stellen"));
    assert!(!gui.has(Role::CheckBox, "Wohngeld beantragen erledigt"));
    assert!(!gui.has(Role::TextInput, "Antwort der Stelle"));
    assert!(gui.has(Role::Button, "Kommentar hinzufügen"));
}

/// Whether the app asked the window system to cancel a close in the last frame.
fn close_cancelled(gui: &Gui) -> bool {
    gui.harness
        .output()
        .viewport_output
        .values()
        .any(|v| v.commands.contains(&egui::ViewportCommand::CancelClose))
}

#[test]
fn an_unnamed_new_visit_is_not_dropped_without_asking() {
    let dir = tempfile::tempdir().expect("tempdir");
    store_with_a_case(dir.path(), None);
    {
        let mut store = Store::open(dir.path(), PASSPHRASE, catalog()).expect("open");
        store
            .open_office_hour(sprechtag::store::NewOfficeHour {
                village: "Kleinbrück".into(),
                venue: "Dorfgemeinschaftshaus".into(),
                date: sprechtag_schemas::IsoDate::today(),
                caseworker: "Anna Schäfer".into(),
            })
            .expect("office hour");
    }
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.select_office_hour("Kleinbrück – geöffnet");
    gui.activate(Role::Button, "Neuer Besuch (Strg+N)");
    gui.fill(Role::TextInput, "Telefon", "037348 1234");
    gui.press(Key::Escape);
    let warning = "Ohne Namen wird dieser Besuch nicht gespeichert.";
    gui.wait_for("the question", |h| h.query_by_label(warning).is_some());
    assert!(gui.is_focused(Role::Button, "Namen eingeben"));
    // Escape again, another tab, or closing the window: still asked.
    gui.press(Key::Escape);
    gui.activate(Role::Tab, "Fälle");
    assert!(gui.has(Role::TextInput, "Telefon"), "the visit stays open");
    gui.harness
        .input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    gui.harness.step();
    assert!(close_cancelled(&gui), "the window stays open");
    // "Namen eingeben" goes back to the name.
    gui.press(Key::Enter);
    gui.harness.run_steps(2);
    assert!(gui.is_focused(Role::TextInput, "Nachname"));
    // Discarding is a choice of its own.
    gui.press(Key::Escape);
    gui.activate(Role::Button, "Besuch verwerfen");
    gui.wait_for("the office hour again", |h| {
        h.query_by_role_and_label(Role::TextInput, "Telefon")
            .is_none()
    });
}

#[test]
fn the_app_locks_itself_when_left_alone_and_unlocks_where_the_user_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let case = store_with_a_case(dir.path(), None);
    let prefs = sprechtag::ui::Prefs {
        lock_after_secs: 1,
        ..sprechtag::ui::Prefs::default()
    };
    prefs.save(dir.path()).expect("prefs");
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.open_from_list("krüger", &format!("{} · Krüger, Erika", case.number));
    gui.fill(Role::TextInput, "Telefon", "0171 555");
    // Nobody touches the laptop for a while.
    gui.wait_for("the lock", |h| {
        h.root().accesskit_node().label().as_deref() == Some("Sprechtag – Gesperrt")
    });
    assert!(!gui.shows("Krüger"), "nothing of the case is shown");
    assert!(!gui.has(Role::TextInput, "Telefon"));
    assert!(gui.is_focused(Role::PasswordInput, "Passphrase"));
    // A wrong passphrase keeps it locked.
    gui.type_text("falsch-falsch-falsch");
    gui.press(Key::Enter);
    gui.wait_for("the error", |h| {
        h.query_by_label_contains("Falsche Passphrase").is_some()
    });
    assert!(!gui.shows("Krüger"));
    gui.type_text(PASSPHRASE);
    gui.press(Key::Enter);
    gui.wait_for("the case again", |h| {
        h.query_by_role_and_label(Role::TextInput, "Telefon")
            .is_some()
    });
    assert_eq!(
        gui.harness
            .get_by_role_and_label(Role::TextInput, "Telefon")
            .value()
            .as_deref(),
        Some("0171 555"),
        "where the user was"
    );
    // Ctrl+L locks at once.
    gui.shortcut(Key::L);
    assert_eq!(
        gui.harness.root().accesskit_node().label().as_deref(),
        Some("Sprechtag – Gesperrt")
    );
}
