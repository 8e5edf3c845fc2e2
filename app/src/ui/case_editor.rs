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

use super::DeviceRole;
use super::appointments_view::weekday_name;
use super::case_list::status_text;
use super::review::{self, ReviewPanel};
use super::widgets;
use super::worker::Request;
use crate::merge::{Prefer, three_way};
use crate::print::PrintKind;
use crate::store::OfficeHourRow;
use crate::store::appointments::parse_time;
use crate::store::slots::{Slot, SlotPlace, SlotQuery};

/// What the caseworker asked for in the editor.
pub enum EditorAction {
    None,
    Close,
    Print(PrintKind),
    /// Erase the case everywhere, for this reason (confirmed).
    Erase(String),
    /// Correct a field without its history (confirmed).
    Correct {
        path: String,
        value: String,
        reason: String,
    },
}

/// The fields a correction offers: locale key and path in the case.
const CORRECTABLE: [(&str, &str); 8] = [
    ("editor.notes", "notes"),
    ("editor.surname", "citizen.surname"),
    ("editor.given_names", "citizen.given_names"),
    ("editor.birth_date", "citizen.birth_date"),
    ("editor.street", "citizen.address.street"),
    ("editor.postcode", "citizen.address.postcode"),
    ("editor.town", "citizen.address.town"),
    ("editor.phone", "citizen.phone"),
];

/// Correcting a case without its history: one field, its right value, why.
#[derive(Default)]
struct Correcting {
    asking: bool,
    /// Index into `CORRECTABLE`.
    field: usize,
    value: String,
    reason: String,
}

/// Erasing a case: asked first, with the citizen's name and a reason.
#[derive(Default)]
struct Erasing {
    /// The confirmation is shown.
    asking: bool,
    reason: String,
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
    /// What is wrong with which field, after a try to book.
    errors: Vec<(BookingField, String)>,
    /// The first invalid field takes the focus after a failed try.
    focus: Option<BookingField>,
    /// The weekdays the citizen can come (Monday to Friday); none: any.
    days: [bool; 5],
    /// The citizen cannot wait long; `None`: as the citizen's needs say.
    short_wait: Option<bool>,
    /// Quiet slots the store proposed for the place and days chosen.
    pub proposals: Option<Vec<Slot>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BookingField {
    Place,
    Date,
    Time,
    Purpose,
}

impl Booking {
    fn error(&self, field: BookingField) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, e)| e.as_str())
    }
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
    /// When the last save was acknowledged, until "Gespeichert" is spoken.
    unannounced_save: Option<std::time::Instant>,
    /// How often "Gespeichert" was spoken; each time is a new live region.
    saved_announcements: u64,
    /// The request removed last and where it was, until it is put back.
    removed: Option<(usize, CaseRequest)>,
    focus: Option<Focus>,
    /// Closing an unnamed new visit with something entered: asked first.
    confirm_discard: bool,
    /// ... and answered with "Besuch verwerfen".
    discard_confirmed: bool,
    erasing: Erasing,
    correcting: Correcting,
}

