//! Persistence of automerge documents: a full save plus incremental chunks,
//! compacted into a new full save every `COMPACT_AFTER` chunks, and a small
//! in-memory cache that is trusted only while the stored version matches (a
//! CLI process may write the same data dir while the app is open).
//!
//! Full saves are written without automerge's per-column deflate: it set up
//! hundreds of kilobytes of tables for every compressed column and was the
//! largest cost of syncing; exports (`export`) stay compressed.

use automerge::AutoCommit;
use rusqlite::{OptionalExtension, Transaction, params};
use sprechtag_schemas::document::{self, DocumentKind};

use super::{Result, Store, StoreError, now_rfc3339};

/// Incremental saves kept before they are folded into a full save.
const COMPACT_AFTER: i64 = 32;
/// Documents kept in memory; a day's visitors fit many times over.
const CACHE_LIMIT: usize = 512;

pub(super) struct CachedDoc {
    doc: AutoCommit,
    version: i64,
}

/// A document inside a write transaction; `save` persists what changed.
pub(super) struct Loaded {
    pub doc: AutoCommit,
    version: i64,
    heads_before: Vec<automerge::ChangeHash>,
}

impl Store {
    /// Reads the current document, from the cache when it is up to date.
    pub(super) fn read_doc(&mut self, id: &str, kind: DocumentKind) -> Result<AutoCommit> {
        let loaded = load(
            &self.conn,
            id,
            kind,
            self.cache.get(id),
            self.device.actor(),
        )?;
        let doc = loaded.doc.clone();
        self.remember(id, loaded.doc, loaded.version);
        Ok(doc)
    }

    pub(super) fn remember(&mut self, id: &str, doc: AutoCommit, version: i64) {
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        self.cache
            .insert(id.to_string(), CachedDoc { doc, version });
    }

    pub(super) fn forget(&mut self, id: &str) {
        self.cache.remove(id);
    }
}

/// Loads a document for editing inside `tx`.
pub(super) fn load_for_edit(
    tx: &Transaction<'_>,
    id: &str,
    kind: DocumentKind,
    cached: Option<&CachedDoc>,
    actor: automerge::ActorId,
) -> Result<Loaded> {
    let mut loaded = load(tx, id, kind, cached, actor)?;
    loaded.heads_before = loaded.doc.get_heads();
    Ok(loaded)
}

impl Loaded {
    /// Writes the changes made since loading as one chunk; compacts when due.
    /// Returns the new version, or `None` if nothing changed.
    pub fn save(&mut self, tx: &Transaction<'_>, id: &str) -> Result<Option<i64>> {
        if self.doc.get_heads() == self.heads_before {
            return Ok(None);
        }
        let chunk = self.doc.save_after(&self.heads_before);
        let chunk_count: i64 = tx.query_row(
            "SELECT chunk_count FROM documents WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let heads = document::heads_hex(&self.doc.get_heads()).join(" ");
        if chunk_count + 1 >= COMPACT_AFTER {
            let snapshot = self.doc.save_nocompress();
            tx.execute("DELETE FROM document_chunks WHERE doc_id = ?1", [id])?;
            tx.execute(
                "UPDATE documents SET snapshot = ?2, chunk_count = 0, version = version + 1,
                 heads = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, snapshot, heads, now_rfc3339()],
            )?;
        } else {
            tx.execute(
                "INSERT INTO document_chunks (doc_id, bytes) VALUES (?1, ?2)",
                params![id, chunk],
            )?;
            tx.execute(
                "UPDATE documents SET chunk_count = chunk_count + 1, version = version + 1,
                 heads = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, heads, now_rfc3339()],
            )?;
        }
        self.version += 1;
        self.heads_before = self.doc.get_heads();
        Ok(Some(self.version))
    }

    pub fn version(&self) -> i64 {
        self.version
    }
}

/// Inserts a new document with its first full save.
pub(super) fn insert(
    tx: &Transaction<'_>,
    id: &str,
    kind: DocumentKind,
    doc: &mut AutoCommit,
) -> Result<i64> {
    let saved = doc.save_nocompress();
    insert_saved(tx, id, kind, &saved, &doc.get_heads())
}

