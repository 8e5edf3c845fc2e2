//! The back office's part of the case editor: forward a request to the
//! responsible office with a deadline and record its answer, review the case,
//! and the append-only comment thread. Edits go into the editor's case and
//! are saved like every other edit; the store signs comments and reviews with
//! this device's user.

use std::collections::HashMap;

use rust_i18n::t;
use sprechtag_schemas::{
    Case, CaseStatus, Catalog, Comment, Forwarding, IsoDate, Request as CaseRequest, Review,
    ReviewState, new_id,
};

use super::widgets;
use super::worker::Request;
use crate::store::{HistoryEntry, now_rfc3339 as now};

/// The forwarding form of one request.
#[derive(Default)]
struct ForwardForm {
    office_id: String,
    due: String,
    /// What the citizen asks the office: the e-mail says it.
    question: String,
    error: Option<String>,
}

#[derive(Default)]
pub struct ReviewPanel {
    forms: HashMap<String, ForwardForm>,
    comment: String,
    /// The change history, once asked for.
    pub history: Option<Vec<HistoryEntry>>,
}

impl ReviewPanel {
    /// Forwarding of one request: where it went and the answer (which
    /// only the back office records, `can_decide`), or else with `offer`
    /// the form to forward it. Returns true when the request was forwarded
    /// just now.
    pub fn forwarding_ui(
        &mut self,
        ui: &mut egui::Ui,
        request: &mut CaseRequest,
        catalog: &Catalog,
        can_decide: bool,
        offer: bool,
    ) -> bool {
        let today = IsoDate::today();
        match &mut request.forwarding {
            Some(forwarding) => {
                forwarded_ui(
                    ui,
                    forwarding,
                    catalog,
                    today,
                    &request.service_name,
                    can_decide,
                );
                false
            }
            None if !offer => false,
            None => {
                let service = catalog.service(&request.service_id);
                let form = self
                    .forms
                    .entry(request.id.clone())
                    .or_insert_with(|| ForwardForm {
                        office_id: service.map(|s| s.office_id.clone()).unwrap_or_default(),
                        due: today
                            .add_working_days(service.map_or(10, |s| s.response_days))
                            .to_german(),
                        question: String::new(),
                        error: None,
                    });
                match forward_form_ui(ui, form, catalog, &request.service_name) {
                    Some(forwarding) => {
                        request.forwarding = Some(forwarding);
                        true
                    }
                    None => false,
                }
            }
        }
    }

