//! Small widgets shared by the views, each with an accessible name. Messages
//! are AccessKit live regions: a screen reader speaks them when they appear
//! or change, not only when the user happens to move onto them.

use egui::accesskit::{Invalid, Live, Role};
use egui::{Color32, RichText};

/// Wide enough for long double names, narrow enough to read across.
const FIELD_WIDTH: f32 = 420.0;

/// A part of the screen whose widgets keep their ids while what is drawn
/// before it changes (a list growing or shrinking): egui derives ids from
/// the position among siblings, and a widget whose id changes loses the
/// keyboard focus. `name` must be unique in the app.
pub fn fixed_scope<R>(
    ui: &mut egui::Ui,
    name: &str,
    add_contents: impl FnOnce(&mut egui::Ui) -> R,
) -> R {
    let builder = egui::UiBuilder::new().scope_id(egui::Id::unique(name));
    ui.scope_builder(builder, add_contents).inner
}

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

/// One text field of a form, for a two-column grid: a row with the label
/// ("Ort *" when the field must be filled in) and the field, and below the
/// field a row that always holds one line — the example, or the error after
/// a failed submit — so that errors appear without moving the rows around.
///
/// For screen readers the field is named by the label without the marker,
/// marked required, and described by its error (or else its example): both
/// are heard when the field takes the focus. An error line is a live region,
/// spoken when it appears.
pub struct FormField<'a> {
    label: &'a str,
    required: bool,
    hint: Option<&'a str>,
    error: Option<&'a str>,
    focus: bool,
    width: f32,
}

pub struct FieldResponse {
    pub response: egui::Response,
    /// Enter was pressed in the field: the form is submitted.
    pub entered: bool,
}

impl<'a> FormField<'a> {
    pub fn new(label: &'a str) -> Self {
        FormField {
            label,
            required: false,
            hint: None,
            error: None,
            focus: false,
            width: FIELD_WIDTH,
        }
    }

    /// The form cannot be submitted while this field is empty.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// An example that fits the field ("z. B. 08.12.2026").
    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub fn error(mut self, error: Option<&'a str>) -> Self {
        self.error = error;
        self
    }

    /// Takes the keyboard focus in this frame (the first invalid field
    /// after a failed submit).
    pub fn focus(mut self, focus: bool) -> Self {
        self.focus = focus;
        self
    }

    pub fn width(mut self, width: f32) -> Self {
        self.width = width;
        self
    }

    pub fn show(self, ui: &mut egui::Ui, value: &mut String) -> FieldResponse {
        if self.required {
            ui.label(format!("{} *", self.label));
        } else {
            ui.label(self.label);
        }
        // Narrower where the window is (large text, the smallest window).
        let width = self.width.min(ui.available_width()).max(80.0);
        let response = ui
            .add(egui::TextEdit::singleline(value).desired_width(width))
            .accessible_name(self.label);
        let description = self.error.or(self.hint).map(str::to_string);
        response.ctx.accesskit_node_builder(response.id, |node| {
            if self.required {
                node.set_required();
            }
            if self.error.is_some() {
                node.set_invalid(Invalid::True);
            }
            if let Some(description) = description {
                node.set_description(description);
            }
        });
        if self.focus {
            response.request_focus();
            response.scroll_to_me(Some(egui::Align::Center));
        }
        let entered = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        ui.end_row();
        // The label column stays empty beside the note.
        ui.label("");
        match (self.error, self.hint) {
            (Some(error), _) => {
                let text = RichText::new(error).color(error_color(ui)).strong();
                let error = ui.add(egui::Label::new(text).wrap());
                announce(&error, Live::Polite);
            }
            (None, Some(hint)) => {
                ui.add(egui::Label::new(hint).wrap());
            }
            (None, None) => {
                let height = ui.text_style_height(&egui::TextStyle::Body);
                ui.allocate_space(egui::vec2(1.0, height));
            }
        }
        ui.end_row();
        FieldResponse { response, entered }
    }
}

/// Red that stays readable: dark on the light theme, light on black (set
/// with the themes in `prefs`, 7:1 in both).
pub fn error_color(ui: &egui::Ui) -> Color32 {
    ui.visuals().error_fg_color
}

/// The line under a form that explains the "*".
pub fn required_legend(ui: &mut egui::Ui) {
    ui.label(rust_i18n::t!("form.required_legend"));
}

/// A warning that needs a decision ("there is already an office hour on
/// this day"): amber, in words, spoken at once.
pub fn warning_banner(ui: &mut egui::Ui, text: &str) -> egui::Response {
    banner(ui, text, AMBER, egui::Margin::same(6), Live::Assertive)
}

const AMBER: Color32 = Color32::from_rgb(140, 80, 0);
const RED: Color32 = Color32::from_rgb(150, 0, 0);
const GREEN: Color32 = Color32::from_rgb(0, 100, 30);

/// White bold words on a coloured box (each fill 6.4:1 or more with white),
/// a live region: what banners and badges have in common.
fn banner(
    ui: &mut egui::Ui,
    text: &str,
    fill: Color32,
    margin: egui::Margin,
    live: Live,
) -> egui::Response {
    egui::Frame::new()
        .fill(fill)
        .inner_margin(margin)
        .corner_radius(4.0)
        .show(ui, |ui| {
            let response = ui.label(RichText::new(text).color(Color32::WHITE).strong());
            announce(&response, live);
            response
        })
        .inner
}

