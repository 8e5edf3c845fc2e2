//! The server trusts nothing a device sends, an enrolled one neither. Each
//! test is an attack from a laptop that holds a valid token, made with
//! automerge directly (the app itself refuses to make such changes), sent
//! to a real server; it must be refused, nothing of it stored, and no other
//! laptop may ever receive it.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use sprechtag_e2e::{Laptop, TestServer};
use sprechtag_schemas::document;
use sprechtag_schemas::wire::{self, PROTOCOL_VERSION, SyncRequest, SyncResponse, Upload};
use sprechtag_server::storage::Role;

/// A laptop, its token, and the server's view of its cases.
struct Device {
    laptop: Laptop,
    token: String,
}

impl Device {
    fn enrolled(server: &TestServer, name: &str, role: Role) -> Device {
        let laptop = server.laptop(name, role, "buergerbuero");
        let token = laptop
            .store
            .enrolment()
            .expect("enrolment")
            .expect("enrolled")
            .token;
        Device { laptop, token }
    }

    /// The case as this laptop holds it, as an automerge document that
    /// writes with this device's own actor.
    fn document(&mut self, id: &str) -> AutoCommit {
        let bytes = self.laptop.store.export_case(id).expect("export");
        document::load(&bytes)
            .expect("load")
            .with_actor(self.laptop.store.device().actor())
    }

    /// Sends `doc`'s changes since `since` the way the app would.
    fn upload(
        &self,
        server: &TestServer,
        id: &str,
        doc: &mut AutoCommit,
        since: &[automerge::ChangeHash],
    ) -> SyncResponse {
        let request = SyncRequest {
            trust: None,
            protocol: PROTOCOL_VERSION,
            cursor: 0,
            uploads: vec![Upload {
                attestations: Vec::new(),
                doc_id: id.to_string(),
                changes: if since.is_empty() {
                    doc.save_nocompress()
                } else {
                    doc.save_after(since)
                },
                heads: wire::heads_to_bytes(&doc.get_heads()),
            }],
            max_response_bytes: 0,
            summaries: false,
            opened: Vec::new(),
            erase: Vec::new(),
            resync: false,
        };
        let client = sprechtag::sync::HttpClient::new(&server.url).expect("client");
        let answer = client
            .sync(&self.token, wire::encode(&request))
            .expect("the server answers");
        wire::decode(&answer.body).expect("a sync response")
    }
}

fn refused_with(response: &SyncResponse, code: &str) -> String {
    assert!(response.accepted.is_empty(), "{response:?}");
    assert_eq!(response.rejected.len(), 1, "{response:?}");
    assert_eq!(response.rejected[0].code, code, "{response:?}");
    response.rejected[0].message.clone()
}

/// A case recorded on the field laptop and synced, and a back-office laptop
/// that has it too.
fn setup() -> (TestServer, Device, Device, String) {
    let server = TestServer::start();
    let mut field = Device::enrolled(&server, "field", Role::Caseworker);
    let mut office = Device::enrolled(&server, "office", Role::Backoffice);
    let case = field.laptop.new_case("Krüger", &["wohngeld"]);
    field.laptop.sync();
    office.laptop.sync();
    (server, field, office, case.id)
}

fn put_review(doc: &mut AutoCommit, state: &str, by: &str) {
    let review = doc
        .put_object(ROOT, "review", ObjType::Map)
        .expect("review");
    doc.put(&review, "state", state).expect("state");
    doc.put(&review, "by", by).expect("by");
    doc.put(&review, "at", "2026-12-01T10:00:00Z").expect("at");
    doc.commit();
}

#[test]
fn a_caseworker_device_giving_a_verdict_is_refused_and_nobody_receives_it() {
    let (server, mut field, mut office, id) = setup();
    let mut doc = field.document(&id);
    let heads = doc.get_heads();
    put_review(&mut doc, "approved", "field-user (ANS)");
    let response = field.upload(&server, &id, &mut doc, &heads);
    let message = refused_with(&response, "forbidden_change");
    assert!(message.starts_with("review"), "{message}");
    office.laptop.sync();
    assert!(
        office
            .laptop
            .store
            .case(&id)
            .expect("case")
            .review
            .is_none()
    );
}

