//! The real UI driven headless, by AccessKit role and accessible label, with
//! the keyboard alone: controls are reached by focus (as a screen reader
//! moves it) or Tab, text is typed, buttons and radio buttons are operated
//! with Enter and Space. No pointer clicks.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sprechtag::store::{CaseFilter, Store};
use sprechtag::ui::SprechtagApp;
use sprechtag_schemas::DocumentState;

const PASSPHRASE: &str = "Sprechtag-Test-2026";

fn harness(dir: &Path) -> Harness<'static, SprechtagApp> {
    let app = SprechtagApp::new(dir.to_path_buf(), None);
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 1000.0))
        .build_ui_state(|ui, app: &mut SprechtagApp| app.ui_root(ui), app);
    harness.run_steps(2);
    harness
}

/// Steps frames until `done` holds; the store worker answers on its own thread.
fn wait_for(
    harness: &mut Harness<'_, SprechtagApp>,
    what: &str,
    done: impl Fn(&Harness<'_, SprechtagApp>) -> bool,
) {
    let start = Instant::now();
    while !done(harness) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
        harness.step();
    }
    harness.run_steps(2);
}

fn type_text(harness: &mut Harness<'_, SprechtagApp>, text: &str) {
    harness.event(egui::Event::Text(text.to_string()));
    harness.run_steps(2);
}

fn press(harness: &mut Harness<'_, SprechtagApp>, key: Key) {
    harness.key_press(key);
    harness.run_steps(2);
}

/// Moves keyboard focus to a control, as a screen reader does.
fn focus(harness: &mut Harness<'_, SprechtagApp>, role: Role, label: &str) {
    harness.get_by_role_and_label(role, label).focus();
    harness.run_steps(2);
    assert!(
        harness.get_by_role_and_label(role, label).is_focused(),
        "{label} did not take the focus"
    );
}

fn saved(harness: &Harness<'_, SprechtagApp>) -> bool {
    harness.query_by_label("Gespeichert").is_some()
}

fn unlock_first_start(harness: &mut Harness<'_, SprechtagApp>) {
    // The passphrase field has the focus on start.
    assert!(
        harness
            .get_by_role_and_label(Role::PasswordInput, "Passphrase")
            .is_focused()
    );
    type_text(harness, PASSPHRASE);
    press(harness, Key::Tab);
    assert!(
        harness
            .get_by_role_and_label(Role::PasswordInput, "Passphrase wiederholen")
            .is_focused()
    );
    type_text(harness, PASSPHRASE);
    press(harness, Key::Enter);
    wait_for(harness, "the unlocked app", |h| {
        h.query_by_role_and_label(Role::Button, "Sprechtag eröffnen")
            .is_some()
    });
}

/// Unlocks a store made before the app started.
fn unlock(harness: &mut Harness<'_, SprechtagApp>) {
    type_text(harness, PASSPHRASE);
    press(harness, Key::Enter);
    wait_for(harness, "the unlocked app", |h| {
        h.query_by_role_and_label(Role::Button, "Sprechtag eröffnen")
            .is_some()
    });
}

/// Ctrl+F, types `search`, and opens the list entry `entry` with Enter.
fn open_from_list(harness: &mut Harness<'_, SprechtagApp>, search: &str, entry: &str) {
    harness.key_press_modifiers(Modifiers::COMMAND, Key::F);
    harness.run_steps(3);
    type_text(harness, search);
    wait_for(harness, "the case in the list", |h| {
        h.query_by_role_and_label(Role::Button, entry).is_some()
    });
    focus(harness, Role::Button, entry);
    press(harness, Key::Enter);
}

