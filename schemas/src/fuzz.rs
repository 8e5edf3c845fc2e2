//! Entry points for the fuzz targets (`tests/fuzz/`, cargo-fuzz on
//! nightly) and for the stable test that replays their corpus
//! (`schemas/tests/fuzz_corpus.rs`). Each takes any bytes; none may panic,
//! hang or allocate without bound, and what decodes must encode back.

use crate::case_summary::CaseSummary;
use crate::document::{self, DocumentKind};
use crate::key_file::KeyFile;
use crate::wire::SyncRequest;
use crate::{Case, OfficeHour};

/// The sync request decoder, as the server runs it on a body (zstd, then
/// CBOR), and on the bytes as CBOR directly (random bytes are seldom a
/// zstd frame, so the CBOR layer gets its own share).
pub fn sync_request(data: &[u8]) {
    let _ = SyncRequest::decode(data);
    if let Ok(body) = zstd::encode_all(data, 1)
        && let Ok(request) = SyncRequest::decode(&body)
    {
        let again = crate::wire::encode(&request);
        assert_eq!(SyncRequest::decode(&again).ok(), Some(request));
    }
}

/// The document loader and validator, in the server's order: plain chunks
/// only, then automerge, then the shape of a case or office hour and a
/// case's summary.
pub fn document(data: &[u8]) {
    if document::check_plain_chunks(data).is_err() {
        return;
    }
    let Ok(doc) = document::load(data) else {
        return;
    };
    match DocumentKind::of(&doc) {
        Some(DocumentKind::Case) => {
            if let Ok(case) = document::read::<Case>(&doc) {
                let summary = CaseSummary::from(&case);
                assert_eq!(CaseSummary::decode(&summary.encode()), Some(summary));
            }
        }
        Some(DocumentKind::OfficeHour) => {
            let _ = document::read::<OfficeHour>(&doc);
        }
        Some(DocumentKind::Catalog) => {
            if let Ok(stored) = document::read::<crate::CatalogDocument>(&doc) {
                let _ = stored.catalog.validate();
            }
        }
        Some(DocumentKind::Answer) => {
            let _ = document::read::<crate::Answer>(&doc);
        }
        Some(DocumentKind::Feedback) => {
            let _ = document::read::<crate::Feedback>(&doc);
        }
        None => {}
    }
}

/// The case summary decoder (devices index cases from it).
pub fn case_summary(data: &[u8]) {
    if let Some(summary) = CaseSummary::decode(data) {
        assert_eq!(CaseSummary::decode(&summary.encode()), Some(summary));
    }
}

/// `key.json`, read before anything else of a laptop's store.
pub fn key_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = KeyFile::parse(text) {
        assert_eq!(KeyFile::parse(&file.to_json()), Ok(file));
    }
}
