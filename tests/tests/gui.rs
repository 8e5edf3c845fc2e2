//! The desktop app on its own (no server), driven headless by AccessKit role
//! and accessible label with the keyboard alone (see `sprechtag_e2e::gui`).

use std::path::Path;
use std::sync::Arc;

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::kittest::NodeT;
use sprechtag::store::{CaseFilter, Store};
use sprechtag_e2e::gui::{Gui, Queryable, button_starting_with};
use sprechtag_e2e::{PASSPHRASE, enrol_offline};
use sprechtag_schemas::DocumentState;

#[test]
fn a_visit_with_two_requests_is_recorded_checked_and_found_by_keyboard_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = sprechtag::catalog::shipped().expect("catalogue");
    let id_card = catalog.service("personalausweis").expect("id card service");
    let photo = &id_card.documents[1].name.de;
    let old_card = &id_card.documents[0].name.de;
    let mut gui = Gui::new(dir.path());
    gui.unlock_first_start();

    // Open an office hour: the form focuses the village; Tab moves on.
    gui.focus(Role::Button, "Sprechtag eröffnen");
    gui.press(Key::Enter);
    assert!(
        gui.harness
            .get_by_role_and_label(Role::TextInput, "Ort")
            .is_focused()
    );
    gui.type_text("Kleinbrück");
    gui.press(Key::Tab);
    gui.type_text("Dorfgemeinschaftshaus");
    gui.press(Key::Tab); // the date is filled in with today
    gui.press(Key::Tab);
    assert!(
        gui.harness
            .get_by_role_and_label(Role::TextInput, "Sachbearbeitung")
            .is_focused()
    );
    gui.type_text("Anna Schäfer");
    gui.focus(Role::Button, "Eröffnen");
    gui.press(Key::Enter);
    gui.wait_office_hour_open();

    // Record a visit: Ctrl+N, the surname has the focus.
    gui.shortcut(Key::N);
    assert!(
        gui.harness
            .get_by_role_and_label(Role::TextInput, "Nachname")
            .is_focused()
    );
    gui.type_text("Zwölfmeier");
    gui.press(Key::Tab);
    gui.type_text("Wilhelmine");
    gui.wait_saved("the new case to be stored");

    // Two requests, picked by typing a few letters and Enter.
    for query in ["ausw", "wohngeld"] {
        gui.focus(Role::TextInput, "Anliegen hinzufügen");
        gui.type_text(query);
        gui.press(Key::Enter);
    }
    for service in ["Personalausweis beantragen", "Wohngeld beantragen"] {
        let remove = format!("Anliegen entfernen: {service}");
        assert!(
            gui.harness
                .query_by_role_and_label(Role::Button, &remove)
                .is_some(),
            "{service}"
        );
    }

    // Mark documents with Space on the radio buttons.
    gui.focus(Role::RadioButton, &format!("{photo}: vorgelegt"));
    gui.press(Key::Space);
    gui.focus(Role::RadioButton, &format!("{old_card}: fehlt"));
    gui.press(Key::Space);
    gui.wait_saved("the document checks to be stored");
    assert!(
        gui.harness
            .query_by_label_contains(&format!("Es fehlen: {old_card}"))
            .is_some(),
        "the case shows what is missing"
    );

    // Find it again: Ctrl+F goes to the case search.
    gui.shortcut(Key::F);
    assert!(
        gui.harness
            .get_by_role_and_label(Role::TextInput, "Suche")
            .is_focused()
    );
    gui.type_text("zwölf");
    gui.wait_for("the case in the search result", |h| {
        h.query_by_label_contains("Zwölfmeier, Wilhelmine")
            .is_some()
    });
    drop(gui); // closing waits for queued saves

    // What the UI showed as saved is in the store.
    let mut store = Store::open(dir.path(), PASSPHRASE, Arc::new(catalog.clone())).expect("open");
    let page = store
        .list_cases(&CaseFilter {
            search: "Zwölfmeier".into(),
            ..CaseFilter::default()
        })
        .expect("list");
    assert_eq!(page.total, 1);
    let case = store.case(&page.rows[0].id).expect("case");
    assert_eq!(case.citizen.given_names, "Wilhelmine");
    assert_eq!(case.requests.len(), 2);
    let id_request = &case.requests[0];
    assert_eq!(id_request.service_id, "personalausweis");
    assert_eq!(id_request.documents[1].state, DocumentState::Presented);
    assert_eq!(id_request.documents[0].state, DocumentState::Missing);
    assert!(case.office_hour_id.is_some());
}

