//! What the sync, enrolment, revocation, scoping, erasure and mail code
//! needs from storage, written once against the `Storage` trait and run on
//! every backend (`conformance!` below): a second backend stands beside the
//! first only when it passes the same suite.

use sprechtag_server::audit::{Event, Filter, NewEntry};
use sprechtag_server::storage::{
    Changed, DocumentWrite, ForwardingRecord, MailOutcome, MailPurpose, NewDevice, Pending, Role,
    Storage, StorageError, StoredTombstone, SyncTransaction, Time,
};

/// A fresh, empty storage of one backend, with whatever keeps it alive.
type Fresh = (Box<dyn Storage>, Box<dyn std::any::Any>);

fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().expect("dir");
    let storage = sprechtag_server::storage::SqliteStorage::open(dir.path()).expect("open");
    (Box::new(storage), Box::new(dir))
}

fn new_device(name: &str, role: Role, department: &str) -> NewDevice {
    NewDevice {
        name: name.into(),
        user: format!("{name}-user"),
        role,
        department: department.into(),
    }
}

fn in_minutes(minutes: i64) -> Time {
    chrono::Utc::now() + chrono::Duration::minutes(minutes)
}

/// A device enrolled with `token` (and an actor of its name's hash).
fn enrolled(storage: &dyn Storage, name: &str, role: Role, department: &str) -> String {
    let code = format!("code-{name}").into_bytes();
    let device = storage
        .create_device(&new_device(name, role, department), &code, in_minutes(15))
        .expect("create");
    let token = format!("token-{name}").into_bytes();
    storage
        .redeem_code(&code, &token, None, chrono::Utc::now())
        .expect("redeem")
        .expect("a valid code");
    device.id
}

fn enrolment_and_revocation(storage: &dyn Storage) {
    let device = storage
        .create_device(
            &new_device("Laptop 1", Role::Caseworker, "buergerbuero"),
            b"code-1",
            in_minutes(15),
        )
        .expect("create");
    assert!(!device.enrolled);
    assert_eq!(device.prefix.len(), 3);
    assert_eq!(device.role, Role::Caseworker);
    // A prefix is one device's only.
    assert!(
        storage
            .insert_device(
                &new_device("Laptop 2", Role::Caseworker, "buergerbuero"),
                &device.prefix,
                b"code-2",
                in_minutes(15),
            )
            .expect("insert")
            .is_none()
    );
    // Unknown, expired and issued-too-far-ahead codes are refused.
    assert!(
        storage
            .redeem_code(b"unknown", b"t", None, chrono::Utc::now())
            .expect("redeem")
            .is_none()
    );
    storage
        .create_device(
            &new_device("Expired", Role::Caseworker, "buergerbuero"),
            b"code-old",
            in_minutes(-1),
        )
        .expect("create");
    assert!(
        storage
            .redeem_code(b"code-old", b"t-old", None, chrono::Utc::now())
            .expect("redeem")
            .is_none()
    );
    storage
        .create_device(
            &new_device("Ahead", Role::Caseworker, "buergerbuero"),
            b"code-ahead",
            in_minutes(60 * 24 * 365),
        )
        .expect("create");
    assert!(
        storage
            .redeem_code(b"code-ahead", b"t-ahead", None, chrono::Utc::now())
            .expect("redeem")
            .is_none(),
        "a code from a clock a year ahead"
    );
    let actor = "0123456789abcdef0123456789abcdef";
    let redeemed = storage
        .redeem_code(b"code-1", b"token-1", Some(actor), chrono::Utc::now())
        .expect("redeem")
        .expect("valid");
    assert_eq!(redeemed.id, device.id);
    assert!(redeemed.enrolled);
    assert_eq!(redeemed.actor.as_deref(), Some(actor));
    // Used once only.
    assert!(
        storage
            .redeem_code(b"code-1", b"token-again", None, chrono::Utc::now())
            .expect("redeem")
            .is_none()
    );
    // An actor is one device's only.
    storage
        .create_device(
            &new_device("Thief", Role::Caseworker, "buergerbuero"),
            b"code-3",
            in_minutes(15),
        )
        .expect("create");
    assert!(matches!(
        storage.redeem_code(b"code-3", b"token-3", Some(actor), chrono::Utc::now()),
        Err(StorageError::Conflict(_))
    ));
    let by_token = storage
        .device_by_token(b"token-1")
        .expect("lookup")
        .expect("found");
    assert_eq!(by_token.id, device.id);
    assert!(
        storage
            .device_by_token(b"nobody")
            .expect("lookup")
            .is_none()
    );
    // Oldest first; within one second in any order.
    let mut names: Vec<String> = storage
        .devices()
        .expect("list")
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    assert_eq!(names, ["Ahead", "Expired", "Laptop 1", "Thief"]);

    assert!(storage.revoke_device(&device.id, true).expect("revoke"));
    assert!(
        !storage
            .revoke_device("no-such-device", false)
            .expect("revoke")
    );
    let revoked = storage
        .device_by_token(b"token-1")
        .expect("lookup")
        .expect("still known");
    assert!(revoked.revoked_at.is_some() && revoked.wipe_ordered_at.is_some());
    assert!(revoked.wipe_delivered_at.is_none());
    storage.wipe_delivered(&device.id).expect("delivered");
    let told = storage
        .device_by_token(b"token-1")
        .expect("lookup")
        .expect("known");
    assert!(told.wipe_delivered_at.is_some());
    // A revoked device's code cannot be redeemed.
    let pending = storage
        .create_device(
            &new_device("Pending", Role::Caseworker, "buergerbuero"),
            b"code-4",
            in_minutes(15),
        )
        .expect("create");
    storage.revoke_device(&pending.id, false).expect("revoke");
    assert!(
        storage
            .redeem_code(b"code-4", b"token-4", None, chrono::Utc::now())
            .expect("redeem")
            .is_none()
    );
}

