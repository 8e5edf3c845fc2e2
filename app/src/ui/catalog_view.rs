//! The knowledge base ("Leistungen"): search services and answers together
//! and read them without creating a case; propose an answer from the
//! field; and, for the back office, the edit mode: a service's texts, fee,
//! office and required documents (add, reword, retire), the offices'
//! addresses and hours, and the answers (accept, reword, retire).

use std::sync::Arc;

use rust_i18n::t;
use sprechtag_schemas::knowledge::{self as kb, Hit};
use sprechtag_schemas::{
    Answer, AnswerStatus, Catalog, Localized, Office, RequiredDocument, Service,
    normalize_for_search,
};

use super::widgets;
use super::worker::Request;

/// What the central panel shows.
#[derive(Debug, Clone, PartialEq)]
enum Selected {
    Service(String),
    Answer(String),
    Offices,
}

#[derive(Default)]
pub struct CatalogView {
    query: String,
    selected: Option<Selected>,
    /// The tab was just entered: the search field takes the focus, since
    /// searching is what the tab is for.
    focus_search: bool,
    /// The knowledge base's answers, as the store last sent them.
    answers: Arc<Vec<Answer>>,
    service_form: Option<ServiceForm>,
    office_form: Option<OfficeForm>,
    answer_form: Option<AnswerForm>,
    /// What was just saved, or why not.
    notice: Option<String>,
}

/// A service as the edit mode holds it (German texts; the English ones are
/// kept, and a new document takes its German name in both).
struct ServiceForm {
    original: Service,
    name: String,
    description: String,
    fee: String,
    office_id: String,
    response_days: String,
    documents: Vec<DocumentForm>,
    new_document: String,
    error: Option<String>,
}

struct DocumentForm {
    id: String,
    name: String,
    retired: bool,
    /// Added in this form: gets its id when saved.
    new: bool,
}

struct OfficeForm {
    office_id: String,
    email: String,
    phone: String,
    address: String,
    opening_hours: String,
    share_citizen_contact: bool,
}

struct AnswerForm {
    /// `None`: a new answer.
    id: Option<String>,
    question: String,
    answer: String,
    services: Vec<String>,
    add_service: String,
    error: Option<String>,
}

/// Who looks: what the edit mode offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rights {
    /// Edits services, offices and answers, and accepts proposals.
    pub maintain: bool,
}

impl CatalogView {
    pub fn entered(&mut self) {
        self.focus_search = true;
    }

    /// The store sent the knowledge base, with what was saved, if anything.
    pub fn on_knowledge(&mut self, answers: Arc<Vec<Answer>>, saved: Option<String>) {
        self.answers = answers;
        if let Some(saved) = saved {
            self.close_forms();
            self.notice = Some(saved);
        }
    }

