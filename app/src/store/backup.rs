//! Keeping the store whole: what a data dir holds before anything is opened
//! or made in it, the integrity check at opening, encrypted backups, and
//! restoring one with the damaged store moved aside (never written into).
//!
//! A backup is one file: a line naming the format, a line of JSON with the
//! key file's salt and costs (without them the copy cannot be decrypted)
//! and when and where it was made, then the SQLCipher database, encrypted
//! with the store's key (`sqlcipher_export` inside one read transaction, so
//! the copy is consistent while the sync worker writes).

use std::io::{BufRead, BufReader, Read, Write};

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::key::{self, KeyFile, KeyFileExt};
use super::{DATABASE_FILE, Result, Store, StoreError, WIPED_MARKER};

/// Automatic and manual backups live here, inside the data dir.
pub const BACKUPS_DIR: &str = "backups";
/// Damaged or replaced stores are moved here by a restore, never deleted.
pub const QUARANTINE_DIR: &str = "quarantine";
/// How many automatic backups are kept.
pub const KEEP_BACKUPS: usize = 7;
const MAGIC: &str = "SPRECHTAG-SICHERUNG 1";
const EXTENSION: &str = "sicherung";
/// SQLCipher's page size: a database file is a whole number of pages.
const PAGE_BYTES: u64 = 4096;
/// An automatic backup is made when the newest is older than this.
const BACKUP_EVERY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// A header line longer than this is not ours.
const MAX_HEADER_BYTES: u64 = 16 * 1024;

/// Every open store holds a shared lock on this file; a restore takes it
/// exclusively, so that it never moves a store away under the app or a
/// command that still writes into it.
const IN_USE_FILE: &str = ".in-use";

fn in_use_file(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join(IN_USE_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&path).map_err(|e| StoreError::io(&path, e))
}

/// The shared lock an open store holds (released when dropped).
pub(crate) fn hold_in_use(dir: &Path) -> Result<std::fs::File> {
    let file = in_use_file(dir)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::io(&dir.join(IN_USE_FILE), e)),
    }
}

/// The exclusive lock of a restore: nobody else has the store open.
fn exclusive_use(dir: &Path) -> Result<std::fs::File> {
    let file = in_use_file(dir)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::io(&dir.join(IN_USE_FILE), e)),
    }
}

/// What a data dir holds, judged from its files alone.
#[derive(Debug, PartialEq, Eq)]
pub enum DirState {
    /// Nothing of a store: one may be made here.
    Empty,
    /// A key file and a database of plausible size.
    Store,
    /// The device was wiped on the server's order.
    Wiped,
}

/// Looks at the files of `dir` without opening anything. Half a store, an
/// empty or cut-short database are errors that name the file.
pub fn inspect(dir: &Path) -> Result<DirState> {
    if dir.join(WIPED_MARKER).exists() {
        return Ok(DirState::Wiped);
    }
    let database = dir.join(DATABASE_FILE);
    let key_file = dir.join(key::KEY_FILE);
    let log = dir.join(format!("{DATABASE_FILE}-wal"));
    match (key_file.exists(), database.exists()) {
        (false, false) if !log.exists() => Ok(DirState::Empty),
        (false, _) => Err(StoreError::Incomplete {
            missing: key_file,
            present: if database.exists() { database } else { log },
        }),
        (true, false) => Err(StoreError::Incomplete {
            missing: database,
            present: key_file,
        }),
        (true, true) => {
            let len = std::fs::metadata(&database)
                .map_err(|e| StoreError::io(&database, e))?
                .len();
            if len == 0 {
                return Err(StoreError::Damaged {
                    path: database,
                    detail: "the file is empty".into(),
                });
            }
            if len % PAGE_BYTES != 0 {
                return Err(StoreError::Damaged {
                    path: database,
                    detail: format!("the file was cut short ({len} bytes, not whole pages)"),
                });
            }
            Ok(DirState::Store)
        }
    }
}

