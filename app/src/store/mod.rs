//! The local store: an SQLCipher database (the whole file encrypted) holding
//! every case and office hour as an automerge document, plus index tables
//! and a full-text index so that lists and search never load documents.
//!
//! Every edit is one SQLite transaction with `synchronous=FULL` in WAL mode:
//! when a method returns `Ok`, the edit is on disk.

pub mod appointments;
mod attestations;
mod backoffice;
pub mod backup;
mod case_index;
mod cases;
mod documents;
mod feedback;
mod hall;
mod key;
mod knowledge;
mod office_hours;
mod privacy;
mod schema;
pub mod slots;
pub mod statistics;
mod sync_state;
mod trust;

use sprechtag_schemas::permissions::{Part, Role};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use automerge::ActorId;
use rusqlite::{Connection, OptionalExtension, params};
use sprechtag_schemas::Catalog;
use sprechtag_schemas::document::DocumentError;

pub use backoffice::HistoryEntry;
pub use cases::{COUNT_LIMIT, CaseFilter, CasePage, CaseRow, CaseSort, validate as validate_case};
pub use feedback::{FeedbackCount, NewFeedback};
pub use hall::{HallContact, Offer, PeerDoc, Sender, TakenFromPeer, offer_digest};
pub use key::{MIN_PASSPHRASE_CHARS, Passphrase};
pub use knowledge::KnowledgeHit;
pub use office_hours::{NewOfficeHour, OfficeHourRow};
pub use privacy::{DEFAULT_KEEP_FILES_DAYS, MAX_REASON_CHARS as MAX_ERASE_REASON_CHARS};
pub use sync_state::{Applied, DocumentLabel, Enrolment, UploadBatch};
pub use trust::HallIdentity;

use documents::CachedDoc;
use key::KeyFileExt;

/// File name of the encrypted database inside the data dir.
pub const DATABASE_FILE: &str = "sprechtag.db";
/// Left in a data dir whose data were deleted on the server's order
/// (`device revoke --wipe`); the app then shows only that.
pub const WIPED_MARKER: &str = "GESPERRT.txt";

/// Whether the data in `dir` were deleted on the server's order.
pub fn was_wiped(dir: &Path) -> bool {
    dir.join(WIPED_MARKER).exists()
}

