//! The embedded storage: one SQLite file in WAL mode with
//! `synchronous=FULL`, so that a committed sync is on disk before the
//! server acknowledges it. One writer at a time; device lookups use a
//! second connection and do not wait for a running sync.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use serde::Serialize;

use super::{
    Device, DocumentMeta, DocumentWrite, ForwardingRecord, MailOutcome, MailPurpose, NewDevice,
    QueuedMail, Result, Storage, StorageError, StoredTombstone, SyncTransaction,
};
use crate::audit::{Entry, Filter, NewEntry};

pub const DATABASE_FILE: &str = "sprechtag-server.db";

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                StorageError::Damaged(e.to_string())
            }
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StorageError::Unavailable(e.to_string())
            }
            _ => StorageError::Database(e.to_string()),
        }
    }
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            r#"
CREATE TABLE devices (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    user            TEXT NOT NULL,
    role            TEXT NOT NULL,
    department      TEXT NOT NULL,
    prefix          TEXT NOT NULL UNIQUE,
    token_hash      BLOB UNIQUE,
    code_hash       BLOB UNIQUE,
    code_expires_at INTEGER,
    created_at      TEXT NOT NULL,
    last_seen       TEXT,
    revoked_at      TEXT
) STRICT;

CREATE TABLE documents (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    department  TEXT,
    snapshot    BLOB NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    heads       BLOB NOT NULL,
    seq         INTEGER NOT NULL
) STRICT;
CREATE INDEX documents_by_seq ON documents (seq);
CREATE INDEX documents_by_department ON documents (department, seq);

CREATE TABLE document_chunks (
    id     INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    bytes  BLOB NOT NULL
) STRICT;
CREATE INDEX document_chunks_by_doc ON document_chunks (doc_id, id);

-- What each device is known to hold: the server never resends it.
CREATE TABLE device_documents (
    device_id TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    heads     BLOB NOT NULL,
    PRIMARY KEY (device_id, doc_id)
) STRICT, WITHOUT ROWID;

-- Sent in a response that the device has not acknowledged yet.
CREATE TABLE device_pending (
    device_id TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    heads     BLOB NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (device_id, doc_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
INSERT INTO counters (name, value) VALUES ('seq', 0);
"#,
        ),
        // The summary of a case as of its stored version, sent with it to
        // devices that have none of it (`CaseSummary::encode`).
        M::up("ALTER TABLE documents ADD COLUMN summary BLOB;"),
        // The automerge actor a device registered at enrolment (32 hex
        // digits): changes are taken only from actors that begin with one.
        M::up(
            "ALTER TABLE devices ADD COLUMN actor TEXT;
             CREATE UNIQUE INDEX devices_by_actor ON devices (actor) WHERE actor IS NOT NULL;",
        ),
        // The audit trail, a hash chain (`audit.rs`).
        M::up(
            "CREATE TABLE audit (
                 seq       INTEGER PRIMARY KEY,
                 time      TEXT NOT NULL,
                 event     TEXT NOT NULL,
                 device_id TEXT,
                 user      TEXT,
                 case_ids  TEXT NOT NULL,
                 detail    TEXT NOT NULL,
                 previous  TEXT NOT NULL,
                 hash      TEXT NOT NULL
             ) STRICT;
             CREATE INDEX audit_by_device ON audit (device_id, seq);",
        ),
        // What is left of erased documents: no personal data. The erased
        // document's row stays as kind 'erased' without bytes, so that its
        // sequence number tells devices to drop their copies.
        M::up(
            "CREATE TABLE tombstones (
                 doc_id    TEXT PRIMARY KEY,
                 number    TEXT NOT NULL,
                 erased_at TEXT NOT NULL,
                 erased_by TEXT NOT NULL,
                 reason    TEXT NOT NULL,
                 successor TEXT
             ) STRICT;
             -- `device revoke --wipe`: ordered, and delivered at the
             -- device's next contact.
             ALTER TABLE devices ADD COLUMN wipe_ordered_at TEXT;
             ALTER TABLE devices ADD COLUMN wipe_delivered_at TEXT;",
        ),
        // Every sync walks the changed documents and reads their
        // bookkeeping. Those columns lie behind the saved document in the
        // row: reading them followed its overflow pages, each decrypted on
        // an encrypted server — a third of the server's time with 50
        // laptops. Covering indexes answer both without the rows.
        M::up(
            "CREATE INDEX documents_changed ON documents (department, seq, id);
             CREATE INDEX documents_changed_all ON documents (seq, id);
             CREATE INDEX documents_meta ON documents (id, kind, department, seq, chunk_count, heads);
             DROP INDEX documents_by_seq;
             DROP INDEX documents_by_department;",
        ),
        // Who this server is and which history it serves: `epoch` changes
        // when the database is restored from a backup, and devices that
        // see a new one sync everything again (`restore`).
        M::up(
            "CREATE TABLE identity (
                 name  TEXT PRIMARY KEY,
                 value TEXT NOT NULL
             ) STRICT;
             INSERT INTO identity (name, value) VALUES
                 ('server_id', lower(hex(randomblob(16)))),
                 ('epoch', lower(hex(randomblob(16))));",
        ),
        // E-mail to the offices (`mail`): the forwardings the server knows
        // of, for reminders and digests, and the queue of mails to send.
        // Neither holds citizen data: a mail's text is written when it is
        // sent, from the document as it is then.
        M::up(
            "CREATE TABLE forwardings (
                 doc_id       TEXT NOT NULL,
                 request_id   TEXT NOT NULL,
                 kind         TEXT NOT NULL,
                 department   TEXT,
                 office_id    TEXT NOT NULL,
                 forwarded_at TEXT NOT NULL,
                 due          TEXT NOT NULL,
                 closed       INTEGER NOT NULL,
                 PRIMARY KEY (doc_id, request_id)
             ) STRICT;
             CREATE INDEX forwardings_open ON forwardings (closed, due);
             CREATE TABLE mail_queue (
                 id              INTEGER PRIMARY KEY,
                 key             TEXT NOT NULL UNIQUE,
                 purpose         TEXT NOT NULL,
                 doc_id          TEXT NOT NULL DEFAULT '',
                 request_id      TEXT NOT NULL DEFAULT '',
                 department      TEXT,
                 queued_at       TEXT NOT NULL,
                 next_attempt_at TEXT,
                 attempts        INTEGER NOT NULL DEFAULT 0,
                 last_error      TEXT,
                 sent_at         TEXT
             ) STRICT;
             CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at)
                 WHERE next_attempt_at IS NOT NULL;
             CREATE INDEX mail_queue_by_doc ON mail_queue (doc_id);",
        ),
    ])
}

