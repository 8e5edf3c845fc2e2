//! `document::read` reads each map or list once and answers later lookups
//! from memory; it must give exactly what autosurgeon's field-by-field
//! hydration gives, also for merged documents with conflicting values,
//! deleted entries and lists changed on two devices.

mod common;

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use common::{catalog, edit};
use sprechtag_schemas::document;
use sprechtag_schemas::{
    Case, CaseStatus, CaseSummary, Citizen, Comment, DocumentState, Forwarding, IsoDate,
    OfficeHour, OfficeHourStatus, Rating, Request,
};

/// Both ways of reading agree for the whole case, its summary and raw
/// lookups of every root key.
fn assert_reads_agree(doc: &AutoCommit) -> Case {
    let direct: Case = autosurgeon::hydrate(doc).expect("hydrate directly");
    let read: Case = document::read(doc).expect("read");
    assert_eq!(read, direct);
    let direct: CaseSummary = autosurgeon::hydrate(doc).expect("hydrate summary");
    let summary: CaseSummary = document::read(doc).expect("read summary");
    assert_eq!(summary, direct);
    read
}

fn full_case() -> Case {
    let catalog = catalog();
    let mut case = Case::draft(Citizen {
        surname: "Brandt".into(),
        given_names: "Ilse Marie".into(),
        ..Citizen::default()
    });
    case.id = "case-1".into();
    case.number = "KMR-0007".into();
    case.notes = "Kommt mit Tochter.".into();
    case.requests
        .push(Request::for_service(catalog.search("ausw")[0]));
    case.requests
        .push(Request::for_service(catalog.search("wohngeld")[0]));
    case.requests[0].documents[0].state = DocumentState::Presented;
    case.requests[1].forwarding = Some(Forwarding {
        office_id: "wohngeldstelle".into(),
        forwarded_at: "2026-11-20T09:00:00Z".into(),
        due: "2026-12-04".parse::<IsoDate>().expect("date"),
        question: "Reicht die Rente als Einkommen?".into(),
        answer: String::new(),
        closed_at: None,
        mail: Some(sprechtag_schemas::MailStatus {
            to: "sozialamt@kreis.example".into(),
            sent_at: None,
            error: Some("451 try again later".into()),
            attempts: 2,
            given_up: false,
        }),
    });
    case.comments.push(Comment {
        id: "c1".into(),
        author: "back office".into(),
        at: "2026-11-21T10:00:00Z".into(),
        text: "Bitte Einkommensnachweis nachfordern.".into(),
    });
    case.editors.insert("aa".into(), "anna (laptop-1)".into());
    case
}

#[test]
fn a_full_case_reads_the_same_both_ways() {
    let case = full_case();
    let doc = document::create(ActorId::random(), &case, "new").expect("create");
    let read = assert_reads_agree(&doc);
    assert_eq!(read, case);
}

#[test]
fn merged_concurrent_edits_read_the_same_both_ways() {
    let mut left = document::create(ActorId::random(), &full_case(), "new").expect("create");
    let mut right = left.fork().with_actor(ActorId::random());
    // The same fields on both sides: automerge keeps both values and one
    // wins; both readers must pick the same one.
    edit(&mut left, |c| {
        c.citizen.surname = "Brandt-Meyer".into();
        c.status = CaseStatus::WaitingForDocuments;
        c.requests.remove(0);
        c.comments.clear();
    });
    edit(&mut right, |c| {
        c.citizen.surname = "Brand".into();
        c.status = CaseStatus::Complete;
        c.requests[1].documents[1].state = DocumentState::Missing;
        c.requests[1].forwarding = None;
        c.requests
            .push(Request::for_service(catalog().search("hund")[0]));
        c.editors.insert("bb".into(), "bernd (laptop-2)".into());
    });
    left.merge(&mut right).expect("merge");
    let conflicts = automerge::ReadDoc::get_all(&left, ROOT, "status").expect("status");
    assert_eq!(conflicts.len(), 2, "the test needs a real conflict");
    let merged = assert_reads_agree(&left);
    assert_eq!(merged.requests.len(), 2, "{:?}", merged.requests);
    assert_eq!(merged.editors.len(), 2);
}

#[test]
fn deleted_keys_and_wrong_shapes_read_the_same_both_ways() {
    let mut doc = document::create(ActorId::random(), &full_case(), "new").expect("create");
    // A key deleted outright, and a list where a map is expected.
    doc.delete(ROOT, "office_hour_id").expect("delete");
    let (_, citizen) = automerge::ReadDoc::get(&doc, ROOT, "citizen")
        .expect("get")
        .expect("citizen");
    doc.put_object(&citizen, "address", automerge::ObjType::List)
        .expect("put list");
    doc.commit();
    let direct = autosurgeon::hydrate::<_, Case>(&doc).map_err(|e| e.to_string());
    let read = document::read::<Case>(&doc).map_err(|e| e.to_string());
    assert!(direct.is_err(), "a list is no address");
    assert_eq!(
        read.map_err(|e| e
            .trim_start_matches("the document does not have the expected shape: ")
            .to_string()),
        direct
    );
}

#[test]
fn an_office_hour_with_ratings_reads_the_same_both_ways() {
    let office_hour = OfficeHour {
        schema_version: 1,
        id: "oh-1".into(),
        village: "Kleinbrück".into(),
        venue: "Dorfgemeinschaftshaus".into(),
        date: "2026-11-24".parse::<IsoDate>().expect("date"),
        start_time: Some("09:00".into()),
        end_time: None,
        caseworker: "anna".into(),
        department: Some("amt-1".into()),
        status: OfficeHourStatus::Open,
        closed_at: None,
        summary: None,
        ratings: BTreeMap::from([(
            "r1".to_string(),
            Rating {
                advice: Some(1),
                clarity: Some(2),
                place: None,
            },
        )]),
    };
    let doc = document::create(ActorId::random(), &office_hour, "new").expect("create");
    let direct: OfficeHour = autosurgeon::hydrate(&doc).expect("hydrate");
    let read: OfficeHour = document::read(&doc).expect("read");
    assert_eq!(read, direct);
    assert_eq!(read, office_hour);
}
