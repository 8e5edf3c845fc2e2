//! Figures for the council committee, from the index alone: visitors per
//! office hour and village, requests by service, requests complete at the
//! first visit, days from visit to done, and the survey's averages.

use std::io::Write;

use serde::Serialize;

use super::{Result, Store};

/// The survey's questions, in the order of [`sprechtag_schemas::Rating::grades`].
pub const QUESTIONS: usize = 3;
/// No average of fewer grades is shown: with fewer, a grade could be traced
/// back to one citizen.
pub const MIN_RATINGS: u64 = 5;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Statistics {
    /// Newest first.
    pub office_hours: Vec<OfficeHourFigures>,
    /// Visitors per village, most first.
    pub villages: Vec<Count>,
    /// Requests per service, most first.
    pub services: Vec<Count>,
    /// Of the requests recorded at closed office hours, the share whose
    /// documents were complete when the office hour closed.
    pub complete_at_first_visit: Option<f64>,
    /// Days from the visit to `done`: median, over `done_cases`.
    pub days_to_done_median: Option<f64>,
    pub done_cases: u64,
    /// Average grade per question over all ratings (1 best, 6 worst);
    /// `None` below `MIN_RATINGS` answers. There are no averages per office
    /// hour: they would grade its caseworker.
    pub rating_averages: [Option<f64>; QUESTIONS],
    pub ratings: u64,
    /// Ideas, praise and complaints by month and category.
    pub feedback: Vec<super::feedback::FeedbackCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfficeHourFigures {
    pub id: String,
    pub date: String,
    pub village: String,
    pub visitors: u64,
    /// Requests and those complete at closing; `None` while open.
    pub requests: Option<u64>,
    pub complete_requests: Option<u64>,
    /// How many rated it (no grades: they would grade its caseworker).
    pub ratings: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub label: String,
    pub count: u64,
}

impl Store {
    pub fn statistics(&self) -> Result<Statistics> {
        let mut statement = self.conn.prepare(
            "SELECT o.id, o.date, o.village,
                    (SELECT count(*) FROM cases c WHERE c.office_hour_id = o.id),
                    o.summary_requests, o.summary_complete_requests,
                    o.ratings + (SELECT count(*) FROM pending_ratings p
                                 WHERE p.office_hour_id = o.id)
             FROM office_hours o ORDER BY o.date DESC, o.id",
        )?;
        let office_hours = statement
            .query_map([], |r| {
                Ok(OfficeHourFigures {
                    id: r.get(0)?,
                    date: r.get(1)?,
                    village: r.get(2)?,
                    visitors: r.get(3)?,
                    requests: r.get(4)?,
                    complete_requests: r.get(5)?,
                    ratings: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let (mut ratings, mut totals) = self.conn.query_row(
            "SELECT coalesce(sum(ratings), 0), coalesce(sum(advice_sum), 0),
                    coalesce(sum(advice_n), 0), coalesce(sum(clarity_sum), 0),
                    coalesce(sum(clarity_n), 0), coalesce(sum(place_sum), 0),
                    coalesce(sum(place_n), 0)
             FROM office_hours",
            [],
            |r| Ok((r.get::<_, u64>(0)?, grade_sums(r, 1)?)),
        )?;
        // Ratings held back on this device count here at once.
        let held: Vec<String> = self
            .conn
            .prepare("SELECT rating FROM pending_ratings")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for rating in held
            .iter()
            .filter_map(|json| serde_json::from_str::<sprechtag_schemas::Rating>(json).ok())
        {
            ratings += 1;
            for ((sum, n), grade) in totals.iter_mut().zip(rating.grades()) {
                if let Some(grade) = grade {
                    *sum += u64::from(grade);
                    *n += 1;
                }
            }
        }

        let villages = self.counts(
            "SELECT o.village, count(*) FROM cases c JOIN office_hours o ON o.id = c.office_hour_id
             WHERE c.status != 'cancelled' GROUP BY o.village ORDER BY count(*) DESC, o.village",
        )?;
        let services = self
            .counts(
                "SELECT s.service_id, count(*) FROM case_services s
                 JOIN cases c ON c.rowid = s.case_rowid WHERE c.status != 'cancelled'
                 GROUP BY s.service_id ORDER BY count(*) DESC, s.service_id",
            )?
            .into_iter()
            .map(|c| Count {
                label: self
                    .catalog
                    .service(&c.label)
                    .map_or(c.label.clone(), |s| s.name.de.clone()),
                count: c.count,
            })
            .collect();
        let (requests, complete): (u64, u64) = office_hours
            .iter()
            .filter_map(|o| Some((o.requests?, o.complete_requests?)))
            .fold((0, 0), |(r, c), (r2, c2)| (r + r2, c + c2));
        let mut days: Vec<f64> = self
            .conn
            .prepare(
                "SELECT julianday(done_at) - julianday(created_at) FROM cases
                 WHERE status = 'done' AND done_at IS NOT NULL AND created_at != ''",
            )?
            .query_map([], |r| r.get::<_, Option<f64>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            // Done before it was recorded: clocks that disagreed (before
            // laptops corrected theirs by the server's). Not negative.
            .map(|d| d.max(0.0))
            .collect();
        days.sort_by(f64::total_cmp);
        Ok(Statistics {
            office_hours,
            villages,
            services,
            complete_at_first_visit: (requests > 0).then(|| ratio(complete, requests)),
            days_to_done_median: median(&days),
            done_cases: days.len() as u64,
            rating_averages: totals.map(average),
            ratings,
            feedback: self.feedback_counts()?,
        })
    }

    /// The committee's table: one row per office hour (UTF-8 CSV), without
    /// grades or caseworkers: the overall grades are in `statistics`.
    pub fn export_statistics_csv(&self, out: impl Write) -> Result<usize> {
        let statistics = self.statistics()?;
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record([
            "Datum",
            "Ort",
            "Besucher",
            "Anliegen",
            "Davon vollständig beim ersten Besuch",
            "Bewertungen",
        ])?;
        let number = |value: Option<u64>| value.map(|v| v.to_string()).unwrap_or_default();
        for o in &statistics.office_hours {
            writer.write_record([
                o.date.clone(),
                o.village.clone(),
                o.visitors.to_string(),
                number(o.requests),
                number(o.complete_requests),
                o.ratings.to_string(),
            ])?;
        }
        writer.flush().map_err(csv::Error::from)?;
        Ok(statistics.office_hours.len())
    }

    fn counts(&self, sql: &str) -> Result<Vec<Count>> {
        Ok(self
            .conn
            .prepare(sql)?
            .query_map([], |r| {
                Ok(Count {
                    label: r.get(0)?,
                    count: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// (sum, count) of the grades of each question, from `first` on:
/// advice, clarity, place.
fn grade_sums(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<[(u64, u64); QUESTIONS]> {
    Ok([
        (row.get(first)?, row.get(first + 1)?),
        (row.get(first + 2)?, row.get(first + 3)?),
        (row.get(first + 4)?, row.get(first + 5)?),
    ])
}

fn average((sum, n): (u64, u64)) -> Option<f64> {
    (n >= MIN_RATINGS).then(|| ratio(sum, n))
}

#[allow(clippy::cast_precision_loss)]
fn ratio(part: u64, whole: u64) -> f64 {
    part as f64 / whole as f64
}

fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(super::median(&[]), None);
        assert_eq!(super::median(&[1.0, 2.0, 9.0]), Some(2.0));
        assert_eq!(super::median(&[1.0, 2.0, 4.0, 9.0]), Some(3.0));
    }
}
