//! `key.json`, beside a laptop's database: the salt and cost values of the
//! key derivation (Argon2id), never the key. Read before anything else of a
//! store, so it is checked like every other input: its size, its shape,
//! every value's range (a damaged or hostile file must not make the
//! derivation allocate gigabytes or run for hours), and its checksum.
//!
//! Two short values tell damage apart from a wrong passphrase: `check`, a
//! hash of the derived key (a wrong passphrase gives another one without
//! the database being touched), and `sum`, a hash of the other fields (a
//! damaged salt or cost is reported as a damaged key file). Files written
//! before they existed get both at their next successful opening.

use serde::{Deserialize, Serialize};

/// The only derivation there is.
pub const KDF: &str = "argon2id";
/// A key file is a few hundred bytes; a bigger one is not ours.
pub const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;
const MEMORY_KIB: std::ops::RangeInclusive<u32> = 8 * 1024..=1024 * 1024;
const ITERATIONS: std::ops::RangeInclusive<u32> = 1..=16;
const PARALLELISM: std::ops::RangeInclusive<u32> = 1..=8;
const SALT_BYTES: std::ops::RangeInclusive<usize> = 16..=64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    pub kdf: String,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hex.
    pub salt: String,
    /// Hash of the derived key (see the module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// Hash of the fields above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<String>,
}

impl KeyFile {
    /// OWASP's Argon2id baseline with `salt`.
    pub fn new(salt: &[u8]) -> KeyFile {
        KeyFile {
            kdf: KDF.into(),
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            salt: hex::encode(salt),
            check: None,
            sum: None,
        }
    }

    /// Reads and checks a key file's text; the error says what is wrong.
    pub fn parse(text: &str) -> Result<KeyFile, String> {
        if text.len() as u64 > MAX_KEY_FILE_BYTES {
            return Err(format!("{} bytes, not a key file", text.len()));
        }
        let file: KeyFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        file.validate()?;
        Ok(file)
    }

    /// Every value in range, the salt hex of a sensible length, the sum
    /// (if there is one) right.
    pub fn validate(&self) -> Result<(), String> {
        if self.kdf != KDF {
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
        let salt = self.salt_bytes()?;
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

    pub fn salt_bytes(&self) -> Result<Vec<u8>, String> {
        hex::decode(&self.salt).map_err(|_| "the salt is not hex".to_string())
    }

    /// Whether the file has its check and sum (older files do not).
    pub fn is_complete(&self) -> bool {
        self.check.is_some() && self.sum.is_some()
    }

    /// The file with `check` (of the derived key) and its sum.
    pub fn with_check(&self, check: String) -> KeyFile {
        let mut file = self.clone();
        file.check = Some(check);
        file.sum = Some(file.expected_sum());
        file
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Hash of the fields that must not change (kdf, costs, salt, check).
    fn expected_sum(&self) -> String {
        use sha2::Digest;
        let text = format!(
            "sprechtag key file\n{}\n{}\n{}\n{}\n{}\n{}",
            self.kdf,
            self.memory_kib,
            self.iterations,
            self.parallelism,
            self.salt,
            self.check.as_deref().unwrap_or("")
        );
        hex::encode(&sha2::Sha256::digest(text.as_bytes())[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::KeyFile;

    #[test]
    fn a_key_file_with_its_check_round_trips_and_a_changed_salt_breaks_its_sum() {
        let file = KeyFile::new(&[7; 16]).with_check("ab".repeat(16));
        let read = KeyFile::parse(&file.to_json_pretty()).expect("valid");
        assert_eq!(read, file);
        let damaged = file.to_json().replace(&"07".repeat(16), &"08".repeat(16));
        let error = KeyFile::parse(&damaged).expect_err("the sum no longer fits");
        assert!(error.contains("checksum"), "{error}");
        let huge = file.to_json().replace("19456", "4294967295");
        assert!(
            KeyFile::parse(&huge)
                .expect_err("out of range")
                .contains("memory_kib")
        );
    }
}