/// Makes `response` a live region: screen readers speak its text when it
/// appears and whenever it changes.
pub fn announce(response: &egui::Response, live: Live) {
    response
        .ctx
        .accesskit_node_builder(response.id, |node| node.set_live(live));
}

/// A neutral message ("Gespeichert", "12 Fälle"), spoken when it changes.
pub fn message(ui: &mut egui::Ui, text: impl Into<egui::WidgetText>) -> egui::Response {
    let response = ui.label(text);
    announce(&response, Live::Polite);
    response
}

/// What is wrong with `field`, shown where the caller puts it, spoken at
/// once, and given to the field as its description.
pub fn field_error(ui: &mut egui::Ui, field: &egui::Response, error: &str) {
    let message = ui.label(RichText::new(error).color(error_color(ui)).strong());
    announce(&message, Live::Assertive);
    field
        .ctx
        .accesskit_node_builder(field.id, |node| node.set_description(error));
}

/// An error in words on a red background: the words carry it, not the
/// colour. Screen readers speak it at once, interrupting.
pub fn error_banner(ui: &mut egui::Ui, text: &str) -> egui::Response {
    banner(ui, text, RED, egui::Margin::same(6), Live::Assertive)
}

/// A status line in green (done) or amber (attention), always with words;
/// spoken when it changes.
pub fn status_badge(ui: &mut egui::Ui, ok: bool, text: &str) -> egui::Response {
    let fill = if ok { GREEN } else { AMBER };
    banner(ui, text, fill, egui::Margin::symmetric(8, 4), Live::Polite)
}

/// The title of a screen, a heading of level 1 for screen readers.
pub fn heading(ui: &mut egui::Ui, text: impl Into<String>) -> egui::Response {
    let text = text.into();
    let response = ui.heading(&text);
    mark_heading(&response, text, 1);
    response
}

/// The title of a section of a screen, a heading of level 2.
pub fn section(ui: &mut egui::Ui, text: impl Into<String>) -> egui::Response {
    let text = text.into();
    let response = ui.strong(&text);
    mark_heading(&response, text, 2);
    response
}

/// The title of a part of a section (one request of a case), level 3.
pub fn subsection(ui: &mut egui::Ui, text: impl Into<String>) -> egui::Response {
    let text = text.into();
    let response = ui.strong(&text);
    mark_heading(&response, text, 3);
    response
}

/// The header of a table's column, in bold.
pub fn column_header(ui: &mut egui::Ui, text: &str) -> egui::Response {
    let response = ui.strong(text);
    response.ctx.accesskit_node_builder(response.id, |node| {
        node.set_role(Role::ColumnHeader);
        node.set_label(text);
    });
    response
}

/// Marks a selectable label as one tab of a tab list.
pub fn tab(response: &egui::Response, selected: bool) {
    response.ctx.accesskit_node_builder(response.id, |node| {
        node.set_role(Role::Tab);
        node.set_selected(selected);
    });
}

fn mark_heading(response: &egui::Response, text: String, level: usize) {
    response.ctx.accesskit_node_builder(response.id, |node| {
        node.set_role(Role::Heading);
        node.set_level(level);
        node.set_label(text);
    });
}

/// A drop-down with its label in front (egui puts a combo box's own label
/// behind it, where it reads as the label of the next control). The label
/// names the box for screen readers.
///
/// In a wrapping row (the case filters, at large text) label and box start
/// a new line together when both do not fit on this one: otherwise a label
/// ends one line and its box starts the next, beside another label.
pub fn combo_row(
    ui: &mut egui::Ui,
    label: &str,
    selected_text: String,
    contents: impl FnOnce(&mut egui::Ui),
) {
    if ui.layout().main_wrap() {
        let spacing = ui.spacing();
        let box_width = (text_width(ui, &selected_text, egui::TextStyle::Button)
            + spacing.icon_width
            + spacing.icon_spacing
            + 2.0 * spacing.button_padding.x)
            .max(spacing.combo_width);
        let needed =
            text_width(ui, label, egui::TextStyle::Body) + spacing.item_spacing.x + box_width;
        let line_start = ui.cursor().min.x <= ui.max_rect().min.x + 0.5;
        if !line_start && needed > ui.available_size_before_wrap().x {
            ui.end_row();
        }
    }
    let label = ui.label(label);
    let response = egui::ComboBox::from_id_salt(label.id)
        .selected_text(&selected_text)
        .show_ui(ui, contents)
        .response;
    let response = response.labelled_by(label.id);
    show_value(&response, selected_text);
}

/// The width `text` takes on one line.
fn text_width(ui: &egui::Ui, text: &str, style: egui::TextStyle) -> f32 {
    egui::WidgetText::from(text)
        .into_galley(ui, Some(egui::TextWrapMode::Extend), f32::INFINITY, style)
        .size()
        .x
}

/// Exposes what a combo box shows as its description too: AT-SPI has no
/// value for a combo box, and Orca reads the description after the name.
pub fn show_value(response: &egui::Response, value: String) {
    response
        .ctx
        .accesskit_node_builder(response.id, |node| node.set_description(value));
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
