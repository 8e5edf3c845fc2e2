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
use std::sync::{Arc, Mutex};

use automerge::{Automerge, ReadDoc};
use sprechtag_schemas::document::{self, DocumentKind, same_heads};
use sprechtag_schemas::knowledge::CATALOG_DOCUMENT_ID;
use sprechtag_schemas::wire::{
    BATCH_BYTES, Download, MAX_ERASE, MAX_OPENED, PROTOCOL_VERSION, RefusalCode, Rejection,
    SyncRequest, SyncResponse, Tombstone, Upload, heads_from_bytes, heads_to_bytes,
};
use sprechtag_schemas::{Answer, Case, CaseSummary, CatalogDocument, Feedback, OfficeHour};

use crate::storage::{
    Changed, Device, DocumentMeta, DocumentWrite, Pending, Seq, Storage, StorageError,
    SyncTransaction,
};

/// Incremental saves kept before a document is folded into a full save.
pub(crate) const COMPACT_AFTER: u32 = 32;
/// The largest answer of the knowledge base the server takes.
const MAX_QUESTION_CHARS: usize = 500;
const MAX_ANSWER_CHARS: usize = 10_000;
const MAX_ANSWER_SERVICES: usize = 50;
/// The laptop takes 5,000 characters; the server a little more slack.
const MAX_FEEDBACK_CHARS: usize = 10_000;
/// Most bytes of uploads loaded before a request's write transaction.
const PRELOAD_BYTES: usize = 2 * BATCH_BYTES;
/// Documents listed per look at the change log.
const SCAN_LIMIT: usize = 2_000;
/// Documents kept loaded; beyond this the cache starts over. A loaded case
/// takes about 100 KB, so this bounds the cache near 100 MB.
const CACHE_LIMIT: usize = 1_000;

/// Loaded documents by id, valid while their stored sequence number matches.
/// Shared, not copied: concurrent requests that read one document hold one
/// copy of it.
#[derive(Default)]
pub struct DocCache {
    docs: Mutex<HashMap<String, (Seq, Arc<Automerge>)>>,
}

impl std::fmt::Debug for DocCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DocCache")
    }
}

impl DocCache {
    fn get(&self, id: &str, seq: Seq) -> Option<Arc<Automerge>> {
        let docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        docs.get(id)
            .filter(|(s, _)| *s == seq)
            .map(|(_, d)| d.clone())
    }

    /// Drops a document (erased: its bytes must not stay in memory).
    pub fn forget(&self, id: &str) {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        docs.remove(id);
    }