fn documents_take_increasing_sequence_numbers_and_commit_together(storage: &dyn Storage) {
    let mut tx = storage.begin().expect("begin");
    assert_eq!(tx.newest_seq().expect("newest"), 0);
    let first = tx
        .write_document(
            "doc-a",
            "case",
            Some("buergerbuero"),
            b"heads-1",
            Some(b"summary-1"),
            DocumentWrite::Snapshot(b"snapshot"),
        )
        .expect("write");
    let second = tx
        .write_document(
            "doc-a",
            "case",
            Some("buergerbuero"),
            b"heads-2",
            Some(b"summary-2"),
            DocumentWrite::Chunk(b"chunk-1"),
        )
        .expect("write");
    let third = tx
        .write_document(
            "doc-a",
            "case",
            Some("buergerbuero"),
            b"heads-3",
            None,
            DocumentWrite::Chunk(b"chunk-2"),
        )
        .expect("write");
    assert!(first > 0 && second > first && third > second);
    tx.commit().expect("commit");

    let mut tx = storage.begin().expect("begin");
    let meta = tx.document_meta("doc-a").expect("meta").expect("stored");
    assert_eq!(meta.kind, "case");
    assert_eq!(meta.department.as_deref(), Some("buergerbuero"));
    assert_eq!(meta.seq, third);
    assert_eq!(meta.chunk_count, 2);
    assert_eq!(meta.heads, b"heads-3");
    assert_eq!(
        tx.document_bytes("doc-a").expect("bytes"),
        vec![
            b"snapshot".to_vec(),
            b"chunk-1".to_vec(),
            b"chunk-2".to_vec()
        ]
    );
    assert_eq!(tx.document_summary("doc-a").expect("summary"), None);
    assert_eq!(tx.newest_seq().expect("newest"), third);
    // A snapshot replaces the chunks.
    tx.write_document(
        "doc-a",
        "case",
        Some("buergerbuero"),
        b"heads-4",
        Some(b"summary-4"),
        DocumentWrite::Snapshot(b"whole"),
    )
    .expect("write");
    assert_eq!(
        tx.document_bytes("doc-a").expect("bytes"),
        vec![b"whole".to_vec()]
    );
    // Dropped without commit: nothing of it stays.
    drop(tx);
    let mut tx = storage.begin().expect("begin");
    assert_eq!(
        tx.document_meta("doc-a")
            .expect("meta")
            .expect("stored")
            .seq,
        third
    );
    assert_eq!(tx.document_bytes("doc-a").expect("bytes").len(), 3);
    assert_eq!(tx.newest_seq().expect("newest"), third);
    assert!(tx.document_meta("doc-b").expect("meta").is_none());
    assert!(tx.document_bytes("doc-b").expect("bytes").is_empty());
}