#[test]
fn a_caseworker_device_forwarding_a_request_is_refused() {
    let (server, mut field, _office, id) = setup();
    let mut doc = field.document(&id);
    let heads = doc.get_heads();
    let requests = doc.get(ROOT, "requests").expect("get").expect("requests").1;
    let request = doc.get(&requests, 0).expect("get").expect("request").1;
    let forwarding = doc
        .put_object(&request, "forwarding", ObjType::Map)
        .expect("forwarding");
    doc.put(&forwarding, "office_id", "sozialamt")
        .expect("office");
    doc.put(&forwarding, "due", "2026-12-24").expect("due");
    doc.commit();
    let message = refused_with(
        &field.upload(&server, &id, &mut doc, &heads),
        "forbidden_change",
    );
    assert!(message.starts_with("requests.0.forwarding"), "{message}");
}

#[test]
fn a_verdict_signed_in_another_name_is_refused_even_from_the_back_office() {
    let (server, _field, mut office, id) = setup();
    let mut doc = office.document(&id);
    let heads = doc.get_heads();
    put_review(&mut doc, "approved", "Dr. Weber (Backoffice-Leitung)");
    let message = refused_with(
        &office.upload(&server, &id, &mut doc, &heads),
        "forbidden_change",
    );
    assert!(message.contains("Dr. Weber"), "{message}");
    // In its own name it is taken.
    let mut doc = office.document(&id);
    let heads = doc.get_heads();
    put_review(&mut doc, "approved", "office-user (XYZ)");
    let response = office.upload(&server, &id, &mut doc, &heads);
    assert_eq!(response.accepted, vec![id]);
}

#[test]
fn an_existing_comment_can_be_neither_edited_nor_deleted_by_anyone() {
    let (server, mut field, mut office, id) = setup();
    office
        .laptop
        .store
        .comment_case(&id, "Bitte Mietvertrag nachreichen")
        .expect("comment");
    office.laptop.sync();
    field.laptop.sync();
    for device in [&mut field, &mut office] {
        let mut doc = device.document(&id);
        let heads = doc.get_heads();
        let comments = doc.get(ROOT, "comments").expect("get").expect("comments").1;
        let comment = doc.get(&comments, 0).expect("get").expect("comment").1;
        doc.put(&comment, "text", "Alles liegt vor.").expect("edit");
        doc.commit();
        let message = refused_with(
            &device.upload(&server, &id, &mut doc, &heads),
            "forbidden_change",
        );
        assert!(message.starts_with("comments.0.text"), "{message}");

        let mut doc = device.document(&id);
        let heads = doc.get_heads();
        let comments = doc.get(ROOT, "comments").expect("get").expect("comments").1;
        doc.delete(&comments, 0).expect("delete");
        doc.commit();
        refused_with(
            &device.upload(&server, &id, &mut doc, &heads),
            "forbidden_change",
        );
    }
    // Adding one is what everybody may.
    field
        .laptop
        .store
        .comment_case(&id, "Liegt vor.")
        .expect("comment");
    field.laptop.sync();
    office.laptop.sync();
    let comments = office.laptop.store.case(&id).expect("case").comments;
    let texts: Vec<&str> = comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.contains(&"Bitte Mietvertrag nachreichen"));
}

/// A new case as a device could write it with automerge directly.
fn new_case_doc(device: &Device, id: &str, number: &str, created_by: &str) -> AutoCommit {
    let mut case = sprechtag_schemas::Case::draft(sprechtag_schemas::Citizen {
        surname: "Fremd".into(),
        ..sprechtag_schemas::Citizen::default()
    });
    case.id = id.into();
    case.number = number.into();
    case.created_by = created_by.into();
    case.department = Some("buergerbuero".into());
    document::create(device.laptop.store.device().actor(), &case, "new case").expect("create")
}

#[test]
fn a_new_case_numbered_with_another_device_s_prefix_or_in_another_name_is_refused() {
    let (server, field, mut office, _id) = setup();
    let own = field.laptop.store.device().prefix.clone();
    let theirs = office.laptop.store.device().prefix.clone();
    let user = field
        .laptop
        .store
        .enrolment()
        .expect("enrolment")
        .expect("enrolled")
        .user;
    let id = "00000000-0000-4000-8000-0000000000a1";

    // The back office's number, on a case of the field laptop.
    let mut doc = new_case_doc(&field, id, &format!("{theirs}-0042"), &user);
    let message = refused_with(&field.upload(&server, id, &mut doc, &[]), "foreign_number");
    assert!(message.contains(&own), "{message}");
    // Its own prefix, but recorded in someone else's name.
    let mut doc = new_case_doc(&field, id, &format!("{own}-0042"), "Dr. Weber");
    let message = refused_with(
        &field.upload(&server, id, &mut doc, &[]),
        "forbidden_change",
    );
    assert!(message.contains("created_by"), "{message}");
    // A prefix that merely begins like its own.
    let mut doc = new_case_doc(&field, id, &format!("{own}X-0042"), &user);
    refused_with(&field.upload(&server, id, &mut doc, &[]), "foreign_number");

    // Nobody received any of them.
    office.laptop.sync();
    assert!(office.laptop.store.case(id).is_err());
    // Numbered and signed as enrolled, the same case is taken.
    let mut doc = new_case_doc(&field, id, &format!("{own}-0042"), &user);
    let response = field.upload(&server, id, &mut doc, &[]);
    assert!(response.rejected.is_empty(), "{response:?}");
    assert_eq!(response.accepted.len(), 1, "{response:?}");
}

