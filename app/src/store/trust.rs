//! This device's key pair and what the server vouches for it
//! (`schemas::trust`): kept in the encrypted store, refreshed through the
//! server sync, used to meet other laptops in the hall.

use sprechtag_schemas::trust::{
    self, DeviceCertificate, RENEW_DAYS, RevocationList, Signed, SigningKey, TrustError, UserProof,
};
use sprechtag_schemas::wire::{SERVER_KEY_HINT_BYTES, Trust, TrustRequest};

use super::{Result, Store, StoreError, set_setting, setting};

const SEED: &str = "trust.seed";
const SERVER_KEY: &str = "trust.server_key";
const CERTIFICATE: &str = "trust.certificate";
const REVOCATIONS: &str = "trust.revocations";
const USER: &str = "trust.user";

/// What this device shows another in the hall, and checks the other with.
#[derive(Debug)]
pub struct HallIdentity {
    pub key: SigningKey,
    pub certificate: Signed,
    /// `certificate`, read.
    pub own: DeviceCertificate,
    pub server_key: Vec<u8>,
    pub revocations: Signed,
    /// `revocations`, read.
    pub revoked: RevocationList,
    /// Opens the certificate's commitment to the user's name.
    pub user: UserProof,
}

fn corrupt(what: &str) -> impl Fn(TrustError) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

