//! Ideas, praise and complaints (Ideen- und Beschwerdemanagement): recorded
//! by whoever hears them, forwarded by the back office to the responsible
//! office with a deadline, closed with the answer given.

use rust_i18n::t;
use sprechtag_schemas::document::DocumentKind;
use sprechtag_schemas::permissions::Part;
use sprechtag_schemas::{Feedback, FeedbackCategory, FeedbackKind, Forwarding, IsoDate, new_id};

use super::{Result, Store, StoreError, now_rfc3339};

/// What a person records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFeedback {
    pub kind: FeedbackKind,
    pub category: FeedbackCategory,
    pub text: String,
    /// The case it concerns (id or number); `None`: anonymous.
    pub case: Option<String>,
}

/// How many ideas, praise or complaints of one category came in a month.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeedbackCount {
    /// `YYYY-MM`.
    pub month: String,
    pub kind: FeedbackKind,
    pub category: FeedbackCategory,
    pub count: u64,
}

/// The longest text taken: a complaint is a few paragraphs, not a file.
const MAX_TEXT_CHARS: usize = 5_000;

impl Store {
    /// Records an idea, praise or complaint in this device's department.
    pub fn record_feedback(&mut self, new: NewFeedback) -> Result<Feedback> {
        let text = new.text.trim();
        if text.is_empty() {
            return Err(StoreError::Invalid(t!("store.feedback_empty").into_owned()));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(StoreError::Invalid(
                t!("store.feedback_too_long", max = MAX_TEXT_CHARS).into_owned(),
            ));
        }
        let case_id = match &new.case {
            Some(case) if !case.trim().is_empty() => Some(self.resolve_case(case.trim())?),
            _ => None,
        };
        let created_by = self.enrolment()?.map(|e| e.user).unwrap_or_default();
        let feedback = Feedback {
            schema_version: sprechtag_schemas::SCHEMA_VERSION,
            id: new_id(),
            department: self.department()?,
            created_at: now_rfc3339(),
            created_by,
            kind: new.kind,
            category: new.category,
            text: text.to_string(),
            case_id,
            forwarding: None,
            answer: String::new(),
            closed_at: None,
            closed_by: None,
        };
        let message = format!("record {}", new.kind);
        self.create_document(&feedback.id, DocumentKind::Feedback, &feedback, &message)
    }

    /// Every idea, praise and complaint this laptop holds, newest first.
    pub fn feedback_list(&self) -> Result<Vec<Feedback>> {
        let mut list = Vec::new();
        for id in self.document_ids(DocumentKind::Feedback)? {
            list.push(self.peek::<Feedback>(&id, DocumentKind::Feedback)?);
        }
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(list)
    }

    /// Ideas, praise and complaints counted by month, kind and category,
    /// months newest first.
    pub fn feedback_counts(&self) -> Result<Vec<FeedbackCount>> {
        let mut counts: std::collections::BTreeMap<(String, FeedbackKind, FeedbackCategory), u64> =
            std::collections::BTreeMap::new();
        for entry in self.feedback_list()? {
            *counts
                .entry((entry.month().to_string(), entry.kind, entry.category))
                .or_default() += 1;
        }
        let mut rows: Vec<FeedbackCount> = counts
            .into_iter()
            .map(|((month, kind, category), count)| FeedbackCount {
                month,
                kind,
                category,
                count,
            })
            .collect();
        rows.sort_by(|a, b| b.month.cmp(&a.month));
        Ok(rows)
    }

    pub fn feedback(&mut self, id: &str) -> Result<Feedback> {
        let doc = self.read_doc(id, DocumentKind::Feedback)?;
        Ok(sprechtag_schemas::document::read(&doc)?)
    }

    pub(super) fn update_feedback(
        &mut self,
        id: &str,
        message: &str,
        edit: impl FnOnce(&mut Feedback) -> Result<()>,
    ) -> Result<Feedback> {
        self.update_document(id, DocumentKind::Feedback, message, edit)
    }

    /// Sends it on to `office` (id or name) with a deadline; without one,
    /// ten working days from today. The server e-mails it to the office.
    pub fn forward_feedback(
        &mut self,
        id: &str,
        office: &str,
        due: Option<IsoDate>,
    ) -> Result<Feedback> {
        self.require(Part::FeedbackAnswer)?;
        let office_id = self.office_id(office)?;
        let today = IsoDate::today();
        super::backoffice::deadline_not_past(due)?;
        let message = format!("forward to {office_id}");
        self.update_feedback(id, &message, |feedback| {
            let mail = feedback.forwarding.as_ref().and_then(|f| f.mail.clone());
            feedback.forwarding = Some(Forwarding {
                office_id,
                forwarded_at: now_rfc3339(),
                due: due.unwrap_or_else(|| today.add_working_days(10)),
                question: String::new(),
                answer: String::new(),
                closed_at: None,
                mail,
            });
            Ok(())
        })
    }

    /// Closes it with the answer the citizen was given.
    pub fn close_feedback(&mut self, id: &str, answer: &str) -> Result<Feedback> {
        self.require(Part::FeedbackAnswer)?;
        let answer = answer.trim().to_string();
        if answer.is_empty() {
            return Err(StoreError::Invalid(
                t!("store.feedback_answer_empty").into_owned(),
            ));
        }
        let (_, editor) = self.editor()?;
        self.update_feedback(id, "close with answer", |feedback| {
            let now = now_rfc3339();
            if let Some(forwarding) = &mut feedback.forwarding
                && forwarding.closed_at.is_none()
            {
                forwarding.closed_at = Some(now.clone());
            }
            feedback.answer = answer;
            feedback.closed_at = Some(now);
            feedback.closed_by = Some(editor);
            Ok(())
        })
    }
}