/// How long the edits must pause before "Gespeichert" is spoken.
const SAVED_ANNOUNCEMENT_PAUSE: std::time::Duration = std::time::Duration::from_millis(800);

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
            unannounced_save: None,
            saved_announcements: 0,
            removed: None,
            focus: None,
            confirm_discard: false,
            discard_confirmed: false,
            erasing: Erasing::default(),
            correcting: Correcting::default(),
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
        self.unannounced_save = Some(std::time::Instant::now());
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

    /// A new visit without a name cannot be stored, so closing it would drop
    /// what was entered: only "Besuch verwerfen" does that. Otherwise this
    /// shows the question and returns false.
    pub fn may_close(&mut self) -> bool {
        let unnamed_draft = self.case.id.is_empty() && !self.has_name() && self.case != self.stored;
        if !unnamed_draft || self.discard_confirmed {
            return true;
        }
        // The question takes the focus at each try, so the answer is one
        // key away.
        self.confirm_discard = true;
        self.focus = Some(Focus::KeepEditing);
        false
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

    /// "Gespeichert", "Speichere …" or what went wrong. A save is often on
    /// disk before the next frame, so the words alone need not change:
    /// "Gespeichert" is spoken anew once the edits pause and all is saved
    /// (a fresh live region each time), not after every keystroke.
    fn save_state_ui(&mut self, ui: &mut egui::Ui) {
        if let Some((_, error)) = &self.failed {
            widgets::error_banner(ui, &t!("editor.not_saved", error = error.as_str()));
        } else if !self.has_name() {
            widgets::message(ui, t!("editor.needs_name"));
        } else if self.in_flight.is_some() || self.case != self.stored {
            ui.label(t!("editor.saving"));
        } else {
            if let Some(saved_at) = self.unannounced_save {
                let quiet = saved_at.elapsed();
                if quiet >= SAVED_ANNOUNCEMENT_PAUSE {
                    self.unannounced_save = None;
                    self.saved_announcements += 1;
                } else {
                    ui.ctx()
                        .request_repaint_after(SAVED_ANNOUNCEMENT_PAUSE - quiet);
                }
            }
            if self.saved_announcements == 0 {
                ui.label(t!("editor.saved"));
            } else {
                ui.push_id(self.saved_announcements, |ui| {
                    widgets::message(ui, t!("editor.saved"));
                });
            }
        }
    }

    /// Saved, nothing on its way: what is printed is what is on screen.
    fn settled(&self) -> bool {
        !self.case.id.is_empty() && self.in_flight.is_none() && self.case == self.stored
    }

    /// The store proposed quiet slots for the booking form.
    pub fn on_slots(&mut self, slots: Vec<Slot>) {
        self.booking.proposals = Some(slots);
    }

    /// Draws the editor; `upcoming` are office hours an appointment can be
    /// booked into.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        office_hour: Option<&str>,
        upcoming: &[OfficeHourRow],
        role: DeviceRole,
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
            if !self.case.former_numbers.is_empty() {
                ui.label(t!(
                    "editor.former_numbers",
                    numbers = self.case.former_numbers.join(", ")
                ));
            }
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
        let discarded = self.confirm_discard && self.discard_ui(ui);
        ui.separator();
        // Fixed ids for the body: messages above it come and go, and must
        // not move the keyboard focus off the field that has it.
        widgets::fixed_scope(ui, "case_editor_body", |ui| {
            egui::ScrollArea::vertical()
                .id_salt("case_editor")
                .auto_shrink(false)
                .show(ui, |ui| {
                    self.status_ui(ui);
                    ui.add_space(8.0);
                    self.citizen_ui(ui);
                    ui.add_space(8.0);
                    self.requests_ui(ui, catalog, role);
                    ui.add_space(8.0);
                    self.notes_ui(ui);
                    ui.add_space(8.0);
                    self.appointments_ui(ui, catalog, upcoming, outbox);
                    ui.add_space(8.0);
                    self.feedback_ui(ui, catalog, role, outbox);
                    if role.decides() && !self.case.id.is_empty() {
                        ui.add_space(8.0);
                        if let Some(correction) = self.correct_ui(ui) {
                            action = correction;
                        }
                        ui.add_space(8.0);
                        if let Some(reason) = self.erase_ui(ui) {
                            action = EditorAction::Erase(reason);
                        }
                    }
                });
        });
        if ui.input(|i| i.key_pressed(Key::Escape)) {
            action = EditorAction::Close;
        }
        if discarded {
            self.discard_confirmed = true;
            action = EditorAction::Close;
        }
        self.send_changes(outbox);
        action
    }

    /// "Fall berichtigen": a wrongly recorded value (a diagnosis in the
    /// notes) replaced so that it is gone from the history too. Asks which
    /// field, the right value and why, and says what happens.
    fn correct_ui(&mut self, ui: &mut egui::Ui) -> Option<EditorAction> {
        widgets::section(ui, t!("correct.heading"));
        let correcting = &mut self.correcting;
        if !correcting.asking {
            if ui.button(t!("correct.start")).clicked() {
                correcting.asking = true;
            }
            return None;
        }
        widgets::message(
            ui,
            t!("correct.explain", number = self.case.number.as_str()),
        );
        let (key, _) = CORRECTABLE[correcting.field];
        widgets::combo_row(ui, &t!("correct.field"), t!(key).into_owned(), |ui| {
            for (index, (key, _)) in CORRECTABLE.iter().enumerate() {
                ui.selectable_value(&mut correcting.field, index, t!(*key));
            }
        });
        let label = ui.label(t!("correct.value"));
        ui.add(
            egui::TextEdit::multiline(&mut correcting.value)
                .desired_rows(2)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        let label = ui.label(t!("correct.reason"));
        ui.add(
            egui::TextEdit::singleline(&mut correcting.reason)
                .char_limit(crate::store::MAX_ERASE_REASON_CHARS)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        let mut action = None;
        ui.horizontal(|ui| {
            let reason = correcting.reason.trim();
            if ui
                .add_enabled(
                    !reason.is_empty(),
                    egui::Button::new(t!("correct.confirm_button")),
                )
                .clicked()
            {
                action = Some(EditorAction::Correct {
                    path: CORRECTABLE[correcting.field].1.to_string(),
                    value: correcting.value.clone(),
                    reason: reason.to_string(),
                });
            }
            if ui.button(t!("erase.cancel")).clicked() {
                *correcting = Correcting::default();
            }
        });
        action
    }

    /// "Fall löschen": for a citizen's request to erase their data. Asks
    /// first, naming the case and the citizen, for a reason, and says that
    /// it cannot be undone; returns the reason once confirmed.
    fn erase_ui(&mut self, ui: &mut egui::Ui) -> Option<String> {
        widgets::section(ui, t!("erase.heading"));
        if !self.erasing.asking {
            if ui.button(t!("erase.start")).clicked() {
                self.erasing.asking = true;
            }
            return None;
        }
        widgets::warning_banner(
            ui,
            &t!(
                "erase.confirm",
                number = self.case.number.as_str(),
                name = format!(
                    "{} {}",
                    self.case.citizen.given_names.trim(),
                    self.case.citizen.surname.trim()
                )
                .trim()
            ),
        );
        let label = ui.label(t!("erase.reason"));
        ui.add(
            egui::TextEdit::singleline(&mut self.erasing.reason)
                .char_limit(crate::store::MAX_ERASE_REASON_CHARS)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        let mut confirmed = None;
        ui.horizontal(|ui| {
            let reason = self.erasing.reason.trim();
            if ui
                .add_enabled(
                    !reason.is_empty(),
                    egui::Button::new(t!("erase.confirm_button")),
                )
                .clicked()
            {
                confirmed = Some(reason.to_string());
            }
            if ui.button(t!("erase.cancel")).clicked() {
                self.erasing = Erasing::default();
            }
        });
        confirmed
    }

    /// Asks before an unnamed new visit is thrown away; returns true when
    /// the caseworker chooses to discard it.
    fn discard_ui(&mut self, ui: &mut egui::Ui) -> bool {
        let mut discard = false;
        widgets::warning_banner(ui, &t!("editor.unnamed_draft"));
        ui.horizontal(|ui| {
            let keep = ui.button(t!("editor.keep_editing"));
            if self.focus.take_if(|f| *f == Focus::KeepEditing).is_some() {
                keep.request_focus();
            }
            if keep.clicked() {
                self.confirm_discard = false;
                self.focus_first = true;
            }
            discard = ui.button(t!("editor.discard")).clicked();
        });
        discard
    }

    fn notes_ui(&mut self, ui: &mut egui::Ui) {
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
    }

    /// Forwarding, verdict, comments and history. The back office sees
    /// them open; a caseworker sees them without the controls to decide; a
    /// device that is not enrolled keeps them folded under "Rückmeldung und
    /// Weiterleitung" (open once there is something in them), so that they
    /// do not clutter a visit.
    fn feedback_ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        role: DeviceRole,
        outbox: &mut Vec<Request>,
    ) {
        if role != DeviceRole::Standalone {
            widgets::section(ui, t!("review.heading"));
            self.review.review_ui(ui, &mut self.case, role.decides());
            ui.add_space(8.0);
            self.review.history_ui(
                ui,
                &self.case.id,
                self.case.history_deleted_at.as_deref(),
                outbox,
            );
            return;
        }
        let has_feedback = self.case.review.is_some()
            || !self.case.comments.is_empty()
            || self.case.requests.iter().any(|r| r.forwarding.is_some());
        egui::CollapsingHeader::new(t!("review.feedback_and_forwarding"))
            .id_salt("feedback")
            .default_open(has_feedback)
            .show(ui, |ui| {
                let mut forwarded = false;
                if self.case.requests.iter().any(|r| r.forwarding.is_none()) {
                    widgets::section(ui, t!("review.forward_requests"));
                    for request in &mut self.case.requests {
                        if request.forwarding.is_none() {
                            forwarded |=
                                self.review.forwarding_ui(ui, request, catalog, true, true);
                        }
                    }
                    ui.add_space(8.0);
                }
                if forwarded {
                    review::status_after_forwarding(&mut self.case);
                }
                widgets::section(ui, t!("review.heading"));
                self.review.review_ui(ui, &mut self.case, true);
                ui.add_space(8.0);
                self.review.history_ui(
                    ui,
                    &self.case.id,
                    self.case.history_deleted_at.as_deref(),
                    outbox,
                );
            });
    }

    fn appointments_ui(
        &mut self,
        ui: &mut egui::Ui,
        catalog: &Catalog,
        upcoming: &[OfficeHourRow],
        outbox: &mut Vec<Request>,
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
        let mut enter = false;
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
            ui.horizontal(|ui| {
                let combo = egui::ComboBox::from_id_salt("booking_place")
                    .selected_text(&chosen)
                    .show_ui(ui, |ui| {
                        booking_places_ui(ui, booking, main_office, upcoming)
                    });
                let combo = combo.response.labelled_by(place_label.id);
                widgets::show_value(&combo, chosen);
                take_focus(&combo, &mut booking.focus, BookingField::Place);
                if let Some(error) = booking.error(BookingField::Place) {
                    widgets::field_error(ui, &combo, error);
                }
            });
            ui.end_row();
            let examples = [
                IsoDate::today().add_working_days(5).to_german(),
                "09:30".to_string(),
                t!("booking.purpose_example").into_owned(),
            ];
            for ((field, label), example) in [
                (BookingField::Date, t!("booking.date")),
                (BookingField::Time, t!("booking.time")),
                (BookingField::Purpose, t!("booking.purpose")),
            ]
            .into_iter()
            .zip(examples)
            {
                let error = booking.error(field).map(str::to_string);
                let hint = t!("form.example", example = example);
                let focus = booking.focus.take_if(|f| *f == field).is_some();
                let value = match field {
                    BookingField::Date => &mut booking.date,
                    BookingField::Time => &mut booking.time,
                    BookingField::Place | BookingField::Purpose => &mut booking.purpose,
                };
                enter |= widgets::FormField::new(&label)
                    .required()
                    .hint(&hint)
                    .error(error.as_deref())
                    .focus(focus)
                    .show(ui, value)
                    .entered;
            }
        });
        let needs = &self.case.citizen.needs;
        let needs_short_wait = needs.accompanied_by_carer || needs.wheelchair_access;
        quiet_slots_ui(ui, booking, needs_short_wait, outbox);
        if ui.button(t!("booking.book")).clicked() || enter {
            match validate_booking(booking, main_office, upcoming) {
                Ok(appointment) => {
                    self.case.appointments.push(appointment);
                    self.booking = Booking::default();
                }
                Err(errors) => {
                    self.booking.focus = errors.first().map(|(field, _)| *field);
                    self.booking.errors = errors;
                }
            }
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
            let bad_birth_date = !self.birth_text.trim().is_empty()
                && self.birth_text.trim().parse::<IsoDate>().is_err();
            let error = bad_birth_date.then(|| t!("common.bad_date").into_owned());
            let birth_hint = t!("form.example", example = "14.03.1941");
            let birth = widgets::FormField::new(&t!("editor.birth_date"))
                .hint(&birth_hint)
                .error(error.as_deref())
                .show(ui, &mut self.birth_text)
                .response;
            if birth.changed() {
                citizen.birth_date = self.birth_text.trim().parse().ok();
            }
            widgets::text_row(ui, &t!("editor.street"), &mut citizen.address.street);
            widgets::text_row(ui, &t!("editor.postcode"), &mut citizen.address.postcode);
            widgets::text_row(ui, &t!("editor.town"), &mut citizen.address.town);
            widgets::text_row(ui, &t!("editor.phone"), &mut citizen.phone);
        });
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
                    consent.date = self.consent_text.trim().parse().ok();
                }
                if consent.date.is_none() {
                    let example = IsoDate::today().to_german();
                    let error = t!("editor.bad_consent_date", example = example);
                    widgets::field_error(ui, &field, &error);
                }
            }
        });
    }

    fn requests_ui(&mut self, ui: &mut egui::Ui, catalog: &Catalog, role: DeviceRole) {
        widgets::section(ui, t!("editor.requests"));
        let mut remove = None;
        let mut forwarded = false;
        for (index, request) in self.case.requests.iter_mut().enumerate() {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    widgets::subsection(ui, &request.service_name);
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
                // The checklist stays as it was checked; a later change of
                // the catalogue is shown, not applied.
                if let Some(service) = catalog.service(&request.service_id) {
                    let changes = request.checklist_changes(service);
                    if !changes.is_empty() {
                        let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
                        widgets::warning_banner(
                            ui,
                            &t!("editor.checklist_changed", changes = list.join("; ")),
                        );
                    }
                }
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
                forwarded |= self.review.forwarding_ui(
                    ui,
                    request,
                    catalog,
                    role.decides(),
                    role == DeviceRole::BackOffice,
                );
            });
        }
        if forwarded {
            review::status_after_forwarding(&mut self.case);
        }
        if let Some(index) = remove {
            let request = self.case.requests.remove(index);
            self.removed = Some((index, request));
            self.focus = Some(Focus::Undo);
        }
        self.undo_removal_ui(ui);
        ui.add_space(4.0);
        widgets::fixed_scope(ui, "case_editor_add_request", |ui| {
            self.add_request_ui(ui, catalog);
        });
    }

    /// Type a few letters, pick a service: Enter takes the first match.
    fn add_request_ui(&mut self, ui: &mut egui::Ui, catalog: &Catalog) {
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(t!("editor.add_request"));
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.service_query)
                        .hint_text(t!("editor.add_request_hint"))
                        .desired_width(260.0),
                )
                .labelled_by(label.id);
            if self.focus.take_if(|f| *f == Focus::AddRequest).is_some() {
                field.request_focus();
            }
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            let query = self.service_query.trim().to_string();
            if query.is_empty() {
                return;
            }
            let matches: Vec<_> = catalog.search(&query).into_iter().take(6).collect();
            if matches.is_empty() {
                widgets::message(ui, t!("editor.no_service"));
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
                // Ready for the next request.
                self.focus = Some(Focus::AddRequest);
            }
        });
    }

    /// After a request was removed: what was removed, and a button that
    /// puts it back where it was (the removal is saved like any edit).
    fn undo_removal_ui(&mut self, ui: &mut egui::Ui) {
        let Some((index, request)) = &self.removed else {
            return;
        };
        let service = request.service_name.clone();
        let mut undo = false;
        // A fixed id: the list above changes length, and the focus must
        // stay on the button when it does.
        widgets::fixed_scope(ui, "case_editor_undo_removal", |ui| {
            ui.horizontal_wrapped(|ui| {
                widgets::message(ui, t!("editor.request_removed", service = service.as_str()));
                let button = ui.button(t!("editor.undo"));
                let name = t!("editor.undo_named", service = service.as_str()).into_owned();
                button.widget_info(|| WidgetInfo::labeled(Role::Button, true, &name));
                // The Enter that removed the request must not also press
                // the button that takes its place under the focus.
                let just_focused = self.focus.take_if(|f| *f == Focus::Undo).is_some();
                if just_focused {
                    button.request_focus();
                }
                undo = button.clicked() && !just_focused;
            });
        });
        if undo {
            let index = (*index).min(self.case.requests.len());
            if let Some((_, request)) = self.removed.take() {
                self.case.requests.insert(index, request);
            }
            self.focus = Some(Focus::AddRequest);
        }
    }
}

