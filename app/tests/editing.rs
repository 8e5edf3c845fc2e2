//! The editor's way of saving (`Store::save_case`): a copy of the whole case
//! made on the version the editor read, merged with what reached the store
//! meanwhile. Fields the editor does not edit never change through it.

use std::sync::Arc;

use sprechtag::store::{Enrolment, Store};
use sprechtag_schemas::{Case, Citizen, Comment, ReviewState};

const PASSPHRASE: &str = "editing-passphrase";

fn enrolled_store(dir: &std::path::Path, role: sprechtag_schemas::Role) -> Store {
    let catalog = Arc::new(sprechtag::catalog::shipped().expect("catalogue"));
    let mut store = Store::create(dir, PASSPHRASE, catalog).expect("create");
    store
        .enrol(
            &Enrolment {
                server_url: "http://127.0.0.1:9".into(),
                token: "t".into(),
                device_id: "d".into(),
                user: "Anna Schäfer".into(),
                role,
                department: "buergerbuero".into(),
                allow_insecure_http: false,
                ca_cert: None,
            },
            "ANS",
        )
        .expect("enrol");
    store
}

fn draft(surname: &str) -> Case {
    Case::draft(Citizen {
        surname: surname.into(),
        ..Citizen::default()
    })
}

#[test]
fn an_editor_copy_that_never_saw_the_department_keeps_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = enrolled_store(dir.path(), sprechtag_schemas::Role::Caseworker);
    let created = store.create_case(draft("Krüger")).expect("create");
    assert_eq!(created.department.as_deref(), Some("buergerbuero"));
    let heads = store.case_heads(&created.id).expect("heads");

    // The copy an editor held before the store filled in the department.
    let mut copy = created.clone();
    copy.department = None;
    copy.editors.clear();
    copy.citizen.given_names = "Hans".into();
    let (saved, _) = store.save_case(&heads, copy).expect("save");
    assert_eq!(saved.department.as_deref(), Some("buergerbuero"));
    let stored = store.case(&created.id).expect("case");
    assert_eq!(stored.department.as_deref(), Some("buergerbuero"));
    assert_eq!(stored.citizen.given_names, "Hans");
    assert_eq!(stored.editors, created.editors, "editors only grow");
}

#[test]
fn identity_fields_and_the_time_done_stay_as_stored_whatever_the_copy_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = enrolled_store(dir.path(), sprechtag_schemas::Role::Caseworker);
    let created = store.create_case(draft("Lorenz")).expect("create");
    let done = store
        .set_case_field(&created.id, "status", "done")
        .expect("done");
    let done_at = done.done_at.clone().expect("the store records when");
    let heads = store.case_heads(&created.id).expect("heads");
    let mut copy = done.clone();
    copy.created_by = "Jemand anders".into();
    copy.created_at = "2001-01-01T00:00:00Z".into();
    copy.schema_version = 99;
    copy.done_at = None;
    copy.citizen.phone = "0171 555".into();
    let (saved, _) = store.save_case(&heads, copy).expect("save");
    assert_eq!(saved.created_by, done.created_by);
    assert_eq!(saved.created_at, done.created_at);
    assert_eq!(saved.schema_version, done.schema_version);
    assert_eq!(saved.done_at.as_deref(), Some(done_at.as_str()));
    assert_eq!(saved.citizen.phone, "0171 555");
}

#[test]
fn a_save_on_an_old_base_keeps_the_review_and_comments_that_arrived_meanwhile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = enrolled_store(dir.path(), sprechtag_schemas::Role::Backoffice);
    let created = store.create_case(draft("Weber")).expect("create");
    let (opened, base) = store.case_with_heads(&created.id).expect("open");

    // Sync brings the back office's verdict and a comment while the editor is open.
    store
        .review_case(
            &created.id,
            ReviewState::NeedsClarification,
            Some("Bitte Mietvertrag nachreichen"),
        )
        .expect("review");
    let mut copy = opened.clone();
    copy.citizen.phone = "03456 1234".into();
    let (at_base, next_base) = store.save_case(&base, copy).expect("save");
    assert!(
        at_base.review.is_none(),
        "the editor's copy stays on its base"
    );
    let stored = store.case(&created.id).expect("case");
    assert_eq!(stored.citizen.phone, "03456 1234");
    assert_eq!(
        stored.review.as_ref().map(|r| r.state),
        Some(ReviewState::NeedsClarification)
    );
    assert_eq!(stored.comments.len(), 1);

    // The next save, on the base the store returned, keeps them too.
    let mut copy = at_base;
    copy.comments.push(Comment {
        id: sprechtag_schemas::new_id(),
        author: String::new(),
        at: "2026-12-01T10:00:00Z".into(),
        text: "Liegt vor.".into(),
    });
    store.save_case(&next_base, copy).expect("second save");
    let stored = store.case(&created.id).expect("case");
    assert!(stored.review.is_some());
    assert_eq!(stored.comments.len(), 2, "{:?}", stored.comments);
    let added = stored
        .comments
        .iter()
        .find(|c| c.text == "Liegt vor.")
        .expect("the new comment");
    assert_eq!(added.author, "Anna Schäfer (ANS)", "the store signs it");
}

