//! Data protection on this device: erasure and correction, prints and
//! exports kept no longer than needed, and what a citizen's access request
//! covers (docs/privacy.md).
//!
//! Erasure: a case's document, its index and full-text rows
//! and its prints deleted, a tombstone (id, number, when — no personal
//! data) kept so that no copy is ever taken again. The same path serves an
//! erasure ordered here (`erase_case`, sent to the server with the next
//! sync) and one the server reports (`apply_sync_response`).
//!
//! `secure_delete` (set on every connection) zeroes the freed pages, the
//! full-text index deletes a row's terms at once (`secure-delete`), and the
//! write-ahead log is emptied afterwards. Files are overwritten before
//! they are removed; on SSDs and copy-on-write file systems that is no
//! guarantee, which is why the data dir is encrypted in the first place.

use std::path::Path;

use autosurgeon::Text;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use sprechtag_schemas::document::{self, DocumentKind};
use sprechtag_schemas::wire::Tombstone;
use sprechtag_schemas::{Case, CaseSummary};

use super::case_index::{FullTextRows, index_case};
use super::{Result, Store, StoreError, cases, documents, now_rfc3339};
use crate::merge::{Prefer, three_way};

/// Longest reason for an erasure (the server keeps it in its audit trail).
pub const MAX_REASON_CHARS: usize = 500;

/// What a case left behind to be removed once its rows are gone.
#[derive(Debug, Default)]
pub(super) struct Leftovers {
    /// Its numbers (current and former): its prints are saved under them,
    /// and an export that names one is removed.
    numbers: Vec<String>,
    /// Its office hour's day report (`date-village`), which names it.
    reports: Vec<String>,
}

impl Leftovers {
    fn absorb(&mut self, other: Leftovers) {
        self.numbers.extend(other.numbers);
        self.reports.extend(other.reports);
    }
}

impl Store {
    /// The enrolment, if this device may erase and correct cases and make
    /// access reports: a back-office or admin device, or one not enrolled
    /// (its own back office).
    pub fn require_data_protection_role(&self) -> Result<Option<super::Enrolment>> {
        let enrolment = self.enrolment()?;
        match enrolment.as_ref().map(|e| e.role) {
            Some(role) if !role.may_erase() => Err(StoreError::MayNotErase(role)),
            _ => Ok(enrolment),
        }
    }

    /// Erases a case on this device at once and, on an enrolled device,
    /// everywhere with the next sync. Only a back-office or admin device
    /// (or one not enrolled: it is its own back office) may. Cannot be
    /// undone.
    /// Ideas, praise and complaints recorded for the case go with it.
    pub fn erase_case(&mut self, id_or_number: &str, reason: &str) -> Result<Tombstone> {
        let reason = checked_reason(reason)?;
        self.require_data_protection_role()?;
        let id = self.resolve_case(id_or_number)?;
        let linked: Vec<String> = self
            .feedback_list()?
            .into_iter()
            .filter(|f| f.case_id.as_deref() == Some(id.as_str()))
            .map(|f| f.id)
            .collect();
        let tombstone = self.erase_document(id, reason)?;
        for feedback in linked {
            self.erase_document(feedback, reason)?;
        }
        Ok(tombstone)
    }

    /// Erases an idea, praise or complaint here and, on an enrolled device,
    /// everywhere with the next sync (as a case: back office, admin, or a
    /// device not enrolled).
    pub fn erase_feedback(&mut self, id: &str, reason: &str) -> Result<Tombstone> {
        let reason = checked_reason(reason)?;
        self.require_data_protection_role()?;
        // It must be one (an id of anything else is not erased here).
        self.feedback(id)?;
        self.erase_document(id.to_string(), reason)
    }

