//! Office hours in the store: open, list, summarise and close.

use rusqlite::{Transaction, TransactionBehavior, params};
use rust_i18n::t;
use serde::Serialize;
use sprechtag_schemas::document::{self, DocumentKind};
use sprechtag_schemas::permissions::Part;
use sprechtag_schemas::{
    IsoDate, OfficeHour, OfficeHourStatus, OfficeHourSummary, Rating, ServiceCount, new_id,
};

use super::{Result, Store, StoreError, documents, now_rfc3339};

/// Ratings of an office hour held back on the device before they go into
/// its document together (`Store::add_rating`).
const RATING_BATCH: i64 = 5;

/// What the caseworker enters to open an office hour.
#[derive(Debug, Clone)]
pub struct NewOfficeHour {
    pub village: String,
    pub venue: String,
    pub date: IsoDate,
    pub caseworker: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfficeHourRow {
    pub id: String,
    pub village: String,
    pub venue: String,
    pub date: String,
    pub caseworker: String,
    pub status: OfficeHourStatus,
    pub visitors: i64,
    /// "09:00–12:00" for planned office hours.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
}

impl OfficeHourRow {
    pub fn label(&self) -> String {
        let date = self
            .date
            .parse::<IsoDate>()
            .map(IsoDate::to_german)
            .unwrap_or_else(|_| self.date.clone());
        format!("{date} · {}", self.village)
    }
}

impl Store {
    /// Opens an office hour today or on `new.date`, for visits at once.
    pub fn open_office_hour(&mut self, new: NewOfficeHour) -> Result<OfficeHour> {
        self.create_office_hour(new, OfficeHourStatus::Open, None)
    }

    /// Plans an office hour of the back office's tour, from `start` to `end`
    /// (HH:MM); it reaches the caseworkers' laptops by sync, who book
    /// follow-ups into it and open it on the day (`begin_office_hour`).
    pub fn plan_office_hour(
        &mut self,
        new: NewOfficeHour,
        start: &str,
        end: &str,
    ) -> Result<OfficeHour> {
        self.require(Part::Plan)?;
        let start = super::appointments::parse_time(start)?;
        let end = super::appointments::parse_time(end)?;
        if end <= start {
            return Err(StoreError::Invalid(
                t!("store.ends_before_start", start = start, end = end).into_owned(),
            ));
        }
        if new.date < IsoDate::today() {
            return Err(StoreError::Invalid(
                t!("store.plan_past", date = new.date).into_owned(),
            ));
        }
        self.create_office_hour(new, OfficeHourStatus::Planned, Some((start, end)))
    }

    /// A planned office hour opens for visits on its day.
    pub fn begin_office_hour(&mut self, id: &str) -> Result<OfficeHour> {
        self.update_office_hour(id, "begin office hour", |office_hour| {
            if office_hour.status == OfficeHourStatus::Closed {
                return Err(StoreError::Invalid(
                    t!("store.office_hour_closed").into_owned(),
                ));
            }
            office_hour.status = OfficeHourStatus::Open;
            Ok(())
        })
    }

    fn create_office_hour(
        &mut self,
        new: NewOfficeHour,
        status: OfficeHourStatus,
        times: Option<(String, String)>,
    ) -> Result<OfficeHour> {
        for (value, missing) in [
            (&new.village, t!("office_hours.village_missing")),
            (&new.caseworker, t!("office_hours.caseworker_missing")),
        ] {
            if value.trim().is_empty() {
                return Err(StoreError::Invalid(missing.into_owned()));
            }
        }
        let (start_time, end_time) = times.unzip();
        let office_hour = OfficeHour {
            schema_version: sprechtag_schemas::SCHEMA_VERSION,
            id: new_id(),
            village: new.village.trim().to_string(),
            venue: new.venue.trim().to_string(),
            date: new.date,
            start_time,
            end_time,
            caseworker: new.caseworker.trim().to_string(),
            department: self.department()?,
            status,
            closed_at: None,
            summary: None,
            ratings: Default::default(),
        };
        let message = match status {
            OfficeHourStatus::Planned => "plan office hour",
            _ => "open office hour",
        };
        let mut doc = document::create(self.device.actor(), &office_hour, message)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        documents::insert(&tx, &office_hour.id, DocumentKind::OfficeHour, &mut doc)?;
        index_office_hour(&tx, &office_hour)?;
        tx.commit()?;
        self.remember(&office_hour.id, doc, 1);
        Ok(office_hour)
    }