    /// Review verdict and comment thread, below the requests; the verdict
    /// buttons only for the back office (`can_decide`).
    pub fn review_ui(&mut self, ui: &mut egui::Ui, case: &mut Case, can_decide: bool) {
        ui.horizontal_wrapped(|ui| match &case.review {
            Some(review) => {
                widgets::status_badge(
                    ui,
                    review.state == ReviewState::Approved,
                    &t!(
                        "review.current",
                        state = review_text(review.state),
                        by = review.by.as_str()
                    ),
                );
            }
            None => {
                ui.label(t!("review.none"));
            }
        });
        let label = ui.label(t!("review.comment"));
        let field = ui
            .add(
                egui::TextEdit::multiline(&mut self.comment)
                    .desired_rows(2)
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(label.id);
        let _ = field;
        ui.horizontal_wrapped(|ui| {
            let verdicts: &[ReviewState] = if can_decide {
                &[
                    ReviewState::Approved,
                    ReviewState::NeedsClarification,
                    ReviewState::Rejected,
                ]
            } else {
                &[]
            };
            for &state in verdicts {
                if ui.button(review_action_text(state)).clicked() {
                    let at = now();
                    case.review = Some(Review {
                        state,
                        by: String::new(),
                        at: at.clone(),
                    });
                    self.take_comment(case, at);
                }
            }
            if ui.button(t!("review.add_comment")).clicked() {
                self.take_comment(case, now());
            }
        });
        if case.comments.is_empty() {
            ui.label(t!("review.no_comments"));
        }
        for comment in &case.comments {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(
                    egui::RichText::new(format!(
                        "{} · {}",
                        comment.author,
                        widgets::local_time(&comment.at)
                    ))
                    .small(),
                );
                ui.label(&comment.text);
            });
        }
    }

    /// Who changed what and when, from the case's automerge history.
    /// The change history, newest first; `deleted_before`: the case was
    /// corrected without its history then, and the list says so.
    pub fn history_ui(
        &mut self,
        ui: &mut egui::Ui,
        case_id: &str,
        deleted_before: Option<&str>,
        outbox: &mut Vec<Request>,
    ) {
        ui.horizontal(|ui| {
            widgets::section(ui, t!("history.heading"));
            let label = if self.history.is_some() {
                t!("history.refresh")
            } else {
                t!("history.show")
            };
            if !case_id.is_empty() && ui.button(label).clicked() {
                outbox.push(Request::History(case_id.to_string()));
            }
        });
        let Some(entries) = &self.history else { return };
        egui::Grid::new("history").striped(true).show(ui, |ui| {
            ui.strong(t!("history.when"));
            ui.strong(t!("history.who"));
            ui.strong(t!("history.what"));
            ui.end_row();
            for entry in entries.iter().rev() {
                ui.label(widgets::local_time(&entry.time));
                ui.label(if entry.by.is_empty() {
                    entry.actor.get(..8).unwrap_or(&entry.actor)
                } else {
                    &entry.by
                });
                ui.label(describe(entry));
                ui.end_row();
            }
        });
        if let Some(at) = deleted_before {
            let day = at
                .get(..10)
                .and_then(|day| day.parse::<sprechtag_schemas::IsoDate>().ok())
                .map_or_else(|| at.to_string(), sprechtag_schemas::IsoDate::to_german);
            widgets::message(ui, t!("history.deleted_before", date = day));
        }
    }

    fn take_comment(&mut self, case: &mut Case, at: String) {
        let text = self.comment.trim();
        if !text.is_empty() {
            case.comments.push(Comment {
                id: new_id(),
                author: String::new(),
                at,
                text: text.to_string(),
            });
            self.comment.clear();
        }
    }
}

fn forward_form_ui(
    ui: &mut egui::Ui,
    form: &mut ForwardForm,
    catalog: &Catalog,
    service_name: &str,
) -> Option<Forwarding> {
    let mut forwarding = None;
    ui.horizontal_wrapped(|ui| {
        let office_name = catalog
            .office(&form.office_id)
            .map_or_else(String::new, |o| o.name.de.clone());
        widgets::combo_row(
            ui,
            &t!("review.office_for", service = service_name),
            office_name,
            |ui| {
                for office in &catalog.offices {
                    ui.selectable_value(&mut form.office_id, office.id.clone(), &office.name.de);
                }
            },
        );
        let label = ui.label(t!("review.due"));
        ui.add(egui::TextEdit::singleline(&mut form.due).desired_width(110.0))
            .labelled_by(label.id);
        let label = ui.label(t!("review.question"));
        ui.add(egui::TextEdit::singleline(&mut form.question).desired_width(260.0))
            .labelled_by(label.id);
        let button = ui.button(t!("review.forward"));
        let name = t!("review.forward_named", service = service_name).into_owned();
        button.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &name));
        if button.clicked() {
            match form.due.trim().parse::<IsoDate>() {
                Ok(due) if due < IsoDate::today() => {
                    form.error = Some(t!("review.due_past").into_owned());
                }
                Ok(due) if catalog.office(&form.office_id).is_some() => {
                    form.error = None;
                    forwarding = Some(Forwarding {
                        office_id: form.office_id.clone(),
                        forwarded_at: now(),
                        due,
                        question: form.question.trim().to_string(),
                        answer: String::new(),
                        closed_at: None,
                        mail: None,
                    });
                }
                Ok(_) => form.error = Some(t!("review.no_office").into_owned()),
                Err(_) => form.error = Some(t!("review.due_invalid").into_owned()),
            }
        }
    });
    if let Some(error) = &form.error {
        widgets::error_banner(ui, error);
    }
    forwarding
}

