//! Quieter slots for a follow-up appointment: the booking form proposes the
//! three least busy times on the days the citizen can come, from the
//! appointments already booked there and, at an office hour, from how many
//! visitors earlier office hours in the same village had at each hour. A
//! citizen who cannot wait long (accompanied by a carer, in a wheelchair)
//! gets slots with nothing booked just before, early in a block.

use std::collections::HashMap;

use chrono::{Datelike, NaiveTime, Timelike, Weekday};
use serde::Serialize;
use sprechtag_schemas::IsoDate;

use super::{Result, Store};

/// The main office's hours for appointments (its opening hours in the
/// catalogue are text): weekdays 8–12, Thursday also 14–18.
const MAIN_OFFICE_BLOCKS: [(Weekday, &str, &str); 6] = [
    (Weekday::Mon, "08:00", "12:00"),
    (Weekday::Tue, "08:00", "12:00"),
    (Weekday::Wed, "08:00", "12:00"),
    (Weekday::Thu, "08:00", "12:00"),
    (Weekday::Thu, "14:00", "18:00"),
    (Weekday::Fri, "08:00", "12:00"),
];
const MAIN_OFFICE_SLOT_MINUTES: i64 = 30;
const OFFICE_HOUR_SLOT_MINUTES: i64 = 20;
/// An office hour without planned times.
const OFFICE_HOUR_DEFAULT: (&str, &str) = ("09:00", "12:00");
/// How far ahead slots at the main office are looked for.
const WEEKS_AHEAD: i64 = 4;
/// Proposals made.
const PROPOSALS: usize = 3;

/// Where the appointment is to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotPlace {
    MainOffice,
    /// An office hour, by id.
    OfficeHour(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotQuery {
    pub place: SlotPlace,
    /// The weekdays the citizen can come; empty: any.
    pub days: Vec<Weekday>,
    /// The citizen cannot wait long.
    pub short_wait: bool,
}

/// A proposed time, with why it is quiet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    pub date: IsoDate,
    /// `HH:MM`.
    pub time: String,
    /// Appointments booked in this slot already.
    pub booked: u32,
    /// Visitors expected in its hour, from earlier office hours.
    pub expected_visitors: f64,
}

/// A time to offer, before it is weighed.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub date: IsoDate,
    pub time: NaiveTime,
    /// The first slot of its block (no queue yet).
    pub opens_block: bool,
}

/// The three least busy of `candidates`: fewest bookings in the slot and
/// its hour, fewest expected visitors in its hour, earliest. With
/// `short_wait`, only slots with nothing booked in them or just before.
pub fn propose(
    candidates: &[Candidate],
    booked: &HashMap<(IsoDate, NaiveTime), u32>,
    expected_per_hour: &HashMap<u32, f64>,
    slot_minutes: i64,
    short_wait: bool,
) -> Vec<Slot> {
    let booked_at =
        |date: IsoDate, time: NaiveTime| booked.get(&(date, time)).copied().unwrap_or(0);
    let mut weighed: Vec<(f64, &Candidate, u32, f64)> = Vec::new();
    for candidate in candidates {
        let (date, time) = (candidate.date, candidate.time);
        let here = booked_at(date, time);
        let before = booked_at(date, time - chrono::Duration::minutes(slot_minutes));
        if short_wait && (here > 0 || before > 0) {
            continue;
        }
        let in_hour: u32 = booked
            .iter()
            .filter(|((d, t), _)| *d == date && t.hour() == time.hour())
            .map(|(_, n)| *n)
            .sum();
        let expected = expected_per_hour.get(&time.hour()).copied().unwrap_or(0.0);
        let mut score = f64::from(here) * 4.0 + f64::from(in_hour) + expected;
        if short_wait {
            // Walk-ins make the queue; the first slot of a block has none.
            score += expected;
            if candidate.opens_block {
                score -= 0.5;
            }
        }
        weighed.push((score, candidate, here, expected));
    }
    weighed.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(a.1.date.cmp(&b.1.date))
            .then(a.1.time.cmp(&b.1.time))
    });
    weighed
        .into_iter()
        .take(PROPOSALS)
        .map(|(_, c, booked, expected)| Slot {
            date: c.date,
            time: c.time.format("%H:%M").to_string(),
            booked,
            expected_visitors: (expected * 10.0).round() / 10.0,
        })
        .collect()
}

fn time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M").ok()
}

/// The slots of a block from `start` to `end`.
fn block(date: IsoDate, start: NaiveTime, end: NaiveTime, minutes: i64) -> Vec<Candidate> {
    let mut slots = Vec::new();
    let mut at = start;
    while at + chrono::Duration::minutes(minutes) <= end {
        slots.push(Candidate {
            date,
            time: at,
            opens_block: at == start,
        });
        at += chrono::Duration::minutes(minutes);
    }
    slots
}

