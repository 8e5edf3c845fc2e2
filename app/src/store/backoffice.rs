//! What the back office does with a synced case: forward a request to the
//! responsible office with a deadline, record the office's answer, review
//! the case with a comment, read its change history, export the cases.

use std::collections::BTreeMap;
use std::io::Write;

use automerge::{ChangeHash, Patch, PatchAction, Prop};
use rust_i18n::t;
use serde::Serialize;
use sprechtag_schemas::document::DocumentKind;
use sprechtag_schemas::permissions::Part;
use sprechtag_schemas::{Case, CaseStatus, Comment, Forwarding, IsoDate, Review, ReviewState};

use super::{CaseFilter, Result, Store, StoreError, now_rfc3339};

/// One change of a case, as `case history` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// RFC 3339, as the changing device's clock said.
    pub time: String,
    /// The automerge actor (hex) of the device.
    pub actor: String,
    /// The user and device, as the device recorded itself in the case.
    pub by: String,
    /// The change's own description ("edit case", "forward request", ...).
    pub message: String,
    /// The fields it changed, as dotted paths into the case JSON.
    pub changed: Vec<String>,
}

impl Store {
    /// Forwards a request to `office` (catalogue office id, name or a part
    /// of the name that fits no other office) with a response deadline;
    /// without `due`, the service's response time in working days from
    /// today. The case's status becomes `forwarded`.
    pub fn forward_request(
        &mut self,
        case_id: &str,
        request_id: &str,
        office: &str,
        due: Option<IsoDate>,
    ) -> Result<Case> {
        self.forward_request_asking(case_id, request_id, office, due, "")
    }

    /// As [`Store::forward_request`], with what the citizen asks the office
    /// (the e-mail to the office says it).
    pub fn forward_request_asking(
        &mut self,
        case_id: &str,
        request_id: &str,
        office: &str,
        due: Option<IsoDate>,
        question: &str,
    ) -> Result<Case> {
        self.require(Part::Forwarding)?;
        let office_id = self.office_id(office)?;
        let today = IsoDate::today();
        deadline_not_past(due)?;
        let catalog = self.catalog.clone();
        let message = format!("forward request to {office_id}");
        self.update_case(case_id, &message, |case| {
            let request = case
                .request_mut(request_id)
                .ok_or_else(|| StoreError::not_found("request", request_id))?;
            let response_days = catalog
                .service(&request.service_id)
                .map_or(10, |s| s.response_days);
            // What the server wrote of an earlier forwarding's mail stays
            // until it sends this one (a device never writes it).
            let mail = request.forwarding.as_ref().and_then(|f| f.mail.clone());
            request.forwarding = Some(Forwarding {
                office_id,
                forwarded_at: now_rfc3339(),
                due: due.unwrap_or_else(|| today.add_working_days(response_days)),
                question: question.trim().to_string(),
                answer: String::new(),
                closed_at: None,
                mail,
            });
            case.status = CaseStatus::Forwarded;
            Ok(())
        })
    }

    /// Records the office's answer to a forwarded request; `close` ends it
    /// (it no longer counts as overdue).
    pub fn answer_forwarding(
        &mut self,
        case_id: &str,
        request_id: &str,
        answer: &str,
        close: bool,
    ) -> Result<Case> {
        self.require(Part::Forwarding)?;
        self.update_case(case_id, "record the office's answer", |case| {
            let forwarding = case
                .request_mut(request_id)
                .ok_or_else(|| StoreError::not_found("request", request_id))?
                .forwarding
                .as_mut()
                .ok_or_else(|| StoreError::Invalid(t!("store.not_forwarded").into_owned()))?;
            forwarding.answer = answer.trim().to_string();
            if close && forwarding.closed_at.is_none() {
                forwarding.closed_at = Some(now_rfc3339());
            }
            Ok(())
        })
    }

    /// The back office's verdict, with an optional comment appended to the
    /// case's comment thread.
    pub fn review_case(
        &mut self,
        case_id: &str,
        state: ReviewState,
        comment: Option<&str>,
    ) -> Result<Case> {
        self.require(Part::Review)?;
        let (_, by) = self.editor()?;
        let message = format!("review: {}", state.as_str());
        self.update_case(case_id, &message, |case| {
            let at = now_rfc3339();
            case.review = Some(Review {
                state,
                by: by.clone(),
                at: at.clone(),
            });
            if let Some(text) = comment.map(str::trim).filter(|t| !t.is_empty()) {
                case.comments.push(Comment {
                    id: sprechtag_schemas::new_id(),
                    author: by,
                    at,
                    text: text.to_string(),
                });
            }
            Ok(())
        })
    }

    /// Appends a comment to the case's thread.
    pub fn comment_case(&mut self, case_id: &str, text: &str) -> Result<Case> {
        let text = text.trim();
        if text.is_empty() {
            return Err(StoreError::Invalid(t!("store.comment_empty").into_owned()));
        }
        let (_, author) = self.editor()?;
        self.update_case(case_id, "comment", |case| {
            case.comments.push(Comment {
                id: sprechtag_schemas::new_id(),
                author,
                at: now_rfc3339(),
                text: text.to_string(),
            });
            Ok(())
        })
    }

