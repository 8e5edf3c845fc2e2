//! Cases in the store: create, read, edit, search, export and import.

use automerge::ChangeHash;
use autosurgeon::Text;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params_from_iter};
use rust_i18n::t;
use serde::Serialize;
use serde_json::Value;
use sprechtag_schemas::document::{self, DocumentError, DocumentKind};
use sprechtag_schemas::{Case, CaseStatus, CaseSummary, DocumentState, IsoDate};

use super::case_index::{FullTextRows, index_case};
use super::documents::{self, Loaded};
use super::{Result, Store, StoreError, now_rfc3339, set_setting, setting};

/// What the case list asks for. Every field narrows the result.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Full text: name, village, town, service, case number, notes.
    pub search: String,
    pub status: Option<CaseStatus>,
    pub office_hour_id: Option<String>,
    pub service_id: Option<String>,
    pub village: Option<String>,
    /// Who recorded the visit (`created_by`).
    pub caseworker: Option<String>,
    /// Only cases with a forwarded request still open after its deadline,
    /// as of this day.
    pub overdue_on: Option<IsoDate>,
    pub sort: CaseSort,
    pub offset: usize,
    pub limit: usize,
}

/// The order of the case list. Only `Recent` stops a broad text search
/// after one page; the others sort every match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaseSort {
    /// Most recently changed (or received by sync) first.
    #[default]
    Recent,
    Number,
    Name,
    /// Earliest open deadline first; cases without one last.
    Due,
}

/// One line of the case list, read from the index alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRow {
    pub id: String,
    pub number: String,
    pub status: CaseStatus,
    pub surname: String,
    pub given_names: String,
    pub village: String,
    pub services: String,
    pub complete: bool,
    pub missing_count: i64,
    pub office_hour_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    /// The earliest deadline of a forwarded request not yet closed.
    pub next_due: Option<IsoDate>,
    /// Offices the case's requests were forwarded to (catalogue ids).
    pub offices: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CasePage {
    pub rows: Vec<CaseRow>,
    /// All matches, of which `rows` is one page; for a text search at most
    /// [`COUNT_LIMIT`] (or the end of the page), see `total_exact`.
    pub total: usize,
    /// False when a text search found more than `total` and stopped counting.
    pub total_exact: bool,
}

impl CasePage {
    /// Whether rows after this page exist, given the page began at `offset`.
    pub fn has_more(&self, offset: usize) -> bool {
        offset + self.rows.len() < self.total || !self.total_exact
    }
}

/// A text search counts its matches up to this many; the user narrows the
/// search long before reading a thousand lines.
pub const COUNT_LIMIT: usize = 1_000;

/// Fields that identify a case and are never edited.
const FIXED_FIELDS: &[&str] = &[
    "id",
    "number",
    "created_at",
    "created_by",
    "schema_version",
    "history_deleted_at",
];

impl Store {
    /// Records a new case: fills in ids, number and checklists, writes the
    /// document and its index entry in one transaction.
    pub fn create_case(&mut self, draft: Case) -> Result<Case> {
        Ok(self.create_case_with_heads(draft)?.0)
    }

    /// Records several cases in one transaction (demo data, imports).
    pub fn create_cases(&mut self, drafts: Vec<Case>) -> Result<Vec<Case>> {
        Ok(self
            .create_cases_with_heads(drafts)?
            .into_iter()
            .map(|(case, _)| case)
            .collect())
    }

    /// Records a new case, and returns it with the heads of the version
    /// written: an editor's base, taken from the document just written (a
    /// second read could fail after the commit, and a retry would record
    /// the visit twice).
    pub fn create_case_with_heads(&mut self, draft: Case) -> Result<(Case, Vec<ChangeHash>)> {
        self.create_cases_with_heads(vec![draft])?
            .pop()
            .ok_or_else(|| StoreError::Invalid("no case created".into()))
    }

