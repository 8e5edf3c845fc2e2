//! Ideas, praise and complaints ("Ideen und Beschwerden"): the form to
//! record one — anonymous or for a case — and the list, where the back
//! office forwards an entry to the responsible office with a deadline and
//! closes it with the answer given.

use rust_i18n::t;
use sprechtag_schemas::{Catalog, Feedback, FeedbackCategory, FeedbackKind, IsoDate};

use super::review::mail_text;
use super::widgets;
use super::worker::{Request, kind_label};
use crate::store::NewFeedback;

pub struct FeedbackView {
    list: Vec<Feedback>,
    form: Form,
    selected: Option<String>,
    forward_office: String,
    forward_due: String,
    close_answer: String,
    notice: Option<String>,
    error: Option<String>,
}

struct Form {
    kind: FeedbackKind,
    category: FeedbackCategory,
    text: String,
    /// The case number, when not anonymous.
    case: String,
    anonymous: bool,
}

impl Default for FeedbackView {
    fn default() -> Self {
        FeedbackView {
            list: Vec::new(),
            form: Form {
                kind: FeedbackKind::Complaint,
                category: FeedbackCategory::Waiting,
                text: String::new(),
                case: String::new(),
                anonymous: true,
            },
            selected: None,
            forward_office: String::new(),
            forward_due: IsoDate::today().add_working_days(10).to_german(),
            close_answer: String::new(),
            notice: None,
            error: None,
        }
    }
}

/// The German (or English) name of a category.
pub fn category_label(category: FeedbackCategory) -> String {
    match category {
        FeedbackCategory::Waiting => t!("feedback.cat_waiting"),
        FeedbackCategory::Staff => t!("feedback.cat_staff"),
        FeedbackCategory::Documents => t!("feedback.cat_documents"),
        FeedbackCategory::Access => t!("feedback.cat_access"),
        FeedbackCategory::Schedule => t!("feedback.cat_schedule"),
        FeedbackCategory::Other => t!("feedback.cat_other"),
    }
    .into_owned()
}

impl FeedbackView {
    pub fn refresh(&mut self, outbox: &mut Vec<Request>) {
        outbox.push(Request::FeedbackList);
    }

    pub fn on_list(&mut self, list: Vec<Feedback>, saved: Option<String>) {
        self.list = list;
        if let Some(saved) = saved {
            self.notice = Some(saved);
            self.error = None;
            self.form.text.clear();
            self.form.case.clear();
            self.close_answer.clear();
        }
    }

