//! Sync in the UI: the status line (offline / syncing / up to date, what
//! waits, the last complete sync, the last error in plain words) and the
//! enrolment form in the settings.

use rust_i18n::t;

use super::widgets;
use sprechtag_schemas::IsoDate;
use sprechtag_schemas::wire::RefusalCode;

use crate::store::DocumentLabel;
use crate::sync::worker::{Command, SyncProblem, SyncState, SyncStatus};
use crate::sync::{RefusedDocument, sends_in_clear};

/// Draws the status line; returns true when "sync now" is pressed. Each new
/// `announcement` (a sync the user asked for has ended) makes the state a
/// fresh live region that screen readers speak; the background syncs every
/// minute stay quiet.
pub fn status_ui(ui: &mut egui::Ui, status: Option<&SyncStatus>, announcement: u64) -> bool {
    let mut sync_now = false;
    ui.horizontal_wrapped(|ui| {
        let Some(status) = status else {
            widgets::message(ui, t!("sync.starting"));
            return;
        };
        let state = match status.state {
            SyncState::NotEnrolled => t!("sync.not_enrolled"),
            SyncState::Offline => t!("sync.offline"),
            SyncState::Syncing => t!("sync.syncing"),
            SyncState::UpToDate => t!("sync.up_to_date"),
            SyncState::Failed => t!("sync.failed"),
            SyncState::Wiped => t!("app.wiped"),
        };
        if announcement == 0 {
            ui.strong(state);
        } else {
            ui.push_id(announcement, |ui| {
                widgets::message(ui, egui::RichText::new(state).strong());
            });
        }
        if status.state == SyncState::NotEnrolled {
            return;
        }
        ui.separator();
        ui.label(t!("sync.pending", n = status.pending));
        ui.separator();
        ui.label(match &status.last_success {
            Some(time) => t!("sync.last_success", time = local_time(time).as_str()),
            None => t!("sync.never"),
        });
        if ui
            .add_enabled(
                status.state != SyncState::Syncing,
                egui::Button::new(t!("sync.now")),
            )
            .clicked()
        {
            sync_now = true;
        }
        if status.set_aside > 0 {
            widgets::warning_banner(ui, &t!("sync.set_aside", n = status.set_aside));
        }
        if let Some(warning) = clock_warning(status.clock_offset_ms) {
            widgets::warning_banner(ui, &warning);
        }
        if let Some(problem) = &status.last_error {
            widgets::error_banner(ui, &problem_text(problem));
        }
    });
    sync_now
}

/// "Die Uhr dieses Laptops geht 358 Tage nach …" when the laptop's clock is
/// more than a few minutes off the server's.
pub fn clock_warning(offset_ms: i64) -> Option<String> {
    if offset_ms.abs() <= sprechtag_schemas::clock::WARN_MS {
        return None;
    }
    let minutes = offset_ms.abs() / 60_000;
    let amount = if minutes >= 24 * 60 {
        t!("clock.days", n = minutes / (24 * 60))
    } else if minutes >= 60 {
        t!("clock.hours", n = minutes / 60)
    } else {
        t!("clock.minutes", n = minutes)
    };
    Some(if offset_ms > 0 {
        t!("clock.behind", amount = amount).into_owned()
    } else {
        t!("clock.ahead", amount = amount).into_owned()
    })
}

pub fn problem_text(problem: &SyncProblem) -> String {
    match problem {
        SyncProblem::Offline => t!("sync.error_offline").into_owned(),
        SyncProblem::Server => t!("sync.error_server").into_owned(),
        SyncProblem::Unauthorized => t!("sync.error_unauthorized").into_owned(),
        SyncProblem::Revoked => t!("sync.error_revoked").into_owned(),
        SyncProblem::BadCode => t!("sync.error_bad_code").into_owned(),
        SyncProblem::Throttled(seconds) => {
            t!("sync.error_throttled", seconds = seconds).into_owned()
        }
        SyncProblem::Insecure => t!("sync.error_insecure").into_owned(),
        SyncProblem::Untrusted => t!("sync.error_untrusted").into_owned(),
        SyncProblem::Rejected(documents) => documents
            .iter()
            .map(refusal_text)
            .collect::<Vec<_>>()
            .join("\n"),
        SyncProblem::Protocol(detail) | SyncProblem::Other(detail) => {
            t!("sync.error_other", detail = detail.as_str()).into_owned()
        }
    }
}

