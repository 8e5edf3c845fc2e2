//! Laptops in the hall exchange cases with each other while the server is
//! down, only within their department and only with certificates the
//! server signed and did not revoke; later the server receives every change
//! once, through whichever laptop syncs first.

use std::collections::BTreeMap;
use std::net::TcpListener;

use sprechtag::hall::{self, Refusal};
use sprechtag::sync::SyncError;
use sprechtag_e2e::{HallPeer as Serving, Laptop, TestServer};
use sprechtag_schemas::Role;
use sprechtag_server::storage::Storage;

/// Every document a laptop holds, with its heads.
fn holdings(laptop: &mut Laptop) -> BTreeMap<String, Vec<u8>> {
    laptop
        .store
        .hall_offer(None)
        .expect("documents")
        .into_iter()
        .map(|o| (o.doc_id, o.heads))
        .collect()
}

#[test]
fn two_laptops_exchange_in_the_hall_strangers_are_refused_and_the_server_gets_everything_once() {
    let server = TestServer::start();
    let mut a = server.laptop("Laptop A", Role::Caseworker, "buergerbuero");
    let mut b = server.laptop("Laptop B", Role::Caseworker, "buergerbuero");
    let mut c = server.laptop("Laptop C", Role::Caseworker, "sozialamt");
    let mut revoked = server.laptop("Laptop D", Role::Caseworker, "buergerbuero");
    // A case both hold, before the server goes away.
    let shared = a.new_case("Gemeinsam", &["personalausweis"]);
    a.sync();
    b.sync();
    c.new_case("Fremd", &["wohngeld"]);
    c.sync();
    revoked.sync();
    let d_id = revoked
        .store
        .enrolment()
        .expect("enrolment")
        .expect("enrolled")
        .device_id;
    assert!(
        server
            .storage()
            .revoke_device(&d_id, false)
            .expect("revoke")
    );
    // A and B learn of the revocation with their next sync.
    a.sync();
    b.sync();
    // Another county's server: its laptop's certificate is signed by
    // another key.
    let other_server = TestServer::start();
    let mut foreign = other_server.laptop("Fremdes Laptop", Role::Caseworker, "buergerbuero");
    foreign.sync();
    let address = server.url.trim_start_matches("http://").to_string();
    let server_dir = server.stop();

    // Offline in the hall: both edit the shared case, each records a new one.
    a.store
        .update_case(&shared.id, "Telefon", |case| {
            case.citizen.phone = "06221 12345".into();
            Ok(())
        })
        .expect("edit on A");
    b.store
        .update_case(&shared.id, "Anschrift", |case| {
            case.citizen.address.street = "Hauptstraße 1".into();
            Ok(())
        })
        .expect("edit on B");
    let from_a = a.new_case("Albers", &["personalausweis"]);
    let from_b = b.new_case("Brandt", &["wohngeld"]);

    let serving = Serving::start(b);
    let report = hall::exchange(&mut a.store, &serving.address).expect("exchange A with B");
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.peer.name, "Laptop B");
    // Each learnt the other's user once both had proved themselves.
    assert_eq!(report.peer.user, "Laptop B-user");
    assert_eq!((report.sent, report.received), (2, 2), "{report:?}");

    // A laptop of another department learns nothing.
    let before = holdings(&mut c);
    let refused = hall::exchange(&mut c.store, &serving.address).expect_err("C is refused");
    assert!(
        matches!(
            &refused,
            SyncError::HallRefused {
                reason: Refusal::OtherDepartment,
                by_peer: true,
                ..
            }
        ),
        "{refused}"
    );
    assert_eq!(holdings(&mut c), before);
    // Nor does a revoked one, nor one certified by another server.
    let before = holdings(&mut revoked);
    let refused = hall::exchange(&mut revoked.store, &serving.address).expect_err("D is refused");
    assert!(
        matches!(
            &refused,
            SyncError::HallRefused {
                reason: Refusal::Revoked,
                by_peer: true,
                ..
            }
        ),
        "{refused}"
    );
    assert_eq!(holdings(&mut revoked), before);
    let refused = hall::exchange(&mut foreign.store, &serving.address).expect_err("foreign");
    assert!(
        matches!(
            &refused,
            SyncError::HallRefused {
                reason: Refusal::Certificate,
                by_peer: true,
                ..
            }
        ),
        "{refused}"
    );
    assert_eq!(holdings(&mut foreign).len(), 0);

    let (mut b, served) = serving.join();
    assert_eq!(served.len(), 4, "{served:?}");
    let first = served[0].as_ref().expect("A was served");
    assert_eq!(first.peer.user, "Laptop A-user");
    assert!(served[1..].iter().all(Result::is_err), "{served:?}");

    // Both hold the same documents at the same heads, edits of both merged.
    assert_eq!(holdings(&mut a), holdings(&mut b));
    for laptop in [&mut a, &mut b] {
        let case = laptop.store.case(&shared.id).expect("shared case");
        assert_eq!(case.citizen.phone, "06221 12345");
        assert_eq!(case.citizen.address.street, "Hauptstraße 1");
        laptop.store.case(&from_a.id).expect("A's new case");
        laptop.store.case(&from_b.id).expect("B's new case");
    }
    // An exchange with nothing new moves nothing, and offers nothing: A's
    // digest of what it holds is the one both agreed on last time, B's
    // matches it, and what A sends does not grow with what both hold.
    let serving = Serving::start(b);
    let again = hall::exchange(&mut a.store, &serving.address).expect("again");
    assert_eq!(
        (again.sent, again.received, again.round_trips),
        (0, 0, 1),
        "{again:?}"
    );
    let (b, _) = serving.join();
    for i in 0..30 {
        a.new_case(&format!("Viele {i}"), &["personalausweis"]);
    }
    let serving = Serving::start(b);
    let more = hall::exchange(&mut a.store, &serving.address).expect("30 more");
    assert_eq!(more.sent, 30, "{more:?}");
    let idle = hall::exchange(&mut a.store, &serving.address).expect("idle");
    assert_eq!((idle.sent, idle.received), (0, 0), "{idle:?}");
    // Equal but for what zstd makes of each session's own signatures
    // (a few bytes); 30 more documents in an offer would add 1,440.
    assert!(
        idle.bytes_up.abs_diff(again.bytes_up) < 100,
        "{idle:?} against {again:?}"
    );
    let (mut b, _) = serving.join();
    // B changes a case after they agreed: A still sends only its digest,
    // B asks for the offer, and the change arrives.
    b.store
        .update_case(&shared.id, "Notiz", |case| {
            case.citizen.given_names = "Erika Maria".into();
            Ok(())
        })
        .expect("edit on B");
    let serving = Serving::start(b);
    let changed = hall::exchange(&mut a.store, &serving.address).expect("B changed");
    assert_eq!((changed.sent, changed.received), (0, 1), "{changed:?}");
    let (mut b, _) = serving.join();
    assert_eq!(
        a.store.case(&shared.id).expect("case").citizen.given_names,
        "Erika Maria"
    );

    // Back online: the first to sync brings both laptops' work.
    let listener = TcpListener::bind(&address).expect("the server's address again");
    drop(listener);
    let server = TestServer::start_at(server_dir, &address);
    let first = a.sync();
    // The shared case, one new case of each, and A's 30 more.
    assert_eq!(first.uploaded, 33, "{first:?}");
    let stored_after_a = stored(&server, &holdings(&mut a));
    // B offers the same changes: the server takes nothing twice, and B has
    // nothing left to upload.
    let second = b.sync();
    assert_eq!(second.pending, 0, "{second:?}");
    assert_eq!(stored(&server, &holdings(&mut b)), stored_after_a);
    let third = a.sync();
    assert_eq!((third.pending, third.uploaded), (0, 0), "{third:?}");
    // The server holds every document at the laptops' heads.
    for (doc_id, (heads, _)) in &stored_after_a {
        assert_eq!(holdings(&mut a)[doc_id], *heads, "{doc_id}");
        let case = a.store.case(doc_id).expect("case");
        let on_server = server_case(&server, doc_id);
        assert_eq!(on_server.citizen, case.citizen, "{doc_id}");
    }
    assert_eq!(holdings(&mut a), holdings(&mut b));
}