    pub fn office_hour(&mut self, id: &str) -> Result<OfficeHour> {
        let doc = self.read_doc(id, DocumentKind::OfficeHour)?;
        Ok(document::read(&doc)?)
    }

    /// All office hours, the latest first, with their number of visitors.
    pub fn office_hours(&self) -> Result<Vec<OfficeHourRow>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT o.id, o.village, o.venue, o.date, o.caseworker, o.status,
                    (SELECT count(*) FROM cases c WHERE c.office_hour_id = o.id),
                    o.start_time, o.end_time
             FROM office_hours o ORDER BY o.date DESC, o.rowid DESC",
        )?;
        let rows = statement
            .query_map([], |r| {
                let status: String = r.get(5)?;
                Ok(OfficeHourRow {
                    id: r.get(0)?,
                    village: r.get(1)?,
                    venue: r.get(2)?,
                    date: r.get(3)?,
                    caseworker: r.get(4)?,
                    status: status.parse().unwrap_or(OfficeHourStatus::Open),
                    visitors: r.get(6)?,
                    start_time: r.get(7)?,
                    end_time: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Visitors, requests by service and incomplete cases, from the index.
    pub fn office_hour_summary(&self, id: &str) -> Result<OfficeHourSummary> {
        let visitors: i64 = self.conn.query_row(
            "SELECT count(*) FROM cases WHERE office_hour_id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let mut by_service = self.conn.prepare_cached(
            "SELECT s.service_id, count(*) FROM case_services s
             JOIN cases c ON c.rowid = s.case_rowid
             WHERE c.office_hour_id = ?1
             GROUP BY s.service_id ORDER BY count(*) DESC, s.service_id",
        )?;
        let requests_by_service = by_service
            .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(|(service_id, count)| ServiceCount {
                service_name: self
                    .catalog
                    .service(&service_id)
                    .map(|s| s.name.de.clone())
                    .unwrap_or_else(|| service_id.clone()),
                service_id,
                count: u64::try_from(count).unwrap_or(0),
            })
            .collect();
        let mut incomplete = self.conn.prepare_cached(
            "SELECT number FROM cases WHERE office_hour_id = ?1 AND complete = 0
             AND status NOT IN ('cancelled', 'done') ORDER BY number",
        )?;
        let incomplete_cases = incomplete
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        let (requests, complete_requests): (i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT coalesce(sum(requests), 0), coalesce(sum(complete_requests), 0)
                 FROM cases WHERE office_hour_id = ?1 AND status != 'cancelled'",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(OfficeHourSummary {
            visitors: u64::try_from(visitors).unwrap_or(0),
            requests: u64::try_from(requests).unwrap_or(0),
            complete_requests: u64::try_from(complete_requests).unwrap_or(0),
            requests_by_service,
            incomplete_cases,
        })
    }

    /// Closes the office hour and records its summary as of now.
    pub fn close_office_hour(&mut self, id: &str) -> Result<OfficeHour> {
        // Held-back ratings go in before the office hour closes.
        self.flush_ratings(id)?;
        let summary = self.office_hour_summary(id)?;
        self.update_office_hour(id, "close office hour", |office_hour| {
            office_hour.status = OfficeHourStatus::Closed;
            office_hour.closed_at = Some(now_rfc3339());
            office_hour.summary = Some(summary);
            Ok(())
        })
    }

    /// Records one citizen's anonymous rating of the office hour. It is
    /// held back on this device until `RATING_BATCH` ratings of the office
    /// hour have come together (or it closes), then they go into its
    /// document in one change, shuffled, without time: neither the
    /// document's history nor the moment of an upload ties a rating to a
    /// visit. The statistics on this device count it at once.
    pub fn add_rating(&mut self, office_hour_id: &str, rating: Rating) -> Result<OfficeHour> {
        if !rating.is_valid() {
            return Err(StoreError::Invalid(t!("store.rating_invalid").into_owned()));
        }
        let office_hour = self.office_hour(office_hour_id)?;
        let json =
            serde_json::to_string(&rating).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.conn
            .prepare_cached("INSERT INTO pending_ratings (office_hour_id, rating) VALUES (?1, ?2)")?
            .execute(params![office_hour.id, json])?;
        let waiting: i64 = self.conn.query_row(
            "SELECT count(*) FROM pending_ratings WHERE office_hour_id = ?1",
            [&office_hour.id],
            |r| r.get(0),
        )?;
        if waiting >= RATING_BATCH {
            return self.flush_ratings(&office_hour.id);
        }
        Ok(office_hour)
    }

    /// Moves the held-back ratings of the office hour into its document, in
    /// random order, in one change with the deletion of what was held.
    pub fn flush_ratings(&mut self, office_hour_id: &str) -> Result<OfficeHour> {
        use rand::seq::SliceRandom;
        let held: Vec<(i64, String)> = self
            .conn
            .prepare_cached("SELECT id, rating FROM pending_ratings WHERE office_hour_id = ?1")?
            .query_map([office_hour_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if held.is_empty() {
            return self.office_hour(office_hour_id);
        }
        let mut ratings: Vec<Rating> = held
            .iter()
            .filter_map(|(_, json)| serde_json::from_str(json).ok())
            .collect();
        ratings.shuffle(&mut rand::rng());
        let ids: Vec<i64> = held.iter().map(|(id, _)| *id).collect();
        self.edit_office_hour_and(
            office_hour_id,
            "rating",
            true,
            |office_hour| {
                for rating in ratings {
                    office_hour.ratings.insert(new_id(), rating);
                }
                Ok(())
            },
            |tx| {
                for id in &ids {
                    tx.prepare_cached("DELETE FROM pending_ratings WHERE id = ?1")?
                        .execute([id])?;
                }
                Ok(())
            },
        )
    }

    /// Several ratings in one change (demo data, a form filled in on paper).
    pub fn add_ratings(
        &mut self,
        office_hour_id: &str,
        ratings: Vec<Rating>,
    ) -> Result<OfficeHour> {
        if ratings.iter().any(|r| !r.is_valid()) {
            return Err(StoreError::Invalid(t!("store.rating_invalid").into_owned()));
        }
        self.edit_office_hour(office_hour_id, "rating", true, |office_hour| {
            for rating in ratings {
                office_hour.ratings.insert(new_id(), rating);
            }
            Ok(())
        })
    }

    /// Applies `edit` to the office hour and stores what changed, durably.
    pub fn update_office_hour(
        &mut self,
        id: &str,
        message: &str,
        edit: impl FnOnce(&mut OfficeHour) -> Result<()>,
    ) -> Result<OfficeHour> {
        self.edit_office_hour(id, message, false, edit)
    }

    fn edit_office_hour(
        &mut self,
        id: &str,
        message: &str,
        untimed: bool,
        edit: impl FnOnce(&mut OfficeHour) -> Result<()>,
    ) -> Result<OfficeHour> {
        self.edit_office_hour_and(id, message, untimed, edit, |_| Ok(()))
    }

    /// As `edit_office_hour`, with `also` written in the same transaction.
    fn edit_office_hour_and(
        &mut self,
        id: &str,
        message: &str,
        untimed: bool,
        edit: impl FnOnce(&mut OfficeHour) -> Result<()>,
        also: impl FnOnce(&Transaction<'_>) -> Result<()>,
    ) -> Result<OfficeHour> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut loaded = documents::load_for_edit(
            &tx,
            id,
            DocumentKind::OfficeHour,
            self.cache.get(id),
            self.device.actor(),
        )?;
        let update = if untimed {
            document::update_untimed::<OfficeHour, StoreError>
        } else {
            document::update::<OfficeHour, StoreError>
        };
        let (office_hour, changed) = update(&mut loaded.doc, message, edit)??;
        if changed {
            loaded.save(&tx, id)?;
            index_office_hour(&tx, &office_hour)?;
        }
        also(&tx)?;
        let committed = tx.commit();
        self.finish_edit(id, committed, loaded)?;
        Ok(office_hour)
    }
}

pub(super) fn index_office_hour(tx: &Transaction<'_>, office_hour: &OfficeHour) -> Result<()> {
    // Sum and count of the grades given to each question.
    let mut sums = [(0_u64, 0_u64); 3];
    for rating in office_hour.ratings.values() {
        for (sum, grade) in sums.iter_mut().zip(rating.grades()) {
            if let Some(grade) = grade {
                sum.0 += u64::from(grade);
                sum.1 += 1;
            }
        }
    }
    tx.prepare_cached(
        "INSERT INTO office_hours (id, village, venue, date, caseworker, department, status,
                                   ratings, advice_sum, advice_n, clarity_sum, clarity_n,
                                   place_sum, place_n, summary_requests,
                                   summary_complete_requests, start_time, end_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18)
         ON CONFLICT (id) DO UPDATE SET village = excluded.village, venue = excluded.venue,
            date = excluded.date, caseworker = excluded.caseworker,
            department = excluded.department, status = excluded.status,
            ratings = excluded.ratings, advice_sum = excluded.advice_sum,
            advice_n = excluded.advice_n, clarity_sum = excluded.clarity_sum,
            clarity_n = excluded.clarity_n, place_sum = excluded.place_sum,
            place_n = excluded.place_n, summary_requests = excluded.summary_requests,
            summary_complete_requests = excluded.summary_complete_requests,
            start_time = excluded.start_time, end_time = excluded.end_time",
    )?
    .execute(params![
        office_hour.id,
        office_hour.village,
        office_hour.venue,
        office_hour.date.to_string(),
        office_hour.caseworker,
        office_hour.department,
        office_hour.status.as_str(),
        office_hour.ratings.len(),
        sums[0].0,
        sums[0].1,
        sums[1].0,
        sums[1].1,
        sums[2].0,
        sums[2].1,
        office_hour.summary.as_ref().map(|s| s.requests),
        office_hour.summary.as_ref().map(|s| s.complete_requests),
        office_hour.start_time,
        office_hour.end_time,
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sprechtag_schemas::Rating;
    use sprechtag_schemas::document::DocumentKind;

    use crate::store::{NewOfficeHour, Store};

    /// Ratings wait on the device until five have come together; then one
    /// change without time brings them all, keyed by random ids: neither
    /// the history nor the moment of the upload ties a rating to a visit.
    #[test]
    fn ratings_go_into_the_document_five_at_a_time_in_a_change_without_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = Arc::new(crate::catalog::shipped().expect("catalogue"));
        let mut store =
            Store::create(dir.path(), "Leuchtturm-Fischbrötchen-7", catalog).expect("store");
        let office_hour = store
            .open_office_hour(NewOfficeHour {
                village: "Kleinbrück".into(),
                venue: "DGH".into(),
                date: "2026-11-20".parse().expect("date"),
                caseworker: "Anna Schäfer".into(),
            })
            .expect("office hour");
        let rating = Rating {
            advice: Some(1),
            clarity: None,
            place: Some(2),
        };
        for held in 1..=4 {
            let now = store
                .add_rating(&office_hour.id, rating.clone())
                .expect("rating");
            assert!(now.ratings.is_empty(), "held back: {held}");
        }
        let now = store
            .add_rating(&office_hour.id, rating.clone())
            .expect("the fifth rating");
        assert_eq!(now.ratings.len(), 5);
        let mut doc = store
            .read_doc(&office_hour.id, DocumentKind::OfficeHour)
            .expect("document");
        let changes = doc.get_changes(&[]);
        let opened = changes.first().expect("the opening change");
        let rated = changes.last().expect("the rating change");
        assert!(opened.timestamp() > 0, "ordinary changes carry their time");
        assert_eq!(rated.message(), Some("rating"));
        assert_eq!(rated.timestamp(), 0);
        assert_eq!(changes.len(), 2, "all five in one change");
    }
}