/// "Fall NPY-0042 (Müller, Hans) wurde vom Server abgelehnt: …", with the
/// reason in plain words and what to do.
pub fn refusal_text(refused: &RefusedDocument) -> String {
    let document = match &refused.label {
        Some(DocumentLabel::Case { number, name }) => {
            t!(
                "sync.refused_case",
                number = number.as_str(),
                name = name.as_str()
            )
        }
        Some(DocumentLabel::OfficeHour { village, date }) => {
            let date = date
                .parse::<IsoDate>()
                .map_or_else(|_| date.clone(), IsoDate::to_german);
            t!(
                "sync.refused_office_hour",
                village = village.as_str(),
                date = date.as_str()
            )
        }
        None => t!("sync.refused_document", id = refused.doc_id.as_str()),
    };
    let reason = match refused.code() {
        Some(RefusalCode::WrongDepartment) => t!("sync.reason_wrong_department"),
        Some(RefusalCode::Forbidden) => t!("sync.reason_forbidden"),
        Some(
            RefusalCode::BadDocumentId
            | RefusalCode::BadHeads
            | RefusalCode::BadChanges
            | RefusalCode::UnknownDocument
            | RefusalCode::KindChanged
            | RefusalCode::Incomplete
            | RefusalCode::InvalidDocument,
        ) => t!("sync.reason_damaged"),
        Some(RefusalCode::ForbiddenChange) => t!("sync.reason_forbidden_change"),
        Some(RefusalCode::UnknownAuthor) => t!("sync.reason_unknown_author"),
        Some(RefusalCode::ForeignNumber) => t!("sync.reason_foreign_number"),
        Some(RefusalCode::Erased) => t!("sync.reason_erased"),
        None => t!("sync.reason_other", message = refused.message.as_str()),
    };
    t!(
        "sync.refused",
        document = document,
        reason = reason,
        advice = t!("sync.refused_advice")
    )
    .into_owned()
}

fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%d.%m.%Y %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// Enrolment in the settings: server address, one-time code and, where the
/// county runs its own CA, its certificate file. Errors stay beside their
/// field until the next attempt; an address that would send everything
/// unencrypted is asked about first.
#[derive(Default)]
pub struct EnrolForm {
    server: String,
    code: String,
    /// Path of the county's CA certificate (PEM); empty: the system's CAs.
    ca_file: String,
    attempts: u64,
    /// The attempt whose answer the sync worker has not given yet.
    waiting: Option<u64>,
    errors: EnrolErrors,
    /// Move the focus to the first field with an error in the next frame.
    focus_error: bool,
    /// The address sends in clear: enrol only after a confirming action.
    insecure: bool,
    focus_confirm: bool,
    /// This form enrolled the device: say so, with the new prefix.
    enrolled: bool,
}

#[derive(Default)]
struct EnrolErrors {
    server: Option<String>,
    code: Option<String>,
    ca_file: Option<String>,
    /// Neither field's fault (the server is in trouble, ...).
    other: Option<String>,
}

impl EnrolErrors {
    fn any(&self) -> bool {
        self.server.is_some()
            || self.code.is_some()
            || self.ca_file.is_some()
            || self.other.is_some()
    }
}