    /// Every change of the case, oldest first, from its automerge history:
    /// when, by whom, and which fields.
    pub fn case_history(&mut self, case_id: &str) -> Result<Vec<HistoryEntry>> {
        let id = self.resolve_case(case_id)?;
        let mut doc = self.read_doc(&id, DocumentKind::Case)?;
        let case: Case = sprechtag_schemas::document::read(&doc)?;
        let changes: Vec<(ChangeHash, Vec<ChangeHash>, i64, String, String)> = doc
            .get_changes(&[])
            .iter()
            .map(|c| {
                (
                    c.hash(),
                    c.deps().to_vec(),
                    c.timestamp(),
                    c.actor_id().to_hex_string(),
                    c.message().map(str::to_string).unwrap_or_default(),
                )
            })
            .collect();
        let mut entries = Vec::with_capacity(changes.len());
        for (hash, deps, timestamp, actor, message) in changes {
            let patches = doc.diff(&deps, &[hash]);
            entries.push(HistoryEntry {
                time: chrono::DateTime::from_timestamp(timestamp, 0)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default(),
                by: case.editors.get(&actor).cloned().unwrap_or_default(),
                actor,
                message,
                changed: changed_paths(&patches),
            });
        }
        Ok(entries)
    }

    /// Writes every case matching `filter` as CSV (UTF-8, one row per case):
    /// the committee's and the departments' export.
    pub fn export_cases_csv(&self, filter: &CaseFilter, out: impl Write) -> Result<usize> {
        let office_hours: BTreeMap<String, (String, String)> = self
            .conn
            .prepare("SELECT id, village, date FROM office_hours")?
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<rusqlite::Result<_>>()?;
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record([
            "Fallnummer",
            "Status",
            "Nachname",
            "Vornamen",
            "Ort",
            "Sprechtag",
            "Leistungen",
            "Unterlagen vollständig",
            "Fehlende Unterlagen",
            "Weitergeleitet an",
            "Frist",
            "Aufgenommen von",
            "Aufgenommen am",
            "Zuletzt geändert",
        ])?;
        let mut filter = filter.clone();
        filter.limit = 1_000;
        filter.offset = 0;
        let mut written = 0;
        loop {
            let page = self.list_cases(&filter)?;
            for row in &page.rows {
                let (village, date) = row
                    .office_hour_id
                    .as_ref()
                    .and_then(|id| office_hours.get(id))
                    .cloned()
                    .unwrap_or_else(|| (row.village.clone(), String::new()));
                let offices: Vec<String> = row
                    .offices
                    .iter()
                    .map(|id| {
                        self.catalog
                            .office(id)
                            .map_or_else(|| id.clone(), |o| o.name.de.clone())
                    })
                    .collect();
                writer.write_record([
                    row.number.as_str(),
                    row.status.as_str(),
                    &row.surname,
                    &row.given_names,
                    &village,
                    &date,
                    &row.services,
                    if row.complete { "ja" } else { "nein" },
                    &row.missing_count.to_string(),
                    &offices.join("; "),
                    &row.next_due.map(|d| d.to_string()).unwrap_or_default(),
                    &row.created_by,
                    &row.created_at,
                    &row.updated_at,
                ])?;
                written += 1;
            }
            if !page.has_more(filter.offset) || page.rows.is_empty() {
                break;
            }
            filter.offset += page.rows.len();
        }
        writer.flush().map_err(csv::Error::from)?;
        Ok(written)
    }

    /// The catalogue id of an office given by id, name or a part of its
    /// name ([`sprechtag_schemas::Catalog::find_office`]).
    pub(super) fn office_id(&self, office: &str) -> Result<String> {
        Ok(self.catalog.find_office(office)?.id.clone())
    }
}

/// Dotted paths of what `patches` changed: `citizen.phone`, `notes`,
/// `requests.0.forwarding`. Text edits count once per text.
fn changed_paths(patches: &[Patch]) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for patch in patches {
        let mut path: Vec<String> = patch.path.iter().map(|(_, prop)| prop_text(prop)).collect();
        match &patch.action {
            PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => {
                path.push(key.clone());
            }
            PatchAction::PutSeq { index, .. } => path.push(index.to_string()),
            _ => {}
        }
        let text = path.join(".");
        // A new object's fields come after the object: name the object only.
        let inside_known = paths
            .iter()
            .any(|known| text == *known || text.starts_with(&format!("{known}.")));
        if !text.is_empty() && !inside_known {
            paths.push(text);
        }
    }
    paths
}

fn prop_text(prop: &Prop) -> String {
    match prop {
        Prop::Map(key) => key.clone(),
        Prop::Seq(index) => index.to_string(),
    }
}

/// Refuses a deadline before today (forwarding a request or a complaint).
pub(super) fn deadline_not_past(due: Option<IsoDate>) -> Result<()> {
    match due {
        Some(due) if due < IsoDate::today() => Err(StoreError::Invalid(
            t!("store.deadline_past", due = due).into_owned(),
        )),
        _ => Ok(()),
    }
}