fn forwarded_ui(
    ui: &mut egui::Ui,
    forwarding: &mut Forwarding,
    catalog: &Catalog,
    today: IsoDate,
    service_name: &str,
    can_decide: bool,
) {
    let office = catalog
        .office(&forwarding.office_id)
        .map_or_else(|| forwarding.office_id.clone(), |o| o.name.de.clone());
    let text = t!(
        "review.forwarded",
        office = office,
        due = forwarding.due.to_german()
    );
    let overdue = forwarding.closed_at.is_none() && forwarding.due < today;
    ui.horizontal_wrapped(|ui| {
        // Amber only when it needs attention; waiting within the deadline
        // is plain text.
        if overdue {
            widgets::status_badge(ui, false, &format!("{text} · {}", t!("review.overdue")));
        } else if forwarding.closed_at.is_some() {
            widgets::status_badge(ui, true, &text);
        } else {
            ui.label(text);
        }
        if !can_decide {
            return;
        }
        let mut closed = forwarding.closed_at.is_some();
        let name = t!("review.closed_named", service = service_name).into_owned();
        let check = ui.checkbox(&mut closed, t!("review.closed"));
        check.widget_info(|| egui::WidgetInfo::selected(egui::Role::CheckBox, true, closed, &name));
        if check.changed() {
            forwarding.closed_at = closed.then(now);
        }
    });
    if let Some(text) = mail_text(forwarding) {
        widgets::message(ui, text);
    }
    if !can_decide {
        if !forwarding.answer.trim().is_empty() {
            ui.label(t!(
                "review.answer_given",
                answer = forwarding.answer.as_str()
            ));
        }
        return;
    }
    ui.horizontal(|ui| {
        let label = ui.label(t!("review.answer"));
        ui.add(egui::TextEdit::singleline(&mut forwarding.answer).desired_width(f32::INFINITY))
            .labelled_by(label.id);
    });
}

/// What became of the forwarding's e-mail, as the server reported it.
pub fn mail_text(forwarding: &Forwarding) -> Option<String> {
    let mail = forwarding.mail.as_ref()?;
    Some(match (&mail.sent_at, &mail.error) {
        (Some(at), _) => t!(
            "review.mail_sent",
            to = mail.to.as_str(),
            at = widgets::local_time(at)
        )
        .into_owned(),
        (None, Some(error)) if mail.given_up => t!(
            "review.mail_refused",
            to = mail.to.as_str(),
            error = error.as_str()
        )
        .into_owned(),
        (None, Some(error)) => t!(
            "review.mail_failed",
            to = mail.to.as_str(),
            attempts = mail.attempts,
            error = error.as_str()
        )
        .into_owned(),
        (None, None) => return None,
    })
}

/// A change in words: "Fall angelegt", or the fields it touched in German
/// ("Anliegen › Weiterleitung › Frist").
fn describe(entry: &HistoryEntry) -> String {
    if entry.message == "new case" {
        return t!("history.created").into_owned();
    }
    let mut fields: Vec<String> = entry
        .changed
        .iter()
        .filter(|path| !path.starts_with("editors"))
        .map(|path| {
            path.split('.')
                .filter(|segment| segment.parse::<usize>().is_err())
                .map(field_label)
                .collect::<Vec<_>>()
                .join(" › ")
        })
        .collect();
    fields.dedup();
    if fields.is_empty() {
        t!("history.no_fields").into_owned()
    } else {
        fields.join(", ")
    }
}

fn field_label(name: &str) -> String {
    let key = format!("field.{name}");
    let label = t!(&key).into_owned();
    // rust-i18n returns the key itself for names it does not know.
    if label == key || label.ends_with(&key) {
        name.to_string()
    } else {
        label
    }
}

/// The status a case takes when one of its requests was forwarded.
pub fn status_after_forwarding(case: &mut Case) {
    if case.requests.iter().any(|r| r.forwarding.is_some())
        && matches!(
            case.status,
            CaseStatus::Open | CaseStatus::Complete | CaseStatus::WaitingForDocuments
        )
    {
        case.status = CaseStatus::Forwarded;
    }
}

pub fn review_text(state: ReviewState) -> String {
    match state {
        ReviewState::Approved => t!("review.approved"),
        ReviewState::NeedsClarification => t!("review.needs_clarification"),
        ReviewState::Rejected => t!("review.rejected"),
    }
    .into_owned()
}

fn review_action_text(state: ReviewState) -> String {
    match state {
        ReviewState::Approved => t!("review.approve"),
        ReviewState::NeedsClarification => t!("review.ask"),
        ReviewState::Rejected => t!("review.reject"),
    }
    .into_owned()
}
