//! What the sync engine needs from the store: which documents have changes
//! the server lacks, and applying one server response — downloads, the
//! acknowledgement of uploads and the new cursor — in one transaction, so a
//! dropped link never leaves half a round behind.

use std::collections::HashSet;

use automerge::{AutoCommit, ChangeHash};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use sprechtag_schemas::document::{self, DocumentKind};
use sprechtag_schemas::wire::{
    Download, EraseOrder, MAX_ERASE, MAX_OPENED, Opened, RefusalCode, SyncResponse, Tombstone,
    Upload, heads_from_bytes, heads_to_bytes,
};
use sprechtag_schemas::{CaseSummary, OfficeHour, Role, UnknownValue};

use super::attestations;
use super::case_index::{FullTextRows, index_case};
use super::documents::{self, kind_name};
use super::privacy;
use super::{Result, Store, StoreError, set_setting, setting};

// Documents with changes the server lacks: each reads the partial index
// `documents_pending` (schema migration 5), which holds exactly those.
pub(super) const PENDING_COUNT: &str = "SELECT count(*) FROM documents WHERE heads != synced_heads";
pub(super) const PENDING_IDS: &str = "SELECT id FROM documents WHERE heads != synced_heads";
pub(super) const PENDING_UPLOADS: &str = "SELECT id, kind, synced_heads FROM documents
     WHERE heads != synced_heads ORDER BY updated_at, id";

/// The server this device is enrolled with. `Debug` leaves out the token.
#[derive(Clone, PartialEq, Serialize)]
pub struct Enrolment {
    pub server_url: String,
    #[serde(skip)]
    pub token: String,
    pub device_id: String,
    pub user: String,
    pub role: Role,
    pub department: String,
    /// Plain `http://` to this server was allowed at enrolment.
    pub allow_insecure_http: bool,
    /// The county's own CA (PEM), the only one trusted for this server.
    #[serde(skip)]
    pub ca_cert: Option<String>,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("server_url", &self.server_url)
            .field("token", &"<redacted>")
            .field("device_id", &self.device_id)
            .field("user", &self.user)
            .field("role", &self.role)
            .field("department", &self.department)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("ca_cert", &self.ca_cert.as_ref().map(|_| "<PEM>"))
            .finish()
    }
}

impl Enrolment {
    pub fn http_settings(&self) -> crate::sync::HttpSettings {
        crate::sync::HttpSettings {
            allow_insecure_http: self.allow_insecure_http,
            ca_cert: self.ca_cert.clone(),
        }
    }
}

/// Uploads of one request, with the heads each one brings the server to,
/// and the case openings it reports.
#[derive(Debug, Default)]
pub struct UploadBatch {
    pub uploads: Vec<Upload>,
    heads: Vec<String>,
    pub opened: Vec<Opened>,
    /// Erasures ordered on this device, for the server.
    pub erase: Vec<EraseOrder>,
    /// The newest opening in `opened` (its row), forgotten once the
    /// response is committed.
    opened_up_to: Option<i64>,
}

/// What applying a response changed locally.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Applied {
    pub accepted: usize,
    pub downloaded: usize,
    /// Of the downloads, cases indexed from the server's summary.
    pub from_summaries: usize,
    /// Downloads this device could not read, kept aside (ids).
    pub set_aside: Vec<String>,
    /// Documents erased on the server whose copies were deleted here (ids).
    pub erased: Vec<String>,
    /// Erasures ordered here that the server confirmed (ids).
    pub erasures_confirmed: Vec<String>,
    /// Corrected cases that took over this device's unsynced edits of the
    /// cases they replaced (ids).
    pub carried_over: Vec<String>,
}

/// A document as people know it, for a message about it (a refused upload).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DocumentLabel {
    Case {
        number: String,
        /// "Surname, Given names".
        name: String,
    },
    OfficeHour {
        village: String,
        date: String,
    },
}

