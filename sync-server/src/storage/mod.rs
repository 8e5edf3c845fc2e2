//! Where the server keeps devices and documents. The sync logic talks to a
//! `Storage` and its transactions only: the embedded SQLite storage
//! (`sqlite.rs`, the default) and PostgreSQL (`postgres.rs`, several server
//! instances on one database) stand side by side and pass one conformance
//! suite (`sync-server/tests/storage_conformance.rs`).

mod postgres;
mod sqlite;
pub mod test_database;
pub mod transfer;

pub use postgres::PostgresStorage;
pub use sqlite::{CarriedOver, DATABASE_FILE, DatabaseKey, Restored, SqliteStorage};

use serde::Serialize;

/// How storage fails, whatever the database: each backend maps its own
/// errors onto these, so that the layers above never see a driver's type.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A failure that may pass: the database was busy or locked too long,
    /// the connection dropped, a concurrent transaction won. The request
    /// can be tried again (`is_retryable`).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure; trying again will not help.
    #[error("database: {0}")]
    Database(String),
    /// What was asked contradicts what is stored (an actor taken by
    /// another device).
    #[error("{0}")]
    Conflict(String),
    /// The database file is damaged (a page cannot be read or decrypted):
    /// the server stops claiming to be healthy (`/health` 503).
    #[error("database damaged: {0}")]
    Damaged(String),
}

impl StorageError {
    /// Whether the same request may succeed when tried again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }
}

/// Who the server is and which history it serves.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    /// Stays for the life of the deployment.
    pub server_id: String,
    /// Changes when the database is restored from a backup: devices then
    /// sync everything again.
    pub epoch: String,
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// How long an enrolment code is valid after it was issued.
pub const CODE_VALIDITY_SECS: i64 = 15 * 60;

pub use sprechtag_schemas::Role;

#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub user: String,
    pub role: Role,
    pub department: String,
    pub prefix: String,
    pub enrolled: bool,
    pub created_at: String,
    pub last_seen: Option<String>,
    pub revoked_at: Option<String>,
    /// The automerge actor registered at enrolment (32 hex digits).
    pub actor: Option<String>,
    /// `device revoke --wipe`: when it was ordered, and when the device
    /// was told.
    pub wipe_ordered_at: Option<String>,
    pub wipe_delivered_at: Option<String>,
}

impl Device {
    /// The department whose documents the device receives; `None`: all.
    pub fn scope(&self) -> Option<&str> {
        match self.role {
            Role::Admin => None,
            Role::Caseworker | Role::Backoffice => Some(&self.department),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewDevice {
    pub name: String,
    pub user: String,
    pub role: Role,
    pub department: String,
}

/// A stored document's bookkeeping, without its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentMeta {
    pub kind: String,
    pub department: Option<String>,
    pub seq: Seq,
    pub chunk_count: u32,
    /// The document's heads, as on the wire.
    pub heads: Vec<u8>,
}

/// A document changed after a device's cursor, as a sync hands it out:
/// its bookkeeping and the heads the device is known to hold of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub id: String,
    pub meta: DocumentMeta,
    /// `None`: the device holds nothing of it (as far as it acknowledged).
    pub known: Option<Vec<u8>>,
}

/// Heads sent to a device in a response, known to it once it acknowledges
/// `seq`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pending<'a> {
    pub doc_id: &'a str,
    pub heads: &'a [u8],
    pub seq: Seq,
}

/// What is left of an erased document, as the server keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredTombstone {
    pub doc_id: String,
    pub number: String,
    pub erased_at: String,
    /// The user of the device that ordered it, `server administration` or
    /// `retention`.
    pub erased_by: String,
    pub reason: String,
    pub successor: Option<String>,
}

impl StoredTombstone {
    /// What devices learn of it.
    pub fn wire(&self) -> sprechtag_schemas::wire::Tombstone {
        sprechtag_schemas::wire::Tombstone {
            doc_id: self.doc_id.clone(),
            number: self.number.clone(),
            erased_at: self.erased_at.clone(),
            successor: self.successor.clone(),
        }
    }
}

/// What the database holds, for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageFigures {
    pub documents: u64,
    /// Enrolled and not revoked.
    pub devices_active: u64,
    /// The database on disk (with its write-ahead log).
    pub database_bytes: u64,
}