/// Changes travel from laptop to laptop with what proves who wrote them:
/// the server's signature for what came from the server (a case recorded
/// on A, judged by the back office), the writing laptop's own for what it
/// wrote offline (B's comment, signed in B's user's name). A third laptop
/// that got none of it from its author checks each change against its
/// author's role, as the server would; a verdict a caseworker laptop wrote
/// into a case is refused by the laptop it is passed to.
#[test]
fn changes_passed_on_from_laptop_to_laptop_are_checked_against_their_authors() {
    let server = TestServer::start();
    let mut a = server.laptop("Laptop A", Role::Caseworker, "buergerbuero");
    let mut b = server.laptop("Laptop B", Role::Caseworker, "buergerbuero");
    let mut c = server.laptop("Laptop C", Role::Caseworker, "buergerbuero");
    let mut office = server.laptop("Backoffice", Role::Backoffice, "buergerbuero");
    // C is certified before the case exists: it gets it only in the hall.
    c.sync();
    let case = a.new_case("Weitergabe", &["personalausweis"]);
    a.sync();
    office.sync();
    office
        .store
        .review_case(
            &case.id,
            sprechtag_schemas::ReviewState::Approved,
            Some("Passt so."),
        )
        .expect("verdict");
    office.sync();
    b.sync();
    drop(server);

    // Offline: B comments on the case and records a new one.
    b.store
        .comment_case(&case.id, "Unterlagen kommen nächste Woche.")
        .expect("comment");
    let from_b = b.new_case("Brandt", &["wohngeld"]);

    // B to C: A's and the back office's changes with the server's
    // signature, B's own as B's.
    let serving = Serving::start(c);
    let report = hall::exchange(&mut b.store, &serving.address).expect("B with C");
    assert!(report.complete(), "{report:?}");
    let (mut c, _) = serving.join();
    let on_c = c.store.case(&case.id).expect("the case reached C");
    assert_eq!(
        on_c.review.as_ref().map(|r| r.state),
        Some(sprechtag_schemas::ReviewState::Approved)
    );
    assert_eq!(on_c.comments.len(), 2, "{:?}", on_c.comments);

    // C to A: B's comment and case, passed on by C, with B's signature.
    let serving = Serving::start(a);
    let report = hall::exchange(&mut c.store, &serving.address).expect("C with A");
    assert!(report.complete(), "{report:?}");
    let (mut a, _) = serving.join();
    let on_a = a.store.case(&case.id).expect("case on A");
    assert!(
        on_a.comments
            .iter()
            .any(|comment| comment.text.starts_with("Unterlagen")
                && comment.author.starts_with("Laptop B-user")),
        "{:?}",
        on_a.comments
    );
    a.store
        .case(&from_b.id)
        .expect("B's case reached A through C");

    // B, a caseworker laptop, writes a verdict with automerge directly:
    // A refuses the case, and keeps it as it was.
    b.forge_verdict(&case.id, "rejected", "Laptop B-user");
    let serving = Serving::start(a);
    let report = hall::exchange(&mut b.store, &serving.address).expect("B with A");
    let (mut a, _) = serving.join();
    assert!(
        report
            .refused
            .iter()
            .any(|(id, why)| *id == case.id && why.contains("not for this role")),
        "{report:?}"
    );
    let on_a = a.store.case(&case.id).expect("case on A");
    assert_eq!(
        on_a.review.map(|r| r.state),
        Some(sprechtag_schemas::ReviewState::Approved)
    );
}