/// Inserts a new document as `saved`, bytes that load into it: a full save
/// or saves and chunks one after another (as the sync server sends them).
/// The next compaction turns them into one full save.
pub(super) fn insert_saved(
    tx: &Transaction<'_>,
    id: &str,
    kind: DocumentKind,
    saved: &[u8],
    heads: &[automerge::ChangeHash],
) -> Result<i64> {
    let heads = document::heads_hex(heads).join(" ");
    tx.prepare_cached(
        "INSERT INTO documents (id, kind, snapshot, heads, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, kind.as_str(), saved, heads, now_rfc3339()])?;
    Ok(1)
}

/// The stored bytes of a document as one full save, loadable anywhere.
pub(super) fn export(conn: &rusqlite::Connection, id: &str, kind: DocumentKind) -> Result<Vec<u8>> {
    let mut doc = load(conn, id, kind, None, automerge::ActorId::random())?.doc;
    Ok(doc.save())
}

fn load(
    conn: &rusqlite::Connection,
    id: &str,
    kind: DocumentKind,
    cached: Option<&CachedDoc>,
    actor: automerge::ActorId,
) -> Result<Loaded> {
    let row: Option<(String, i64)> = conn
        .prepare_cached("SELECT kind, version FROM documents WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((stored_kind, version)) = row else {
        return Err(StoreError::not_found(kind_name(kind), id));
    };
    if stored_kind != kind.as_str() {
        return Err(StoreError::not_found(kind_name(kind), id));
    }
    if let Some(cached) = cached.filter(|c| c.version == version) {
        return Ok(Loaded {
            doc: cached.doc.clone(),
            version,
            heads_before: Vec::new(),
        });
    }
    let snapshot: Vec<u8> = conn
        .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    let mut doc = document::load(&snapshot)?;
    let mut chunks =
        conn.prepare_cached("SELECT bytes FROM document_chunks WHERE doc_id = ?1 ORDER BY seq")?;
    let mut rows = chunks.query([id])?;
    while let Some(row) = rows.next()? {
        let bytes: Vec<u8> = row.get(0)?;
        document::load_incremental(&mut doc, &bytes)?;
    }
    doc.set_actor(actor);
    Ok(Loaded {
        doc,
        version,
        heads_before: Vec::new(),
    })
}

pub(super) fn kind_name(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Case => "case",
        DocumentKind::OfficeHour => "office hour",
        DocumentKind::Catalog => "catalogue",
        DocumentKind::Answer => "answer",
        DocumentKind::Feedback => "feedback entry",
    }
}

impl Store {
    /// Stores a new document holding `value` (the knowledge base, ideas and
    /// complaints: documents without an index of their own).
    pub(super) fn create_document<T: autosurgeon::Reconcile + autosurgeon::Hydrate>(
        &mut self,
        id: &str,
        kind: DocumentKind,
        value: &T,
        message: &str,
    ) -> Result<T> {
        let mut doc = document::create(self.device.actor(), value, message)?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        insert(&tx, id, kind, &mut doc)?;
        tx.commit()?;
        let stored = document::read(&doc)?;
        self.remember(id, doc, 1);
        Ok(stored)
    }

    /// Applies `edit` to a document without an index and stores what
    /// changed, durably, before returning it as stored.
    pub(super) fn update_document<T: autosurgeon::Reconcile + autosurgeon::Hydrate>(
        &mut self,
        id: &str,
        kind: DocumentKind,
        message: &str,
        edit: impl FnOnce(&mut T) -> Result<()>,
    ) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut loaded = load_for_edit(&tx, id, kind, self.cache.get(id), self.device.actor())?;
        let (value, changed) = document::update::<T, StoreError>(&mut loaded.doc, message, edit)??;
        if changed {
            loaded.save(&tx, id)?;
        }
        let committed = tx.commit();
        self.finish_edit(id, committed, loaded)?;
        Ok(value)
    }

    /// Reads a document without keeping it in memory (for reports that
    /// read many once).
    pub(super) fn peek<T: autosurgeon::Hydrate>(&self, id: &str, kind: DocumentKind) -> Result<T> {
        let loaded = load(
            &self.conn,
            id,
            kind,
            self.cache.get(id),
            self.device.actor(),
        )?;
        Ok(document::read(&loaded.doc)?)
    }

    /// The ids of the stored documents of `kind`.
    pub(super) fn document_ids(&self, kind: DocumentKind) -> Result<Vec<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM documents WHERE kind = ?1 ORDER BY id")?
            .query_map([kind.as_str()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }
}