/// Deletes everything Sprechtag keeps in `dir` — the key file first
/// (without its salt nothing left of the database can be decrypted, even
/// with the passphrase), then the database and its log, prints, exports
/// and preferences — and leaves a note saying so.
pub fn wipe_dir(dir: &Path) -> Result<()> {
    let remove = |path: &Path| match crate::fsutil::shred(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(path, e)),
        _ => Ok(()),
    };
    remove(&dir.join(key::KEY_FILE))?;
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.join(format!("{DATABASE_FILE}{suffix}"));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StoreError::io(&path, e));
            }
            _ => {}
        }
    }
    // Backups and stores a restore put aside hold the same data.
    let quarantined: Vec<PathBuf> = std::fs::read_dir(dir.join(backup::QUARANTINE_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    let folders = [
        crate::print::PRINTS_DIR,
        crate::print::EXPORTS_DIR,
        backup::BACKUPS_DIR,
    ]
    .into_iter()
    .map(|folder| dir.join(folder))
    .chain(quarantined)
    .chain([dir.join(backup::QUARANTINE_DIR)]);
    for folder in folders {
        if let Ok(entries) = std::fs::read_dir(&folder) {
            for entry in entries.flatten() {
                if entry.path().is_file() {
                    remove(&entry.path())?;
                }
            }
            let _ = std::fs::remove_dir(&folder);
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() && path.file_name() != Some(std::ffi::OsStr::new(WIPED_MARKER)) {
                remove(&path)?;
            }
        }
    }
    let note = format!(
        "Dieses Gerät wurde gesperrt. Die Daten wurden am {} auf Anweisung des Servers gelöscht.\n\
         This device was revoked. Its data were erased on the server's order.\n",
        now_rfc3339()
    );
    let marker = dir.join(WIPED_MARKER);
    crate::fsutil::write_private(&marker, note.as_bytes()).map_err(|e| StoreError::io(&marker, e))
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("wrong passphrase: the data in this folder cannot be opened with it")]
    WrongPassphrase,
    #[error("the passphrase is too short: at least {MIN_PASSPHRASE_CHARS} characters")]
    WeakPassphrase,
    #[error("no Sprechtag data in {0}")]
    NoStore(PathBuf),
    /// Half a store: the database without its key file or the other way
    /// round. Nothing is made anew over it.
    #[error(
        "{missing} is missing beside {present}: put it back, restore a backup \
         (sprechtag restore FILE), or move the folder away to start afresh"
    )]
    Incomplete { missing: PathBuf, present: PathBuf },
    /// A file of the store cannot be read as what it should be (empty,
    /// cut short, a damaged page): the passphrase is not at fault.
    #[error("{path} is damaged: {detail}")]
    Damaged { path: PathBuf, detail: String },
    /// A restore found the store open elsewhere (the app, a command).
    #[error("Sprechtag has the data in {0} open (the app or a command); close it first")]
    InUse(PathBuf),
    /// The store failed its integrity check and was opened for reading
    /// only: nothing more is written into it.
    #[error("the data are damaged and open for reading only; restore a backup (sprechtag restore)")]
    ReadOnly,
    #[error("the data is damaged: {0}")]
    Corrupt(String),
    #[error("no {kind} with id or number {id:?}")]
    NotFound { kind: &'static str, id: String },
    #[error("{0}")]
    Invalid(String),
    /// This device's role may not change that part of a document (the
    /// server would refuse it); nothing was written.
    #[error("this device is enrolled as {role}: {} is not for this role", .part.name())]
    Forbidden { role: Role, part: Part },
    /// The case was erased (here or on the server): nothing of it is left
    /// but its number, and it is never taken again.
    #[error("case {number} was erased on {at}; it cannot be opened, imported or restored")]
    Erased { number: String, at: String },
    /// Only the back office and administrators erase cases.
    #[error(
        "this device is enrolled as {0}: only back-office and admin devices erase or correct cases \
         and make access reports"
    )]
    MayNotErase(Role),
    /// An editor's copy was read from a version of the case this store no
    /// longer knows (the store was replaced): it cannot be merged safely.
    #[error(
        "case {0}: the copy being saved comes from a version this store does not know; open the case again"
    )]
    UnknownVersion(String),
    #[error(transparent)]
    Catalog(#[from] sprechtag_schemas::CatalogError),
    /// Boxed: automerge's errors are large, and every store call returns this.
    #[error(transparent)]
    Document(Box<DocumentError>),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("database schema upgrade failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("cannot write the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ReadOnly) => StoreError::ReadOnly,
            _ => StoreError::Sqlite(error),
        }
    }
}

impl From<DocumentError> for StoreError {
    fn from(error: DocumentError) -> Self {
        StoreError::Document(Box::new(error))
    }
}