/// A plan that ends before it starts is explained in German, beside the
/// "Bis" field; the form's own hint about a missing field goes once the
/// field is filled.
#[test]
fn an_office_hour_that_ends_before_it_starts_is_refused_in_plain_german() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gui = Gui::new(dir.path());
    gui.unlock_first_start();
    gui.focus(Role::Button, "Sprechtag planen");
    gui.press(Key::Enter);
    gui.type_text("Kleinbrück");
    gui.focus(Role::Button, "Planen");
    gui.press(Key::Enter);
    let hint = "Bitte den Namen der Sachbearbeitung eingeben.";
    assert!(gui.harness.query_by_label(hint).is_some());

    for (field, text) in [
        ("Sachbearbeitung", "Anna Schäfer"),
        ("Von (HH:MM)", "13:00"),
        ("Bis (HH:MM)", "09:00"),
    ] {
        gui.focus(Role::TextInput, field);
        gui.harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
        gui.type_text(text);
    }
    gui.focus(Role::Button, "Planen");
    gui.press(Key::Enter);
    gui.wait_for("the refusal", |h| {
        h.query_by_label_contains("Der Sprechtag endet (09:00), bevor er beginnt (13:00)")
            .is_some()
    });
    assert!(
        gui.harness.query_by_label(hint).is_none(),
        "the old hint is gone"
    );
}

#[test]
fn a_wrong_passphrase_is_reported_and_the_app_stays_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    Store::create(
        dir.path(),
        PASSPHRASE,
        Arc::new(sprechtag::catalog::shipped().expect("catalogue")),
    )
    .expect("create");
    let mut gui = Gui::new(dir.path());
    assert!(
        gui.harness
            .query_by_role_and_label(Role::PasswordInput, "Passphrase wiederholen")
            .is_none()
    );
    gui.type_text("falsch-falsch");
    gui.press(Key::Enter);
    gui.wait_for("the error", |h| {
        h.query_by_label_contains("Falsche Passphrase").is_some()
    });
    assert!(
        gui.harness
            .query_by_role_and_label(Role::Button, "Sprechtag eröffnen")
            .is_none()
    );
}

#[test]
fn display_preferences_are_remembered_between_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut gui = Gui::new(dir.path());
        gui.unlock_first_start();
        gui.focus(Role::Tab, "Einstellungen");
        gui.press(Key::Enter);
        for label in ["Große Schrift", "Hoher Kontrast"] {
            gui.focus(Role::CheckBox, label);
            gui.press(Key::Space);
        }
    }
    let prefs = sprechtag::ui::Prefs::load(dir.path());
    assert!(prefs.large_text && prefs.high_contrast, "{prefs:?}");
    let gui = Gui::new(dir.path());
    assert!(
        (gui.harness.ctx.zoom_factor() - 1.0).abs() > 0.1,
        "large text applies on the next start"
    );
}

/// A store with two cases: Frau Krüger's Wohngeld request, not forwarded yet,
/// and Herr Lorenz's, forwarded weeks ago and now past its deadline.
fn store_for_review(dir: &Path) -> (String, String) {
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    let wohngeld = catalog.service("wohngeld").expect("wohngeld").clone();
    let mut store = Store::create(dir, PASSPHRASE, catalog).expect("create");
    let mut drafts = Vec::new();
    for surname in ["Lorenz", "Krüger"] {
        let mut draft = sprechtag_schemas::Case::draft(sprechtag_schemas::Citizen {
            surname: surname.into(),
            given_names: "Erika".into(),
            ..sprechtag_schemas::Citizen::default()
        });
        draft
            .requests
            .push(sprechtag_schemas::Request::for_service(&wohngeld));
        drafts.push(draft);
    }
    let created = store.create_cases(drafts).expect("cases");
    store
        .update_case(&created[0].id, "forwarded weeks ago", |case| {
            case.requests[0].forwarding = Some(sprechtag_schemas::Forwarding {
                office_id: "sozialamt".into(),
                forwarded_at: "2026-10-01T09:00:00Z".into(),
                due: "2026-10-15".parse().expect("date"),
                answer: String::new(),
                closed_at: None,
                question: String::new(),
                mail: None,
            });
            Ok(())
        })
        .expect("an old forwarding");
    (created[1].number.clone(), created[0].number.clone())
}

