//! Forms that help, driven like the other GUI tests by AccessKit role and
//! label with the keyboard alone: the office-hour form (errors beside
//! their fields, spoken, focus on the first; Enter submits; the caseworker
//! remembered; a warning before a second office hour on one day).

use std::path::Path;
use std::sync::Arc;

use egui::Key;
use egui::accesskit::{Live, Role};
use egui_kittest::kittest::NodeT;
use sprechtag::store::{NewOfficeHour, Store};
use sprechtag_e2e::PASSPHRASE;
use sprechtag_e2e::gui::{Gui, Queryable};
use sprechtag_schemas::IsoDate;

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
    gui.wait_for("the opened office hour", |h| {
        h.query_by_role_and_label(Role::Button, "Neuer Besuch (Strg+N)")
            .is_some()
    });
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
    gui.activate(Role::Button, "Sprechtag eröffnen");
    let caseworker = gui
        .harness
        .get_by_role_and_label(Role::TextInput, "Sachbearbeitung");
    assert_eq!(caseworker.value().as_deref(), Some("Anna Schäfer"));
    // So the village and Enter are enough.
    assert!(gui.is_focused(Role::TextInput, "Ort"));
    gui.type_text("Kleinbrück");
    gui.press(Key::Enter);
    gui.wait_for("the opened office hour", |h| {
        h.query_by_role_and_label(Role::Button, "Neuer Besuch (Strg+N)")
            .is_some()
    });
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
