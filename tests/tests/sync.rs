//! Laptops and a real sync server on a loopback port: offline edits merge,
//! new cases propagate, departments stay apart, revoked devices are refused.

use sprechtag::sync::{SyncError, sync_now};
use sprechtag_e2e::{Laptop, Raw, TestServer};
use sprechtag_schemas::wire::{self, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use sprechtag_schemas::{CaseStatus, CaseSummary, DocumentState, document};
use sprechtag_server::storage::Role;

fn laptop(server: &TestServer, name: &str, department: &str) -> Laptop {
    server.laptop(name, Role::Caseworker, department)
}

#[test]
fn two_laptops_editing_one_case_offline_converge_with_every_edit_kept() {
    let server = TestServer::start();
    let mut a = laptop(&server, "a", "buergerbuero");
    let mut b = laptop(&server, "b", "buergerbuero");
    let case = a.new_case("Müller-Lüdenscheidt", &["personalausweis", "wohngeld"]);
    a.store
        .set_case_field(&case.id, "notes", "Kommt mit Tochter.")
        .expect("notes");
    a.sync();
    b.sync();
    assert_eq!(
        b.store
            .case(&case.id)
            .expect("b has the case")
            .citizen
            .surname,
        "Müller-Lüdenscheidt"
    );

    // Offline on both: different fields, the notes by both, a check on each.
    let r0 = &case.requests[0];
    let r1 = &case.requests[1];
    a.store
        .set_case_field(&case.id, "citizen.phone", "03456 1234")
        .expect("phone");
    a.store
        .set_case_field(&case.id, "notes", "Kommt mit Tochter. Hörgerät beachten.")
        .expect("notes a");
    a.store
        .check_document(
            &case.id,
            &r0.id,
            &r0.documents[0].id,
            DocumentState::Presented,
        )
        .expect("check a");
    b.store
        .set_case_field(&case.id, "status", "waiting_for_documents")
        .expect("status");
    b.store
        .set_case_field(&case.id, "notes", "Rückruf erwünscht. Kommt mit Tochter.")
        .expect("notes b");
    b.store
        .check_document(
            &case.id,
            &r1.id,
            &r1.documents[0].id,
            DocumentState::Missing,
        )
        .expect("check b");

    a.sync();
    b.sync();
    a.sync();

    let heads_a = a.store.case_heads(&case.id).expect("heads a");
    let heads_b = b.store.case_heads(&case.id).expect("heads b");
    let mut sorted_a = heads_a.clone();
    let mut sorted_b = heads_b.clone();
    sorted_a.sort();
    sorted_b.sort();
    assert_eq!(sorted_a, sorted_b, "same heads on both laptops");
    let on_a = a.store.case(&case.id).expect("a");
    let on_b = b.store.case(&case.id).expect("b");
    assert_eq!(on_a, on_b);
    assert_eq!(on_a.citizen.phone, "03456 1234");
    assert_eq!(on_a.status, CaseStatus::WaitingForDocuments);
    assert_eq!(
        on_a.notes.as_str(),
        "Rückruf erwünscht. Kommt mit Tochter. Hörgerät beachten."
    );
    assert_eq!(
        on_a.requests[0].documents[0].state,
        DocumentState::Presented
    );
    assert_eq!(on_a.requests[1].documents[0].state, DocumentState::Missing);
    assert_eq!(a.store.pending_count().expect("pending"), 0);
    assert_eq!(b.store.pending_count().expect("pending"), 0);
}

#[test]
fn a_case_created_on_one_laptop_appears_on_the_others_of_its_department() {
    let server = TestServer::start();
    let mut a = laptop(&server, "a", "sozialamt");
    let mut b = laptop(&server, "b", "sozialamt");
    let mut c = laptop(&server, "c", "sozialamt");
    let first = a.new_case("Özdemir", &["wohngeld"]);
    let second = b.new_case("Nowak", &["blindengeld"]);
    assert_ne!(
        first.number[..3],
        second.number[..3],
        "each laptop has its own prefix"
    );
    a.sync();
    b.sync();
    c.sync();
    a.sync();
    for laptop in [&mut a, &mut b, &mut c] {
        assert_eq!(
            laptop.store.case(&first.id).expect("first").citizen.surname,
            "Özdemir"
        );
        assert_eq!(
            laptop
                .store
                .case(&second.id)
                .expect("second")
                .citizen
                .surname,
            "Nowak"
        );
        let found = laptop
            .store
            .list_cases(&sprechtag::store::CaseFilter {
                search: "özdemir".into(),
                ..Default::default()
            })
            .expect("search");
        assert_eq!(found.total, 1, "downloaded cases are indexed");
    }
}

/// A device that has none of a case gets its summary with it, read from
/// exactly the document sent; a device that has the case gets the change
/// alone (it merges and reads the case itself).
#[test]
fn a_whole_case_comes_with_its_summary_and_a_change_without() {
    let server = TestServer::start();
    let mut a = laptop(&server, "a", "buergerbuero");
    let case = a.new_case("Özdemir", &["wohngeld"]);
    a.store
        .set_case_field(&case.id, "notes", "Rollator")
        .expect("notes");
    a.sync();
    let (raw, _laptop) = Raw::new(&server);
    let fetch = |raw: &Raw, cursor: u64| -> SyncResponse {
        let (status, body) = raw.sync(wire::encode(&SyncRequest {
            trust: None,
            protocol: PROTOCOL_VERSION,
            cursor,
            uploads: vec![],
            max_response_bytes: 0,
            summaries: true,
            opened: Vec::new(),
            erase: Vec::new(),
            resync: false,
        }));
        assert_eq!(status, 200);
        wire::decode(&body).expect("a sync response")
    };

    let first = fetch(&raw, 0);
    let whole = first
        .downloads
        .iter()
        .find(|d| d.doc_id == case.id)
        .expect("the case is sent");
    let sent = document::load(&whole.changes).expect("the document loads");
    let summary = CaseSummary::decode(whole.summary.as_deref().expect("with a summary"))
        .expect("in this build's layout");
    assert_eq!(summary, document::read::<CaseSummary>(&sent).expect("read"));
    assert_eq!(summary.citizen.surname, "Özdemir");
    assert_eq!(summary.notes.as_str(), "Rollator");

    a.store
        .set_case_field(&case.id, "notes", "Rollator, Neffe fährt")
        .expect("notes");
    a.sync();
    let second = fetch(&raw, first.cursor);
    let change = second
        .downloads
        .iter()
        .find(|d| d.doc_id == case.id)
        .expect("the change is sent");
    assert!(change.summary.is_none());
    assert!(
        change.changes.len() < whole.changes.len() / 2,
        "changes only"
    );

    // A device that joins now gets the summary of the case as it is now.
    let (late, _laptop) = Raw::new(&server);
    let response = fetch(&late, 0);
    let summary = response.downloads[0].summary.as_deref().expect("a summary");
    assert_eq!(
        CaseSummary::decode(summary)
            .expect("decodes")
            .notes
            .as_str(),
        "Rollator, Neffe fährt"
    );
}

#[test]
fn a_device_of_another_department_cannot_obtain_the_case_by_any_request() {
    let server = TestServer::start();
    let mut owner = laptop(&server, "owner", "versorgungsamt");
    let mut other = laptop(&server, "other", "steueramt");
    let case = owner.new_case("Geheim", &["schwerbehindertenausweis"]);
    owner.sync();

    // A plain sync from the start brings nothing of the other department.
    other.sync();
    assert!(other.store.case(&case.id).is_err());

    // Nor does claiming the document: an upload under the case's id is refused.
    let mut forged = other.new_case("Fälschung", &["hund-anmelden"]);
    forged.id = case.id.clone();
    forged.notes = autosurgeon::Text::with_value(forged.notes.as_str());
    let bytes = {
        let mut doc =
            sprechtag_schemas::document::create(automerge::ActorId::random(), &forged, "forged")
                .expect("forge");
        doc.save()
    };
    let request = sprechtag_schemas::wire::SyncRequest {
        trust: None,
        protocol: sprechtag_schemas::wire::PROTOCOL_VERSION,
        cursor: 0,
        max_response_bytes: 0,
        summaries: true,
        uploads: vec![sprechtag_schemas::wire::Upload {
            attestations: Vec::new(),
            doc_id: case.id.clone(),
            changes: bytes,
            heads: Vec::new(),
        }],
        opened: Vec::new(),
        erase: Vec::new(),
        resync: false,
    };
    let token = other
        .store
        .enrolment()
        .expect("enrolment")
        .expect("enrolled")
        .token;
    let client = sprechtag::sync::HttpClient::new(&server.url).expect("client");
    let answer = client
        .sync(&token, sprechtag_schemas::wire::encode(&request))
        .expect("the server answers");
    let response: sprechtag_schemas::wire::SyncResponse =
        sprechtag_schemas::wire::decode(&answer.body).expect("decode");
    assert!(response.accepted.is_empty());
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(response.rejected[0].code, "forbidden");
    assert!(response.downloads.iter().all(|d| d.doc_id != case.id));

    // The owner's case is untouched, and an admin sees it.
    owner.sync();
    assert_eq!(
        owner.store.case(&case.id).expect("owner").citizen.surname,
        "Geheim"
    );
    let mut admin = server.laptop("admin", Role::Admin, "it");
    admin.sync();
    assert_eq!(
        admin.store.case(&case.id).expect("admin").citizen.surname,
        "Geheim"
    );
}

#[test]
fn a_revoked_device_is_refused_with_a_clear_message() {
    let server = TestServer::start();
    let mut a = laptop(&server, "a", "buergerbuero");
    a.new_case("Weber", &["meldebescheinigung"]);
    a.sync();
    let device_id = a
        .store
        .enrolment()
        .expect("enrolment")
        .expect("enrolled")
        .device_id;
    use sprechtag_server::storage::Storage;
    assert!(
        server
            .storage()
            .revoke_device(&device_id, false)
            .expect("revoke")
    );
    a.new_case("Koch", &["meldebescheinigung"]);
    let error = sync_now(&mut a.store).expect_err("refused");
    assert!(matches!(error, SyncError::Revoked), "{error:?}");
    assert!(error.to_string().contains("revoked"));
    assert!(error.is_permanent());
    assert_eq!(
        a.store.pending_count().expect("pending"),
        1,
        "the new case stays on the laptop"
    );
}

#[test]
fn an_idle_reconnect_costs_a_few_hundred_bytes_whatever_the_number_of_cases() {
    let server = TestServer::start();
    let mut a = laptop(&server, "a", "buergerbuero");
    for i in 0..300 {
        a.new_case(&format!("Fall{i}"), &["personalausweis"]);
    }
    a.sync();
    let idle = a.sync();
    assert_eq!(idle.round_trips, 1);
    assert!(idle.bytes_up + idle.bytes_down < 400, "{idle:?}");
}

#[test]
fn an_unknown_enrolment_code_is_refused() {
    let server = TestServer::start();
    let mut laptop = Laptop::new();
    let error =
        sprechtag::sync::enrol(&mut laptop.store, &server.url, "AAAA-BBBB").expect_err("refused");
    assert!(matches!(error, SyncError::BadCode), "{error:?}");
    // A code works once.
    let code = server.enrolment_code("x", Role::Caseworker, "d");
    sprechtag::sync::enrol(&mut laptop.store, &server.url, &code).expect("first use");
    let mut second = Laptop::new();
    assert!(sprechtag::sync::enrol(&mut second.store, &server.url, &code).is_err());
}

/// An enrolment cut short (the app closed between taking the prefix and
/// renumbering) leaves a case with a number of another prefix that the
/// server never took: the next sync numbers it with the device's prefix
/// first, and the server takes it.
#[test]
fn a_case_left_with_another_prefix_is_renumbered_before_it_is_uploaded() {
    let server = TestServer::start();
    let mut field = laptop(&server, "field", "buergerbuero");
    let prefix = field.store.device().prefix.clone();
    field
        .store
        .set_device_prefix("ZZZ")
        .expect("another prefix");
    let case = field.new_case("Übrig", &["wohngeld"]);
    assert!(case.number.starts_with("ZZZ-"), "{}", case.number);
    field
        .store
        .set_device_prefix(&prefix)
        .expect("the enrolled prefix");

    let report = field.sync();
    assert!(report.rejected.is_empty(), "{report:?}");
    let renumbered = field
        .store
        .case(&case.number)
        .expect("found by its old number");
    assert!(
        renumbered.number.starts_with(&format!("{prefix}-")),
        "{}",
        renumbered.number
    );
    assert_eq!(renumbered.former_numbers, vec![case.number.clone()]);

    let mut office = laptop(&server, "office", "buergerbuero");
    office.sync();
    assert_eq!(
        office
            .store
            .case(&case.number)
            .expect("on the other laptop")
            .number,
        renumbered.number
    );
    // Once the server has it, the number stays: a later sync changes nothing.
    let before = field.store.case(&case.id).expect("case");
    field.sync();
    assert_eq!(field.store.case(&case.id).expect("case"), before);
}
