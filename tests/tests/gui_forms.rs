//! Forms that help, driven like the other GUI tests by AccessKit role and
//! label with the keyboard alone: the office-hour form (errors beside
//! their fields, spoken, focus on the first; Enter submits; the caseworker
//! remembered; a warning before a second office hour on one day) and the
//! enrolment in the settings, against a real server; the smaller things
//! around them (empty lists that say so, the day list's paging, the
//! services search, decimal commas, the statistics at large text).

use std::path::Path;
use std::sync::Arc;

use egui::Key;
use egui::accesskit::{Live, Role};
use egui_kittest::kittest::NodeT;
use sprechtag::store::{NewOfficeHour, Store};
use sprechtag_e2e::gui::{Gui, Queryable};
use sprechtag_e2e::{PASSPHRASE, TestServer};
use sprechtag_schemas::IsoDate;
use sprechtag_server::storage::Role as DeviceRole;

fn store_with_office_hours(dir: &Path, office_hours: &[(&str, IsoDate, &str)]) {
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    let mut store = Store::create(dir, PASSPHRASE, catalog).expect("create");
    for (village, date, caseworker) in office_hours {
        store
            .open_office_hour(NewOfficeHour {
                village: (*village).into(),
                venue: "Dorfgemeinschaftshaus".into(),
                date: *date,
                caseworker: (*caseworker).into(),
            })
            .expect("office hour");
    }
}

fn office_hours_in(dir: &Path) -> Vec<sprechtag::store::OfficeHourRow> {
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    let store = Store::open(dir, PASSPHRASE, catalog).expect("open");
    store.office_hours().expect("office hours")
}

#[test]
fn a_failed_submit_shows_every_error_beside_its_field_speaks_them_and_focuses_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gui = Gui::new(dir.path());
    gui.unlock_first_start();
    gui.activate(Role::Button, "Sprechtag planen");
    gui.fill(Role::TextInput, "Datum", "31.02.2026");
    gui.fill(Role::TextInput, "Von (HH:MM)", "9 Uhr");
    let button_before = gui
        .harness
        .get_by_role_and_label(Role::Button, "Planen")
        .rect();
    let caseworker_before = gui
        .harness
        .get_by_role_and_label(Role::TextInput, "Sachbearbeitung")
        .rect();

    // Enter in any field submits: here in "Bis", which is valid.
    gui.focus(Role::TextInput, "Bis (HH:MM)");
    gui.press(Key::Enter);

    let errors = [
        ("Ort", "Bitte den Ort eingeben."),
        (
            "Von (HH:MM)",
            "Bitte die Anfangszeit als HH:MM eingeben, z. B. 09:00.",
        ),
        (
            "Sachbearbeitung",
            "Bitte den Namen der Sachbearbeitung eingeben.",
        ),
    ];
    for (field, error) in errors {
        let message = gui.harness.get_by_label(error);
        assert_eq!(message.accesskit_node().live(), Live::Polite, "{error}");
        let input = gui.harness.get_by_role_and_label(Role::TextInput, field);
        assert_eq!(
            input.accesskit_node().description().as_deref(),
            Some(error),
            "the field {field} is described by its error"
        );
        // Beside its own field: the line right under it.
        let (field_rect, message_rect) = (input.rect(), message.rect());
        assert!(
            message_rect.top() >= field_rect.bottom() - 1.0
                && message_rect.top() - field_rect.bottom() < 20.0,
            "{error} sits under {field}: {field_rect:?} {message_rect:?}"
        );
    }
    assert!(
        gui.shows("Bitte ein Datum wie"),
        "the impossible date is reported too"
    );
    assert!(
        !gui.shows("1941"),
        "an office hour's date is not explained with a birth date"
    );
    assert!(
        gui.is_focused(Role::TextInput, "Ort"),
        "the first invalid field"
    );
    // Errors take the place of the examples: nothing below moves.
    assert_eq!(
        gui.harness
            .get_by_role_and_label(Role::Button, "Planen")
            .rect(),
        button_before
    );
    assert_eq!(
        gui.harness
            .get_by_role_and_label(Role::TextInput, "Sachbearbeitung")
            .rect(),
        caseworker_before
    );

    // Putting a field right takes its error away at once.
    gui.type_text("Kleinbrück");
    assert!(!gui.shows("Bitte den Ort eingeben."));
    assert!(gui.shows("Bitte den Namen der Sachbearbeitung eingeben."));
    assert!(office_hours_in(dir.path()).is_empty(), "nothing was stored");
}