fn write(storage: &dyn Storage, id: &str, kind: &str, department: Option<&str>) -> i64 {
    let mut tx = storage.begin().expect("begin");
    let seq = tx
        .write_document(
            id,
            kind,
            department,
            id.as_bytes(),
            None,
            DocumentWrite::Snapshot(id.as_bytes()),
        )
        .expect("write");
    tx.commit().expect("commit");
    seq
}

fn devices_see_their_department_and_the_county_wide_knowledge(storage: &dyn Storage) {
    let a1 = write(storage, "case-a1", "case", Some("a"));
    let b1 = write(storage, "case-b1", "case", Some("b"));
    let catalog = write(storage, "catalog", "catalog", None);
    let answer = write(storage, "answer-1", "answer", None);
    let a2 = write(storage, "case-a2", "case", Some("a"));
    let other = write(storage, "lost", "case", None);
    // A device that holds nothing: every document comes with `known: None`.
    const DEVICE: &str = "nobody";
    let mut tx = storage.begin().expect("begin");
    assert!(
        tx.changed_after(DEVICE, None, 0, 100)
            .expect("scan")
            .iter()
            .all(|c| c.known.is_none())
    );
    let ids = |rows: Vec<Changed>| rows.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let seqs = |rows: Vec<Changed>| {
        rows.into_iter()
            .map(|c| (c.id, c.meta.seq))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(tx.changed_after(DEVICE, Some("a"), 0, 100).expect("scan")),
        ["case-a1", "catalog", "answer-1", "case-a2"]
    );
    assert_eq!(
        seqs(tx.changed_after(DEVICE, Some("a"), 0, 100).expect("scan")),
        vec![
            ("case-a1".to_string(), a1),
            ("catalog".to_string(), catalog),
            ("answer-1".to_string(), answer),
            ("case-a2".to_string(), a2)
        ]
    );
    assert_eq!(
        ids(tx
            .changed_after(DEVICE, Some("a"), catalog, 100)
            .expect("scan")),
        ["answer-1", "case-a2"]
    );
    assert_eq!(
        ids(tx.changed_after(DEVICE, Some("b"), 0, 100).expect("scan")),
        ["case-b1", "catalog", "answer-1"]
    );
    assert_eq!(
        ids(tx.changed_after(DEVICE, None, 0, 100).expect("scan")),
        [
            "case-a1", "case-b1", "catalog", "answer-1", "case-a2", "lost"
        ]
    );
    assert_eq!(
        ids(tx.changed_after(DEVICE, None, b1, 2).expect("scan")),
        ["catalog", "answer-1"],
        "limit"
    );
    assert!(
        tx.changed_after(DEVICE, None, other, 100)
            .expect("scan")
            .is_empty()
    );
    assert_eq!(
        storage.document_department("case-a1").expect("dept"),
        Some(Some("a".into()))
    );
    assert_eq!(
        storage.document_department("catalog").expect("dept"),
        Some(None)
    );
    assert_eq!(storage.document_department("nope").expect("dept"), None);
}

