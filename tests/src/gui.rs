//! The real desktop app driven headless through egui_kittest, by AccessKit
//! role and accessible label, with the keyboard alone: controls are reached
//! by focus (as a screen reader moves it) or Tab, text is typed, buttons and
//! radio buttons are operated with Enter and Space. No pointer clicks.

use std::path::Path;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::AccessKitNode;
use egui_kittest::kittest::NodeT;
pub use egui_kittest::kittest::Queryable;
use sprechtag::ui::SprechtagApp;

use crate::PASSPHRASE;

/// The app on the data dir `dir`, as a window of 1280 × 1000 shows it.
pub struct Gui {
    pub harness: Harness<'static, SprechtagApp>,
}

impl Gui {
    pub fn new(dir: &Path) -> Gui {
        let app = SprechtagApp::new(dir.to_path_buf(), None);
        let mut harness = Harness::builder()
            .with_size(egui::vec2(1280.0, 1000.0))
            .build_ui_state(|ui, app: &mut SprechtagApp| app.ui_root(ui), app);
        harness.run_steps(2);
        Gui { harness }
    }

    /// Steps frames until `done` holds; the store and sync workers answer
    /// on their own threads.
    pub fn wait_for(&mut self, what: &str, done: impl Fn(&Harness<'_, SprechtagApp>) -> bool) {
        let start = Instant::now();
        while !done(&self.harness) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
            self.harness.step();
        }
        self.harness.run_steps(2);
    }

    pub fn type_text(&mut self, text: &str) {
        self.harness.event(egui::Event::Text(text.to_string()));
        self.harness.run_steps(2);
    }

    pub fn press(&mut self, key: Key) {
        self.harness.key_press(key);
        self.harness.run_steps(2);
    }

    pub fn shortcut(&mut self, key: Key) {
        self.harness.key_press_modifiers(Modifiers::COMMAND, key);
        self.harness.run_steps(3);
    }

    /// Moves keyboard focus to a control, as a screen reader does.
    pub fn focus(&mut self, role: Role, label: &str) {
        self.harness.get_by_role_and_label(role, label).focus();
        self.harness.run_steps(2);
        assert!(
            self.harness.get_by_role_and_label(role, label).is_focused(),
            "{label} did not take the focus"
        );
    }

    /// Waits until the control is there and enabled, focuses it and
    /// operates it with Enter (buttons) or Space (check boxes, radio buttons).
    pub fn activate(&mut self, role: Role, label: &str) {
        self.wait_for(&format!("{label} to be enabled"), |h| {
            h.query_by_role_and_label(role, label)
                .is_some_and(|node| !node.accesskit_node().is_disabled())
        });
        self.focus(role, label);
        let key = match role {
            Role::CheckBox | Role::RadioButton => Key::Space,
            _ => Key::Enter,
        };
        self.press(key);
    }

    /// Focuses a text field, selects what it holds and types `text` over it.
    pub fn fill(&mut self, role: Role, label: &str, text: &str) {
        self.focus(role, label);
        self.harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
        self.type_text(text);
    }

    pub fn is_focused(&self, role: Role, label: &str) -> bool {
        self.harness.get_by_role_and_label(role, label).is_focused()
    }

    pub fn has(&self, role: Role, label: &str) -> bool {
        self.harness.query_by_role_and_label(role, label).is_some()
    }

    pub fn shows(&self, text: &str) -> bool {
        self.harness.query_by_label_contains(text).is_some()
    }

    /// Waits until the editor says that every change is on disk.
    pub fn wait_saved(&mut self, what: &str) {
        self.wait_for(what, |h| h.query_by_label("Gespeichert").is_some());
    }

    /// Chooses a passphrase on the first start: the passphrase field has
    /// the focus, Tab moves to the repetition, Enter submits.
    pub fn unlock_first_start(&mut self) {
        assert!(self.is_focused(Role::PasswordInput, "Passphrase"));
        self.type_text(PASSPHRASE);
        self.press(Key::Tab);
        assert!(self.is_focused(Role::PasswordInput, "Passphrase wiederholen"));
        self.type_text(PASSPHRASE);
        self.press(Key::Enter);
        self.wait_unlocked();
    }

    /// Unlocks a store made before the app started.
    pub fn unlock(&mut self) {
        self.type_text(PASSPHRASE);
        self.press(Key::Enter);
        self.wait_unlocked();
    }

    fn wait_unlocked(&mut self) {
        self.wait_for("the unlocked app", |h| {
            h.query_by_role_and_label(Role::Button, "Sprechtag eröffnen")
                .is_some()
        });
    }

    /// Selects the office hour whose entry in the list contains `entry`
    /// ("Kleinbrück – geöffnet"), once the list has loaded.
    pub fn select_office_hour(&mut self, entry: &str) {
        self.wait_for("the office hour list", |h| {
            h.query_by_label_contains(entry).is_some()
        });
        self.harness.get_by_label_contains(entry).focus();
        self.harness.run_steps(2);
        self.press(Key::Enter);
    }

    /// Opens today's office hour in `village` with `caseworker` from the
    /// office hours tab, and waits until it takes visits.
    pub fn open_office_hour(&mut self, village: &str, caseworker: &str) {
        self.activate(Role::Tab, "Sprechtage");
        self.activate(Role::Button, "Sprechtag eröffnen");
        self.type_text(village);
        self.fill(Role::TextInput, "Sachbearbeitung", caseworker);
        self.press(Key::Enter);
        self.wait_office_hour_open();
    }

    /// *Jetzt synchronisieren* in the status bar, then waits until
    /// everything is exchanged.
    pub fn sync_now(&mut self) {
        self.activate(Role::Button, "Jetzt synchronisieren");
        self.wait_for("a complete sync", |h| {
            h.query_by_label_contains("Auf dem neuesten Stand")
                .is_some()
                && h.query_by_label_contains("Wartende Änderungen: 0")
                    .is_some()
        });
    }

    /// Waits until an office hour is open for visits.
    pub fn wait_office_hour_open(&mut self) {
        self.wait_for("the opened office hour", |h| {
            h.query_by_role_and_label(Role::Button, "Neuer Besuch (Strg+N)")
                .is_some()
        });
    }

    /// Ctrl+F, types `search`, and opens the list entry whose name starts
    /// with `entry` (a row's button names the whole row) with Enter.
    pub fn open_from_list(&mut self, search: &str, entry: &str) {
        self.shortcut(Key::F);
        self.type_text(search);
        self.wait_for("the case in the list", |h| {
            h.query_by(button_starting_with(entry)).is_some()
        });
        self.harness.get_by(button_starting_with(entry)).focus();
        self.harness.run_steps(2);
        self.press(Key::Enter);
        self.wait_for("the case in the editor", |h| {
            h.root()
                .accesskit_node()
                .label()
                .is_some_and(|title| title.starts_with("Sprechtag – Fall "))
        });
    }
}

/// A button whose accessible name starts with `prefix`.
pub fn button_starting_with(prefix: &str) -> impl Fn(&AccessKitNode<'_>) -> bool {
    move |node| {
        node.role() == Role::Button && node.label().is_some_and(|label| label.starts_with(prefix))
    }
}