#[test]
fn required_fields_are_marked_for_the_eye_and_for_screen_readers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gui = Gui::new(dir.path());
    gui.unlock_first_start();
    gui.activate(Role::Button, "Sprechtag eröffnen");
    assert!(gui.shows("Felder mit * müssen ausgefüllt werden."));
    for (field, required) in [
        ("Ort", true),
        ("Veranstaltungsort", false),
        ("Datum", true),
        ("Sachbearbeitung", true),
    ] {
        let node = gui.harness.get_by_role_and_label(Role::TextInput, field);
        assert_eq!(node.accesskit_node().is_required(), required, "{field}");
        assert_eq!(
            gui.harness.query_by_label(&format!("{field} *")).is_some(),
            required,
            "{field}"
        );
    }
    // The date's example is a near date, as the field wants it.
    let today = IsoDate::today().to_german();
    let date = gui.harness.get_by_role_and_label(Role::TextInput, "Datum");
    assert_eq!(
        date.accesskit_node().description(),
        Some(format!("TT.MM.JJJJ, z. B. {today}"))
    );
}

#[test]
fn enter_in_any_field_opens_the_office_hour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gui = Gui::new(dir.path());
    gui.unlock_first_start();
    gui.activate(Role::Button, "Sprechtag eröffnen");
    gui.type_text("Kleinbrück");
    gui.fill(Role::TextInput, "Sachbearbeitung", "Anna Schäfer");
    gui.focus(Role::TextInput, "Veranstaltungsort");
    gui.type_text("Feuerwehrhaus");
    gui.press(Key::Enter);
    gui.wait_office_hour_open();
    let rows = office_hours_in(dir.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].venue, "Feuerwehrhaus");
}

#[test]
fn the_caseworker_of_the_last_office_hour_is_filled_in_for_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let today = IsoDate::today();
    store_with_office_hours(
        dir.path(),
        &[
            ("Großweiler", today.add_days(-14), "Bernd Vogel"),
            ("Kleinbrück", today.add_days(-7), "Anna Schäfer"),
        ],
    );
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    // The name comes from the list of office hours, which loads after unlock.
    gui.wait_for("the office hour list", |h| {
        h.query_by_label_contains("Kleinbrück – geschlossen")
            .is_some()
            || h.query_by_label_contains("Kleinbrück – geöffnet").is_some()
    });
    gui.activate(Role::Button, "Sprechtag eröffnen");
    let caseworker = gui
        .harness
        .get_by_role_and_label(Role::TextInput, "Sachbearbeitung");
    assert_eq!(caseworker.value().as_deref(), Some("Anna Schäfer"));
    // So the village and Enter are enough.
    assert!(gui.is_focused(Role::TextInput, "Ort"));
    gui.type_text("Kleinbrück");
    gui.press(Key::Enter);
    gui.wait_office_hour_open();
    let rows = office_hours_in(dir.path());
    assert_eq!(rows[0].date, today.to_string());
    assert_eq!(rows[0].caseworker, "Anna Schäfer");
}

#[test]
fn a_second_office_hour_on_the_same_day_needs_a_second_confirming_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    let today = IsoDate::today();
    store_with_office_hours(dir.path(), &[("Kleinbrück", today, "Anna Schäfer")]);
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.wait_for("the office hour list", |h| {
        h.query_by_label_contains("Kleinbrück – geöffnet").is_some()
    });
    gui.activate(Role::Button, "Sprechtag eröffnen");
    gui.type_text("Großweiler");
    gui.press(Key::Enter);

    let warning = format!(
        "Am {} ist schon ein Sprechtag eingetragen: Kleinbrück (geöffnet). Trotzdem einen \
         weiteren an diesem Tag eröffnen?",
        today.to_german()
    );
    gui.wait_for("the warning", |h| h.query_by_label(&warning).is_some());
    assert_eq!(
        gui.harness.get_by_label(&warning).accesskit_node().live(),
        Live::Assertive
    );
    // The confirming button has the focus and repeats the warning.
    let confirm = gui
        .harness
        .get_by_role_and_label(Role::Button, "Trotzdem eröffnen");
    assert!(confirm.is_focused());
    assert_eq!(confirm.accesskit_node().description(), Some(warning));
    assert_eq!(office_hours_in(dir.path()).len(), 1, "not opened yet");

    gui.press(Key::Enter);
    gui.wait_for("the second office hour", |h| {
        h.query_by_label_contains("Großweiler – geöffnet").is_some()
    });
    let rows = office_hours_in(dir.path());
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.date == today.to_string()));
}