fn what_a_device_holds_counts_once_acknowledged(storage: &dyn Storage) {
    let device = enrolled(storage, "L", Role::Caseworker, "a");
    let seq = write(storage, "doc-1", "case", Some("a"));
    let later = write(storage, "doc-2", "case", Some("a"));
    let mut tx = storage.begin().expect("begin");
    tx.set_device_heads(&device, "doc-0", b"h0").expect("set");
    tx.add_pending(
        &device,
        &[
            Pending {
                doc_id: "doc-1",
                heads: b"h1",
                seq,
            },
            Pending {
                doc_id: "doc-2",
                heads: b"h2",
                seq: later,
            },
        ],
    )
    .expect("pending");
    assert_eq!(tx.device_heads(&device, "doc-1").expect("heads"), None);
    // The device acknowledges the first response only: doc-2 never arrived.
    tx.acknowledge(&device, seq).expect("ack");
    assert_eq!(
        tx.device_heads(&device, "doc-1").expect("heads").as_deref(),
        Some(&b"h1"[..])
    );
    assert_eq!(tx.device_heads(&device, "doc-2").expect("heads"), None);
    tx.acknowledge(&device, later).expect("ack again");
    assert_eq!(
        tx.device_heads(&device, "doc-2").expect("heads"),
        None,
        "a dropped pending send is gone"
    );
    tx.set_device_heads(&device, "doc-1", b"h1b").expect("set");
    assert_eq!(
        tx.device_heads(&device, "doc-1").expect("heads").as_deref(),
        Some(&b"h1b"[..])
    );
    // What a sync's scan sees: each document with the device's heads of it,
    // and another device's heads are not this one's.
    let known = |tx: &mut Box<dyn SyncTransaction + '_>, device: &str| {
        tx.changed_after(device, Some("a"), 0, 100)
            .expect("scan")
            .into_iter()
            .map(|c| (c.id, c.meta.seq, c.known))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        known(&mut tx, &device),
        vec![
            ("doc-1".to_string(), seq, Some(b"h1b".to_vec())),
            ("doc-2".to_string(), later, None)
        ]
    );
    assert_eq!(
        known(&mut tx, "another"),
        vec![
            ("doc-1".to_string(), seq, None),
            ("doc-2".to_string(), later, None)
        ]
    );
    tx.touch_device(&device).expect("touch");
    tx.forget_holdings(&device).expect("forget");
    assert_eq!(tx.device_heads(&device, "doc-0").expect("heads"), None);
    assert_eq!(tx.device_heads(&device, "doc-1").expect("heads"), None);
    tx.commit().expect("commit");
    let seen = storage
        .devices()
        .expect("list")
        .into_iter()
        .find(|d| d.id == device)
        .expect("device");
    assert!(seen.last_seen.is_some());
}

fn an_erased_document_leaves_only_its_tombstone(storage: &dyn Storage) {
    let device = enrolled(storage, "L", Role::Backoffice, "a");
    let before = write(storage, "case-x", "case", Some("a"));
    let mut tx = storage.begin().expect("begin");
    tx.write_document(
        "case-x",
        "case",
        Some("a"),
        b"h2",
        Some(b"s"),
        DocumentWrite::Chunk(b"more"),
    )
    .expect("write");
    tx.set_device_heads(&device, "case-x", b"h").expect("heads");
    tx.record_forwardings(
        "case-x",
        &[ForwardingRecord {
            doc_id: "case-x".into(),
            request_id: "r1".into(),
            kind: "case".into(),
            department: Some("a".into()),
            office_id: "office".into(),
            forwarded_at: "2026-12-01T10:00:00Z".into(),
            due: "2026-12-15".into(),
            closed: false,
        }],
    )
    .expect("forwardings");
    let tombstone = StoredTombstone {
        doc_id: "case-x".into(),
        number: "ABC-0001".into(),
        erased_at: "2026-12-02T09:00:00Z".into(),
        erased_by: "administration".into(),
        reason: "Art. 17".into(),
        successor: None,
    };
    let seq = tx.erase_document(Some("a"), &tombstone).expect("erase");
    assert!(seq > before);
    tx.append_audit(NewEntry::new(Event::CaseErased).cases(vec!["case-x".into()]))
        .expect("audit");
    tx.commit().expect("commit");
    storage.purge().expect("purge");
    let mut tx = storage.begin().expect("begin");
    let meta = tx
        .document_meta("case-x")
        .expect("meta")
        .expect("row stays");
    assert_eq!(meta.kind, "erased");
    assert_eq!(meta.seq, seq);
    assert!(meta.heads.is_empty());
    assert!(
        tx.document_bytes("case-x")
            .expect("bytes")
            .concat()
            .is_empty()
    );
    assert_eq!(tx.document_summary("case-x").expect("summary"), None);
    assert_eq!(
        tx.tombstone("case-x").expect("tombstone"),
        Some(tombstone.clone())
    );
    assert_eq!(
        tx.changed_after("nobody", Some("a"), before, 10)
            .expect("scan")
            .into_iter()
            .map(|c| (c.id, c.meta.seq))
            .collect::<Vec<_>>(),
        vec![("case-x".to_string(), seq)]
    );
    drop(tx);
    assert_eq!(storage.tombstones().expect("list"), vec![tombstone]);
    assert!(storage.open_forwardings().expect("open").is_empty());
    assert!(
        storage.mail_due("9999", 10).expect("due").is_empty(),
        "the erased case's mail is gone"
    );
}