#[test]
fn changes_by_an_actor_no_device_registered_are_refused() {
    let (server, mut field, _office, id) = setup();
    let mut doc = field.document(&id).with_actor(automerge::ActorId::random());
    let heads = doc.get_heads();
    doc.put(ROOT, "status", "complete").expect("status");
    doc.commit();
    refused_with(
        &field.upload(&server, &id, &mut doc, &heads),
        "unknown_author",
    );
}

/// Regression: the server attributed a change to the device whose actor
/// wrote it, and a device may write with any actor. A caseworker laptop
/// wrote a verdict under the back office's actor and the server took it
/// as the back office's. Now another device's change is taken only with
/// its author's signature (relayed from the hall), which a forger lacks.
#[test]
fn a_verdict_written_under_the_back_offices_actor_is_refused_without_its_signature() {
    let (server, mut field, mut office, id) = setup();
    let office_actor = office.laptop.store.device().actor();
    let mut doc = field.document(&id).with_actor(office_actor);
    let heads = doc.get_heads();
    put_review(&mut doc, "approved", "office-user");
    let message = refused_with(
        &field.upload(&server, &id, &mut doc, &heads),
        "forbidden_change",
    );
    assert!(
        message.contains("without its author's signature"),
        "{message}"
    );
    // Nobody receives it.
    office.laptop.sync();
    let case = office.laptop.store.case(&id).expect("case");
    assert!(case.review.is_none(), "{:?}", case.review);
}

#[test]
fn a_case_uploaded_under_another_id_is_refused_and_the_real_one_stays() {
    let (server, mut field, mut office, id) = setup();
    // A copy of the real case, sent as a new document.
    let mut copy = field.document(&id);
    copy.put(ROOT, "status", "done").expect("status");
    copy.commit();
    let message = refused_with(
        &field.upload(
            &server,
            "00000000-0000-4000-8000-000000000001",
            &mut copy,
            &[],
        ),
        "invalid_document",
    );
    assert!(message.contains(&id), "{message}");
    // A case whose own id is not the id it is sent under.
    let mut other = field.document(&id);
    other.put(ROOT, "id", "something-else").expect("id");
    other.commit();
    refused_with(
        &field.upload(
            &server,
            "00000000-0000-4000-8000-000000000002",
            &mut other,
            &[],
        ),
        "invalid_document",
    );
    office.laptop.sync();
    let page = office
        .laptop
        .store
        .list_cases(&sprechtag::store::CaseFilter::default())
        .expect("list");
    assert_eq!(page.total, 1);
    assert_eq!(
        office.laptop.store.case(&id).expect("case").status.as_str(),
        "open"
    );
}

#[test]
fn a_valid_case_followed_by_junk_is_refused_and_the_laptops_sync_on() {
    let (server, mut field, mut office, _id) = setup();
    let fresh = field.laptop.new_case("Lorenz", &["wohngeld"]);
    let mut doc = field.document(&fresh.id);
    let mut bytes = doc.save_nocompress();
    bytes.extend(b"\x85\x6f\x4a\x83junk that automerge would skip");
    let request = SyncRequest {
        trust: None,
        protocol: PROTOCOL_VERSION,
        cursor: 0,
        uploads: vec![Upload {
            attestations: Vec::new(),
            doc_id: fresh.id.clone(),
            changes: bytes,
            heads: wire::heads_to_bytes(&doc.get_heads()),
        }],
        max_response_bytes: 0,
        summaries: false,
        opened: Vec::new(),
        erase: Vec::new(),
        resync: false,
    };
    let client = sprechtag::sync::HttpClient::new(&server.url).expect("client");
    let answer = client
        .sync(&field.token, wire::encode(&request))
        .expect("answer");
    let response: SyncResponse = wire::decode(&answer.body).expect("decode");
    refused_with(&response, "bad_changes");
    // The app's own upload of the same case goes through, and the back
    // office's sync is not stopped by anything.
    field.laptop.sync();
    office.laptop.sync();
    assert!(office.laptop.store.case(&fresh.id).is_ok());
}

