//! Record a visit: the citizen, their needs and consent, the requests with
//! their document checklists, and notes. There is no save button: every
//! change goes to the store worker, and "Gespeichert" shows only after the
//! worker reports the change on disk.

use automerge::ChangeHash;
use autosurgeon::Text;
use egui::{Key, Role, WidgetInfo};
use rust_i18n::t;
use sprechtag_schemas::{
    Appointment, Case, CaseStatus, Catalog, Citizen, DocumentState, IsoDate,
    Request as CaseRequest, new_id,
};

use super::case_list::status_text;
use super::review::{self, ReviewPanel};
use super::widgets;
use super::worker::Request;
use crate::print::PrintKind;
use crate::store::OfficeHourRow;
use crate::store::appointments::parse_time;

/// What the caseworker asked for in the editor.
pub enum EditorAction {
    None,
    Close,
    Print(PrintKind),
}

/// Booking a follow-up appointment: at the responsible office or at a later
/// office hour.
#[derive(Default)]
struct Booking {
    date: String,
    time: String,
    /// `None`: the responsible office; else the id of a later office hour.
    office_hour_id: Option<String>,
    purpose: String,
    error: Option<String>,
}

pub struct CaseEditor {
    /// The case as the caseworker sees it now.
    pub case: Case,
    /// The content last handed to the worker (or loaded).
    sent: Case,
    /// Heads of the stored version `sent` corresponds to; edits are made on
    /// it, so changes that sync merged in meanwhile are never overwritten.
    base: Vec<ChangeHash>,
    seq_sent: u64,
    seq_acked: u64,
    /// A create or save is on its way; the next one waits for its answer.
    in_flight: bool,
    save_error: Option<String>,
    birth_text: String,
    consent_text: String,
    notes: String,
    service_query: String,
    focus_first: bool,
    booking: Booking,
    review: ReviewPanel,
}

const DOCUMENT_STATES: [DocumentState; 4] = [
    DocumentState::Presented,
    DocumentState::Missing,
    DocumentState::NotApplicable,
    DocumentState::Unchecked,
];

impl CaseEditor {
    /// A new visit at `office_hour_id`, stored as soon as it has a name.
    pub fn draft(office_hour_id: Option<String>) -> CaseEditor {
        let mut case = Case::draft(Citizen::default());
        case.office_hour_id = office_hour_id;
        CaseEditor::with(case, Vec::new())
    }

    pub fn stored(case: Case, heads: Vec<ChangeHash>) -> CaseEditor {
        CaseEditor::with(case, heads)
    }

    fn with(case: Case, base: Vec<ChangeHash>) -> CaseEditor {
        CaseEditor {
            birth_text: case
                .citizen
                .birth_date
                .map(IsoDate::to_german)
                .unwrap_or_default(),
            consent_text: case
                .citizen
                .consent
                .date
                .map(IsoDate::to_german)
                .unwrap_or_default(),
            notes: case.notes.as_str().to_string(),
            sent: case.clone(),
            case,
            base,
            seq_sent: 0,
            seq_acked: 0,
            in_flight: false,
            save_error: None,
            service_query: String::new(),
            focus_first: true,
            booking: Booking::default(),
            review: ReviewPanel::default(),
        }
    }

    pub fn show_history(&mut self, entries: Vec<crate::store::HistoryEntry>) {
        self.review.history = Some(entries);
    }

    pub fn on_created(
        &mut self,
        created: &Case,
        heads: Vec<ChangeHash>,
        seq: u64,
        outbox: &mut Vec<Request>,
    ) {
        self.in_flight = false;
        self.base = heads;
        self.seq_acked = self.seq_acked.max(seq);
        self.save_error = None;
        for case in [&mut self.case, &mut self.sent] {
            case.id = created.id.clone();
            case.number = created.number.clone();
            case.created_at = created.created_at.clone();
            case.created_by = created.created_by.clone();
        }
        // Typed while the case was being created: save it now.
        self.send_changes(outbox);
    }