    fn create_cases_with_heads(
        &mut self,
        drafts: Vec<Case>,
    ) -> Result<Vec<(Case, Vec<ChangeHash>)>> {
        let department = self.department()?;
        let editor = self.editor()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let enrolled_user = setting(&tx, "sync.user")?.filter(|u| !u.is_empty());
        let mut counter: u64 = setting(&tx, "case_counter")?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut created = Vec::with_capacity(drafts.len());
        let mut docs = Vec::with_capacity(drafts.len());
        let mut full_text = FullTextRows::default();
        for mut case in drafts {
            validate(&case)?;
            case.id = String::new();
            case.complete_draft(&self.catalog)?;
            counter += 1;
            case.number = format!("{}-{counter:04}", self.device.prefix);
            case.schema_version = sprechtag_schemas::SCHEMA_VERSION;
            if case.department.is_none() {
                case.department.clone_from(&department);
            }
            if case.created_at.is_empty() {
                case.created_at = now_rfc3339();
            }
            if let Some(office_hour_id) = &case.office_hour_id {
                let caseworker = office_hour_caseworker(&tx, office_hour_id)?;
                if case.created_by.is_empty() {
                    case.created_by = caseworker;
                }
            }
            // An enrolled device records in its enrolled user's name: the
            // server takes a new case in no other.
            if let Some(user) = &enrolled_user {
                case.created_by.clone_from(user);
            }
            // Notes hydrated from another document would carry that
            // document's heads, which autosurgeon refuses (with a panic)
            // to reconcile into a new one.
            case.notes = Text::with_value(case.notes.as_str());
            sign(&mut case, &editor);
            let mut doc = document::create(self.device.actor(), &case, "new case")?;
            documents::insert(&tx, &case.id, DocumentKind::Case, &mut doc)?;
            let case: Case = document::read(&doc)?;
            index_case(&tx, &CaseSummary::from(&case), &mut full_text)?;
            created.push((case.clone(), doc.get_heads()));
            docs.push((case.id.clone(), doc));
        }
        full_text.write(&tx)?;
        set_setting(&tx, "case_counter", &counter.to_string())?;
        tx.commit()?;
        for (id, doc) in docs {
            self.remember(&id, doc, 1);
        }
        Ok(created)
    }

    /// The case with this id or case number.
    pub fn case(&mut self, id_or_number: &str) -> Result<Case> {
        let id = self.resolve_case(id_or_number)?;
        let doc = self.read_doc(&id, DocumentKind::Case)?;
        Ok(document::read(&doc)?)
    }

    /// Applies `edit` to the case and stores what changed, durably, before
    /// returning the case as stored.
    pub fn update_case(
        &mut self,
        id_or_number: &str,
        message: &str,
        edit: impl FnOnce(&mut Case) -> Result<()>,
    ) -> Result<Case> {
        let id = self.resolve_case(id_or_number)?;
        let editor = self.editor()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut loaded = documents::load_for_edit(
            &tx,
            &id,
            DocumentKind::Case,
            self.cache.get(&id),
            self.device.actor(),
        )?;
        let outcome = document::update::<Case, StoreError>(&mut loaded.doc, message, |case| {
            edit(case)?;
            sign(case, &editor);
            validate(case)
        })?;
        let (case, changed) = outcome?;
        if changed {
            loaded.save(&tx, &id)?;
            reindex(&tx, &case)?;
        }
        let committed = tx.commit();
        self.finish_edit(&id, committed, loaded)?;
        Ok(case)
    }

