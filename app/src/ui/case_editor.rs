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
    /// The case as stored at `base` (for a new visit: the empty draft).
    /// `case` started from it; a save is made on exactly this version, so
    /// changes that sync merged in meanwhile are never overwritten.
    stored: Case,
    base: Vec<ChangeHash>,
    /// A create or save is on its way: its number and the copy handed
    /// over. The next one waits for its answer.
    in_flight: Option<(u64, Case)>,
    /// The copy the store could not write, and why; sent again only once
    /// the caseworker changes something.
    failed: Option<(Case, String)>,
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
            stored: case.clone(),
            case,
            base,
            in_flight: None,
            failed: None,
            service_query: String::new(),
            focus_first: true,
            booking: Booking::default(),
            review: ReviewPanel::default(),
        }
    }

    pub fn show_history(&mut self, entries: Vec<crate::store::HistoryEntry>) {
        self.review.history = Some(entries);
    }

    /// The store wrote what was handed over: `stored` is the case at the
    /// new `base`, with what only the store fills in (id, number,
    /// department, signatures). The editor takes it as its new starting
    /// point and keeps what the caseworker typed meanwhile; the next save is
    /// made on exactly this version, so it never undoes a field the editor
    /// did not change. Answers to another editor's requests are ignored.
    pub fn on_stored(
        &mut self,
        stored: Case,
        base: Vec<ChangeHash>,
        seq: u64,
        outbox: &mut Vec<Request>,
    ) {
        let Some((_, sent)) = self.in_flight.take_if(|(sent_seq, _)| *sent_seq == seq) else {
            return;
        };
        self.base = base;
        self.failed = None;
        self.case = rebase(&sent, &self.case, &stored);
        self.stored = stored;
        // Typed while the save was on its way: save that too.
        self.send_changes(outbox);
    }

    pub fn on_failed(&mut self, seq: u64, error: String) {
        if let Some((_, sent)) = self.in_flight.take_if(|(sent_seq, _)| *sent_seq == seq) {
            self.failed = Some((sent, error));
        }
    }

    /// The editor is closed: what it still holds is saved in the
    /// background (a failed copy is tried once more). Returns false when
    /// nothing is left to save.
    pub fn close(&mut self, outbox: &mut Vec<Request>) -> bool {
        self.failed = None;
        self.send_changes(outbox);
        self.in_flight.is_some()
    }

    /// Whether a reply with this request number answers this editor.
    pub fn awaits(&self, seq: u64) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|(sent, _)| *sent == seq)
    }

    fn has_name(&self) -> bool {
        !self.case.citizen.surname.trim().is_empty()
            || !self.case.citizen.given_names.trim().is_empty()
    }

    fn send_changes(&mut self, outbox: &mut Vec<Request>) {
        let unchanged = self.case == self.stored
            || self
                .failed
                .as_ref()
                .is_some_and(|(copy, _)| *copy == self.case);
        if unchanged || self.in_flight.is_some() || !self.has_name() {
            return;
        }
        let seq = next_request_number();
        self.in_flight = Some((seq, self.case.clone()));
        if self.case.id.is_empty() {
            outbox.push(Request::CreateCase {
                draft: self.case.clone(),
                seq,
            });
        } else {
            outbox.push(Request::SaveCase {
                case: self.case.clone(),
                base: self.base.clone(),
                seq,
            });
        }
    }

    fn save_state_ui(&self, ui: &mut egui::Ui) {
        if let Some((_, error)) = &self.failed {
            widgets::error_banner(ui, &t!("editor.not_saved", error = error.as_str()));
        } else if !self.has_name() {
            widgets::message(ui, t!("editor.needs_name"));
        } else if self.in_flight.is_some() || self.case != self.stored {
            widgets::message(ui, t!("editor.saving"));
        } else {
            widgets::message(ui, t!("editor.saved"));
        }
    }

    /// Saved, nothing on its way: what is printed is what is on screen.
    fn settled(&self) -> bool {
        !self.case.id.is_empty() && self.in_flight.is_none() && self.case == self.stored
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
            widgets::heading(ui, title);
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
                widgets::section(ui, t!("editor.notes"));
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
        widgets::section(ui, t!("booking.title"));
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
        widgets::section(ui, t!("editor.citizen"));
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
        widgets::section(ui, t!("editor.needs"));
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
        widgets::section(ui, t!("editor.requests"));
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

/// Numbers the editors' create and save requests, unique in this process,
/// so that an answer reaches only the editor that asked.
fn next_request_number() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The editor's copy after a save: `stored` with every field the
/// caseworker changed between handing over `sent` and now. Compared field by
/// field (objects recursively, lists as a whole).
fn rebase(sent: &Case, now: &Case, stored: &Case) -> Case {
    if now == sent {
        return stored.clone();
    }
    let values = (
        serde_json::to_value(sent),
        serde_json::to_value(now),
        serde_json::to_value(stored),
    );
    let (Ok(sent), Ok(now_value), Ok(stored)) = values else {
        return now.clone();
    };
    serde_json::from_value(three_way(&sent, &now_value, stored)).unwrap_or_else(|_| now.clone())
}

/// `theirs`, with what `mine` changed since `old`.
fn three_way(
    old: &serde_json::Value,
    mine: &serde_json::Value,
    theirs: serde_json::Value,
) -> serde_json::Value {
    use serde_json::Value;
    match (old, mine, theirs) {
        (Value::Object(old), Value::Object(mine), Value::Object(mut theirs)) => {
            for (key, mine) in mine {
                let merged = match (old.get(key), theirs.remove(key)) {
                    (Some(old), Some(theirs)) => three_way(old, mine, theirs),
                    _ => mine.clone(),
                };
                theirs.insert(key.clone(), merged);
            }
            Value::Object(theirs)
        }
        (old, mine, theirs) if mine == old => theirs,
        (_, mine, _) => mine.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn case(surname: &str) -> Case {
        Case::draft(Citizen {
            surname: surname.into(),
            ..Citizen::default()
        })
    }

    #[test]
    fn a_rebase_takes_what_the_store_filled_in_and_keeps_what_was_typed_meanwhile() {
        let sent = case("Krüger");
        let mut stored = sent.clone();
        stored.id = "c1".into();
        stored.number = "ANS-0001".into();
        stored.department = Some("buergerbuero".into());
        stored
            .editors
            .insert("actor".into(), "Anna Schäfer (ANS)".into());
        let mut now = sent.clone();
        now.citizen.given_names = "Hans".into();
        now.citizen.phone = "0171".into();
        now.notes = Text::with_value("Hörgerät");

        let rebased = rebase(&sent, &now, &stored);
        assert_eq!(rebased.id, "c1");
        assert_eq!(rebased.number, "ANS-0001");
        assert_eq!(rebased.department.as_deref(), Some("buergerbuero"));
        assert_eq!(rebased.editors, stored.editors);
        assert_eq!(rebased.citizen.surname, "Krüger");
        assert_eq!(rebased.citizen.given_names, "Hans");
        assert_eq!(rebased.citizen.phone, "0171");
        assert_eq!(rebased.notes.as_str(), "Hörgerät");
    }

    #[test]
    fn a_rebase_with_nothing_typed_meanwhile_is_the_stored_case() {
        let sent = case("Krüger");
        let mut stored = sent.clone();
        stored.department = Some("buergerbuero".into());
        assert_eq!(rebase(&sent, &sent, &stored), stored);
    }

    #[test]
    fn an_answer_to_another_editor_changes_nothing() {
        let mut outbox = Vec::new();
        let mut editor = CaseEditor::draft(None);
        editor.case.citizen.surname = "Krüger".into();
        editor.send_changes(&mut outbox);
        let [Request::CreateCase { seq, .. }] = outbox.as_slice() else {
            panic!("one create: {outbox:?}");
        };
        let mine = *seq;
        let mut other = case("Lorenz");
        other.id = "other".into();
        editor.on_stored(other, Vec::new(), mine + 1000, &mut outbox);
        assert!(editor.case.id.is_empty());
        assert!(editor.awaits(mine));
    }
}
