//! Calendar dates as the model stores them: `YYYY-MM-DD` text, valid by
//! construction.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// The time the laptop goes by: its own clock corrected by the offset it
/// learnt from the server at its last sync, the server's clock being the
/// reference. A laptop whose clock is a year behind would otherwise give
/// forwardings due dates a year ago and make durations negative.
pub mod clock {
    use std::sync::atomic::{AtomicI64, Ordering};

    /// Offsets below this are the noise of a network round trip.
    pub const IGNORED_MS: i64 = 60_000;
    /// Offsets beyond this are shown to the user as a wrong clock.
    pub const WARN_MS: i64 = 5 * 60_000;

    static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

    /// Sets the correction (server minus laptop, in milliseconds); small
    /// offsets are ignored. One laptop runs one app: the process's clock.
    pub fn set_offset_ms(offset: i64) {
        let offset = if offset.abs() < IGNORED_MS { 0 } else { offset };
        OFFSET_MS.store(offset, Ordering::Relaxed);
    }

    pub fn offset_ms() -> i64 {
        OFFSET_MS.load(Ordering::Relaxed)
    }

    /// Now, corrected.
    pub fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + chrono::Duration::milliseconds(offset_ms())
    }
}

/// A calendar date. The only way to make one is to parse a valid date, so a
/// value of this type is always a real day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoDate(NaiveDate);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a date; expected YYYY-MM-DD (for example 2026-03-14) or DD.MM.YYYY")]
pub struct DateError {
    pub input: String,
}

impl IsoDate {
    pub fn new(date: NaiveDate) -> Self {
        IsoDate(date)
    }

    /// Today, by the corrected clock (`clock::now`).
    pub fn today() -> Self {
        IsoDate(clock::now().with_timezone(&chrono::Local).date_naive())
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// Its day of the week in German ("Dienstag"), for texts the server
    /// writes (the app has its own, in the language shown).
    pub fn weekday_german(self) -> &'static str {
        use chrono::Datelike;
        match self.0.weekday() {
            chrono::Weekday::Mon => "Montag",
            chrono::Weekday::Tue => "Dienstag",
            chrono::Weekday::Wed => "Mittwoch",
            chrono::Weekday::Thu => "Donnerstag",
            chrono::Weekday::Fri => "Freitag",
            chrono::Weekday::Sat => "Samstag",
            chrono::Weekday::Sun => "Sonntag",
        }
    }

    /// The German way of writing the date, as on a printed receipt.
    pub fn to_german(self) -> String {
        self.0.format("%d.%m.%Y").to_string()
    }

    /// The day `days` calendar days after (or, negative, before) this one;
    /// the same day if that would leave the calendar.
    pub fn add_days(self, days: i64) -> IsoDate {
        IsoDate(
            self.0
                .checked_add_signed(chrono::TimeDelta::days(days))
                .unwrap_or(self.0),
        )
    }

    /// The day `days` working days after this one: Monday to Friday,
    /// without the public holidays that all German states keep. (Holidays
    /// of single states, such as Epiphany or Corpus Christi, count as
    /// working days; a deadline may then fall a day early, never late.)
    pub fn add_working_days(self, days: u32) -> IsoDate {
        let mut date = self.0;
        let mut left = days;
        while left > 0 {
            date = date.succ_opt().unwrap_or(date);
            if is_working_day(date) {
                left -= 1;
            }
        }
        IsoDate(date)
    }
}

impl IsoDate {
    /// The day `days` working days before this one (as
    /// [`IsoDate::add_working_days`], backwards).
    pub fn sub_working_days(self, days: u32) -> IsoDate {
        let mut date = self.0;
        let mut left = days;
        while left > 0 {
            date = date.pred_opt().unwrap_or(date);
            if is_working_day(date) {
                left -= 1;
            }
        }
        IsoDate(date)
    }
}

fn is_working_day(date: NaiveDate) -> bool {
    use chrono::{Datelike, Weekday};
    if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        return false;
    }
    let year = date.year();
    let fixed = [(1, 1), (5, 1), (10, 3), (12, 25), (12, 26)];
    if fixed.contains(&(date.month(), date.day())) {
        return false;
    }
    let Some(easter) = easter_sunday(year) else {
        return true;
    };
    // Good Friday, Easter Monday, Ascension Day, Whit Monday.
    ![-2, 1, 39, 50].contains(&(date - easter).num_days())
}

/// Easter Sunday of the Gregorian calendar (anonymous Gregorian algorithm).
fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

impl FromStr for IsoDate {
    type Err = DateError;
    /// Accepts the ISO form and the German form that caseworkers type.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(trimmed, "%d.%m.%Y"))
            .map(IsoDate)
            .map_err(|_| DateError {
                input: s.to_string(),
            })
    }
}

impl fmt::Display for IsoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl serde::Serialize for IsoDate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for IsoDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for IsoDate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IsoDate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "date" })
    }
}

impl autosurgeon::Reconcile for IsoDate {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: autosurgeon::Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.to_string())
    }
}

impl autosurgeon::Hydrate for IsoDate {
    fn hydrate_string(s: &'_ str) -> Result<Self, autosurgeon::HydrateError> {
        s.parse()
            .map_err(|_| autosurgeon::HydrateError::unexpected("a YYYY-MM-DD date", s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> IsoDate {
        text.parse().expect("a valid date")
    }

    #[test]
    fn easter_falls_on_the_known_sundays() {
        for (year, expected) in [
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
        ] {
            assert_eq!(easter_sunday(year).map(IsoDate), Some(date(expected)));
        }
    }

    #[test]
    fn calendar_days_cross_months_and_years_both_ways() {
        assert_eq!(date("2026-12-31").add_days(1), date("2027-01-01"));
        assert_eq!(date("2026-03-01").add_days(-1), date("2026-02-28"));
        assert_eq!(date("2026-03-01").add_days(0), date("2026-03-01"));
    }

    #[test]
    fn working_days_skip_weekends_and_nationwide_holidays() {
        // Friday + 1 working day is Monday.
        assert_eq!(date("2026-11-20").add_working_days(1), date("2026-11-23"));
        // Ten working days from Monday 23 Nov 2026: Monday 7 Dec.
        assert_eq!(date("2026-11-23").add_working_days(10), date("2026-12-07"));
        // 25 Dec 2026 is a Friday and a holiday, then the weekend.
        assert_eq!(date("2026-12-24").add_working_days(1), date("2026-12-28"));
        // Maundy Thursday 2 Apr 2026 + 1: Good Friday, weekend, Easter Monday → Tue 7 Apr.
        assert_eq!(date("2026-04-02").add_working_days(1), date("2026-04-07"));
        assert_eq!(date("2026-04-02").add_working_days(0), date("2026-04-02"));
    }

    #[test]
    fn german_and_iso_forms_parse_to_the_same_day() {
        let iso: IsoDate = "1941-03-07".parse().expect("iso");
        let german: IsoDate = "07.03.1941".parse().expect("german");
        assert_eq!(iso, german);
        assert_eq!(iso.to_string(), "1941-03-07");
        assert_eq!(iso.to_german(), "07.03.1941");
    }

    #[test]
    fn impossible_dates_are_rejected_with_the_input_named() {
        let err = "2026-02-30".parse::<IsoDate>().expect_err("no 30 February");
        assert!(err.to_string().contains("2026-02-30"));
        assert!("gestern".parse::<IsoDate>().is_err());
    }
}
