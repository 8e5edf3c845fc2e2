//! Calendar dates as the model stores them: `YYYY-MM-DD` text, valid by
//! construction.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

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

    pub fn today() -> Self {
        IsoDate(chrono::Local::now().date_naive())
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// The German way of writing the date, as on a printed receipt.
    pub fn to_german(self) -> String {
        self.0.format("%d.%m.%Y").to_string()
    }
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
