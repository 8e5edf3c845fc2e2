//! The knowledge base every laptop carries: the county's service catalogue
//! as one synced document, and questions with their answers ("Wissen"), one
//! document each. Both are county-wide: every enrolled device receives
//! them, whatever its department. The back office maintains them;
//! caseworkers propose answers from the field.

use autosurgeon::{Hydrate, Reconcile};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, SearchFields, normalize_for_search, words};
use crate::string_enum::string_enum;

/// The catalogue shipped with every build: the knowledge base until the
/// county's own catalogue document arrives, or for a first install.
pub const SHIPPED_CATALOG: &str = include_str!("../../assets/catalog/services.json");

/// The shipped catalogue, parsed.
pub fn shipped_catalog() -> Result<Catalog, crate::CatalogError> {
    Catalog::from_json(SHIPPED_CATALOG)
}

/// The id of the catalogue document: one per county, the same on every
/// device, so that an import on any laptop edits the one everybody has.
pub const CATALOG_DOCUMENT_ID: &str = "5eb1ce00-ca7a-4000-8000-000000000001";

/// The catalogue as a synced document.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize)]
pub struct CatalogDocument {
    #[autosurgeon(with = "crate::document::int")]
    pub schema_version: u64,
    pub id: String,
    pub catalog: Catalog,
    /// Who changed it last, and when (RFC 3339).
    pub edited_by: String,
    pub edited_at: String,
}

string_enum! {
    /// Where an answer stands: proposed from the field, accepted by the
    /// back office (shown to everybody as the answer), or withdrawn.
    pub enum AnswerStatus ("answer status") {
        #[default]
        Proposed = "proposed",
        Accepted = "accepted",
        Retired = "retired",
    }
}

/// A question citizens ask and its answer in plain German.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    #[serde(default = "crate::case::schema_version")]
    #[autosurgeon(with = "crate::document::int")]
    pub schema_version: u64,
    #[serde(default)]
    pub id: String,
    pub question: String,
    pub answer: String,
    /// Services of the catalogue the answer belongs to.
    #[serde(default)]
    pub service_ids: Vec<String>,
    #[serde(default)]
    pub status: AnswerStatus,
    /// Who wrote it ("user (PREFIX)"), and when (RFC 3339).
    #[serde(default)]
    pub written_by: String,
    #[serde(default)]
    pub written_at: String,
    /// Who last checked that it is still right, and on which day.
    #[serde(default)]
    pub checked_by: Option<String>,
    #[serde(default)]
    pub checked_at: Option<String>,
}

impl Answer {
    /// Its rank for `query` (lower is better, the scale of
    /// [`Catalog::search_ranked`]): the question counts as a service's
    /// name, the names of its services as keywords, the answer as the rest.
    pub fn rank(&self, query: &str, catalog: &Catalog) -> Option<u32> {
        let fields = SearchFields {
            names: vec![normalize_for_search(&self.question)],
            keywords: self
                .service_ids
                .iter()
                .filter_map(|id| catalog.service(id))
                .flat_map(|s| [&s.name.de, &s.name.en])
                .map(|name| normalize_for_search(name))
                .collect(),
            rest: normalize_for_search(&self.answer),
        };
        fields.rank_all(&words(query))
    }
}

/// One hit of a search in the knowledge base.
#[derive(Debug, Clone, Copy)]
pub enum Hit<'a> {
    Service(&'a crate::Service),
    Answer(&'a Answer),
}

/// Services and answers fitting `query`, best first; at equal rank
/// answers before services (a question asked is answered at once),
/// proposals after accepted answers, retired answers never.
pub fn search<'a>(catalog: &'a Catalog, answers: &'a [Answer], query: &str) -> Vec<Hit<'a>> {
    let mut hits: Vec<(u32, u8, usize, Hit<'a>)> = Vec::new();
    for (position, answer) in answers.iter().enumerate() {
        let order = match answer.status {
            AnswerStatus::Accepted => 0,
            AnswerStatus::Proposed => 2,
            AnswerStatus::Retired => continue,
        };
        if let Some(rank) = answer.rank(query, catalog) {
            hits.push((rank, order, position, Hit::Answer(answer)));
        }
    }
    for (position, (rank, service)) in catalog.search_ranked(query).into_iter().enumerate() {
        hits.push((rank, 1, position, Hit::Service(service)));
    }
    hits.sort_by_key(|(rank, order, position, _)| (*rank, *order, *position));
    hits.into_iter().map(|(_, _, _, hit)| hit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(question: &str, text: &str, status: AnswerStatus) -> Answer {
        Answer {
            schema_version: 1,
            id: crate::new_id(),
            question: question.into(),
            answer: text.into(),
            service_ids: vec![],
            status,
            written_by: "a (ANS)".into(),
            written_at: String::new(),
            checked_by: None,
            checked_at: None,
        }
    }

    fn catalog() -> Catalog {
        shipped_catalog().expect("shipped")
    }

    #[test]
    fn answers_and_services_are_found_together_best_first() {
        let catalog = catalog();
        let answers = vec![
            answer(
                "Wie lange gilt ein Personalausweis?",
                "Zehn Jahre, unter 24 Jahren sechs.",
                AnswerStatus::Accepted,
            ),
            answer("Kann ich mit Karte zahlen?", "Ja.", AnswerStatus::Accepted),
            answer("Personalausweis alt", "weg", AnswerStatus::Retired),
        ];
        // The name of a service finds the service first, and its answers.
        let hits = search(&catalog, &answers, "personalausweis");
        assert!(matches!(hits[0], Hit::Service(s) if s.id == "personalausweis"));
        assert!(
            hits.iter()
                .any(|h| matches!(h, Hit::Answer(a) if a.question.starts_with("Wie lange")))
        );
        // A question asked in its own words finds its answer first.
        let hits = search(&catalog, &answers, "wie lange gilt ausweis");
        assert!(matches!(hits[0], Hit::Answer(a) if a.question.starts_with("Wie lange")));
        // At equal rank the answer comes before the service.
        let hits = search(&catalog, &answers, "ausweis");
        assert!(matches!(hits[0], Hit::Answer(_)), "{hits:?}");
        assert!(
            !hits
                .iter()
                .any(|h| matches!(h, Hit::Answer(a) if a.status == AnswerStatus::Retired))
        );
        let hits = search(&catalog, &answers, "karte zahlen");
        assert!(matches!(hits.first(), Some(Hit::Answer(a)) if a.answer == "Ja."));
    }

    #[test]
    fn a_proposal_ranks_after_an_accepted_answer_of_the_same_rank() {
        let catalog = catalog();
        let answers = vec![
            answer(
                "Hundesteuer Ermäßigung?",
                "vorgeschlagen",
                AnswerStatus::Proposed,
            ),
            answer("Hundesteuer Befreiung?", "geprüft", AnswerStatus::Accepted),
        ];
        let hits = search(&catalog, &answers, "hundesteuer");
        let texts: Vec<&str> = hits
            .iter()
            .filter_map(|h| match h {
                Hit::Answer(a) => Some(a.answer.as_str()),
                Hit::Service(_) => None,
            })
            .collect();
        assert_eq!(texts, ["geprüft", "vorgeschlagen"]);
    }
}
