//! A case: one citizen's visit with its requests, document checks and notes.
//! One automerge document per case.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile, Text};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::IsoDate;
use crate::catalog::{Catalog, Service};
use crate::string_enum::string_enum;

string_enum! {
    /// Where a case stands. A case is edited in any status; `done` and
    /// `cancelled` only take it out of the working lists.
    pub enum CaseStatus ("case status") {
        #[default]
        Open = "open",
        WaitingForDocuments = "waiting_for_documents",
        Complete = "complete",
        Forwarded = "forwarded",
        Done = "done",
        Cancelled = "cancelled",
    }
}

string_enum! {
    /// The result of checking one required document.
    pub enum DocumentState ("document state") {
        #[default]
        Unchecked = "unchecked",
        Presented = "presented",
        Missing = "missing",
        NotApplicable = "not_applicable",
    }
}

string_enum! {
    /// The back office's verdict on a case.
    pub enum ReviewState ("review state") {
        Approved = "approved",
        #[default]
        NeedsClarification = "needs_clarification",
        Rejected = "rejected",
    }
}

/// A case document. `case show` prints exactly this as JSON; `case new` takes
/// it without ids, number and checklists, which are filled in.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Layout version of this document, for migrations.
    #[serde(default = "schema_version")]
    #[autosurgeon(with = "crate::document::int")]
    pub schema_version: u64,
    /// A UUID, stable across devices.
    #[serde(default)]
    pub id: String,
    /// The short number a citizen reads out on the phone, e.g. `KMR-0042`.
    /// Its prefix is that of the device that recorded the case (the server
    /// checks it).
    #[serde(default)]
    pub number: String,
    /// Numbers the case had before: a laptop that recorded visits before it
    /// was enrolled gives them numbers with its enrolled prefix at
    /// enrolment, and a receipt may carry the old one. Search and receipts
    /// still know them.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub former_numbers: Vec<String>,
    #[serde(default)]
    pub status: CaseStatus,
    /// The office hour at which the visit took place.
    #[serde(default)]
    pub office_hour_id: Option<String>,
    /// The department that owns the case; sync scopes devices by it.
    #[serde(default)]
    pub department: Option<String>,
    /// RFC 3339 time of creation.
    #[serde(default)]
    pub created_at: String,
    /// Who recorded the visit.
    #[serde(default)]
    pub created_by: String,
    pub citizen: Citizen,
    #[serde(default)]
    pub requests: Vec<Request>,
    /// Free-text notes, co-edited: concurrent edits of both sides are kept.
    #[serde(default, with = "text_as_string")]
    #[schemars(with = "String")]
    pub notes: Text,
    #[serde(default)]
    pub appointments: Vec<Appointment>,
    #[serde(default)]
    pub review: Option<Review>,
    /// An append-only thread of review comments.
    #[serde(default)]
    pub comments: Vec<Comment>,
    /// RFC 3339 time the case was closed, set to done or cancelled (for the
    /// time from visit to done, and for retention: the period runs from
    /// here); cleared when it is reopened.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub done_at: Option<String>,
    /// Who edits through which automerge actor: actor (hex) → "user (device)".
    /// The change history names people with it, offline, on every device.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub editors: BTreeMap<String, String>,
    /// When the case was corrected without its history (Art. 16 GDPR):
    /// this document replaced one whose history held a wrong value, and
    /// everything before this time was deleted on every device. Written
    /// once, by the document that replaced it.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub history_deleted_at: Option<String>,
}

pub(crate) fn schema_version() -> u64 {
    crate::SCHEMA_VERSION
}

#[derive(
    Debug, Clone, Default, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Citizen {
    pub surname: String,
    #[serde(default)]
    pub given_names: String,
    #[serde(default)]
    pub birth_date: Option<IsoDate>,
    #[serde(default)]
    pub address: Address,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub needs: Needs,
    #[serde(default)]
    pub consent: Consent,
}

#[derive(
    Debug, Clone, Default, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields, default)]
pub struct Address {
    pub street: String,
    pub postcode: String,
    pub town: String,
}

/// Needs of the citizen that change how staff communicate and print. A map
/// of flags rather than a list, so two devices setting different needs merge.
#[derive(
    Debug, Clone, Default, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields, default)]
pub struct Needs {
    pub large_print: bool,
    pub hard_of_hearing: bool,
    pub visually_impaired: bool,
    pub accompanied_by_carer: bool,
    pub wheelchair_access: bool,
    pub interpreter: bool,
}

/// Consent to data processing (GDPR Art. 6/7), with the day it was given.
#[derive(
    Debug, Clone, Default, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields, default)]
pub struct Consent {
    pub given: bool,
    pub date: Option<IsoDate>,
}

