//! Model values in automerge documents: create, load with verification, read
//! and edit. Every edit is one automerge change with a time and a message, so
//! the history says when and what; the actor says which device.

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit, ChangeHash, ReadDoc};
use autosurgeon::{Hydrate, Reconcile};

mod chunks;
pub mod int;
mod reader;

pub use chunks::{ChunkError, check_plain_chunks};

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("not a readable automerge document: {0}")]
    Load(#[source] automerge::AutomergeError),
    #[error("the document does not have the expected shape: {0}")]
    Shape(#[from] autosurgeon::HydrateError),
    #[error("could not write to the document: {0}")]
    Write(#[from] autosurgeon::ReconcileError),
}

/// What a document holds, told apart by its top-level fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Case,
    OfficeHour,
    /// The county's service catalogue (`knowledge::CatalogDocument`).
    Catalog,
    /// A question and its answer (`knowledge::Answer`).
    Answer,
    /// An idea, praise or complaint (`Feedback`).
    Feedback,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 5] = [
        DocumentKind::Case,
        DocumentKind::OfficeHour,
        DocumentKind::Catalog,
        DocumentKind::Answer,
        DocumentKind::Feedback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Case => "case",
            DocumentKind::OfficeHour => "office_hour",
            DocumentKind::Catalog => "catalog",
            DocumentKind::Answer => "answer",
            DocumentKind::Feedback => "feedback",
        }
    }

    /// The kind stored under `name` (`as_str`).
    pub fn from_name(name: &str) -> Option<DocumentKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Documents every enrolled device receives, whatever its department:
    /// the knowledge base. They have no department.
    pub fn is_county_wide(self) -> bool {
        matches!(self, DocumentKind::Catalog | DocumentKind::Answer)
    }

    pub fn of(doc: &impl ReadDoc) -> Option<DocumentKind> {
        // One pass over the root's keys: a `get` per key seeks each time.
        let keys: Vec<String> = doc.keys(automerge::ROOT).collect();
        let has = |key: &str| keys.iter().any(|k| k == key);
        if has("citizen") && has("requests") {
            Some(DocumentKind::Case)
        } else if has("village") && has("caseworker") {
            Some(DocumentKind::OfficeHour)
        } else if has("catalog") && has("edited_by") {
            Some(DocumentKind::Catalog)
        } else if has("question") && has("answer") {
            Some(DocumentKind::Answer)
        } else if has("category") && has("text") && has("kind") {
            Some(DocumentKind::Feedback)
        } else {
            None
        }
    }
}

/// A new document holding `value`, written by `actor`.
pub fn create<T: Reconcile>(
    actor: ActorId,
    value: &T,
    message: &str,
) -> Result<AutoCommit, DocumentError> {
    let mut doc = AutoCommit::new().with_actor(actor);
    autosurgeon::reconcile(&mut doc, value)?;
    doc.commit_with(options(message));
    Ok(doc)
}

/// Loads a saved document (a full save followed by any number of
/// incremental saves). Corrupt bytes give an error, never a panic.
pub fn load(bytes: &[u8]) -> Result<AutoCommit, DocumentError> {
    let outcome = std::panic::catch_unwind(|| AutoCommit::load(bytes));
    match outcome {
        Ok(result) => result.map_err(DocumentError::Load),
        Err(_) => Err(DocumentError::Load(automerge::AutomergeError::Fail)),
    }
}

/// Appends incremental saves or changes to a loaded document.
pub fn load_incremental(doc: &mut AutoCommit, bytes: &[u8]) -> Result<(), DocumentError> {
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.load_incremental(bytes)));
    match outcome {
        Ok(result) => result.map(|_| ()).map_err(DocumentError::Load),
        Err(_) => Err(DocumentError::Load(automerge::AutomergeError::Fail)),
    }
}

/// Reads a value out of a document (through [`reader::ObjectReader`], which
/// reads each object once instead of seeking per field).
pub fn read<T: Hydrate>(doc: &impl autosurgeon::ReadDoc) -> Result<T, DocumentError> {
    Ok(autosurgeon::hydrate(&reader::ObjectReader::new(doc))?)
}

/// Reads the value, lets `edit` change it and writes back only what changed,
/// as one change. Returns the value as written and whether anything changed.
pub fn update<T, E>(
    doc: &mut AutoCommit,
    message: &str,
    edit: impl FnOnce(&mut T) -> Result<(), E>,
) -> Result<Result<(T, bool), E>, DocumentError>
where
    T: Reconcile + Hydrate,
{
    update_with(doc, options(message), edit)
}

/// As [`update`], but the change carries no time: for anonymous entries
/// (survey ratings) whose time could tie them to a visit.
pub fn update_untimed<T, E>(
    doc: &mut AutoCommit,
    message: &str,
    edit: impl FnOnce(&mut T) -> Result<(), E>,
) -> Result<Result<(T, bool), E>, DocumentError>
where
    T: Reconcile + Hydrate,
{
    update_with(
        doc,
        CommitOptions::default().with_message(message.to_string()),
        edit,
    )
}

fn update_with<T, E>(
    doc: &mut AutoCommit,
    options: CommitOptions,
    edit: impl FnOnce(&mut T) -> Result<(), E>,
) -> Result<Result<(T, bool), E>, DocumentError>
where
    T: Reconcile + Hydrate,
{
    let mut value: T = read(doc)?;
    if let Err(e) = edit(&mut value) {
        return Ok(Err(e));
    }
    autosurgeon::reconcile(doc, &value)?;
    let changed = doc.commit_with(options).is_some();
    // Re-read so that collaborative text fields carry the new heads.
    let value = read(doc)?;
    Ok(Ok((value, changed)))
}

/// Whether two sets of heads are the same, whatever their order.
pub fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// Document ids are UUIDs; anything else from a device is refused or
/// ignored (it could never be stored on the server).
pub fn is_document_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Heads as lowercase hex, sorted, for storage and comparison.
pub fn heads_hex(heads: &[ChangeHash]) -> Vec<String> {
    let mut hex: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    hex.sort();
    hex
}

fn options(message: &str) -> CommitOptions {
    CommitOptions::default()
        .with_message(message.to_string())
        .with_time(chrono::Utc::now().timestamp())
}
