//! The domain model of Sprechtag, shared by the desktop app and the sync server.
//!
//! Cases and office hours are automerge documents: each type here maps to a
//! document (or a part of one) through autosurgeon's `Reconcile`/`Hydrate`,
//! and to JSON through serde for the CLI and for the JSON Schemas checked in
//! under `schemas/json/`. Every element of a list carries a stable id (`#[key]`)
//! so that concurrent inserts keep their identity when documents merge.

mod case;
mod case_summary;
mod catalog;
#[cfg(feature = "cli-docs")]
pub mod cli_docs;
mod date;
pub mod document;
mod feedback;
#[doc(hidden)]
pub mod fuzz;
pub mod integrity;
pub mod key_file;
pub mod knowledge;
mod office_hour;
pub mod permissions;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod string_enum;
pub mod trust;
pub mod wire;

pub use case::{
    Address, Appointment, Case, CaseStatus, Citizen, Comment, Consent, DocumentCheck,
    DocumentState, Forwarding, MailStatus, Needs, Request, Review, ReviewState, new_id,
};
pub use case_summary::{
    CaseSummary, CheckState, NameAndTown, RequestSummary, ReviewSummary, SUMMARY_VERSION, Town,
};
pub use catalog::{
    Catalog, CatalogError, ChecklistChange, Localized, Office, RequiredDocument, Service,
    checklist_hash, normalize_for_search,
};
pub use date::{DateError, IsoDate, clock};
pub use feedback::{Feedback, FeedbackCategory, FeedbackKind};
pub use knowledge::{Answer, AnswerStatus, CatalogDocument};
pub use office_hour::{OfficeHour, OfficeHourStatus, OfficeHourSummary, Rating, ServiceCount};
pub use permissions::Role;
pub use string_enum::UnknownValue;

/// The version of the document layout written by this build. Stored in every
/// document so that a later build can migrate documents written by this one.
pub const SCHEMA_VERSION: u64 = 1;

/// The JSON Schemas of the public JSON shapes, by file name under `schemas/json/`.
pub fn json_schemas() -> Vec<(&'static str, String)> {
    fn pretty(schema: schemars::Schema) -> String {
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    }
    vec![
        ("case.schema.json", pretty(schemars::schema_for!(Case))),
        (
            "office-hour.schema.json",
            pretty(schemars::schema_for!(OfficeHour)),
        ),
        (
            "catalog.schema.json",
            pretty(schemars::schema_for!(Catalog)),
        ),
        ("answer.schema.json", pretty(schemars::schema_for!(Answer))),
        (
            "feedback.schema.json",
            pretty(schemars::schema_for!(Feedback)),
        ),
    ]
}