#[test]
fn the_back_office_forwards_asks_and_finds_the_overdue_case_by_keyboard_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (krueger, lorenz) = store_for_review(dir.path());
    // Enrolment numbers the cases anew, with the enrolled prefix.
    let (krueger, lorenz) = {
        let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
        let mut store = Store::open(dir.path(), PASSPHRASE, catalog).expect("open");
        enrol_offline(&mut store, sprechtag_schemas::Role::Backoffice);
        let mut number = |old: &str| store.case(old).expect("by its old number").number;
        (number(&krueger), number(&lorenz))
    };
    let mut gui = Gui::new(dir.path());
    gui.unlock();

    // The review queue: search, then open the case from the list.
    gui.open_from_list("krüger", &format!("{krueger} · Krüger, Erika"));
    gui.wait_for("Frau Krüger's case", |h| {
        h.query_by_role_and_label(Role::Button, "Wohngeld beantragen weiterleiten")
            .is_some()
    });

    // Forward to the suggested office with the suggested deadline.
    gui.focus(Role::Button, "Wohngeld beantragen weiterleiten");
    gui.press(Key::Enter);
    gui.wait_for("the forwarding to be shown", |h| {
        h.query_by_label_contains("Weitergeleitet an Sozialamt")
            .is_some()
    });
    gui.wait_saved("the forwarding to be stored");

    // Ask for clarification, with a comment.
    gui.focus(Role::MultilineTextInput, "Kommentar");
    gui.type_text("Bitte den Mietvertrag nachreichen.");
    gui.focus(Role::Button, "Rückfrage stellen");
    gui.press(Key::Enter);
    gui.wait_for("the comment in the thread", |h| {
        h.query_by_label("Bitte den Mietvertrag nachreichen.")
            .is_some()
    });
    gui.wait_saved("the review to be stored");

    // The history says what changed.
    gui.focus(Role::Button, "Verlauf anzeigen");
    gui.press(Key::Enter);
    gui.wait_for("the history", |h| {
        h.query_by_label_contains("Anliegen › Weiterleitung")
            .is_some()
            && h.query_by_label_contains("Prüfung, Kommentare").is_some()
            && h.query_by_label("Fall angelegt").is_some()
    });

    // The overdue list holds Herr Lorenz's case, not the one just forwarded.
    gui.shortcut(Key::F);
    // Empty the search box (focused by Ctrl+F), then only the overdue.
    for _ in 0.."krüger".chars().count() {
        gui.press(Key::Backspace);
    }
    gui.focus(Role::CheckBox, "Nur überfällige");
    gui.press(Key::Space);
    gui.wait_for("the overdue list", |h| {
        h.query_by_label_contains("Krüger, Erika").is_none()
            && h.query_by_label_contains("Lorenz, Erika").is_some()
    });
    // The row's button says all the row shows, the deadline too.
    let entry = format!("{lorenz} · Lorenz, Erika");
    let row = gui.harness.get_by(button_starting_with(&entry));
    let name = row.accesskit_node().label().unwrap_or_default();
    assert!(
        name.ends_with(
            ", Wohngeld beantragen, offen, unvollständig, Frist 15.10.2026 · überfällig"
        ),
        "{name}"
    );
    drop(gui);

    let mut store = Store::open(
        dir.path(),
        PASSPHRASE,
        Arc::new(sprechtag::catalog::shipped().expect("catalogue")),
    )
    .expect("open");
    let case = store.case(&krueger).expect("case");
    let forwarding = case.requests[0].forwarding.as_ref().expect("forwarded");
    assert_eq!(forwarding.office_id, "sozialamt");
    assert!(forwarding.due > sprechtag_schemas::IsoDate::today());
    assert_eq!(case.status, sprechtag_schemas::CaseStatus::Forwarded);
    let review = case.review.as_ref().expect("reviewed");
    assert_eq!(
        review.state,
        sprechtag_schemas::ReviewState::NeedsClarification
    );
    assert!(!review.by.is_empty(), "the store signs the review");
    assert_eq!(case.comments.len(), 1);
    assert!(!case.comments[0].author.is_empty());
    let overdue = store
        .list_cases(&CaseFilter {
            overdue_on: Some(sprechtag_schemas::IsoDate::today()),
            ..CaseFilter::default()
        })
        .expect("overdue");
    assert_eq!(overdue.rows.len(), 1);
    assert_eq!(overdue.rows[0].number, lorenz);
}

