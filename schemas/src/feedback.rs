//! Ideas, praise and complaints (Ideen- und Beschwerdemanagement): one
//! document each, owned by a department like a case, anonymous or linked
//! to a case. Caseworkers record them; the back office forwards them to the
//! responsible office with a deadline, like a request, and closes them with
//! the answer given.

use autosurgeon::{Hydrate, Reconcile};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::case::Forwarding;
use crate::string_enum::string_enum;

string_enum! {
    /// What the citizen brings forward.
    pub enum FeedbackKind ("feedback kind") {
        #[default]
        Idea = "idea",
        Praise = "praise",
        Complaint = "complaint",
    }
}

string_enum! {
    /// What it is about: the categories statistics count by.
    pub enum FeedbackCategory ("feedback category") {
        #[default]
        Waiting = "waiting",
        Staff = "staff",
        Documents = "documents",
        Access = "access",
        Schedule = "schedule",
        Other = "other",
    }
}

impl FeedbackKind {
    /// Its German name.
    pub fn label_de(self) -> &'static str {
        match self {
            FeedbackKind::Idea => "Idee",
            FeedbackKind::Praise => "Lob",
            FeedbackKind::Complaint => "Beschwerde",
        }
    }
}

impl FeedbackCategory {
    /// Its German name.
    pub fn label_de(self) -> &'static str {
        match self {
            FeedbackCategory::Waiting => "Wartezeit",
            FeedbackCategory::Staff => "Beratung und Freundlichkeit",
            FeedbackCategory::Documents => "Unterlagen und Formulare",
            FeedbackCategory::Access => "Räume und Barrierefreiheit",
            FeedbackCategory::Schedule => "Termine und Erreichbarkeit",
            FeedbackCategory::Other => "Sonstiges",
        }
    }
}

/// One idea, praise or complaint.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    #[serde(default = "crate::case::schema_version")]
    #[autosurgeon(with = "crate::document::int")]
    pub schema_version: u64,
    #[serde(default)]
    pub id: String,
    /// The department that handles it; sync scopes devices by it.
    #[serde(default)]
    pub department: Option<String>,
    /// RFC 3339 time it was recorded, and by whom (staff, not the citizen).
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub created_by: String,
    pub kind: FeedbackKind,
    pub category: FeedbackCategory,
    /// What the citizen said, in their words.
    pub text: String,
    /// The case it concerns; `None`: anonymous.
    #[serde(default)]
    pub case_id: Option<String>,
    /// Sent on to the responsible office with a deadline.
    #[serde(default)]
    pub forwarding: Option<Forwarding>,
    /// The answer given to the citizen; set when it is closed.
    #[serde(default)]
    pub answer: String,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub closed_by: Option<String>,
}

impl Feedback {
    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }

    /// The month it was recorded, `YYYY-MM`.
    pub fn month(&self) -> &str {
        self.created_at.get(..7).unwrap_or("")
    }
}
