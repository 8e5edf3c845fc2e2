//! Office hours: open one, see its visitors, record a new visit, close it
//! with a summary.

use std::collections::HashMap;

use rust_i18n::t;
use sprechtag_schemas::{IsoDate, OfficeHourStatus, OfficeHourSummary};

use super::case_list::{next_generation, status_text};
use super::widgets;
use super::worker::Request;
use crate::store::{CaseFilter, CasePage, NewOfficeHour, OfficeHourRow};

pub enum Action {
    None,
    NewVisit(String),
    OpenCase(String),
    PrintReport(String),
    /// Turn the laptop to the citizen for the anonymous survey.
    Survey(String),
}

#[derive(Default)]
pub struct OfficeHoursView {
    selected: Option<String>,
    form: Option<Form>,
    pub visitors: CasePage,
    visitors_generation: u64,
    confirm_close: bool,
}

struct Form {
    village: String,
    venue: String,
    date: String,
    caseworker: String,
    /// A tour plan of the back office: with times, opened on the day.
    plan: bool,
    start: String,
    end: String,
    error: Option<String>,
    focused: bool,
}

impl Form {
    fn new(plan: bool) -> Form {
        Form {
            village: String::new(),
            venue: String::new(),
            date: IsoDate::today().to_german(),
            caseworker: String::new(),
            plan,
            start: "09:00".into(),
            end: "12:00".into(),
            error: None,
            focused: false,
        }
    }
}

impl OfficeHoursView {
    pub fn visitors_generation(&self) -> u64 {
        self.visitors_generation
    }

    /// The selected office hour, if it is open for visits.
    pub fn open_selected(&self, rows: &[OfficeHourRow]) -> Option<String> {
        let selected = self.selected.as_deref()?;
        rows.iter()
            .find(|r| r.id == selected && r.status == OfficeHourStatus::Open)
            .map(|r| r.id.clone())
    }

    pub fn opened(&mut self, office_hour: &sprechtag_schemas::OfficeHour) {
        self.form = None;
        self.selected = Some(office_hour.id.clone());
    }

    pub fn refresh_visitors(&mut self, outbox: &mut Vec<Request>) {
        let Some(id) = &self.selected else { return };
        self.visitors_generation = next_generation();
        outbox.push(Request::Cases {
            filter: CaseFilter {
                office_hour_id: Some(id.clone()),
                limit: 500,
                ..CaseFilter::default()
            },
            generation: self.visitors_generation,
        });
        outbox.push(Request::Summary(id.clone()));
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        rows: &[OfficeHourRow],
        summaries: &HashMap<String, OfficeHourSummary>,
        outbox: &mut Vec<Request>,
    ) -> Action {
        let mut action = Action::None;
        egui::Panel::left("office_hour_list")
            .resizable(false)
            .default_size(300.0)
            .show(ui, |ui| {
                widgets::heading(ui, t!("office_hours.title"));
                ui.horizontal_wrapped(|ui| {
                    if ui.button(t!("office_hours.open_new")).clicked() {
                        self.form = Some(Form::new(false));
                    }
                    if ui.button(t!("office_hours.plan_new")).clicked() {
                        self.form = Some(Form::new(true));
                    }
                });
                ui.separator();
                egui::ScrollArea::vertical().show(ui, |ui| {
                    if rows.is_empty() {
                        ui.label(t!("office_hours.none"));
                    }
                    for row in rows {
                        let selected = self.selected.as_deref() == Some(row.id.as_str());
                        let times = match (&row.start_time, &row.end_time) {
                            (Some(start), Some(end)) => format!(", {start}–{end}"),
                            _ => String::new(),
                        };
                        let text = format!(
                            "{}{times} – {} ({})",
                            row.label(),
                            office_hour_status_text(row.status),
                            t!("office_hours.visitors_n", n = row.visitors)
                        );
                        if ui.selectable_label(selected, text).clicked() {
                            self.selected = Some(row.id.clone());
                            self.form = None;
                            self.confirm_close = false;
                            self.visitors = CasePage::default();
                            self.refresh_visitors(outbox);
                        }
                    }
                });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(form) = &mut self.form {
                match form_ui(ui, form) {
                    FormOutcome::Editing => {}
                    FormOutcome::Submit(new) if form.plan => {
                        outbox.push(Request::PlanOfficeHour {
                            new,
                            start: form.start.clone(),
                            end: form.end.clone(),
                        });
                    }
                    FormOutcome::Submit(new) => outbox.push(Request::OpenOfficeHour(new)),
                    FormOutcome::Cancel => self.form = None,
                }
                return;
            }
            let Some(row) = self
                .selected
                .as_deref()
                .and_then(|id| rows.iter().find(|r| r.id == id))
            else {
                ui.label(t!("office_hours.choose"));
                return;
            };
            action = self.details_ui(ui, row, summaries.get(&row.id), outbox);
        });
        action
    }