/// An admin laptop holds every department's documents; to a laptop of one
/// department it offers and sends only that department's (and the
/// county-wide ones), told from its indexes.
#[test]
fn an_admin_laptop_gives_a_department_laptop_only_its_departments_documents() {
    let server = TestServer::start();
    let mut a = server.laptop("Laptop A", Role::Caseworker, "buergerbuero");
    let mut c = server.laptop("Laptop C", Role::Caseworker, "sozialamt");
    let mut admin = server.laptop("Verwaltung", Role::Admin, "verwaltung");
    a.sync();
    let mine = c.new_case("Fremd", &["wohngeld"]);
    c.sync();
    admin.sync();
    let ours = admin.new_case("Amtlich", &["personalausweis"]);
    drop(server);
    let offered = |admin: &mut Laptop, scope: Option<&str>| -> Vec<String> {
        admin
            .store
            .hall_offer(scope)
            .expect("offer")
            .into_iter()
            .map(|o| o.doc_id)
            .collect()
    };
    assert!(offered(&mut admin, None).contains(&mine.id));
    assert!(!offered(&mut admin, Some("buergerbuero")).contains(&mine.id));
    // The admin laptop's own new case belongs to its department.
    assert!(!offered(&mut admin, Some("buergerbuero")).contains(&ours.id));

    let serving = Serving::start(admin);
    let report = hall::exchange(&mut a.store, &serving.address).expect("A with the admin");
    assert!(report.complete(), "{report:?}");
    let _ = serving.join();
    assert!(a.store.case(&mine.id).is_err(), "another department's case");
    assert!(
        a.store.case(&ours.id).is_err(),
        "the admin's own department's case"
    );
}

