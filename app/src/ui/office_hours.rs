//! Office hours: open one, see its visitors, record a new visit, close it
//! with a summary.

use std::collections::HashMap;

use rust_i18n::t;
use sprechtag_schemas::{IsoDate, OfficeHourStatus, OfficeHourSummary};

use super::case_list::{self, next_generation};
use super::widgets;
use super::worker::Request;
use crate::store::appointments::parse_time;
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
    /// What the last submit found wrong, field by field. After a failed
    /// submit the fields are checked again as the user types, so that an
    /// error goes as soon as it is put right.
    errors: FieldErrors,
    submitted: bool,
    /// Move the focus to the first invalid field in the next frame.
    focus_error: bool,
    /// Another office hour on the same day, found at submit: the form is
    /// only sent after a second, confirming action.
    same_day: Option<String>,
    focus_confirm: bool,
    focused: bool,
}

#[derive(Default, PartialEq)]
struct FieldErrors {
    village: Option<String>,
    date: Option<String>,
    start: Option<String>,
    end: Option<String>,
    caseworker: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        *self != FieldErrors::default()
    }
}

/// What a valid form sends.
struct Valid {
    new: NewOfficeHour,
    /// From and to (HH:MM) of a plan.
    times: Option<(String, String)>,
}

impl Form {
    fn new(plan: bool, rows: &[OfficeHourRow]) -> Form {
        Form {
            village: String::new(),
            venue: String::new(),
            date: IsoDate::today().to_german(),
            caseworker: last_caseworker(rows).unwrap_or_default(),
            plan,
            start: "09:00".into(),
            end: "12:00".into(),
            errors: FieldErrors::default(),
            submitted: false,
            focus_error: false,
            same_day: None,
            focus_confirm: false,
            focused: false,
        }
    }

    /// Every field checked at once; the errors in the order of the fields.
    fn validate(&self) -> Result<Valid, FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.village.trim().is_empty() {
            errors.village = Some(t!("office_hours.village_missing").into_owned());
        }
        if self.caseworker.trim().is_empty() {
            errors.caseworker = Some(t!("office_hours.caseworker_missing").into_owned());
        }
        let date = self.date.parse::<IsoDate>().ok();
        match date {
            None => {
                errors.date = Some(
                    t!("office_hours.bad_date", example = date_example(self.plan)).into_owned(),
                );
            }
            Some(date) if self.plan && date < IsoDate::today() => {
                errors.date = Some(t!("store.plan_past", date = date.to_german()).into_owned());
            }
            Some(_) => {}
        }
        let mut times = None;
        if self.plan {
            let start = parse_time(&self.start).ok();
            let end = parse_time(&self.end).ok();
            if start.is_none() {
                errors.start = Some(t!("office_hours.bad_start").into_owned());
            }
            if end.is_none() {
                errors.end = Some(t!("office_hours.bad_end").into_owned());
            }
            if let (Some(start), Some(end)) = (start, end) {
                if end <= start {
                    errors.end =
                        Some(t!("store.ends_before_start", start = start, end = end).into_owned());
                }
                times = Some((start, end));
            }
        }
        match date {
            Some(date) if !errors.any() => Ok(Valid {
                new: NewOfficeHour {
                    village: self.village.trim().to_string(),
                    venue: self.venue.trim().to_string(),
                    date,
                    caseworker: self.caseworker.trim().to_string(),
                },
                times,
            }),
            _ => Err(errors),
        }
    }
}

/// The caseworker of the office hour opened last, to fill in the next
/// one: the rows come newest first, and office hours planned by the back
/// office (with times) name whoever the tour was planned for, so opened
/// ones are preferred.
fn last_caseworker(rows: &[OfficeHourRow]) -> Option<String> {
    rows.iter()
        .find(|row| row.start_time.is_none())
        .or_else(|| rows.first())
        .map(|row| row.caseworker.clone())
        .filter(|name| !name.trim().is_empty())
}

/// A date that fits the field: today for an office hour opened now, a
/// week ahead for a plan.
fn date_example(plan: bool) -> String {
    let today = IsoDate::today();
    if plan { today.add_days(7) } else { today }.to_german()
}