#[test]
fn a_caseworker_device_planning_a_tour_is_refused_but_opening_an_office_hour_is_not() {
    let server = TestServer::start();
    let mut field = Device::enrolled(&server, "field", Role::Caseworker);
    field
        .laptop
        .store
        .open_office_hour(sprechtag::store::NewOfficeHour {
            village: "Kleinbrück".into(),
            venue: "Dorfgemeinschaftshaus".into(),
            date: sprechtag_schemas::IsoDate::today(),
            caseworker: "Anna Schäfer".into(),
        })
        .expect("open");
    field.laptop.sync();
    // A planned office hour, made by hand with this device's actor.
    let mut plan = AutoCommit::new().with_actor(field.laptop.store.device().actor());
    let id = "11111111-2222-4333-8444-555555555555";
    let office_hour = sprechtag_schemas::OfficeHour {
        schema_version: sprechtag_schemas::SCHEMA_VERSION,
        id: id.into(),
        village: "Großweiler".into(),
        venue: "Feuerwehrhaus".into(),
        date: sprechtag_schemas::IsoDate::today(),
        start_time: Some("09:00".into()),
        end_time: Some("12:00".into()),
        caseworker: "Anna Schäfer".into(),
        department: Some("buergerbuero".into()),
        status: sprechtag_schemas::OfficeHourStatus::Planned,
        closed_at: None,
        summary: None,
        ratings: std::collections::BTreeMap::new(),
    };
    autosurgeon::reconcile(&mut plan, &office_hour).expect("reconcile");
    plan.commit();
    let message = refused_with(
        &field.upload(&server, id, &mut plan, &[]),
        "forbidden_change",
    );
    assert!(message.starts_with("status"), "{message}");
    use sprechtag_server::storage::Storage;
    let storage = server.storage();
    let mut tx = storage.begin().expect("tx");
    assert!(
        tx.document_meta(id).expect("meta").is_none(),
        "nothing stored"
    );
}

/// Peak memory of a process, from Linux's `VmHWM`, in bytes.
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number");
    kib * 1024
}

#[test]
fn an_upload_that_inflates_to_128_mib_is_refused_within_100_mb() {
    let dir = tempfile::tempdir().expect("server dir");
    let server = sprechtag_e2e::ServerProcess::start(dir.path(), sprechtag_e2e::free_port());
    let code = sprechtag_e2e::enrolment_code(dir.path(), "field", Role::Caseworker, "buergerbuero");
    let laptop = Laptop::enrolled(&server.url, &code);
    let token = laptop
        .store
        .enrolment()
        .expect("enrolment")
        .expect("enrolled")
        .token;
    // 128 MiB of one letter compress to a few hundred kilobytes.
    let mut bomb = AutoCommit::new().with_actor(laptop.store.device().actor());
    bomb.put(ROOT, "notes", "a".repeat(128 << 20)).expect("put");
    bomb.commit();
    let bytes = bomb.save();
    assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
    let heads = wire::heads_to_bytes(&bomb.get_heads());
    drop(bomb);
    let before = peak_memory(server.child.id());
    let request = SyncRequest {
        trust: None,
        protocol: PROTOCOL_VERSION,
        cursor: 0,
        uploads: vec![Upload {
            attestations: Vec::new(),
            doc_id: "00000000-0000-4000-8000-00000000b0b0".into(),
            changes: bytes,
            heads,
        }],
        max_response_bytes: 0,
        summaries: false,
        opened: Vec::new(),
        erase: Vec::new(),
        resync: false,
    };
    let client = sprechtag::sync::HttpClient::new(&server.url).expect("client");
    let answer = client.sync(&token, wire::encode(&request)).expect("answer");
    let response: SyncResponse = wire::decode(&answer.body).expect("decode");
    let message = refused_with(&response, "bad_changes");
    assert!(message.contains("deflated"), "{message}");
    let peak = peak_memory(server.child.id());
    assert!(
        peak < 100 << 20,
        "the server's peak memory rose from {} MB to {} MB",
        before >> 20,
        peak >> 20
    );
}