#[test]
fn changing_the_date_after_the_warning_asks_again_for_the_new_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let today = IsoDate::today();
    store_with_office_hours(dir.path(), &[("Kleinbrück", today, "Anna Schäfer")]);
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    // The warning needs the list of office hours, which loads after unlock.
    gui.wait_for("the office hour list", |h| {
        h.query_by_label_contains("Kleinbrück – geöffnet").is_some()
    });
    gui.activate(Role::Button, "Sprechtag eröffnen");
    gui.type_text("Großweiler");
    gui.press(Key::Enter);
    assert!(gui.has(Role::Button, "Trotzdem eröffnen"));
    let tomorrow = today.add_days(1);
    gui.fill(Role::TextInput, "Datum", &tomorrow.to_german());
    assert!(
        !gui.has(Role::Button, "Trotzdem eröffnen"),
        "the warning was about another day"
    );
    gui.press(Key::Enter);
    gui.wait_for("the office hour tomorrow", |h| {
        h.query_by_label_contains("Großweiler – geöffnet").is_some()
    });
    assert_eq!(office_hours_in(dir.path()).len(), 2);
}

fn device_prefix(dir: &Path) -> String {
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    let store = Store::open(dir, PASSPHRASE, catalog).expect("open");
    store.device().prefix.clone()
}

/// A fresh store, unlocked, on the settings tab.
fn settings(dir: &Path) -> Gui {
    let mut gui = Gui::new(dir);
    gui.unlock_first_start();
    gui.activate(Role::Tab, "Einstellungen");
    gui
}

#[test]
fn a_wrong_code_stays_reported_until_the_next_attempt_and_a_good_one_enrols_at_once() {
    let server = TestServer::start();
    let code = server.enrolment_code("laptop-1", DeviceRole::Caseworker, "buergerbuero");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gui = settings(dir.path());
    let old_prefix = device_prefix(dir.path());
    assert!(gui.shows(&format!("Gerät {old_prefix}")));

    gui.fill(Role::TextInput, "Server-Adresse", &server.url);
    gui.fill(Role::TextInput, "Anmeldecode", "ABCD-EFGH");
    gui.press(Key::Enter);
    let bad_code = "Der Anmeldecode ist falsch, schon benutzt oder abgelaufen (15 Minuten gültig).";
    gui.wait_for("the refusal", |h| h.query_by_label(bad_code).is_some());
    // It stays (no longer one frame), spoken, beside the code, which has the focus.
    gui.harness.run_steps(30);
    std::thread::sleep(std::time::Duration::from_millis(300));
    gui.harness.run_steps(5);
    let message = gui.harness.get_by_label(bad_code);
    assert_eq!(message.accesskit_node().live(), Live::Polite);
    let field = gui
        .harness
        .get_by_role_and_label(Role::TextInput, "Anmeldecode");
    assert!(field.is_focused());
    assert_eq!(
        field.accesskit_node().description().as_deref(),
        Some(bad_code)
    );
    assert_eq!(
        field.value().as_deref(),
        Some("ABCD-EFGH"),
        "kept to correct"
    );

    gui.fill(Role::TextInput, "Anmeldecode", &code);
    gui.press(Key::Enter);
    gui.wait_for("the enrolment", |h| {
        h.query_by_label_contains("Das Gerät ist angemeldet.")
            .is_some()
    });
    assert!(
        !gui.shows(bad_code),
        "the old error went with the new attempt"
    );
    let prefix = device_prefix(dir.path());
    assert_ne!(prefix, old_prefix, "the server gave its own prefix");
    let code_field = gui
        .harness
        .get_by_role_and_label(Role::TextInput, "Anmeldecode");
    assert_eq!(
        code_field.value().as_deref(),
        Some(""),
        "the used code is gone"
    );
    assert!(
        gui.harness
            .get_by_role_and_label(Role::Button, "Gerät anmelden")
            .accesskit_node()
            .is_disabled()
    );
    for text in [
        format!("Neue Fälle erhalten Nummern mit dem Kürzel {prefix}."),
        format!("Kürzel der Fallnummern: {prefix}"),
        format!("Gerät {prefix}"),
        format!("Angemeldet bei {}", server.url),
    ] {
        assert!(gui.shows(&text), "{text}");
    }

    // A visit recorded now is numbered with the new prefix.
    gui.open_office_hour("Kleinbrück", "Anna Schäfer");
    gui.shortcut(Key::N);
    gui.type_text("Krüger");
    gui.wait_saved("the new case");
    gui.shortcut(Key::F);
    gui.wait_for("the case in the list", |h| {
        h.query_by_label_contains(&format!("{prefix}-0001 · Krüger"))
            .is_some()
    });
}