    pub(crate) fn put(&self, id: &str, seq: Seq, doc: Arc<Automerge>) {
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
/// `server_key`: the server's public key (`certify`), to check the
/// signatures of relayed changes with; without it only the uploader's own
/// changes are taken.
pub fn handle(
    storage: &dyn Storage,
    cache: &DocCache,
    device: &Device,
    request: SyncRequest,
    server_key: Option<&[u8]>,
) -> Result<SyncResponse, SyncError> {
    let budget = request.response_budget();
    let identity = storage.identity()?;
    let epoch = identity.epoch;
    let server_actor = crate::mail::server_actor_prefix(&identity.server_id);
    let mut tx = storage.begin()?;
    // A cursor beyond the newest change: this server lost changes the
    // device saw (it was restored from a backup). Nothing is done; the
    // device starts over (`SyncRequest::resync`). One beyond any sequence
    // number is beyond the newest too.
    let request_cursor = Seq::try_from(request.cursor).unwrap_or(Seq::MAX);
    if request_cursor > tx.newest_seq()? {
        tx.touch_device(&device.id)?;
        tx.commit()?;
        return Ok(SyncResponse {
            protocol: PROTOCOL_VERSION,
            cursor: 0,
            epoch,
            resync: true,
            server_time: server_time(),
            ..SyncResponse::default()
        });
    }
    let preloaded = preload(&request.uploads);
    tx.touch_device(&device.id)?;
    if request.resync {
        tx.forget_holdings(&device.id)?;
    }
    tx.acknowledge(&device.id, request_cursor)?;
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    // Erasures first: an upload of what this request erases is refused.
    // Erasures first: an upload of what this request erases is refused.
    // Corrections wait for their successors among the uploads.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let orders = &request.erase[..request.erase.len().min(MAX_ERASE)];
    let taken = erase::take_orders(tx.as_mut(), cache, device, orders, &now)?;
    let (mut erased, corrections) = (taken.erased, taken.corrections);
    rejected.extend(taken.rejected);
    for (upload, preloaded) in request.uploads.into_iter().zip(preloaded) {
        let correction = corrections.iter().find(|c| c.successor == upload.doc_id);
        match apply_upload(
            tx.as_mut(),
            cache,
            device,
            &upload,
            preloaded,
            correction,
            &ServerSide {
                actor: &server_actor,
                key: server_key,
            },
        )? {
            Ok(()) => accepted.push(upload.doc_id),
            Err((code, message)) => rejected.push(Rejection {
                doc_id: upload.doc_id,
                code: code.as_str().to_string(),
                message,
            }),
        }
    }
    let completed =
        erase::complete_corrections(tx.as_mut(), cache, device, &corrections, &accepted, &now)?;
    erased.extend(completed.erased);
    rejected.extend(completed.rejected);
    erase::explain_refusals(tx.as_mut(), &rejected, &mut erased)?;
    // Erased by this request (a repeated order gets its older tombstone).
    let erasing = erased.iter().any(|t| t.erased_at == now);
    let Collected {
        downloads,
        tombstones,
        cursor,
        more,
    } = collect_downloads(
        tx.as_mut(),
        cache,
        device,
        request_cursor,
        budget,
        request.summaries,
    )?;
    // Who opened which case on the device, as it reports.
    for opened in request.opened.iter().take(MAX_OPENED) {
        if !is_document_id(&opened.doc_id) || opened.at.len() > 40 {
            continue;
        }
        tx.append_audit(
            NewEntry::new(Event::CaseOpened)
                .device(device)
                .cases(vec![opened.doc_id.clone()])
                .detail(serde_json::json!({ "at": opened.at })),
        )?;
    }
    // A round that took, refused or sent something is recorded with it;
    // an idle poll is not (the device's last contact is `last_seen`).
    if !(accepted.is_empty() && rejected.is_empty() && downloads.is_empty()) {
        tx.append_audit(sync_entry(device, &accepted, &rejected, &downloads))?;
    }
    tx.commit()?;
    if erasing {
        storage.purge()?;
    }
    for tombstone in tombstones {
        if !erased.iter().any(|t| t.doc_id == tombstone.doc_id) {
            erased.push(tombstone);
        }
    }
    Ok(SyncResponse {
        protocol: PROTOCOL_VERSION,
        accepted,
        rejected,
        downloads,
        // Sequence numbers are never negative.
        cursor: u64::try_from(cursor).unwrap_or(0),
        more,
        erased,
        epoch,
        resync: false,
        server_time: server_time(),
        // Signed by the HTTP layer, which holds the key (`certify`).
        trust: None,
    })
}

use crate::audit::{Event, NewEntry};
use crate::erase;
use crate::integrity::{self, Refusal};

/// What an upload is checked with of the server itself: the registered
/// part of its actors, and its public key (`certify`).
struct ServerSide<'a> {
    actor: &'a str,
    key: Option<&'a [u8]>,
}

/// The attestations of an upload whose signatures hold.
fn attested(
    server_key: Option<&[u8]>,
    doc_id: &str,
    attestations: &[sprechtag_schemas::trust::Attestation],
) -> Vec<integrity::Attested> {
    let Some(server_key) = server_key else {
        return Vec::new();
    };
    sprechtag_schemas::integrity::verified_attestations(server_key, doc_id, attestations)
        .into_iter()
        .map(|(attested, _, _)| attested)
        .collect()
}

/// Now, for the laptops to set their clocks by.
fn server_time() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) use sprechtag_schemas::document::is_document_id;