    /// Buries the document here and orders its erasure on the server.
    fn erase_document(&mut self, id: String, reason: &str) -> Result<Tombstone> {
        let enrolment = self.enrolment()?;
        let tombstone = Tombstone {
            doc_id: id.clone(),
            number: String::new(),
            erased_at: now_rfc3339(),
            successor: None,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (tombstone, leftovers) = bury(&tx, tombstone)?;
        if enrolment.is_some() {
            order(&tx, &id, reason, None)?;
        }
        tx.commit()?;
        self.after_erasure(&[id], leftovers);
        Ok(tombstone)
    }

    /// Corrects a case without keeping the wrong value (Art. 16 GDPR): the
    /// case is written anew — the field at `path` set to `raw` — as a new
    /// document without history, under the same number, and the old one is
    /// erased with a pointer to it, here at once and everywhere with the
    /// next sync. Back-office and admin devices only (or one not enrolled).
    /// Returns the case as it is now.
    pub fn correct_case(
        &mut self,
        id_or_number: &str,
        path: &str,
        raw: &str,
        reason: &str,
    ) -> Result<Case> {
        let reason = checked_reason(reason)?;
        let enrolment = self.require_data_protection_role()?;
        let id = self.resolve_case(id_or_number)?;
        let old = self.case(&id)?;
        let mut new = cases::with_field(&old, path, raw)?;
        if new == old {
            return Err(StoreError::Invalid(format!(
                "nothing to correct: {path} holds that already"
            )));
        }
        let now = now_rfc3339();
        new.id = sprechtag_schemas::new_id();
        new.editors.clear();
        new.history_deleted_at = Some(now.clone());
        // A fresh text: the old one carries the old document's history.
        new.notes = Text::with_value(new.notes.as_str());
        cases::validate(&new)?;
        let editor = self.editor()?;
        cases::sign(&mut new, &editor);
        let mut doc = document::create(self.device.actor(), &new, "corrected case")?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        documents::insert(&tx, &new.id, DocumentKind::Case, &mut doc)?;
        let stored: Case = document::read(&doc)?;
        let (_, leftovers) = bury(
            &tx,
            Tombstone {
                doc_id: id.clone(),
                number: String::new(),
                erased_at: now,
                successor: Some(new.id.clone()),
            },
        )?;
        let mut full_text = FullTextRows::default();
        index_case(&tx, &CaseSummary::from(&stored), &mut full_text)?;
        full_text.write(&tx)?;
        if enrolment.is_some() {
            order(&tx, &id, reason, Some(&stored.id))?;
        }
        tx.commit()?;
        self.remember(&stored.id, doc, 1);
        self.after_erasure(&[id], leftovers);
        Ok(stored)
    }

    /// The tombstone of an erased case, by id or number.
    pub fn tombstone(&self, id_or_number: &str) -> Result<Option<Tombstone>> {
        let key = id_or_number.trim();
        Ok(self
            .conn
            .prepare_cached(
                "SELECT doc_id, number, erased_at, successor FROM tombstones
                 WHERE doc_id = ?1 OR (number != '' AND number = upper(?1))
                 ORDER BY erased_at DESC LIMIT 1",
            )?
            .query_row([key], |r| {
                Ok(Tombstone {
                    doc_id: r.get(0)?,
                    number: r.get(1)?,
                    erased_at: r.get(2)?,
                    successor: r.get(3)?,
                })
            })
            .optional()?)
    }

    /// Forgets erased documents in memory, removes their files and empties
    /// the write-ahead log. Best effort: the rows are gone already.
    pub(super) fn after_erasure(&mut self, ids: &[String], leftovers: Leftovers) {
        for id in ids {
            self.forget(id);
        }
        remove_files(&self.dir, &leftovers);
        // Another connection (the UI's, the sync worker's) in a read keeps
        // the log busy; its next checkpoint empties it then.
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            });
    }
}

/// A reason for an erasure or correction: 1 to `MAX_REASON_CHARS`.
fn checked_reason(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(StoreError::Invalid(format!(
            "an erasure or correction needs a reason (1 to {MAX_REASON_CHARS} characters)"
        )));
    }
    Ok(reason)
}

/// Orders the server to erase `id` (replaced by `successor` for a
/// correction) with the next sync.
fn order(tx: &Transaction<'_>, id: &str, reason: &str, successor: Option<&str>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO erase_orders (doc_id, reason, successor) VALUES (?1, ?2, ?3)
         ON CONFLICT (doc_id) DO NOTHING",
    )?
    .execute(params![id, reason, successor])?;
    Ok(())
}