    fn close_forms(&mut self) {
        self.service_form = None;
        self.answer_form = None;
        self.office_form = None;
        self.notice = None;
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        language: &str,
        rights: Rights,
        outbox: &mut Vec<Request>,
    ) {
        egui::Panel::left("catalog_list")
            .resizable(false)
            .default_size(360.0)
            .show(ui, |ui| self.list_ui(ui, catalog, language, rights));
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("catalog_detail")
                .show(ui, |ui| {
                    if let Some(notice) = &self.notice {
                        widgets::message(ui, notice.as_str());
                        ui.add_space(4.0);
                    }
                    self.detail_ui(ui, catalog, language, rights, outbox);
                });
        });
    }

    fn list_ui(&mut self, ui: &mut egui::Ui, catalog: &Catalog, language: &str, rights: Rights) {
        widgets::heading(ui, t!("catalog.title"));
        let label = ui.label(t!("catalog.search"));
        let search = ui
            .add(
                egui::TextEdit::singleline(&mut self.query)
                    .hint_text(t!("catalog.search_hint"))
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(label.id);
        if std::mem::take(&mut self.focus_search) {
            search.request_focus();
        }
        ui.horizontal_wrapped(|ui| {
            if ui.button(t!("catalog.add_answer")).clicked() {
                self.answer_form = Some(AnswerForm::new(None, Vec::new()));
                self.selected = None;
                self.notice = None;
            }
            if rights.maintain && ui.button(t!("catalog.edit_offices")).clicked() {
                self.selected = Some(Selected::Offices);
                self.office_form = None;
                self.notice = None;
            }
        });
        let answers = self.answers.clone();
        let hits = kb::search(catalog, &answers, &self.query);
        let query = self.query.trim();
        if hits.is_empty() {
            widgets::message(ui, t!("catalog.none", query = query));
        } else if !query.is_empty() {
            widgets::message(ui, t!("catalog.found", n = hits.len()));
        }
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("catalog_list")
            .show(ui, |ui| {
                for hit in hits {
                    match hit {
                        Hit::Service(service) => {
                            let selected =
                                self.selected == Some(Selected::Service(service.id.clone()));
                            if ui
                                .selectable_label(selected, service.name.get(language))
                                .clicked()
                            {
                                self.select(Selected::Service(service.id.clone()));
                            }
                        }
                        // An answer reads at once, in the list: the
                        // question, then the answer.
                        Hit::Answer(answer) => {
                            egui::Frame::group(ui.style()).show(ui, |ui| {
                                ui.set_width(ui.available_width());
                                let selected =
                                    self.selected == Some(Selected::Answer(answer.id.clone()));
                                let mut question =
                                    format!("{}: {}", t!("catalog.question"), answer.question);
                                if answer.status == AnswerStatus::Proposed {
                                    question.push_str(&format!(" ({})", t!("catalog.proposal")));
                                }
                                if ui.selectable_label(selected, question).clicked() {
                                    self.select(Selected::Answer(answer.id.clone()));
                                }
                                ui.label(&answer.answer);
                            });
                        }
                    }
                }
            });
    }

    fn select(&mut self, selected: Selected) {
        self.selected = Some(selected);
        self.close_forms();
    }

    fn detail_ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        language: &str,
        rights: Rights,
        outbox: &mut Vec<Request>,
    ) {
        if self.answer_form.is_some() {
            self.answer_form_ui(ui, catalog, rights, outbox);
            return;
        }
        match self.selected.clone() {
            Some(Selected::Service(id)) => match catalog.service(&id) {
                Some(service) if self.service_form.is_some() => {
                    let _ = service;
                    self.service_form_ui(ui, catalog, outbox);
                }
                Some(service) => self.service_ui(ui, catalog, service, language, rights),
                None => {
                    ui.label(t!("catalog.choose"));
                }
            },
            Some(Selected::Answer(id)) => match self.answers.iter().find(|a| a.id == id).cloned() {
                Some(answer) => self.answer_ui(ui, catalog, &answer, rights, outbox),
                None => {
                    ui.label(t!("catalog.choose"));
                }
            },
            Some(Selected::Offices) => self.offices_ui(ui, catalog, outbox),
            None => {
                ui.label(t!("catalog.choose"));
                if rights.maintain {
                    self.proposals_ui(ui, outbox);
                }
            }
        }
    }

    /// Proposals from the field, for the back office to accept.
    fn proposals_ui(&mut self, ui: &mut egui::Ui, outbox: &mut Vec<Request>) {
        let proposals: Vec<Answer> = self
            .answers
            .iter()
            .filter(|a| a.status == AnswerStatus::Proposed)
            .cloned()
            .collect();
        if proposals.is_empty() {
            return;
        }
        ui.add_space(8.0);
        widgets::section(ui, t!("catalog.proposals", n = proposals.len()));
        for answer in proposals {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.strong(&answer.question);
                ui.label(&answer.answer);
                ui.label(t!("catalog.written_by", by = answer.written_by.as_str()));
                ui.horizontal_wrapped(|ui| {
                    let accept = ui.button(t!("catalog.accept"));
                    let name = t!("catalog.accept_named", question = answer.question.as_str());
                    accept.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Button, true, name.as_ref())
                    });
                    if accept.clicked() {
                        outbox.push(Request::ReviewAnswer {
                            id: answer.id.clone(),
                            status: AnswerStatus::Accepted,
                        });
                    }
                    if ui.button(t!("catalog.open")).clicked() {
                        self.select(Selected::Answer(answer.id.clone()));
                    }
                });
            });
        }
    }

    fn service_ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        service: &Service,
        language: &str,
        rights: Rights,
    ) {
        widgets::heading(ui, service.name.get(language));
        ui.horizontal_wrapped(|ui| {
            if rights.maintain && ui.button(t!("catalog.edit_service")).clicked() {
                self.service_form = Some(ServiceForm::of(service));
                self.notice = None;
            }
            if ui.button(t!("catalog.add_answer_here")).clicked() {
                self.answer_form = Some(AnswerForm::new(None, vec![service.id.clone()]));
                self.notice = None;
            }
        });
        ui.add_space(4.0);
        ui.label(service.description.get(language));
        ui.add_space(8.0);
        widgets::section(ui, t!("catalog.documents"));
        for document in service.active_documents() {
            ui.label(format!("• {}", document.name.get(language)));
            if let Some(hint) = &document.hint {
                ui.label(egui::RichText::new(format!("    {}", hint.get(language))).italics());
            }
        }
        ui.add_space(8.0);
        ui.label(format!(
            "{}: {}",
            t!("catalog.fee"),
            service.fee.get(language)
        ));
        if let Some(office) = catalog.office(&service.office_id) {
            ui.label(format!(
                "{}: {}, {} {}, {}",
                t!("catalog.office"),
                office.name.get(language),
                t!("catalog.phone"),
                office.phone,
                office.address
            ));
            ui.label(format!(
                "{}: {}",
                t!("catalog.opening_hours"),
                office.opening_hours.get(language)
            ));
        }
        if service.in_person {
            ui.label(t!("catalog.in_person"));
        }
        ui.label(format!(
            "{}: {}",
            t!("catalog.leika"),
            service.leika.as_deref().unwrap_or("–")
        ));
        let answers: Vec<&Answer> = self
            .answers
            .iter()
            .filter(|a| a.status != AnswerStatus::Retired && a.service_ids.contains(&service.id))
            .collect();
        if !answers.is_empty() {
            ui.add_space(8.0);
            widgets::section(ui, t!("catalog.answers"));
            for answer in answers {
                ui.strong(&answer.question);
                ui.label(&answer.answer);
                ui.add_space(4.0);
            }
        }
    }

    fn service_form_ui(&mut self, ui: &mut egui::Ui, catalog: &Catalog, outbox: &mut Vec<Request>) {
        let Some(form) = &mut self.service_form else {
            return;
        };
        widgets::heading(
            ui,
            t!("catalog.editing", service = form.original.name.de.as_str()),
        );
        let mut save = false;
        let mut cancel = false;
        egui::Grid::new("service_form")
            .num_columns(2)
            .show(ui, |ui| {
                widgets::text_row(ui, &t!("catalog.field_name"), &mut form.name);
                let label = ui.label(t!("catalog.field_description"));
                ui.add(
                    egui::TextEdit::multiline(&mut form.description)
                        .desired_rows(3)
                        .desired_width(420.0),
                )
                .labelled_by(label.id);
                ui.end_row();
                widgets::text_row(ui, &t!("catalog.fee"), &mut form.fee);
                let office_name = catalog
                    .office(&form.office_id)
                    .map_or_else(String::new, |o| o.name.de.clone());
                widgets::combo_row(ui, &t!("catalog.office"), office_name, |ui| {
                    for office in &catalog.offices {
                        ui.selectable_value(
                            &mut form.office_id,
                            office.id.clone(),
                            &office.name.de,
                        );
                    }
                });
                ui.end_row();
                widgets::text_row(
                    ui,
                    &t!("catalog.field_response_days"),
                    &mut form.response_days,
                );
            });
        ui.add_space(8.0);
        widgets::section(ui, t!("catalog.documents"));
        // One row per document: in a grid, egui gave the text fields the
        // width of their first frame (a few letters).
        for (index, document) in form.documents.iter_mut().enumerate() {
            ui.horizontal(|ui| {
                let label = ui.label(t!("catalog.document_n", n = index + 1));
                ui.add(egui::TextEdit::singleline(&mut document.name).desired_width(420.0))
                    .labelled_by(label.id);
                let name = t!("catalog.retire_named", document = document.name.as_str());
                let check = ui.checkbox(&mut document.retired, t!("catalog.retired_document"));
                let retired = document.retired;
                check.widget_info(|| {
                    egui::WidgetInfo::selected(egui::Role::CheckBox, true, retired, name.as_ref())
                });
            });
        }
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(t!("catalog.new_document"));
            let field = ui
                .add(egui::TextEdit::singleline(&mut form.new_document).desired_width(300.0))
                .labelled_by(label.id);
            let add = ui.button(t!("catalog.add_document"));
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (add.clicked() || entered) && !form.new_document.trim().is_empty() {
                form.documents.push(DocumentForm {
                    id: String::new(),
                    name: form.new_document.trim().to_string(),
                    retired: false,
                    new: true,
                });
                form.new_document.clear();
            }
        });
        if let Some(error) = &form.error {
            widgets::error_banner(ui, error);
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            save = ui.button(t!("catalog.save_service")).clicked();
            cancel = ui.button(t!("catalog.cancel")).clicked();
        });
        if cancel {
            self.service_form = None;
        } else if save {
            match form.service() {
                Ok(service) => {
                    form.error = None;
                    outbox.push(Request::SaveService(service));
                }
                Err(error) => form.error = Some(error),
            }
        }
    }

    fn offices_ui(&mut self, ui: &mut egui::Ui, catalog: &Catalog, outbox: &mut Vec<Request>) {
        widgets::heading(ui, t!("catalog.offices"));
        ui.label(t!("catalog.offices_hint"));
        let current = self.office_form.as_ref().map(|f| f.office_id.clone());
        let name = current
            .as_deref()
            .and_then(|id| catalog.office(id))
            .map_or_else(String::new, |o| o.name.de.clone());
        let mut chosen = current.clone().unwrap_or_default();
        ui.horizontal_wrapped(|ui| {
            widgets::combo_row(ui, &t!("catalog.office_to_edit"), name, |ui| {
                for office in &catalog.offices {
                    ui.selectable_value(&mut chosen, office.id.clone(), &office.name.de);
                }
            });
        });
        if Some(&chosen) != current.as_ref()
            && let Some(office) = catalog.office(&chosen)
        {
            self.office_form = Some(OfficeForm::of(office));
        }
        let Some(form) = &mut self.office_form else {
            return;
        };
        let mut save = false;
        egui::Grid::new("office_form")
            .num_columns(2)
            .show(ui, |ui| {
                widgets::text_row(ui, &t!("catalog.email"), &mut form.email);
                widgets::text_row(ui, &t!("catalog.phone"), &mut form.phone);
                widgets::text_row(ui, &t!("catalog.address"), &mut form.address);
                widgets::text_row(ui, &t!("catalog.opening_hours"), &mut form.opening_hours);
            });
        ui.checkbox(
            &mut form.share_citizen_contact,
            t!("catalog.share_citizen_contact"),
        );
        ui.horizontal(|ui| {
            save = ui.button(t!("catalog.save_office")).clicked();
        });
        if save && let Some(office) = catalog.office(&form.office_id) {
            outbox.push(Request::SaveOffice(form.office(office)));
        }
    }

    fn answer_ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        answer: &Answer,
        rights: Rights,
        outbox: &mut Vec<Request>,
    ) {
        widgets::heading(ui, answer.question.as_str());
        if answer.status == AnswerStatus::Proposed {
            widgets::status_badge(ui, false, &t!("catalog.proposal_long"));
        } else if answer.status == AnswerStatus::Retired {
            widgets::status_badge(ui, false, &t!("catalog.retired_answer"));
        }
        ui.add_space(4.0);
        ui.label(&answer.answer);
        ui.add_space(8.0);
        let services: Vec<&str> = answer
            .service_ids
            .iter()
            .filter_map(|id| catalog.service(id))
            .map(|s| s.name.de.as_str())
            .collect();
        if !services.is_empty() {
            ui.label(t!(
                "catalog.answer_services",
                services = services.join(", ")
            ));
        }
        ui.label(t!("catalog.written_by", by = answer.written_by.as_str()));
        if let (Some(by), Some(at)) = (&answer.checked_by, &answer.checked_at) {
            ui.label(t!(
                "catalog.checked",
                by = by.as_str(),
                at = widgets::local_time(at)
            ));
        }
        if !rights.maintain {
            return;
        }
        ui.add_space(8.0);
        ui.horizontal_wrapped(|ui| {
            let review = |status| Request::ReviewAnswer {
                id: answer.id.clone(),
                status,
            };
            let accept_label = if answer.status == AnswerStatus::Accepted {
                t!("catalog.confirm")
            } else {
                t!("catalog.accept")
            };
            if ui.button(accept_label).clicked() {
                outbox.push(review(AnswerStatus::Accepted));
            }
            if ui.button(t!("catalog.edit_answer")).clicked() {
                self.answer_form = Some(AnswerForm {
                    id: Some(answer.id.clone()),
                    question: answer.question.clone(),
                    answer: answer.answer.clone(),
                    services: answer.service_ids.clone(),
                    add_service: String::new(),
                    error: None,
                });
                self.notice = None;
            }
            if answer.status != AnswerStatus::Retired && ui.button(t!("catalog.retire")).clicked() {
                outbox.push(review(AnswerStatus::Retired));
            }
        });
    }

    fn answer_form_ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        rights: Rights,
        outbox: &mut Vec<Request>,
    ) {
        let Some(form) = &mut self.answer_form else {
            return;
        };
        widgets::heading(
            ui,
            if form.id.is_some() {
                t!("catalog.edit_answer")
            } else {
                t!("catalog.add_answer")
            },
        );
        if !rights.maintain {
            ui.label(t!("catalog.proposal_hint"));
        }
        let label = ui.label(t!("catalog.question"));
        ui.add(egui::TextEdit::singleline(&mut form.question).desired_width(f32::INFINITY))
            .labelled_by(label.id);
        let label = ui.label(t!("catalog.answer"));
        ui.add(
            egui::TextEdit::multiline(&mut form.answer)
                .desired_rows(5)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        ui.add_space(4.0);
        let mut remove = None;
        for (index, id) in form.services.iter().enumerate() {
            ui.horizontal(|ui| {
                let name = catalog
                    .service(id)
                    .map_or(id.as_str(), |s| s.name.de.as_str());
                ui.label(format!("• {name}"));
                let button = ui.button(t!("catalog.remove_service"));
                let label = t!("catalog.remove_service_named", service = name);
                button.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::Button, true, label.as_ref())
                });
                if button.clicked() {
                    remove = Some(index);
                }
            });
        }
        if let Some(index) = remove {
            form.services.remove(index);
        }
        ui.horizontal_wrapped(|ui| {
            widgets::combo_row(ui, &t!("catalog.answer_service"), String::new(), |ui| {
                for service in &catalog.services {
                    ui.selectable_value(
                        &mut form.add_service,
                        service.id.clone(),
                        &service.name.de,
                    );
                }
            });
        });
        if !form.add_service.is_empty() {
            let id = std::mem::take(&mut form.add_service);
            if !form.services.contains(&id) {
                form.services.push(id);
            }
        }
        if let Some(error) = &form.error {
            widgets::error_banner(ui, error);
        }
        let mut save = false;
        let mut cancel = false;
        ui.horizontal(|ui| {
            save = ui
                .button(if rights.maintain {
                    t!("catalog.save_answer")
                } else {
                    t!("catalog.propose")
                })
                .clicked();
            cancel = ui.button(t!("catalog.cancel")).clicked();
        });
        if cancel {
            self.answer_form = None;
            return;
        }
        if save {
            if form.question.trim().is_empty() || form.answer.trim().is_empty() {
                form.error = Some(t!("store.answer_empty").into_owned());
                return;
            }
            form.error = None;
            let (question, answer, services) = (
                form.question.trim().to_string(),
                form.answer.trim().to_string(),
                form.services.clone(),
            );
            outbox.push(match &form.id {
                Some(id) => Request::EditAnswer {
                    id: id.clone(),
                    question,
                    answer,
                    services,
                },
                None => Request::AddAnswer {
                    question,
                    answer,
                    services,
                },
            });
        }
    }
}

