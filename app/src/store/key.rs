//! The database key, derived from the caseworker's passphrase with Argon2id.
//!
//! Only the salt and the cost parameters are stored (`key.json`, beside the
//! database); the key itself exists only in memory. SQLCipher receives the
//! raw key, so its own, weaker PBKDF2 step is skipped.
//!
//! The file's format and checks are `sprechtag_schemas::key_file`; here the
//! key is derived, checked against the file's check value, and written.

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use super::StoreError;

pub const KEY_FILE: &str = "key.json";
pub const MIN_PASSPHRASE_CHARS: usize = 8;

pub use sprechtag_schemas::key_file::KeyFile;
use sprechtag_schemas::key_file::MAX_KEY_FILE_BYTES;

/// A passphrase on its way to the key derivation: redacted in `Debug`,
/// wiped when dropped.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    pub fn new(text: String) -> Passphrase {
        Passphrase(Zeroizing::new(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// A 256-bit SQLCipher key. Redacted in `Debug`, wiped when dropped.
pub struct DatabaseKey([u8; 32]);

impl DatabaseKey {
    /// The same key for another connection of this process.
    pub(super) fn duplicate(&self) -> DatabaseKey {
        DatabaseKey(self.0)
    }
}

impl Drop for DatabaseKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey(<redacted>)")
    }
}

impl DatabaseKey {
    /// The `PRAGMA key` statement with the key as a blob literal, which
    /// SQLCipher uses as is; wiped when dropped.
    pub fn pragma(&self) -> Zeroizing<String> {
        let mut hex = hex::encode(self.0);
        let statement = Zeroizing::new(format!("PRAGMA key = \"x'{hex}'\";"));
        hex.zeroize();
        statement
    }

    /// The key as a blob literal for `ATTACH … KEY`; wiped when dropped.
    pub fn blob_literal(&self) -> Zeroizing<String> {
        let mut hex = hex::encode(self.0);
        let literal = Zeroizing::new(format!("\"x'{hex}'\""));
        hex.zeroize();
        literal
    }

    /// A value derived from the key that reveals nothing of it (SHA-256
    /// with a label, truncated).
    fn check_value(&self) -> String {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"sprechtag key check\n");
        hasher.update(self.0);
        hex::encode(&hasher.finalize()[..16])
    }
}

/// Fresh parameters with a random salt.
pub fn generate() -> KeyFile {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    KeyFile::new(&salt)
}

/// Reads and checks `dir/key.json`: its size, its shape, the range of every
/// value, and its sum — before anything is allocated for it.
pub fn read(dir: &Path) -> Result<KeyFile, StoreError> {
    let path = dir.join(KEY_FILE);
    let damaged = |detail: String| StoreError::Damaged {
        path: path.clone(),
        detail,
    };
    let len = std::fs::metadata(&path)
        .map_err(|e| StoreError::io(&path, e))?
        .len();
    if len > MAX_KEY_FILE_BYTES {
        return Err(damaged(format!("{len} bytes, not a key file")));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| StoreError::io(&path, e))?;
    KeyFile::parse(&text).map_err(damaged)
}

/// What the app does with a key file: derive the key, check it, write it.
pub trait KeyFileExt {
    fn derive(&self, passphrase: &str) -> Result<DatabaseKey, StoreError>;
    /// The file with the check value of `key` and its sum.
    fn completed(&self, key: &DatabaseKey) -> KeyFile;
    /// Whether `key` is the key this file's check value was made from;
    /// `None` for a file without one.
    fn fits(&self, key: &DatabaseKey) -> Option<bool>;
    /// Writes the key file of a new store; never replaces one (the store
    /// it belongs to could not be opened again).
    fn write_new(&self, dir: &Path) -> Result<(), StoreError>;
    /// Adds the check value and sum to the key file of an opened store:
    /// the same salt and costs, written atomically.
    fn complete_on_disk(&self, dir: &Path, key: &DatabaseKey) -> Result<(), StoreError>;
}

impl KeyFileExt for KeyFile {
    fn derive(&self, passphrase: &str) -> Result<DatabaseKey, StoreError> {
        self.validate()
            .map_err(|detail| StoreError::Corrupt(format!("key.json: {detail}")))?;
        let salt = self
            .salt_bytes()
            .map_err(|detail| StoreError::Corrupt(format!("key.json: {detail}")))?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| StoreError::Corrupt(format!("key.json: {e}")))?;
        let mut key = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), &salt, &mut key)
            .map_err(|e| StoreError::Corrupt(format!("key derivation: {e}")))?;
        Ok(DatabaseKey(key))
    }

    fn completed(&self, key: &DatabaseKey) -> KeyFile {
        self.with_check(key.check_value())
    }

    fn fits(&self, key: &DatabaseKey) -> Option<bool> {
        self.check.as_ref().map(|check| *check == key.check_value())
    }

    fn write_new(&self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(KEY_FILE);
        crate::fsutil::write_new(&path, self.to_json_pretty().as_bytes())
            .map_err(|e| StoreError::io(&path, e))
    }

    fn complete_on_disk(&self, dir: &Path, key: &DatabaseKey) -> Result<(), StoreError> {
        let path = dir.join(KEY_FILE);
        crate::fsutil::write_atomically(&path, self.completed(key).to_json_pretty().as_bytes())
            .map_err(|e| StoreError::io(&path, e))
    }
}