/// A document a laptop cannot read (here: damaged in the server's database
/// behind its back) is set aside and reported; everything else arrives.
#[test]
fn a_document_a_laptop_cannot_read_is_set_aside_and_the_rest_of_the_sync_goes_on() {
    let server = TestServer::start();
    let mut field = Device::enrolled(&server, "field", Role::Caseworker);
    let office_hour = field
        .laptop
        .store
        .open_office_hour(sprechtag::store::NewOfficeHour {
            village: "Kleinbrück".into(),
            venue: "Dorfgemeinschaftshaus".into(),
            date: sprechtag_schemas::IsoDate::today(),
            caseworker: "Anna Schäfer".into(),
        })
        .expect("open");
    let case = field.laptop.new_case("Krüger", &["wohngeld"]);
    field.laptop.sync();
    let conn = sprechtag_e2e::raw_server_connection(server.dir.path());
    conn.execute(
        "UPDATE documents SET snapshot = ?2 WHERE id = ?1",
        rusqlite::params![office_hour.id, b"\x85\x6f\x4a\x83 not a document".to_vec()],
    )
    .expect("damage the office hour");
    drop(conn);

    let mut office = Device::enrolled(&server, "office", Role::Backoffice);
    let report = office
        .laptop
        .connection
        .sync(&mut office.laptop.store)
        .expect("the sync goes on");
    assert_eq!(report.set_aside, vec![office_hour.id.clone()]);
    assert!(
        office.laptop.store.case(&case.id).is_ok(),
        "the case arrived"
    );
    assert_eq!(office.laptop.store.set_aside_count().expect("count"), 1);
    assert!(office.laptop.store.office_hour(&office_hour.id).is_err());
}

/// What a hostile laptop may do to a valid upload.
#[derive(Debug, Clone)]
enum Mutation {
    /// Cut the bytes off after this share (per thousand).
    Truncate(u16),
    /// Append these bytes.
    Append(Vec<u8>),
    /// Set the byte at this share (per thousand) to this value.
    Flip(u16, u8),
    /// Send it under another id.
    OtherId,
    /// Write this root key (a field the schema has, or not) before sending.
    Put(String, String),
    /// Write the change as an actor nobody registered.
    ForeignActor,
}

fn mutation() -> impl proptest::strategy::Strategy<Value = Mutation> {
    use proptest::prelude::*;
    prop_oneof![
        (0u16..1000).prop_map(Mutation::Truncate),
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Append),
        (0u16..1000, any::<u8>()).prop_map(|(at, value)| Mutation::Flip(at, value)),
        Just(Mutation::OtherId),
        (
            prop_oneof![
                Just("status".to_string()),
                Just("number".to_string()),
                Just("department".to_string()),
                Just("review".to_string()),
                Just("id".to_string()),
                "[a-z]{1,8}",
            ],
            "[a-zA-Z0-9 ]{0,12}",
        )
            .prop_map(|(key, value)| Mutation::Put(key, value)),
        Just(Mutation::ForeignActor),
    ]
}