/// The audit entry of a sync round: which documents were taken, refused
/// (with the code) and sent.
fn sync_entry(
    device: &Device,
    accepted: &[String],
    rejected: &[Rejection],
    downloads: &[Download],
) -> NewEntry {
    let sent: Vec<&str> = downloads.iter().map(|d| d.doc_id.as_str()).collect();
    let refused: Vec<serde_json::Value> = rejected
        .iter()
        .map(|r| serde_json::json!({ "doc_id": r.doc_id, "code": r.code }))
        .collect();
    let mut ids: Vec<String> = accepted.to_vec();
    ids.extend(rejected.iter().map(|r| r.doc_id.clone()));
    ids.extend(sent.iter().map(|id| (*id).to_string()));
    ids.sort();
    ids.dedup();
    NewEntry::new(Event::Sync)
        .device(device)
        .cases(ids)
        .detail(serde_json::json!({ "accepted": accepted, "refused": refused, "sent": sent }))
}

/// An upload loaded and checked before the write transaction: the document,
/// its kind and summary, and the save to store (made from what loaded, not
/// the bytes as sent).
struct Preloaded {
    doc: Automerge,
    summary: Option<Vec<u8>>,
    saved: Vec<u8>,
}

/// Loads the uploads that are whole-document saves — what a client sends
/// for a document the server never had — checks their shape, reads their
/// summaries and saves them again, before the write transaction: the costly
/// part of taking a new document then runs on any core instead of under the
/// one writer connection. `None` for the others and for bytes that do not
/// pass (`apply_upload` checks those again and reports why). Bounded, so
/// that a hostile request of many tiny documents cannot make the server
/// hold them all loaded at once; clients send batches of `BATCH_BYTES`.
fn preload(uploads: &[Upload]) -> Vec<Option<Preloaded>> {
    let mut budget = PRELOAD_BYTES;
    uploads
        .iter()
        .map(|upload| {
            // An automerge chunk: 4 magic bytes, a 4-byte checksum, then the
            // chunk type, 0 for a document.
            if upload.changes.get(8) != Some(&0) || upload.changes.len() > budget {
                return None;
            }
            budget -= upload.changes.len();
            document::check_plain_chunks(&upload.changes).ok()?;
            let mut doc = Automerge::new();
            load_incremental(&mut doc, &upload.changes).ok()?;
            if !doc.get_missing_deps(&[]).is_empty() {
                return None;
            }
            let kind = DocumentKind::of(&doc)?;
            let summary = checked_shape(&doc, kind, &upload.doc_id).ok()?;
            let saved = doc.save_nocompress();
            Some(Preloaded {
                doc,
                summary,
                saved,
            })
        })
        .collect()
}

/// Whether the document has the shape of its kind and is the document it
/// is uploaded as; for a case, its summary (what devices index it by).
pub(crate) fn checked_shape(
    doc: &Automerge,
    kind: DocumentKind,
    doc_id: &str,
) -> Result<Option<Vec<u8>>, Refusal> {
    let invalid = |why: String| (RefusalCode::InvalidDocument, why);
    match kind {
        DocumentKind::Case => {
            let case: Case = document::read(doc).map_err(|e| invalid(e.to_string()))?;
            if case.id != doc_id {
                return Err(invalid(format!("the case names itself {:?}", case.id)));
            }
            Ok(Some(CaseSummary::from(&case).encode()))
        }
        DocumentKind::OfficeHour => {
            let office_hour: OfficeHour =
                document::read(doc).map_err(|e| invalid(e.to_string()))?;
            if office_hour.id != doc_id {
                return Err(invalid(format!(
                    "the office hour names itself {:?}",
                    office_hour.id
                )));
            }
            Ok(None)
        }
        DocumentKind::Catalog => {
            let catalog: CatalogDocument =
                document::read(doc).map_err(|e| invalid(e.to_string()))?;
            if catalog.id != doc_id || doc_id != CATALOG_DOCUMENT_ID {
                return Err(invalid(format!(
                    "the catalogue is document {CATALOG_DOCUMENT_ID}, not {doc_id:?}"
                )));
            }
            catalog
                .catalog
                .validate()
                .map_err(|e| invalid(format!("the catalogue is not valid: {e}")))?;
            Ok(None)
        }
        DocumentKind::Answer => {
            let answer: Answer = document::read(doc).map_err(|e| invalid(e.to_string()))?;
            if answer.id != doc_id {
                return Err(invalid(format!("the answer names itself {:?}", answer.id)));
            }
            if answer.question.trim().is_empty() || answer.answer.trim().is_empty() {
                return Err(invalid("an answer needs a question and its answer".into()));
            }
            // Every laptop of the county receives it: a device may not
            // fill them all.
            if answer.question.chars().count() > MAX_QUESTION_CHARS
                || answer.answer.chars().count() > MAX_ANSWER_CHARS
                || answer.service_ids.len() > MAX_ANSWER_SERVICES
            {
                return Err(invalid(format!(
                    "an answer holds at most {MAX_QUESTION_CHARS} characters of question, \
                     {MAX_ANSWER_CHARS} of answer and {MAX_ANSWER_SERVICES} services"
                )));
            }
            Ok(None)
        }
        DocumentKind::Feedback => {
            let feedback: Feedback = document::read(doc).map_err(|e| invalid(e.to_string()))?;
            if feedback.id != doc_id {
                return Err(invalid(format!("the entry names itself {:?}", feedback.id)));
            }
            if feedback.text.chars().count() > MAX_FEEDBACK_CHARS
                || feedback.answer.chars().count() > MAX_FEEDBACK_CHARS
            {
                return Err(invalid(format!(
                    "an idea or complaint holds at most {MAX_FEEDBACK_CHARS} characters"
                )));
            }
            Ok(None)
        }
    }
}