/// How a changed document is written.
pub enum DocumentWrite<'a> {
    /// Changes appended to what is stored.
    Chunk(&'a [u8]),
    /// A full save replacing everything stored.
    Snapshot(&'a [u8]),
}

/// Times in the storage interface: UTC. (Stored as each backend likes;
/// times read back are RFC 3339 strings, as they go into JSON.)
pub type Time = chrono::DateTime<chrono::Utc>;

/// A document's place in the order of changes: every write takes the next
/// one, and a device's cursor is the last one it received. Never negative;
/// a signed 64-bit integer, as every SQL database has one.
pub type Seq = i64;

/// Letters of a case-number prefix: none that can be mistaken for a digit
/// or another letter on the phone.
const PREFIX_ALPHABET: &[u8] = b"ACDEFHJKLMNPRTUVWXY";

pub trait Storage: Send + Sync + 'static {
    /// Registers a device under the case-number prefix `prefix`, to be
    /// enrolled by redeeming `code_hash` before `expires_at`; `None` if
    /// another device has that prefix (`create_device` picks another).
    fn insert_device(
        &self,
        new: &NewDevice,
        prefix: &str,
        code_hash: &[u8],
        expires_at: Time,
    ) -> Result<Option<Device>>;
    /// Registers a device with a free random prefix (three letters while
    /// they last, then four), to be enrolled by redeeming `code_hash`.
    fn create_device(&self, new: &NewDevice, code_hash: &[u8], expires_at: Time) -> Result<Device> {
        use rand::Rng;
        let mut rng = rand::rng();
        for attempt in 0..200 {
            let length = if attempt < 100 { 3 } else { 4 };
            let prefix: String = (0..length)
                .map(|_| PREFIX_ALPHABET[rng.random_range(0..PREFIX_ALPHABET.len())] as char)
                .collect();
            if let Some(device) = self.insert_device(new, &prefix, code_hash, expires_at)? {
                return Ok(device);
            }
        }
        Err(StorageError::Conflict("no free case-number prefix".into()))
    }
    /// Swaps an unexpired one-time code for a token; `None` if the code is
    /// unknown, used or expired (or was issued by a clock that was ahead:
    /// valid for no longer than `CODE_VALIDITY_SECS` from `now`).
    /// `actor` is registered for the device; taken by another device, it is
    /// a `Conflict`.
    fn redeem_code(
        &self,
        code_hash: &[u8],
        token_hash: &[u8],
        actor: Option<&str>,
        now: Time,
    ) -> Result<Option<Device>>;
    fn device_by_token(&self, token_hash: &[u8]) -> Result<Option<Device>>;
    fn devices(&self) -> Result<Vec<Device>>;
    /// Marks the device revoked (and, with `wipe`, orders it to delete its
    /// data at its next contact); false if there is no such device.
    fn revoke_device(&self, id: &str, wipe: bool) -> Result<bool>;
    /// Records that the wipe order reached the device (the first time).
    fn wipe_delivered(&self, id: &str) -> Result<()>;
    /// Appends to the audit trail, durably.
    fn append_audit(&self, entry: crate::audit::NewEntry) -> Result<crate::audit::Entry>;
    /// The audit trail, oldest first, narrowed by `filter`.
    fn audit_entries(&self, filter: &crate::audit::Filter) -> Result<Vec<crate::audit::Entry>>;
    /// A write transaction; one at a time, durable on commit.
    fn begin(&self) -> Result<Box<dyn SyncTransaction + '_>>;
    /// The department a stored document belongs to: `None` if there is no
    /// such document, `Some(None)` if it belongs to none (read without
    /// waiting for a sync).
    fn document_department(&self, id: &str) -> Result<Option<Option<String>>>;
    /// The stored summaries of all cases (id, summary), for retention.
    fn case_summaries(&self) -> Result<Vec<(String, Vec<u8>)>>;
    /// The tombstones, oldest first.
    fn tombstones(&self) -> Result<Vec<StoredTombstone>>;
    /// Makes erased bytes unrecoverable from the files: whatever the write-
    /// ahead log still holds is moved into the (zeroed) database pages and
    /// the log emptied. Called after a transaction that erased something.
    fn purge(&self) -> Result<()>;
    /// The server's identity and epoch, as of opening (a restore, with the
    /// server stopped, is the only thing that changes the epoch).
    fn identity(&self) -> Result<Identity>;
    /// The stored value of identity `name`, if any.
    fn identity_value(&self, name: &str) -> Result<Option<String>>;
    /// The stored value of identity `name`; stored as `value` first if the
    /// database has none (the first of several instances to start sets it).
    fn settle_identity(&self, name: &str, value: &str) -> Result<String>;
    /// Where the data are, for logs ("SQLite /var/lib/…").
    fn location(&self) -> String;
    /// Which database: "sqlite" or "postgresql" (`/health`, the log).
    fn backend(&self) -> &'static str;
    /// The number of schema migrations applied (`/health`, the log).
    fn schema_version(&self) -> Result<i64>;
    /// What the database holds, for monitoring (`/metrics`).
    fn figures(&self) -> Result<StorageFigures>;
    /// Queued e-mails due at `now` (RFC 3339), oldest first.
    fn mail_due(&self, now: &str, limit: usize) -> Result<Vec<QueuedMail>>;
    /// Records how a try to send ended.
    fn mail_tried(&self, id: i64, outcome: &MailOutcome) -> Result<()>;
    /// Queues an e-mail under `key` unless one was queued under it before;
    /// whether it is new.
    fn queue_mail(
        &self,
        key: &str,
        purpose: MailPurpose,
        forwarding: Option<(&str, &str)>,
        department: Option<&str>,
        now: &str,
    ) -> Result<bool>;
    /// Forwardings not yet answered.
    fn open_forwardings(&self) -> Result<Vec<ForwardingRecord>>;
}

