//! One round of sync, as the server sees it: take the device's uploads,
//! merge them with automerge, then hand out what the device lacks of the
//! documents in its scope — within the byte budget the request asks for, committed in one
//! transaction before anything is acknowledged.
//!
//! The server remembers per device which heads it holds of each document
//! (`device_heads`), so a reconnect with nothing new costs a few hundred
//! bytes however many documents the device has. Heads sent in a response
//! count only once the next request acknowledges its cursor, so a lost
//! response is simply sent again.

use std::collections::HashMap;
use std::sync::Mutex;

use automerge::{AutoCommit, ChangeHash, ReadDoc};
use sprechtag_schemas::document::{self, DocumentKind};
use sprechtag_schemas::wire::{
    Download, PROTOCOL_VERSION, Rejection, SyncRequest, SyncResponse, heads_from_bytes,
    heads_to_bytes,
};

use crate::storage::{Device, DocumentWrite, Storage, StorageError, SyncTransaction};

/// Incremental saves kept before a document is folded into a full save.
const COMPACT_AFTER: u32 = 32;
/// Documents listed per look at the change log.
const SCAN_LIMIT: usize = 2_000;
/// Documents kept loaded; beyond this the cache starts over.
const CACHE_LIMIT: usize = 4_000;

/// Loaded documents by id, valid while their stored sequence number matches.
#[derive(Default)]
pub struct DocCache {
    docs: Mutex<HashMap<String, (u64, AutoCommit)>>,
}

impl std::fmt::Debug for DocCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DocCache")
    }
}

impl DocCache {
    fn get(&self, id: &str, seq: u64) -> Option<AutoCommit> {
        let docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        docs.get(id)
            .filter(|(s, _)| *s == seq)
            .map(|(_, d)| d.clone())
    }