/// Uploads made from valid cases with random damage: the server answers
/// every one (never a 5xx, never down), stores only what it can load
/// again, and another laptop's sync always completes.
#[test]
fn no_damaged_or_forged_upload_makes_the_server_fail_or_store_what_it_cannot_read() {
    use proptest::test_runner::{Config, TestRunner};
    use sprechtag_server::storage::Storage;

    let server = TestServer::start();
    // The runner takes a `Fn`: the laptops are borrowed inside each case.
    let field = std::cell::RefCell::new(Device::enrolled(&server, "field", Role::Caseworker));
    let office = std::cell::RefCell::new(Device::enrolled(&server, "office", Role::Backoffice));
    let storage = server.storage();
    let client = sprechtag::sync::HttpClient::new(&server.url).expect("client");
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(mutation(), 1..4);
    runner
        .run(&strategy, |mutations| {
            let mut field = field.borrow_mut();
            let mut office = office.borrow_mut();
            let office = &mut *office;
            let case = field.laptop.new_case("Proptest", &["wohngeld"]);
            let mut doc = field.document(&case.id);
            let mut id = case.id.clone();
            for mutation in &mutations {
                match mutation {
                    Mutation::Put(key, value) => {
                        doc.put(ROOT, key.as_str(), value.as_str()).expect("put");
                        doc.commit();
                    }
                    Mutation::ForeignActor => {
                        doc.set_actor(automerge::ActorId::random());
                        doc.put(ROOT, "notes", "fremd").expect("put");
                        doc.commit();
                    }
                    Mutation::OtherId => id = sprechtag_schemas::new_id(),
                    _ => {}
                }
            }
            let mut bytes = doc.save_nocompress();
            for mutation in &mutations {
                match mutation {
                    Mutation::Truncate(share) => {
                        let keep = bytes.len() * usize::from(*share) / 1000;
                        bytes.truncate(keep);
                    }
                    Mutation::Append(extra) => bytes.extend(extra),
                    Mutation::Flip(share, value) if !bytes.is_empty() => {
                        let at = (bytes.len() - 1) * usize::from(*share) / 1000;
                        bytes[at] = *value;
                    }
                    _ => {}
                }
            }
            let request = SyncRequest {
                trust: None,
                protocol: PROTOCOL_VERSION,
                cursor: 0,
                uploads: vec![Upload {
                    attestations: Vec::new(),
                    doc_id: id.clone(),
                    changes: bytes,
                    heads: wire::heads_to_bytes(&doc.get_heads()),
                }],
                max_response_bytes: 0,
                summaries: false,
                opened: Vec::new(),
                erase: Vec::new(),
                resync: false,
            };
            let answer = client.sync(&field.token, wire::encode(&request));
            let answer = answer.map_err(|e| {
                proptest::test_runner::TestCaseError::fail(format!("{mutations:?}: {e}"))
            })?;
            let response: SyncResponse = wire::decode(&answer.body).map_err(|e| {
                proptest::test_runner::TestCaseError::fail(format!("{mutations:?}: {e}"))
            })?;
            // What was taken loads again from the server's database.
            if response.accepted.contains(&id) {
                let mut tx = storage.begin().expect("tx");
                let parts = tx.document_bytes(&id).expect("bytes");
                let mut loaded = automerge::Automerge::new();
                for part in parts {
                    loaded.load_incremental(&part).map_err(|e| {
                        proptest::test_runner::TestCaseError::fail(format!(
                            "{mutations:?}: stored unreadable: {e}"
                        ))
                    })?;
                }
                let _: sprechtag_schemas::Case = document::read(&loaded).map_err(|e| {
                    proptest::test_runner::TestCaseError::fail(format!(
                        "{mutations:?}: stored unreadable: {e}"
                    ))
                })?;
            }
            // The laptop's own, undamaged upload of the case still goes
            // through, and the back office's sync completes.
            field.laptop.sync();
            office
                .laptop
                .connection
                .sync(&mut office.laptop.store)
                .map_err(|e| {
                    proptest::test_runner::TestCaseError::fail(format!("{mutations:?}: {e}"))
                })?;
            Ok(())
        })
        .expect("every upload answered, nothing unreadable stored");
    assert!(
        office
            .borrow_mut()
            .laptop
            .store
            .list_cases(&sprechtag::store::CaseFilter::default())
            .expect("list")
            .total
            >= 64
    );
}

/// A correction carries the old case's comments over, signed by others —
/// but a back-office device cannot use it to put new words into another
/// person's mouth: a successor with a comment in someone else's name that
/// the old case did not have is refused, and so is the correction (the old
/// case stays). The same successor without the forgery is taken.
#[test]
fn a_correction_cannot_slip_in_a_comment_in_another_s_name() {
    let (server, mut field, mut office, id) = setup();
    field
        .laptop
        .store
        .comment_case(&id, "Unterlagen kommen nächste Woche")
        .expect("the caseworker's comment");
    field.laptop.sync();
    office.laptop.sync();
    let field_signature = field.laptop.store.case(&id).expect("case").comments[0]
        .author
        .clone();
    let successor = office
        .laptop
        .store
        .correct_case(&id, "notes", "Keine Angaben", "Berichtigung Art. 16")
        .expect("correct on the office laptop");
    // Both versions of the successor, before the closure borrows the token.
    let mut forged = office.document(&successor.id);
    let mut honest = office.document(&successor.id);
    let token = office.token.clone();
    let send = |doc: &mut AutoCommit| -> SyncResponse {
        let request = SyncRequest {
            trust: None,
            protocol: PROTOCOL_VERSION,
            cursor: 0,
            uploads: vec![Upload {
                attestations: Vec::new(),
                doc_id: successor.id.clone(),
                changes: doc.save_nocompress(),
                heads: wire::heads_to_bytes(&doc.get_heads()),
            }],
            max_response_bytes: 0,
            summaries: false,
            opened: Vec::new(),
            erase: vec![wire::EraseOrder {
                doc_id: id.clone(),
                reason: "Berichtigung Art. 16".into(),
                successor: Some(successor.id.clone()),
            }],
            resync: false,
        };
        let client = sprechtag::sync::HttpClient::new(&server.url).expect("client");
        let answer = client
            .sync(&token, wire::encode(&request))
            .expect("the server answers");
        wire::decode(&answer.body).expect("a sync response")
    };

    // The forgery: one more comment, in the caseworker's name.
    let comments = match forged.get(ROOT, "comments").expect("comments") {
        Some((_, comments)) => comments,
        None => panic!("the successor has comments"),
    };
    let comment = forged
        .insert_object(&comments, 1, ObjType::Map)
        .expect("comment");
    forged.put(&comment, "id", "forged-1").expect("id");
    forged
        .put(&comment, "author", field_signature.as_str())
        .expect("author");
    forged
        .put(&comment, "at", "2026-12-01T10:00:00Z")
        .expect("at");
    forged
        .put(&comment, "text", "Antrag zurückgezogen")
        .expect("text");
    forged.commit();
    let response = send(&mut forged);
    assert!(response.accepted.is_empty(), "{response:?}");
    assert!(response.erased.is_empty(), "{response:?}");
    let codes: Vec<(&str, &str)> = response
        .rejected
        .iter()
        .map(|r| (r.doc_id.as_str(), r.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            (successor.id.as_str(), "forbidden_change"),
            (id.as_str(), "forbidden_change")
        ]
    );
    assert!(response.rejected[0].message.contains("comment forged-1"));
    field.laptop.sync();
    assert_eq!(field.laptop.store.case(&id).expect("still there").id, id);

    // The honest successor, with the caseworker's comment as it was.
    let response = send(&mut honest);
    assert_eq!(
        response.accepted,
        vec![successor.id.clone()],
        "{response:?}"
    );
    assert_eq!(response.erased.len(), 1);
    assert_eq!(
        response.erased[0].successor.as_deref(),
        Some(successor.id.as_str())
    );
}