#[test]
fn an_address_where_no_server_answers_is_reported_beside_the_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gui = settings(dir.path());
    // Nothing listens on the discard port.
    gui.fill(Role::TextInput, "Server-Adresse", "http://127.0.0.1:9");
    gui.fill(Role::TextInput, "Anmeldecode", "ABCD-EFGH");
    gui.activate(Role::Button, "Gerät anmelden");
    let offline = "Unter dieser Adresse ist kein Server erreichbar. Bitte die Adresse und die \
                   Netzverbindung prüfen.";
    gui.wait_for("the error", |h| h.query_by_label(offline).is_some());
    assert!(gui.is_focused(Role::TextInput, "Server-Adresse"));
    assert!(!gui.shows("angemeldet."));

    // An address without a scheme is explained before anything is sent.
    gui.fill(Role::TextInput, "Server-Adresse", "sync.landkreis.de");
    gui.press(Key::Enter);
    assert!(gui.shows("Die Adresse beginnt mit https://"));
    assert!(!gui.shows(offline), "replaced by the new attempt's error");
}

#[test]
fn plain_http_to_another_machine_is_asked_about_before_enrolling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gui = settings(dir.path());
    gui.fill(
        Role::TextInput,
        "Server-Adresse",
        "http://sync.landkreis.example",
    );
    gui.fill(Role::TextInput, "Anmeldecode", "ABCD-EFGH");
    gui.press(Key::Enter);
    let confirm = "Trotzdem unverschlüsselt anmelden";
    assert!(gui.is_focused(Role::Button, confirm));
    let warning = gui
        .harness
        .get_by_label_contains("unverschlüsselt durchs Netz");
    assert_eq!(warning.accesskit_node().live(), Live::Assertive);
    assert!(!gui.shows("Gerät wird angemeldet"), "nothing sent yet");

    // Another address, another question: on this machine, none.
    gui.fill(Role::TextInput, "Server-Adresse", "http://localhost:9");
    assert!(!gui.has(Role::Button, confirm));
    gui.press(Key::Enter);
    assert!(!gui.has(Role::Button, confirm));
    gui.wait_for("the loopback attempt", |h| {
        h.query_by_label_contains("Unter dieser Adresse ist kein Server erreichbar")
            .is_some()
    });
}

/// Turns on "Große Schrift" in the settings (zoom 1.4).
fn large_text(gui: &mut Gui) {
    gui.activate(Role::Tab, "Einstellungen");
    gui.activate(Role::CheckBox, "Große Schrift");
    gui.harness.run_steps(3);
    assert!((gui.harness.ctx.zoom_factor() - 1.4).abs() < 0.01);
}

#[test]
fn drop_down_labels_stay_beside_their_boxes_when_the_filters_wrap_at_large_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gui = Gui::new(dir.path());
    gui.unlock_first_start();
    large_text(&mut gui);
    gui.activate(Role::Tab, "Fälle");
    for name in [
        "Status",
        "Sprechtag",
        "Leistung",
        "Ort",
        "Sachbearbeitung",
        "Sortierung",
    ] {
        let combo = gui
            .harness
            .get_by_role_and_label(Role::ComboBox, name)
            .rect();
        let beside = gui
            .harness
            .query_all_by_role(Role::Label)
            .filter(|n| n.accesskit_node().value().as_deref() == Some(name))
            .any(|label| {
                let rect = label.rect();
                rect.right() <= combo.left() + 1.0
                    && combo.left() - rect.right() < 30.0
                    && (rect.center().y - combo.center().y).abs() < 10.0
            });
        assert!(
            beside,
            "the label {name} is not beside its drop-down {combo:?}"
        );
    }
}