#[test]
fn a_visit_with_two_requests_is_recorded_checked_and_found_by_keyboard_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = sprechtag::catalog::shipped().expect("catalogue");
    let id_card = catalog.service("personalausweis").expect("id card service");
    let photo = &id_card.documents[1].name.de;
    let old_card = &id_card.documents[0].name.de;
    let mut harness = harness(dir.path());
    unlock_first_start(&mut harness);

    // Open an office hour: the form focuses the village; Tab moves on.
    focus(&mut harness, Role::Button, "Sprechtag eröffnen");
    press(&mut harness, Key::Enter);
    assert!(
        harness
            .get_by_role_and_label(Role::TextInput, "Ort")
            .is_focused()
    );
    type_text(&mut harness, "Kleinbrück");
    press(&mut harness, Key::Tab);
    type_text(&mut harness, "Dorfgemeinschaftshaus");
    press(&mut harness, Key::Tab); // the date is filled in with today
    press(&mut harness, Key::Tab);
    assert!(
        harness
            .get_by_role_and_label(Role::TextInput, "Sachbearbeiter/in")
            .is_focused()
    );
    type_text(&mut harness, "Anna Schäfer");
    focus(&mut harness, Role::Button, "Eröffnen");
    press(&mut harness, Key::Enter);
    wait_for(&mut harness, "the opened office hour", |h| {
        h.query_by_role_and_label(Role::Button, "Neuer Besuch (Strg+N)")
            .is_some()
    });

    // Record a visit: Ctrl+N, the surname has the focus.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::N);
    harness.run_steps(3);
    assert!(
        harness
            .get_by_role_and_label(Role::TextInput, "Nachname")
            .is_focused()
    );
    type_text(&mut harness, "Zwölfmeier");
    press(&mut harness, Key::Tab);
    type_text(&mut harness, "Wilhelmine");
    wait_for(&mut harness, "the new case to be stored", saved);

    // Two requests, picked by typing a few letters and Enter.
    for query in ["ausw", "wohngeld"] {
        focus(&mut harness, Role::TextInput, "Anliegen hinzufügen");
        type_text(&mut harness, query);
        press(&mut harness, Key::Enter);
    }
    for service in ["Personalausweis beantragen", "Wohngeld beantragen"] {
        let remove = format!("Anliegen entfernen: {service}");
        assert!(
            harness
                .query_by_role_and_label(Role::Button, &remove)
                .is_some(),
            "{service}"
        );
    }

    // Mark documents with Space on the radio buttons.
    focus(
        &mut harness,
        Role::RadioButton,
        &format!("{photo}: vorgelegt"),
    );
    press(&mut harness, Key::Space);
    focus(
        &mut harness,
        Role::RadioButton,
        &format!("{old_card}: fehlt"),
    );
    press(&mut harness, Key::Space);
    wait_for(&mut harness, "the document checks to be stored", saved);
    assert!(
        harness
            .query_by_label_contains(&format!("Es fehlen: {old_card}"))
            .is_some(),
        "the case shows what is missing"
    );

    // Find it again: Ctrl+F goes to the case search.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::F);
    harness.run_steps(3);
    assert!(
        harness
            .get_by_role_and_label(Role::TextInput, "Suche")
            .is_focused()
    );
    type_text(&mut harness, "zwölf");
    wait_for(&mut harness, "the case in the search result", |h| {
        h.query_by_label_contains("Zwölfmeier, Wilhelmine")
            .is_some()
    });
    drop(harness); // closing waits for queued saves

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