/// One request of the citizen, for one service of the catalogue.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[key]
    #[serde(default)]
    pub id: String,
    pub service_id: String,
    /// The service's name when the request was made, so the case still reads
    /// well if a later catalogue drops the service.
    #[serde(default)]
    pub service_name: String,
    /// The checklist of required documents, copied from the catalogue.
    #[serde(default)]
    pub documents: Vec<DocumentCheck>,
    /// The version of the service's checklist copied
    /// (`Service::checklist_version`); empty for requests recorded before
    /// checklists had versions.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[autosurgeon(missing = "Default::default")]
    pub checklist_version: String,
    #[serde(default)]
    pub forwarding: Option<Forwarding>,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentCheck {
    /// The document's id in the catalogue.
    #[key]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub state: DocumentState,
    #[serde(default)]
    pub note: String,
}

/// A request sent on to the responsible office, with the promised deadline.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Forwarding {
    pub office_id: String,
    pub forwarded_at: String,
    pub due: IsoDate,
    /// What the citizen asks the office, in the back office's words (the
    /// e-mail to the office says it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[autosurgeon(missing = "Default::default")]
    pub question: String,
    #[serde(default)]
    pub answer: String,
    #[serde(default)]
    pub closed_at: Option<String>,
    /// What became of the e-mail to the office: written by the sync
    /// server, which sends it, never by a device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[autosurgeon(missing = "Default::default")]
    pub mail: Option<MailStatus>,
}

/// The e-mail of a forwarding, as the server last tried to send it.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailStatus {
    /// The address it went (or is to go) to.
    pub to: String,
    /// RFC 3339 time the mail relay accepted it; `None` while it is not sent.
    #[serde(default)]
    pub sent_at: Option<String>,
    /// The last error, while sending is retried.
    #[serde(default)]
    pub error: Option<String>,
    /// Attempts so far.
    #[serde(default)]
    #[autosurgeon(with = "crate::document::int")]
    pub attempts: u32,
    /// The relay refused it for good (an unknown address): not tried
    /// again; the back office forwards it another way.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub given_up: bool,
}

/// A follow-up appointment booked for the case.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Appointment {
    #[key]
    pub id: String,
    pub date: IsoDate,
    /// `HH:MM`.
    pub time: String,
    pub place: String,
    #[serde(default)]
    pub office_hour_id: Option<String>,
    pub purpose: String,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub state: ReviewState,
    pub by: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    #[key]
    pub id: String,
    pub author: String,
    pub at: String,
    pub text: String,
}

impl DocumentState {
    /// Presented or not applicable: nothing left to do for this document.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            DocumentState::Presented | DocumentState::NotApplicable
        )
    }
}

impl Request {
    /// A new request for `service` with its checklist, every document unchecked.
    pub fn for_service(service: &Service) -> Request {
        Request {
            id: new_id(),
            service_id: service.id.clone(),
            service_name: service.name.de.clone(),
            checklist_version: service.checklist_version(),
            documents: service
                .active_documents()
                .map(|doc| DocumentCheck {
                    id: doc.id.clone(),
                    name: doc.name.de.clone(),
                    state: DocumentState::Unchecked,
                    note: String::new(),
                })
                .collect(),
            forwarding: None,
        }
    }

    pub fn document_mut(&mut self, document_id: &str) -> Option<&mut DocumentCheck> {
        self.documents.iter_mut().find(|d| d.id == document_id)
    }