    fn details_ui(
        &mut self,
        ui: &mut egui::Ui,
        row: &OfficeHourRow,
        summary: Option<&OfficeHourSummary>,
        outbox: &mut Vec<Request>,
    ) -> Action {
        let mut action = Action::None;
        widgets::heading(ui, format!("{} – {}", row.label(), row.venue));
        ui.label(t!(
            "office_hours.caseworker_status",
            caseworker = row.caseworker.as_str(),
            status = office_hour_status_text(row.status)
        ));
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui.button(t!("print.report")).clicked() {
                action = Action::PrintReport(row.id.clone());
            }
            if row.status == OfficeHourStatus::Planned
                && ui.button(t!("office_hours.begin")).clicked()
            {
                outbox.push(Request::BeginOfficeHour(row.id.clone()));
            }
            if row.status == OfficeHourStatus::Open {
                if ui.button(t!("office_hours.new_visit")).clicked() {
                    action = Action::NewVisit(row.id.clone());
                }
                if ui.button(t!("survey.start")).clicked() {
                    action = Action::Survey(row.id.clone());
                }
                if ui.button(t!("office_hours.close")).clicked() {
                    self.confirm_close = true;
                    outbox.push(Request::Summary(row.id.clone()));
                }
            }
        });
        if let Some(summary) = summary {
            let closed = row.status == OfficeHourStatus::Closed;
            if closed || self.confirm_close {
                ui.add_space(6.0);
                summary_ui(ui, summary, closed);
            }
        }
        if self.confirm_close && row.status == OfficeHourStatus::Open {
            ui.horizontal(|ui| {
                if ui.button(t!("office_hours.close_confirm")).clicked() {
                    outbox.push(Request::CloseOfficeHour(row.id.clone()));
                    self.confirm_close = false;
                }
                if ui.button(t!("common.cancel")).clicked() {
                    self.confirm_close = false;
                }
            });
        }
        ui.add_space(10.0);
        widgets::heading(ui, t!("office_hours.visitors_title"));
        if self.visitors.rows.is_empty() {
            ui.label(t!("office_hours.no_visitors"));
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("visitors")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for case in &self.visitors.rows {
                        let name = format!("{}, {}", case.surname, case.given_names);
                        if ui
                            .button(format!("{} · {name}", case.number))
                            .on_hover_text(t!("cases.open"))
                            .clicked()
                        {
                            action = Action::OpenCase(case.id.clone());
                        }
                        ui.label(&case.services);
                        ui.label(status_text(case.status));
                        ui.label(if case.complete {
                            t!("case.complete")
                        } else {
                            t!("case.incomplete")
                        });
                        ui.end_row();
                    }
                });
        });
        action
    }
}

enum FormOutcome {
    Editing,
    Submit(NewOfficeHour),
    Cancel,
}

fn form_ui(ui: &mut egui::Ui, form: &mut Form) -> FormOutcome {
    let mut outcome = FormOutcome::Editing;
    widgets::heading(
        ui,
        if form.plan {
            t!("office_hours.plan_new")
        } else {
            t!("office_hours.open_new")
        },
    );
    egui::Grid::new("office_hour_form")
        .num_columns(2)
        .show(ui, |ui| {
            let first = widgets::text_row(ui, &t!("office_hours.village"), &mut form.village);
            if !form.focused {
                first.request_focus();
                form.focused = true;
            }
            widgets::text_row(ui, &t!("office_hours.venue"), &mut form.venue);
            widgets::text_row(ui, &t!("office_hours.date"), &mut form.date);
            if form.plan {
                widgets::text_row(ui, &t!("office_hours.from"), &mut form.start);
                widgets::text_row(ui, &t!("office_hours.to"), &mut form.end);
            }
            widgets::text_row(ui, &t!("office_hours.caseworker"), &mut form.caseworker);
        });
    ui.horizontal(|ui| {
        let submit = if form.plan {
            t!("office_hours.plan_button")
        } else {
            t!("office_hours.open_button")
        };
        if ui.button(submit).clicked() {
            match form.date.parse::<IsoDate>() {
                _ if form.village.trim().is_empty() => {
                    form.error = Some(t!("office_hours.village_missing").into_owned());
                }
                _ if form.caseworker.trim().is_empty() => {
                    form.error = Some(t!("office_hours.caseworker_missing").into_owned());
                }
                Err(_) => form.error = Some(t!("common.bad_date").into_owned()),
                Ok(date) => {
                    form.error = None;
                    outcome = FormOutcome::Submit(NewOfficeHour {
                        village: form.village.trim().to_string(),
                        venue: form.venue.trim().to_string(),
                        date,
                        caseworker: form.caseworker.trim().to_string(),
                    });
                }
            }
        }
        if ui.button(t!("common.cancel")).clicked() {
            outcome = FormOutcome::Cancel;
        }
    });
    if let Some(error) = &form.error {
        widgets::error_banner(ui, error);
    }
    outcome
}

fn summary_ui(ui: &mut egui::Ui, summary: &OfficeHourSummary, closed: bool) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        widgets::section(
            ui,
            if closed {
                t!("summary.title_closed")
            } else {
                t!("summary.title_preview")
            },
        );
        ui.label(t!("summary.visitors", n = summary.visitors));
        for service in &summary.requests_by_service {
            ui.label(format!("• {}: {}", service.service_name, service.count));
        }
        if summary.incomplete_cases.is_empty() {
            ui.label(t!("summary.all_complete"));
        } else {
            ui.label(t!(
                "summary.incomplete",
                cases = summary.incomplete_cases.join(", ")
            ));
        }
    });
}

pub fn office_hour_status_text(status: OfficeHourStatus) -> String {
    match status {
        OfficeHourStatus::Planned => t!("office_hour_status.planned"),
        OfficeHourStatus::Open => t!("office_hour_status.open"),
        OfficeHourStatus::Closed => t!("office_hour_status.closed"),
    }
    .into_owned()
}