fn the_audit_trail_is_a_chain_committed_with_its_sync(storage: &dyn Storage) {
    let first = storage
        .append_audit(NewEntry::new(Event::AdminCommand))
        .expect("append");
    let mut tx = storage.begin().expect("begin");
    tx.append_audit(NewEntry::new(Event::Revoked))
        .expect("append");
    drop(tx); // rolled back
    let mut tx = storage.begin().expect("begin");
    tx.append_audit(NewEntry::new(Event::Enrolled).cases(vec!["c1".into()]))
        .expect("append");
    tx.commit().expect("commit");
    let entries = storage.audit_entries(&Filter::default()).expect("entries");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0], first);
    assert_eq!(entries[1].event, "enrolled");
    assert_eq!(entries[1].previous, first.hash);
    sprechtag_server::audit::verify(&entries).expect("an intact chain");
    let by_case = storage
        .audit_entries(&Filter {
            case_id: Some("c1".into()),
            ..Filter::default()
        })
        .expect("entries");
    assert_eq!(by_case.len(), 1);
}

/// The audit trail narrowed by time and device, as `audit --since` and a
/// citizen's access request read it.
fn the_audit_trail_is_read_by_time_and_device(storage: &dyn Storage) {
    let device = enrolled(storage, "L", Role::Caseworker, "a");
    let first = storage
        .append_audit(NewEntry {
            device_id: Some(device.clone()),
            ..NewEntry::new(Event::Sync)
        })
        .expect("append");
    storage
        .append_audit(NewEntry::new(Event::AdminCommand))
        .expect("append");
    let all = storage.audit_entries(&Filter::default()).expect("all");
    assert!(all.len() >= 2);
    let by_device = storage
        .audit_entries(&Filter {
            device_id: Some(device.clone()),
            ..Filter::default()
        })
        .expect("by device");
    assert!(
        by_device
            .iter()
            .all(|e| e.device_id.as_deref() == Some(device.as_str()))
    );
    assert!(by_device.contains(&first));
    // A day in the future: nothing; today (as a day or as a time before the
    // first entry): everything.
    let since = |since: &str| {
        storage
            .audit_entries(&Filter {
                since: Some(since.into()),
                ..Filter::default()
            })
            .expect("since")
            .len()
    };
    assert_eq!(since("2999-01-01"), 0);
    assert_eq!(since(&first.time[..10]), all.len());
    assert_eq!(since("2000-01-01T00:00:00Z"), all.len());
}

/// Retention reads every case's stored summary; an erased case has none,
/// and an erasure that corrects a case names its successor.
fn retention_reads_summaries_and_corrections_name_their_successor(storage: &dyn Storage) {
    let mut tx = storage.begin().expect("begin");
    for (id, summary) in [("case-1", &b"one"[..]), ("case-2", b"two")] {
        tx.write_document(
            id,
            "case",
            Some("a"),
            b"h",
            Some(summary),
            DocumentWrite::Snapshot(b"s"),
        )
        .expect("write");
    }
    tx.write_document(
        "hour-1",
        "office_hour",
        Some("a"),
        b"h",
        None,
        DocumentWrite::Snapshot(b"s"),
    )
    .expect("write");
    tx.commit().expect("commit");
    let mut summaries = storage.case_summaries().expect("summaries");
    summaries.sort();
    assert_eq!(
        summaries,
        vec![
            ("case-1".to_string(), b"one".to_vec()),
            ("case-2".to_string(), b"two".to_vec())
        ]
    );
    let tombstone = StoredTombstone {
        doc_id: "case-1".into(),
        number: "ABC-0001".into(),
        erased_at: "2026-12-02T09:00:00Z".into(),
        erased_by: "L-user".into(),
        reason: "Berichtigung".into(),
        successor: Some("case-2".into()),
    };
    let mut tx = storage.begin().expect("begin");
    tx.erase_document(Some("a"), &tombstone).expect("erase");
    assert_eq!(
        tx.tombstone("case-1").expect("tombstone"),
        Some(tombstone.clone())
    );
    tx.commit().expect("commit");
    assert_eq!(storage.tombstones().expect("list"), vec![tombstone.clone()]);
    assert_eq!(
        storage.tombstones().expect("list")[0]
            .wire()
            .successor
            .as_deref(),
        Some("case-2")
    );
    assert_eq!(
        storage.case_summaries().expect("summaries"),
        vec![("case-2".to_string(), b"two".to_vec())],
        "the erased case has no summary left"
    );
}