pub struct SqliteStorage {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    path: std::path::PathBuf,
    identity: super::Identity,
}

fn read_identity(conn: &Connection) -> Result<super::Identity> {
    let value = |name: &str| -> Result<String> {
        Ok(conn
            .prepare("SELECT value FROM identity WHERE name = ?1")?
            .query_row([name], |r| r.get(0))?)
    };
    Ok(super::Identity {
        server_id: value("server_id")?,
        epoch: value("epoch")?,
    })
}

/// SQLite's and SQLCipher's page size here: a database file is a whole
/// number of pages.
const PAGE_BYTES: u64 = 4096;
/// Restores move the database they replace here, never deleting it.
pub const QUARANTINE_DIR: &str = "quarantine";

/// What a restore did.
#[derive(Debug, Serialize)]
pub struct Restored {
    /// Where the database it replaced went.
    pub quarantined: Option<std::path::PathBuf>,
    pub carried: CarriedOver,
}

/// What a restore took over from the database it replaced.
#[derive(Debug, Default, Serialize)]
pub struct CarriedOver {
    /// Devices enrolled after the backup.
    pub devices_added: usize,
    /// Devices revoked after the backup.
    pub revocations: usize,
    /// Cases erased after the backup, erased again.
    pub erasures: usize,
    /// Why not everything could be taken over.
    pub note: Option<String>,
}

/// Refuses what must not be taken for a fresh deployment: an empty or cut
/// short database file, or a write-ahead log without its database.
fn check_files(dir: &Path) -> Result<()> {
    let path = dir.join(DATABASE_FILE);
    let log = dir.join(format!("{DATABASE_FILE}-wal"));
    let damaged = |detail: String| {
        StorageError::Damaged(format!(
            "{}: {detail}; restore a backup (sprechtag-server restore) or move the data dir away \
             to start a new deployment",
            path.display()
        ))
    };
    match std::fs::metadata(&path) {
        Ok(meta) if meta.len() == 0 => Err(damaged("the file is empty".into())),
        Ok(meta) if meta.len() % PAGE_BYTES != 0 => Err(damaged(format!(
            "the file was cut short ({} bytes, not whole pages)",
            meta.len()
        ))),
        Ok(_) => Ok(()),
        Err(_) if log.exists() => Err(damaged(format!(
            "the file is missing beside its log {}",
            log.display()
        ))),
        Err(_) => Ok(()),
    }
}

/// How long the check at start may take (a county's database: seconds);
/// the rest is left to `sprechtag-server check`, and a damaged page met
/// later turns `/health` to 503.
const QUICK_CHECK_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `PRAGMA quick_check`, stopped after `QUICK_CHECK_LIMIT`: `None` if
/// sound (or out of time without a finding), else what is wrong.
fn quick_check(conn: &Connection) -> Option<String> {
    let started = std::time::Instant::now();
    let _ = conn.progress_handler(10_000, Some(move || started.elapsed() > QUICK_CHECK_LIMIT));
    let report: rusqlite::Result<Vec<String>> =
        conn.prepare("PRAGMA quick_check(20)")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect()
            });
    let _ = conn.progress_handler(0, None::<fn() -> bool>);
    match report {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => None,
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) => {
            tracing::warn!(
                "the integrity check at start ran out of time; run `sprechtag-server check`"
            );
            None
        }
        Ok(lines) => Some(lines.join("; ")),
        Err(e) => Some(e.to_string()),
    }
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStorage")
    }
}

impl SqliteStorage {
    /// Opens (or makes) the database in `dir`, unencrypted.
    pub fn open(dir: &Path) -> Result<SqliteStorage> {
        SqliteStorage::open_with_key(dir, None)
    }