    pub fn on_saved(
        &mut self,
        saved: &Case,
        base: Vec<ChangeHash>,
        seq: u64,
        outbox: &mut Vec<Request>,
    ) {
        if saved.id == self.case.id {
            self.in_flight = false;
            self.base = base;
            self.seq_acked = self.seq_acked.max(seq);
            self.save_error = None;
            // Typed while the save was on its way: save that too.
            self.send_changes(outbox);
        }
    }

    pub fn on_failed(&mut self, seq: u64, error: String) {
        self.in_flight = false;
        self.seq_acked = self.seq_acked.max(seq);
        self.save_error = Some(error);
        // Try again with the next change.
        self.sent = Case::draft(Citizen::default());
    }

    fn has_name(&self) -> bool {
        !self.case.citizen.surname.trim().is_empty()
            || !self.case.citizen.given_names.trim().is_empty()
    }

    fn send_changes(&mut self, outbox: &mut Vec<Request>) {
        if self.case == self.sent || self.in_flight || !self.has_name() {
            return;
        }
        self.seq_sent += 1;
        self.sent = self.case.clone();
        self.in_flight = true;
        if self.case.id.is_empty() {
            outbox.push(Request::CreateCase {
                draft: self.case.clone(),
                seq: self.seq_sent,
            });
        } else {
            outbox.push(Request::SaveCase {
                case: self.case.clone(),
                base: self.base.clone(),
                seq: self.seq_sent,
            });
        }
    }

    fn save_state_ui(&self, ui: &mut egui::Ui) {
        if let Some(error) = &self.save_error {
            widgets::error_banner(ui, &t!("editor.not_saved", error = error.as_str()));
        } else if !self.has_name() {
            ui.label(t!("editor.needs_name"));
        } else if self.in_flight || self.seq_acked < self.seq_sent || self.case != self.sent {
            ui.label(t!("editor.saving"));
        } else {
            ui.label(t!("editor.saved"));
        }
    }

    /// Saved, nothing on its way: what is printed is what is on screen.
    fn settled(&self) -> bool {
        !self.case.id.is_empty() && !self.in_flight && self.case == self.sent
    }