fn apply_upload(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    device: &Device,
    upload: &Upload,
    preloaded: Option<Preloaded>,
    correction: Option<&erase::Correction>,
    server: &ServerSide<'_>,
) -> Result<Result<(), Refusal>, SyncError> {
    let (doc_id, changes, heads) = (
        upload.doc_id.as_str(),
        upload.changes.as_slice(),
        upload.heads.as_slice(),
    );
    if !is_document_id(doc_id) {
        return Ok(Err((
            RefusalCode::BadDocumentId,
            format!("{doc_id:?} is not a document id"),
        )));
    }
    let Some(device_heads) = heads_from_bytes(heads) else {
        return Ok(Err((
            RefusalCode::BadHeads,
            "heads must be 32-byte hashes".into(),
        )));
    };
    let meta = tx.document_meta(doc_id)?;
    if meta.as_ref().is_some_and(|m| m.kind == ERASED_KIND) {
        return Ok(Err((
            RefusalCode::Erased,
            "the document was erased; it is never taken again".into(),
        )));
    }
    let county_wide =
        |kind: &str| DocumentKind::from_name(kind).is_some_and(|k| k.is_county_wide());
    if let (Some(meta), Some(scope)) = (&meta, device.scope())
        && meta.department.as_deref() != Some(scope)
        && !county_wide(&meta.kind)
    {
        return Ok(Err((
            RefusalCode::Forbidden,
            "the document belongs to another department".into(),
        )));
    }
    // Nothing compressed, nothing after the last chunk: automerge would
    // inflate without a bound before it checks anything.
    if let Err(e) = document::check_plain_chunks(changes) {
        return Ok(Err((RefusalCode::BadChanges, e.to_string())));
    }
    let (doc, before, checked) = match (&meta, preloaded) {
        (None, Some(preloaded)) => (
            preloaded.doc,
            Vec::new(),
            Some((preloaded.summary, preloaded.saved)),
        ),
        (meta, _) => {
            let mut doc = match meta {
                Some(meta) => Automerge::clone(&*load(tx, cache, doc_id, meta.seq)?),
                None => Automerge::new(),
            };
            let before = doc.get_heads();
            if let Err(e) = load_incremental(&mut doc, changes) {
                return Ok(Err((RefusalCode::BadChanges, e.to_string())));
            }
            (doc, before, None)
        }
    };
    let Some(kind) = DocumentKind::of(&doc) else {
        return Ok(Err((
            RefusalCode::UnknownDocument,
            "not a document of a kind this server knows".into(),
        )));
    };
    if meta.as_ref().is_some_and(|m| m.kind != kind.as_str()) {
        return Ok(Err((
            RefusalCode::KindChanged,
            "the document changed its kind".into(),
        )));
    }
    let department = department_of(&doc);
    if kind.is_county_wide() && department.is_some() {
        return Ok(Err((
            RefusalCode::InvalidDocument,
            "the knowledge base belongs to no department".into(),
        )));
    }
    if let Some(scope) = device.scope()
        && department.as_deref() != Some(scope)
        && !kind.is_county_wide()
    {
        return Ok(Err((
            RefusalCode::WrongDepartment,
            format!("documents of this device must belong to department {scope:?}"),
        )));
    }
    let after = doc.get_heads();
    // A lookup by hash makes automerge build change metadata: only when
    // the heads differ from the document's.
    if !same_heads(&device_heads, &after)
        && device_heads
            .iter()
            .any(|h| doc.get_change_by_hash(h).is_none())
    {
        return Ok(Err((
            RefusalCode::Incomplete,
            "the changes do not reach the heads sent".into(),
        )));
    }
    if after != before {
        let successor_of = correction.filter(|_| meta.is_none());
        if let Some(correction) = successor_of {
            let checked = document::read::<Case>(&doc)
                .map_err(|e| (RefusalCode::InvalidDocument, e.to_string()))
                .and_then(|successor| correction.check_successor(&successor, device));
            if let Err(refusal) = checked {
                return Ok(Err(refusal));
            }
        }
        if let Err(refusal) = integrity::check_changes(
            tx,
            &doc,
            &before,
            kind,
            meta.is_none(),
            successor_of,
            &integrity::KnownAuthors {
                server_actor: server.actor,
                uploader: device,
                attested: &attested(server.key, doc_id, &upload.attestations),
            },
        )? {
            return Ok(Err(refusal));
        }
        let (summary, saved) = match checked {
            Some(checked) => checked,
            None => match checked_shape(&doc, kind, doc_id) {
                Ok(summary) => (summary, Vec::new()),
                Err(refusal) => return Ok(Err(refusal)),
            },
        };
        let heads_bytes = heads_to_bytes(&after);
        let encoded;
        let write = match &meta {
            Some(meta) if meta.chunk_count + 1 < COMPACT_AFTER => {
                encoded = doc.save_after(&before);
                DocumentWrite::Chunk(&encoded)
            }
            // A new document saved before the transaction.
            None if !saved.is_empty() => DocumentWrite::Snapshot(&saved),
            _ => {
                // What loaded, saved again (never the bytes as sent), and
                // uncompressed: responses are zstd-compressed as a whole,
                // and automerge's per-column deflate costs more CPU than
                // the rest of the request.
                encoded = doc.save_nocompress();
                DocumentWrite::Snapshot(&encoded)
            }
        };
        let seq = tx.write_document(
            doc_id,
            kind.as_str(),
            department.as_deref(),
            &heads_bytes,
            summary.as_deref(),
            write,
        )?;
        // What the mail queue must know: new forwardings, answered ones.
        if matches!(kind, DocumentKind::Case | DocumentKind::Feedback) {
            let forwardings = crate::mail::forwardings_in(
                kind,
                doc_id,
                department.as_deref(),
                summary.as_deref(),
                &doc,
            );
            if !forwardings.is_empty() || meta.is_some() {
                tx.record_forwardings(doc_id, &forwardings)?;
            }
        }
        cache.put(doc_id, seq, Arc::new(doc));
    }
    tx.set_device_heads(&device.id, doc_id, heads)?;
    Ok(Ok(()))
}

