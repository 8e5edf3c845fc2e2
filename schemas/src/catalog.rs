//! The service catalogue: what citizens can ask for, which documents each
//! service needs, what it costs and which office is responsible. Shipped in
//! `assets/catalog/services.json`; an administration may replace it with a
//! newer file of the same shape.

use std::collections::HashSet;

use autosurgeon::{Hydrate, Reconcile};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A text in German and English.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Reconcile, Hydrate,
)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub de: String,
    pub en: String,
}

impl Localized {
    /// The text in `language` (`"de"` or `"en"`), German for anything else.
    pub fn get(&self, language: &str) -> &str {
        if language == "en" && !self.en.is_empty() {
            &self.en
        } else {
            &self.de
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Date of this edition; a newer edition replaces an older one.
    pub version: String,
    /// The administration that issues receipts and letters.
    pub issuer: Localized,
    pub offices: Vec<Office>,
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Office {
    #[key]
    pub id: String,
    pub name: Localized,
    pub phone: String,
    /// Where forwarded requests are sent by e-mail; empty: not by e-mail.
    pub email: String,
    pub address: String,
    pub opening_hours: Localized,
    /// Forwarding mails to this office may name the citizen and give the
    /// phone number (data minimisation: off unless the office needs them
    /// to answer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[autosurgeon(missing = "Default::default")]
    pub share_citizen_contact: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct Service {
    #[key]
    pub id: String,
    /// The 14-digit key of the federal service catalogue (LeiKa), if known.
    pub leika: Option<String>,
    pub name: Localized,
    /// Other words people use for the service.
    #[serde(default)]
    pub keywords: Vec<String>,
    pub description: Localized,
    pub documents: Vec<RequiredDocument>,
    pub fee: Localized,
    pub office_id: String,
    /// Working days the responsible office takes to answer a forwarded request.
    #[autosurgeon(with = "crate::document::int")]
    pub response_days: u32,
    /// The citizen must appear in person at the responsible office.
    #[serde(default)]
    pub in_person: bool,
    /// Days a closed case with this service is kept before it is erased,
    /// where the records of this service must be kept longer or shorter
    /// than the server's `retention_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[autosurgeon(missing = "Default::default", with = "crate::document::int::optional")]
    pub retention_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Reconcile, Hydrate)]
#[serde(deny_unknown_fields)]
pub struct RequiredDocument {
    /// Stable: a reworded document keeps its id; a retired one stays listed.
    #[key]
    pub id: String,
    pub name: Localized,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Localized>,
    /// No longer required: new requests do not list it; requests that did
    /// keep it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[autosurgeon(missing = "Default::default")]
    pub retired: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("the catalogue is not valid JSON of the expected shape: {0}")]
    Json(String),
    #[error("the catalogue names the {kind} id {id:?} twice")]
    DuplicateId { kind: &'static str, id: String },
    #[error("service {service:?} names office {office:?}, which the catalogue does not list")]
    UnknownOffice { service: String, office: String },
    #[error(
        "service {service:?} has the LeiKa key {key:?}; a LeiKa key is 14 digits starting with 99"
    )]
    BadLeikaKey { service: String, key: String },
    #[error("service {0:?} lists no required documents")]
    NoDocuments(String),
    #[error("{what} of {id:?} is empty in German or English")]
    MissingText { what: &'static str, id: String },
    #[error("unknown service {0:?}; `sprechtag catalog search TEXT` lists the services")]
    UnknownService(String),
    #[error("service {service:?} has no required document {document:?}")]
    UnknownDocument { service: String, document: String },
    /// An office asked for (`--office`) that no office's id or name fits.
    /// `known` lists every office as "id (name)".
    #[error("unknown office {query:?}; the catalogue's offices: {}", known.join(", "))]
    NoSuchOffice { query: String, known: Vec<String> },
    /// A part of a name that several offices share; `candidates` as "id (name)".
    #[error(
        "{query:?} fits {} offices: {}; give more of the name, or the id",
        candidates.len(),
        candidates.join(", ")
    )]
    AmbiguousOffice {
        query: String,
        candidates: Vec<String>,
    },
}

impl Catalog {
    /// Parses and validates a catalogue file.
    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        let catalog: Catalog =
            serde_json::from_str(text).map_err(|e| CatalogError::Json(e.to_string()))?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// Checks what JSON Schema cannot: unique ids, references, key formats.
    pub fn validate(&self) -> Result<(), CatalogError> {
        unique("office", self.offices.iter().map(|o| o.id.as_str()))?;
        unique("service", self.services.iter().map(|s| s.id.as_str()))?;
        let offices: HashSet<&str> = self.offices.iter().map(|o| o.id.as_str()).collect();
        for office in &self.offices {
            require_text("the name", &office.id, &office.name)?;
        }
        for service in &self.services {
            if !offices.contains(service.office_id.as_str()) {
                return Err(CatalogError::UnknownOffice {
                    service: service.id.clone(),
                    office: service.office_id.clone(),
                });
            }
            if let Some(key) = &service.leika {
                let valid = key.len() == 14
                    && key.starts_with("99")
                    && key.bytes().all(|b| b.is_ascii_digit());
                if !valid {
                    return Err(CatalogError::BadLeikaKey {
                        service: service.id.clone(),
                        key: key.clone(),
                    });
                }
            }
            if service.active_documents().next().is_none() {
                return Err(CatalogError::NoDocuments(service.id.clone()));
            }
            unique("document", service.documents.iter().map(|d| d.id.as_str()))?;
            require_text("the name", &service.id, &service.name)?;
            require_text("the description", &service.id, &service.description)?;
            require_text("the fee", &service.id, &service.fee)?;
            for document in &service.documents {
                require_text("the document name", &document.id, &document.name)?;
            }
        }
        Ok(())
    }

    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    pub fn office(&self, id: &str) -> Option<&Office> {
        self.offices.iter().find(|o| o.id == id)
    }