    /// Writes the case as an editor holds it. `base` are the heads of the
    /// version the editor's copy was read from: its edits are made on that
    /// version and merged, so changes that reached the store meanwhile (from
    /// sync) are kept. Only what a person edits is taken from `desired`
    /// ([`Case::assign_edits`]); identity, department and signatures stay as
    /// stored. Returns the case as the editor's edit made it (at the new
    /// base, without what sync merged in meanwhile) and the heads to use as
    /// the next base: the editor's copy must always equal the case at its
    /// base, or its next save would undo what it never saw.
    pub fn save_case(
        &mut self,
        base: &[ChangeHash],
        desired: Case,
    ) -> Result<(Case, Vec<ChangeHash>)> {
        let id = self.resolve_case(&desired.id)?;
        let editor = self.editor()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut loaded = documents::load_for_edit(
            &tx,
            &id,
            DocumentKind::Case,
            self.cache.get(&id),
            self.device.actor(),
        )?;
        let current = loaded.doc.get_heads();
        let on_base = base.is_empty() || document::same_heads(base, &current);
        if !base
            .iter()
            .all(|h| loaded.doc.get_change_by_hash(h).is_some())
        {
            // Assigning the copy over what is there now would undo every
            // change the copy never saw.
            return Err(StoreError::UnknownVersion(desired.number));
        }
        let edit = |case: &mut Case, signer: &(String, String)| {
            case.assign_edits(desired);
            sign(case, signer);
            validate(case)
        };
        let (edited, new_base) = if on_base {
            let (edited, _) =
                document::update::<Case, StoreError>(&mut loaded.doc, "edit case", |case| {
                    edit(case, &editor)
                })??;
            (edited, loaded.doc.get_heads())
        } else {
            // Made on the version the editor read, then merged: what sync
            // brought meanwhile stays, co-edited notes merge letter by
            // letter. A fork writes as an actor of its own (`fork_actor`),
            // and signs the case under that actor too, so that the history
            // names the change.
            let mut fork = loaded
                .doc
                .fork_at(base)
                .map_err(|e| StoreError::from(DocumentError::Load(e)))?
                .with_actor(self.device.fork_actor());
            let signer = (fork.get_actor().to_hex_string(), editor.1.clone());
            let (edited, _) =
                document::update::<Case, StoreError>(&mut fork, "edit case", |case| {
                    edit(case, &signer)
                })??;
            let fork_heads = fork.get_heads();
            loaded
                .doc
                .merge(&mut fork)
                .map_err(|e| StoreError::from(DocumentError::Load(e)))?;
            (edited, fork_heads)
        };
        if loaded.save(&tx, &id)?.is_some() {
            let merged: Case = document::read(&loaded.doc)?;
            reindex(&tx, &merged)?;
        }
        let committed = tx.commit();
        self.finish_edit(&id, committed, loaded)?;
        Ok((edited, new_base))
    }

    /// The stored case and its heads, read from one version: an editor
    /// opens a case with them.
    pub fn case_with_heads(&mut self, id_or_number: &str) -> Result<(Case, Vec<ChangeHash>)> {
        let id = self.resolve_case(id_or_number)?;
        let mut doc = self.read_doc(&id, DocumentKind::Case)?;
        let case = document::read(&doc)?;
        Ok((case, doc.get_heads()))
    }

    /// Heads of the stored case.
    pub fn case_heads(&mut self, id: &str) -> Result<Vec<ChangeHash>> {
        Ok(self.case_with_heads(id)?.1)
    }

    /// Sets one field by its dotted path in the case JSON (`notes`,
    /// `citizen.phone`, `status`, `requests.0.documents.1.note`; list
    /// elements by position or by id).
    pub fn set_case_field(&mut self, id_or_number: &str, path: &str, raw: &str) -> Result<Case> {
        let message = format!("set {path}");
        self.update_case(id_or_number, &message, |case| {
            let desired = with_field(case, path, raw)?;
            case.assign(desired);
            Ok(())
        })
    }

    /// Marks one document of one request.
    pub fn check_document(
        &mut self,
        id_or_number: &str,
        request_id: &str,
        document_id: &str,
        state: DocumentState,
    ) -> Result<Case> {
        let message = format!("document {document_id}: {state}");
        self.update_case(id_or_number, &message, |case| {
            let request = case
                .request_mut(request_id)
                .ok_or_else(|| StoreError::not_found("request", request_id))?;
            let document = request
                .document_mut(document_id)
                .ok_or_else(|| StoreError::not_found("document", document_id))?;
            document.state = state;
            Ok(())
        })
    }