#[test]
fn a_citizen_rates_the_office_hour_with_big_buttons_and_the_statistics_show_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
        let mut store = Store::create(dir.path(), PASSPHRASE, catalog).expect("create");
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
    gui.focus(Role::Button, "Bewertung durch Besuchende");
    gui.press(Key::Enter);
    for choice in [
        "1. Wie zufrieden sind Sie mit der Beratung? 1 – sehr gut",
        "2. Haben Sie alles gut verstanden? 2 – gut",
        "3. Wie finden Sie den Ort und wie gut kamen Sie hierher? 2 – gut",
    ] {
        gui.focus(Role::RadioButton, choice);
        gui.press(Key::Space);
    }
    // The caseworker's screen is gone while the citizen holds the laptop.
    assert!(gui.harness.query_by_label("Fälle").is_none());
    gui.focus(Role::Button, "Absenden");
    gui.press(Key::Enter);
    gui.wait_for("the thanks", |h| {
        h.query_by_label("Vielen Dank für Ihre Bewertung!")
            .is_some()
    });
    gui.focus(Role::Button, "Zurück zur Sachbearbeitung");
    gui.press(Key::Enter);
    // Back to the caseworker only with the passphrase.
    gui.wait_for("the lock screen", |h| {
        h.query_by_role_and_label(Role::PasswordInput, "Passphrase")
            .is_some_and(|f| f.is_focused())
    });
    assert!(!gui.has(Role::Tab, "Statistik"));
    gui.type_text(PASSPHRASE);
    gui.press(Key::Enter);
    gui.wait_for("the app again", |h| {
        h.query_by_role_and_label(Role::Tab, "Statistik").is_some()
    });
    gui.focus(Role::Tab, "Statistik");
    gui.press(Key::Enter);
    gui.wait_for("the statistics", |h| {
        h.query_by_label_contains("Zufriedenheit (1 Bewertungen")
            .is_some()
    });
    // One answer is counted at once, but no average of it is shown.
    assert!(
        gui.harness
            .query_by_label_contains("Beratung –, Verständlichkeit –, Ort –")
            .is_some()
    );
}

#[test]
fn a_caseworker_device_sees_forwardings_and_comments_but_no_verdict_or_forward_buttons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (krueger, _) = store_for_review(dir.path());
    let krueger = {
        let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
        let mut store = Store::open(dir.path(), PASSPHRASE, catalog).expect("open");
        enrol_offline(&mut store, sprechtag_schemas::Role::Caseworker);
        store.case(&krueger).expect("by its old number").number
    };
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.open_from_list("krüger", &format!("{krueger} · Krüger, Erika"));
    gui.wait_for("the editor with a caseworker's controls", |h| {
        h.query_by_role_and_label(Role::Button, "Kommentar hinzufügen")
            .is_some()
            && h.query_by_role_and_label(Role::Button, "Rückfrage stellen")
                .is_none()
            && h.query_by_role_and_label(Role::Button, "Wohngeld beantragen weiterleiten")
                .is_none()
    });
    // The thread stays open to the caseworker.
    gui.focus(Role::MultilineTextInput, "Kommentar");
    gui.type_text("Mietvertrag liegt vor.");
    gui.focus(Role::Button, "Kommentar hinzufügen");
    gui.press(Key::Enter);
    gui.wait_for("the comment", |h| {
        h.query_by_label("Mietvertrag liegt vor.").is_some()
    });
    gui.wait_saved("the comment to be stored");
}