/// "Dienstag, 01.12.2026".
fn weekday_date(date: IsoDate) -> String {
    let day = [
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
        "Sonntag",
    ];
    // ISO weekday, 1 (Monday) to 7.
    let iso: usize = date
        .date()
        .format("%u")
        .to_string()
        .parse()
        .expect("weekday");
    let day = day[iso - 1];
    format!("{day}, {}", date.to_german())
}

#[test]
fn the_day_list_pages_through_days_and_says_which_day_is_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let today = IsoDate::today();
    let tomorrow = today.add_days(1);
    {
        let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
        let mut store = Store::create(dir.path(), PASSPHRASE, catalog).expect("create");
        let case = store
            .create_case(sprechtag_schemas::Case::draft(sprechtag_schemas::Citizen {
                surname: "Krüger".into(),
                given_names: "Erika".into(),
                ..sprechtag_schemas::Citizen::default()
            }))
            .expect("case");
        store
            .book_appointment(
                &case.id,
                sprechtag::store::appointments::NewAppointment {
                    date: tomorrow,
                    time: "10:30".into(),
                    place: "Bürgerbüro".into(),
                    office_hour_id: None,
                    purpose: "Ausweis abholen".into(),
                },
            )
            .expect("appointment");
    }
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.activate(Role::Tab, "Termine");
    let empty_today = format!("Keine Termine am {}.", weekday_date(today));
    gui.wait_for("today's empty list", |h| {
        h.query_by_label(&empty_today).is_some()
    });
    assert_eq!(
        gui.harness
            .get_by_label(&empty_today)
            .accesskit_node()
            .live(),
        Live::Polite,
        "paging through empty days is heard"
    );
    assert!(
        gui.harness
            .get_by_role_and_label(Role::Button, "Heute")
            .accesskit_node()
            .is_disabled()
    );

    gui.activate(Role::Button, "Folgetag");
    gui.wait_for("tomorrow's appointment", |h| {
        h.query_by_label_contains("Krüger, Erika").is_some()
    });
    assert!(gui.shows("Ausweis abholen"));
    let date = gui.harness.get_by_role_and_label(Role::TextInput, "Datum");
    assert_eq!(date.value(), Some(tomorrow.to_german()));

    gui.activate(Role::Button, "Vortag");
    gui.activate(Role::Button, "Vortag");
    let empty_yesterday = format!("Keine Termine am {}.", weekday_date(today.add_days(-1)));
    gui.wait_for("yesterday", |h| {
        h.query_by_label(&empty_yesterday).is_some()
    });
    gui.activate(Role::Button, "Heute");
    gui.wait_for("back to today", |h| {
        h.query_by_label(&empty_today).is_some()
    });
}

#[test]
fn the_services_tab_starts_in_its_search_and_says_when_nothing_fits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gui = Gui::new(dir.path());
    gui.unlock_first_start();
    gui.activate(Role::Tab, "Leistungen");
    assert!(gui.is_focused(Role::TextInput, "Leistung suchen"));
    gui.type_text("xyzq");
    let none = "Keine Leistung passt zu „xyzq“.";
    let message = gui.harness.get_by_label_contains(none);
    assert_eq!(message.accesskit_node().live(), Live::Polite);

    gui.fill(Role::TextInput, "Leistung suchen", "wohnsitz anmelden");
    gui.activate(Role::Button, "Wohnsitz anmelden oder ummelden");
    assert!(gui.shows("Gebühr: kostenlos"), "not „Gebühr: Kostenlos“");
}

#[test]
fn the_survey_speaks_to_a_laptop_user_and_the_button_names_no_gender() {
    let dir = tempfile::tempdir().expect("tempdir");
    store_with_office_hours(
        dir.path(),
        &[("Kleinbrück", IsoDate::today(), "Anna Schäfer")],
    );
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    gui.select_office_hour("Kleinbrück – geöffnet");
    gui.activate(Role::Button, "Bewertung durch Besuchende");
    assert!(gui.shows("Bitte klicken oder tippen Sie auf eine Note"));
}