/// The operations of one sync request, committed together.
pub trait SyncTransaction {
    /// Appends to the audit trail, committed with the transaction.
    fn append_audit(&mut self, entry: crate::audit::NewEntry) -> Result<()>;
    /// The device whose registered actor is `actor` (32 hex digits).
    fn device_by_actor(&mut self, actor: &str) -> Result<Option<Device>>;
    fn document_meta(&mut self, id: &str) -> Result<Option<DocumentMeta>>;
    /// The stored saves of a document, to be loaded in order.
    fn document_bytes(&mut self, id: &str) -> Result<Vec<Vec<u8>>>;
    /// The summary stored with the document's current version
    /// (`CaseSummary::encode`), if it has one.
    fn document_summary(&mut self, id: &str) -> Result<Option<Vec<u8>>>;
    /// Stores a change and gives the document the next sequence number;
    /// `summary` replaces the stored one.
    fn write_document(
        &mut self,
        id: &str,
        kind: &str,
        department: Option<&str>,
        heads: &[u8],
        summary: Option<&[u8]>,
        write: DocumentWrite<'_>,
    ) -> Result<Seq>;
    /// The heads this device is known to hold of the document.
    fn device_heads(&mut self, device: &str, doc: &str) -> Result<Option<Vec<u8>>>;
    fn set_device_heads(&mut self, device: &str, doc: &str, heads: &[u8]) -> Result<()>;
    /// Heads sent in a response, known to the device once it acknowledges
    /// their `seq`: one call per response (a backend may write them all
    /// in one statement).
    fn add_pending(&mut self, device: &str, pending: &[Pending<'_>]) -> Result<()>;
    /// Records that the device was seen now (in the sync's own transaction:
    /// a separate write would cost every request a second fsync).
    fn touch_device(&mut self, device: &str) -> Result<()>;
    /// The device received everything up to `cursor`: pending sends at or
    /// below it become known heads, the rest never arrived and are dropped.
    fn acknowledge(&mut self, device: &str, cursor: Seq) -> Result<()>;
    /// The newest sequence number given to any document (0: none yet).
    fn newest_seq(&mut self) -> Result<Seq>;
    /// Forgets which heads the device holds and was sent (it starts over:
    /// its store, or this database, was restored from a backup).
    fn forget_holdings(&mut self, device: &str) -> Result<()>;
    /// Documents changed after `cursor` in `scope` (all if `None`), by
    /// sequence, each with what `device` is known to hold of it: one look
    /// per page of a sync's downloads, not one per document.
    fn changed_after(
        &mut self,
        device: &str,
        scope: Option<&str>,
        cursor: Seq,
        limit: usize,
    ) -> Result<Vec<Changed>>;
    /// The tombstone of an erased document.
    fn tombstone(&mut self, id: &str) -> Result<Option<StoredTombstone>>;
    /// Replaces the document by its tombstone: every stored save, summary
    /// and device's heads of it deleted, the tombstone given the next
    /// sequence number (so that devices learn of it) in `department`.
    fn erase_document(
        &mut self,
        department: Option<&str>,
        tombstone: &StoredTombstone,
    ) -> Result<Seq>;
    /// Replaces what the server knows of the document's forwardings
    /// (for reminders and digests) and queues the e-mail of each open one
    /// not queued before (`mail`).
    fn record_forwardings(&mut self, doc_id: &str, forwardings: &[ForwardingRecord]) -> Result<()>;
    fn commit(self: Box<Self>) -> Result<()>;
}

/// A request (or complaint) forwarded to an office, as the mail queue
/// knows it: no citizen data, only what schedules mails.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardingRecord {
    pub doc_id: String,
    /// The request within a case; empty for an idea, praise or complaint.
    pub request_id: String,
    /// `case` or `feedback`.
    pub kind: String,
    pub department: Option<String>,
    pub office_id: String,
    pub forwarded_at: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    /// Answered (the office's answer recorded).
    pub closed: bool,
}

/// What a queued e-mail is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailPurpose {
    /// The forwarding itself, to the office.
    Forwarding,
    /// Two working days before the deadline, to the office.
    Reminder,
    /// The overdue forwardings of a department, to its back office.
    Digest,
}

impl MailPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            MailPurpose::Forwarding => "forwarding",
            MailPurpose::Reminder => "reminder",
            MailPurpose::Digest => "digest",
        }
    }

    pub fn from_name(name: &str) -> Option<MailPurpose> {
        [
            MailPurpose::Forwarding,
            MailPurpose::Reminder,
            MailPurpose::Digest,
        ]
        .into_iter()
        .find(|p| p.as_str() == name)
    }
}

/// An e-mail in the queue. Its text is written when it is sent, from the
/// document as it is then: the queue holds no citizen data.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMail {
    pub id: i64,
    pub purpose: MailPurpose,
    pub doc_id: String,
    pub request_id: String,
    /// The department, for a digest.
    pub department: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// How a try to send a queued e-mail ended.
#[derive(Debug, Clone, PartialEq)]
pub enum MailOutcome {
    /// The relay accepted it at this time.
    Sent(String),
    /// Failed; tried again at `retry_at`, or never (`None`: refused for
    /// good, or nothing left to send).
    Failed {
        error: String,
        retry_at: Option<String>,
    },
}