    /// The office a person means: given by its id, by its name (German or
    /// English), or by words that occur in the name or id of this office
    /// and no other ("Wohngeldstelle" for "Sozialamt / Wohngeldstelle").
    /// Case, umlauts and "ae/oe/ue" spellings do not matter. Words that fit
    /// several offices name them all in the error.
    pub fn find_office(&self, query: &str) -> Result<&Office, CatalogError> {
        let wanted = words(query);
        let label = |o: &Office| format!("{} ({})", o.id, o.name.de);
        if wanted.is_empty() {
            return Err(CatalogError::NoSuchOffice {
                query: query.trim().to_string(),
                known: self.offices.iter().map(label).collect(),
            });
        }
        let by_id = self.offices.iter().find(|o| words(&o.id) == wanted);
        let by_name = || {
            self.offices
                .iter()
                .find(|o| words(&o.name.de) == wanted || words(&o.name.en) == wanted)
        };
        if let Some(office) = by_id.or_else(by_name) {
            return Ok(office);
        }
        let fitting: Vec<&Office> = self
            .offices
            .iter()
            .filter(|o| {
                let text = words(&format!("{} {} {}", o.id, o.name.de, o.name.en)).join(" ");
                wanted.iter().all(|word| text.contains(word.as_str()))
            })
            .collect();
        match fitting.as_slice() {
            [office] => Ok(office),
            [] => Err(CatalogError::NoSuchOffice {
                query: query.trim().to_string(),
                known: self.offices.iter().map(label).collect(),
            }),
            several => Err(CatalogError::AmbiguousOffice {
                query: query.trim().to_string(),
                candidates: several.iter().map(|o| label(o)).collect(),
            }),
        }
    }

    /// Services matching every word of `query`, best first: a match at the
    /// start of the name before one inside it, before keywords, before the
    /// description. Case, umlauts and "ae/oe/ue" spellings do not matter, so
    /// "ausw" finds "Personalausweis" and "fuhrer" finds "Führerschein".
    pub fn search(&self, query: &str) -> Vec<&Service> {
        self.search_ranked(query)
            .into_iter()
            .map(|(_, s)| s)
            .collect()
    }

    /// As [`Catalog::search`], with each service's rank (lower is better;
    /// the scale answers of the knowledge base share, so that both can be
    /// listed together).
    pub fn search_ranked(&self, query: &str) -> Vec<(u32, &Service)> {
        let words = words(query);
        let mut hits: Vec<(u32, usize, &Service)> = self
            .services
            .iter()
            .enumerate()
            .filter_map(|(position, service)| {
                Some((
                    SearchFields::of(service).rank_all(&words)?,
                    position,
                    service,
                ))
            })
            .collect();
        hits.sort_by_key(|(rank, position, _)| (*rank, *position));
        hits.into_iter().map(|(rank, _, s)| (rank, s)).collect()
    }
}

impl Service {
    /// The documents new requests list: those not retired.
    pub fn active_documents(&self) -> impl Iterator<Item = &RequiredDocument> {
        self.documents.iter().filter(|d| !d.retired)
    }

    /// The version of this service's checklist: a short hash of its active
    /// documents' ids and German names, so that every laptop names the same
    /// list the same way without counting edits.
    pub fn checklist_version(&self) -> String {
        checklist_hash(
            self.active_documents()
                .map(|d| (d.id.as_str(), d.name.de.as_str())),
        )
    }
}

/// The hash `Service::checklist_version` gives a list of (id, German name).
pub fn checklist_hash<'a>(documents: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut hash = Sha256::new();
    for (id, name) in documents {
        hash.update(id.as_bytes());
        hash.update([0]);
        hash.update(name.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..6])
}

/// How a service's checklist changed since a request copied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChecklistChange {
    /// Required now, not on the request's list.
    Added { name: String },
    /// The same document under a new name.
    Reworded { old: String, new: String },
    /// On the request's list, no longer required.
    Retired { name: String },
}

impl std::fmt::Display for ChecklistChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChecklistChange::Added { name } => write!(f, "neu: {name}"),
            ChecklistChange::Reworded { old, new } => write!(f, "„{old}“ heißt jetzt „{new}“"),
            ChecklistChange::Retired { name } => write!(f, "entfällt: {name}"),
        }
    }
}