#[test]
fn the_office_hour_form_fits_the_smallest_window_at_large_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gui = Gui::new(dir.path());
    gui.unlock_first_start();
    large_text(&mut gui);
    // The window's minimum size, 800 × 560 pixels, in points at zoom 1.4
    // (the harness takes points).
    gui.harness.set_size(egui::vec2(800.0 / 1.4, 560.0 / 1.4));
    gui.harness.run_steps(3);
    gui.activate(Role::Tab, "Sprechtage");
    gui.activate(Role::Button, "Sprechtag planen");
    gui.press(Key::Enter);
    assert!(gui.shows("Bitte den Ort eingeben."));
    let screen = gui.harness.ctx.content_rect();
    for text in ["Bitte den Ort eingeben.", "z. B. Dorfgemeinschaftshaus"] {
        let rect = gui.harness.get_by_label(text).rect();
        assert!(
            rect.right() <= screen.right() + 0.5,
            "{text} at {rect:?} runs out of {screen:?}"
        );
    }
    let field = gui
        .harness
        .get_by_role_and_label(Role::TextInput, "Ort")
        .rect();
    assert!(field.right() <= screen.right() + 0.5, "{field:?}");
}

/// Two office hours with visits and ratings, for the statistics.
fn store_with_figures(dir: &Path) {
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    let wohngeld = catalog.service("wohngeld").expect("wohngeld").clone();
    let mut store = Store::create(dir, PASSPHRASE, catalog).expect("create");
    for (village, days) in [("Kleinbrück", -7), ("Oberwiesental", 0)] {
        let office_hour = store
            .open_office_hour(NewOfficeHour {
                village: village.into(),
                venue: "Dorfgemeinschaftshaus".into(),
                date: IsoDate::today().add_days(days),
                caseworker: "Anna Schäfer".into(),
            })
            .expect("office hour");
        let mut draft = sprechtag_schemas::Case::draft(sprechtag_schemas::Citizen {
            surname: "Krüger".into(),
            ..sprechtag_schemas::Citizen::default()
        });
        draft.office_hour_id = Some(office_hour.id.clone());
        draft
            .requests
            .push(sprechtag_schemas::Request::for_service(&wohngeld));
        store.create_case(draft).expect("case");
        store
            .add_rating(
                &office_hour.id,
                sprechtag_schemas::Rating {
                    advice: Some(2),
                    clarity: Some(1),
                    place: Some(3),
                },
            )
            .expect("rating");
    }
}

#[test]
fn the_statistics_at_large_text_keep_every_column_in_reach_and_name_their_charts() {
    let dir = tempfile::tempdir().expect("tempdir");
    store_with_figures(dir.path());
    let mut gui = Gui::new(dir.path());
    gui.unlock();
    large_text(&mut gui);
    gui.activate(Role::Tab, "Statistik");
    gui.wait_for("the statistics", |h| {
        h.query_by_label_contains("Zufriedenheit (2 Bewertungen")
            .is_some()
    });
    // Two answers: no averages, and the reason is given.
    assert!(gui.shows("Beratung –, Verständlichkeit –, Ort –"));
    assert!(gui.shows("Durchschnittsnoten erst ab 5 Antworten"));

    // Every chart is named by its title; its figures stay as a table.
    for title in [
        "Besuche je Sprechtag",
        "Anliegen nach Leistung",
        "Besuche je Ort",
    ] {
        assert!(gui.has(Role::Image, title), "{title}");
        assert!(gui.has(Role::Table, title), "{title}");
    }
    let screen = gui.harness.ctx.content_rect();
    let table = gui
        .harness
        .get_by_role_and_label(Role::Table, "Sprechtage im Einzelnen");
    let headers: Vec<_> = table.query_all_by_role(Role::ColumnHeader).collect();
    let names: Vec<String> = headers
        .iter()
        .filter_map(|h| h.accesskit_node().label())
        .collect();
    assert_eq!(
        names,
        [
            "Datum",
            "Ort",
            "Besuche",
            "Vollständig beim 1. Besuch",
            "Bewertungen",
        ]
    );
    // The page scrolls down to the table; across, nothing is cut off.
    for header in headers {
        let rect = header.rect();
        assert!(
            rect.left() >= screen.left() && rect.right() <= screen.right(),
            "{:?} at {rect:?} is out of the window {screen:?}",
            header.accesskit_node().label()
        );
    }
}