/// Whether the document `id` was erased.
pub(super) fn is_erased(tx: &rusqlite::Connection, id: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM tombstones WHERE doc_id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Deletes the document and everything indexed of it, and keeps its
/// tombstone (with the number this device knew, if the tombstone has
/// none). Returns the tombstone as kept and what is left to remove.
pub(super) fn bury(
    tx: &Transaction<'_>,
    mut tombstone: Tombstone,
) -> Result<(Tombstone, Leftovers)> {
    let id = tombstone.doc_id.clone();
    let mut leftovers = Leftovers::default();
    let row: Option<(String, String, Option<i64>, Option<String>)> = tx
        .prepare_cached(
            "SELECT number, former_numbers, seq, office_hour_id FROM cases WHERE id = ?1",
        )?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    if let Some((number, former, seq, office_hour_id)) = row {
        if tombstone.number.is_empty() {
            tombstone.number.clone_from(&number);
        }
        leftovers.numbers.push(number);
        leftovers
            .numbers
            .extend(former.split_whitespace().map(str::to_string));
        if let Some(seq) = seq {
            tx.prepare_cached("DELETE FROM cases_fts WHERE rowid = ?1")?
                .execute([seq])?;
        }
        // The day's report names everybody who came.
        if let Some(office_hour) = office_hour_id {
            let report: Option<(String, String)> = tx
                .prepare_cached("SELECT date, village FROM office_hours WHERE id = ?1")?
                .query_row([office_hour], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((date, village)) = report {
                leftovers.reports.push(format!("{date}-{village}"));
            }
        }
    }
    // The index rows and saves go with the document (ON DELETE CASCADE).
    tx.prepare_cached("DELETE FROM documents WHERE id = ?1")?
        .execute([&id])?;
    tx.prepare_cached("DELETE FROM set_aside WHERE doc_id = ?1")?
        .execute([&id])?;
    tx.prepare_cached(
        "INSERT INTO tombstones (doc_id, number, erased_at, successor) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (doc_id) DO UPDATE SET successor = coalesce(tombstones.successor, excluded.successor)",
    )?
    .execute(params![
        id,
        tombstone.number,
        tombstone.erased_at,
        tombstone.successor
    ])?;
    Ok((tombstone, leftovers))
}

/// Keeps this device's unsynced edits of a document that a correction
/// replaces, to be carried over to its successor (`carry_over_edits`).
pub(super) fn keep_unsynced_edits(
    tx: &Transaction<'_>,
    tombstone: &Tombstone,
    actor: automerge::ActorId,
) -> Result<()> {
    let Some(successor) = &tombstone.successor else {
        return Ok(());
    };
    let synced: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT synced_heads, heads FROM documents WHERE id = ?1 AND kind = 'case'",
        )?
        .query_row([&tombstone.doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some(synced) = synced
        .filter(|(synced, heads)| synced != heads)
        .map(|(synced, _)| synced)
    else {
        return Ok(());
    };
    let synced: Vec<automerge::ChangeHash> = synced
        .split_whitespace()
        .filter_map(|h| h.parse().ok())
        .collect();
    // No heads the server acknowledged here ('peer': a case taken from
    // another laptop in the hall; 'resync'): no base to tell this laptop's
    // edits from the rest. An empty base would carry the whole old case
    // over the correction.
    if synced.is_empty() {
        return Ok(());
    }
    let loaded = documents::load_for_edit(tx, &tombstone.doc_id, DocumentKind::Case, None, actor)?;
    let mut doc = loaded.doc;
    let mine: Case = document::read(&doc)?;
    let base: Case = match doc.fork_at(&synced) {
        Ok(old) => document::read(&old)?,
        // Heads this document does not have: nothing to compare with.
        Err(_) => return Ok(()),
    };
    let json =
        |case: &Case| serde_json::to_string(case).map_err(|e| StoreError::Invalid(e.to_string()));
    tx.prepare_cached(
        "INSERT INTO carried_edits (successor, base, mine) VALUES (?1, ?2, ?3)
         ON CONFLICT (successor) DO NOTHING",
    )?
    .execute(params![successor, json(&base)?, json(&mine)?])?;
    Ok(())
}

impl Store {
    /// Carries this device's edits of corrected cases over to the cases
    /// that replaced them, once those are here; returns the cases changed.
    pub(super) fn carry_over_edits(&mut self) -> Result<Vec<String>> {
        let waiting: Vec<(String, String, String)> = self
            .conn
            .prepare(
                "SELECT e.successor, e.base, e.mine FROM carried_edits e
                 JOIN documents d ON d.id = e.successor",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut changed = Vec::new();
        for (successor, base, mine) in waiting {
            let theirs = self.case(&successor)?;
            let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
            let merged = match (parse(&base), parse(&mine), serde_json::to_value(&theirs)) {
                (Some(base), Some(mine), Ok(theirs_json)) => {
                    // A field the correction (or anyone before it) changed keeps
                    // its new value — the wrong one must not come back.
                    serde_json::from_value::<Case>(three_way(
                        &base,
                        &mine,
                        theirs_json,
                        Prefer::Theirs,
                    ))
                    .ok()
                }
                _ => None,
            };
            if let Some(mut merged) = merged.filter(|m| *m != theirs) {
                // Editor entries are each device's own.
                merged.editors = theirs.editors.clone();
                self.update_case(
                    &successor,
                    "edits carried over from before a correction",
                    |case| {
                        case.assign_edits(merged);
                        Ok(())
                    },
                )?;
                changed.push(successor.clone());
            }
            self.conn.execute(
                "DELETE FROM carried_edits WHERE successor = ?1",
                [&successor],
            )?;
        }
        Ok(changed)
    }
}

/// Buries what the server reports erased; returns the ids and leftovers.
pub(super) fn bury_all(
    tx: &Transaction<'_>,
    tombstones: &[Tombstone],
) -> Result<(Vec<String>, Leftovers)> {
    let mut ids = Vec::new();
    let mut leftovers = Leftovers::default();
    for tombstone in tombstones {
        let (_, more) = bury(tx, tombstone.clone())?;
        tx.prepare_cached("DELETE FROM erase_orders WHERE doc_id = ?1")?
            .execute([&tombstone.doc_id])?;
        leftovers.absorb(more);
        ids.push(tombstone.doc_id.clone());
    }
    Ok((ids, leftovers))
}

/// Erasures this device ordered and the server has not confirmed.
/// A correction waits for a request that carries its successor.
pub(super) fn erase_orders(
    conn: &rusqlite::Connection,
    limit: usize,
) -> Result<Vec<sprechtag_schemas::wire::EraseOrder>> {
    Ok(conn
        .prepare_cached(
            "SELECT doc_id, reason, successor FROM erase_orders ORDER BY rowid LIMIT ?1",
        )?
        .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(sprechtag_schemas::wire::EraseOrder {
                doc_id: r.get(0)?,
                reason: r.get(1)?,
                successor: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// Removes the prints saved under the leftovers' numbers and reports, and
/// every export that names one of the numbers.
fn remove_files(dir: &Path, leftovers: &Leftovers) {
    for name in leftovers.numbers.iter().chain(&leftovers.reports) {
        crate::print::remove_saved(dir, name);
    }
    if leftovers.numbers.is_empty() {
        return;
    }
    let Ok(exports) = std::fs::read_dir(dir.join(crate::print::EXPORTS_DIR)) else {
        return;
    };
    for entry in exports.flatten() {
        let path = entry.path();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let names_one = leftovers.numbers.iter().any(|name| {
            !name.is_empty()
                && bytes
                    .windows(name.len())
                    .any(|window| window == name.as_bytes())
        });
        if names_one {
            let _ = crate::fsutil::shred(&path);
        }
    }
}

/// Whether an erasure order is still waiting for the server.
pub(super) fn has_orders(conn: &rusqlite::Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM erase_orders LIMIT 1")?
        .query_row([], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Drops an order the server refused (it stays refused; the report says why).
pub(super) fn drop_order(tx: &Transaction<'_>, id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM erase_orders WHERE doc_id = ?1")?
        .execute([id])?;
    Ok(())
}

/// How long prints and exports stay in the data dir unless set otherwise.
pub const DEFAULT_KEEP_FILES_DAYS: u32 = 7;

impl Store {
    /// Days prints and exports are kept in the data dir.
    pub fn keep_files_days(&self) -> Result<u32> {
        Ok(super::setting(&self.conn, "files.keep_days")?
            .and_then(|d| d.parse().ok())
            .unwrap_or(DEFAULT_KEEP_FILES_DAYS))
    }

    /// Sets how many days prints and exports are kept (1 to 365).
    pub fn set_keep_files_days(&mut self, days: u32) -> Result<()> {
        if !(1..=365).contains(&days) {
            return Err(StoreError::Invalid(format!(
                "keep prints and exports 1 to 365 days, not {days}"
            )));
        }
        super::set_setting(&self.conn, "files.keep_days", &days.to_string())
    }

    /// Removes prints and exports older than `keep_files_days` (by their
    /// last change), overwritten first. Runs whenever the store is opened;
    /// returns how many went.
    pub fn remove_old_files(&self) -> Result<usize> {
        let keep = std::time::Duration::from_secs(u64::from(self.keep_files_days()?) * 86_400);
        let now = std::time::SystemTime::now();
        let mut removed = 0;
        for folder in [crate::print::PRINTS_DIR, crate::print::EXPORTS_DIR] {
            let Ok(entries) = std::fs::read_dir(self.dir.join(folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|modified| now.duration_since(modified).ok())
                    .is_some_and(|age| age > keep);
                if old && entry.path().is_file() && crate::fsutil::shred(&entry.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

impl Store {
    /// Every case of the citizen with this surname (letter case aside) and
    /// birth date, oldest first: what an access request (Art. 15) covers.
    pub fn cases_of_citizen(
        &mut self,
        surname: &str,
        birth_date: sprechtag_schemas::IsoDate,
    ) -> Result<Vec<Case>> {
        let ids: Vec<String> = self
            .conn
            .prepare(
                "SELECT id FROM cases WHERE lower(trim(surname)) = lower(trim(?1))
                 ORDER BY created_at, id",
            )?
            .query_map([surname], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut cases = Vec::new();
        for id in ids {
            let case = self.case(&id)?;
            if case.citizen.birth_date == Some(birth_date) {
                cases.push(case);
            }
        }
        Ok(cases)
    }
}