/// What a response hands out.
struct Collected {
    downloads: Vec<Download>,
    tombstones: Vec<Tombstone>,
    cursor: Seq,
    more: bool,
}

/// The kind of a stored document that was erased (`erase.rs`).
const ERASED_KIND: &str = "erased";
/// What a tombstone counts against a response's budget.
const TOMBSTONE_BYTES: usize = 100;

fn collect_downloads(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    device: &Device,
    mut cursor: Seq,
    budget: usize,
    summaries: bool,
) -> Result<Collected, SyncError> {
    let mut collected = Collected {
        downloads: Vec::new(),
        tombstones: Vec::new(),
        cursor,
        more: false,
    };
    // The sequence number of each download, for its pending record.
    let mut sent_seqs = Vec::new();
    let mut bytes = 0;
    loop {
        let changed = tx.changed_after(&device.id, device.scope(), cursor, SCAN_LIMIT)?;
        let full_page = changed.len() == SCAN_LIMIT;
        for Changed { id, meta, known } in changed {
            let seq = meta.seq;
            if meta.kind == ERASED_KIND {
                if bytes > 0 && bytes + TOMBSTONE_BYTES > budget {
                    collected.more = true;
                    break;
                }
                if let Some(tombstone) = tx.tombstone(&id)? {
                    bytes += TOMBSTONE_BYTES;
                    collected.tombstones.push(tombstone.wire());
                }
                cursor = seq;
                continue;
            }
            if let Some((changes, whole)) = download_for(tx, cache, &id, &meta, known.as_deref())? {
                let summary = if whole && summaries {
                    tx.document_summary(&id)?
                } else {
                    None
                };
                // The budget counts change bytes only: a summary repeats what
                // its document holds and compresses to a few bytes beside it.
                if bytes > 0 && bytes + changes.len() > budget {
                    collected.more = true;
                    break;
                }
                bytes += changes.len();
                sent_seqs.push(seq);
                collected.downloads.push(Download {
                    attestation: None,
                    doc_id: id,
                    kind: meta.kind,
                    changes,
                    heads: meta.heads,
                    summary,
                });
            }
            cursor = seq;
        }
        if collected.more || !full_page {
            break;
        }
    }
    collected.cursor = cursor;
    let pending: Vec<Pending<'_>> = collected
        .downloads
        .iter()
        .zip(&sent_seqs)
        .map(|(download, &seq)| Pending {
            doc_id: &download.doc_id,
            heads: &download.heads,
            seq,
        })
        .collect();
    if !pending.is_empty() {
        tx.add_pending(&device.id, &pending)?;
    }
    Ok(collected)
}