/// How long the check at opening may take: a store of a few years takes
/// well under a second; on a slow disk the rest is left to `doctor`.
const QUICK_CHECK_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// `PRAGMA quick_check`, stopped after `QUICK_CHECK_LIMIT`: `None` when
/// the database is sound (or the check ran out of time without finding
/// anything), else what is wrong (the first lines of SQLite's report, or
/// its error).
pub(crate) fn quick_check(conn: &Connection) -> Option<String> {
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
    let text = match report {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => return None,
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) => {
            return None;
        }
        Ok(lines) => lines.join("; "),
        Err(e) => e.to_string(),
    };
    // The first lines tell enough; the rest would fill a screen.
    let mut text = text
        .replace("*** in database main ***", "")
        .trim()
        .replace('\n', "; ");
    if let Some((cut, _)) = text.char_indices().nth(200) {
        text.truncate(cut);
        text.push_str(" …");
    }
    Some(text)
}

/// The readable first part of a backup file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupHeader {
    /// The key file of the store the copy was made from.
    pub key: KeyFile,
    pub created_at: String,
    /// The device's case-number prefix, to tell laptops' backups apart.
    pub prefix: String,
    /// The store's schema version (`user_version`).
    pub schema: i64,
}

/// A backup as listed for a restore.
#[derive(Debug, Clone)]
pub struct BackupInfo {
    pub path: PathBuf,
    pub header: BackupHeader,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub backup: PathBuf,
    pub created_at: String,
    /// Where the store that was there before went (nothing is deleted).
    pub quarantined: Option<PathBuf>,
}

impl Store {
    /// What the integrity check at opening found; `Some` means the store
    /// is open for reading only.
    pub fn damage(&self) -> Option<&str> {
        self.damage.as_deref()
    }