/// Where the keyboard focus goes next, so that it is never lost when the
/// control that had it disappears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Focus {
    /// The undo button after a request was removed.
    Undo,
    /// The field to add a request: after adding one, or an undo.
    AddRequest,
    /// "Namen eingeben" when an unnamed new visit is to be closed.
    KeepEditing,
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
    serde_json::from_value(three_way(&sent, &now_value, stored, Prefer::Mine))
        .unwrap_or_else(|_| now.clone())
}

/// The appointment the form describes, or everything that is wrong with
/// it, field by field in the order of the form.
fn validate_booking(
    booking: &Booking,
    main_office: Option<&sprechtag_schemas::Office>,
    upcoming: &[OfficeHourRow],
) -> Result<Appointment, Vec<(BookingField, String)>> {
    let mut errors = Vec::new();
    let date = match booking.date.trim().parse::<IsoDate>() {
        Ok(date) if date < IsoDate::today() => {
            errors.push((BookingField::Date, t!("booking.past").into_owned()));
            None
        }
        Ok(date) => Some(date),
        Err(_) => {
            let example = IsoDate::today().add_working_days(5).to_german();
            let error = t!("booking.bad_date", example = example).into_owned();
            errors.push((BookingField::Date, error));
            None
        }
    };
    let place = match &booking.office_hour_id {
        Some(id) => match upcoming.iter().find(|row| &row.id == id) {
            Some(row) if date.is_some_and(|d| row.date != d.to_string()) => {
                errors.push((BookingField::Date, t!("booking.other_day").into_owned()));
                None
            }
            Some(row) => Some(format!("{}, {}", row.village, row.venue)),
            None => {
                errors.push((BookingField::Place, t!("booking.no_place").into_owned()));
                None
            }
        },
        None => match main_office {
            Some(office) => Some(format!("{}, {}", office.name.de, office.address)),
            None => {
                errors.push((BookingField::Place, t!("booking.no_place").into_owned()));
                None
            }
        },
    };
    let time = parse_time(&booking.time)
        .map_err(|_| errors.push((BookingField::Time, t!("booking.bad_time").into_owned())))
        .ok();
    if booking.purpose.trim().is_empty() {
        errors.push((BookingField::Purpose, t!("booking.no_purpose").into_owned()));
    }
    errors.sort_by_key(|(field, _)| *field as u8);
    match (date, time, place) {
        (Some(date), Some(time), Some(place)) if errors.is_empty() => Ok(Appointment {
            id: new_id(),
            date,
            time,
            place,
            office_hour_id: booking.office_hour_id.clone(),
            purpose: booking.purpose.trim().to_string(),
        }),
        _ => Err(errors),
    }
}