/// "Am 01.12.2026 gibt es schon einen Sprechtag: Kleinbrück (geöffnet)."
fn same_day_warning(rows: &[OfficeHourRow], date: IsoDate, plan: bool) -> Option<String> {
    let iso = date.to_string();
    let others: Vec<String> = rows
        .iter()
        .filter(|row| row.date == iso)
        .map(|row| format!("{} ({})", row.village, office_hour_status_text(row.status)))
        .collect();
    if others.is_empty() {
        return None;
    }
    let key = if plan {
        "office_hours.same_day_plan"
    } else {
        "office_hours.same_day_open"
    };
    Some(
        t!(
            key,
            date = date.to_german(),
            office_hours = others.join(", ")
        )
        .into_owned(),
    )
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
        can_plan: bool,
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
                        self.form = Some(Form::new(false, rows));
                    }
                    // Tours are planned by the back office.
                    if can_plan && ui.button(t!("office_hours.plan_new")).clicked() {
                        self.form = Some(Form::new(true, rows));
                    }
                });
                ui.separator();
                egui::ScrollArea::vertical()
                    .id_salt("office_hour_list")
                    .show(ui, |ui| {
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
                // A plan's seven fields and their notes outgrow a small
                // window at large text.
                let outcome = egui::ScrollArea::vertical()
                    .id_salt("office_hour_form")
                    .show(ui, |ui| form_ui(ui, form, rows))
                    .inner;
                match outcome {
                    FormOutcome::Editing => {}
                    FormOutcome::Submit(Valid {
                        new,
                        times: Some((start, end)),
                    }) => {
                        outbox.push(Request::PlanOfficeHour { new, start, end });
                    }
                    FormOutcome::Submit(Valid { new, times: None }) => {
                        outbox.push(Request::OpenOfficeHour(new));
                    }
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
        egui::ScrollArea::both()
            .id_salt("visitors")
            .auto_shrink(false)
            .show(ui, |ui| {
                if let Some(id) = case_list::case_table_ui(
                    ui,
                    &t!("office_hours.visitors_title"),
                    &self.visitors.rows,
                ) {
                    action = Action::OpenCase(id);
                }
            });
        action
    }
}

enum FormOutcome {
    Editing,
    Submit(Valid),
    Cancel,
}

fn form_ui(ui: &mut egui::Ui, form: &mut Form, rows: &[OfficeHourRow]) -> FormOutcome {
    let mut outcome = FormOutcome::Editing;
    widgets::heading(
        ui,
        if form.plan {
            t!("office_hours.plan_new")
        } else {
            t!("office_hours.open_new")
        },
    );
    widgets::required_legend(ui);
    ui.add_space(4.0);
    let focus_error = std::mem::take(&mut form.focus_error);
    // The first invalid field takes the focus; the others only show their error.
    let mut focus_taken = false;
    let mut focus_if = |error: &Option<String>| {
        let take = focus_error && !focus_taken && error.is_some();
        focus_taken |= take;
        take
    };
    let date_hint = t!("office_hours.date_hint", example = date_example(form.plan)).into_owned();
    let caseworker_hint = t!("office_hours.caseworker_hint").into_owned();
    let venue_hint = t!("office_hours.venue_hint").into_owned();
    let village_hint = t!("office_hours.village_hint").into_owned();
    let (mut entered, mut changed) = (false, false);
    egui::Grid::new("office_hour_form")
        .num_columns(2)
        .show(ui, |ui| {
            let errors = &form.errors;
            let village = widgets::FormField::new(&t!("office_hours.village"))
                .required()
                .hint(&village_hint)
                .error(errors.village.as_deref())
                .focus(focus_if(&errors.village))
                .show(ui, &mut form.village);
            if !form.focused {
                village.response.request_focus();
                form.focused = true;
            }
            let venue = widgets::FormField::new(&t!("office_hours.venue"))
                .hint(&venue_hint)
                .show(ui, &mut form.venue);
            let date = widgets::FormField::new(&t!("office_hours.date"))
                .required()
                .hint(&date_hint)
                .error(errors.date.as_deref())
                .focus(focus_if(&errors.date))
                .show(ui, &mut form.date);
            let mut fields = vec![village, venue, date];
            if form.plan {
                let start_hint = t!("office_hours.start_hint");
                let end_hint = t!("office_hours.end_hint");
                fields.push(
                    widgets::FormField::new(&t!("office_hours.from"))
                        .required()
                        .hint(&start_hint)
                        .error(errors.start.as_deref())
                        .focus(focus_if(&errors.start))
                        .width(110.0)
                        .show(ui, &mut form.start),
                );
                fields.push(
                    widgets::FormField::new(&t!("office_hours.to"))
                        .required()
                        .hint(&end_hint)
                        .error(errors.end.as_deref())
                        .focus(focus_if(&errors.end))
                        .width(110.0)
                        .show(ui, &mut form.end),
                );
            }
            fields.push(
                widgets::FormField::new(&t!("office_hours.caseworker"))
                    .required()
                    .hint(&caseworker_hint)
                    .error(errors.caseworker.as_deref())
                    .focus(focus_if(&errors.caseworker))
                    .show(ui, &mut form.caseworker),
            );
            entered = fields.iter().any(|f| f.entered);
            changed = fields.iter().any(|f| f.response.changed());
        });
    if changed {
        // The day may have changed: ask again at the next submit.
        form.same_day = None;
        if form.submitted {
            form.errors = form.validate().err().unwrap_or_default();
        }
    }
    let submit_text = if form.plan {
        t!("office_hours.plan_button")
    } else {
        t!("office_hours.open_button")
    };
    let mut confirmed = false;
    ui.horizontal(|ui| {
        if ui.button(submit_text).clicked() {
            entered = true;
        }
        if ui.button(t!("common.cancel")).clicked() {
            outcome = FormOutcome::Cancel;
        }
    });
    if let Some(warning) = &form.same_day {
        ui.add_space(6.0);
        widgets::warning_banner(ui, warning);
        let confirm_text = if form.plan {
            t!("office_hours.plan_anyway")
        } else {
            t!("office_hours.open_anyway")
        };
        let confirm = ui.button(confirm_text);
        // Heard with the button when the focus lands on it.
        widgets::show_value(&confirm, warning.clone());
        if std::mem::take(&mut form.focus_confirm) {
            confirm.request_focus();
        }
        confirmed = confirm.clicked();
    }
    if entered || confirmed {
        form.submitted = true;
        match form.validate() {
            Err(errors) => {
                form.errors = errors;
                form.focus_error = true;
                form.same_day = None;
            }
            Ok(valid) => {
                form.errors = FieldErrors::default();
                match same_day_warning(rows, valid.new.date, form.plan) {
                    Some(warning) if !confirmed => {
                        form.same_day = Some(warning);
                        form.focus_confirm = true;
                    }
                    _ => outcome = FormOutcome::Submit(valid),
                }
            }
        }
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
