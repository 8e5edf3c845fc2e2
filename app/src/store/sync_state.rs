//! What the sync engine needs from the store: which documents have changes
//! the server lacks, and applying one server response — downloads, the
//! acknowledgement of uploads and the new cursor — in one transaction, so a
//! dropped link never leaves half a round behind.

use std::collections::HashSet;

use automerge::{AutoCommit, ChangeHash};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use sprechtag_schemas::document::{self, DocumentKind};
use sprechtag_schemas::wire::{SyncResponse, Upload, heads_from_bytes, heads_to_bytes};
use sprechtag_schemas::{CaseSummary, OfficeHour};

use super::case_index::{FullTextRows, index_case};
use super::documents::{self, kind_name};
use super::{Result, Store, StoreError, set_setting, setting};

/// The server this device is enrolled with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enrolment {
    pub server_url: String,
    #[serde(skip)]
    pub token: String,
    pub device_id: String,
    pub user: String,
    pub role: String,
    pub department: String,
}

/// Uploads of one request, with the heads each one brings the server to.
#[derive(Debug, Default)]
pub struct UploadBatch {
    pub uploads: Vec<Upload>,
    heads: Vec<String>,
}

/// What applying a response changed locally.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Applied {
    pub accepted: usize,
    pub downloaded: usize,
}

impl Store {
    pub fn enrolment(&self) -> Result<Option<Enrolment>> {
        let Some(server_url) = setting(&self.conn, "sync.server_url")? else {
            return Ok(None);
        };
        let get =
            |key: &str| -> Result<String> { Ok(setting(&self.conn, key)?.unwrap_or_default()) };
        Ok(Some(Enrolment {
            server_url,
            token: get("sync.token")?,
            device_id: get("sync.device_id")?,
            user: get("sync.user")?,
            role: get("sync.role")?,
            department: get("sync.department")?,
        }))
    }

    /// Records the enrolment, takes the server's case-number prefix, and
    /// gives every document without a department this device's.
    pub fn enrol(&mut self, enrolment: &Enrolment, prefix: &str) -> Result<()> {
        {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (key, value) in [
                ("sync.server_url", enrolment.server_url.as_str()),
                ("sync.token", enrolment.token.as_str()),
                ("sync.device_id", enrolment.device_id.as_str()),
                ("sync.user", enrolment.user.as_str()),
                ("sync.role", enrolment.role.as_str()),
                ("sync.department", enrolment.department.as_str()),
                ("sync.cursor", "0"),
            ] {
                set_setting(&tx, key, value)?;
            }
            tx.commit()?;
        }
        self.set_device_prefix(prefix)?;
        self.assign_department(&enrolment.department)
    }

    /// The department new documents belong to, once enrolled.
    pub(super) fn department(&self) -> Result<Option<String>> {
        Ok(setting(&self.conn, "sync.department")?.filter(|d| !d.is_empty()))
    }

