//! The part of a case that lists, filters and search index: read from a
//! document without the rest of it. Hydrating a whole case (address, needs,
//! document names and notes, appointments, comments) cost as much as loading
//! the document; indexing a sync download of hundreds of cases needs only
//! this.
//!
//! The sync server reads the summary of every case it stores and sends it
//! beside the document to a device that has none of it: a first sync of a
//! department's cases then indexes them without loading each document on
//! the laptop ([`CaseSummary::encode`]).

use crate::case::{Case, CaseStatus, DocumentState, Forwarding, ReviewState};
use autosurgeon::{Hydrate, Text};

/// Layout of [`CaseSummary::encode`]. Bump it with every change to the
/// summary's fields (or to how they are read from a document): a device
/// then ignores the summaries of a server built with another layout and
/// reads the documents itself.
pub const SUMMARY_VERSION: u32 = 2;

#[derive(Debug, Clone, Default, PartialEq, Hydrate)]
pub struct CaseSummary {
    pub id: String,
    pub number: String,
    #[autosurgeon(missing = "Default::default")]
    pub former_numbers: Vec<String>,
    pub status: CaseStatus,
    pub office_hour_id: Option<String>,
    pub department: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub citizen: NameAndTown,
    pub requests: Vec<RequestSummary>,
    pub notes: Text,
    pub review: Option<ReviewSummary>,
    pub done_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Hydrate)]
pub struct NameAndTown {
    pub surname: String,
    pub given_names: String,
    pub address: Town,
}

#[derive(Debug, Clone, Default, PartialEq, Hydrate)]
pub struct Town {
    pub town: String,
}

#[derive(Debug, Clone, PartialEq, Hydrate)]
pub struct RequestSummary {
    pub id: String,
    pub service_id: String,
    pub service_name: String,
    pub documents: Vec<CheckState>,
    pub forwarding: Option<Forwarding>,
}

#[derive(Debug, Clone, PartialEq, Hydrate)]
pub struct CheckState {
    pub state: DocumentState,
}

#[derive(Debug, Clone, PartialEq, Hydrate)]
pub struct ReviewSummary {
    pub state: ReviewState,
}

impl RequestSummary {
    /// Every document presented or not applicable.
    pub fn is_complete(&self) -> bool {
        self.documents.iter().all(|d| d.state.is_settled())
    }
}

impl CaseSummary {
    /// Every document of every request presented or not applicable; as
    /// [`Case::is_complete`].
    pub fn is_complete(&self) -> bool {
        !self.requests.is_empty()
            && self
                .requests
                .iter()
                .flat_map(|r| &r.documents)
                .all(|d| d.state.is_settled())
    }

    /// Documents marked missing.
    pub fn missing_count(&self) -> usize {
        self.requests
            .iter()
            .flat_map(|r| &r.documents)
            .filter(|d| d.state == DocumentState::Missing)
            .count()
    }
}

/// [`CaseSummary::encode`]'s layout: [`SUMMARY_VERSION`], then the fields
/// by position — named, they cost more bytes on the wire than the values,
/// even compressed. A request: id, service id and name, the states of its
/// document checks, the forwarding.
type Encoded = (
    u32,
    (String, String, Vec<String>, CaseStatus),
    (Option<String>, Option<String>),
    (String, String),
    (String, String, String),
    Vec<(
        String,
        String,
        String,
        Vec<DocumentState>,
        Option<Forwarding>,
    )>,
    String,
    Option<ReviewState>,
    Option<String>,
);

impl CaseSummary {
    /// The summary as the sync server stores and sends it: CBOR, tagged
    /// with [`SUMMARY_VERSION`].
    pub fn encode(&self) -> Vec<u8> {
        let encoded: Encoded = (
            SUMMARY_VERSION,
            (
                self.id.clone(),
                self.number.clone(),
                self.former_numbers.clone(),
                self.status,
            ),
            (self.office_hour_id.clone(), self.department.clone()),
            (self.created_at.clone(), self.created_by.clone()),
            (
                self.citizen.surname.clone(),
                self.citizen.given_names.clone(),
                self.citizen.address.town.clone(),
            ),
            self.requests
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        r.service_id.clone(),
                        r.service_name.clone(),
                        r.documents.iter().map(|d| d.state).collect(),
                        r.forwarding.clone(),
                    )
                })
                .collect(),
            self.notes.as_str().to_string(),
            self.review.as_ref().map(|r| r.state),
            self.done_at.clone(),
        );
        let mut bytes = Vec::new();
        // Writing to a Vec cannot fail for these plain types.
        let _ = ciborium::into_writer(&encoded, &mut bytes);
        bytes
    }

    /// The reverse of [`encode`](Self::encode); `None` for bytes of another
    /// layout version or no summary at all.
    pub fn decode(bytes: &[u8]) -> Option<CaseSummary> {
        let (
            version,
            (id, number, former_numbers, status),
            (office_hour_id, department),
            (created_at, created_by),
            (surname, given_names, town),
            requests,
            notes,
            review,
            done_at,
        ): Encoded = ciborium::from_reader(bytes).ok()?;
        if version != SUMMARY_VERSION {
            return None;
        }
        Some(CaseSummary {
            id,
            number,
            former_numbers,
            status,
            office_hour_id,
            department,
            created_at,
            created_by,
            citizen: NameAndTown {
                surname,
                given_names,
                address: Town { town },
            },
            requests: requests
                .into_iter()
                .map(
                    |(id, service_id, service_name, states, forwarding)| RequestSummary {
                        id,
                        service_id,
                        service_name,
                        documents: states
                            .into_iter()
                            .map(|state| CheckState { state })
                            .collect(),
                        forwarding,
                    },
                )
                .collect(),
            notes: Text::with_value(notes),
            review: review.map(|state| ReviewSummary { state }),
            done_at,
        })
    }
}

