//! The knowledge base on this laptop: the county's catalogue document (or,
//! until it arrives, the catalogue this laptop was set up with) and the
//! questions and answers. The back office edits both; caseworkers propose
//! answers. Everything syncs to every device of the county.

use std::sync::Arc;

use rust_i18n::t;
use sprechtag_schemas::document::{self, DocumentKind};
use sprechtag_schemas::knowledge::{self as kb, CATALOG_DOCUMENT_ID};
use sprechtag_schemas::permissions::Part;
use sprechtag_schemas::{Answer, AnswerStatus, Catalog, CatalogDocument, Office, Service, new_id};

use super::{Result, Store, StoreError, now_rfc3339};

impl Store {
    /// The catalogue stored as the county's document, if this laptop has it.
    fn stored_catalog(&mut self) -> Result<Option<CatalogDocument>> {
        if !self.has_document(CATALOG_DOCUMENT_ID)? {
            return Ok(None);
        }
        let doc = self.read_doc(CATALOG_DOCUMENT_ID, DocumentKind::Catalog)?;
        Ok(Some(document::read(&doc)?))
    }

    fn has_document(&self, id: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM documents WHERE id = ?1")?
            .query_row([id], |r| r.get::<_, i64>(0))?
            > 0)
    }

    /// Takes the catalogue again from its document (after a sync or an
    /// edit) and forgets the answers read so far. A stored catalogue that
    /// is not valid (two edits that merged into something inconsistent)
    /// leaves the one in use as it is.
    pub(crate) fn knowledge_changed(&mut self) -> Result<()> {
        self.answers = None;
        // What is read now is what `refresh_knowledge` need not read again.
        self.knowledge_seen = Some(self.knowledge_fingerprint()?);
        if let Some(stored) = self.stored_catalog()? {
            match stored.catalog.validate() {
                Ok(()) => self.catalog = Arc::new(stored.catalog),
                Err(e) => {
                    eprintln!(
                        "Der Leistungskatalog des Landkreises ist ungültig, der bisherige bleibt: {e}"
                    );
                }
            }
        }
        Ok(())
    }

    /// Takes up what another connection (the sync worker's) stored of the
    /// knowledge base since this one last looked.
    pub fn refresh_knowledge(&mut self) -> Result<()> {
        if self.knowledge_seen != Some(self.knowledge_fingerprint()?) {
            self.forget(CATALOG_DOCUMENT_ID);
            self.knowledge_changed()?;
        }
        Ok(())
    }

    /// How many documents the knowledge base has and their summed
    /// versions: changes whenever any of them changes (versions only grow).
    fn knowledge_fingerprint(&self) -> Result<(i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT count(*), coalesce(sum(version), 0) FROM documents
             WHERE kind IN ('catalog', 'answer')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Stores a service as edited (its id names which).
    pub fn save_service(&mut self, service: Service) -> Result<Service> {
        self.replace_entry("service", service, |c| &mut c.services, |s| &s.id)
    }

    /// Stores an office as edited (its id names which).
    pub fn save_office(&mut self, office: Office) -> Result<Office> {
        self.replace_entry("office", office, |c| &mut c.offices, |o| &o.id)
    }

    /// Replaces the entry with `entry`'s id in the list `list` of the
    /// catalogue; returns it as stored.
    fn replace_entry<T: Clone>(
        &mut self,
        kind: &'static str,
        entry: T,
        list: fn(&mut Catalog) -> &mut Vec<T>,
        id_of: fn(&T) -> &String,
    ) -> Result<T> {
        let id = id_of(&entry).clone();
        let message = format!("edit {kind} {id}");
        let mut catalog = self.edit_catalog(&message, |catalog| {
            let slot = list(catalog)
                .iter_mut()
                .find(|e| *id_of(e) == id)
                .ok_or_else(|| StoreError::not_found(kind, &id))?;
            *slot = entry;
            Ok(())
        })?;
        list(&mut catalog)
            .iter()
            .find(|e| *id_of(e) == id)
            .cloned()
            .ok_or_else(|| StoreError::not_found(kind, &id))
    }

    /// Changes the catalogue for everybody: the county's document is
    /// created from the catalogue in use at the first change. Back office
    /// and administrators only; a result that is not valid is refused.
    pub fn edit_catalog(
        &mut self,
        message: &str,
        edit: impl FnOnce(&mut Catalog) -> Result<()>,
    ) -> Result<Catalog> {
        self.require(Part::Catalog)?;
        let (_, editor) = self.editor()?;
        let check = |catalog: &Catalog| {
            catalog.validate().map_err(|e| {
                StoreError::Invalid(
                    t!("store.catalog_invalid", detail = e.to_string()).into_owned(),
                )
            })
        };
        let stored = if self.has_document(CATALOG_DOCUMENT_ID)? {
            self.update_document(
                CATALOG_DOCUMENT_ID,
                DocumentKind::Catalog,
                message,
                |stored: &mut CatalogDocument| {
                    edit(&mut stored.catalog)?;
                    check(&stored.catalog)?;
                    stored.edited_by = editor;
                    stored.edited_at = now_rfc3339();
                    Ok(())
                },
            )?
        } else {
            let mut catalog = Catalog::clone(&self.catalog);
            edit(&mut catalog)?;
            check(&catalog)?;
            let stored = CatalogDocument {
                schema_version: sprechtag_schemas::SCHEMA_VERSION,
                id: CATALOG_DOCUMENT_ID.to_string(),
                catalog,
                edited_by: editor,
                edited_at: now_rfc3339(),
            };
            self.create_document(CATALOG_DOCUMENT_ID, DocumentKind::Catalog, &stored, message)?
        };
        self.knowledge_changed()?;
        Ok(stored.catalog)
    }

    /// Makes `catalog` (a file's) the catalogue for everybody: services,
    /// offices and documents with the ids it shares with the one in use
    /// are changed in place, so that concurrent edits elsewhere merge.
    pub fn import_catalog(&mut self, catalog: Catalog) -> Result<Catalog> {
        catalog
            .validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let message = format!("import catalogue {}", catalog.version);
        self.edit_catalog(&message, move |current| {
            *current = catalog;
            Ok(())
        })
    }

    /// Every answer this laptop holds, proposals and retired ones too.
    pub fn answers(&mut self) -> Result<Arc<Vec<Answer>>> {
        if let Some(answers) = &self.answers {
            return Ok(answers.clone());
        }
        let mut answers = Vec::new();
        for id in self.document_ids(DocumentKind::Answer)? {
            let doc = self.read_doc(&id, DocumentKind::Answer)?;
            match document::read::<Answer>(&doc) {
                Ok(answer) => answers.push(answer),
                Err(e) => eprintln!("Antwort {id} ist nicht lesbar: {e}"),
            }
        }
        answers.sort_by(|a, b| a.question.cmp(&b.question));
        let answers = Arc::new(answers);
        self.answers = Some(answers.clone());
        Ok(answers)
    }

    /// Services and answers that fit `query`, best first (`knowledge::search`).
    pub fn search_knowledge(&mut self, query: &str) -> Result<Vec<KnowledgeHit>> {
        let answers = self.answers()?;
        Ok(kb::search(&self.catalog, &answers, query)
            .into_iter()
            .map(|hit| match hit {
                kb::Hit::Service(service) => KnowledgeHit::Service(service.id.clone()),
                kb::Hit::Answer(answer) => KnowledgeHit::Answer(answer.clone()),
            })
            .collect())
    }

    /// Adds a question and its answer. From the back office it is accepted
    /// at once; from a caseworker it is a proposal until the back office
    /// accepts it.
    pub fn add_answer(
        &mut self,
        question: &str,
        answer: &str,
        service_ids: &[String],
    ) -> Result<Answer> {
        let (question, text) = (question.trim(), answer.trim());
        if question.is_empty() || text.is_empty() {
            return Err(StoreError::Invalid(t!("store.answer_empty").into_owned()));
        }
        check_length(question, text)?;
        for id in service_ids {
            if self.catalog.service(id).is_none() {
                return Err(sprechtag_schemas::CatalogError::UnknownService(id.clone()).into());
            }
        }
        let (_, editor) = self.editor()?;
        let accepted = self.require(Part::AnswerReview).is_ok();
        let now = now_rfc3339();
        let answer = Answer {
            schema_version: sprechtag_schemas::SCHEMA_VERSION,
            id: new_id(),
            question: question.to_string(),
            answer: text.to_string(),
            service_ids: service_ids.to_vec(),
            status: if accepted {
                AnswerStatus::Accepted
            } else {
                AnswerStatus::Proposed
            },
            written_by: editor.clone(),
            written_at: now.clone(),
            checked_by: accepted.then_some(editor),
            checked_at: accepted.then_some(now),
        };
        let message = if accepted {
            "new answer"
        } else {
            "propose answer"
        };
        let stored = self.create_document(&answer.id, DocumentKind::Answer, &answer, message)?;
        self.answers = None;
        Ok(stored)
    }

    /// The back office rewords an answer; it counts as checked today.
    pub fn edit_answer(
        &mut self,
        id: &str,
        question: &str,
        answer: &str,
        service_ids: &[String],
    ) -> Result<Answer> {
        self.require(Part::Answer)?;
        let (question, text) = (question.trim().to_string(), answer.trim().to_string());
        if question.is_empty() || text.is_empty() {
            return Err(StoreError::Invalid(t!("store.answer_empty").into_owned()));
        }
        check_length(&question, &text)?;
        let (_, editor) = self.editor()?;
        let service_ids = service_ids.to_vec();
        let stored =
            self.update_document(id, DocumentKind::Answer, "edit answer", |a: &mut Answer| {
                a.question = question;
                a.answer = text;
                a.service_ids = service_ids;
                a.checked_by = Some(editor);
                a.checked_at = Some(now_rfc3339());
                Ok(())
            })?;
        self.answers = None;
        Ok(stored)
    }

    /// The back office accepts a proposal, confirms an answer is still
    /// right (checked today), or retires it.
    pub fn review_answer(&mut self, id: &str, status: AnswerStatus) -> Result<Answer> {
        self.require(Part::AnswerReview)?;
        let (_, editor) = self.editor()?;
        let message = match status {
            AnswerStatus::Accepted => "accept answer",
            AnswerStatus::Retired => "retire answer",
            AnswerStatus::Proposed => "reopen answer",
        };
        let stored =
            self.update_document(id, DocumentKind::Answer, message, |a: &mut Answer| {
                a.status = status;
                a.checked_by = Some(editor);
                a.checked_at = Some(now_rfc3339());
                Ok(())
            })?;
        self.answers = None;
        Ok(stored)
    }
}

/// What the server takes of an answer (`sync-server` checks the same).
fn check_length(question: &str, answer: &str) -> Result<()> {
    if question.chars().count() > 500 || answer.chars().count() > 10_000 {
        return Err(StoreError::Invalid(
            t!("store.answer_too_long").into_owned(),
        ));
    }
    Ok(())
}

/// One hit of a search in the knowledge base.
#[derive(Debug, Clone, PartialEq)]
pub enum KnowledgeHit {
    /// A service of the catalogue, by id.
    Service(String),
    Answer(Answer),
}