impl Store {
    /// Three quiet slots for a follow-up appointment (see the module).
    pub fn propose_slots(&mut self, query: &SlotQuery) -> Result<Vec<Slot>> {
        let today = IsoDate::today();
        let fits =
            |date: IsoDate| query.days.is_empty() || query.days.contains(&date.date().weekday());
        let (candidates, minutes, office_hour_id) = match &query.place {
            SlotPlace::MainOffice => {
                let mut candidates = Vec::new();
                // From the next working day on.
                let mut date = today.add_working_days(1);
                let last = today.add_days(WEEKS_AHEAD * 7);
                while date <= last {
                    if fits(date) {
                        for (weekday, start, end) in MAIN_OFFICE_BLOCKS {
                            if date.date().weekday() == weekday
                                && let (Some(start), Some(end)) = (time(start), time(end))
                            {
                                candidates.extend(block(
                                    date,
                                    start,
                                    end,
                                    MAIN_OFFICE_SLOT_MINUTES,
                                ));
                            }
                        }
                    }
                    date = date.add_working_days(1);
                }
                (candidates, MAIN_OFFICE_SLOT_MINUTES, None)
            }
            SlotPlace::OfficeHour(id) => {
                let office_hour = self.office_hour(id)?;
                let start = office_hour
                    .start_time
                    .as_deref()
                    .and_then(time)
                    .or_else(|| time(OFFICE_HOUR_DEFAULT.0));
                let end = office_hour
                    .end_time
                    .as_deref()
                    .and_then(time)
                    .or_else(|| time(OFFICE_HOUR_DEFAULT.1));
                let candidates = match (start, end) {
                    (Some(start), Some(end)) if fits(office_hour.date) => {
                        block(office_hour.date, start, end, OFFICE_HOUR_SLOT_MINUTES)
                    }
                    _ => Vec::new(),
                };
                (candidates, OFFICE_HOUR_SLOT_MINUTES, Some(office_hour))
            }
        };
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let booked = self.booked_slots(
            today,
            office_hour_id.as_ref().map(|o| o.id.as_str()),
            minutes,
        )?;
        let expected = match &office_hour_id {
            Some(office_hour) => self.visitors_per_hour(&office_hour.village, today)?,
            None => HashMap::new(),
        };
        Ok(propose(
            &candidates,
            &booked,
            &expected,
            minutes,
            query.short_wait,
        ))
    }

    /// Appointments from `from` on at the place (`office_hour`, or the
    /// main office), counted by the slot they fall into.
    fn booked_slots(
        &mut self,
        from: IsoDate,
        office_hour: Option<&str>,
        minutes: i64,
    ) -> Result<HashMap<(IsoDate, NaiveTime), u32>> {
        let mut booked = HashMap::new();
        for id in self.all_case_ids()? {
            let case = self.case(&id)?;
            for appointment in &case.appointments {
                if appointment.date < from || appointment.office_hour_id.as_deref() != office_hour {
                    continue;
                }
                let Some(at) = time(&appointment.time) else {
                    continue;
                };
                // Into the slot that holds it.
                let since_midnight = i64::from(at.num_seconds_from_midnight()) / 60;
                let start = since_midnight - since_midnight % minutes;
                let slot = NaiveTime::from_num_seconds_from_midnight_opt(
                    u32::try_from(start * 60).unwrap_or(0),
                    0,
                )
                .unwrap_or(at);
                *booked.entry((appointment.date, slot)).or_default() += 1;
            }
        }
        Ok(booked)
    }

    /// Visitors per hour of the day at past office hours in `village`,
    /// averaged over those office hours.
    fn visitors_per_hour(&self, village: &str, before: IsoDate) -> Result<HashMap<u32, f64>> {
        let rows: Vec<(String, String)> = self
            .conn
            .prepare(
                "SELECT o.id, c.created_at FROM cases c JOIN office_hours o
                     ON o.id = c.office_hour_id
                 WHERE o.village = ?1 AND o.date < ?2",
            )?
            .query_map(rusqlite::params![village, before.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let office_hours: std::collections::HashSet<&str> =
            rows.iter().map(|(id, _)| id.as_str()).collect();
        let mut per_hour: HashMap<u32, f64> = HashMap::new();
        for (_, created_at) in &rows {
            if let Ok(at) = chrono::DateTime::parse_from_rfc3339(created_at) {
                let hour = at.with_timezone(&chrono::Local).hour();
                *per_hour.entry(hour).or_default() += 1.0;
            }
        }
        let n = office_hours.len().max(1) as f64;
        for count in per_hour.values_mut() {
            *count /= n;
        }
        Ok(per_hour)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> IsoDate {
        text.parse().expect("date")
    }

    fn at(text: &str) -> NaiveTime {
        time(text).expect("time")
    }

    #[test]
    fn the_least_busy_slots_come_first_and_booked_ones_last() {
        let day = date("2026-12-08");
        let candidates = block(day, at("09:00"), at("11:00"), 20);
        let booked = HashMap::from([((day, at("09:00")), 2), ((day, at("09:20")), 1)]);
        // Walk-ins crowd the first hour.
        let expected = HashMap::from([(9, 6.0), (10, 1.0)]);
        let slots = propose(&candidates, &booked, &expected, 20, false);
        let times: Vec<&str> = slots.iter().map(|s| s.time.as_str()).collect();
        assert_eq!(times, ["10:00", "10:20", "10:40"]);
        assert!(slots.iter().all(|s| s.booked == 0));
        assert_eq!(slots[0].expected_visitors, 1.0);
    }

    #[test]
    fn a_citizen_who_cannot_wait_gets_no_slot_right_after_a_booking() {
        let day = date("2026-12-08");
        let candidates = block(day, at("08:00"), at("10:00"), 30);
        let booked = HashMap::from([((day, at("08:00")), 1)]);
        let slots = propose(&candidates, &booked, &HashMap::new(), 30, true);
        let times: Vec<&str> = slots.iter().map(|s| s.time.as_str()).collect();
        // Not 08:00 (booked) nor 08:30 (right after it).
        assert_eq!(times, ["09:00", "09:30"]);
    }

    #[test]
    fn earlier_days_win_at_equal_quiet() {
        let candidates = [
            Candidate {
                date: date("2026-12-10"),
                time: at("08:00"),
                opens_block: true,
            },
            Candidate {
                date: date("2026-12-09"),
                time: at("08:00"),
                opens_block: true,
            },
        ];
        let slots = propose(&candidates, &HashMap::new(), &HashMap::new(), 30, false);
        assert_eq!(slots[0].date, date("2026-12-09"));
    }
}