impl Store {
    /// What people call the document `id`, read from the index; `None` for
    /// a document this device does not hold.
    pub fn document_label(&self, id: &str) -> Result<Option<DocumentLabel>> {
        let case = self
            .conn
            .prepare_cached("SELECT number, surname, given_names FROM cases WHERE id = ?1")?
            .query_row([id], |r| {
                let citizen = sprechtag_schemas::Citizen {
                    surname: r.get(1)?,
                    given_names: r.get(2)?,
                    ..sprechtag_schemas::Citizen::default()
                };
                Ok(DocumentLabel::Case {
                    number: r.get(0)?,
                    name: citizen.display_name(),
                })
            })
            .optional()?;
        if case.is_some() {
            return Ok(case);
        }
        Ok(self
            .conn
            .prepare_cached("SELECT village, date FROM office_hours WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(DocumentLabel::OfficeHour {
                    village: r.get(0)?,
                    date: r.get(1)?,
                })
            })
            .optional()?)
    }

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
            role: get("sync.role")?
                .parse()
                .map_err(|e: UnknownValue| StoreError::Corrupt(e.to_string()))?,
            department: get("sync.department")?,
            allow_insecure_http: get("sync.allow_insecure_http")? == "1",
            ca_cert: Some(get("sync.ca_cert")?).filter(|pem| !pem.is_empty()),
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
                (
                    "sync.allow_insecure_http",
                    if enrolment.allow_insecure_http {
                        "1"
                    } else {
                        "0"
                    },
                ),
                ("sync.ca_cert", enrolment.ca_cert.as_deref().unwrap_or("")),
                ("sync.cursor", "0"),
            ] {
                set_setting(&tx, key, value)?;
            }
            // Another enrolment is another device: a new key pair, and the
            // old certificate is void.
            Store::forget_trust(&tx)?;
            tx.commit()?;
        }
        self.set_device_prefix(prefix)?;
        self.assign_department(&enrolment.department)?;
        self.adopt_unsynced_cases()?;
        Ok(())
    }

    /// Cases recorded on this device that the server has never taken, but
    /// whose number lacks the device's prefix or that are recorded in
    /// another name than the enrolled user's — those recorded before
    /// enrolment: the server takes a new case only with its author's
    /// prefix and name. Each gets the next number with the prefix (the old
    /// one kept as a former number, which search and receipts still know)
    /// and the enrolled user's name. Runs at enrolment, and again before
    /// every sync, for an enrolment cut short; returns how many changed.
    pub fn adopt_unsynced_cases(&mut self) -> Result<usize> {
        let Some(user) = setting(&self.conn, "sync.user")?.filter(|u| !u.is_empty()) else {
            return Ok(0);
        };
        self.refresh_prefix()?;
        let own = format!("{}-", self.device.prefix);
        let ids: Vec<String> = self
            .conn
            .prepare(
                "SELECT c.id FROM cases c JOIN documents d ON d.id = c.id
                 WHERE d.synced_heads = ''
                   AND (substr(c.number, 1, length(?1)) != ?1 OR c.created_by != ?2)
                   -- A corrected case keeps its predecessor's number and recorder.
                   AND c.id NOT IN (SELECT successor FROM erase_orders
                                    WHERE successor IS NOT NULL)
                 ORDER BY c.created_at, c.id",
            )?
            .query_map(params![own, user], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &ids {
            let number = self.next_case_number()?;
            self.update_case(id, "numbered for the enrolled device", |case| {
                if !case.number.starts_with(&own) {
                    let old = std::mem::replace(&mut case.number, number);
                    if !old.is_empty() && !case.former_numbers.contains(&old) {
                        case.former_numbers.push(old);
                    }
                }
                case.created_by.clone_from(&user);
                Ok(())
            })?;
        }
        Ok(ids.len())
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
            match DocumentKind::from_name(&kind) {
                Some(DocumentKind::Case) => {
                    self.update_case(&id, "assign department", |case| {
                        if case.department.is_none() {
                            case.department = Some(department);
                        }
                        Ok(())
                    })?;
                }
                Some(DocumentKind::OfficeHour) => {
                    self.update_office_hour(&id, "assign department", |office_hour| {
                        if office_hour.department.is_none() {
                            office_hour.department = Some(department);
                        }
                        Ok(())
                    })?;
                }
                Some(DocumentKind::Feedback) => {
                    self.update_feedback(&id, "assign department", |feedback| {
                        if feedback.department.is_none() {
                            feedback.department = Some(department);
                        }
                        Ok(())
                    })?;
                }
                // The knowledge base belongs to no department.
                Some(DocumentKind::Catalog | DocumentKind::Answer) | None => {}
            }
        }
        Ok(())
    }

    /// Starts the sync over: after a restore of this store, or when the
    /// server was restored (a new epoch, or a cursor beyond its newest
    /// change). See `request_resync`.
    pub fn resync(&mut self) -> Result<()> {
        request_resync(&self.conn)
    }

    /// Whether the next request must tell the server to forget what it
    /// believes this device holds.
    pub fn resync_requested(&self) -> Result<bool> {
        Ok(setting(&self.conn, "sync.resync")?.as_deref() == Some("1"))
    }

    /// The epoch of the server's history this device last synced with.
    pub fn server_epoch(&self) -> Result<Option<String>> {
        Ok(setting(&self.conn, "sync.epoch")?.filter(|e| !e.is_empty()))
    }

    /// Records how far this laptop's clock is from the server's (server
    /// minus laptop, milliseconds) and corrects the app's clock by it.
    pub fn record_clock_offset(&mut self, offset_ms: i64) -> Result<()> {
        set_setting(&self.conn, "sync.clock_offset_ms", &offset_ms.to_string())?;
        sprechtag_schemas::clock::set_offset_ms(offset_ms);
        Ok(())
    }

    /// The offset learnt at the last sync (0 if none).
    pub fn clock_offset_ms(&self) -> Result<i64> {
        Ok(setting(&self.conn, "sync.clock_offset_ms")?
            .and_then(|o| o.parse().ok())
            .unwrap_or(0))
    }

    /// The server's cursor as of the last committed response.
    pub fn sync_cursor(&self) -> Result<u64> {
        Ok(setting(&self.conn, "sync.cursor")?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }

    /// Documents with changes the server has not acknowledged.
    pub fn pending_count(&self) -> Result<usize> {
        let count: i64 = self
            .conn
            .prepare_cached(PENDING_COUNT)?
            .query_row([], |r| r.get(0))?;
        let orders: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM erase_orders")?
            .query_row([], |r| r.get(0))?;
        Ok(usize::try_from(count + orders).unwrap_or(0))
    }

    /// Whether any document other than `exclude` has changes to upload.
    pub fn has_pending_uploads(&self, exclude: &HashSet<String>) -> Result<bool> {
        if privacy::has_orders(&self.conn)? {
            return Ok(true);
        }
        let mut statement = self.conn.prepare_cached(PENDING_IDS)?;
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
            .prepare(
                "SELECT id, synced_heads FROM documents
                 WHERE synced_heads NOT IN ('', 'resync', 'peer') ORDER BY id",
            )?
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
        let mut pending: Vec<(String, String, String)> = self
            .conn
            .prepare_cached(PENDING_UPLOADS)?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        // A corrected case's new document travels with the order that
        // erases the old one: first, so that it is in this batch.
        let orders = privacy::erase_orders(&self.conn, MAX_ERASE)?;
        let successors: HashSet<String> =
            orders.iter().filter_map(|o| o.successor.clone()).collect();
        pending.sort_by_key(|(id, _, _)| !successors.contains(id));
        let mut batch = UploadBatch::default();
        let mut bytes = 0;
        for (id, kind, synced) in pending {
            if exclude.contains(&id) {
                continue;
            }
            let Some(kind) = DocumentKind::from_name(&kind) else {
                continue;
            };
            let mut doc = self.read_doc(&id, kind)?;
            // Starting over: the server may have lost changes of others;
            // its own signature from an earlier download covers them.
            let everything = synced == "resync";
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
                attestations: attestations::to_send(&self.conn, &id, everything)?,
                doc_id: id,
                changes,
                heads: heads_to_bytes(&heads),
            });
        }
        let opened: Vec<(i64, Opened)> = self
            .conn
            .prepare_cached("SELECT seq, doc_id, at FROM opened ORDER BY seq LIMIT ?1")?
            .query_map([i64::try_from(MAX_OPENED).unwrap_or(i64::MAX)], |r| {
                Ok((
                    r.get(0)?,
                    Opened {
                        doc_id: r.get(1)?,
                        at: r.get(2)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        batch.opened_up_to = opened.last().map(|(seq, _)| *seq);
        batch.opened = opened.into_iter().map(|(_, o)| o).collect();
        batch.erase = orders
            .into_iter()
            .filter(|order| {
                order
                    .successor
                    .as_ref()
                    .is_none_or(|s| batch.uploads.iter().any(|u| &u.doc_id == s))
            })
            .collect();
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
                attestations::sent(&tx, &upload.doc_id)?;
                applied.accepted += 1;
            }
        }
        // Erased on the server: the copies go, before anything is merged.
        // An upload refused as erased is a copy of such a case too.
        let mut tombstones = response.erased.clone();
        for rejection in &response.rejected {
            let ordered = batch.erase.iter().any(|o| o.doc_id == rejection.doc_id);
            let known = tombstones.iter().any(|t| t.doc_id == rejection.doc_id);
            if rejection.code == RefusalCode::Erased.as_str() && !known {
                tombstones.push(Tombstone {
                    doc_id: rejection.doc_id.clone(),
                    number: String::new(),
                    erased_at: super::now_rfc3339(),
                    successor: None,
                });
            } else if ordered {
                privacy::drop_order(&tx, &rejection.doc_id)?;
            }
        }
        applied.erasures_confirmed = batch
            .erase
            .iter()
            .filter(|o| response.erased.iter().any(|t| t.doc_id == o.doc_id))
            .map(|o| o.doc_id.clone())
            .collect();
        for tombstone in &tombstones {
            privacy::keep_unsynced_edits(&tx, tombstone, self.device.actor())?;
        }
        let (erased_ids, leftovers) = privacy::bury_all(&tx, &tombstones)?;
        applied.erased = erased_ids
            .iter()
            .filter(|id| !applied.erasures_confirmed.contains(id))
            .cloned()
            .collect();
        let mut merged = Vec::new();
        let mut full_text = FullTextRows::default();
        for download in &response.downloads {
            if privacy::is_erased(&tx, &download.doc_id)? {
                continue;
            }
            // Each download on its own: one the device cannot read is set
            // aside, with what it wrote rolled back, and the rest go on.
            tx.execute_batch("SAVEPOINT download")?;
            let mut rows = FullTextRows::default();
            let actor = self.device.actor();
            match take_download(
                &tx,
                self.cache.get(&download.doc_id),
                actor,
                download,
                &mut rows,
                Source::Server,
            ) {
                Ok(taken) => {
                    tx.execute_batch("RELEASE download")?;
                    full_text.absorb(rows);
                    applied.downloaded += 1;
                    match taken {
                        Taken::FromSummary => applied.from_summaries += 1,
                        Taken::Loaded(doc) => merged.extend(doc.into_remembered()),
                    }
                }
                Err(e) if e.is_unreadable_document() => {
                    tx.execute_batch("ROLLBACK TO download; RELEASE download")?;
                    tx.prepare_cached(
                        "INSERT INTO set_aside (doc_id, kind, bytes, reason, at)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![
                        download.doc_id,
                        download.kind,
                        download.changes,
                        e.to_string(),
                        super::now_rfc3339()
                    ])?;
                    applied.set_aside.push(download.doc_id.clone());
                }
                Err(e) => return Err(e),
            }
        }
        full_text.write(&tx)?;
        if let Some(up_to) = batch.opened_up_to {
            tx.execute("DELETE FROM opened WHERE seq <= ?1", [up_to])?;
        }
        set_setting(&tx, "sync.cursor", &response.cursor.to_string())?;
        // The server has forgotten what it believed this device held.
        set_setting(&tx, "sync.resync", "0")?;
        if !response.epoch.is_empty() {
            set_setting(&tx, "sync.epoch", &response.epoch)?;
        }
        tx.commit()?;
        let knowledge = response
            .downloads
            .iter()
            .any(|d| d.kind == "catalog" || d.kind == "answer");
        for (id, doc, version) in merged {
            self.remember(&id, doc, version);
        }
        if knowledge {
            self.knowledge_changed()?;
        }
        if !erased_ids.is_empty() {
            self.after_erasure(&erased_ids, leftovers);
        }
        applied.carried_over = self.carry_over_edits()?;
        Ok(applied)
    }

    /// Takes again what was set aside as unreadable and this build can read
    /// now: a document of a kind an older release did not know (the
    /// knowledge base, ideas and complaints) was set aside by it, and the
    /// server will not send it again until it changes. Each on its own; what
    /// still cannot be read stays aside. Returns how many were taken.
    pub fn retry_set_aside(&mut self) -> Result<usize> {
        let rows: Vec<(i64, String, String, Vec<u8>)> = self
            .conn
            .prepare("SELECT rowid, doc_id, kind, bytes FROM set_aside ORDER BY rowid")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut taken = 0;
        for (rowid, doc_id, kind, bytes) in rows {
            if DocumentKind::from_name(&kind).is_none() {
                continue;
            }
            // The heads the server sent are those of the bytes themselves.
            let Ok(mut doc) = document::load(&bytes) else {
                continue;
            };
            let download = Download {
                attestation: None,
                doc_id: doc_id.clone(),
                kind,
                heads: heads_to_bytes(&doc.get_heads()),
                changes: bytes,
                summary: None,
            };
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut rows = FullTextRows::default();
            match take_download(
                &tx,
                None,
                self.device.actor(),
                &download,
                &mut rows,
                Source::Server,
            ) {
                Ok(_) => {
                    rows.write(&tx)?;
                    tx.execute("DELETE FROM set_aside WHERE rowid = ?1", [rowid])?;
                    tx.commit()?;
                    self.forget(&doc_id);
                    taken += 1;
                }
                Err(e) if e.is_unreadable_document() => {}
                Err(e) => return Err(e),
            }
        }
        if taken > 0 {
            self.knowledge_changed()?;
        }
        Ok(taken)
    }

    /// Notes that the case was opened on this device, for the server's
    /// audit trail (handed over with the next sync). Only on an enrolled
    /// device: there is no trail to hand it to otherwise.
    pub fn record_opened(&mut self, id: &str) -> Result<()> {
        // A damaged store is read, not written: nothing is synced from it.
        if self.enrolment()?.is_some() && self.damage.is_none() {
            self.conn
                .prepare_cached("INSERT INTO opened (doc_id, at) VALUES (?1, ?2)")?
                .execute(params![id, super::now_rfc3339()])?;
        }
        Ok(())
    }

    /// How many documents from the server this device could not read and
    /// keeps aside.
    pub fn set_aside_count(&self) -> Result<usize> {
        let count: i64 =
            self.conn
                .query_row("SELECT count(DISTINCT doc_id) FROM set_aside", [], |r| {
                    r.get(0)
                })?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    /// Remembers the outcome of a sync for the status line.
    pub fn record_sync_outcome(&mut self, error: Option<&str>) -> Result<()> {
        let now =
            sprechtag_schemas::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
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

/// Records that the server holds `heads` of the document.
/// Makes the next sync start over: cursor 0, every document to be
/// uploaded whole (the server takes what it lacks and ignores the rest),
/// and the request flagged `resync`, so that the server forgets which
/// heads it believed this device held. Documents keep a non-empty mark, so
/// that they are not taken for cases never synced (`adopt_unsynced_cases`).
pub(crate) fn request_resync(conn: &rusqlite::Connection) -> Result<()> {
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         UPDATE documents SET synced_heads = 'resync' WHERE synced_heads != '';
         INSERT INTO settings (key, value) VALUES ('sync.cursor', '0')
             ON CONFLICT (key) DO UPDATE SET value = excluded.value;
         INSERT INTO settings (key, value) VALUES ('sync.resync', '1')
             ON CONFLICT (key) DO UPDATE SET value = excluded.value;
         COMMIT;",
    )?;
    Ok(())
}

fn mark_synced(tx: &Transaction<'_>, id: &str, heads: &[ChangeHash]) -> Result<()> {
    tx.prepare_cached("UPDATE documents SET synced_heads = ?2 WHERE id = ?1")?
        .execute(params![id, document::heads_hex(heads).join(" ")])?;
    Ok(())
}

fn parse_heads(text: &str) -> Vec<ChangeHash> {
    text.split_whitespace()
        .filter_map(|h| h.parse().ok())
        .collect()
}

/// How a download was taken.
pub(super) enum Taken {
    /// A new case stored as sent and indexed from the server's summary.
    FromSummary,
    /// Loaded and merged: the merged document. Boxed: a document is large
    /// beside the other variant.
    Loaded(Box<Merged>),
}

/// A document as a download left it.
pub(super) struct Merged {
    pub id: String,
    pub doc: AutoCommit,
    /// Its stored version if this device held it before (then it is kept
    /// in memory); `None` for one new here (nobody has it open, and a
    /// first sync brings hundreds).
    pub version: Option<i64>,
}

impl Merged {
    /// What the store's cache keeps: a document this device held.
    pub fn into_remembered(self) -> Option<(String, AutoCommit, i64)> {
        self.version.map(|version| (self.id, self.doc, version))
    }
}

/// Stores one download: merged into the document this device holds, or
/// stored new; indexed. An error leaves its writes to be rolled back.
/// The server's signature on what it sent: shown to it again if it lost
/// those changes (restored from a backup) and this laptop starts over.
fn keep_servers_attestation(tx: &Transaction<'_>, download: &Download) -> Result<()> {
    match &download.attestation {
        Some(attestation) => {
            attestations::keep(tx, &download.doc_id, attestations::SERVER, attestation)
        }
        None => Ok(()),
    }
}

/// Where a document's changes come from: the server's are on the server
/// (marked synced, summaries trusted); another laptop's are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Server,
    Peer,
}

pub(super) fn take_download(
    tx: &Transaction<'_>,
    cached: Option<&documents::CachedDoc>,
    actor: automerge::ActorId,
    download: &Download,
    full_text: &mut FullTextRows,
    source: Source,
) -> Result<Taken> {
    let Some(kind) = DocumentKind::from_name(&download.kind) else {
        return Err(StoreError::Invalid(format!(
            "the server sent a document of kind {:?}",
            download.kind
        )));
    };
    let server_heads = heads_from_bytes(&download.heads)
        .ok_or_else(|| StoreError::Invalid("the server sent malformed heads".into()))?;
    let exists: bool = tx
        .prepare_cached("SELECT 1 FROM documents WHERE id = ?1")?
        .query_row([&download.doc_id], |_| Ok(true))
        .optional()?
        .unwrap_or(false);
    if !exists
        && kind == DocumentKind::Case
        && source == Source::Server
        && let Some(case) = download
            .summary
            .as_deref()
            .and_then(CaseSummary::decode)
            .filter(|case| case.id == download.doc_id)
    {
        // A case new to this device with the summary the server read from
        // these very bytes: stored and indexed without loading it. Loading
        // is most of the cost of taking a case, and a first sync brings a
        // whole department's.
        documents::insert_saved(tx, &download.doc_id, kind, &download.changes, &server_heads)?;
        index_case(tx, &case, full_text)?;
        mark_synced(tx, &download.doc_id, &server_heads)?;
        keep_servers_attestation(tx, download)?;
        return Ok(Taken::FromSummary);
    }
    let (mut doc, version) = if exists {
        let mut loaded = documents::load_for_edit(tx, &download.doc_id, kind, cached, actor)?;
        document::load_incremental(&mut loaded.doc, &download.changes)?;
        loaded.save(tx, &download.doc_id)?;
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
        doc.set_actor(actor);
        let heads = doc.get_heads();
        documents::insert_saved(tx, &download.doc_id, kind, &download.changes, &heads)?;
        (doc, None)
    };
    // Usually the document now has exactly the server's heads; a lookup by
    // hash is costly (automerge builds change metadata).
    if !document::same_heads(&doc.get_heads(), &server_heads)
        && server_heads
            .iter()
            .any(|h| doc.get_change_by_hash(h).is_none())
    {
        return Err(StoreError::Invalid(
            "the server's changes do not reach its heads".into(),
        ));
    }
    match kind {
        DocumentKind::Case => {
            let case: CaseSummary = document::read(&doc)?;
            index_case(tx, &case, full_text)?;
        }
        DocumentKind::OfficeHour => {
            let office_hour: OfficeHour = document::read(&doc)?;
            super::office_hours::index_office_hour(tx, &office_hour)?;
        }
        // Not indexed: read whole, few (`knowledge`, `feedback`); read
        // here once so that one of the wrong shape is set aside.
        DocumentKind::Catalog => {
            let stored: sprechtag_schemas::CatalogDocument = document::read(&doc)?;
            stored
                .catalog
                .validate()
                .map_err(|e| StoreError::Invalid(format!("the server's catalogue: {e}")))?;
        }
        DocumentKind::Answer => {
            document::read::<sprechtag_schemas::Answer>(&doc)?;
        }
        DocumentKind::Feedback => {
            document::read::<sprechtag_schemas::Feedback>(&doc)?;
        }
    }
    match source {
        Source::Server => {
            mark_synced(tx, &download.doc_id, &server_heads)?;
            keep_servers_attestation(tx, download)?;
        }
        // Not on the server as far as this laptop knows, but not this
        // laptop's own unsynced case either (`adopt_unsynced_cases` would
        // renumber it as its own): marked as another laptop's.
        Source::Peer if version.is_none() => {
            tx.prepare_cached(
                "UPDATE documents SET synced_heads = 'peer' WHERE id = ?1 AND synced_heads = ''",
            )?
            .execute([&download.doc_id])?;
        }
        Source::Peer => {}
    }
    Ok(Taken::Loaded(Box::new(Merged {
        id: download.doc_id.clone(),
        doc,
        version,
    })))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sprechtag_schemas::document::{self, DocumentKind};
    use sprechtag_schemas::wire::{Download, PROTOCOL_VERSION, SyncResponse, heads_to_bytes};
    use sprechtag_schemas::{
        Case, CaseSummary, Citizen, DocumentState, Forwarding, Request, Review, ReviewState,
    };

    use super::UploadBatch;
    use crate::store::{NewOfficeHour, Store, documents};

    const PASSPHRASE: &str = "Leuchtturm-Fischbrötchen-7";

    /// An older release set aside an answer of the knowledge base (a kind
    /// it did not know); this one takes it when the store is opened.
    #[test]
    fn what_an_older_release_set_aside_is_taken_when_this_one_can_read_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = Arc::new(crate::catalog::shipped().expect("catalogue"));
        let answer = sprechtag_schemas::Answer {
            schema_version: 1,
            id: sprechtag_schemas::new_id(),
            question: "Gibt es Parkplätze?".into(),
            answer: "Ja, hinter dem Kreishaus.".into(),
            service_ids: vec![],
            status: sprechtag_schemas::AnswerStatus::Accepted,
            written_by: "a (ANS)".into(),
            written_at: String::new(),
            checked_by: None,
            checked_at: None,
        };
        {
            let store = Store::create(dir.path(), PASSPHRASE, catalog.clone()).expect("create");
            let mut doc = document::create(automerge::ActorId::random(), &answer, "answer")
                .expect("document");
            store
                .conn
                .execute(
                    "INSERT INTO set_aside (doc_id, kind, bytes, reason, at)
                     VALUES (?1, 'answer', ?2, 'unknown kind', '2026-12-01T10:00:00Z')",
                    rusqlite::params![answer.id, doc.save()],
                )
                .expect("set aside");
            // And one that stays unreadable.
            store
                .conn
                .execute(
                    "INSERT INTO set_aside (doc_id, kind, bytes, reason, at)
                     VALUES ('x', 'answer', x'00', 'broken', '2026-12-01T10:00:00Z')",
                    [],
                )
                .expect("set aside");
        }
        let mut store = Store::open(dir.path(), PASSPHRASE, catalog).expect("open");
        let answers = store.answers().expect("answers");
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].question, answer.question);
        assert_eq!(
            store.set_aside_count().expect("count"),
            1,
            "the broken one stays"
        );
        assert_eq!(
            store.pending_count().expect("pending"),
            0,
            "held as the server's"
        );
    }

    #[test]
    fn an_enrolment_in_a_log_shows_no_token() {
        let enrolment = super::Enrolment {
            server_url: "https://sync.kreis.example".into(),
            token: "geheimes-token-0123456789".into(),
            device_id: "dev-1".into(),
            user: "Anna Schäfer".into(),
            role: sprechtag_schemas::Role::Caseworker,
            department: "Bürgerbüro".into(),
            allow_insecure_http: false,
            ca_cert: Some("-----BEGIN CERTIFICATE-----\nMIIB\n".into()),
        };
        let logged = format!("{enrolment:?}");
        assert!(!logged.contains("geheimes-token"), "{logged}");
        assert!(!logged.contains("MIIB"), "{logged}");
        assert!(logged.contains("dev-1"), "{logged}");
    }

    fn store(dir: &tempfile::TempDir) -> Store {
        let catalog = Arc::new(crate::catalog::shipped().expect("catalogue"));
        Store::create(dir.path(), PASSPHRASE, catalog).expect("store")
    }

    /// A laptop's day: an office hour, a case with a missing document, a
    /// forwarding with a deadline, a review and notes, and a plain one.
    fn source_documents(store: &mut Store) -> Vec<(String, DocumentKind)> {
        let office_hour = store
            .open_office_hour(NewOfficeHour {
                village: "Kleinbrück".into(),
                venue: "Dorfgemeinschaftshaus".into(),
                date: "2026-11-20".parse().expect("date"),
                caseworker: "Anna Schäfer".into(),
            })
            .expect("office hour");
        let mut full = Case::draft(Citizen {
            surname: "Müller-Lüdenscheidt".into(),
            given_names: "Hannelore Erika".into(),
            ..Citizen::default()
        });
        full.office_hour_id = Some(office_hour.id.clone());
        full.notes = autosurgeon::Text::with_value("Rollator, Neffe fährt");
        let catalog = store.catalog().clone();
        for service in ["wohngeld", "schwerbehindertenausweis"] {
            full.requests.push(Request::for_service(
                catalog.service(service).expect("known service"),
            ));
        }
        let full = store.create_case(full).expect("case");
        store
            .update_case(&full.id, "check, forward, review", |case| {
                case.requests[0].documents[0].state = DocumentState::Missing;
                case.requests[1].forwarding = Some(Forwarding {
                    office_id: catalog.services[0].office_id.clone(),
                    forwarded_at: "2026-11-21T09:00:00Z".into(),
                    due: "2026-12-05".parse().expect("date"),
                    answer: String::new(),
                    closed_at: None,
                    question: String::new(),
                    mail: None,
                });
                case.review = Some(Review {
                    state: ReviewState::NeedsClarification,
                    by: "Back office".into(),
                    at: "2026-11-21T10:00:00Z".into(),
                });
                Ok(())
            })
            .expect("edit");
        let plain = store
            .create_case(Case::draft(Citizen {
                surname: "Öztürk".into(),
                ..Citizen::default()
            }))
            .expect("case");
        vec![
            (office_hour.id, DocumentKind::OfficeHour),
            (full.id, DocumentKind::Case),
            (plain.id, DocumentKind::Case),
        ]
    }

    /// What a test sends as the summary of a case's saved bytes.
    type SummaryOf = dyn Fn(&[u8]) -> Option<Vec<u8>>;

    /// The documents as the server sends them to a device that has none of
    /// them, with what `summary` makes of each (the server: its summary).
    fn response(
        source: &Store,
        ids: &[(String, DocumentKind)],
        summary: &SummaryOf,
    ) -> SyncResponse {
        let downloads = ids
            .iter()
            .map(|(id, kind)| {
                let bytes = documents::export(&source.conn, id, *kind).expect("export");
                let mut doc = document::load(&bytes).expect("load");
                Download {
                    attestation: None,
                    doc_id: id.clone(),
                    kind: kind.as_str().into(),
                    heads: heads_to_bytes(&doc.get_heads()),
                    summary: (*kind == DocumentKind::Case)
                        .then(|| summary(&bytes))
                        .flatten(),
                    changes: bytes,
                }
            })
            .collect();
        SyncResponse {
            protocol: PROTOCOL_VERSION,
            accepted: vec![],
            rejected: vec![],
            downloads,
            cursor: 7,
            more: false,
            erased: Vec::new(),
            ..Default::default()
        }
    }

    /// What the sync server sends: the summary read from the document.
    fn servers_summary(bytes: &[u8]) -> Option<Vec<u8>> {
        let doc = document::load(bytes).expect("load");
        Some(
            document::read::<CaseSummary>(&doc)
                .expect("summary")
                .encode(),
        )
    }

    /// Everything lists, filters and search read, but the time of indexing.
    fn index(store: &Store) -> Vec<String> {
        let mut rows: Vec<String> = store
            .conn
            .prepare(
                "SELECT c.id, c.number, c.status, c.office_hour_id, c.department, c.surname,
                        c.given_names, c.town, c.village, c.services, c.complete,
                        c.missing_count, c.created_at, c.created_by, c.review_state,
                        c.next_due, c.offices, c.requests, c.complete_requests, c.done_at,
                        c.former_numbers,
                        (SELECT group_concat(service_id) FROM case_services
                          WHERE case_rowid = c.rowid),
                        f.number, f.name, f.place, f.services, f.notes, f.starts
                 FROM cases c JOIN cases_fts f ON f.rowid = c.seq",
            )
            .expect("query")
            .query_map([], |r| {
                (0..28)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map(|values| format!("{values:?}"))
            })
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        rows.sort();
        rows
    }

    #[test]
    fn a_case_indexed_from_the_servers_summary_is_indexed_as_its_document_says() {
        let source_dir = tempfile::tempdir().expect("temp dir");
        let mut source = store(&source_dir);
        let ids = source_documents(&mut source);

        let mut indexed = Vec::new();
        let how: [(&str, &SummaryOf); 4] = [
            ("with the server's summaries", &servers_summary),
            ("without summaries", &|_| None),
            ("with summaries of an unknown layout", &|_| {
                Some(b"\x82\x63v99".to_vec())
            }),
            ("with summaries naming another case", &|bytes| {
                let doc = document::load(bytes).expect("load");
                let mut summary: CaseSummary = document::read(&doc).expect("summary");
                summary.id = "another-case".into();
                Some(summary.encode())
            }),
        ];
        for (label, summary) in how {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut laptop = store(&dir);
            let applied = laptop
                .apply_sync_response(&UploadBatch::default(), &response(&source, &ids, summary))
                .expect(label);
            assert_eq!(applied.downloaded, 3, "{label}");
            for (id, kind) in &ids {
                if *kind == DocumentKind::Case {
                    assert_eq!(laptop.case(id).expect(label), source.case(id).expect(label));
                }
            }
            assert_eq!(laptop.pending_count().expect("pending"), 0, "{label}");
            assert_eq!(laptop.sync_cursor().expect("cursor"), 7, "{label}");
            indexed.push((label, index(&laptop)));
        }
        assert_eq!(indexed[0].1.len(), 2, "both cases are indexed");
        assert!(
            indexed[0].1[0].contains("Kleinbrück") || indexed[0].1[1].contains("Kleinbrück"),
            "the village comes from the office hour: {:?}",
            indexed[0].1
        );
        for (label, rows) in &indexed[1..] {
            assert_eq!(rows, &indexed[0].1, "{label}");
        }
    }

    /// Observed through a summary that disagrees with its document (which a
    /// server never sends): a case new to the device is indexed from the
    /// summary, its document stored as sent and not read.
    #[test]
    fn a_new_case_with_a_summary_is_indexed_without_reading_the_document() {
        let source_dir = tempfile::tempdir().expect("temp dir");
        let mut source = store(&source_dir);
        let ids = source_documents(&mut source);
        let dir = tempfile::tempdir().expect("temp dir");
        let mut laptop = store(&dir);
        let altered = |bytes: &[u8]| {
            let doc = document::load(bytes).expect("load");
            let mut summary: CaseSummary = document::read(&doc).expect("summary");
            summary.citizen.surname = "Aus der Zusammenfassung".into();
            Some(summary.encode())
        };
        laptop
            .apply_sync_response(&UploadBatch::default(), &response(&source, &ids, &altered))
            .expect("apply");
        let rows = index(&laptop);
        assert!(
            rows.iter()
                .all(|row| row.contains("Aus der Zusammenfassung")),
            "{rows:?}"
        );
        assert_eq!(
            laptop.case(&ids[2].0).expect("case").citizen.surname,
            "Öztürk"
        );
    }
}