/// What a device that holds `known` of a document lacks, and whether that
/// is the whole document; `None` if it is up to date. A device that holds
/// nothing gets the stored saves as they are — automerge loads them
/// concatenated — so handing a department's cases to a new laptop loads no
/// document on the server.
fn download_for(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    doc_id: &str,
    meta: &DocumentMeta,
    known: Option<&[u8]>,
) -> Result<Option<(Vec<u8>, bool)>, SyncError> {
    let Some(known) = known.and_then(heads_from_bytes) else {
        return Ok(Some((tx.document_bytes(doc_id)?.concat(), true)));
    };
    let server_heads = heads_from_bytes(&meta.heads).unwrap_or_default();
    if same_heads(&known, &server_heads) {
        return Ok(None);
    }
    let doc = load(tx, cache, doc_id, meta.seq)?;
    if known.iter().all(|h| doc.get_change_by_hash(h).is_some()) {
        Ok(Some((doc.save_after(&known), false)))
    } else {
        // Heads the server never saw (a device restored from an old
        // backup): send everything, automerge skips what it has.
        Ok(Some((tx.document_bytes(doc_id)?.concat(), true)))
    }
}

pub(crate) fn load(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    id: &str,
    seq: Seq,
) -> Result<Arc<Automerge>, SyncError> {
    if let Some(doc) = cache.get(id, seq) {
        return Ok(doc);
    }
    let mut doc = Automerge::new();
    for part in tx.document_bytes(id)? {
        load_incremental(&mut doc, &part).map_err(|_| SyncError::CorruptStored(id.to_string()))?;
    }
    let doc = Arc::new(doc);
    cache.put(id, seq, doc.clone());
    Ok(doc)
}

/// Merges bytes from the outside; automerge must not take the server down,
/// whatever they contain.
fn load_incremental(doc: &mut Automerge, bytes: &[u8]) -> Result<(), automerge::AutomergeError> {
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.load_incremental(bytes)));
    match outcome {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(automerge::AutomergeError::Fail),
    }
}

fn department_of(doc: &Automerge) -> Option<String> {
    match doc.get(automerge::ROOT, "department") {
        Ok(Some((automerge::Value::Scalar(value), _))) => value.as_str().map(str::to_string),
        _ => None,
    }
}