    /// Opens (or makes) the database in `dir`; with `key`, the whole file
    /// is encrypted (SQLCipher, as on the laptops). The dir is made 0700
    /// and the database, its log and index 0600 either way.
    pub fn open_with_key(dir: &Path, key: Option<&DatabaseKey>) -> Result<SqliteStorage> {
        sprechtag_schemas::sqlite::ready();
        let io = |e: std::io::Error| StorageError::Database(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        restrict(dir, 0o700).map_err(io)?;
        check_files(dir)?;
        let path = dir.join(DATABASE_FILE);
        let open = || -> Result<Connection> {
            let conn = Connection::open(&path)?;
            if let Some(key) = key {
                conn.execute_batch(&key.pragma())?;
            }
            // The first read decrypts page 1: a wrong key fails here.
            match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            }) {
                Ok(_) => Ok(conn),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::NotADatabase =>
                {
                    Err(StorageError::Database(format!(
                        "{} cannot be read: {}",
                        path.display(),
                        if key.is_some() {
                            "the database key does not fit (or the database is not encrypted)"
                        } else {
                            "it is encrypted (give --db-key-file) or damaged"
                        }
                    )))
                }
                Err(e) => Err(e.into()),
            }
        };
        let mut writer = open()?;
        // Before the log exists: SQLite gives it the database's mode.
        restrict(&path, 0o600).map_err(io)?;
        configure(&writer)?;
        // Refuses to serve from damaged data (a few seconds for a county's
        // database; the full check is `sprechtag-server check`).
        if let Some(damage) = quick_check(&writer) {
            return Err(StorageError::Damaged(format!(
                "{} failed its integrity check: {damage}; restore a backup \
                 (sprechtag-server restore)",
                path.display()
            )));
        }
        migrations()
            .to_latest(&mut writer)
            .map_err(|e| StorageError::Database(e.to_string()))?;
        for suffix in ["-wal", "-shm"] {
            let file = dir.join(format!("{DATABASE_FILE}{suffix}"));
            if file.exists() {
                restrict(&file, 0o600).map_err(io)?;
            }
        }
        let reader = open()?;
        configure(&reader)?;
        // Fixed while the database is open (a restore changes it with the
        // server stopped): read once, not at every sync.
        let identity = read_identity(&reader)?;
        Ok(SqliteStorage {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            path,
            identity,
        })
    }

    /// `PRAGMA integrity_check` in full: "ok" or what is wrong.
    pub fn integrity_check(&self) -> Result<String> {
        let conn = self.reader();
        let mut statement = conn.prepare("PRAGMA integrity_check(100)")?;
        let lines = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(lines.join("\n"))
    }

    /// Writes a consistent copy of the database to `out` while the server
    /// runs (in one read transaction: writers go on meanwhile), encrypted
    /// with the same key (plain if the database is plain). `out` must not
    /// exist. Returns the copy's size in bytes.
    pub fn backup(&self, out: &Path, key: Option<&DatabaseKey>) -> Result<u64> {
        let fail = |why: String| StorageError::Database(why);
        if out.exists() {
            return Err(fail(format!(
                "{} exists; nothing was written",
                out.display()
            )));
        }
        let dir = match out.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let staged = tempfile::Builder::new()
            .prefix(".sprechtag-backup-")
            .tempfile_in(&dir)
            .map_err(|e| fail(format!("{}: {e}", dir.display())))?
            .into_temp_path();
        // SQLCipher exports into an empty file only.
        std::fs::remove_file(&staged).map_err(|e| fail(e.to_string()))?;
        let staged_text = staged
            .to_str()
            .ok_or_else(|| fail(format!("{} is not UTF-8", staged.display())))?;
        let conn = self.reader();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let key_literal = match key {
            Some(key) => format!("\"x'{}'\"", key.to_hex().as_str()),
            None => "''".to_string(),
        };
        conn.execute(
            &format!("ATTACH DATABASE ?1 AS backup KEY {key_literal}"),
            [staged_text],
        )?;
        let exported = conn.execute_batch(&format!(
            "BEGIN; SELECT sqlcipher_export('backup'); PRAGMA backup.user_version = {version}; COMMIT;"
        ));
        if exported.is_err() {
            let _ = conn.execute_batch("ROLLBACK;");
        }
        let detached = conn.execute_batch("DETACH DATABASE backup;");
        drop(conn);
        exported?;
        detached?;
        restrict(&staged, 0o600).map_err(|e| fail(e.to_string()))?;
        std::fs::File::open(&staged)
            .and_then(|f| f.sync_all())
            .map_err(|e| fail(e.to_string()))?;
        // Not over a file made meanwhile.
        std::fs::hard_link(&staged, out).map_err(|e| fail(format!("{}: {e}", out.display())))?;
        let size = std::fs::metadata(out)
            .map_err(|e| fail(e.to_string()))?
            .len();
        Ok(size)
    }

    /// Puts the backup `file` in place of the database in `dir` (the server
    /// must be stopped): the copy is checked first (it opens with `key`,
    /// passes the integrity check), the database it replaces is moved to
    /// `dir/quarantine/<time>/`, and the restored database gets a new epoch
    /// so that every device syncs everything again — what devices sent
    /// after the backup comes back. Returns where the old database went.
    pub fn restore(dir: &Path, file: &Path, key: Option<&DatabaseKey>) -> Result<Restored> {
        sprechtag_schemas::sqlite::ready();
        let fail = |why: String| StorageError::Database(why);
        let staged = dir.join(format!("{DATABASE_FILE}.restoring"));
        let _ = std::fs::remove_file(&staged);
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
        std::fs::copy(file, &staged).map_err(|e| fail(format!("{}: {e}", file.display())))?;
        let checked = (|| -> Result<()> {
            let conn = Connection::open(&staged)?;
            if let Some(key) = key {
                conn.execute_batch(&key.pragma())?;
            }
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| {
                fail(format!(
                    "{} cannot be read with this database key: {e}",
                    file.display()
                ))
            })?;
            if let Some(damage) = quick_check(&conn) {
                return Err(fail(format!("{} is damaged: {damage}", file.display())));
            }
            Ok(())
        })();
        if let Err(e) = checked {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
        let moved = [
            DATABASE_FILE.to_string(),
            format!("{DATABASE_FILE}-wal"),
            format!("{DATABASE_FILE}-shm"),
        ]
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| path.exists())
        .collect::<Vec<_>>();
        let quarantined = if moved.is_empty() {
            None
        } else {
            let stamp = chrono::Utc::now().format("%Y-%m-%dT%H%M%SZ").to_string();
            let target = dir.join(QUARANTINE_DIR).join(stamp);
            std::fs::create_dir_all(&target).map_err(|e| fail(e.to_string()))?;
            restrict(&dir.join(QUARANTINE_DIR), 0o700).map_err(|e| fail(e.to_string()))?;
            for path in moved {
                if let Some(name) = path.file_name() {
                    std::fs::rename(&path, target.join(name)).map_err(|e| fail(e.to_string()))?;
                }
            }
            Some(target)
        };
        std::fs::rename(&staged, dir.join(DATABASE_FILE)).map_err(|e| fail(e.to_string()))?;
        // Migrations (a backup of an older release) and the new epoch.
        let storage = SqliteStorage::open_with_key(dir, key)?;
        storage.writer().execute(
            "UPDATE identity SET value = lower(hex(randomblob(16))) WHERE name = 'epoch'",
            [],
        )?;
        let carried = match &quarantined {
            Some(old) => storage.carry_over(&old.join(DATABASE_FILE), key),
            None => CarriedOver::default(),
        };
        Ok(Restored {
            quarantined,
            carried,
        })
    }

    /// Takes from the database a restore replaced — if it can still be
    /// read — what must not go back to the backup's state: devices enrolled
    /// since (their laptops keep syncing), revocations and wipe orders
    /// since (a revoked laptop stays revoked), and erasures since (an
    /// erased case stays erased). Best effort: a damaged old database
    /// gives what could be read, and the restore says so.
    fn carry_over(&self, old: &Path, key: Option<&DatabaseKey>) -> CarriedOver {
        let mut carried = CarriedOver::default();
        let Some(old_text) = old.to_str() else {
            carried.note = Some(format!("{} is not UTF-8", old.display()));
            return carried;
        };
        let key_literal = match key {
            Some(key) => format!("\"x'{}'\"", key.to_hex().as_str()),
            None => "''".to_string(),
        };
        let outcome = (|| -> Result<()> {
            let conn = self.writer();
            conn.execute(
                &format!("ATTACH DATABASE ?1 AS old KEY {key_literal}"),
                [old_text],
            )?;
            let copied = (|| -> Result<()> {
                conn.execute_batch("BEGIN IMMEDIATE")?;
                carried.devices_added = conn.execute(
                    "INSERT OR IGNORE INTO devices
                         (id, name, user, role, department, prefix, token_hash, code_hash,
                          code_expires_at, created_at, last_seen, revoked_at, actor,
                          wipe_ordered_at, wipe_delivered_at)
                     SELECT id, name, user, role, department, prefix, token_hash, code_hash,
                            code_expires_at, created_at, last_seen, revoked_at, actor,
                            wipe_ordered_at, wipe_delivered_at
                     FROM old.devices",
                    [],
                )?;
                carried.revocations = conn.execute(
                    "UPDATE devices SET
                         revoked_at = o.revoked_at,
                         wipe_ordered_at = coalesce(devices.wipe_ordered_at, o.wipe_ordered_at),
                         wipe_delivered_at = coalesce(devices.wipe_delivered_at, o.wipe_delivered_at)
                     FROM old.devices AS o
                     WHERE o.id = devices.id AND o.revoked_at IS NOT NULL
                       AND devices.revoked_at IS NULL",
                    [],
                )?;
                conn.execute_batch("COMMIT")?;
                Ok(())
            })();
            if copied.is_err() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            let tombstones = copied.and_then(|()| {
                let mut statement = conn.prepare(&format!(
                    "SELECT {TOMBSTONE_COLUMNS} FROM old.tombstones
                     WHERE doc_id NOT IN (SELECT doc_id FROM main.tombstones)"
                ))?;
                let rows = statement
                    .query_map([], tombstone_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            });
            let _ = conn.execute_batch("DETACH DATABASE old");
            drop(conn);
            for tombstone in tombstones? {
                let department = self.document_department(&tombstone.doc_id)?.flatten();
                let mut tx = self.begin()?;
                tx.erase_document(department.as_deref(), &tombstone)?;
                tx.commit()?;
                carried.erasures += 1;
            }
            if carried.erasures > 0 {
                self.purge()?;
            }
            Ok(())
        })();
        if let Err(e) = outcome {
            carried.note = Some(format!(
                "{} could not be read in full ({e}): devices enrolled or revoked and cases \
                 erased since the backup must be checked by hand",
                old.display()
            ));
        }
        carried
    }

    /// Encrypts the plain database in `dir` with `key`: an encrypted copy
    /// is written beside it (`sqlcipher_export`), checked, and put in its
    /// place; the plain file is kept as `<database>.plaintext` for the
    /// administrator to check and destroy (returned). The server must be
    /// stopped.
    pub fn encrypt_in_place(dir: &Path, key: &DatabaseKey) -> Result<std::path::PathBuf> {
        sprechtag_schemas::sqlite::ready();
        let fail = |why: String| StorageError::Database(why);
        let path = dir.join(DATABASE_FILE);
        if !path.exists() {
            return Err(fail(format!("{} does not exist", path.display())));
        }
        let staged = dir.join(format!("{DATABASE_FILE}.encrypting"));
        let kept = dir.join(format!("{DATABASE_FILE}.plaintext"));
        if kept.exists() {
            return Err(fail(format!(
                "{} exists from an earlier run; remove it first",
                kept.display()
            )));
        }
        let _ = std::fs::remove_file(&staged);
        let plain = Connection::open(&path)?;
        let version: i64 = match plain.query_row("PRAGMA user_version", [], |r| r.get(0)) {
            Ok(version) => version,
            Err(_) => {
                return Err(fail(format!(
                    "{} cannot be read as a plain database: encrypted already, or damaged",
                    path.display()
                )));
            }
        };
        // Nobody else may write meanwhile: the server must be stopped.
        plain.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;")?;
        plain.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let staged_text = staged
            .to_str()
            .ok_or_else(|| fail(format!("{} is not UTF-8", staged.display())))?;
        plain.execute(
            &format!(
                "ATTACH DATABASE ?1 AS encrypted KEY \"x'{}'\"",
                key.to_hex().as_str()
            ),
            [staged_text],
        )?;
        plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
        plain.execute_batch(&format!("PRAGMA encrypted.user_version = {version};"))?;
        plain.execute_batch("DETACH DATABASE encrypted;")?;
        let count = |conn: &Connection| -> Result<(i64, i64, i64)> {
            Ok(conn.query_row(
                "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM devices),
                        (SELECT count(*) FROM audit)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        };
        let before = count(&plain)?;
        drop(plain);
        {
            let encrypted = Connection::open(&staged)?;
            encrypted.execute_batch(&key.pragma())?;
            if count(&encrypted)? != before {
                return Err(fail(
                    "the encrypted copy differs; nothing was replaced".into(),
                ));
            }
        }
        restrict(&staged, 0o600).map_err(|e| fail(e.to_string()))?;
        std::fs::rename(&path, &kept).map_err(|e| fail(e.to_string()))?;
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("{DATABASE_FILE}{suffix}")));
        }
        std::fs::rename(&staged, &path).map_err(|e| fail(e.to_string()))?;
        Ok(kept)
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the
        // transaction rolls back), so a poisoned lock is safe to reuse.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The reading connection, for moving everything elsewhere
    /// (`transfer.rs`).
    pub(super) fn read_connection(&self) -> MutexGuard<'_, Connection> {
        self.reader()
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The key the server database is encrypted with: 32 bytes, from a file
/// only the server's user may read.
pub struct DatabaseKey(zeroize::Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey(<redacted>)")
    }
}

