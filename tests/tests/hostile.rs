//! Hostile and repeated input: every bad body gets a 4xx JSON error and the
//! server keeps serving; a replayed request changes nothing.

use rand::{Rng, RngCore};
use sprechtag_e2e::{Laptop, Raw, TestServer};
use sprechtag_schemas::wire::{
    self, CONTENT_TYPE, PROTOCOL_VERSION, SyncRequest, SyncResponse, Upload,
};
use sprechtag_server::storage::Storage;

fn assert_json_4xx(status: u16, body: &[u8], what: &str) {
    assert!((400..500).contains(&status), "{what}: status {status}");
    let error: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|_| panic!("{what}: not JSON"));
    assert!(
        error["error"].is_string() && error["message"].is_string(),
        "{what}: {error}"
    );
}

#[test]
fn malformed_truncated_and_random_bodies_get_a_4xx_and_the_server_keeps_serving() {
    let server = TestServer::start();
    let (raw, mut laptop) = Raw::new(&server);
    let case = laptop.new_case("Bauer", &["personalausweis"]);
    let valid = wire::encode(&SyncRequest {
        trust: None,
        protocol: PROTOCOL_VERSION,
        cursor: 0,
        max_response_bytes: 0,
        summaries: false,
        uploads: vec![Upload {
            attestations: Vec::new(),
            doc_id: case.id.clone(),
            // As the app sends it: uncompressed (compressed is refused).
            changes: sprechtag_schemas::document::load(
                &laptop.store.export_case(&case.id).expect("export"),
            )
            .expect("load")
            .save_nocompress(),
            heads: Vec::new(),
        }],
        opened: Vec::new(),
        erase: Vec::new(),
        resync: false,
    });
    let mut rng = rand::rng();
    let mut bodies: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("plain text".into(), b"hello server".to_vec()),
        (
            "zstd of garbage".into(),
            zstd::encode_all(&b"\xff\x00garbage"[..], 3).expect("zstd"),
        ),
        (
            "json".into(),
            br#"{"protocol":1,"cursor":0,"uploads":[]}"#.to_vec(),
        ),
        (
            "other protocol".into(),
            wire::encode(&SyncRequest {
                trust: None,
                protocol: 7,
                cursor: 0,
                uploads: vec![],
                max_response_bytes: 0,
                summaries: false,
                opened: Vec::new(),
                erase: Vec::new(),
                resync: false,
            }),
        ),
    ];
    for cut in [1, valid.len() / 3, valid.len() / 2, valid.len() - 1] {
        bodies.push((format!("truncated at {cut}"), valid[..cut].to_vec()));
    }
    for i in 0..40 {
        let mut random = vec![0u8; rng.random_range(1..4096)];
        rng.fill_bytes(&mut random);
        bodies.push((format!("random {i}"), random));
        let mut flipped = valid.clone();
        let at = rng.random_range(0..flipped.len());
        flipped[at] ^= rng.random_range(1..=255u8);
        bodies.push((format!("flipped {i}"), flipped));
    }
    for (what, body) in bodies {
        let (status, answer) = raw.sync(body);
        if status == 200 {
            // A flipped byte may land where it still decodes; the answer is
            // then a valid response with the upload refused or merged.
            wire::decode::<SyncResponse>(&answer).unwrap_or_else(|e| panic!("{what}: {e}"));
        } else {
            assert_json_4xx(status, &answer, &what);
        }
        assert!(raw.healthy(), "the server stopped serving after {what}");
    }

    let (status, body) = raw.post(valid.clone(), "application/json", Some(&raw.token));
    assert_eq!(status, 415);
    assert_json_4xx(status, &body, "wrong content type");
    let (status, body) = raw.post(valid.clone(), CONTENT_TYPE, None);
    assert_eq!(status, 401);
    assert_json_4xx(status, &body, "no token");
    let (status, body) = raw.post(valid.clone(), CONTENT_TYPE, Some("0123"));
    assert_eq!(status, 401);
    assert_json_4xx(status, &body, "bad token");
    // Refused by its Content-Length at once: the answer may arrive, or the
    // connection may close under the client still writing (broken pipe).
    match raw.try_post(
        vec![0u8; wire::MAX_BODY_BYTES + 1],
        CONTENT_TYPE,
        Some(&raw.token),
    ) {
        Ok((status, body)) => {
            assert_eq!(status, 413, "oversized body");
            assert_json_4xx(status, &body, "oversized body");
        }
        Err(e) => assert!(e.is_request(), "oversized body: {e}"),
    }
    assert!(raw.healthy());
    // After all that, the valid request still works.
    let (status, answer) = raw.sync(valid);
    assert_eq!(status, 200);
    let response: SyncResponse = wire::decode(&answer).expect("decode");
    assert_eq!(response.accepted, vec![case.id]);
}