/// Two laptops type the same code at the same moment (two instances, or
/// two requests on one): exactly one is enrolled.
fn a_code_is_redeemed_once_under_concurrency(storage: &dyn Storage) {
    let device = storage
        .create_device(
            &new_device("L", Role::Caseworker, "a"),
            b"code",
            in_minutes(15),
        )
        .expect("create");
    let barrier = std::sync::Barrier::new(8);
    let outcomes: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let token = format!("token-{i}").into_bytes();
                    barrier.wait();
                    loop {
                        match storage.redeem_code(b"code", &token, None, chrono::Utc::now()) {
                            Ok(redeemed) => return redeemed.is_some(),
                            // A concurrent transaction won: the API says
                            // "busy" and the laptop tries again.
                            Err(e) if e.is_retryable() => continue,
                            Err(e) => panic!("redeem: {e}"),
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{outcomes:?}");
    let winner = outcomes.iter().position(|ok| *ok).expect("a winner");
    let enrolled = storage
        .device_by_token(format!("token-{winner}").as_bytes())
        .expect("lookup")
        .expect("the winner's token works");
    assert_eq!(enrolled.id, device.id);
    for loser in (0..8).filter(|i| *i != winner) {
        assert!(
            storage
                .device_by_token(format!("token-{loser}").as_bytes())
                .expect("lookup")
                .is_none()
        );
    }
}

fn the_identity_stays(storage: &dyn Storage) {
    let identity = storage.identity().expect("identity");
    assert_eq!(identity.server_id.len(), 32);
    assert_eq!(identity.epoch.len(), 32);
    assert_ne!(identity.server_id, identity.epoch);
    assert_eq!(
        storage.identity().expect("again").server_id,
        identity.server_id
    );
    assert!(!storage.location().is_empty());
}

fn mail_is_queued_once_and_tried_until_sent(storage: &dyn Storage) {
    let now = "2026-12-02T08:00:00Z";
    assert!(
        storage
            .queue_mail(
                "digest:a:2026-12-02",
                MailPurpose::Digest,
                None,
                Some("a"),
                now
            )
            .expect("queue")
    );
    assert!(
        !storage
            .queue_mail(
                "digest:a:2026-12-02",
                MailPurpose::Digest,
                None,
                Some("a"),
                now
            )
            .expect("queue again"),
        "once per key"
    );
    let mut tx = storage.begin().expect("begin");
    let forwarding = ForwardingRecord {
        doc_id: "case-1".into(),
        request_id: "r1".into(),
        kind: "case".into(),
        department: Some("a".into()),
        office_id: "kfz".into(),
        forwarded_at: "2026-12-01T10:00:00Z".into(),
        due: "2026-12-10".into(),
        closed: false,
    };
    let closed = ForwardingRecord {
        request_id: "r2".into(),
        closed: true,
        ..forwarding.clone()
    };
    tx.record_forwardings("case-1", &[forwarding.clone(), closed])
        .expect("record");
    // Recorded again (the next sync of the case): no second mail.
    tx.record_forwardings("case-1", std::slice::from_ref(&forwarding))
        .expect("record again");
    tx.commit().expect("commit");
    assert_eq!(storage.open_forwardings().expect("open"), vec![forwarding]);
    let due = storage.mail_due(now, 10).expect("due");
    let purposes: Vec<MailPurpose> = due.iter().map(|m| m.purpose).collect();
    assert_eq!(purposes, [MailPurpose::Forwarding, MailPurpose::Digest]);
    assert_eq!(due[0].doc_id, "case-1");
    assert_eq!(due[0].request_id, "r1");
    assert_eq!(due[1].department.as_deref(), Some("a"));
    storage
        .mail_tried(
            due[0].id,
            &MailOutcome::Failed {
                error: "451 try later".into(),
                retry_at: Some("2026-12-02T08:05:00Z".into()),
            },
        )
        .expect("tried");
    storage
        .mail_tried(due[1].id, &MailOutcome::Sent(now.into()))
        .expect("sent");
    assert!(storage.mail_due(now, 10).expect("due").is_empty());
    let retried = storage.mail_due("2026-12-02T08:05:00Z", 10).expect("due");
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(retried[0].last_error.as_deref(), Some("451 try later"));
    storage
        .mail_tried(
            retried[0].id,
            &MailOutcome::Failed {
                error: "550 no such mailbox".into(),
                retry_at: None,
            },
        )
        .expect("given up");
    assert!(storage.mail_due("9999", 10).expect("due").is_empty());
}

fn figures_count_documents_and_active_devices(storage: &dyn Storage) {
    enrolled(storage, "A", Role::Caseworker, "a");
    let revoked = enrolled(storage, "B", Role::Caseworker, "a");
    storage.revoke_device(&revoked, false).expect("revoke");
    write(storage, "doc-1", "case", Some("a"));
    write(storage, "doc-2", "case", Some("a"));
    let figures = storage.figures().expect("figures");
    assert_eq!(figures.documents, 2);
    assert_eq!(figures.devices_active, 1);
    assert!(figures.database_bytes > 0);
    let summaries = storage.case_summaries().expect("summaries");
    assert!(summaries.is_empty(), "no case was written with a summary");
}

macro_rules! conformance {
    ($backend:ident) => {
        mod $backend {
            macro_rules! case {
                ($name:ident) => {
                    #[test]
                    fn $name() {
                        let Some((storage, _keep)) = crate::backend(stringify!($backend)) else {
                            return;
                        };
                        crate::$name(storage.as_ref());
                    }
                };
            }
            case!(enrolment_and_revocation);
            case!(documents_take_increasing_sequence_numbers_and_commit_together);
            case!(devices_see_their_department_and_the_county_wide_knowledge);
            case!(what_a_device_holds_counts_once_acknowledged);
            case!(an_erased_document_leaves_only_its_tombstone);
            case!(the_audit_trail_is_a_chain_committed_with_its_sync);
            case!(the_identity_stays);
            case!(the_audit_trail_is_read_by_time_and_device);
            case!(retention_reads_summaries_and_corrections_name_their_successor);
            case!(a_code_is_redeemed_once_under_concurrency);
            case!(mail_is_queued_once_and_tried_until_sent);
            case!(figures_count_documents_and_active_devices);
        }
    };
}

/// A fresh storage of the named backend; `None` (the test says skipped)
/// when the backend is not available on this machine.
fn backend(name: &str) -> Option<Fresh> {
    match name {
        "sqlite" => Some(sqlite()),
        "postgres" => postgres(),
        other => panic!("unknown backend {other}"),
    }
}

/// A new database in the cluster `SPRECHTAG_TEST_POSTGRES` names (.ci/run
/// starts one: tests/postgres/cluster.sh), dropped when the test ends.
fn postgres() -> Option<Fresh> {
    let database = sprechtag_server::storage::test_database::TestDatabase::create()?;
    let storage = sprechtag_server::storage::PostgresStorage::open(&database.url).expect("open");
    Some((Box::new(storage), Box::new(database)))
}

conformance!(sqlite);
conformance!(postgres);

/// Two server instances (two pools) on one PostgreSQL database write at
/// once; the first to take a sequence number commits late. A device that
/// polls all the while must still receive both changes: numbers become
/// visible in the order they are taken (postgres.rs, `WRITE_LOCK`).
#[test]
fn postgres_no_device_misses_a_change_committed_late_by_another_instance() {
    use sprechtag_server::storage::PostgresStorage;
    use std::sync::{Arc, Barrier};
    use std::time::{Duration, Instant};
    let Some(database) = sprechtag_server::storage::test_database::TestDatabase::create() else {
        return;
    };
    let first = Arc::new(PostgresStorage::open(&database.url).expect("instance 1"));
    let second = Arc::new(PostgresStorage::open(&database.url).expect("instance 2"));
    let reader = PostgresStorage::open(&database.url).expect("instance 3");
    let allocated = Arc::new(Barrier::new(2));
    let slow = {
        let (storage, allocated) = (first.clone(), allocated.clone());
        std::thread::spawn(move || {
            let mut tx = storage.begin().expect("begin");
            let seq = tx
                .write_document(
                    "slow",
                    "case",
                    Some("a"),
                    b"h",
                    None,
                    DocumentWrite::Snapshot(b"s"),
                )
                .expect("write");
            allocated.wait();
            // Between taking the number and committing: the other
            // instance writes meanwhile.
            std::thread::sleep(Duration::from_millis(400));
            tx.commit().expect("commit");
            seq
        })
    };
    let fast = {
        let (storage, allocated) = (second.clone(), allocated.clone());
        std::thread::spawn(move || {
            allocated.wait();
            let mut tx = storage.begin().expect("begin");
            let seq = tx
                .write_document(
                    "fast",
                    "case",
                    Some("a"),
                    b"h",
                    None,
                    DocumentWrite::Snapshot(b"f"),
                )
                .expect("write");
            tx.commit().expect("commit");
            seq
        })
    };
    // A device polling as a sync does: everything after its cursor, then
    // its cursor moves to the last number it received.
    let mut cursor = 0;
    let mut received = Vec::new();
    let started = Instant::now();
    while received.len() < 2 && started.elapsed() < Duration::from_secs(10) {
        let mut tx = reader.begin().expect("begin");
        for changed in tx
            .changed_after("reader", Some("a"), cursor, 100)
            .expect("scan")
        {
            received.push(changed.id);
            cursor = changed.meta.seq;
        }
        tx.commit().expect("commit");
        std::thread::sleep(Duration::from_millis(5));
    }
    let slow_seq = slow.join().expect("slow writer");
    let fast_seq = fast.join().expect("fast writer");
    assert!(slow_seq < fast_seq, "the slow one took its number first");
    assert_eq!(received, ["slow", "fast"], "both received, in order");
}

/// Across a network the server talks to PostgreSQL over TLS and checks the
/// database's certificate: a certificate of an unknown CA is refused at
/// once, with the reason; with the county's CA (`database_ca_file`) the
/// storage opens and PostgreSQL reports its connections encrypted.
#[test]
fn postgres_over_tls_checks_the_database_certificate() {
    use sprechtag_server::storage::PostgresStorage;
    let Some(database) = sprechtag_server::storage::test_database::TestDatabase::create() else {
        return;
    };
    let Some((url, ca)) = database.tls() else {
        return;
    };
    let started = std::time::Instant::now();
    let refused = PostgresStorage::open(&url)
        .err()
        .expect("a certificate of an unknown CA is refused")
        .to_string();
    assert!(
        refused.contains("certificate") || refused.contains("UnknownIssuer"),
        "{refused}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "refused at once, not after the pool's timeout"
    );
    let wrong_ca = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(wrong_ca.path(), "not a certificate\n").expect("write");
    let refused = PostgresStorage::open_with_ca(&url, Some(wrong_ca.path()))
        .err()
        .expect("a CA file without a certificate is refused")
        .to_string();
    assert!(refused.contains("no certificate"), "{refused}");

    let storage = PostgresStorage::open_with_ca(&url, Some(&ca)).expect("open with the CA");
    assert_eq!(storage.schema_version().expect("schema"), 1);
    let device = enrolled(&storage, "tls", Role::Caseworker, "a");
    let mut admin =
        ::postgres::Client::connect(&database.url, ::postgres::NoTls).expect("admin connection");
    let encrypted: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.datname = current_database() AND s.ssl AND a.pid <> pg_backend_pid()",
            &[],
        )
        .expect("pg_stat_ssl")
        .get(0);
    assert!(encrypted >= 1, "the storage's connections use TLS");
    let plain: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.datname = current_database() AND NOT s.ssl AND a.pid <> pg_backend_pid()",
            &[],
        )
        .expect("pg_stat_ssl")
        .get(0);
    assert_eq!(plain, 0, "no plain connection besides this one");
    assert!(
        storage
            .devices()
            .expect("devices")
            .iter()
            .any(|d| d.id == device)
    );
}
