//! The database key, derived from the caseworker's passphrase with Argon2id.
//!
//! Only the salt and the cost parameters are stored (`key.json`, beside the
//! database); the key itself exists only in memory. SQLCipher receives the
//! raw key, so its own, weaker PBKDF2 step is skipped.
//!
//! Two short values tell damage apart from a wrong passphrase: `check`, a
//! hash of the derived key (a wrong passphrase gives another one, without
//! touching the database), and `sum`, a hash of the file's other fields (a
//! damaged salt or cost value is reported as a damaged key file). Files
//! written before they existed get both at their next successful opening.

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::StoreError;

pub const KEY_FILE: &str = "key.json";
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// Bounds for the cost values read from `key.json`: a damaged or hostile
/// file must not make the derivation allocate gigabytes or run for hours.
const MEMORY_KIB: std::ops::RangeInclusive<u32> = 8 * 1024..=1024 * 1024;
const ITERATIONS: std::ops::RangeInclusive<u32> = 1..=16;
const PARALLELISM: std::ops::RangeInclusive<u32> = 1..=8;
const SALT_BYTES: std::ops::RangeInclusive<usize> = 16..=64;
/// A key file is a few hundred bytes; a bigger one is not ours.
const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    kdf: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
    /// Hash of the derived key: tells a wrong passphrase from a damaged
    /// database before the database is touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    check: Option<String>,
    /// Hash of the fields above: tells a damaged key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sum: Option<String>,
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
            check: None,
            sum: None,
        }
    }

    /// Reads and checks `dir/key.json`: its size, its shape, the range of
    /// every value, and its sum — before anything is allocated for it.
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

    /// The checks of `read`, on the file's text.
    pub fn parse(text: &str) -> Result<KeyFile, String> {
        let file: KeyFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        file.validate()?;
        Ok(file)
    }

    fn validate(&self) -> Result<(), String> {
        if self.kdf != "argon2id" {
            return Err(format!("unknown kdf {:?}", self.kdf));
        }
        for (name, value, range) in [
            ("memory_kib", self.memory_kib, MEMORY_KIB),
            ("iterations", self.iterations, ITERATIONS),
            ("parallelism", self.parallelism, PARALLELISM),
        ] {
            if !range.contains(&value) {
                return Err(format!(
                    "{name} = {value} is outside {}..={}",
                    range.start(),
                    range.end()
                ));
            }
        }
        let salt = hex::decode(&self.salt).map_err(|_| "the salt is not hex".to_string())?;
        if !SALT_BYTES.contains(&salt.len()) {
            return Err(format!("the salt has {} bytes", salt.len()));
        }
        if let Some(sum) = &self.sum
            && *sum != self.expected_sum()
        {
            return Err("its content does not match its checksum".into());
        }
        Ok(())
    }

    /// Hash of the fields that must not change (kdf, costs, salt, check).
    fn expected_sum(&self) -> String {
        short_hash(&format!(
            "sprechtag key file\n{}\n{}\n{}\n{}\n{}\n{}",
            self.kdf,
            self.memory_kib,
            self.iterations,
            self.parallelism,
            self.salt,
            self.check.as_deref().unwrap_or("")
        ))
    }

    /// Whether the file has its check and sum (older files do not).
    pub fn is_complete(&self) -> bool {
        self.check.is_some() && self.sum.is_some()
    }

    /// The file with the check value of `key` and its sum.
    pub fn completed(&self, key: &DatabaseKey) -> KeyFile {
        let mut file = self.clone();
        file.check = Some(key.check_value());
        file.sum = Some(file.expected_sum());
        file
    }

    /// Whether `key` is the key this file's check value was made from;
    /// `None` for a file without one.
    pub fn fits(&self, key: &DatabaseKey) -> Option<bool> {
        self.check.as_ref().map(|check| *check == key.check_value())
    }

    /// Writes the key file of a new store; never replaces one (the store
    /// it belongs to could not be opened again).
    pub fn write_new(&self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(KEY_FILE);
        let text =
            serde_json::to_string_pretty(self).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        crate::fsutil::write_new(&path, text.as_bytes()).map_err(|e| StoreError::io(&path, e))
    }

    /// Adds the check value and sum to the key file of an opened store:
    /// the same salt and costs, written atomically.
    pub fn complete_on_disk(&self, dir: &Path, key: &DatabaseKey) -> Result<(), StoreError> {
        let path = dir.join(KEY_FILE);
        let text = serde_json::to_string_pretty(&self.completed(key))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        crate::fsutil::write_atomically(&path, text.as_bytes())
            .map_err(|e| StoreError::io(&path, e))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn derive(&self, passphrase: &str) -> Result<DatabaseKey, StoreError> {
        self.validate()
            .map_err(|detail| StoreError::Corrupt(format!("key.json: {detail}")))?;
        let salt = hex::decode(&self.salt)
            .map_err(|_| StoreError::Corrupt("key.json: salt is not hex".into()))?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| StoreError::Corrupt(format!("key.json: {e}")))?;
        let mut key = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), &salt, &mut key)
            .map_err(|e| StoreError::Corrupt(format!("key derivation: {e}")))?;
        Ok(DatabaseKey(key))
    }
}

fn short_hash(text: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..16])
}
