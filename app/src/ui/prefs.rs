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
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            large_text: false,
            high_contrast: false,
            language: "de".into(),
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
            egui::Visuals::light()
        });
    }
}

fn path(dir: &Path) -> PathBuf {
    dir.join(PREFS_FILE)
}

/// Black background, white text, yellow focus and selection: contrast far
/// above WCAG AA, and a focus ring nobody can miss.
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
    visuals.widgets.hovered.bg_stroke = Stroke::new(2.5, yellow);
    visuals.widgets.active.bg_stroke = Stroke::new(3.0, yellow);
    visuals
}