impl DatabaseKey {
    /// Reads a key file: 32 bytes, or 64 hex digits. Refused if anyone but
    /// its owner may read or write it.
    pub fn read(path: &Path) -> Result<DatabaseKey> {
        let fail = |why: String| StorageError::Database(format!("{}: {why}", path.display()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| fail(e.to_string()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(fail(format!(
                    "the database key must be readable by its owner only (mode {:o}; chmod 600)",
                    mode & 0o777
                )));
            }
        }
        let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| fail(e.to_string()))?);
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        let text = std::str::from_utf8(&bytes).map(str::trim).unwrap_or("");
        if text.len() == 64 && hex::decode_to_slice(text, key.as_mut_slice()).is_ok() {
            return Ok(DatabaseKey(key));
        }
        if bytes.len() == 32 {
            key.copy_from_slice(&bytes);
            return Ok(DatabaseKey(key));
        }
        Err(fail(
            "a database key is 32 bytes or 64 hex digits (e.g. `head -c 32 /dev/urandom`)".into(),
        ))
    }

    /// A fresh random key (tests, and `sprechtag-server key`).
    pub fn generate() -> DatabaseKey {
        use rand::RngCore;
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut_slice());
        DatabaseKey(key)
    }

    /// The key as 64 hex digits, for a key file.
    pub fn to_hex(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(hex::encode(self.0.as_slice()))
    }

    /// `PRAGMA key` with the raw key (no key derivation: it is random).
    pub fn pragma(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(format!(
            "PRAGMA key = \"x'{}'\"; PRAGMA cipher_log_level = NONE;",
            self.to_hex().as_str()
        ))
    }
}

fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    let _ = (path, mode);
    Ok(())
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.set_prepared_statement_cache_capacity(64);
    // A page cache of 32 MiB per connection (SQLite's default is 2 MiB):
    // with the database encrypted every page read into the cache is
    // decrypted and its HMAC-SHA512 checked, and a department's documents
    // and its devices' holdings outgrow 2 MiB — 50 laptops of one
    // department spent 43 % of the server's CPU in SHA-512 re-reading
    // evicted pages.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA cache_size = -32768;",
    )?;
    Ok(())
}

/// The kind of a document row that is a tombstone.
const ERASED_KIND: &str = "erased";

fn tombstone_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredTombstone> {
    Ok(StoredTombstone {
        doc_id: row.get(0)?,
        number: row.get(1)?,
        erased_at: row.get(2)?,
        erased_by: row.get(3)?,
        reason: row.get(4)?,
        successor: row.get(5)?,
    })
}

const TOMBSTONE_COLUMNS: &str = "doc_id, number, erased_at, erased_by, reason, successor";

/// Appends `new` to the audit chain through `conn` (inside the caller's
/// transaction: a sync's entry is committed with the sync).
fn append_audit(conn: &Connection, new: NewEntry) -> Result<Entry> {
    let last: Option<(String, u64)> = conn
        .prepare_cached("SELECT hash, seq FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let entry = Entry::following(last.as_ref().map(|(h, s)| (h.as_str(), *s)), now(), new);
    conn.prepare_cached(
        "INSERT INTO audit (seq, time, event, device_id, user, case_ids, detail, previous, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        entry.seq,
        entry.time,
        entry.event,
        entry.device_id,
        entry.user,
        serde_json::Value::from(entry.case_ids.clone()).to_string(),
        entry.detail.to_string(),
        entry.previous,
        entry.hash,
    ])?;
    Ok(entry)
}

fn audit_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    fn json<T: serde::de::DeserializeOwned>(index: usize, text: &str) -> rusqlite::Result<T> {
        serde_json::from_str(text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        })
    }
    Ok(Entry {
        seq: row.get(0)?,
        time: row.get(1)?,
        event: row.get(2)?,
        device_id: row.get(3)?,
        user: row.get(4)?,
        case_ids: json(5, &row.get::<_, String>(5)?)?,
        detail: json(6, &row.get::<_, String>(6)?)?,
        previous: row.get(7)?,
        hash: row.get(8)?,
    })
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

const DEVICE_COLUMNS: &str = "id, name, user, role, department, prefix, token_hash IS NOT NULL, created_at, last_seen, revoked_at, actor, wipe_ordered_at, wipe_delivered_at";

fn device_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    let role: String = row.get(3)?;
    Ok(Device {
        id: row.get(0)?,
        name: row.get(1)?,
        user: row.get(2)?,
        // A role this build does not know is a damaged row, not a caseworker.
        role: role.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
        })?,
        department: row.get(4)?,
        prefix: row.get(5)?,
        enrolled: row.get(6)?,
        created_at: row.get(7)?,
        last_seen: row.get(8)?,
        revoked_at: row.get(9)?,
        actor: row.get(10)?,
        wipe_ordered_at: row.get(11)?,
        wipe_delivered_at: row.get(12)?,
    })
}