impl Store {
    /// This device's signing key; made (and kept) the first time.
    pub fn signing_key(&self) -> Result<SigningKey> {
        let seed = match setting(&self.conn, SEED)? {
            Some(hex) => hex::decode(&hex)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| StoreError::Corrupt("the device's signing key".into()))?,
            None => {
                let seed = SigningKey::generate_seed().map_err(corrupt("a new signing key"))?;
                set_setting(&self.conn, SEED, &hex::encode(seed))?;
                seed
            }
        };
        SigningKey::from_seed(&seed).map_err(corrupt("the device's signing key"))
    }

    /// Forgets the key pair and certificate (a new enrolment makes a new
    /// device: it gets a new key).
    pub(super) fn forget_trust(conn: &rusqlite::Connection) -> Result<()> {
        conn.execute("DELETE FROM settings WHERE key LIKE 'trust.%'", [])?;
        Ok(())
    }

    /// What the next sync asks the server for (`SyncRequest::trust`):
    /// a certificate unless this laptop holds one of its key for
    /// `RENEW_DAYS` more, the revocation list unless it holds the same.
    pub fn trust_request(&self) -> Result<TrustRequest> {
        let key = self.signing_key()?;
        let held = self.hall_identity().ok().flatten();
        let now = sprechtag_schemas::clock::now();
        let certified = held.as_ref().is_some_and(|held| {
            held.own.public_key == key.public_key()
                // Certificates of the first hall release lack the prefix.
                && !held.own.prefix.is_empty()
                && chrono::DateTime::parse_from_rfc3339(&held.own.valid_until).is_ok_and(|until| {
                    until.with_timezone(&chrono::Utc) - now > chrono::Duration::days(RENEW_DAYS)
                })
        });
        let server_key = setting(&self.conn, SERVER_KEY)?
            .and_then(|hex| hex::decode(hex).ok())
            .unwrap_or_default();
        Ok(TrustRequest {
            public_key: (!certified).then(|| key.public_key().to_vec()),
            server_key: server_key
                .get(..SERVER_KEY_HINT_BYTES)
                .map(<[u8]>::to_vec)
                .unwrap_or_default(),
            revocations: held.map(|held| held.revoked.digest()).unwrap_or_default(),
        })
    }

    /// Keeps what the server sent, after checking that a certificate is
    /// one of this device's key, with its user, under the key that signed
    /// it. Under another server key than before, what was held goes.
    /// Returns whether this laptop now holds a certificate and a list.
    pub fn record_trust(&mut self, trust: &Trust) -> Result<bool> {
        let held_key = setting(&self.conn, SERVER_KEY)?.and_then(|hex| hex::decode(hex).ok());
        let server_key = match (trust.server_key.clone(), held_key) {
            (Some(key), _) | (None, Some(key)) => key,
            (None, None) => {
                return Err(StoreError::Invalid(
                    "the server sent no key to check its certificates with".into(),
                ));
            }
        };
        let certified = match &trust.certificate {
            Some(certified) => {
                // Signed just now by the server: whether it holds at a
                // given time is the hall's question (with the clock the
                // server set).
                let certificate = trust::read_certificate(&server_key, &certified.certificate)
                    .map_err(|e| StoreError::Invalid(format!("the server's certificate: {e}")))?;
                if certificate.public_key != self.signing_key()?.public_key() {
                    return Err(StoreError::Invalid(
                        "the server certified another key than this device's".into(),
                    ));
                }
                if !certified.user.opens(&certificate) {
                    return Err(StoreError::Invalid(
                        "the server's user does not open the certificate's commitment".into(),
                    ));
                }
                let user = serde_json::to_string(&certified.user)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                Some((certified.certificate.to_hex(), user))
            }
            None => None,
        };
        if let Some(revocations) = &trust.revocations {
            trust::verify_revocations(&server_key, revocations)
                .map_err(|e| StoreError::Invalid(format!("the server's revocation list: {e}")))?;
        }
        let server_key = hex::encode(&server_key);
        let tx = self.conn.transaction()?;
        if setting(&tx, SERVER_KEY)?.as_deref() != Some(server_key.as_str()) {
            tx.execute(
                "DELETE FROM settings WHERE key IN (?1, ?2, ?3)",
                [CERTIFICATE, USER, REVOCATIONS],
            )?;
            set_setting(&tx, SERVER_KEY, &server_key)?;
        }
        if let Some((certificate, user)) = certified {
            set_setting(&tx, CERTIFICATE, &certificate)?;
            set_setting(&tx, USER, &user)?;
        }
        if let Some(revocations) = &trust.revocations {
            set_setting(&tx, REVOCATIONS, &revocations.to_hex())?;
        }
        tx.commit()?;
        Ok(self.hall_identity()?.is_some())
    }

    /// Keeps a revocation list another laptop showed, if the server signed
    /// it and it is newer than the one held.
    pub fn learn_revocations(&mut self, signed: &Signed) -> Result<bool> {
        let Some(identity) = self.hall_identity()? else {
            return Ok(false);
        };
        let Ok(list) = trust::verify_revocations(&identity.server_key, signed) else {
            return Ok(false);
        };
        if trust::newer(identity.revoked.clone(), list.clone()) == identity.revoked {
            return Ok(false);
        }
        set_setting(&self.conn, REVOCATIONS, &signed.to_hex())?;
        Ok(true)
    }

    /// This device's certificate and the server's key and revocation list;
    /// `None` until a sync brought them.
    pub fn hall_identity(&self) -> Result<Option<HallIdentity>> {
        let (Some(server_key), Some(certificate), Some(revocations), Some(user)) = (
            setting(&self.conn, SERVER_KEY)?,
            setting(&self.conn, CERTIFICATE)?,
            setting(&self.conn, REVOCATIONS)?,
            setting(&self.conn, USER)?,
        ) else {
            return Ok(None);
        };
        let user: UserProof = serde_json::from_str(&user)
            .map_err(|e| StoreError::Corrupt(format!("the certificate's user: {e}")))?;
        let server_key = hex::decode(server_key)
            .map_err(|e| StoreError::Corrupt(format!("the server's key: {e}")))?;
        let certificate = Signed::from_hex(&certificate).map_err(corrupt("the certificate"))?;
        let revocations = Signed::from_hex(&revocations).map_err(corrupt("the revocations"))?;
        // Whether it still holds is the hall's question, asked with the
        // clock at that moment.
        let own = trust::read_certificate(&server_key, &certificate)
            .map_err(corrupt("the certificate"))?;
        let revoked = trust::verify_revocations(&server_key, &revocations)
            .map_err(corrupt("the revocations"))?;
        Ok(Some(HallIdentity {
            key: self.signing_key()?,
            certificate,
            own,
            server_key,
            revocations,
            revoked,
            user,
        }))
    }
}