#[test]
fn a_request_replayed_twice_changes_nothing() {
    let server = TestServer::start();
    let (raw, mut laptop) = Raw::new(&server);
    let case = laptop.new_case("Schulz", &["wohngeld"]);
    let mut doc =
        sprechtag_schemas::document::load(&laptop.store.export_case(&case.id).expect("export"))
            .expect("load");
    let body = wire::encode(&SyncRequest {
        trust: None,
        protocol: PROTOCOL_VERSION,
        cursor: 0,
        max_response_bytes: 0,
        summaries: false,
        uploads: vec![Upload {
            attestations: Vec::new(),
            doc_id: case.id.clone(),
            changes: doc.save_nocompress(),
            heads: wire::heads_to_bytes(&doc.get_heads()),
        }],
        opened: Vec::new(),
        erase: Vec::new(),
        resync: false,
    });
    let (first_status, first) = raw.sync(body.clone());
    assert_eq!(first_status, 200);
    let storage = server.storage();
    let seq_after_first = {
        let mut tx = storage.begin().expect("tx");
        tx.document_meta(&case.id)
            .expect("meta")
            .expect("stored")
            .seq
    };
    for _ in 0..2 {
        let (status, again) = raw.sync(body.clone());
        assert_eq!(status, 200);
        let first: SyncResponse = wire::decode(&first).expect("first");
        let again: SyncResponse = wire::decode(&again).expect("again");
        assert_eq!(again.accepted, first.accepted);
        assert!(again.rejected.is_empty());
    }
    let mut tx = storage.begin().expect("tx");
    let meta = tx.document_meta(&case.id).expect("meta").expect("stored");
    assert_eq!(meta.seq, seq_after_first, "a replay stored nothing new");
    assert_eq!(
        tx.changed_after("nobody", None, 0, 100).expect("log").len(),
        1
    );
}

/// New documents are checked one by one, whether the server loads them
/// before its write transaction or inside it: a broken save, a document of
/// no known kind and one of another department are refused with their
/// reason, the good one in the same request is taken.
#[test]
fn unacceptable_new_documents_are_refused_each_with_its_reason() {
    use automerge::transaction::Transactable;

    let server = TestServer::start();
    let (raw, mut laptop) = Raw::new(&server);
    let upload = |doc_id: &str, mut doc: automerge::AutoCommit| Upload {
        attestations: Vec::new(),
        doc_id: doc_id.to_string(),
        heads: wire::heads_to_bytes(&doc.get_heads()),
        changes: doc.save_nocompress(),
    };
    let export = |laptop: &mut Laptop, id: &str| {
        sprechtag_schemas::document::load(&laptop.store.export_case(id).expect("export"))
            .expect("load")
    };

    let own = laptop.new_case("Schulz", &["wohngeld"]);
    // Not enrolled: its cases belong to no department.
    let mut stranger = Laptop::new();
    let foreign = stranger.new_case("Fremd", &["wohngeld"]);
    let mut neither = automerge::AutoCommit::new();
    neither
        .put(automerge::ROOT, "something", "else")
        .expect("put");
    // A document chunk's header (magic, checksum, type 0), then junk.
    let mut broken = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 0];
    broken.extend(std::iter::repeat_n(0xab, 64));

    let body = wire::encode(&SyncRequest {
        trust: None,
        protocol: PROTOCOL_VERSION,
        cursor: 0,
        max_response_bytes: 0,
        summaries: false,
        uploads: vec![
            Upload {
                attestations: Vec::new(),
                doc_id: "broken-1".into(),
                changes: broken,
                heads: Vec::new(),
            },
            upload("neither-1", neither),
            upload(&foreign.id, export(&mut stranger, &foreign.id)),
            upload(&own.id, export(&mut laptop, &own.id)),
        ],
        opened: Vec::new(),
        erase: Vec::new(),
        resync: false,
    });
    let (status, answer) = raw.sync(body);
    assert_eq!(status, 200);
    let response: SyncResponse = wire::decode(&answer).expect("response");
    assert_eq!(response.accepted, std::slice::from_ref(&own.id));
    let codes: Vec<(&str, &str)> = response
        .rejected
        .iter()
        .map(|r| (r.doc_id.as_str(), r.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            ("broken-1", "bad_changes"),
            ("neither-1", "unknown_document"),
            (foreign.id.as_str(), "wrong_department"),
        ]
    );
    assert!(raw.healthy());
    let storage = server.storage();
    let mut tx = storage.begin().expect("tx");
    assert!(tx.document_meta("broken-1").expect("meta").is_none());
    assert!(tx.document_meta(&foreign.id).expect("meta").is_none());
    assert!(tx.document_meta(&own.id).expect("meta").is_some());
}
