//! Sync in the UI: the status line (offline / syncing / up to date, what
//! waits, the last complete sync, the last error in plain words) and the
//! enrolment form in the settings.

use rust_i18n::t;

use super::widgets;
use sprechtag_schemas::IsoDate;
use sprechtag_schemas::wire::RefusalCode;

use crate::store::DocumentLabel;
use crate::sync::RefusedDocument;
use crate::sync::worker::{Command, SyncProblem, SyncState, SyncStatus};

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
        if let Some(problem) = &status.last_error {
            widgets::error_banner(ui, &problem_text(problem));
        }
    });
    sync_now
}

pub fn problem_text(problem: &SyncProblem) -> String {
    match problem {
        SyncProblem::Offline => t!("sync.error_offline").into_owned(),
        SyncProblem::Server => t!("sync.error_server").into_owned(),
        SyncProblem::Unauthorized => t!("sync.error_unauthorized").into_owned(),
        SyncProblem::Revoked => t!("sync.error_revoked").into_owned(),
        SyncProblem::BadCode => t!("sync.error_bad_code").into_owned(),
        SyncProblem::Rejected(documents) => documents
            .iter()
            .map(refusal_text)
            .collect::<Vec<_>>()
            .join("\n"),
        SyncProblem::Other(detail) => t!("sync.error_other", detail = detail.as_str()).into_owned(),
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
            | RefusalCode::Incomplete,
        ) => t!("sync.reason_damaged"),
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

#[derive(Default)]
pub struct EnrolForm {
    server: String,
    code: String,
    busy: bool,
}

impl EnrolForm {
    pub fn done(&mut self) {
        if self.busy {
            self.busy = false;
            self.code.clear();
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, status: Option<&SyncStatus>) -> Option<Command> {
        let mut command = None;
        widgets::heading(ui, t!("sync.settings_title"));
        if let Some(server) = status.and_then(|s| s.server.as_deref()) {
            ui.label(t!("sync.enrolled_with", server = server));
        }
        ui.label(t!("sync.enrol_hint"));
        egui::Grid::new("enrol").num_columns(2).show(ui, |ui| {
            widgets::text_row(ui, &t!("sync.server"), &mut self.server);
            widgets::text_row(ui, &t!("sync.code"), &mut self.code);
        });
        let ready = !self.server.trim().is_empty() && !self.code.trim().is_empty() && !self.busy;
        if ui
            .add_enabled(ready, egui::Button::new(t!("sync.enrol")))
            .clicked()
        {
            self.busy = true;
            command = Some(Command::Enrol {
                server_url: self.server.trim().to_string(),
                code: self.code.trim().to_string(),
            });
        }
        if self.busy
            && let Some(problem) = status.and_then(|s| s.last_error.as_ref())
        {
            self.busy = false;
            widgets::error_banner(ui, &problem_text(problem));
        }
        command
    }
}