    fn assign_department(&mut self, department: &str) -> Result<()> {
        let ids: Vec<(String, String)> = self
            .conn
            .prepare("SELECT id, kind FROM documents")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, kind) in ids {
            let department = department.to_string();
            if kind == DocumentKind::Case.as_str() {
                self.update_case(&id, "assign department", |case| {
                    if case.department.is_none() {
                        case.department = Some(department);
                    }
                    Ok(())
                })?;
            } else {
                self.update_office_hour(&id, "assign department", |office_hour| {
                    if office_hour.department.is_none() {
                        office_hour.department = Some(department);
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// The server's cursor as of the last committed response.
    pub fn sync_cursor(&self) -> Result<u64> {
        Ok(setting(&self.conn, "sync.cursor")?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }

    /// Documents with changes the server has not acknowledged.
    pub fn pending_count(&self) -> Result<usize> {
        let count: i64 = self.conn.query_row(
            "SELECT count(*) FROM documents WHERE heads != synced_heads",
            [],
            |r| r.get(0),
        )?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Whether any document other than `exclude` has changes to upload.
    pub fn has_pending_uploads(&self, exclude: &HashSet<String>) -> Result<bool> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id FROM documents WHERE heads != synced_heads")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            if !exclude.contains(&id) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Documents and the heads the server acknowledged for them.
    pub fn synced_documents(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .conn
            .prepare("SELECT id, synced_heads FROM documents WHERE synced_heads != '' ORDER BY id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Changes for the server, up to about `budget` bytes (at least one
    /// document), skipping `exclude`.
    pub fn pending_uploads(
        &mut self,
        budget: usize,
        exclude: &HashSet<String>,
    ) -> Result<UploadBatch> {
        let pending: Vec<(String, String, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, kind, synced_heads FROM documents WHERE heads != synced_heads
                 ORDER BY updated_at, id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut batch = UploadBatch::default();
        let mut bytes = 0;
        for (id, kind, synced) in pending {
            if exclude.contains(&id) {
                continue;
            }
            let kind = if kind == DocumentKind::Case.as_str() {
                DocumentKind::Case
            } else {
                DocumentKind::OfficeHour
            };
            let mut doc = self.read_doc(&id, kind)?;
            let synced = parse_heads(&synced);
            let known = synced.iter().all(|h| doc.get_change_by_hash(h).is_some());
            let changes = if synced.is_empty() || !known {
                // Uncompressed: the request is zstd-compressed as a whole,
                // and automerge's per-column deflate cost more CPU than the
                // rest of a sync together (it sets up 300 KB of tables per
                // column).
                doc.save_nocompress()
            } else {
                doc.save_after(&synced)
            };
            if !batch.uploads.is_empty() && bytes + changes.len() > budget {
                break;
            }
            bytes += changes.len();
            let heads = doc.get_heads();
            batch.heads.push(document::heads_hex(&heads).join(" "));
            batch.uploads.push(Upload {
                doc_id: id,
                changes,
                heads: heads_to_bytes(&heads),
            });
        }
        Ok(batch)
    }

    /// Commits one server response: accepted uploads are marked synced,
    /// downloads are merged and indexed, the cursor moves on.
    pub fn apply_sync_response(
        &mut self,
        batch: &UploadBatch,
        response: &SyncResponse,
    ) -> Result<Applied> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut applied = Applied::default();
        for (upload, heads) in batch.uploads.iter().zip(&batch.heads) {
            if response.accepted.contains(&upload.doc_id) {
                tx.execute(
                    "UPDATE documents SET synced_heads = ?2 WHERE id = ?1",
                    params![upload.doc_id, heads],
                )?;
                applied.accepted += 1;
            }
        }
        let mut merged = Vec::new();
        let mut full_text = FullTextRows::default();
        for download in &response.downloads {
            let kind = match download.kind.as_str() {
                "case" => DocumentKind::Case,
                "office_hour" => DocumentKind::OfficeHour,
                other => {
                    return Err(StoreError::Invalid(format!(
                        "the server sent a document of kind {other:?}"
                    )));
                }
            };
            let server_heads = heads_from_bytes(&download.heads)
                .ok_or_else(|| StoreError::Invalid("the server sent malformed heads".into()))?;
            let exists: bool = tx
                .prepare_cached("SELECT 1 FROM documents WHERE id = ?1")?
                .query_row([&download.doc_id], |_| Ok(true))
                .optional()?
                .unwrap_or(false);
            let mut doc = if exists {
                let mut loaded = documents::load_for_edit(
                    &tx,
                    &download.doc_id,
                    kind,
                    self.cache.get(&download.doc_id),
                    self.device.actor(),
                )?;
                document::load_incremental(&mut loaded.doc, &download.changes)?;
                loaded.save(&tx, &download.doc_id)?;
                let version = loaded.version();
                (loaded.doc, Some(version))
            } else {
                let mut doc = AutoCommit::new();
                document::load_incremental(&mut doc, &download.changes)?;
                if DocumentKind::of(&doc) != Some(kind) {
                    return Err(StoreError::Invalid(format!(
                        "the server sent {} {} that is not one",
                        kind_name(kind),
                        download.doc_id
                    )));
                }
                doc.set_actor(self.device.actor());
                let heads = doc.get_heads();
                documents::insert_saved(&tx, &download.doc_id, kind, &download.changes, &heads)?;
                // Not kept in memory: nobody has it open, and a first sync
                // brings hundreds.
                (doc, None)
            };
            // Usually the document now has exactly the server's heads; a
            // lookup by hash is costly (automerge builds change metadata).
            if !document::same_heads(&doc.0.get_heads(), &server_heads)
                && server_heads
                    .iter()
                    .any(|h| doc.0.get_change_by_hash(h).is_none())
            {
                return Err(StoreError::Invalid(
                    "the server's changes do not reach its heads".into(),
                ));
            }
            match kind {
                DocumentKind::Case => {
                    let case: CaseSummary = document::read(&doc.0)?;
                    index_case(&tx, &case, &mut full_text)?;
                }
                DocumentKind::OfficeHour => {
                    let office_hour: OfficeHour = document::read(&doc.0)?;
                    super::office_hours::index_office_hour(&tx, &office_hour)?;
                }
            }
            tx.prepare_cached("UPDATE documents SET synced_heads = ?2 WHERE id = ?1")?
                .execute(params![
                    download.doc_id,
                    document::heads_hex(&server_heads).join(" ")
                ])?;
            if let (doc, Some(version)) = doc {
                merged.push((download.doc_id.clone(), doc, version));
            }
            applied.downloaded += 1;
        }
        full_text.write(&tx)?;
        set_setting(&tx, "sync.cursor", &response.cursor.to_string())?;
        tx.commit()?;
        for (id, doc, version) in merged {
            self.remember(&id, doc, version);
        }
        Ok(applied)
    }

    /// Remembers the outcome of a sync for the status line.
    pub fn record_sync_outcome(&mut self, error: Option<&str>) -> Result<()> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match error {
            None => {
                set_setting(&self.conn, "sync.last_success", &now)?;
                set_setting(&self.conn, "sync.last_error", "")?;
            }
            Some(error) => set_setting(&self.conn, "sync.last_error", error)?,
        }
        Ok(())
    }

    pub fn last_sync_success(&self) -> Result<Option<String>> {
        Ok(setting(&self.conn, "sync.last_success")?.filter(|s| !s.is_empty()))
    }
}

fn parse_heads(text: &str) -> Vec<ChangeHash> {
    text.split_whitespace()
        .filter_map(|h| h.parse().ok())
        .collect()
}
