//! Retention: a case is erased once its retention period has passed after
//! it was closed (done or cancelled). The period is the settings' default,
//! or longer where a service of the case has its own (the longest applies).
//! The server runs this daily; `sprechtag-server retention run` runs it
//! now, for a given day, or only lists what it would erase.
//!
//! Office hours are not erased: they hold anonymous figures and ratings
//! only. Cases closed before the app recorded when a cancelled case was
//! closed count from their creation.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use sprechtag_schemas::{CaseStatus, CaseSummary};

use crate::erase::{self, Eraser};
use crate::storage::Storage;
use crate::sync::{DocCache, SyncError};

/// How long closed cases are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Days after closing; 0 keeps cases until they are erased by hand.
    pub default_days: u32,
    /// Service id → days, where a service must be kept longer or shorter.
    pub by_service: BTreeMap<String, u32>,
}

/// A case whose period has passed, as `retention run` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expired {
    pub doc_id: String,
    pub number: String,
    pub status: CaseStatus,
    /// When it was closed (RFC 3339), or created where that is unknown.
    pub closed_at: String,
    pub retention_days: u32,
    /// The first day it may be erased.
    pub expired_on: NaiveDate,
    /// Erased now (false in a dry run).
    pub erased: bool,
}

impl Policy {
    /// The days a case is kept after closing; `None`: kept for good.
    fn days_for(&self, case: &CaseSummary) -> Option<u32> {
        let days = case
            .requests
            .iter()
            .map(|r| {
                self.by_service
                    .get(&r.service_id)
                    .copied()
                    .unwrap_or(self.default_days)
            })
            .max()
            .unwrap_or(self.default_days);
        (days > 0).then_some(days)
    }

    /// The case, if its period has passed on `as_of`.
    pub fn expired(&self, doc_id: &str, case: &CaseSummary, as_of: NaiveDate) -> Option<Expired> {
        if !matches!(case.status, CaseStatus::Done | CaseStatus::Cancelled) {
            return None;
        }
        let days = self.days_for(case)?;
        let closed_at = case
            .done_at
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| case.created_at.clone());
        let closed_on = chrono::DateTime::parse_from_rfc3339(&closed_at)
            .ok()?
            .date_naive();
        let expired_on = closed_on.checked_add_days(chrono::Days::new(u64::from(days)))?;
        (expired_on <= as_of).then(|| Expired {
            doc_id: doc_id.to_string(),
            number: case.number.clone(),
            status: case.status,
            closed_at,
            retention_days: days,
            expired_on,
            erased: false,
        })
    }
}

/// Finds the cases expired on `as_of` and, unless `dry_run`, erases them
/// (each through the same path as an erasure on request, in one
/// transaction, then the log emptied).
pub fn run(
    storage: &dyn Storage,
    cache: &DocCache,
    policy: &Policy,
    as_of: NaiveDate,
    dry_run: bool,
) -> Result<Vec<Expired>, SyncError> {
    let mut expired: Vec<Expired> = storage
        .case_summaries()?
        .iter()
        .filter_map(|(id, bytes)| policy.expired(id, &CaseSummary::decode(bytes)?, as_of))
        .collect();
    if dry_run || expired.is_empty() {
        return Ok(expired);
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut tx = storage.begin()?;
    for case in &mut expired {
        let reason = format!(
            "Aufbewahrungsfrist abgelaufen ({} Tage nach Abschluss)",
            case.retention_days
        );
        case.erased = erase::erase(
            tx.as_mut(),
            cache,
            Eraser::Retention,
            &case.doc_id,
            &reason,
            &now,
            None,
        )?
        .is_ok();
    }
    tx.commit()?;
    storage.purge()?;
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sprechtag_schemas::RequestSummary;

    fn case(status: CaseStatus, done_at: Option<&str>, services: &[&str]) -> CaseSummary {
        CaseSummary {
            number: "KMR-0001".into(),
            status,
            created_at: "2025-01-10T09:00:00Z".into(),
            done_at: done_at.map(str::to_string),
            requests: services
                .iter()
                .map(|s| RequestSummary {
                    id: (*s).into(),
                    service_id: (*s).into(),
                    service_name: (*s).into(),
                    documents: Vec::new(),
                    forwarding: None,
                })
                .collect(),
            ..CaseSummary::default()
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    #[test]
    fn a_closed_case_expires_on_the_day_its_period_ends_and_not_before() {
        let policy = Policy {
            default_days: 365,
            by_service: BTreeMap::from([("hundesteuer".into(), 3650), ("kurz".into(), 30)]),
        };
        let done = case(
            CaseStatus::Done,
            Some("2025-03-01T15:00:00Z"),
            &["personalausweis"],
        );
        assert!(policy.expired("d", &done, day("2026-02-28")).is_none());
        let expired = policy
            .expired("d", &done, day("2026-03-01"))
            .expect("expired");
        assert_eq!(expired.expired_on, day("2026-03-01"));
        assert_eq!(expired.retention_days, 365);

        // The longest period of the case's services applies.
        let dog = case(
            CaseStatus::Done,
            Some("2025-03-01T15:00:00Z"),
            &["kurz", "hundesteuer"],
        );
        assert!(policy.expired("d", &dog, day("2034-01-01")).is_none());
        assert!(policy.expired("d", &dog, day("2035-02-27")).is_some());

        // Open cases never expire; cancelled ones without a closing time
        // count from their creation.
        let open = case(CaseStatus::Open, None, &[]);
        assert!(policy.expired("d", &open, day("2099-01-01")).is_none());
        let cancelled = case(CaseStatus::Cancelled, None, &[]);
        assert_eq!(
            policy
                .expired("d", &cancelled, day("2026-01-10"))
                .map(|e| e.closed_at),
            Some("2025-01-10T09:00:00Z".to_string())
        );

        // A period of 0 keeps cases until they are erased by hand.
        let keep = Policy {
            default_days: 0,
            by_service: BTreeMap::new(),
        };
        assert!(keep.expired("d", &done, day("2099-01-01")).is_none());
    }
}