    /// Draws the editor; `upcoming` are office hours an appointment can be
    /// booked into.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        office_hour: Option<&str>,
        upcoming: &[OfficeHourRow],
        can_review: bool,
        outbox: &mut Vec<Request>,
    ) -> EditorAction {
        let mut action = EditorAction::None;
        ui.horizontal_wrapped(|ui| {
            let title = if self.case.number.is_empty() {
                t!("editor.new_visit").into_owned()
            } else {
                super::case_title(&self.case)
            };
            ui.heading(title);
            ui.separator();
            self.save_state_ui(ui);
            ui.separator();
            if ui.button(t!("editor.back")).clicked() {
                action = EditorAction::Close;
            }
            ui.separator();
            if ui
                .add_enabled(self.settled(), egui::Button::new(t!("print.receipt")))
                .clicked()
            {
                action = EditorAction::Print(PrintKind::Receipt);
            }
            let has_appointment = !self.case.appointments.is_empty();
            if ui
                .add_enabled(
                    self.settled() && has_appointment,
                    egui::Button::new(t!("print.appointment")),
                )
                .clicked()
            {
                action = EditorAction::Print(PrintKind::Appointment);
            }
        });
        if let Some(office_hour) = office_hour {
            ui.label(t!("editor.office_hour", office_hour = office_hour));
        }
        ui.separator();
        egui::ScrollArea::vertical()
            .auto_shrink(false)
            .show(ui, |ui| {
                self.status_ui(ui);
                ui.add_space(8.0);
                self.citizen_ui(ui);
                ui.add_space(8.0);
                self.requests_ui(ui, catalog, can_review);
                ui.add_space(8.0);
                self.appointments_ui(ui, catalog, upcoming);
                ui.add_space(8.0);
                self.review.review_ui(ui, &mut self.case, can_review);
                ui.add_space(8.0);
                self.review.history_ui(ui, &self.case.id, outbox);
                ui.add_space(8.0);
                ui.strong(t!("editor.notes"));
                let label = ui.label(t!("editor.notes_label"));
                let notes = ui
                    .add(
                        egui::TextEdit::multiline(&mut self.notes)
                            .desired_rows(4)
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(label.id);
                if notes.changed() {
                    self.case.notes = Text::with_value(&self.notes);
                }
            });
        if ui.input(|i| i.key_pressed(Key::Escape)) {
            action = EditorAction::Close;
        }
        self.send_changes(outbox);
        action
    }

    fn appointments_ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        upcoming: &[OfficeHourRow],
    ) {
        ui.strong(t!("booking.title"));
        let mut cancel = None;
        for (index, appointment) in self.case.appointments.iter().enumerate() {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "{}, {} {} · {} · {}",
                    appointment.date.to_german(),
                    appointment.time,
                    t!("booking.oclock"),
                    appointment.place,
                    appointment.purpose
                ));
                let button = ui.button(t!("booking.cancel"));
                let name = t!(
                    "booking.cancel_named",
                    date = appointment.date.to_german().as_str()
                )
                .into_owned();
                button.widget_info(|| WidgetInfo::labeled(Role::Button, true, &name));
                if button.clicked() {
                    cancel = Some(index);
                }
            });
        }
        if let Some(index) = cancel {
            self.case.appointments.remove(index);
        }
        let main_office = self
            .case
            .requests
            .first()
            .and_then(|r| catalog.service(&r.service_id))
            .and_then(|s| catalog.office(&s.office_id))
            .or_else(|| catalog.offices.first());
        let booking = &mut self.booking;
        egui::Grid::new("booking").num_columns(2).show(ui, |ui| {
            let place_label = ui.label(t!("booking.place"));
            let chosen = match &booking.office_hour_id {
                Some(id) => upcoming
                    .iter()
                    .find(|row| &row.id == id)
                    .map(|row| format!("{} – {}", row.label(), row.venue))
                    .unwrap_or_default(),
                None => main_office.map(|o| o.name.de.clone()).unwrap_or_default(),
            };
            let combo = egui::ComboBox::from_id_salt("booking_place")
                .selected_text(chosen)
                .show_ui(ui, |ui| {
                    if let Some(office) = main_office {
                        ui.selectable_value(&mut booking.office_hour_id, None, &office.name.de);
                    }
                    for row in upcoming {
                        let text = format!("{} – {}", row.label(), row.venue);
                        if ui
                            .selectable_value(
                                &mut booking.office_hour_id,
                                Some(row.id.clone()),
                                text,
                            )
                            .clicked()
                        {
                            booking.date = row
                                .date
                                .parse::<IsoDate>()
                                .map(IsoDate::to_german)
                                .unwrap_or_default();
                        }
                    }
                });
            let _ = combo.response.labelled_by(place_label.id);
            ui.end_row();
            widgets::text_row(ui, &t!("booking.date"), &mut booking.date);
            widgets::text_row(ui, &t!("booking.time"), &mut booking.time);
            widgets::text_row(ui, &t!("booking.purpose"), &mut booking.purpose);
        });
        if ui.button(t!("booking.book")).clicked() {
            match validate_booking(booking, main_office, upcoming) {
                Ok(appointment) => {
                    self.case.appointments.push(appointment);
                    self.booking = Booking::default();
                }
                Err(error) => self.booking.error = Some(error),
            }
        }
        if let Some(error) = &self.booking.error {
            widgets::error_banner(ui, error);
        }
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            let current = status_text(self.case.status);
            widgets::combo_row(ui, &t!("editor.status"), current, |ui| {
                for status in CaseStatus::ALL {
                    ui.selectable_value(&mut self.case.status, *status, status_text(*status));
                }
            });
            let missing: Vec<&str> = self
                .case
                .missing_documents()
                .map(|(_, d)| d.name.as_str())
                .collect();
            let unchecked = self.case.unchecked_documents().count();
            if self.case.requests.is_empty() {
                ui.label(t!("editor.no_requests"));
            } else if self.case.is_complete() {
                widgets::status_badge(ui, true, &t!("editor.complete"));
            } else {
                let mut text = String::new();
                if !missing.is_empty() {
                    text = t!("editor.missing", documents = missing.join(", ")).into_owned();
                }
                if unchecked > 0 {
                    if !text.is_empty() {
                        text.push_str(" · ");
                    }
                    text.push_str(&t!("editor.unchecked", n = unchecked));
                }
                widgets::status_badge(ui, false, &text);
            }
        });
    }

    fn citizen_ui(&mut self, ui: &mut egui::Ui) {
        ui.strong(t!("editor.citizen"));
        let citizen = &mut self.case.citizen;
        egui::Grid::new("citizen").num_columns(2).show(ui, |ui| {
            let surname = widgets::text_row(ui, &t!("editor.surname"), &mut citizen.surname);
            if self.focus_first {
                surname.request_focus();
                self.focus_first = false;
            }
            widgets::text_row(ui, &t!("editor.given_names"), &mut citizen.given_names);
            let birth = widgets::text_row(ui, &t!("editor.birth_date"), &mut self.birth_text);
            if birth.changed() {
                citizen.birth_date = self.birth_text.parse().ok();
            }
            widgets::text_row(ui, &t!("editor.street"), &mut citizen.address.street);
            widgets::text_row(ui, &t!("editor.postcode"), &mut citizen.address.postcode);
            widgets::text_row(ui, &t!("editor.town"), &mut citizen.address.town);
            widgets::text_row(ui, &t!("editor.phone"), &mut citizen.phone);
        });
        if !self.birth_text.trim().is_empty() && citizen.birth_date.is_none() {
            widgets::error_banner(ui, &t!("common.bad_date"));
        }
        ui.add_space(4.0);
        ui.strong(t!("editor.needs"));
        ui.horizontal_wrapped(|ui| {
            let needs = &mut citizen.needs;
            ui.checkbox(&mut needs.large_print, t!("needs.large_print"));
            ui.checkbox(&mut needs.hard_of_hearing, t!("needs.hard_of_hearing"));
            ui.checkbox(&mut needs.visually_impaired, t!("needs.visually_impaired"));
            ui.checkbox(
                &mut needs.accompanied_by_carer,
                t!("needs.accompanied_by_carer"),
            );
            ui.checkbox(&mut needs.wheelchair_access, t!("needs.wheelchair_access"));
            ui.checkbox(&mut needs.interpreter, t!("needs.interpreter"));
        });
        ui.add_space(4.0);
        ui.horizontal_wrapped(|ui| {
            let consent = &mut citizen.consent;
            if ui
                .checkbox(&mut consent.given, t!("editor.consent"))
                .changed()
            {
                if consent.given && consent.date.is_none() {
                    let today = IsoDate::today();
                    consent.date = Some(today);
                    self.consent_text = today.to_german();
                } else if !consent.given {
                    consent.date = None;
                    self.consent_text.clear();
                }
            }
            if consent.given {
                let label = ui.label(t!("editor.consent_date"));
                let field = ui
                    .add(egui::TextEdit::singleline(&mut self.consent_text).desired_width(110.0))
                    .labelled_by(label.id);
                if field.changed() {
                    consent.date = self.consent_text.parse().ok();
                }
                if consent.date.is_none() {
                    widgets::error_banner(ui, &t!("common.bad_date"));
                }
            }
        });
    }

    fn requests_ui(&mut self, ui: &mut egui::Ui, catalog: &Catalog, can_review: bool) {
        ui.strong(t!("editor.requests"));
        let mut remove = None;
        let mut forwarded = false;
        for (index, request) in self.case.requests.iter_mut().enumerate() {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    ui.strong(&request.service_name);
                    if let Some(service) = catalog.service(&request.service_id) {
                        ui.label(format!("({})", service.fee.de));
                    }
                    let removal = ui.button(t!("editor.remove_request"));
                    removal.widget_info(|| {
                        WidgetInfo::labeled(
                            Role::Button,
                            true,
                            t!(
                                "editor.remove_request_named",
                                service = request.service_name.as_str()
                            ),
                        )
                    });
                    if removal.clicked() {
                        remove = Some(index);
                    }
                });
                egui::Grid::new(("documents", &request.id))
                    .num_columns(3)
                    .striped(true)
                    .show(ui, |ui| {
                        for document in &mut request.documents {
                            ui.label(&document.name);
                            ui.horizontal(|ui| {
                                for state in DOCUMENT_STATES {
                                    let text = document_state_text(state);
                                    let selected = document.state == state;
                                    let radio = ui.radio(selected, text.as_str());
                                    let name = format!("{}: {text}", document.name);
                                    radio.widget_info(|| {
                                        WidgetInfo::selected(
                                            Role::RadioButton,
                                            true,
                                            selected,
                                            &name,
                                        )
                                    });
                                    if radio.clicked() {
                                        document.state = state;
                                    }
                                }
                            });
                            let note = ui.add(
                                egui::TextEdit::singleline(&mut document.note)
                                    .hint_text(t!("editor.document_note"))
                                    .desired_width(220.0),
                            );
                            let note_name = t!(
                                "editor.document_note_named",
                                document = document.name.as_str()
                            )
                            .into_owned();
                            note.widget_info(|| {
                                WidgetInfo::labeled(Role::TextInput, true, &note_name)
                            });
                            ui.end_row();
                        }
                    });
                forwarded |= self.review.forwarding_ui(ui, request, catalog, can_review);
            });
        }
        if forwarded {
            review::status_after_forwarding(&mut self.case);
        }
        if let Some(index) = remove {
            self.case.requests.remove(index);
        }
        ui.add_space(4.0);
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(t!("editor.add_request"));
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.service_query)
                        .hint_text(t!("editor.add_request_hint"))
                        .desired_width(260.0),
                )
                .labelled_by(label.id);
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            let query = self.service_query.trim().to_string();
            if query.is_empty() {
                return;
            }
            let matches: Vec<_> = catalog.search(&query).into_iter().take(6).collect();
            if matches.is_empty() {
                ui.label(t!("editor.no_service"));
            }
            let mut chosen = None;
            if enter {
                chosen = matches.first().copied();
            }
            for service in &matches {
                if ui.button(format!("+ {}", service.name.de)).clicked() {
                    chosen = Some(service);
                }
            }
            if let Some(service) = chosen {
                self.case.requests.push(CaseRequest::for_service(service));
                self.service_query.clear();
            }
        });
    }
}

