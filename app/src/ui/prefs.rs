//! Display preferences, remembered between starts. Kept in `ui.json` beside
//! the database, unencrypted, because they apply before the passphrase is
//! entered (a visually impaired caseworker needs large text on the unlock
//! screen too). They hold no personal data.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const PREFS_FILE: &str = "ui.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    pub large_text: bool,
    pub high_contrast: bool,
    /// "de" or "en".
    pub language: String,
    /// Seconds without a key, click or pointer move after which the app
    /// locks itself (BSI: a workstation left alone locks).
    pub lock_after_secs: u64,
    /// The hall stays on in every view, not only in its own.
    pub hall_always: bool,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            large_text: false,
            high_contrast: false,
            language: "de".into(),
            lock_after_secs: 5 * 60,
            hall_always: false,
        }
    }
}

impl Prefs {
    /// The saved preferences; defaults if there are none or they are unreadable.
    pub fn load(dir: &Path) -> Prefs {
        std::fs::read_to_string(path(dir))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomically(&path(dir), text.as_bytes())
    }

    /// Applies text size, contrast and language to the running UI.
    pub fn apply(&self, ctx: &egui::Context) {
        rust_i18n::set_locale(if self.language == "en" { "en" } else { "de" });
        ctx.set_zoom_factor(if self.large_text { 1.4 } else { 1.0 });
        ctx.set_visuals(if self.high_contrast {
            high_contrast_visuals()
        } else {
            default_visuals()
        });
    }
}

fn path(dir: &Path) -> PathBuf {
    dir.join(PREFS_FILE)
}

/// egui's light theme, with what it leaves too faint for older eyes: the
/// border of every control (an empty field, an unticked box) at 4.6:1
/// against the panel (WCAG 1.4.11 asks 3:1; egui draws none), a darker
/// border under the pointer, and the keyboard focus as a thick blue ring,
/// so that focus and hover never look alike.
fn default_visuals() -> egui::Visuals {
    use egui::{Color32, Stroke};
    let mut visuals = egui::Visuals::light();
    let focus = Color32::from_rgb(0, 80, 190);
    visuals.widgets.inactive.bg_stroke = Stroke::new(1.0, CONTROL_BORDER);
    visuals.widgets.hovered.bg_stroke = Stroke::new(1.5, Color32::from_gray(30));
    visuals.widgets.active.bg_stroke = Stroke::new(2.5, focus);
    visuals.selection.stroke = Stroke::new(2.5, focus);
    // Errors as text: dark red, 7.6:1 on the panel (egui's red is 4:1).
    visuals.error_fg_color = Color32::from_rgb(160, 0, 0);
    visuals
}

/// The border of controls in the default theme: gray 112 on the panel's
/// gray 248 is 4.6:1.
const CONTROL_BORDER: egui::Color32 = egui::Color32::from_gray(112);

/// Black background, white text, yellow focus and selection: contrast far
/// above WCAG AA, and a focus ring nobody can miss. Under the pointer a
/// control gets a white ring and a lighter fill; with the keyboard focus a
/// thick yellow one on blue — the two never look alike.
fn high_contrast_visuals() -> egui::Visuals {
    use egui::{Color32, Stroke};
    let mut visuals = egui::Visuals::dark();
    let yellow = Color32::from_rgb(255, 221, 0);
    visuals.override_text_color = Some(Color32::WHITE);
    visuals.panel_fill = Color32::BLACK;
    visuals.window_fill = Color32::BLACK;
    visuals.extreme_bg_color = Color32::BLACK;
    visuals.faint_bg_color = Color32::from_gray(20);
    visuals.hyperlink_color = yellow;
    visuals.error_fg_color = Color32::from_rgb(255, 150, 150);
    visuals.selection.bg_fill = Color32::from_rgb(0, 70, 160);
    visuals.selection.stroke = Stroke::new(2.0, yellow);
    for widget in [
        &mut visuals.widgets.noninteractive,
        &mut visuals.widgets.inactive,
        &mut visuals.widgets.hovered,
        &mut visuals.widgets.active,
        &mut visuals.widgets.open,
    ] {
        widget.bg_stroke = Stroke::new(1.5, Color32::WHITE);
        widget.fg_stroke = Stroke::new(1.5, Color32::WHITE);
    }
    visuals.widgets.inactive.bg_fill = Color32::from_gray(25);
    visuals.widgets.inactive.weak_bg_fill = Color32::from_gray(25);
    visuals.widgets.hovered.bg_stroke = Stroke::new(2.0, Color32::WHITE);
    visuals.widgets.hovered.bg_fill = Color32::from_gray(70);
    visuals.widgets.hovered.weak_bg_fill = Color32::from_gray(70);
    visuals.widgets.active.bg_stroke = Stroke::new(3.5, yellow);
    visuals.widgets.active.bg_fill = Color32::from_rgb(0, 50, 120);
    visuals.widgets.active.weak_bg_fill = Color32::from_rgb(0, 50, 120);
    visuals
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG's contrast ratio of two colours.
    fn contrast(a: egui::Color32, b: egui::Color32) -> f32 {
        fn luminance(c: egui::Color32) -> f32 {
            let channel = |v: u8| {
                let v = f32::from(v) / 255.0;
                if v <= 0.039_28 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * channel(c.r()) + 0.7152 * channel(c.g()) + 0.0722 * channel(c.b())
        }
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    #[test]
    fn control_borders_stand_out_from_the_panel_by_three_to_one_at_least() {
        let visuals = default_visuals();
        let border = visuals.widgets.inactive.bg_stroke;
        assert!(border.width >= 1.0);
        for background in [visuals.panel_fill, visuals.extreme_bg_color] {
            let ratio = contrast(border.color, background);
            assert!(ratio >= 3.0, "{ratio:.2} against {background:?}");
        }
    }

    #[test]
    fn errors_as_text_read_at_seven_to_one_in_both_themes() {
        for visuals in [default_visuals(), high_contrast_visuals()] {
            let ratio = contrast(visuals.error_fg_color, visuals.panel_fill);
            assert!(ratio >= 7.0, "{ratio:.2}");
        }
    }

    #[test]
    fn focus_and_hover_look_different_in_both_themes() {
        for visuals in [default_visuals(), high_contrast_visuals()] {
            let (hover, focus) = (visuals.widgets.hovered, visuals.widgets.active);
            assert_ne!(hover.bg_stroke.color, focus.bg_stroke.color);
            assert!(focus.bg_stroke.width > hover.bg_stroke.width);
        }
    }
}