#[test]
fn a_save_made_beside_a_synced_change_is_named_in_the_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = enrolled_store(dir.path(), sprechtag_schemas::Role::Caseworker);
    let created = store.create_case(draft("Weber")).expect("create");
    let (opened, base) = store.case_with_heads(&created.id).expect("open");
    // Something arrives between the editor's reading and its save.
    store
        .set_case_field(&created.id, "status", "waiting_for_documents")
        .expect("another change");
    let mut copy = opened;
    copy.citizen.phone = "03456 1234".into();
    store.save_case(&base, copy).expect("save beside it");
    let history = store.case_history(&created.id).expect("history");
    let edit = history
        .iter()
        .find(|entry| entry.changed.iter().any(|path| path == "citizen.phone"))
        .expect("the editor's change");
    assert_eq!(edit.by, "Anna Schäfer (ANS)", "{history:?}");
}

#[test]
fn a_copy_from_a_version_the_store_does_not_know_is_refused_not_written_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = enrolled_store(dir.path(), sprechtag_schemas::Role::Backoffice);
    let created = store.create_case(draft("Weber")).expect("create");
    store
        .review_case(&created.id, ReviewState::Approved, Some("passt"))
        .expect("review");
    // Heads of another document: a version this case never had.
    let other = store.create_case(draft("Lorenz")).expect("other");
    let foreign = store.case_heads(&other.id).expect("heads");
    let mut copy = created.clone();
    copy.citizen.phone = "0171".into();
    let refused = store.save_case(&foreign, copy);
    assert!(
        matches!(
            refused,
            Err(sprechtag::store::StoreError::UnknownVersion(ref number)) if *number == created.number
        ),
        "{refused:?}"
    );
    let stored = store.case(&created.id).expect("case");
    assert!(stored.review.is_some(), "the review stays");
    assert!(stored.citizen.phone.is_empty());
}

#[test]
fn a_caseworker_device_refuses_the_back_office_s_work_early_and_writes_nothing() {
    use sprechtag::store::StoreError;
    use sprechtag_schemas::permissions::Part;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = enrolled_store(dir.path(), sprechtag_schemas::Role::Caseworker);
    let catalog = sprechtag::catalog::shipped().expect("catalogue");
    let mut visit = draft("Weber");
    visit.requests.push(sprechtag_schemas::Request::for_service(
        catalog.service("wohngeld").expect("wohngeld"),
    ));
    let case = store.create_case(visit).expect("create");
    let heads = store.case_heads(&case.id).expect("heads");
    let refused = |result: Result<Case, StoreError>, part: Part| match result {
        Err(StoreError::Forbidden { part: refused, .. }) => assert_eq!(refused, part),
        other => panic!("expected a refusal of {part:?}: {other:?}"),
    };
    refused(
        store.review_case(&case.id, ReviewState::Approved, None),
        Part::Review,
    );
    refused(
        store.forward_request(&case.id, &case.requests[0].id, "sozialamt", None),
        Part::Forwarding,
    );
    refused(
        store.answer_forwarding(&case.id, &case.requests[0].id, "ok", true),
        Part::Forwarding,
    );
    let plan = store.plan_office_hour(
        sprechtag::store::NewOfficeHour {
            village: "Kleinbrück".into(),
            venue: "Dorfgemeinschaftshaus".into(),
            date: sprechtag_schemas::IsoDate::today(),
            caseworker: "Anna Schäfer".into(),
        },
        "09:00",
        "12:00",
    );
    assert!(
        matches!(
            plan,
            Err(StoreError::Forbidden {
                part: Part::Plan,
                ..
            })
        ),
        "{plan:?}"
    );
    assert_eq!(
        store.case_heads(&case.id).expect("heads"),
        heads,
        "nothing written"
    );
    // What a caseworker does is not refused.
    store
        .comment_case(&case.id, "Liegt vor.")
        .expect("a comment");
}