/// The appointment the form describes, or what is wrong with it.
fn validate_booking(
    booking: &Booking,
    main_office: Option<&sprechtag_schemas::Office>,
    upcoming: &[OfficeHourRow],
) -> Result<Appointment, String> {
    let date: IsoDate = booking
        .date
        .parse()
        .map_err(|_| t!("common.bad_date").into_owned())?;
    if date < IsoDate::today() {
        return Err(t!("booking.past").into_owned());
    }
    let time = parse_time(&booking.time).map_err(|_| t!("booking.bad_time").into_owned())?;
    if booking.purpose.trim().is_empty() {
        return Err(t!("booking.no_purpose").into_owned());
    }
    let place = match &booking.office_hour_id {
        Some(id) => {
            let row = upcoming
                .iter()
                .find(|row| &row.id == id)
                .ok_or_else(|| t!("booking.no_place").into_owned())?;
            if row.date != date.to_string() {
                return Err(t!("booking.other_day").into_owned());
            }
            format!("{}, {}", row.village, row.venue)
        }
        None => main_office
            .map(|o| format!("{}, {}", o.name.de, o.address))
            .ok_or_else(|| t!("booking.no_place").into_owned())?,
    };
    Ok(Appointment {
        id: new_id(),
        date,
        time,
        place,
        office_hour_id: booking.office_hour_id.clone(),
        purpose: booking.purpose.trim().to_string(),
    })
}

pub fn document_state_text(state: DocumentState) -> String {
    match state {
        DocumentState::Unchecked => t!("document_state.unchecked"),
        DocumentState::Presented => t!("document_state.presented"),
        DocumentState::Missing => t!("document_state.missing"),
        DocumentState::NotApplicable => t!("document_state.not_applicable"),
    }
    .into_owned()
}
