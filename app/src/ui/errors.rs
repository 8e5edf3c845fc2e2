//! What the UI says when the store or printing fails: a sentence in the
//! user's language that says what happened and that nothing was lost, then
//! the technical detail (in English, for whoever supports the laptop).

use rust_i18n::t;

use sprechtag_schemas::CatalogError;

use crate::print::PrintError;
use crate::store::StoreError;

pub fn store_error_text(error: &StoreError) -> String {
    match error {
        StoreError::WrongPassphrase => t!("unlock.wrong").into_owned(),
        StoreError::WeakPassphrase => {
            t!("unlock.too_short", n = crate::store::MIN_PASSPHRASE_CHARS).into_owned()
        }
        StoreError::NotFound { kind, id } => {
            let what = match *kind {
                "case" => t!("error.kind_case"),
                "office hour" => t!("error.kind_office_hour"),
                _ => t!("error.kind_other"),
            };
            t!("error.not_found", what = what, id = id).into_owned()
        }
        StoreError::Invalid(detail) => t!("error.invalid", detail = detail).into_owned(),
        StoreError::Forbidden { part, .. } => {
            t!("error.forbidden", part = t!(part_key(*part)).into_owned()).into_owned()
        }
        StoreError::Erased { number, at } => t!(
            "error.erased",
            number = number,
            date = at
                .get(..10)
                .and_then(|day| day.parse::<sprechtag_schemas::IsoDate>().ok())
                .map_or_else(|| at.clone(), sprechtag_schemas::IsoDate::to_german)
        )
        .into_owned(),
        StoreError::MayNotErase(_) => t!("error.may_not_erase").into_owned(),
        StoreError::UnknownVersion(number) => {
            t!("error.unknown_version", number = number).into_owned()
        }
        StoreError::Corrupt(_) | StoreError::Document(_) => {
            t!("error.damaged", detail = error.to_string()).into_owned()
        }
        StoreError::Catalog(CatalogError::NoSuchOffice { query, known }) => t!(
            "error.unknown_office",
            office = query,
            known = known.join(", ")
        )
        .into_owned(),
        StoreError::Catalog(CatalogError::AmbiguousOffice { query, candidates }) => t!(
            "error.ambiguous_office",
            office = query,
            candidates = candidates.join(", ")
        )
        .into_owned(),
        StoreError::Catalog(_) => t!("error.catalog", detail = error.to_string()).into_owned(),
        StoreError::Csv(_) | StoreError::Io { .. } => {
            t!("error.file", detail = error.to_string()).into_owned()
        }
        StoreError::Incomplete { missing, present } => t!(
            "error.incomplete",
            missing = missing.display().to_string(),
            present = present.display().to_string()
        )
        .into_owned(),
        StoreError::Damaged { path, detail } => t!(
            "error.store_damaged",
            path = path.display().to_string(),
            detail = detail
        )
        .into_owned(),
        StoreError::ReadOnly => t!("error.read_only").into_owned(),
        StoreError::InUse(_) => t!("error.in_use").into_owned(),
        StoreError::NoStore(_) | StoreError::Sqlite(_) | StoreError::Migration(_) => {
            t!("error.database", detail = error.to_string()).into_owned()
        }
    }
}

/// The locale key of a part of a document.
fn part_key(part: sprechtag_schemas::permissions::Part) -> &'static str {
    use sprechtag_schemas::permissions::Part;
    match part {
        Part::Identity => "part.identity",
        Part::Department => "part.department",
        Part::Visit => "part.visit",
        Part::Forwarding => "part.forwarding",
        Part::Review => "part.review",
        Part::Comments => "part.comments",
        Part::Editors => "part.editors",
        Part::Plan => "part.plan",
        Part::Course => "part.course",
        Part::Ratings => "part.ratings",
        Part::Catalog => "part.catalog",
        Part::Answer => "part.answer",
        Part::AnswerReview => "part.answer_review",
        Part::Feedback => "part.feedback",
        Part::FeedbackAnswer => "part.feedback_answer",
        Part::Mail => "part.mail",
        Part::Unknown => "part.unknown",
    }
}

pub fn print_error_text(error: &PrintError) -> String {
    match error {
        PrintError::Store(store) => store_error_text(store),
        PrintError::NoAppointment(_) => t!("error.no_appointment").into_owned(),
        other => t!("error.print", detail = other.to_string()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_leads_with_a_sentence_in_german() {
        // German is what the app starts in (`ui::prefs`); no other test in
        // this binary reads translated text.
        rust_i18n::set_locale("de");
        let not_found = store_error_text(&StoreError::not_found("case", "HRK-0042"));
        assert_eq!(not_found, "Fall HRK-0042 nicht gefunden.");
        let database = store_error_text(&StoreError::Sqlite(rusqlite::Error::InvalidQuery));
        assert!(
            database.starts_with("Die Datenbank meldet einen Fehler; es wurde nichts verändert."),
            "{database}"
        );
        assert!(
            database.contains("database error"),
            "the detail stays: {database}"
        );
        let printing = print_error_text(&PrintError::NoAppointment("HRK-0042".into()));
        assert!(
            printing.starts_with("Für diesen Fall ist kein Termin"),
            "{printing}"
        );
        let ambiguous = StoreError::Catalog(CatalogError::AmbiguousOffice {
            query: "amt".into(),
            candidates: vec![
                "sozialamt (Sozialamt / Wohngeldstelle)".into(),
                "jugendamt".into(),
            ],
        });
        assert_eq!(
            store_error_text(&ambiguous),
            "„amt“ passt zu mehreren Stellen: sozialamt (Sozialamt / Wohngeldstelle), \
             jugendamt. Bitte mehr vom Namen oder die Kennung angeben."
        );
        let office_hour = store_error_text(&StoreError::not_found("office hour", "x"));
        assert_eq!(office_hour, "Sprechtag x nicht gefunden.");
        let nameless = sprechtag_schemas::Case::draft(sprechtag_schemas::Citizen::default());
        let invalid = crate::store::validate_case(&nameless).expect_err("a case needs a name");
        assert_eq!(
            store_error_text(&invalid),
            "Nicht übernommen: Bitte einen Nachnamen oder Vornamen eintragen"
        );
    }
}