impl StoreError {
    /// The bytes of a document could not be read or do not have its shape:
    /// the document is at fault, not the store.
    pub fn is_unreadable_document(&self) -> bool {
        matches!(
            self,
            StoreError::Document(_) | StoreError::Invalid(_) | StoreError::Corrupt(_)
        )
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn not_found(kind: &'static str, id: &str) -> StoreError {
        StoreError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who this device is: its automerge actor and the prefix of its case numbers.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: uuid::Uuid,
    pub prefix: String,
    /// Eight random bytes after the device id in its actor, once the store
    /// was restored from a backup: the server may hold changes this device
    /// made after the backup, and a new change must not repeat their
    /// sequence numbers.
    pub actor_suffix: Option<[u8; 8]>,
}

impl Device {
    pub fn actor(&self) -> ActorId {
        let mut bytes = self.id.as_bytes().to_vec();
        if let Some(suffix) = self.actor_suffix {
            bytes.extend(suffix);
        }
        ActorId::from(bytes.as_slice())
    }

    /// A fresh actor of this device for a change made on an older version
    /// (reusing `actor` there could repeat a sequence number it has used
    /// since): the device's actor followed by eight random bytes, so that
    /// the server still knows whose it is.
    pub fn fork_actor(&self) -> ActorId {
        let mut bytes = self.id.as_bytes().to_vec();
        bytes.extend(rand::random::<[u8; 8]>());
        ActorId::from(bytes.as_slice())
    }
}

pub struct Store {
    conn: Connection,
    dir: PathBuf,
    device: Device,
    /// The catalogue in use: the county's document once this laptop has
    /// it, else the one it was opened with (`knowledge`).
    catalog: Arc<Catalog>,
    /// The knowledge base's answers, read once until they change.
    answers: Option<Arc<Vec<sprechtag_schemas::Answer>>>,
    /// The number and summed versions of the knowledge base's documents
    /// when they were last read (`refresh_knowledge`).
    knowledge_seen: Option<(i64, i64)>,
    cache: HashMap<String, CachedDoc>,
    /// For backups (`ATTACH … KEY`); wiped when the store is dropped.
    key: key::DatabaseKey,
    /// What the integrity check at opening found: the store is then open
    /// for reading only (`PRAGMA query_only`).
    damage: Option<String>,
    /// The shared lock on `.in-use` while the store is open (`restore`).
    _in_use: std::fs::File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Letters that cannot be mistaken for digits or for each other when read
/// out on the phone (no B/8, G/6, I/1, O/0, S/5, Z/2, Q).
const PREFIX_ALPHABET: &[u8] = b"ACDEFHJKLMNPRTUVWXY";

impl Store {
    /// Whether `dir` holds anything of a store (then `open`, which tells
    /// what is wrong with half a store; else `create`).
    pub fn exists(dir: &Path) -> bool {
        !matches!(backup::inspect(dir), Ok(backup::DirState::Empty))
    }

    /// Creates a new store protected by `passphrase` — only in a data dir
    /// without one: an existing key file is never replaced (the database
    /// it belongs to could not be opened again).
    pub fn create(dir: &Path, passphrase: &str, catalog: Arc<Catalog>) -> Result<Store> {
        sprechtag_schemas::sqlite::ready();
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(StoreError::WeakPassphrase);
        }
        match backup::inspect(dir)? {
            backup::DirState::Empty => {}
            backup::DirState::Store => {
                return Err(StoreError::Invalid(format!(
                    "{} already holds Sprechtag data",
                    dir.display()
                )));
            }
            backup::DirState::Wiped => {
                return Err(StoreError::Invalid(format!(
                    "this device was revoked and its data erased; an administrator removes {} \
                     before it is set up again",
                    dir.join(WIPED_MARKER).display()
                )));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        restrict_to_owner(dir)?;
        let in_use = backup::hold_in_use(dir)?;
        let generated = key::generate();
        let key = generated.derive(passphrase)?;
        generated.completed(&key).write_new(dir)?;
        let path = dir.join(DATABASE_FILE);
        crate::fsutil::write_new(&path, b"").map_err(|e| StoreError::io(&path, e))?;
        let mut conn = Connection::open(&path)?;
        apply_key(&conn, &key)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let device = init_device(&conn)?;
        Ok(Store::with(conn, dir, device, catalog, key, in_use))
    }

    /// Opens an existing store. A wrong passphrase changes nothing on disk.
    /// A store that fails its integrity check is opened for reading only
    /// (`damage`); one that cannot be opened at all is an error naming the
    /// file, told apart from a wrong passphrase.
    pub fn open(dir: &Path, passphrase: &str, catalog: Arc<Catalog>) -> Result<Store> {
        sprechtag_schemas::sqlite::ready();
        match backup::inspect(dir)? {
            backup::DirState::Store => {}
            backup::DirState::Empty | backup::DirState::Wiped => {
                return Err(StoreError::NoStore(dir.to_path_buf()));
            }
        }
        let key_file = key::read(dir)?;
        let key = key_file.derive(passphrase)?;
        if key_file.fits(&key) == Some(false) {
            return Err(StoreError::WrongPassphrase);
        }
        let in_use = backup::hold_in_use(dir)?;
        let path = dir.join(DATABASE_FILE);
        let damaged = |detail: String| StoreError::Damaged {
            path: path.clone(),
            detail,
        };
        let mut conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        apply_key(&conn, &key)?;
        // The first read decrypts page 1: a wrong key fails here, before any write.
        match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(_) => {}
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
                // With a check value the key is known to be right: the
                // file is at fault. Without one, it cannot be told.
                return Err(if key_file.fits(&key) == Some(true) {
                    damaged("its first page cannot be decrypted with the right passphrase".into())
                } else {
                    StoreError::WrongPassphrase
                });
            }
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
                return Err(damaged(e.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        if let Some(damage) = backup::quick_check(&conn) {
            // Nothing more is written into it: no migration, no new
            // settings; a restore moves it aside. A fresh connection: the
            // failed pages left the first one's pager in an error state.
            drop(conn);
            let conn = Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            apply_key(&conn, &key)?;
            conn.execute_batch("PRAGMA query_only = ON;")?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            let device = read_device(&conn).map_err(|_| damaged(damage.clone()))?;
            let mut store = Store::with(conn, dir, device, catalog, key, in_use);
            store.damage = Some(format!("{}: {damage}", path.display()));
            return Ok(store);
        }
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let device = init_device(&conn)?;
        // The clock correction learnt at the last sync holds until the next.
        if let Some(offset) = setting(&conn, "sync.clock_offset_ms")?.and_then(|o| o.parse().ok()) {
            sprechtag_schemas::clock::set_offset_ms(offset);
        }
        if !key_file.is_complete() {
            key_file.complete_on_disk(dir, &key)?;
        }
        let mut store = Store::with(conn, dir, device, catalog, key, in_use);
        // What an older release set aside, unable to read it (a document
        // of a kind it did not know), is taken now; then the county's
        // catalogue, once it arrived, over the file's.
        store.retry_set_aside()?;
        store.knowledge_changed()?;
        // Prints and exports do not pile up (best effort: a file in use
        // stays until next time).
        let _ = store.remove_old_files();
        Ok(store)
    }

    /// Another connection to this store, for a worker thread: the key is
    /// taken over, not derived from the passphrase again (a second of
    /// Argon2). Not for a damaged store: nothing works on one but reading.
    pub fn open_again(&self) -> Result<Store> {
        if let Some(damage) = &self.damage {
            return Err(StoreError::Damaged {
                path: self.dir.join(DATABASE_FILE),
                detail: damage.clone(),
            });
        }
        let in_use = backup::hold_in_use(&self.dir)?;
        let conn = Connection::open_with_flags(
            self.dir.join(DATABASE_FILE),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        apply_key(&conn, &self.key)?;
        configure(&conn)?;
        let device = read_device(&conn)?;
        let mut store = Store::with(
            conn,
            &self.dir,
            device,
            self.catalog.clone(),
            self.key.duplicate(),
            in_use,
        );
        store.knowledge_changed()?;
        Ok(store)
    }

    fn with(
        conn: Connection,
        dir: &Path,
        device: Device,
        catalog: Arc<Catalog>,
        key: key::DatabaseKey,
        in_use: std::fs::File,
    ) -> Store {
        Store {
            conn,
            dir: dir.to_path_buf(),
            device,
            catalog,
            answers: None,
            knowledge_seen: None,
            cache: HashMap::new(),
            key,
            damage: None,
            _in_use: in_use,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// This device's automerge actor (hex) and how the change history names
    /// it: the enrolled user and the device's case-number prefix.
    /// Both are read from the database, as another connection (the sync
    /// worker's) may have enrolled the device since this one was opened.
    pub(crate) fn editor(&mut self) -> Result<(String, String)> {
        self.refresh_prefix()?;
        let user = setting(&self.conn, "sync.user")?.filter(|u| !u.is_empty());
        let label = match user {
            Some(user) => format!("{user} ({})", self.device.prefix),
            None => format!("Gerät {}", self.device.prefix),
        };
        Ok((self.device.actor().to_hex_string(), label))
    }

    /// Refuses early what this device's role may not change: the server
    /// would refuse the whole document. A device that is not enrolled is
    /// its own back office.
    pub(crate) fn require(&self, part: Part) -> Result<()> {
        match self.enrolment()?.map(|e| e.role) {
            Some(role) if !role.may_change(part) => Err(StoreError::Forbidden { role, part }),
            _ => Ok(()),
        }
    }

    /// Takes the prefix of case numbers from the database again: another
    /// connection (the sync worker's) may have enrolled the device and
    /// taken the server's prefix since this one was opened.
    pub(crate) fn refresh_prefix(&mut self) -> Result<()> {
        if let Some(prefix) = setting(&self.conn, "device_prefix")? {
            self.device.prefix = prefix;
        }
        Ok(())
    }

    /// Sets the prefix of this device's case numbers (letters, 2 to 5).
    pub fn set_device_prefix(&mut self, prefix: &str) -> Result<()> {
        let prefix = prefix.trim().to_uppercase();
        let valid =
            (2..=5).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_uppercase());
        if !valid {
            return Err(StoreError::Invalid(format!(
                "device prefix {prefix:?}: use 2 to 5 letters A-Z"
            )));
        }
        set_setting(&self.conn, "device_prefix", &prefix)?;
        self.device.prefix = prefix;
        Ok(())
    }

    /// Deletes everything this device holds (`wipe_dir`), on the server's
    /// order. The store is unusable afterwards.
    pub fn wipe(&mut self) -> Result<()> {
        let open = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
        drop(open);
        self.cache.clear();
        wipe_dir(&self.dir)
    }

    /// `PRAGMA integrity_check`, for tests and `sprechtag check`.
    /// "ok", or what is wrong (SQLite's report, or the error it met).
    pub fn integrity_check(&self) -> Result<String> {
        let report: rusqlite::Result<Vec<String>> = self
            .conn
            .prepare("PRAGMA integrity_check(100)")
            .and_then(|mut statement| statement.query_map([], |r| r.get(0))?.collect());
        Ok(match report {
            Ok(lines) => lines.join("\n"),
            Err(e) => e.to_string(),
        })
    }
}

/// Only the owner may list or read the data dir (the database is encrypted,
/// but file names and sizes are nobody else's business either).
pub(crate) fn restrict_to_owner(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| StoreError::io(dir, e))?;
    }
    Ok(())
}

pub(crate) fn apply_key(conn: &Connection, key: &key::DatabaseKey) -> Result<()> {
    conn.execute_batch(&key.pragma())?;
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    Ok(())
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Room for every statement of the hot paths (indexing, sync, lists), so
    // none is prepared again for each case.
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;",
    )?;
    Ok(())
}

fn setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// The device as recorded, without writing anything (a damaged store).
fn read_device(conn: &Connection) -> Result<Device> {
    let id =
        setting(conn, "device_id")?.ok_or_else(|| StoreError::Corrupt("no device id".into()))?;
    Ok(Device {
        id: uuid::Uuid::parse_str(&id)
            .map_err(|_| StoreError::Corrupt(format!("device id {id:?}")))?,
        prefix: setting(conn, "device_prefix")?.unwrap_or_default(),
        actor_suffix: actor_suffix(conn)?,
    })
}

fn actor_suffix(conn: &Connection) -> Result<Option<[u8; 8]>> {
    Ok(setting(conn, "device_actor_suffix")?
        .and_then(|hex| hex::decode(hex).ok())
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok()))
}

/// Gives the device a new actor (its id and eight random bytes) for all
/// changes from now on: after a restore, the server may hold changes this
/// device made after the backup.
pub(crate) fn fork_device_actor(conn: &Connection) -> Result<()> {
    set_setting(
        conn,
        "device_actor_suffix",
        &hex::encode(rand::random::<[u8; 8]>()),
    )
}

fn init_device(conn: &Connection) -> Result<Device> {
    let id = match setting(conn, "device_id")? {
        Some(id) => uuid::Uuid::parse_str(&id)
            .map_err(|_| StoreError::Corrupt(format!("device id {id:?}")))?,
        None => {
            let id = uuid::Uuid::new_v4();
            set_setting(conn, "device_id", &id.to_string())?;
            id
        }
    };
    let prefix = match setting(conn, "device_prefix")? {
        Some(prefix) => prefix,
        None => {
            let prefix = random_prefix();
            set_setting(conn, "device_prefix", &prefix)?;
            prefix
        }
    };
    Ok(Device {
        id,
        prefix,
        actor_suffix: actor_suffix(conn)?,
    })
}

fn random_prefix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..3)
        .map(|_| PREFIX_ALPHABET[rng.random_range(0..PREFIX_ALPHABET.len())] as char)
        .collect()
}

/// Now by the corrected clock (`sprechtag_schemas::clock`).
pub(crate) fn now_rfc3339() -> String {
    sprechtag_schemas::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