impl AnswerForm {
    fn new(id: Option<String>, services: Vec<String>) -> AnswerForm {
        AnswerForm {
            id,
            question: String::new(),
            answer: String::new(),
            services,
            add_service: String::new(),
            error: None,
        }
    }
}

impl ServiceForm {
    fn of(service: &Service) -> ServiceForm {
        ServiceForm {
            original: service.clone(),
            name: service.name.de.clone(),
            description: service.description.de.clone(),
            fee: service.fee.de.clone(),
            office_id: service.office_id.clone(),
            response_days: service.response_days.to_string(),
            documents: service
                .documents
                .iter()
                .map(|d| DocumentForm {
                    id: d.id.clone(),
                    name: d.name.de.clone(),
                    retired: d.retired,
                    new: false,
                })
                .collect(),
            new_document: String::new(),
            error: None,
        }
    }

    /// The service as edited; ids stay, a new document gets one from its
    /// name. What is wrong, in words.
    fn service(&self) -> Result<Service, String> {
        let days: u32 = self
            .response_days
            .trim()
            .parse()
            .map_err(|_| t!("catalog.bad_days").into_owned())?;
        let mut service = self.original.clone();
        let german = |text: &Localized, new: &str| Localized {
            de: new.trim().to_string(),
            // A changed German text with the old English one beside it
            // would say something else: English follows until translated.
            en: if text.de.trim() == new.trim() {
                text.en.clone()
            } else {
                new.trim().to_string()
            },
        };
        service.name = german(&service.name, &self.name);
        service.description = german(&service.description, &self.description);
        service.fee = german(&service.fee, &self.fee);
        service.office_id.clone_from(&self.office_id);
        service.response_days = days;
        let mut documents: Vec<RequiredDocument> = Vec::new();
        for form in &self.documents {
            let name = form.name.trim();
            if name.is_empty() {
                return Err(t!("catalog.document_empty").into_owned());
            }
            let existing = self.original.documents.iter().find(|d| d.id == form.id);
            let id = if form.new {
                let taken: Vec<&str> = self
                    .original
                    .documents
                    .iter()
                    .map(|d| d.id.as_str())
                    .chain(documents.iter().map(|d| d.id.as_str()))
                    .collect();
                document_id(name, &taken)
            } else {
                form.id.clone()
            };
            documents.push(RequiredDocument {
                id,
                name: match existing {
                    Some(d) => german(&d.name, name),
                    None => Localized {
                        de: name.to_string(),
                        en: name.to_string(),
                    },
                },
                hint: existing.and_then(|d| d.hint.clone()),
                retired: form.retired,
            });
        }
        service.documents = documents;
        Ok(service)
    }
}

