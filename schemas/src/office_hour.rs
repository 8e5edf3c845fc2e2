//! An office hour ("Sprechtag"): a caseworker's session at a place on a day.
//! One automerge document per office hour; its visitors are the cases that
//! point to it.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::IsoDate;
use crate::string_enum::string_enum;

string_enum! {
    /// `planned` office hours come from the back office's tour plan; a
    /// caseworker opens one on the day and closes it at the end.
    pub enum OfficeHourStatus ("office hour status") {
        Planned = "planned",
        #[default]
        Open = "open",
        Closed = "closed",
    }
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficeHour {
    #[autosurgeon(with = "crate::document::int")]
    pub schema_version: u64,
    pub id: String,
    /// The village or town, e.g. "Kleinbrück".
    pub village: String,
    /// The venue, e.g. "Dorfgemeinschaftshaus, Raum 2".
    pub venue: String,
    pub date: IsoDate,
    /// `HH:MM`, when planned.
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    pub caseworker: String,
    #[serde(default)]
    pub department: Option<String>,
    pub status: OfficeHourStatus,
    #[serde(default)]
    pub closed_at: Option<String>,
    /// Taken when the office hour closes, so the record of the day stays as
    /// it was even when its cases change later.
    #[serde(default)]
    pub summary: Option<OfficeHourSummary>,
    /// Anonymous ratings of citizens, by a random key: a map, not a list, so
    /// that not even their order says who gave which. Never linked to a case.
    #[serde(default)]
    #[autosurgeon(missing = "Default::default")]
    pub ratings: BTreeMap<String, Rating>,
}

/// The three questions of the satisfaction survey, answered with school
/// grades 1 ("sehr gut") to 6 ("ungenügend"); `None`: not answered.
#[derive(
    Debug, Clone, Default, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    /// Advice today.
    #[autosurgeon(with = "crate::document::int::optional")]
    pub advice: Option<u8>,
    /// How understandable the answers were.
    #[autosurgeon(with = "crate::document::int::optional")]
    pub clarity: Option<u8>,
    /// Place and accessibility of the office hour.
    #[autosurgeon(with = "crate::document::int::optional")]
    pub place: Option<u8>,
}

impl Rating {
    pub fn grades(&self) -> [Option<u8>; 3] {
        [self.advice, self.clarity, self.place]
    }

    /// Every answer a grade from 1 to 6, and at least one answer.
    pub fn is_valid(&self) -> bool {
        let grades = self.grades();
        grades.iter().any(Option::is_some) && grades.iter().flatten().all(|g| (1..=6).contains(g))
    }
}

/// The figures of a closed office hour.
#[derive(
    Debug, Clone, Default, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct OfficeHourSummary {
    #[autosurgeon(with = "crate::document::int")]
    pub visitors: u64,
    /// Requests recorded, and of them those whose documents were complete
    /// when the office hour closed (complete at the first visit).
    #[serde(default)]
    #[autosurgeon(missing = "Default::default", with = "crate::document::int")]
    pub requests: u64,
    #[serde(default)]
    #[autosurgeon(missing = "Default::default", with = "crate::document::int")]
    pub complete_requests: u64,
    pub requests_by_service: Vec<ServiceCount>,
    /// Case numbers of cases whose documents are not complete.
    pub incomplete_cases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceCount {
    #[key]
    pub service_id: String,
    pub service_name: String,
    #[autosurgeon(with = "crate::document::int")]
    pub count: u64,
}

impl OfficeHour {
    /// "Kleinbrück, Dorfgemeinschaftshaus" as lists show it.
    pub fn place(&self) -> String {
        if self.venue.trim().is_empty() {
            self.village.clone()
        } else {
            format!("{}, {}", self.village, self.venue)
        }
    }
}