/// A text to search in, by weight: its names, other words for it, the rest.
pub(crate) struct SearchFields {
    pub names: Vec<String>,
    pub keywords: Vec<String>,
    pub rest: String,
}

impl SearchFields {
    /// The sum of the ranks of every word, or `None` if one occurs nowhere.
    /// No words: everything fits, with rank 0.
    pub fn rank_all(&self, words: &[String]) -> Option<u32> {
        let mut rank = 0;
        for word in words {
            rank += self.rank(word)?;
        }
        Some(rank)
    }

    fn of(service: &Service) -> Self {
        SearchFields {
            names: vec![
                normalize_for_search(&service.name.de),
                normalize_for_search(&service.name.en),
            ],
            keywords: service
                .keywords
                .iter()
                .map(|k| normalize_for_search(k))
                .collect(),
            rest: normalize_for_search(&format!(
                "{} {} {} {}",
                service.id,
                service.description.de,
                service.description.en,
                service.leika.as_deref().unwrap_or("")
            )),
        }
    }

    /// Lower is better; `None` when the word occurs nowhere.
    fn rank(&self, word: &str) -> Option<u32> {
        if self.names.iter().any(|n| n.starts_with(word)) {
            Some(0)
        } else if self
            .names
            .iter()
            .any(|n| n.split_whitespace().any(|w| w.starts_with(word)))
        {
            Some(1)
        } else if self.names.iter().any(|n| n.contains(word)) {
            Some(2)
        } else if self.keywords.iter().any(|k| k.contains(word)) {
            Some(3)
        } else if self.rest.contains(word) {
            Some(5)
        } else {
            None
        }
    }
}

/// Lower case, umlauts folded, "ae/oe/ue" as "a/o/u", "ß" as "ss": the form in
/// which both the query and the text are compared.
pub fn normalize_for_search(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => folded.push('a'),
            'ö' => folded.push('o'),
            'ü' => folded.push('u'),
            'ß' => folded.push_str("ss"),
            c if c.is_alphanumeric() || c.is_whitespace() => folded.push(c),
            _ => folded.push(' '),
        }
    }
    folded
        .replace("ae", "a")
        .replace("oe", "o")
        .replace("ue", "u")
}

/// The words of `text` as search compares them ("Sozialamt / Wohngeldstelle"
/// → ["sozialamt", "wohngeldstelle"]; "jagd-fischereibehoerde" → ["jagd",
/// "fischereibehorde"]).
pub(crate) fn words(text: &str) -> Vec<String> {
    normalize_for_search(text)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn unique<'a>(kind: &'static str, ids: impl Iterator<Item = &'a str>) -> Result<(), CatalogError> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(CatalogError::DuplicateId {
                kind,
                id: id.to_string(),
            });
        }
    }
    Ok(())
}

fn require_text(what: &'static str, id: &str, text: &Localized) -> Result<(), CatalogError> {
    if text.de.trim().is_empty() || text.en.trim().is_empty() {
        return Err(CatalogError::MissingText {
            what,
            id: id.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChecklistChange, Request};

    fn id_card() -> (Catalog, Service) {
        let catalog = crate::knowledge::shipped_catalog().expect("shipped");
        let service = catalog.service("personalausweis").expect("id card").clone();
        (catalog, service)
    }

    #[test]
    fn a_retired_document_leaves_new_checklists_and_is_named_on_old_requests() {
        let (_, mut service) = id_card();
        let old = Request::for_service(&service);
        assert!(old.checklist_changes(&service).is_empty());
        let photo = service.documents[1].name.de.clone();
        service.documents[1].retired = true;
        service.documents[0].name.de = "Ausweis oder Pass".into();
        service.documents.push(RequiredDocument {
            id: "meldebescheinigung".into(),
            name: Localized {
                de: "Meldebescheinigung".into(),
                en: "Certificate of registration".into(),
            },
            hint: None,
            retired: false,
        });
        let new = Request::for_service(&service);
        let ids: Vec<&str> = new.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            [service.documents[0].id.as_str(), "meldebescheinigung"]
        );
        assert_ne!(new.checklist_version, old.checklist_version);
        assert!(new.checklist_changes(&service).is_empty());
        let changes = old.checklist_changes(&service);
        assert!(changes.contains(&ChecklistChange::Retired { name: photo }));
        assert!(changes.contains(&ChecklistChange::Added {
            name: "Meldebescheinigung".into()
        }));
        assert!(changes.iter().any(
            |c| matches!(c, ChecklistChange::Reworded { new, .. } if new == "Ausweis oder Pass")
        ));
    }

    #[test]
    fn a_service_needs_one_document_that_is_not_retired() {
        let (mut catalog, _) = id_card();
        for document in &mut catalog.services[0].documents {
            document.retired = true;
        }
        assert!(matches!(
            catalog.validate(),
            Err(CatalogError::NoDocuments(_))
        ));
    }

    #[test]
    fn the_checklist_version_does_not_depend_on_english_texts_or_hints() {
        let (_, service) = id_card();
        let mut translated = service.clone();
        translated.documents[0].name.en = "Old ID".into();
        translated.documents[0].hint = None;
        assert_eq!(service.checklist_version(), translated.checklist_version());
    }
}