    /// `decides`: the back office forwards and closes.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        decides: bool,
        outbox: &mut Vec<Request>,
    ) {
        egui::ScrollArea::vertical()
            .id_salt("feedback")
            .show(ui, |ui| {
                widgets::heading(ui, t!("feedback.title"));
                self.form_ui(ui, outbox);
                ui.add_space(12.0);
                self.list_ui(ui, catalog, decides, outbox);
            });
    }

    fn form_ui(&mut self, ui: &mut egui::Ui, outbox: &mut Vec<Request>) {
        widgets::section(ui, t!("feedback.new"));
        let form = &mut self.form;
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(t!("feedback.kind"));
            let group = egui::UiBuilder::new()
                .accessibility_role(egui::accesskit::Role::RadioGroup)
                .accessibility_label(t!("feedback.kind"));
            ui.scope_builder(group, |ui| {
                ui.horizontal(|ui| {
                    for kind in FeedbackKind::ALL {
                        ui.radio_value(&mut form.kind, *kind, kind_label(*kind));
                    }
                });
            });
            let _ = label;
        });
        ui.horizontal_wrapped(|ui| {
            widgets::combo_row(
                ui,
                &t!("feedback.category"),
                category_label(form.category),
                |ui| {
                    for category in FeedbackCategory::ALL {
                        ui.selectable_value(
                            &mut form.category,
                            *category,
                            category_label(*category),
                        );
                    }
                },
            );
        });
        let label = ui.label(t!("feedback.text"));
        ui.add(
            egui::TextEdit::multiline(&mut form.text)
                .desired_rows(4)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        ui.checkbox(&mut form.anonymous, t!("feedback.anonymous"));
        if !form.anonymous {
            ui.horizontal(|ui| {
                let label = ui.label(t!("feedback.case"));
                ui.add(egui::TextEdit::singleline(&mut form.case).desired_width(160.0))
                    .labelled_by(label.id);
            });
        }
        if ui.button(t!("feedback.record")).clicked() {
            if form.text.trim().is_empty() {
                self.error = Some(t!("store.feedback_empty").into_owned());
            } else if !form.anonymous && form.case.trim().is_empty() {
                self.error = Some(t!("feedback.case_missing").into_owned());
            } else {
                self.error = None;
                outbox.push(Request::RecordFeedback(NewFeedback {
                    kind: form.kind,
                    category: form.category,
                    text: form.text.trim().to_string(),
                    case: (!form.anonymous).then(|| form.case.trim().to_string()),
                }));
            }
        }
        if let Some(error) = &self.error {
            widgets::error_banner(ui, error);
        }
        if let Some(notice) = &self.notice {
            widgets::message(ui, notice.as_str());
        }
    }

    fn list_ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        decides: bool,
        outbox: &mut Vec<Request>,
    ) {
        widgets::section(ui, t!("feedback.list", n = self.list.len()));
        if self.list.is_empty() {
            ui.label(t!("feedback.empty"));
            return;
        }
        let list = self.list.clone();
        for entry in &list {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                let state = if entry.is_closed() {
                    t!("feedback.state_closed")
                } else if entry.forwarding.is_some() {
                    t!("feedback.state_forwarded")
                } else {
                    t!("feedback.state_open")
                };
                let title = format!(
                    "{} · {} · {} · {}",
                    kind_label(entry.kind),
                    category_label(entry.category),
                    widgets::local_time(&entry.created_at),
                    state
                );
                let selected = self.selected.as_deref() == Some(entry.id.as_str());
                if ui.selectable_label(selected, title).clicked() {
                    self.selected = if selected {
                        None
                    } else {
                        Some(entry.id.clone())
                    };
                    self.forward_office.clear();
                }
                ui.label(&entry.text);
                if entry.case_id.is_some() {
                    ui.label(t!("feedback.linked"));
                } else {
                    ui.label(t!("feedback.anonymous_entry"));
                }
                if let Some(forwarding) = &entry.forwarding {
                    let office = catalog
                        .office(&forwarding.office_id)
                        .map_or(forwarding.office_id.as_str(), |o| o.name.de.as_str());
                    ui.label(t!(
                        "feedback.forwarded_to",
                        office = office,
                        due = forwarding.due.to_german()
                    ));
                    if let Some(text) = mail_text(forwarding) {
                        widgets::message(ui, text);
                    }
                }
                if entry.is_closed() {
                    ui.label(t!("feedback.answer_given", answer = entry.answer.as_str()));
                }
                if selected && decides && !entry.is_closed() {
                    self.actions_ui(ui, catalog, entry, outbox);
                }
            });
        }
    }

    fn actions_ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        entry: &Feedback,
        outbox: &mut Vec<Request>,
    ) {
        ui.horizontal_wrapped(|ui| {
            let name = catalog
                .office(&self.forward_office)
                .map_or_else(String::new, |o| o.name.de.clone());
            widgets::combo_row(ui, &t!("feedback.office"), name, |ui| {
                for office in &catalog.offices {
                    ui.selectable_value(
                        &mut self.forward_office,
                        office.id.clone(),
                        &office.name.de,
                    );
                }
            });
            let label = ui.label(t!("review.due"));
            ui.add(egui::TextEdit::singleline(&mut self.forward_due).desired_width(110.0))
                .labelled_by(label.id);
            if ui.button(t!("feedback.forward")).clicked() {
                match self.forward_due.trim().parse::<IsoDate>() {
                    _ if catalog.office(&self.forward_office).is_none() => {
                        self.error = Some(t!("review.no_office").into_owned());
                    }
                    Ok(due) if due >= IsoDate::today() => {
                        self.error = None;
                        outbox.push(Request::ForwardFeedback {
                            id: entry.id.clone(),
                            office: self.forward_office.clone(),
                            due,
                        });
                    }
                    Ok(_) => self.error = Some(t!("review.due_past").into_owned()),
                    Err(_) => self.error = Some(t!("review.due_invalid").into_owned()),
                }
            }
        });
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(t!("feedback.answer"));
            ui.add(egui::TextEdit::singleline(&mut self.close_answer).desired_width(360.0))
                .labelled_by(label.id);
            if ui.button(t!("feedback.close")).clicked() {
                if self.close_answer.trim().is_empty() {
                    self.error = Some(t!("store.feedback_answer_empty").into_owned());
                } else {
                    self.error = None;
                    outbox.push(Request::CloseFeedback {
                        id: entry.id.clone(),
                        answer: self.close_answer.trim().to_string(),
                    });
                }
            }
        });
    }
}
