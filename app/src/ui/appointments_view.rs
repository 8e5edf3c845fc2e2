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

    /// Returns the id of a case to open.
    pub fn ui(&mut self, ui: &mut egui::Ui, outbox: &mut Vec<Request>) -> Option<String> {
        let mut open = None;
        widgets::heading(ui, t!("day_list.title"));
        ui.horizontal(|ui| {
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
        });
        if self.date_text.parse::<IsoDate>().is_err() {
            widgets::error_banner(ui, &t!("common.bad_date"));
        }
        if self.rows.is_empty() {
            ui.label(t!("day_list.none"));
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