    fn put(&self, id: &str, seq: u64, doc: AutoCommit) {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        if docs.len() >= CACHE_LIMIT {
            docs.clear();
        }
        docs.insert(id.to_string(), (seq, doc));
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored document {0} cannot be loaded")]
    CorruptStored(String),
}

/// Handles one sync request of `device`; durable before it returns.
pub fn handle(
    storage: &dyn Storage,
    cache: &DocCache,
    device: &Device,
    request: SyncRequest,
) -> Result<SyncResponse, SyncError> {
    let budget = request.response_budget();
    let mut tx = storage.begin()?;
    tx.acknowledge(&device.id, request.cursor)?;
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for upload in request.uploads {
        match apply_upload(
            tx.as_mut(),
            cache,
            device,
            &upload.doc_id,
            &upload.changes,
            &upload.heads,
        )? {
            Ok(()) => accepted.push(upload.doc_id),
            Err((code, message)) => rejected.push(Rejection {
                doc_id: upload.doc_id,
                code: code.to_string(),
                message,
            }),
        }
    }
    let (downloads, cursor, more) =
        collect_downloads(tx.as_mut(), cache, device, request.cursor, budget)?;
    tx.commit()?;
    Ok(SyncResponse {
        protocol: PROTOCOL_VERSION,
        accepted,
        rejected,
        downloads,
        cursor,
        more,
    })
}

type Refusal = (&'static str, String);

fn apply_upload(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    device: &Device,
    doc_id: &str,
    changes: &[u8],
    heads: &[u8],
) -> Result<Result<(), Refusal>, SyncError> {
    if doc_id.is_empty()
        || doc_id.len() > 64
        || !doc_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Ok(Err((
            "bad_document_id",
            format!("{doc_id:?} is not a document id"),
        )));
    }
    let Some(device_heads) = heads_from_bytes(heads) else {
        return Ok(Err(("bad_heads", "heads must be 32-byte hashes".into())));
    };
    let meta = tx.document_meta(doc_id)?;
    if let (Some(meta), Some(scope)) = (&meta, device.scope())
        && meta.department.as_deref() != Some(scope)
    {
        return Ok(Err((
            "forbidden",
            "the document belongs to another department".into(),
        )));
    }
    let mut doc = match &meta {
        Some(meta) => load(tx, cache, doc_id, meta.seq)?,
        None => AutoCommit::new(),
    };
    let before = doc.get_heads();
    if let Err(e) = document::load_incremental(&mut doc, changes) {
        return Ok(Err(("bad_changes", e.to_string())));
    }
    let Some(kind) = DocumentKind::of(&doc) else {
        return Ok(Err((
            "unknown_document",
            "neither a case nor an office hour".into(),
        )));
    };
    if meta.as_ref().is_some_and(|m| m.kind != kind.as_str()) {
        return Ok(Err((
            "kind_changed",
            "the document changed its kind".into(),
        )));
    }
    let department = department_of(&doc);
    if let Some(scope) = device.scope()
        && department.as_deref() != Some(scope)
    {
        return Ok(Err((
            "wrong_department",
            format!("documents of this device must belong to department {scope:?}"),
        )));
    }
    if device_heads
        .iter()
        .any(|h| doc.get_change_by_hash(h).is_none())
    {
        return Ok(Err((
            "incomplete",
            "the changes do not reach the heads sent".into(),
        )));
    }
    let after = doc.get_heads();
    if after != before {
        let heads_bytes = heads_to_bytes(&after);
        let seq = match &meta {
            Some(meta) if meta.chunk_count + 1 < COMPACT_AFTER => {
                let chunk = doc.save_after(&before);
                tx.write_document(
                    doc_id,
                    kind.as_str(),
                    department.as_deref(),
                    &heads_bytes,
                    DocumentWrite::Chunk(&chunk),
                )?
            }
            _ => {
                let full = doc.save();
                tx.write_document(
                    doc_id,
                    kind.as_str(),
                    department.as_deref(),
                    &heads_bytes,
                    DocumentWrite::Snapshot(&full),
                )?
            }
        };
        cache.put(doc_id, seq, doc);
    }
    tx.set_device_heads(&device.id, doc_id, heads)?;
    Ok(Ok(()))
}

fn collect_downloads(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    device: &Device,
    mut cursor: u64,
    budget: usize,
) -> Result<(Vec<Download>, u64, bool), SyncError> {
    let mut downloads = Vec::new();
    let mut bytes = 0;
    loop {
        let changed = tx.changed_after(device.scope(), cursor, SCAN_LIMIT)?;
        let full_page = changed.len() == SCAN_LIMIT;
        for (doc_id, seq) in changed {
            let Some(meta) = tx.document_meta(&doc_id)? else {
                continue;
            };
            let mut doc = load(tx, cache, &doc_id, meta.seq)?;
            let server_heads = doc.get_heads();
            let known = tx
                .device_heads(&device.id, &doc_id)?
                .and_then(|b| heads_from_bytes(&b))
                .filter(|heads| heads.iter().all(|h| doc.get_change_by_hash(h).is_some()));
            let up_to_date = known.as_ref().is_some_and(|k| same_heads(k, &server_heads));
            if !up_to_date {
                let changes = match &known {
                    Some(heads) => doc.save_after(heads),
                    None => doc.save(),
                };
                if !downloads.is_empty() && bytes + changes.len() > budget {
                    return Ok((downloads, cursor, true));
                }
                bytes += changes.len();
                let heads = heads_to_bytes(&server_heads);
                tx.add_pending(&device.id, &doc_id, &heads, seq)?;
                downloads.push(Download {
                    doc_id,
                    kind: meta.kind,
                    changes,
                    heads,
                });
            }
            cursor = seq;
        }
        if !full_page {
            return Ok((downloads, cursor, false));
        }
    }
}

fn load(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    id: &str,
    seq: u64,
) -> Result<AutoCommit, SyncError> {
    if let Some(doc) = cache.get(id, seq) {
        return Ok(doc);
    }
    let mut doc = AutoCommit::new();
    for part in tx.document_bytes(id)? {
        document::load_incremental(&mut doc, &part)
            .map_err(|_| SyncError::CorruptStored(id.to_string()))?;
    }
    cache.put(id, seq, doc.clone());
    Ok(doc)
}

fn department_of(doc: &AutoCommit) -> Option<String> {
    match doc.get(automerge::ROOT, "department") {
        Ok(Some((automerge::Value::Scalar(value), _))) => value.as_str().map(str::to_string),
        _ => None,
    }
}

fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}