    /// A page of cases matching `filter`, most recently changed first.
    ///
    /// Every path is bounded by the page, not by the number of cases: the
    /// full-text index is walked newest first and stops after the page, and
    /// the count of a text search stops at [`COUNT_LIMIT`].
    pub fn list_cases(&self, filter: &CaseFilter) -> Result<CasePage> {
        let mut conditions = Vec::new();
        let mut args: Vec<String> = Vec::new();
        let fts_terms: Vec<String> = filter
            .search
            .split_whitespace()
            .filter_map(search_term)
            .collect();
        let searching = !fts_terms.is_empty();
        let (from, order) = if searching {
            args.push(fts_terms.join(" AND "));
            conditions.push(format!("cases_fts MATCH ?{}", args.len()));
            // CROSS JOIN keeps the full-text index as the outer loop: with
            // another filter (a village) the planner otherwise walked that
            // filter's index and ran the whole text query once per row
            // (0.5 s at 10,000 cases).
            (
                "cases_fts CROSS JOIN cases c ON c.seq = cases_fts.rowid",
                "cases_fts.rowid DESC",
            )
        } else {
            ("cases c", "c.seq DESC")
        };
        if let Some(status) = filter.status {
            args.push(status.as_str().to_string());
            conditions.push(format!("c.status = ?{}", args.len()));
        }
        if let Some(office_hour) = &filter.office_hour_id {
            args.push(office_hour.clone());
            conditions.push(format!("c.office_hour_id = ?{}", args.len()));
        }
        if let Some(village) = &filter.village {
            args.push(village.clone());
            conditions.push(format!("c.village = ?{}", args.len()));
        }
        if let Some(caseworker) = &filter.caseworker {
            args.push(caseworker.clone());
            conditions.push(format!("c.created_by = ?{}", args.len()));
        }
        if let Some(day) = filter.overdue_on {
            args.push(day.to_string());
            conditions.push(format!("c.next_due < ?{}", args.len()));
        }
        if let Some(service) = &filter.service_id {
            args.push(service.clone());
            conditions.push(format!(
                "c.rowid IN (SELECT case_rowid FROM case_services WHERE service_id = ?{})",
                args.len()
            ));
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let limit = if filter.limit == 0 { 50 } else { filter.limit };
        let (total, total_exact) = if searching {
            let cap = (filter.offset + limit).max(COUNT_LIMIT);
            let counted: i64 = self.conn.query_row(
                &format!(
                    "SELECT count(*) FROM (SELECT 1 FROM {from} {where_clause} LIMIT {})",
                    cap + 1
                ),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let counted = usize::try_from(counted).unwrap_or(0);
            (counted.min(cap), counted <= cap)
        } else {
            let counted: i64 = self.conn.query_row(
                &format!("SELECT count(*) FROM {from} {where_clause}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            (usize::try_from(counted).unwrap_or(0), true)
        };
        let order = match filter.sort {
            CaseSort::Recent => order.to_string(),
            CaseSort::Number => "c.number, c.seq DESC".to_string(),
            CaseSort::Name => {
                "c.surname COLLATE NOCASE, c.given_names COLLATE NOCASE, c.seq DESC".to_string()
            }
            CaseSort::Due => "c.next_due IS NULL, c.next_due, c.seq DESC".to_string(),
        };
        let sql = format!(
            "SELECT c.id, c.number, c.status, c.surname, c.given_names, c.village, c.services,
                    c.complete, c.missing_count, c.office_hour_id, c.updated_at, c.created_by,
                    c.next_due, c.offices, c.created_at
             FROM {from} {where_clause}
             ORDER BY {order} LIMIT {limit} OFFSET {}",
            filter.offset
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement
            .query_map(params_from_iter(args.iter()), |r| {
                let status: String = r.get(2)?;
                Ok(CaseRow {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    status: status.parse().unwrap_or(CaseStatus::Open),
                    surname: r.get(3)?,
                    given_names: r.get(4)?,
                    village: r.get(5)?,
                    services: r.get(6)?,
                    complete: r.get(7)?,
                    missing_count: r.get(8)?,
                    office_hour_id: r.get(9)?,
                    updated_at: r.get(10)?,
                    created_by: r.get(11)?,
                    next_due: r.get::<_, Option<String>>(12)?.and_then(|d| d.parse().ok()),
                    offices: r
                        .get::<_, String>(13)?
                        .split(',')
                        .filter(|o| !o.is_empty())
                        .map(str::to_string)
                        .collect(),
                    created_at: r.get(14)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(CasePage {
            rows,
            total,
            total_exact,
        })
    }

    /// The case as an automerge document, loadable by any implementation.
    pub fn export_case(&mut self, id_or_number: &str) -> Result<Vec<u8>> {
        let id = self.resolve_case(id_or_number)?;
        documents::export(&self.conn, &id, DocumentKind::Case)
    }

    /// Merges an exported case document in: a new case is added, a known one
    /// gains the changes it lacks.
    pub fn import_case(&mut self, bytes: &[u8]) -> Result<Case> {
        let mut incoming = document::load(bytes)?;
        if DocumentKind::of(&incoming) != Some(DocumentKind::Case) {
            return Err(StoreError::Invalid(
                "the file holds no case document".into(),
            ));
        }
        let case: Case = document::read(&incoming)?;
        if case.id.is_empty() {
            return Err(StoreError::Invalid("the case in the file has no id".into()));
        }
        if let Some(tombstone) = self.tombstone(&case.id)? {
            return Err(StoreError::Erased {
                number: tombstone.number,
                at: tombstone.erased_at,
            });
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx
            .query_row("SELECT 1 FROM documents WHERE id = ?1", [&case.id], |_| {
                Ok(true)
            })
            .optional()?
            .unwrap_or(false);
        if exists {
            let mut loaded = documents::load_for_edit(
                &tx,
                &case.id,
                DocumentKind::Case,
                self.cache.get(&case.id),
                self.device.actor(),
            )?;
            loaded
                .doc
                .merge(&mut incoming)
                .map_err(|e| StoreError::from(DocumentError::Load(e)))?;
            let merged: Case = document::read(&loaded.doc)?;
            if loaded.save(&tx, &case.id)?.is_some() {
                reindex(&tx, &merged)?;
            }
            let committed = tx.commit();
            self.finish_edit(&case.id, committed, loaded)?;
            Ok(merged)
        } else {
            incoming.set_actor(self.device.actor());
            documents::insert(&tx, &case.id, DocumentKind::Case, &mut incoming)?;
            reindex(&tx, &case)?;
            tx.commit()?;
            self.remember(&case.id, incoming, 1);
            Ok(case)
        }
    }

    /// Keeps the cache only for a committed edit; a failed commit must not
    /// leave an unsaved change in memory that later looks saved.
    pub(super) fn finish_edit(
        &mut self,
        id: &str,
        committed: rusqlite::Result<()>,
        loaded: Loaded,
    ) -> Result<()> {
        match committed {
            Ok(()) => {
                let version = loaded.version();
                self.remember(id, loaded.doc, version);
                Ok(())
            }
            Err(e) => {
                self.forget(id);
                Err(e.into())
            }
        }
    }

    /// Takes the next number with this device's prefix (a number taken by
    /// an edit that then fails is skipped, never given twice).
    pub(super) fn next_case_number(&mut self) -> Result<String> {
        self.refresh_prefix()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let counter = setting(&tx, "case_counter")?
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        set_setting(&tx, "case_counter", &counter.to_string())?;
        tx.commit()?;
        Ok(format!("{}-{counter:04}", self.device.prefix))
    }

    /// The id of the case with this id, number, or former number.
    pub(super) fn resolve_case(&self, id_or_number: &str) -> Result<String> {
        let key = id_or_number.trim();
        let current = self
            .conn
            .prepare_cached("SELECT id FROM cases WHERE id = ?1 OR number = upper(?1) LIMIT 1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        let former = || {
            self.conn
                .prepare_cached(
                    "SELECT id FROM cases WHERE former_numbers != ''
                       AND instr(' ' || former_numbers || ' ', ' ' || upper(?1) || ' ') > 0
                     LIMIT 1",
                )?
                .query_row([key], |r| r.get(0))
                .optional()
        };
        match current {
            Some(id) => Ok(id),
            None if key.is_empty() => Err(StoreError::not_found("case", key)),
            None => match former()? {
                Some(id) => Ok(id),
                None => Err(match self.tombstone(key)? {
                    Some(tombstone) => StoreError::Erased {
                        number: tombstone.number,
                        at: tombstone.erased_at,
                    },
                    None => StoreError::not_found("case", key),
                }),
            },
        }
    }
}

/// `case` with the field at the dotted `path` set to `raw` (coerced to the
/// field's type; empty clears an optional field).
pub(super) fn with_field(case: &Case, path: &str, raw: &str) -> Result<Case> {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(StoreError::Invalid(format!("bad path {path:?}")));
    }
    if FIXED_FIELDS.contains(&segments[0]) {
        return Err(StoreError::Invalid(format!("{path} cannot be changed")));
    }
    let mut json = serde_json::to_value(case).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let slot = locate(&mut json, &segments)
        .ok_or_else(|| StoreError::Invalid(format!("the case has no field {path:?}")))?;
    let previous = std::mem::replace(slot, Value::Null);
    *slot = coerce(&previous, raw);
    let mut desired = serde_json::from_value::<Case>(json.clone());
    if desired.is_err() && matches!(raw.trim(), "" | "null") {
        // An empty value clears an optional field (a birth date, say).
        if let Some(slot) = locate(&mut json, &segments) {
            *slot = Value::Null;
        }
        desired = serde_json::from_value::<Case>(json);
    }
    desired.map_err(|e| StoreError::Invalid(format!("{path} = {raw:?}: {e}")))
}

/// What every stored case must satisfy, whichever way it was edited.
pub fn validate(case: &Case) -> Result<()> {
    if case.citizen.surname.trim().is_empty() && case.citizen.given_names.trim().is_empty() {
        return Err(StoreError::Invalid(t!("store.name_missing").into_owned()));
    }
    Ok(())
}

fn office_hour_caseworker(tx: &Transaction<'_>, id: &str) -> Result<String> {
    tx.query_row(
        "SELECT caseworker FROM office_hours WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::not_found("office hour", id))
}

/// Records who edits through this device's actor, for the change history,
/// and signs the review and comments the editor left unsigned.
pub(super) fn sign(case: &mut Case, (actor, label): &(String, String)) {
    if case.editors.get(actor) != Some(label) {
        case.editors.insert(actor.clone(), label.clone());
    }
    if let Some(review) = case.review.as_mut().filter(|r| r.by.is_empty()) {
        review.by.clone_from(label);
    }
    for comment in case.comments.iter_mut().filter(|c| c.author.is_empty()) {
        comment.author.clone_from(label);
    }
    let closed = matches!(case.status, CaseStatus::Done | CaseStatus::Cancelled);
    match (closed, &case.done_at) {
        (true, None) => case.done_at = Some(now_rfc3339()),
        (true, Some(_)) => {}
        (_, Some(_)) => case.done_at = None,
        (_, None) => {}
    }
}

/// Rewrites the index of one edited case, full text included.
fn reindex(tx: &Transaction<'_>, case: &Case) -> Result<()> {
    let mut full_text = FullTextRows::default();
    index_case(tx, &CaseSummary::from(case), &mut full_text)?;
    full_text.write(tx)
}

/// One word of a search as an FTS5 query term: a substring anywhere (three
/// characters or more), or else the start of a name or of the case number.
fn search_term(word: &str) -> Option<String> {
    let word: String = word.chars().filter(|c| !matches!(c, '"' | '^')).collect();
    match word.chars().count() {
        0 => None,
        1 => Some(format!("starts : \"^^{word}\"")),
        2 => Some(format!("starts : \"^{word}\"")),
        _ => Some(format!("\"{word}\"")),
    }
}

/// The JSON value at `path`; list elements by position or by their `id`.
fn locate<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(value);
    };
    let next = match value {
        Value::Object(map) => map.get_mut(*first)?,
        Value::Array(items) => match first.parse::<usize>() {
            Ok(index) => items.get_mut(index)?,
            Err(_) => items
                .iter_mut()
                .find(|item| item.get("id").and_then(Value::as_str) == Some(*first))?,
        },
        _ => return None,
    };
    locate(next, rest)
}

/// The JSON value for text typed on the command line, shaped like the value
/// it replaces: text stays text, flags and numbers are parsed.
fn coerce(current: &Value, raw: &str) -> Value {
    match current {
        Value::String(_) => Value::String(raw.to_string()),
        Value::Bool(_) => match raw.trim().to_lowercase().as_str() {
            "true" | "ja" | "yes" | "1" => Value::Bool(true),
            "false" | "nein" | "no" | "0" => Value::Bool(false),
            _ => Value::String(raw.to_string()),
        },
        _ if raw.trim().is_empty() || raw.trim() == "null" => Value::Null,
        _ => match serde_json::from_str::<Value>(raw) {
            Ok(
                parsed @ (Value::Object(_) | Value::Array(_) | Value::Number(_) | Value::Bool(_)),
            ) => parsed,
            _ => Value::String(raw.to_string()),
        },
    }
}