impl Storage for SqliteStorage {
    fn insert_device(
        &self,
        new: &NewDevice,
        prefix: &str,
        code_hash: &[u8],
        expires_at: super::Time,
    ) -> Result<Option<Device>> {
        let conn = self.writer();
        let id = uuid::Uuid::new_v4().to_string();
        let inserted = conn.execute(
            "INSERT INTO devices (id, name, user, role, department, prefix, code_hash,
                                  code_expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (prefix) DO NOTHING",
            params![
                id,
                new.name,
                new.user,
                new.role.as_str(),
                new.department,
                prefix,
                code_hash,
                expires_at.timestamp(),
                now()
            ],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        Ok(Some(conn.query_row(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
            [&id],
            device_row,
        )?))
    }

    fn redeem_code(
        &self,
        code_hash: &[u8],
        token_hash: &[u8],
        actor: Option<&str>,
        now: super::Time,
    ) -> Result<Option<Device>> {
        let now_secs = now.timestamp();
        let conn = self.writer();
        if let Some(actor) = actor {
            let taken: bool = conn
                .query_row("SELECT 1 FROM devices WHERE actor = ?1", [actor], |_| {
                    Ok(true)
                })
                .optional()?
                .unwrap_or(false);
            if taken {
                return Err(StorageError::Conflict(format!(
                    "the actor {actor} belongs to another device"
                )));
            }
        }
        let id: Option<String> = conn
            .query_row(
                "UPDATE devices SET token_hash = ?2, code_hash = NULL, code_expires_at = NULL,
                                    actor = ?4
                 WHERE code_hash = ?1 AND code_expires_at >= ?3 AND token_hash IS NULL
                       -- Issued by a clock that was ahead (and has been set
                       -- back since): not valid for longer than a code is.
                       AND code_expires_at <= ?3 + ?5
                       AND revoked_at IS NULL
                 RETURNING id",
                params![
                    code_hash,
                    token_hash,
                    now_secs,
                    actor,
                    super::CODE_VALIDITY_SECS
                ],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else { return Ok(None) };
        Ok(Some(conn.query_row(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
            [&id],
            device_row,
        )?))
    }

    fn device_by_token(&self, token_hash: &[u8]) -> Result<Option<Device>> {
        Ok(self
            .reader()
            .prepare_cached(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = ?1"
            ))?
            .query_row([token_hash], device_row)
            .optional()?)
    }

    fn devices(&self) -> Result<Vec<Device>> {
        let conn = self.reader();
        let mut statement = conn.prepare(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY created_at, id"
        ))?;
        let devices = statement
            .query_map([], device_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(devices)
    }

    fn revoke_device(&self, id: &str, wipe: bool) -> Result<bool> {
        let changed = self
            .writer()
            .prepare_cached(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2), code_hash = NULL,
                    wipe_ordered_at = CASE WHEN ?3 THEN coalesce(wipe_ordered_at, ?2)
                                           ELSE wipe_ordered_at END
                 WHERE id = ?1",
            )?
            .execute(params![id, now(), wipe])?;
        Ok(changed == 1)
    }

    fn wipe_delivered(&self, id: &str) -> Result<()> {
        self.writer()
            .prepare_cached(
                "UPDATE devices SET wipe_delivered_at = coalesce(wipe_delivered_at, ?2)
                 WHERE id = ?1",
            )?
            .execute(params![id, now()])?;
        Ok(())
    }

    fn append_audit(&self, entry: NewEntry) -> Result<Entry> {
        let conn = self.writer();
        let tx = conn.unchecked_transaction()?;
        let entry = append_audit(&tx, entry)?;
        tx.commit()?;
        Ok(entry)
    }

