//! Small widgets shared by the views, each with an accessible name.

use egui::{Color32, RichText};

/// Wide enough for long double names, narrow enough to read across.
const FIELD_WIDTH: f32 = 420.0;

/// A labelled single-line text field in a two-column grid row. The label
/// names the field for screen readers.
pub fn text_row(ui: &mut egui::Ui, label: &str, value: &mut String) -> egui::Response {
    let label = ui.label(label);
    let response = ui
        .add(egui::TextEdit::singleline(value).desired_width(FIELD_WIDTH))
        .labelled_by(label.id);
    ui.end_row();
    response
}

/// An error in words on a red background: the words carry it, not the colour.
pub fn error_banner(ui: &mut egui::Ui, text: &str) {
    egui::Frame::new()
        .fill(Color32::from_rgb(150, 0, 0))
        .inner_margin(6.0)
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.label(RichText::new(text).color(Color32::WHITE).strong());
        });
}

/// A status line in green (done) or amber (attention), always with words.
pub fn status_badge(ui: &mut egui::Ui, ok: bool, text: &str) -> egui::Response {
    let fill = if ok {
        Color32::from_rgb(0, 100, 30)
    } else {
        Color32::from_rgb(140, 80, 0)
    };
    egui::Frame::new()
        .fill(fill)
        .inner_margin(egui::Margin::symmetric(8, 4))
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.label(RichText::new(text).color(Color32::WHITE).strong())
        })
        .inner
}

/// A drop-down with its label in front (egui puts a combo box's own label
/// behind it, where it reads as the label of the next control). The label
/// names the box for screen readers.
pub fn combo_row(
    ui: &mut egui::Ui,
    label: &str,
    selected_text: String,
    contents: impl FnOnce(&mut egui::Ui),
) {
    let label = ui.label(label);
    let response = egui::ComboBox::from_id_salt(label.id)
        .selected_text(selected_text)
        .show_ui(ui, contents)
        .response;
    let _ = response.labelled_by(label.id);
}

/// An RFC 3339 time as people here read it: "22.11.2026 10:35", local time.
pub fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_string(),
        |t| {
            t.with_timezone(&chrono::Local)
                .format("%d.%m.%Y %H:%M")
                .to_string()
        },
    )
}