/// For each document: the server's heads, and the bytes it stored.
fn stored(
    server: &TestServer,
    holdings: &BTreeMap<String, Vec<u8>>,
) -> BTreeMap<String, (Vec<u8>, usize)> {
    let storage = server.storage();
    let mut tx = storage.begin().expect("transaction");
    holdings
        .keys()
        .map(|id| {
            let parts = tx.document_bytes(id).expect("stored bytes");
            let bytes: usize = parts.iter().map(Vec::len).sum();
            let doc = automerge::Automerge::load(&parts.concat()).expect("load");
            let heads = sprechtag_schemas::wire::heads_to_bytes(&doc.get_heads());
            (id.clone(), (heads, bytes))
        })
        .collect()
}

fn server_case(server: &TestServer, id: &str) -> sprechtag_schemas::Case {
    let storage = server.storage();
    let mut tx = storage.begin().expect("transaction");
    let parts = tx.document_bytes(id).expect("stored bytes");
    let doc = automerge::AutoCommit::load(&parts.concat()).expect("load");
    sprechtag_schemas::document::read(&doc).expect("a case")
}

/// A stranger on the hall's network connects and says nothing: the
/// serving laptop lets it go after the meeting's deadline and serves the
/// colleague who came next.
#[test]
fn a_stranger_who_says_nothing_holds_the_serving_laptop_only_for_the_meeting() {
    let server = TestServer::start();
    let mut a = server.laptop("Laptop A", Role::Caseworker, "buergerbuero");
    let mut b = server.laptop("Laptop B", Role::Caseworker, "buergerbuero");
    a.sync();
    b.sync();
    let case = b.new_case("Still", &["wohngeld"]);
    drop(server);
    let serving = Serving::start(b);
    let silent = std::net::TcpStream::connect(&serving.address).expect("the stranger connects");
    let started = std::time::Instant::now();
    let report = hall::exchange(&mut a.store, &serving.address).expect("A after the stranger");
    let waited = started.elapsed();
    assert_eq!(report.received, 1, "{report:?}");
    a.store.case(&case.id).expect("B's case arrived");
    // Served after the stranger was dropped, not never.
    assert!(waited >= std::time::Duration::from_secs(10), "{waited:?}");
    drop(silent);
    let (_, served) = serving.join();
    assert!(
        matches!(&served[0], Err(SyncError::Protocol(m)) if m.contains("too long")),
        "{served:?}"
    );
    assert!(served[1].is_ok(), "{served:?}");
}