/// A plan the store refuses is explained in German; the form's own hint
/// about a missing field goes once the field is filled.
#[test]
fn an_office_hour_that_ends_before_it_starts_is_refused_in_plain_german() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut harness = harness(dir.path());
    unlock_first_start(&mut harness);
    focus(&mut harness, Role::Button, "Sprechtag planen");
    press(&mut harness, Key::Enter);
    type_text(&mut harness, "Kleinbrück");
    focus(&mut harness, Role::Button, "Planen");
    press(&mut harness, Key::Enter);
    let hint = "Bitte den Namen der Sachbearbeitung eingeben.";
    assert!(harness.query_by_label(hint).is_some());

    for (field, text) in [
        ("Sachbearbeiter/in", "Anna Schäfer"),
        ("Von (HH:MM)", "13:00"),
        ("Bis (HH:MM)", "09:00"),
    ] {
        focus(&mut harness, Role::TextInput, field);
        harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
        type_text(&mut harness, text);
    }
    focus(&mut harness, Role::Button, "Planen");
    press(&mut harness, Key::Enter);
    wait_for(&mut harness, "the refusal", |h| {
        h.query_by_label_contains(
            "Nicht übernommen: Der Sprechtag endet (09:00), bevor er beginnt (13:00)",
        )
        .is_some()
    });
    assert!(
        harness.query_by_label(hint).is_none(),
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
    let mut harness = harness(dir.path());
    assert!(
        harness
            .query_by_role_and_label(Role::PasswordInput, "Passphrase wiederholen")
            .is_none()
    );
    type_text(&mut harness, "falsch-falsch");
    press(&mut harness, Key::Enter);
    wait_for(&mut harness, "the error", |h| {
        h.query_by_label_contains("Falsche Passphrase").is_some()
    });
    assert!(
        harness
            .query_by_role_and_label(Role::Button, "Sprechtag eröffnen")
            .is_none()
    );
}

#[test]
fn display_preferences_are_remembered_between_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut harness = harness(dir.path());
        unlock_first_start(&mut harness);
        focus(&mut harness, Role::Button, "Einstellungen");
        press(&mut harness, Key::Enter);
        for label in ["Große Schrift", "Hoher Kontrast"] {
            focus(&mut harness, Role::CheckBox, label);
            press(&mut harness, Key::Space);
        }
    }
    let prefs = sprechtag::ui::Prefs::load(dir.path());
    assert!(prefs.large_text && prefs.high_contrast, "{prefs:?}");
    let harness = harness(dir.path());
    assert!(
        (harness.ctx.zoom_factor() - 1.0).abs() > 0.1,
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
    let mut harness = harness(dir.path());
    unlock(&mut harness);

    // The review queue: search, then open the case from the list.
    open_from_list(
        &mut harness,
        "krüger",
        &format!("{krueger} · Krüger, Erika"),
    );
    wait_for(&mut harness, "Frau Krüger's case", |h| {
        h.query_by_role_and_label(Role::Button, "Wohngeld beantragen weiterleiten")
            .is_some()
    });

    // Forward to the suggested office with the suggested deadline.
    focus(
        &mut harness,
        Role::Button,
        "Wohngeld beantragen weiterleiten",
    );
    press(&mut harness, Key::Enter);
    wait_for(&mut harness, "the forwarding to be shown", |h| {
        h.query_by_label_contains("Weitergeleitet an Sozialamt")
            .is_some()
    });
    wait_for(&mut harness, "the forwarding to be stored", saved);

    // Ask for clarification, with a comment.
    focus(&mut harness, Role::MultilineTextInput, "Kommentar");
    type_text(&mut harness, "Bitte den Mietvertrag nachreichen.");
    focus(&mut harness, Role::Button, "Rückfrage stellen");
    press(&mut harness, Key::Enter);
    wait_for(&mut harness, "the comment in the thread", |h| {
        h.query_by_label("Bitte den Mietvertrag nachreichen.")
            .is_some()
    });
    wait_for(&mut harness, "the review to be stored", saved);

    // The history says what changed.
    focus(&mut harness, Role::Button, "Verlauf anzeigen");
    press(&mut harness, Key::Enter);
    wait_for(&mut harness, "the history", |h| {
        h.query_by_label_contains("Anliegen › Weiterleitung")
            .is_some()
            && h.query_by_label_contains("Prüfung, Kommentare").is_some()
            && h.query_by_label("Fall angelegt").is_some()
    });

    // The overdue list holds Herr Lorenz's case, not the one just forwarded.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::F);
    harness.run_steps(3);
    // Empty the search box (focused by Ctrl+F), then only the overdue.
    for _ in 0.."krüger".chars().count() {
        press(&mut harness, Key::Backspace);
    }
    focus(&mut harness, Role::CheckBox, "Nur überfällige");
    press(&mut harness, Key::Space);
    wait_for(&mut harness, "the overdue list", |h| {
        h.query_by_label_contains("Krüger, Erika").is_none()
            && h.query_by_label_contains("Lorenz, Erika").is_some()
    });
    assert!(
        harness
            .query_by_label_contains("15.10.2026 · überfällig")
            .is_some()
    );
    drop(harness);

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
    let mut harness = harness(dir.path());
    unlock(&mut harness);
    wait_for(&mut harness, "the office hour list", |h| {
        h.query_by_label_contains("Kleinbrück – geöffnet").is_some()
    });
    harness
        .get_by_label_contains("Kleinbrück – geöffnet")
        .focus();
    harness.run_steps(2);
    press(&mut harness, Key::Enter);
    focus(&mut harness, Role::Button, "Bewertung durch Bürger/in");
    press(&mut harness, Key::Enter);
    for choice in [
        "1. Wie zufrieden sind Sie mit der Beratung? 1 – sehr gut",
        "2. Haben Sie alles gut verstanden? 2 – gut",
        "3. Wie finden Sie den Ort und wie gut kamen Sie hierher? 2 – gut",
    ] {
        focus(&mut harness, Role::RadioButton, choice);
        press(&mut harness, Key::Space);
    }
    // The caseworker's screen is gone while the citizen holds the laptop.
    assert!(harness.query_by_label("Fälle").is_none());
    focus(&mut harness, Role::Button, "Absenden");
    press(&mut harness, Key::Enter);
    wait_for(&mut harness, "the thanks", |h| {
        h.query_by_label("Vielen Dank für Ihre Bewertung!")
            .is_some()
    });
    focus(&mut harness, Role::Button, "Zurück zur Sachbearbeitung");
    press(&mut harness, Key::Enter);
    focus(&mut harness, Role::Button, "Statistik");
    press(&mut harness, Key::Enter);
    wait_for(&mut harness, "the statistics", |h| {
        h.query_by_label_contains("Zufriedenheit (1 Bewertungen")
            .is_some()
    });
    assert!(
        harness
            .query_by_label_contains("Beratung 1.0, Verständlichkeit 2.0, Ort 2.0")
            .is_some()
    );
}

