//! The day list: every appointment booked for a day, across cases.

use rust_i18n::t;
use sprechtag_schemas::IsoDate;

use super::widgets;
use super::worker::Request;
use crate::store::appointments::AppointmentRow;

pub struct AppointmentsView {
    date_text: String,
    pub date: IsoDate,
    pub rows: Vec<AppointmentRow>,
}

impl Default for AppointmentsView {
    fn default() -> Self {
        let today = IsoDate::today();
        AppointmentsView {
            date_text: today.to_german(),
            date: today,
            rows: Vec::new(),
        }
    }
}

impl AppointmentsView {
    pub fn refresh(&self, outbox: &mut Vec<Request>) {
        outbox.push(Request::AppointmentsOn(self.date));
    }

    /// Shows `date` and asks for its appointments.
    fn go_to(&mut self, date: IsoDate, outbox: &mut Vec<Request>) {
        self.date = date;
        self.date_text = date.to_german();
        self.rows.clear();
        self.refresh(outbox);
    }

    /// Returns the id of a case to open.
    pub fn ui(&mut self, ui: &mut egui::Ui, outbox: &mut Vec<Request>) -> Option<String> {
        let mut open = None;
        widgets::heading(ui, t!("day_list.title"));
        ui.horizontal_wrapped(|ui| {
            // The arrows are for the eye; screen readers hear the word.
            let previous = t!("day_list.previous");
            if ui
                .button(format!("‹ {previous}"))
                .accessible_name(previous)
                .clicked()
            {
                self.go_to(self.date.add_days(-1), outbox);
            }
            let label = ui.label(t!("day_list.date"));
            let field = ui
                .add(egui::TextEdit::singleline(&mut self.date_text).desired_width(110.0))
                .labelled_by(label.id);
            if field.changed()
                && let Ok(date) = self.date_text.parse::<IsoDate>()
            {
                self.date = date;
                self.refresh(outbox);
            }
            let next = t!("day_list.next");
            if ui
                .button(format!("{next} ›"))
                .accessible_name(next)
                .clicked()
            {
                self.go_to(self.date.add_days(1), outbox);
            }
            let today = IsoDate::today();
            if ui
                .add_enabled(self.date != today, egui::Button::new(t!("day_list.today")))
                .clicked()
            {
                self.go_to(today, outbox);
            }
        });
        if self.date_text.parse::<IsoDate>().is_err() {
            widgets::error_banner(ui, &t!("common.bad_date"));
        } else if self.rows.is_empty() {
            // Names the day, so that paging through empty days is heard.
            widgets::message(ui, t!("day_list.none", date = weekday_date(self.date)));
        }
        egui::Grid::new("day_list")
            .striped(true)
            .num_columns(4)
            .show(ui, |ui| {
                for row in &self.rows {
                    ui.label(format!("{} {}", row.appointment.time, t!("booking.oclock")));
                    if ui
                        .button(format!("{} · {}", row.case_number, row.name))
                        .clicked()
                    {
                        open = Some(row.case_id.clone());
                    }
                    ui.label(&row.appointment.place);
                    ui.label(&row.appointment.purpose);
                    ui.end_row();
                }
            });
        open
    }
}

/// "Dienstag, 01.12.2026".
fn weekday_date(date: IsoDate) -> String {
    use chrono::Datelike;
    format!(
        "{}, {}",
        weekday_name(date.date().weekday()),
        date.to_german()
    )
}

/// "Dienstag" (or "Tuesday").
pub fn weekday_name(day: chrono::Weekday) -> String {
    match day {
        chrono::Weekday::Mon => t!("weekday.mon"),
        chrono::Weekday::Tue => t!("weekday.tue"),
        chrono::Weekday::Wed => t!("weekday.wed"),
        chrono::Weekday::Thu => t!("weekday.thu"),
        chrono::Weekday::Fri => t!("weekday.fri"),
        chrono::Weekday::Sat => t!("weekday.sat"),
        chrono::Weekday::Sun => t!("weekday.sun"),
    }
    .into_owned()
}