    /// Writes a consistent, encrypted copy of the store to `out` (replaced
    /// atomically if it exists). Works while the store is in use.
    pub fn backup(&self, out: &Path) -> Result<BackupInfo> {
        let dir = match out.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".sicherung-")
            .tempdir_in(&dir)
            .map_err(|e| StoreError::io(&dir, e))?;
        let copy = staging.path().join(DATABASE_FILE);
        // The store's connection may not create files (it opened without
        // SQLITE_OPEN_CREATE, which an attached database inherits).
        std::fs::File::create(&copy).map_err(|e| StoreError::io(&copy, e))?;
        let copy_text = copy
            .to_str()
            .ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", copy.display())))?;
        let schema: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        self.conn.execute(
            &format!(
                "ATTACH DATABASE ?1 AS backup KEY {}",
                self.key.blob_literal().as_str()
            ),
            [copy_text],
        )?;
        // One read transaction: the copy is one consistent state even while
        // the sync worker's connection writes.
        let exported = self.conn.execute_batch(&format!(
            "BEGIN; SELECT sqlcipher_export('backup'); PRAGMA backup.user_version = {schema}; COMMIT;"
        ));
        if exported.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK;");
        }
        let detached = self.conn.execute_batch("DETACH DATABASE backup;");
        exported?;
        detached?;
        let header = BackupHeader {
            key: key::read(&self.dir)?,
            created_at: super::now_rfc3339(),
            prefix: self.device.prefix.clone(),
            schema,
        };
        let mut file =
            tempfile::NamedTempFile::new_in(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let io = |e| StoreError::io(out, e);
        writeln!(file, "{MAGIC}").map_err(io)?;
        let json =
            serde_json::to_string(&header).map_err(|e| StoreError::Invalid(e.to_string()))?;
        writeln!(file, "{json}").map_err(io)?;
        let mut database = std::fs::File::open(&copy).map_err(|e| StoreError::io(&copy, e))?;
        std::io::copy(&mut database, &mut file).map_err(io)?;
        file.as_file().sync_all().map_err(io)?;
        file.persist(out).map_err(|e| io(e.error))?;
        if let Ok(dir) = std::fs::File::open(&dir) {
            let _ = dir.sync_all();
        }
        Ok(BackupInfo {
            path: out.to_path_buf(),
            header,
        })
    }

    /// A backup into `DATA_DIR/backups/`, keeping the newest
    /// `KEEP_BACKUPS`. Made when an office hour closes and at least daily.
    pub fn backup_now(&self) -> Result<BackupInfo> {
        let folder = self.dir.join(BACKUPS_DIR);
        std::fs::create_dir_all(&folder).map_err(|e| StoreError::io(&folder, e))?;
        super::restrict_to_owner(&folder)?;
        let name = chrono::Local::now().format("sprechtag-%Y-%m-%d-%H%M%S");
        let mut out = folder.join(format!("{name}.{EXTENSION}"));
        let mut n = 1;
        while out.exists() {
            n += 1;
            out = folder.join(format!("{name}-{n}.{EXTENSION}"));
        }
        let made = self.backup(&out)?;
        let mut old = backup_files(&folder);
        if old.len() > KEEP_BACKUPS {
            let surplus = old.len() - KEEP_BACKUPS;
            for (path, _) in old.drain(..surplus) {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(made)
    }

    /// A backup if the newest is older than a day (or there is none).
    /// Not for a store that failed its check: its copy would be damaged.
    pub fn backup_if_due(&self) -> Result<Option<BackupInfo>> {
        if self.damage.is_some() {
            return Ok(None);
        }
        let newest = backup_files(&self.dir.join(BACKUPS_DIR)).pop();
        let due = newest.is_none_or(|(_, modified)| {
            modified
                .elapsed()
                .map_or(true, |elapsed| elapsed >= BACKUP_EVERY)
        });
        if due {
            self.backup_now().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Backup files in `folder`, oldest first, with their modification time.
fn backup_files(folder: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().extension() == Some(std::ffi::OsStr::new(EXTENSION)))
        .filter_map(|entry| Some((entry.path(), entry.metadata().ok()?.modified().ok()?)))
        .collect();
    files.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    files
}

/// The backups in `DATA_DIR/backups/`, newest first; unreadable files are
/// left out.
pub fn list_backups(dir: &Path) -> Vec<BackupInfo> {
    let mut list: Vec<BackupInfo> = backup_files(&dir.join(BACKUPS_DIR))
        .into_iter()
        .rev()
        .filter_map(|(path, _)| {
            let header = read_header(&path).ok()?.0;
            Some(BackupInfo { path, header })
        })
        .collect();
    list.sort_by(|a, b| b.header.created_at.cmp(&a.header.created_at));
    list
}

/// The header of a backup file and the offset of its database.
fn read_header(path: &Path) -> Result<(BackupHeader, u64)> {
    let not_ours = |detail: &str| StoreError::Damaged {
        path: path.to_path_buf(),
        detail: format!("not a Sprechtag backup ({detail})"),
    };
    let file = std::fs::File::open(path).map_err(|e| StoreError::io(path, e))?;
    let mut reader = BufReader::new(file.take(MAX_HEADER_BYTES));
    let mut magic = String::new();
    reader
        .read_line(&mut magic)
        .map_err(|e| StoreError::io(path, e))?;
    if magic.trim_end() != MAGIC {
        return Err(not_ours("its first line"));
    }
    let mut json = String::new();
    reader
        .read_line(&mut json)
        .map_err(|e| StoreError::io(path, e))?;
    if !json.ends_with('\n') {
        return Err(not_ours("its header"));
    }
    let header: BackupHeader = serde_json::from_str(&json).map_err(|e| not_ours(&e.to_string()))?;
    KeyFile::parse(&header.key.to_json()).map_err(|e| not_ours(&e))?;
    Ok((header, (magic.len() + json.len()) as u64))
}

/// Puts the store of backup `file` in place in `dir`, after checking that
/// `passphrase` opens it and that it passes the integrity check. Whatever
/// was in `dir` before — a damaged store, half of one — is moved to
/// `DATA_DIR/quarantine/<time>/`, never deleted. The restored store then
/// syncs everything anew (`sync_state::request_resync`): it does not hold
/// what the server last heard from this laptop.
pub fn restore(dir: &Path, file: &Path, passphrase: &str) -> Result<Restored> {
    sprechtag_schemas::sqlite::ready();
    let (header, offset) = read_header(file)?;
    let key = header.key.derive(passphrase)?;
    if header.key.fits(&key) == Some(false) {
        return Err(StoreError::WrongPassphrase);
    }
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let _exclusive = exclusive_use(dir)?;
    let staged = dir.join(format!("{DATABASE_FILE}.restoring"));
    {
        let mut source = std::fs::File::open(file).map_err(|e| StoreError::io(file, e))?;
        std::io::Seek::seek(&mut source, std::io::SeekFrom::Start(offset))
            .map_err(|e| StoreError::io(file, e))?;
        let mut target = std::fs::File::create(&staged).map_err(|e| StoreError::io(&staged, e))?;
        std::io::copy(&mut source, &mut target).map_err(|e| StoreError::io(&staged, e))?;
        target.sync_all().map_err(|e| StoreError::io(&staged, e))?;
    }
    let checked = (|| -> Result<()> {
        let conn = Connection::open(&staged)?;
        super::apply_key(&conn, &key)?;
        match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(_) => {}
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
                return Err(if header.key.fits(&key).is_some() {
                    StoreError::Damaged {
                        path: file.to_path_buf(),
                        detail: "the copy cannot be decrypted".into(),
                    }
                } else {
                    StoreError::WrongPassphrase
                });
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(damage) = quick_check(&conn) {
            return Err(StoreError::Damaged {
                path: file.to_path_buf(),
                detail: damage,
            });
        }
        super::sync_state::request_resync(&conn)?;
        super::fork_device_actor(&conn)?;
        Ok(())
    })();
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&staged);
        return Err(e);
    }
    let quarantined = quarantine(dir)?;
    std::fs::rename(&staged, dir.join(DATABASE_FILE))
        .map_err(|e| StoreError::io(&dir.join(DATABASE_FILE), e))?;
    header.key.completed(&key).write_new(dir)?;
    Ok(Restored {
        backup: file.to_path_buf(),
        created_at: header.created_at,
        quarantined,
    })
}

/// Moves the store files of `dir` (database, its log, the key file) into
/// `DATA_DIR/quarantine/<time>/`; `None` if there were none.
fn quarantine(dir: &Path) -> Result<Option<PathBuf>> {
    let files: Vec<PathBuf> = [
        DATABASE_FILE.to_string(),
        format!("{DATABASE_FILE}-wal"),
        format!("{DATABASE_FILE}-shm"),
        key::KEY_FILE.to_string(),
    ]
    .iter()
    .map(|name| dir.join(name))
    .filter(|path| path.exists())
    .collect();
    if files.is_empty() {
        return Ok(None);
    }
    let name = chrono::Local::now().format("%Y-%m-%d-%H%M%S").to_string();
    let mut target = dir.join(QUARANTINE_DIR).join(&name);
    let mut n = 1;
    while target.exists() {
        n += 1;
        target = dir.join(QUARANTINE_DIR).join(format!("{name}-{n}"));
    }
    std::fs::create_dir_all(&target).map_err(|e| StoreError::io(&target, e))?;
    super::restrict_to_owner(&dir.join(QUARANTINE_DIR))?;
    // The key file last: until it moves, the folder is still recognisably
    // a store (if anything fails half-way).
    for path in files {
        let Some(name) = path.file_name() else {
            continue;
        };
        std::fs::rename(&path, target.join(name)).map_err(|e| StoreError::io(&path, e))?;
    }
    Ok(Some(target))
}