/// The places an appointment can be booked at: the responsible office, or
/// an upcoming office hour (which sets the date).
fn booking_places_ui(
    ui: &mut egui::Ui,
    booking: &mut Booking,
    main_office: Option<&sprechtag_schemas::Office>,
    upcoming: &[OfficeHourRow],
) {
    if let Some(office) = main_office {
        ui.selectable_value(&mut booking.office_hour_id, None, &office.name.de);
    }
    for row in upcoming {
        let text = format!("{} – {}", row.label(), row.venue);
        if ui
            .selectable_value(&mut booking.office_hour_id, Some(row.id.clone()), text)
            .clicked()
        {
            booking.date = row
                .date
                .parse::<IsoDate>()
                .map(IsoDate::to_german)
                .unwrap_or_default();
        }
    }
}

/// The citizen's days and need for a short wait, and the three quietest
/// slots for them; choosing one fills in date and time.
fn quiet_slots_ui(
    ui: &mut egui::Ui,
    booking: &mut Booking,
    needs_short_wait: bool,
    outbox: &mut Vec<Request>,
) {
    const WEEKDAYS: [chrono::Weekday; 5] = [
        chrono::Weekday::Mon,
        chrono::Weekday::Tue,
        chrono::Weekday::Wed,
        chrono::Weekday::Thu,
        chrono::Weekday::Fri,
    ];
    ui.horizontal_wrapped(|ui| {
        ui.label(t!("booking.days"));
        for (index, day) in booking.days.iter_mut().enumerate() {
            ui.checkbox(day, weekday_name(WEEKDAYS[index]));
        }
    });
    let mut short_wait = booking.short_wait.unwrap_or(needs_short_wait);
    if ui
        .checkbox(&mut short_wait, t!("booking.short_wait"))
        .changed()
    {
        booking.short_wait = Some(short_wait);
    }
    if ui.button(t!("booking.propose")).clicked() {
        let place = match &booking.office_hour_id {
            Some(id) => SlotPlace::OfficeHour(id.clone()),
            None => SlotPlace::MainOffice,
        };
        let days = WEEKDAYS
            .iter()
            .zip(booking.days)
            .filter(|(_, on)| *on)
            .map(|(day, _)| *day)
            .collect();
        booking.proposals = None;
        outbox.push(Request::ProposeSlots(SlotQuery {
            place,
            days,
            short_wait,
        }));
    }
    let Some(proposals) = &booking.proposals else {
        return;
    };
    if proposals.is_empty() {
        widgets::message(ui, t!("booking.no_proposals"));
        return;
    }
    widgets::message(ui, t!("booking.proposals", n = proposals.len()));
    let mut chosen = None;
    ui.horizontal_wrapped(|ui| {
        for slot in proposals {
            let text = t!(
                "booking.proposal",
                day = weekday_name(chrono::Datelike::weekday(&slot.date.date())),
                date = slot.date.to_german(),
                time = slot.time.as_str(),
                booked = slot.booked,
                expected = format!("{:.1}", slot.expected_visitors).replace('.', ",")
            );
            if ui.button(text.as_ref()).clicked() {
                chosen = Some(slot.clone());
            }
        }
    });
    if let Some(slot) = chosen {
        booking.date = slot.date.to_german();
        booking.time = slot.time;
    }
}

/// Moves the focus to `response` if the form asked for `field`.
fn take_focus(response: &egui::Response, wanted: &mut Option<BookingField>, field: BookingField) {
    if *wanted == Some(field) {
        response.request_focus();
        response.scroll_to_me(Some(egui::Align::Center));
        *wanted = None;
    }
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