/// An id for a new document from its name ("Nachweis über Einkommen" →
/// "nachweis-uber-einkommen"), unique among `taken`.
fn document_id(name: &str, taken: &[&str]) -> String {
    let base: String = normalize_for_search(name)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .take(40)
        .collect();
    let base = if base.is_empty() {
        "unterlage".to_string()
    } else {
        base
    };
    let mut id = base.clone();
    let mut n = 2;
    while taken.contains(&id.as_str()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

impl OfficeForm {
    fn of(office: &Office) -> OfficeForm {
        OfficeForm {
            office_id: office.id.clone(),
            email: office.email.clone(),
            phone: office.phone.clone(),
            address: office.address.clone(),
            opening_hours: office.opening_hours.de.clone(),
            share_citizen_contact: office.share_citizen_contact,
        }
    }

    fn office(&self, original: &Office) -> Office {
        let mut office = original.clone();
        office.email = self.email.trim().to_string();
        office.phone = self.phone.trim().to_string();
        office.address = self.address.trim().to_string();
        if office.opening_hours.de.trim() != self.opening_hours.trim() {
            office.opening_hours = Localized {
                de: self.opening_hours.trim().to_string(),
                en: self.opening_hours.trim().to_string(),
            };
        }
        office.share_citizen_contact = self.share_citizen_contact;
        office
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_document_gets_an_id_from_its_name_unique_in_its_service() {
        assert_eq!(
            document_id("Nachweis über Einkommen", &[]),
            "nachweis-uber-einkommen"
        );
        assert_eq!(
            document_id("Meldebescheinigung", &["meldebescheinigung"]),
            "meldebescheinigung-2"
        );
        assert_eq!(document_id("!!!", &[]), "unterlage");
    }
}