/// Documents of earlier releases hold unsigned integers (which automerge
/// for JavaScript reads as BigInt); this release writes signed ones. The
/// first edit of such a document re-types its numbers — identity fields
/// among them — and the server must take that as no change of content,
/// while a different number stays refused.
#[test]
fn a_document_of_an_earlier_release_with_unsigned_numbers_stays_editable() {
    let server = TestServer::start();
    let mut field = Device::enrolled(&server, "field", Role::Caseworker);
    let mut office = Device::enrolled(&server, "office", Role::Backoffice);
    let case = field.laptop.new_case("Krüger", &["wohngeld"]);
    let mut old = field.document(&case.id);
    old.put(ROOT, "schema_version", sprechtag_schemas::SCHEMA_VERSION)
        .expect("an unsigned schema version, as written before");
    let response = field.upload(&server, &case.id, &mut old, &[]);
    assert_eq!(response.accepted, vec![case.id.clone()], "{response:?}");
    office.laptop.sync();
    let stored = |device: &mut Device| {
        device
            .document(&case.id)
            .get(ROOT, "schema_version")
            .expect("get")
            .expect("a value")
            .0
            .into_owned()
    };
    assert!(
        matches!(stored(&mut office), automerge::Value::Scalar(s) if matches!(s.as_ref(), automerge::ScalarValue::Uint(_))),
        "the old document as it came"
    );
    office
        .laptop
        .store
        .set_case_field(&case.id, "notes", "Rückruf vereinbart")
        .expect("an edit of the old document");
    office.laptop.sync();
    assert_eq!(
        stored(&mut office),
        automerge::Value::int(i64::try_from(sprechtag_schemas::SCHEMA_VERSION).expect("small")),
        "written signed from now on"
    );
    // Another number is still a change of identity.
    let mut forged = office.document(&case.id);
    let before = forged.get_heads();
    forged
        .put(ROOT, "schema_version", 99_i64)
        .expect("another version");
    let response = office.upload(&server, &case.id, &mut forged, &before);
    let message = refused_with(&response, "forbidden_change");
    assert!(message.contains("schema_version"), "{message}");
}

/// An answer of the knowledge base as a device would write it.
fn answer_document(device: &Device, status: &str) -> (String, AutoCommit) {
    let answer = sprechtag_schemas::Answer {
        schema_version: 1,
        id: sprechtag_schemas::new_id(),
        question: "Kann ich bar zahlen?".into(),
        answer: "Ja, im Bürgerbüro auch mit Karte.".into(),
        service_ids: vec![],
        status: status.parse().expect("status"),
        written_by: "field-user".into(),
        written_at: "2026-12-01T10:00:00Z".into(),
        checked_by: None,
        checked_at: None,
    };
    let doc = document::create(device.laptop.store.device().actor(), &answer, "answer")
        .expect("document");
    (answer.id, doc)
}