#[test]
fn a_caseworker_device_sees_forwardings_and_comments_but_no_verdict_or_forward_buttons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (krueger, _) = store_for_review(dir.path());
    {
        let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
        let mut store = Store::open(dir.path(), PASSPHRASE, catalog).expect("open");
        store
            .enrol(
                &sprechtag::store::Enrolment {
                    // Nothing listens here: the sync worker reports offline.
                    server_url: "http://127.0.0.1:9".into(),
                    token: "t".into(),
                    device_id: "d".into(),
                    user: "Anna Schäfer".into(),
                    role: "caseworker".into(),
                    department: "buergeramt".into(),
                },
                "ANS",
            )
            .expect("enrolled as a caseworker");
    }
    let mut harness = harness(dir.path());
    unlock(&mut harness);
    open_from_list(
        &mut harness,
        "krüger",
        &format!("{krueger} · Krüger, Erika"),
    );
    wait_for(
        &mut harness,
        "the editor with a caseworker's controls",
        |h| {
            h.query_by_role_and_label(Role::Button, "Kommentar hinzufügen")
                .is_some()
                && h.query_by_role_and_label(Role::Button, "Rückfrage stellen")
                    .is_none()
                && h.query_by_role_and_label(Role::Button, "Wohngeld beantragen weiterleiten")
                    .is_none()
        },
    );
    // The thread stays open to the caseworker.
    focus(&mut harness, Role::MultilineTextInput, "Kommentar");
    type_text(&mut harness, "Mietvertrag liegt vor.");
    focus(&mut harness, Role::Button, "Kommentar hinzufügen");
    press(&mut harness, Key::Enter);
    wait_for(&mut harness, "the comment", |h| {
        h.query_by_label("Mietvertrag liegt vor.").is_some()
    });
    wait_for(&mut harness, "the comment to be stored", saved);
}