    /// How `service`'s checklist differs from the one this request was
    /// checked against; empty when it is the same version.
    pub fn checklist_changes(&self, service: &Service) -> Vec<crate::ChecklistChange> {
        use crate::ChecklistChange;
        if !self.checklist_version.is_empty()
            && self.checklist_version == service.checklist_version()
        {
            return Vec::new();
        }
        let mut changes = Vec::new();
        for required in service.active_documents() {
            match self.documents.iter().find(|d| d.id == required.id) {
                None => changes.push(ChecklistChange::Added {
                    name: required.name.de.clone(),
                }),
                Some(listed) if listed.name != required.name.de => {
                    changes.push(ChecklistChange::Reworded {
                        old: listed.name.clone(),
                        new: required.name.de.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        for listed in &self.documents {
            if !service.active_documents().any(|d| d.id == listed.id) {
                changes.push(ChecklistChange::Retired {
                    name: listed.name.clone(),
                });
            }
        }
        changes
    }

    /// Every document presented or not applicable.
    pub fn is_complete(&self) -> bool {
        self.documents.iter().all(|d| d.state.is_settled())
    }
}

impl Case {
    pub fn request_mut(&mut self, request_id: &str) -> Option<&mut Request> {
        self.requests.iter_mut().find(|r| r.id == request_id)
    }

    /// All documents of all requests are presented or not applicable.
    pub fn is_complete(&self) -> bool {
        !self.requests.is_empty() && self.requests.iter().all(Request::is_complete)
    }

    /// Documents marked missing, with the request they belong to.
    pub fn missing_documents(&self) -> impl Iterator<Item = (&Request, &DocumentCheck)> {
        self.documents_in(DocumentState::Missing)
    }

    /// Documents nobody has checked yet.
    pub fn unchecked_documents(&self) -> impl Iterator<Item = (&Request, &DocumentCheck)> {
        self.documents_in(DocumentState::Unchecked)
    }

    fn documents_in(
        &self,
        state: DocumentState,
    ) -> impl Iterator<Item = (&Request, &DocumentCheck)> {
        self.requests.iter().flat_map(move |r| {
            r.documents
                .iter()
                .filter(move |d| d.state == state)
                .map(move |d| (r, d))
        })
    }

    /// Fills in what `case new` leaves to the store: ids, the checklist of
    /// every request from the catalogue (keeping states already given), and
    /// the service names. Fails on a service the catalogue does not know.
    pub fn complete_draft(&mut self, catalog: &Catalog) -> Result<(), crate::CatalogError> {
        if self.id.is_empty() {
            self.id = new_id();
        }
        for request in &mut self.requests {
            let service = catalog
                .service(&request.service_id)
                .ok_or_else(|| crate::CatalogError::UnknownService(request.service_id.clone()))?;
            let mut complete = Request::for_service(service);
            if !request.id.is_empty() {
                complete.id = request.id.clone();
            }
            for given in &request.documents {
                match complete.document_mut(&given.id) {
                    Some(doc) => {
                        doc.state = given.state;
                        doc.note = given.note.clone();
                    }
                    None => {
                        return Err(crate::CatalogError::UnknownDocument {
                            service: service.id.clone(),
                            document: given.id.clone(),
                        });
                    }
                }
            }
            complete.forwarding = request.forwarding.take();
            *request = complete;
        }
        for appointment in &mut self.appointments {
            if appointment.id.is_empty() {
                appointment.id = new_id();
            }
        }
        Ok(())
    }

    /// Makes this hydrated case equal to `desired`, editing the notes by
    /// diff so that concurrent edits of the notes on other devices survive.
    /// For a change of one field by its path (`case set`), where `desired`
    /// is this case with that field changed.
    pub fn assign(&mut self, desired: Case) {
        self.schema_version = desired.schema_version;
        self.id.clone_from(&desired.id);
        self.number.clone_from(&desired.number);
        self.former_numbers.clone_from(&desired.former_numbers);
        self.department.clone_from(&desired.department);
        self.created_at.clone_from(&desired.created_at);
        self.created_by.clone_from(&desired.created_by);
        self.done_at.clone_from(&desired.done_at);
        self.history_deleted_at
            .clone_from(&desired.history_deleted_at);
        self.assign_edits(desired);
    }

    /// Takes what a person edits in the case editor from `desired`: the
    /// citizen, requests with their checks and forwardings, notes,
    /// appointments, status, review and comments. What identifies the case
    /// (id, number, schema version, when and by whom it was recorded), the
    /// department that owns it and the time it was done (the store derives
    /// it from the status) stay as stored, whatever the editor's copy
    /// holds: an editor that never saw them must not clear them.
    pub fn assign_edits(&mut self, desired: Case) {
        let Case {
            schema_version: _,
            id: _,
            number: _,
            former_numbers: _,
            department: _,
            created_at: _,
            created_by: _,
            status,
            office_hour_id,
            citizen,
            requests,
            notes,
            appointments,
            review,
            comments,
            done_at: _,
            editors,
            history_deleted_at: _,
        } = desired;
        self.status = status;
        self.office_hour_id = office_hour_id;
        self.citizen = citizen;
        let mut requests = requests;
        // The mail status of a forwarding is the server's to write: the
        // editor's copy may predate it, or replace the forwarding.
        for request in &mut requests {
            let stored = self
                .requests
                .iter()
                .find(|r| r.id == request.id)
                .and_then(|r| r.forwarding.as_ref())
                .and_then(|f| f.mail.clone());
            if let Some(forwarding) = &mut request.forwarding {
                forwarding.mail = stored;
            }
        }
        self.requests = requests;
        self.notes.update(notes.as_str());
        self.appointments = appointments;
        self.review = review;
        self.comments = comments;
        // Entries are only ever added; one the editor does not know yet
        // (from sync) stays.
        self.editors.extend(editors);
    }

    /// A case with the given citizen and nothing else, for tests and drafts.
    pub fn draft(citizen: Citizen) -> Case {
        Case {
            schema_version: crate::SCHEMA_VERSION,
            id: String::new(),
            number: String::new(),
            former_numbers: Vec::new(),
            status: CaseStatus::Open,
            office_hour_id: None,
            department: None,
            created_at: String::new(),
            created_by: String::new(),
            citizen,
            requests: Vec::new(),
            notes: Text::default(),
            appointments: Vec::new(),
            review: None,
            comments: Vec::new(),
            done_at: None,
            editors: BTreeMap::new(),
            history_deleted_at: None,
        }
    }
}

impl Citizen {
    /// "Surname, Given names" as lists show it.
    pub fn display_name(&self) -> String {
        match (self.surname.trim(), self.given_names.trim()) {
            ("", given) => given.to_string(),
            (surname, "") => surname.to_string(),
            (surname, given) => format!("{surname}, {given}"),
        }
    }
}

/// A fresh random id for documents and list elements.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Collaborative text appears in JSON as a plain string.
mod text_as_string {
    use autosurgeon::Text;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(text: &Text, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(text.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        Ok(Text::with_value(String::deserialize(deserializer)?))
    }
}