#[test]
fn a_caseworker_proposes_answers_but_neither_accepts_them_nor_edits_the_catalogue() {
    let (server, field, mut office, _) = setup();
    // Accepting its own answer: refused.
    let (id, mut doc) = answer_document(&field, "accepted");
    let message = refused_with(
        &field.upload(&server, &id, &mut doc, &[]),
        "forbidden_change",
    );
    assert!(message.starts_with("status"), "{message}");
    // A proposal: taken, and the back office receives it.
    let (proposal, mut doc) = answer_document(&field, "proposed");
    let response = field.upload(&server, &proposal, &mut doc, &[]);
    assert_eq!(
        response.accepted,
        std::slice::from_ref(&proposal),
        "{response:?}"
    );
    office.laptop.sync();
    let answers = office.laptop.store.answers().expect("answers");
    assert!(answers.iter().any(|a| a.id == proposal));
    // Rewording it afterwards is the back office's.
    let heads = doc.get_heads();
    doc.put(ROOT, "answer", "Nur bar.").expect("put");
    doc.commit();
    let message = refused_with(
        &field.upload(&server, &proposal, &mut doc, &heads),
        "forbidden_change",
    );
    assert!(message.starts_with("answer"), "{message}");
    // The catalogue: the caseworker's copy of it is refused whole.
    let catalog = sprechtag_schemas::CatalogDocument {
        schema_version: 1,
        id: sprechtag_schemas::knowledge::CATALOG_DOCUMENT_ID.into(),
        catalog: sprechtag::catalog::shipped().expect("catalogue"),
        edited_by: "field-user".into(),
        edited_at: "2026-12-01T10:00:00Z".into(),
    };
    let mut doc = document::create(field.laptop.store.device().actor(), &catalog, "catalogue")
        .expect("document");
    let message = refused_with(
        &field.upload(&server, &catalog.id, &mut doc, &[]),
        "forbidden_change",
    );
    assert!(message.contains("catalogue"), "{message}");
}

#[test]
fn no_device_writes_the_mail_status_nor_passes_changes_off_as_the_servers() {
    let (server, _field, mut office, id) = setup();
    let case = office.laptop.store.case(&id).expect("case");
    office
        .laptop
        .store
        .forward_request(&id, &case.requests[0].id, "sozialamt", None)
        .expect("forward");
    office.laptop.sync();
    // "Sent", claimed by the back office's own device.
    let mut doc = office.document(&id);
    let heads = doc.get_heads();
    let requests = match doc.get(ROOT, "requests").expect("requests") {
        Some((_, requests)) => requests,
        None => panic!("no requests"),
    };
    let request = doc.get(&requests, 0).expect("request").expect("one").1;
    let forwarding = doc
        .get(&request, "forwarding")
        .expect("forwarding")
        .expect("forwarded")
        .1;
    let mail = doc
        .put_object(&forwarding, "mail", ObjType::Map)
        .expect("mail");
    doc.put(&mail, "to", "sozialamt@kreis.example").expect("to");
    doc.put(&mail, "sent_at", "2026-12-01T10:00:00Z")
        .expect("at");
    doc.commit();
    let message = refused_with(
        &office.upload(&server, &id, &mut doc, &heads),
        "forbidden_change",
    );
    assert!(message.contains("mail"), "{message}");

    // An actor that begins like the server's own may write nothing else.
    let server_id = {
        use sprechtag_server::storage::Storage;
        server.storage().identity().expect("identity").server_id
    };
    let prefix = sprechtag_server::mail::server_actor_prefix(&server_id);
    let mut bytes = hex_bytes(&prefix);
    bytes.extend([7; 8]);
    let mut doc = office
        .document(&id)
        .with_actor(automerge::ActorId::from(bytes));
    let heads = doc.get_heads();
    put_review(&mut doc, "approved", "Sync-Server");
    let message = refused_with(
        &office.upload(&server, &id, &mut doc, &heads),
        "forbidden_change",
    );
    assert!(
        message.contains("the server's changes touch only"),
        "{message}"
    );
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn an_answer_too_large_for_every_laptop_of_the_county_is_refused() {
    let (server, field, mut office, _) = setup();
    let (id, mut doc) = answer_document(&field, "proposed");
    doc.put(ROOT, "answer", "x".repeat(10_001)).expect("put");
    doc.commit();
    let message = refused_with(
        &field.upload(&server, &id, &mut doc, &[]),
        "invalid_document",
    );
    assert!(message.contains("at most"), "{message}");
    office.laptop.sync();
    assert!(office.laptop.store.answers().expect("answers").is_empty());
}
