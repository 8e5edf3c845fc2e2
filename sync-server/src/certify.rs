//! The server's signature on who a device is (`schemas::trust`): device
//! certificates and the revocation list, handed out with a sync when the
//! device asks (`SyncRequest::trust`).
//!
//! The signing key is derived from `server.key`, which every instance
//! serving one database shares (`code_key` checks it): each instance signs
//! with the same key, and no second secret has to be kept and copied.
//! The device is known by its token; the server certifies the key that
//! device presents (a stolen token could do no more than sync anyway).

use sprechtag_schemas::trust::{
    CERTIFICATE_DAYS, DeviceCertificate, RevocationList, SigningKey, TrustError, UserProof,
};
use sprechtag_schemas::wire::{Certified, SERVER_KEY_HINT_BYTES, Trust, TrustRequest};

use crate::storage::{Device, Storage, StorageError};

/// Why no certificate could be made.
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Trust(#[from] TrustError),
}

/// Signs certificates and revocation lists under the server's key.
#[derive(Debug)]
pub struct Certifier {
    key: SigningKey,
}

impl Certifier {
    /// The key derived from the enrolment-code key (`server.key`).
    pub fn from_server_key(server_key: &[u8]) -> Result<Certifier, TrustError> {
        let seed = crate::api::code_hash(server_key, "sprechtag device certificates v1");
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| TrustError::Key("HMAC-SHA-256 gives 32 bytes".into()))?;
        Ok(Certifier {
            key: SigningKey::from_seed(&seed)?,
        })
    }

    pub fn public_key(&self) -> &[u8] {
        self.key.public_key()
    }

    /// The server's signature on what a download brings the device: all
    /// that `heads` of `doc_id` reach was on the server.
    pub fn attest(&self, doc_id: &str, heads: &[u8]) -> sprechtag_schemas::trust::Attestation {
        self.key.attest(None, doc_id, heads)
    }

    /// What `device` asked for in `request`: a certificate of its key
    /// unless it holds one for long enough, the revocation list unless it
    /// holds this one, and always the server's key.
    pub fn trust(
        &self,
        storage: &dyn Storage,
        device: &Device,
        request: &TrustRequest,
    ) -> Result<Trust, CertifyError> {
        let now = chrono::Utc::now();
        let stamp =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let certificate = if let Some(public_key) = &request.public_key {
            let user = UserProof::new(&device.user)?;
            let certificate = DeviceCertificate {
                device_id: device.id.clone(),
                name: device.name.clone(),
                user_commitment: user.commitment(),
                role: device.role,
                department: device.department.clone(),
                prefix: device.prefix.clone(),
                actor: device.actor.clone(),
                public_key: public_key.clone(),
                issued_at: stamp(now),
                valid_until: stamp(now + chrono::Duration::days(CERTIFICATE_DAYS)),
            };
            Some(Certified {
                certificate: self.key.certify(&certificate),
                user,
            })
        } else {
            None
        };
        let revocations = RevocationList {
            issued_at: stamp(now),
            revoked: storage
                .devices()?
                .into_iter()
                .filter(|d| d.revoked_at.is_some())
                .map(|d| d.id)
                .collect(),
        };
        let revocations = (revocations.digest() != request.revocations)
            .then(|| self.key.sign_revocations(&revocations));
        let hint = &self.public_key()[..SERVER_KEY_HINT_BYTES];
        let server_key = (certificate.is_some() || request.server_key != hint)
            .then(|| self.public_key().to_vec());
        Ok(Trust {
            server_key,
            certificate,
            revocations,
        })
    }
}
