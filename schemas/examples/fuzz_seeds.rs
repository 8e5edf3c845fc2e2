//! Writes the seed inputs of the fuzz targets (realistic documents, sync
//! requests, summaries and key files) into a corpus folder:
//!
//! ```sh
//! cargo run -p sprechtag-schemas --example fuzz_seeds -- tests/fuzz/corpus
//! ```

use std::path::Path;

use automerge::ActorId;
use sprechtag_schemas::document;
use sprechtag_schemas::key_file::KeyFile;
use sprechtag_schemas::wire::{self, EraseOrder, Opened, PROTOCOL_VERSION, SyncRequest, Upload};
use sprechtag_schemas::{
    Case, CaseSummary, Catalog, Citizen, OfficeHour, OfficeHourStatus, Rating, Request,
};

fn write(root: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir).expect("corpus dir");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .expect("usage: fuzz_seeds CORPUS_DIR");
    let root = Path::new(&root);
    let catalog_text = include_str!("../../assets/catalog/services.json");
    let catalog = Catalog::from_json(catalog_text).expect("the shipped catalogue");
    let mut case = Case::draft(Citizen {
        surname: "Zwölfmeier-Größ".into(),
        given_names: "Wilhelmine".into(),
        ..Citizen::default()
    });
    case.id = "5f0c4b8e-3a51-4d7e-9d0b-2c4f1e6a7b80".into();
    case.number = "KMR-0042".into();
    case.notes = "Hörgerät; Rückruf erwünscht".into();
    for service in ["personalausweis", "wohngeld"] {
        case.requests.push(Request::for_service(
            catalog.service(service).expect("service"),
        ));
    }
    let actor = ActorId::from([7u8; 16].as_slice());
    let mut doc = document::create(actor.clone(), &case, "seed").expect("case document");
    let saved = doc.save_nocompress();
    write(root, "document", "case", &saved);
    let mut ratings = std::collections::BTreeMap::new();
    ratings.insert(
        "r1".to_string(),
        Rating {
            advice: Some(1),
            clarity: Some(2),
            place: None,
        },
    );
    let office_hour = OfficeHour {
        schema_version: sprechtag_schemas::SCHEMA_VERSION,
        id: "0d6c1c55-8f55-4a2b-9d1e-6a8a3c2b1f00".into(),
        village: "Kleinbrück".into(),
        venue: "Dorfgemeinschaftshaus".into(),
        date: "2026-12-03".parse().expect("date"),
        start_time: Some("09:00".into()),
        end_time: Some("12:00".into()),
        caseworker: "Leyla Demir".into(),
        department: Some("buergerbuero".into()),
        status: OfficeHourStatus::Closed,
        closed_at: Some("2026-12-03T12:05:00Z".into()),
        summary: None,
        ratings,
    };
    let mut hour =
        document::create(actor.clone(), &office_hour, "seed").expect("office hour document");
    write(root, "document", "office-hour", &hour.save_nocompress());

    // The knowledge base and a complaint: the other kinds of documents.
    let stored_catalog = sprechtag_schemas::CatalogDocument {
        schema_version: sprechtag_schemas::SCHEMA_VERSION,
        id: sprechtag_schemas::knowledge::CATALOG_DOCUMENT_ID.into(),
        catalog: catalog.clone(),
        edited_by: "a.schaefer (ANS)".into(),
        edited_at: "2026-12-01T10:00:00Z".into(),
    };
    let mut doc = document::create(actor.clone(), &stored_catalog, "seed").expect("catalogue");
    write(root, "document", "catalog", &doc.save_nocompress());
    let answer = sprechtag_schemas::Answer {
        schema_version: sprechtag_schemas::SCHEMA_VERSION,
        id: "7a1e0c2d-5b4f-4e3a-8c9d-0f1e2d3c4b5a".into(),
        question: "Wie lange gilt ein Personalausweis?".into(),
        answer: "Zehn Jahre; unter 24 Jahren sechs.".into(),
        service_ids: vec!["personalausweis".into()],
        status: sprechtag_schemas::AnswerStatus::Proposed,
        written_by: "l.demir (KMR)".into(),
        written_at: "2026-12-01T10:00:00Z".into(),
        checked_by: None,
        checked_at: None,
    };
    let mut doc = document::create(actor.clone(), &answer, "seed").expect("answer");
    write(root, "document", "answer", &doc.save_nocompress());
    let feedback = sprechtag_schemas::Feedback {
        schema_version: sprechtag_schemas::SCHEMA_VERSION,
        id: "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a99".into(),
        department: Some("buergerbuero".into()),
        created_at: "2026-12-01T10:00:00Z".into(),
        created_by: "l.demir".into(),
        kind: sprechtag_schemas::FeedbackKind::Complaint,
        category: sprechtag_schemas::FeedbackCategory::Waiting,
        text: "Über eine Stunde gewartet, kein Stuhl.".into(),
        case_id: Some(case.id.clone()),
        forwarding: None,
        answer: String::new(),
        closed_at: None,
        closed_by: None,
    };
    let mut doc = document::create(actor, &feedback, "seed").expect("feedback");
    write(root, "document", "feedback", &doc.save_nocompress());

    write(
        root,
        "case_summary",
        "case",
        &CaseSummary::from(&case).encode(),
    );

    let request = SyncRequest {
        trust: None,
        protocol: PROTOCOL_VERSION,
        cursor: 42,
        uploads: vec![Upload {
            attestations: Vec::new(),
            doc_id: case.id.clone(),
            changes: saved,
            heads: wire::heads_to_bytes(&doc.get_heads()),
        }],
        max_response_bytes: 65536,
        summaries: true,
        opened: vec![Opened {
            doc_id: case.id.clone(),
            at: "2026-12-01T10:00:00Z".into(),
        }],
        erase: vec![EraseOrder {
            doc_id: case.id.clone(),
            reason: "Antrag Art. 17".into(),
            successor: None,
        }],
        resync: false,
    };
    let mut cbor = Vec::new();
    ciborium::into_writer(&request, &mut cbor).expect("CBOR");
    write(root, "sync_request", "cbor", &cbor);
    write(root, "sync_request", "body", &wire::encode(&request));

    let key = KeyFile::new(&[0x5a; 16]).with_check("0123456789abcdef".repeat(2));
    write(
        root,
        "key_file",
        "complete",
        key.to_json_pretty().as_bytes(),
    );
    write(
        root,
        "key_file",
        "old",
        KeyFile::new(&[1; 16]).to_json().as_bytes(),
    );
    println!("seeds written to {}", root.display());
}