    fn audit_entries(&self, filter: &Filter) -> Result<Vec<Entry>> {
        let since = filter.since.clone().unwrap_or_default();
        let conn = self.reader();
        let mut statement = conn.prepare(
            "SELECT seq, time, event, device_id, user, case_ids, detail, previous, hash
             FROM audit
             WHERE time >= ?1
               AND (?2 IS NULL OR device_id = ?2)
               AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(audit.case_ids)
                                          WHERE value = ?3))
             ORDER BY seq",
        )?;
        let entries = statement
            .query_map(params![since, filter.device_id, filter.case_id], audit_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(entries)
    }

    fn begin(&self) -> Result<Box<dyn SyncTransaction + '_>> {
        let conn = self.writer();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteTransaction {
            conn,
            committed: false,
        }))
    }

    fn document_department(&self, id: &str) -> Result<Option<Option<String>>> {
        Ok(self
            .reader()
            .prepare_cached("SELECT department FROM documents WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    fn case_summaries(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let conn = self.reader();
        let mut statement = conn.prepare(
            "SELECT id, summary FROM documents WHERE kind = 'case' AND summary IS NOT NULL
             ORDER BY seq",
        )?;
        let rows = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn tombstones(&self) -> Result<Vec<StoredTombstone>> {
        let conn = self.reader();
        let mut statement = conn.prepare(&format!(
            "SELECT {TOMBSTONE_COLUMNS} FROM tombstones ORDER BY erased_at, doc_id"
        ))?;
        let rows = statement
            .query_map([], tombstone_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn identity(&self) -> Result<super::Identity> {
        Ok(self.identity.clone())
    }

    fn identity_value(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .reader()
            .prepare_cached("SELECT value FROM identity WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?)
    }

    fn settle_identity(&self, name: &str, value: &str) -> Result<String> {
        let conn = self.writer();
        conn.prepare_cached("INSERT OR IGNORE INTO identity (name, value) VALUES (?1, ?2)")?
            .execute([name, value])?;
        Ok(conn
            .prepare_cached("SELECT value FROM identity WHERE name = ?1")?
            .query_row([name], |r| r.get(0))?)
    }

    fn location(&self) -> String {
        format!("SQLite {}", self.path.display())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn schema_version(&self) -> Result<i64> {
        Ok(self
            .reader()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn figures(&self) -> Result<super::StorageFigures> {
        let conn = self.reader();
        let (documents, devices_active): (u64, u64) = conn.query_row(
            "SELECT (SELECT count(*) FROM documents),
                    (SELECT count(*) FROM devices WHERE revoked_at IS NULL AND token_hash IS NOT NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        drop(conn);
        let size = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        Ok(super::StorageFigures {
            documents,
            devices_active,
            database_bytes: size(&self.path) + size(Path::new(&wal)),
        })
    }

    fn mail_due(&self, now: &str, limit: usize) -> Result<Vec<QueuedMail>> {
        let conn = self.reader();
        let mut statement = conn.prepare_cached(
            "SELECT id, purpose, doc_id, request_id, department, attempts, last_error
             FROM mail_queue WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, id LIMIT ?2",
        )?;
        let rows = statement
            .query_map(
                params![now, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    let purpose: String = r.get(1)?;
                    Ok((
                        purpose,
                        QueuedMail {
                            id: r.get(0)?,
                            purpose: MailPurpose::Forwarding,
                            doc_id: r.get(2)?,
                            request_id: r.get(3)?,
                            department: r.get(4)?,
                            attempts: r.get(5)?,
                            last_error: r.get(6)?,
                        },
                    ))
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(purpose, mail)| {
                Some(QueuedMail {
                    purpose: MailPurpose::from_name(&purpose)?,
                    ..mail
                })
            })
            .collect())
    }

    fn mail_tried(&self, id: i64, outcome: &MailOutcome) -> Result<()> {
        let conn = self.writer();
        match outcome {
            MailOutcome::Sent(at) => conn.execute(
                "UPDATE mail_queue SET sent_at = ?2, next_attempt_at = NULL,
                     attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                params![id, at],
            )?,
            MailOutcome::Failed { error, retry_at } => conn.execute(
                "UPDATE mail_queue SET next_attempt_at = ?2, attempts = attempts + 1,
                     last_error = ?3 WHERE id = ?1",
                params![id, retry_at, error],
            )?,
        };
        Ok(())
    }

    fn queue_mail(
        &self,
        key: &str,
        purpose: MailPurpose,
        forwarding: Option<(&str, &str)>,
        department: Option<&str>,
        now: &str,
    ) -> Result<bool> {
        let (doc_id, request_id) = forwarding.unwrap_or(("", ""));
        let added = self.writer().execute(
            "INSERT INTO mail_queue (key, purpose, doc_id, request_id, department, queued_at,
                 next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (key) DO NOTHING",
            params![key, purpose.as_str(), doc_id, request_id, department, now],
        )?;
        Ok(added == 1)
    }

    fn open_forwardings(&self) -> Result<Vec<ForwardingRecord>> {
        let conn = self.reader();
        let mut statement = conn.prepare_cached(
            "SELECT doc_id, request_id, kind, department, office_id, forwarded_at, due, closed
             FROM forwardings WHERE closed = 0 ORDER BY due, doc_id, request_id",
        )?;
        let rows = statement
            .query_map([], |r| {
                Ok(ForwardingRecord {
                    doc_id: r.get(0)?,
                    request_id: r.get(1)?,
                    kind: r.get(2)?,
                    department: r.get(3)?,
                    office_id: r.get(4)?,
                    forwarded_at: r.get(5)?,
                    due: r.get(6)?,
                    closed: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn purge(&self) -> Result<()> {
        // `secure_delete` zeroed the freed pages in the transaction; the
        // log still holds older copies of them until it is checkpointed
        // and emptied. A reader in the middle of a query makes the
        // checkpoint give way: try again shortly.
        let conn = self.writer();
        for _ in 0..50 {
            let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Err(StorageError::Database(
            "the write-ahead log could not be emptied: readers kept it busy".into(),
        ))
    }
}

struct SqliteTransaction<'a> {
    conn: MutexGuard<'a, Connection>,
    committed: bool,
}

impl Drop for SqliteTransaction<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl SqliteTransaction<'_> {
    /// Ids of the documents changed after `cursor` in `scope` (all if
    /// `None`), by sequence: read from the covering indexes alone.
    fn changed_ids_after(
        &mut self,
        scope: Option<&str>,
        cursor: super::Seq,
        limit: usize,
    ) -> Result<Vec<String>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match scope {
            // The department's documents and the knowledge base, which
            // belongs to no department and goes to every device.
            Some(department) => self
                .conn
                .prepare_cached(
                    "SELECT id, seq FROM documents WHERE department = ?1 AND seq > ?2
                     UNION ALL
                     SELECT id, seq FROM documents WHERE department IS NULL AND seq > ?2
                         AND kind IN ('catalog', 'answer')
                     ORDER BY seq LIMIT ?3",
                )?
                .query_map(params![department, cursor, limit], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?,
            None => self
                .conn
                .prepare_cached(
                    "SELECT id, seq FROM documents WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )?
                .query_map(params![cursor, limit], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        };
        Ok(rows)
    }
}

impl SyncTransaction for SqliteTransaction<'_> {
    fn append_audit(&mut self, entry: NewEntry) -> Result<()> {
        append_audit(&self.conn, entry).map(|_| ())
    }

    fn device_by_actor(&mut self, actor: &str) -> Result<Option<Device>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE actor = ?1"
            ))?
            .query_row([actor], device_row)
            .optional()?)
    }

    fn document_meta(&mut self, id: &str) -> Result<Option<DocumentMeta>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT kind, department, seq, chunk_count, heads FROM documents WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok(DocumentMeta {
                    kind: r.get(0)?,
                    department: r.get(1)?,
                    seq: r.get(2)?,
                    chunk_count: r.get(3)?,
                    heads: r.get(4)?,
                })
            })
            .optional()?)
    }

    fn document_bytes(&mut self, id: &str) -> Result<Vec<Vec<u8>>> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        if let Some(snapshot) = self
            .conn
            .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
        {
            parts.push(snapshot);
        }
        let mut chunks = self
            .conn
            .prepare_cached("SELECT bytes FROM document_chunks WHERE doc_id = ?1 ORDER BY id")?;
        for chunk in chunks.query_map([id], |r| r.get::<_, Vec<u8>>(0))? {
            parts.push(chunk?);
        }
        Ok(parts)
    }

    fn document_summary(&mut self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT summary FROM documents WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    fn write_document(
        &mut self,
        id: &str,
        kind: &str,
        department: Option<&str>,
        heads: &[u8],
        summary: Option<&[u8]>,
        write: DocumentWrite<'_>,
    ) -> Result<super::Seq> {
        let seq: super::Seq = self
            .conn
            .prepare_cached(
                "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value",
            )?
            .query_row([], |r| r.get(0))?;
        match write {
            DocumentWrite::Snapshot(bytes) => {
                self.conn
                    .prepare_cached("DELETE FROM document_chunks WHERE doc_id = ?1")?
                    .execute([id])?;
                self.conn
            .prepare_cached("INSERT INTO documents (id, kind, department, snapshot, chunk_count, heads, seq, summary)
                     VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7)
                     ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,
                        department = excluded.department, snapshot = excluded.snapshot,
                        chunk_count = 0, heads = excluded.heads, seq = excluded.seq,
                        summary = excluded.summary")?
            .execute(params![id, kind, department, bytes, heads, seq, summary])?;
            }
            DocumentWrite::Chunk(bytes) => {
                self.conn
                    .prepare_cached("INSERT INTO document_chunks (doc_id, bytes) VALUES (?1, ?2)")?
                    .execute(params![id, bytes])?;
                self.conn
            .prepare_cached("UPDATE documents SET kind = ?2, department = ?3, chunk_count = chunk_count + 1,
                        heads = ?4, seq = ?5, summary = ?6 WHERE id = ?1")?
            .execute(params![id, kind, department, heads, seq, summary])?;
            }
        }
        Ok(seq)
    }

    fn device_heads(&mut self, device: &str, doc: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT heads FROM device_documents WHERE device_id = ?1 AND doc_id = ?2",
            )?
            .query_row([device, doc], |r| r.get(0))
            .optional()?)
    }

    fn set_device_heads(&mut self, device: &str, doc: &str, heads: &[u8]) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO device_documents (device_id, doc_id, heads) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_id, doc_id) DO UPDATE SET heads = excluded.heads",
            )?
            .execute(params![device, doc, heads])?;
        Ok(())
    }

    fn add_pending(&mut self, device: &str, pending: &[super::Pending<'_>]) -> Result<()> {
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO device_pending (device_id, doc_id, heads, seq) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device_id, doc_id) DO UPDATE SET heads = excluded.heads, seq = excluded.seq",
        )?;
        for p in pending {
            insert.execute(params![device, p.doc_id, p.heads, p.seq])?;
        }
        Ok(())
    }

    fn touch_device(&mut self, device: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE devices SET last_seen = ?2 WHERE id = ?1")?
            .execute(params![device, now()])?;
        Ok(())
    }

    fn acknowledge(&mut self, device: &str, cursor: super::Seq) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO device_documents (device_id, doc_id, heads)
             SELECT device_id, doc_id, heads FROM device_pending WHERE device_id = ?1 AND seq <= ?2
             ON CONFLICT (device_id, doc_id) DO UPDATE SET heads = excluded.heads",
            )?
            .execute(params![device, cursor])?;
        self.conn
            .prepare_cached("DELETE FROM device_pending WHERE device_id = ?1")?
            .execute([device])?;
        Ok(())
    }

    fn newest_seq(&mut self) -> Result<super::Seq> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM counters WHERE name = 'seq'")?
            .query_row([], |r| r.get(0))?)
    }

    fn forget_holdings(&mut self, device: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM device_documents WHERE device_id = ?1")?
            .execute([device])?;
        self.conn
            .prepare_cached("DELETE FROM device_pending WHERE device_id = ?1")?
            .execute([device])?;
        Ok(())
    }

    /// The page from the covering indexes by sequence, then each
    /// document's bookkeeping and the device's heads by key: in-process
    /// lookups that cost SQLite less than a join that would read the
    /// documents' rows (their saves lie before the columns it needs).
    fn changed_after(
        &mut self,
        device: &str,
        scope: Option<&str>,
        cursor: super::Seq,
        limit: usize,
    ) -> Result<Vec<super::Changed>> {
        let page = self.changed_ids_after(scope, cursor, limit)?;
        let mut changed = Vec::with_capacity(page.len());
        for id in page {
            // Gone since the page was read: only within this transaction,
            // which cannot happen; skipped all the same.
            let Some(meta) = self.document_meta(&id)? else {
                continue;
            };
            let known = self.device_heads(device, &id)?;
            changed.push(super::Changed { id, meta, known });
        }
        Ok(changed)
    }

    fn tombstone(&mut self, id: &str) -> Result<Option<StoredTombstone>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {TOMBSTONE_COLUMNS} FROM tombstones WHERE doc_id = ?1"
            ))?
            .query_row([id], tombstone_row)
            .optional()?)
    }

    fn erase_document(
        &mut self,
        department: Option<&str>,
        tombstone: &StoredTombstone,
    ) -> Result<super::Seq> {
        let id = tombstone.doc_id.as_str();
        let seq: super::Seq = self
            .conn
            .prepare_cached(
                "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value",
            )?
            .query_row([], |r| r.get(0))?;
        self.conn
            .prepare_cached("DELETE FROM document_chunks WHERE doc_id = ?1")?
            .execute([id])?;
        self.conn
            .prepare_cached("DELETE FROM device_pending WHERE doc_id = ?1")?
            .execute([id])?;
        // Nothing left to send or remind of.
        self.conn
            .prepare_cached("DELETE FROM forwardings WHERE doc_id = ?1")?
            .execute([id])?;
        self.conn
            .prepare_cached("DELETE FROM mail_queue WHERE doc_id = ?1")?
            .execute([id])?;
        self.conn
            .prepare_cached(
                "INSERT INTO documents (id, kind, department, snapshot, chunk_count, heads, seq, summary)
                 VALUES (?1, ?2, ?3, x'', 0, x'', ?4, NULL)
                 ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,
                    department = excluded.department, snapshot = x'', chunk_count = 0,
                    heads = x'', seq = excluded.seq, summary = NULL",
            )?
            .execute(params![id, ERASED_KIND, department, seq])?;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO tombstones ({TOMBSTONE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(params![
                id,
                tombstone.number,
                tombstone.erased_at,
                tombstone.erased_by,
                tombstone.reason,
                tombstone.successor
            ])?;
        Ok(seq)
    }

    fn record_forwardings(&mut self, doc_id: &str, forwardings: &[ForwardingRecord]) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM forwardings WHERE doc_id = ?1")?
            .execute([doc_id])?;
        for f in forwardings {
            self.conn
                .prepare_cached(
                    "INSERT INTO forwardings (doc_id, request_id, kind, department, office_id,
                         forwarded_at, due, closed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    f.doc_id,
                    f.request_id,
                    f.kind,
                    f.department,
                    f.office_id,
                    f.forwarded_at,
                    f.due,
                    f.closed
                ])?;
            if !f.closed {
                let key = format!(
                    "forwarding:{}:{}:{}",
                    f.doc_id, f.request_id, f.forwarded_at
                );
                self.conn
                    .prepare_cached(
                        "INSERT INTO mail_queue (key, purpose, doc_id, request_id, department,
                             queued_at, next_attempt_at) VALUES (?1, 'forwarding', ?2, ?3, ?4,
                             strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), '0000')
                         ON CONFLICT (key) DO NOTHING",
                    )?
                    .execute(params![key, f.doc_id, f.request_id, f.department])?;
            }
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        self.committed = true;
        Ok(())
    }
}
