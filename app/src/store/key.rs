//! The database key, derived from the caseworker's passphrase with Argon2id.
//!
//! Only the salt and the cost parameters are stored (`key.json`, beside the
//! database); the key itself exists only in memory. SQLCipher receives the
//! raw key, so its own, weaker PBKDF2 step is skipped.

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::StoreError;

pub const KEY_FILE: &str = "key.json";
pub const MIN_PASSPHRASE_CHARS: usize = 8;

#[derive(Debug, Serialize, Deserialize)]
pub struct KeyFile {
    kdf: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

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
}

impl KeyFile {
    /// Fresh parameters with a random salt (OWASP's Argon2id baseline).
    pub fn generate() -> KeyFile {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        KeyFile {
            kdf: "argon2id".into(),
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            salt: hex::encode(salt),
        }
    }

    pub fn read(dir: &Path) -> Result<KeyFile, StoreError> {
        let path = dir.join(KEY_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| StoreError::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))
    }

    /// Written to a temporary file, synced and renamed, so a crash leaves
    /// either no key file or a complete one.
    pub fn write(&self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(KEY_FILE);
        let text =
            serde_json::to_string_pretty(self).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        crate::fsutil::write_atomically(&path, text.as_bytes())
            .map_err(|e| StoreError::io(&path, e))
    }

    pub fn derive(&self, passphrase: &str) -> Result<DatabaseKey, StoreError> {
        let salt = hex::decode(&self.salt)
            .map_err(|_| StoreError::Corrupt("key.json: salt is not hex".into()))?;
        if self.kdf != "argon2id" {
            return Err(StoreError::Corrupt(format!(
                "key.json: unknown kdf {:?}",
                self.kdf
            )));
        }
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| StoreError::Corrupt(format!("key.json: {e}")))?;
        let mut key = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), &salt, &mut key)
            .map_err(|e| StoreError::Corrupt(format!("key derivation: {e}")))?;
        Ok(DatabaseKey(key))
    }
}