impl EnrolForm {
    /// Takes the sync worker's answer to the attempt this form waits for.
    pub fn on_status(&mut self, status: &SyncStatus) {
        let Some(outcome) = &status.enrolment else {
            return;
        };
        if self.waiting != Some(outcome.attempt) {
            return;
        }
        self.waiting = None;
        match &outcome.problem {
            None => {
                self.code.clear();
                self.enrolled = true;
            }
            Some(problem) => {
                self.errors = enrol_errors(problem, !self.ca_file.trim().is_empty());
                self.focus_error = true;
            }
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, status: Option<&SyncStatus>) -> Option<Command> {
        let mut command = None;
        widgets::heading(ui, t!("sync.settings_title"));
        if let Some(server) = status.and_then(|s| s.server.as_deref()) {
            ui.label(t!("sync.enrolled_with", server = server));
        }
        if self.enrolled {
            let prefix = status.map_or("", |s| s.prefix.as_str());
            widgets::message(ui, t!("sync.enrolled", prefix = prefix));
        }
        ui.label(t!("sync.enrol_hint"));
        widgets::required_legend(ui);
        let focus_error = std::mem::take(&mut self.focus_error);
        let server_hint = t!("sync.server_hint").into_owned();
        let code_hint = t!("sync.code_hint").into_owned();
        let ca_hint = t!("sync.ca_file_hint").into_owned();
        let mut entered = false;
        egui::Grid::new("enrol").num_columns(2).show(ui, |ui| {
            let server = widgets::FormField::new(&t!("sync.server"))
                .required()
                .hint(&server_hint)
                .error(self.errors.server.as_deref())
                .focus(focus_error && self.errors.server.is_some())
                .show(ui, &mut self.server);
            let code = widgets::FormField::new(&t!("sync.code"))
                .required()
                .hint(&code_hint)
                .error(self.errors.code.as_deref())
                .focus(focus_error && self.errors.server.is_none() && self.errors.code.is_some())
                .width(200.0)
                .show(ui, &mut self.code);
            let ca_file = widgets::FormField::new(&t!("sync.ca_file"))
                .hint(&ca_hint)
                .error(self.errors.ca_file.as_deref())
                .focus(
                    focus_error
                        && self.errors.server.is_none()
                        && self.errors.code.is_none()
                        && self.errors.ca_file.is_some(),
                )
                .show(ui, &mut self.ca_file);
            if server.response.changed() {
                // Asked about another address: ask again for this one.
                self.insecure = false;
            }
            entered = server.entered || code.entered || ca_file.entered;
        });
        let ready = self.waiting.is_none();
        let filled = !self.server.trim().is_empty() && !self.code.trim().is_empty();
        let mut submit = entered && ready;
        ui.horizontal(|ui| {
            submit |= ui
                .add_enabled(ready && filled, egui::Button::new(t!("sync.enrol")))
                .clicked();
            if self.waiting.is_some() {
                ui.spinner();
                widgets::message(ui, t!("sync.enrolling"));
            }
        });
        let mut confirmed = false;
        if self.insecure {
            let warning = t!("sync.insecure").into_owned();
            widgets::warning_banner(ui, &warning);
            let confirm = ui.button(t!("sync.enrol_anyway"));
            widgets::show_value(&confirm, warning);
            if std::mem::take(&mut self.focus_confirm) {
                confirm.request_focus();
            }
            confirmed = confirm.clicked() && ready;
        }
        if submit || confirmed {
            command = self.submit(confirmed);
        }
        if let Some(error) = &self.errors.other {
            widgets::error_banner(ui, error);
        }
        command
    }

    fn submit(&mut self, confirmed: bool) -> Option<Command> {
        let server = self.server.trim();
        let code = self.code.trim();
        self.errors = EnrolErrors::default();
        if server.is_empty() {
            self.errors.server = Some(t!("sync.server_missing").into_owned());
        } else if !(server.starts_with("https://") || server.starts_with("http://")) {
            self.errors.server = Some(t!("sync.server_bad").into_owned());
        }
        if code.is_empty() {
            self.errors.code = Some(t!("sync.code_missing").into_owned());
        }
        let ca_file = self.ca_file.trim();
        let ca_cert = if ca_file.is_empty() {
            None
        } else {
            match crate::sync::read_ca_cert(std::path::Path::new(ca_file)) {
                Ok(pem) => Some(pem),
                Err(error) => {
                    self.errors.ca_file = Some(ca_cert_error_text(&error));
                    None
                }
            }
        };
        if self.errors.any() {
            self.insecure = false;
            self.focus_error = true;
            return None;
        }
        if sends_in_clear(server) && !confirmed {
            self.insecure = true;
            self.focus_confirm = true;
            return None;
        }
        self.insecure = false;
        self.enrolled = false;
        self.attempts += 1;
        self.waiting = Some(self.attempts);
        Some(Command::Enrol {
            server_url: server.to_string(),
            code: code.to_string(),
            allow_insecure_http: confirmed,
            ca_cert,
            attempt: self.attempts,
        })
    }
}

fn ca_cert_error_text(error: &crate::sync::CaCertError) -> String {
    use crate::sync::CaCertError;
    match error {
        CaCertError::Unreadable { source, .. } => {
            t!("sync.ca_file_unreadable", detail = source.to_string()).into_owned()
        }
        CaCertError::TooLarge(_) | CaCertError::NotPem(_) => {
            t!("sync.ca_file_not_pem").into_owned()
        }
    }
}

/// A failed enrolment in words, beside the field that is most likely wrong.
fn enrol_errors(problem: &SyncProblem, ca_pinned: bool) -> EnrolErrors {
    let mut errors = EnrolErrors::default();
    match problem {
        // With a CA given, its file is the likelier mistake.
        SyncProblem::Untrusted if ca_pinned => {
            errors.ca_file = Some(t!("sync.enrol_untrusted_ca").into_owned());
        }
        SyncProblem::Untrusted => errors.server = Some(t!("sync.enrol_untrusted").into_owned()),
        SyncProblem::BadCode => errors.code = Some(t!("sync.error_bad_code").into_owned()),
        SyncProblem::Offline => errors.server = Some(t!("sync.enrol_offline").into_owned()),
        SyncProblem::Protocol(_) => {
            errors.server = Some(t!("sync.enrol_not_a_server").into_owned());
        }
        SyncProblem::Server => errors.other = Some(t!("sync.enrol_server").into_owned()),
        other => {
            errors.other = Some(t!("sync.enrol_failed", detail = problem_text(other)).into_owned());
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::clock_warning;

    #[test]
    fn a_clock_off_by_more_than_five_minutes_is_told_in_plain_words() {
        rust_i18n::set_locale("de");
        assert_eq!(clock_warning(2 * 60_000), None, "within the noise");
        let behind = clock_warning(358 * 24 * 3600 * 1000).expect("a warning");
        assert!(behind.contains("358 Tage nach"), "{behind}");
        let ahead = clock_warning(-3 * 3600 * 1000 - 5).expect("a warning");
        assert!(ahead.contains("3 Stunden vor"), "{ahead}");
        let minutes = clock_warning(7 * 60_000).expect("a warning");
        assert!(minutes.contains("7 Minuten nach"), "{minutes}");
    }
}