impl From<&Case> for CaseSummary {
    fn from(case: &Case) -> CaseSummary {
        CaseSummary {
            id: case.id.clone(),
            number: case.number.clone(),
            former_numbers: case.former_numbers.clone(),
            status: case.status,
            office_hour_id: case.office_hour_id.clone(),
            department: case.department.clone(),
            created_at: case.created_at.clone(),
            created_by: case.created_by.clone(),
            citizen: NameAndTown {
                surname: case.citizen.surname.clone(),
                given_names: case.citizen.given_names.clone(),
                address: Town {
                    town: case.citizen.address.town.clone(),
                },
            },
            requests: case
                .requests
                .iter()
                .map(|r| RequestSummary {
                    id: r.id.clone(),
                    service_id: r.service_id.clone(),
                    service_name: r.service_name.clone(),
                    documents: r
                        .documents
                        .iter()
                        .map(|d| CheckState { state: d.state })
                        .collect(),
                    forwarding: r.forwarding.clone(),
                })
                .collect(),
            notes: Text::with_value(case.notes.as_str()),
            review: case
                .review
                .as_ref()
                .map(|r| ReviewSummary { state: r.state }),
            done_at: case.done_at.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Citizen, DocumentCheck, Request};
    use crate::document;

    fn case_with(states: &[DocumentState]) -> Case {
        let mut case = Case::draft(Citizen {
            surname: "Krüger".into(),
            given_names: "Hannelore".into(),
            ..Citizen::default()
        });
        case.id = "c1".into();
        case.number = "AB-0001".into();
        case.notes = Text::with_value("Rollator");
        case.requests.push(Request {
            id: "r1".into(),
            service_id: "wohngeld".into(),
            service_name: "Wohngeld".into(),
            checklist_version: String::new(),
            documents: states
                .iter()
                .enumerate()
                .map(|(i, state)| DocumentCheck {
                    id: format!("d{i}"),
                    name: format!("Nachweis {i}"),
                    state: *state,
                    note: "Notiz".into(),
                })
                .collect(),
            forwarding: None,
        });
        case
    }

    /// Read from the document, the summary says what the whole case says.
    #[test]
    fn the_summary_read_from_a_document_agrees_with_the_case() {
        use DocumentState::*;
        for states in [
            vec![Presented, NotApplicable],
            vec![Presented, Missing, Missing],
            vec![Unchecked],
            vec![],
        ] {
            let case = case_with(&states);
            let doc =
                document::create(automerge::ActorId::random(), &case, "test").expect("document");
            let summary: CaseSummary = document::read(&doc).expect("summary");
            assert_eq!(summary, CaseSummary::from(&case));
            assert_eq!(summary.is_complete(), case.is_complete(), "{states:?}");
            assert_eq!(summary.missing_count(), case.missing_documents().count());
            assert_eq!(summary.citizen.surname, "Krüger");
            assert_eq!(summary.notes.as_str(), "Rollator");
        }
    }

    #[test]
    fn an_encoded_summary_decodes_only_in_its_own_layout() {
        let mut case = case_with(&[DocumentState::Missing]);
        case.review = Some(crate::case::Review {
            state: ReviewState::NeedsClarification,
            by: "Back office".into(),
            at: "2026-11-20T09:00:00Z".into(),
        });
        let summary = CaseSummary::from(&case);
        assert_eq!(
            CaseSummary::decode(&summary.encode()),
            Some(summary.clone())
        );

        let mut other_layout = summary.encode();
        // A CBOR array, then the version as a small unsigned integer.
        assert_eq!(other_layout[1], SUMMARY_VERSION as u8);
        other_layout[1] += 1;
        assert_eq!(CaseSummary::decode(&other_layout), None);
        assert_eq!(CaseSummary::decode(b"\xff not cbor"), None);
    }
}
