//! Two copies of one case edited apart end identical, with every edit kept.

mod common;

use automerge::{ActorId, AutoCommit};
use common::{catalog, edit};
use sprechtag_schemas::document;
use sprechtag_schemas::{Case, CaseStatus, Citizen, DocumentState, Request};

fn case_with_two_requests() -> Case {
    let catalog = catalog();
    let mut case = Case::draft(Citizen {
        surname: "Müller-Lüdenscheidt".into(),
        given_names: "Grete".into(),
        ..Citizen::default()
    });
    case.number = "KMR-0001".into();
    case.notes = "Kommt mit Tochter.".into();
    let services = catalog.search("ausw");
    case.requests.push(Request::for_service(services[0]));
    case.requests
        .push(Request::for_service(&catalog.services[1]));
    case.complete_draft(&catalog).expect("complete");
    case
}

fn set_notes(doc: &mut AutoCommit, notes: &str) {
    let notes = notes.to_string();
    edit(doc, move |c| c.notes.update(&notes));
}

fn fork_pair() -> (AutoCommit, AutoCommit, Case) {
    let case = case_with_two_requests();
    let mut left = document::create(ActorId::random(), &case, "new").expect("create");
    let right = left.fork().with_actor(ActorId::random());
    (left, right, case)
}

fn merge_both_ways(left: &mut AutoCommit, right: &mut AutoCommit) -> Case {
    left.merge(right).expect("merge into left");
    right.merge(left).expect("merge into right");
    assert_eq!(
        left.get_heads(),
        right.get_heads(),
        "same heads after merge"
    );
    let from_left: Case = document::read(left).expect("read left");
    let from_right: Case = document::read(right).expect("read right");
    assert_eq!(from_left, from_right);
    from_left
}

#[test]
fn two_copies_edited_apart_converge_with_every_edit_kept() {
    let (mut left, mut right, case) = fork_pair();
    let first_request = case.requests[0].id.clone();
    let first_doc = case.requests[0].documents[0].id.clone();
    let second_request = case.requests[1].id.clone();
    let second_doc = case.requests[1].documents[0].id.clone();

    edit(&mut left, |c| c.citizen.phone = "03456 12345".into());
    edit(&mut right, |c| c.status = CaseStatus::WaitingForDocuments);
    set_notes(&mut left, "Kommt mit Tochter. Hörgerät beachten.");
    set_notes(&mut right, "Rückruf erwünscht. Kommt mit Tochter.");
    edit(&mut left, |c| {
        c.request_mut(&first_request)
            .and_then(|r| r.document_mut(&first_doc))
            .expect("doc")
            .state = DocumentState::Presented;
    });
    edit(&mut right, |c| {
        let doc = c
            .request_mut(&second_request)
            .and_then(|r| r.document_mut(&second_doc))
            .expect("doc");
        doc.state = DocumentState::Missing;
        doc.note = "bringt Enkel vorbei".into();
    });

    let merged = merge_both_ways(&mut left, &mut right);
    assert_eq!(merged.citizen.phone, "03456 12345");
    assert_eq!(merged.status, CaseStatus::WaitingForDocuments);
    assert_eq!(
        merged.notes.as_str(),
        "Rückruf erwünscht. Kommt mit Tochter. Hörgerät beachten."
    );
    assert_eq!(
        merged.requests[0].documents[0].state,
        DocumentState::Presented
    );
    assert_eq!(
        merged.requests[1].documents[0].state,
        DocumentState::Missing
    );
    assert_eq!(merged.requests[1].documents[0].note, "bringt Enkel vorbei");
    assert_eq!(merged.citizen.surname, "Müller-Lüdenscheidt");
}

#[test]
fn notes_edited_after_umlauts_on_both_sides_keep_both_words() {
    // Regression: autosurgeon splices at byte offsets; without automerge's
    // utf8-indexing the second edit after "ä" landed one character off.
    let (mut left, mut right, _) = fork_pair();
    set_notes(&mut left, "Äöü ß: Kommt mit Tochter.");
    set_notes(&mut right, "Kommt mit Tochter. Grüße");
    set_notes(&mut left, "Äöü ß: Kommt mit Tochter, Ärztin.");
    let merged = merge_both_ways(&mut left, &mut right);
    assert_eq!(
        merged.notes.as_str(),
        "Äöü ß: Kommt mit Tochter, Ärztin. Grüße"
    );
}

#[test]
fn requests_added_on_both_copies_are_both_kept() {
    let catalog = catalog();
    let (mut left, mut right, _) = fork_pair();
    let dog = catalog.search("hund")[0].clone();
    let housing = catalog.search("wohngeld")[0].clone();
    edit(&mut left, |c| c.requests.push(Request::for_service(&dog)));
    edit(&mut right, |c| {
        c.requests.push(Request::for_service(&housing))
    });
    let merged = merge_both_ways(&mut left, &mut right);
    let services: Vec<&str> = merged
        .requests
        .iter()
        .map(|r| r.service_id.as_str())
        .collect();
    assert_eq!(merged.requests.len(), 4, "{services:?}");
    assert!(services.contains(&dog.id.as_str()));
    assert!(services.contains(&housing.id.as_str()));
}

#[test]
fn writing_back_an_unchanged_case_makes_no_change() {
    // Were unchanged fields rewritten, a stale copy would overwrite another
    // device's concurrent edit of the same field.
    let (mut left, _, _) = fork_pair();
    let heads = left.get_heads();
    edit(&mut left, |_| {});
    assert_eq!(left.get_heads(), heads);
}

#[test]
fn a_stale_full_case_assigned_over_a_newer_one_changes_only_what_differs() {
    let (mut left, mut right, _) = fork_pair();
    // The UI holds a copy, edits the phone, and writes the whole case back
    // while the other device changed the status.
    let mut ui_copy: Case = document::read(&left).expect("read");
    ui_copy.citizen.phone = "0171 555".into();
    edit(&mut right, |c| c.status = CaseStatus::Complete);
    edit(&mut left, move |c| c.assign(ui_copy));
    let merged = merge_both_ways(&mut left, &mut right);
    assert_eq!(merged.status, CaseStatus::Complete);
    assert_eq!(merged.citizen.phone, "0171 555");
}
