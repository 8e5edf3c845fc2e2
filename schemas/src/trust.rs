//! Who a device is, provable without a network to the server: device
//! certificates and revocation lists, signed by the server (ed25519).
//!
//! With the first round of every sync a laptop sends the public half of its
//! own key pair (made at enrolment); the server, which knows the device by
//! its token, signs a [`DeviceCertificate`] (device, role, department,
//! actor, key, validity, and the user hidden in a commitment) and sends it
//! with its public key, its current [`RevocationList`] and the secret that
//! opens the commitment. A laptop shows its certificate before it knows who
//! it talks to; the user's name goes only to a laptop that proved itself
//! ([`UserProof`]).
//! Two laptops in a hall then check each other's certificate against the
//! server key they hold and the newer of their two revocation lists, and
//! prove possession of the certified key by signing their TLS session
//! (`docs/hall-sync.md`).
//!
//! Every signature covers a fixed context string before the signed bytes,
//! so a signature made for one purpose is never valid for another.

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::Role;

/// Context of a certificate's signature.
const CERTIFICATE_CONTEXT: &[u8] = b"sprechtag device certificate v1\0";
/// Context of a revocation list's signature.
const REVOCATIONS_CONTEXT: &[u8] = b"sprechtag revocation list v1\0";
/// Context of a device's proof of its key in a hall session.
const HALL_PROOF_CONTEXT: &[u8] = b"sprechtag hall proof v1\0";
/// Context of an attestation of a document's changes.
const ATTESTATION_CONTEXT: &[u8] = b"sprechtag attestation v1\0";

/// How long a certificate is valid: a laptop that does not reach the
/// server for this long can no longer exchange in a hall.
pub const CERTIFICATE_DAYS: i64 = 30;
/// A laptop asks for a new certificate when its own runs out within this.
pub const RENEW_DAYS: i64 = 15;

/// Largest signed object read from anywhere (a certificate is ~250 bytes;
/// a revocation list of 1,000 devices ~40 KB).
pub const MAX_SIGNED_BYTES: usize = 256 << 10;

/// What the server vouches for about a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCertificate {
    pub device_id: String,
    pub name: String,
    /// SHA-256 of a secret nonce and the user's name: the name travels
    /// only after the other laptop proved itself ([`UserProof::opens`]).
    #[serde(with = "serde_bytes")]
    pub user_commitment: Vec<u8>,
    pub role: Role,
    pub department: String,
    /// What the device's case numbers begin with ("ANS" in "ANS-0001"):
    /// a laptop checks a new case another relayed against it. Empty in
    /// certificates of the first hall release (renewed at the next sync).
    #[serde(default)]
    pub prefix: String,
    /// The device's registered automerge actor (32 hex digits), if any:
    /// changes by it are this device's.
    #[serde(default)]
    pub actor: Option<String>,
    /// The device's ed25519 public key.
    #[serde(with = "serde_bytes")]
    pub public_key: Vec<u8>,
    /// RFC 3339.
    pub issued_at: String,
    /// RFC 3339.
    pub valid_until: String,
}

impl DeviceCertificate {
    /// The departments' documents this device may hold: `None` for all
    /// (an admin device), like the server's scope.
    pub fn scope(&self) -> Option<&str> {
        (self.role != Role::Admin).then_some(self.department.as_str())
    }
}

/// The user of a certificate, and the nonce that shows it is the one the
/// server put into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProof {
    pub user: String,
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
}

impl UserProof {
    /// A new commitment to `user` (the server, when it certifies).
    pub fn new(user: &str) -> Result<UserProof, TrustError> {
        Ok(UserProof {
            user: user.to_string(),
            nonce: SigningKey::generate_seed()?.to_vec(),
        })
    }

    pub fn commitment(&self) -> Vec<u8> {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        hash.update(b"sprechtag user v1\0");
        hash.update(&self.nonce);
        hash.update(self.user.as_bytes());
        hash.finalize().to_vec()
    }

    /// Whether this is the user `certificate` names.
    pub fn opens(&self, certificate: &DeviceCertificate) -> bool {
        self.nonce.len() == 32 && self.commitment() == certificate.user_commitment
    }
}

/// The devices the server revoked, as of `issued_at`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    /// RFC 3339: of two lists, the later one holds.
    pub issued_at: String,
    pub revoked: Vec<String>,
}

impl RevocationList {
    /// What identifies the list's content (not its date): the first 16
    /// bytes of SHA-256 of the revoked ids, sorted (the server compares
    /// its own list with the one a device holds; nobody chooses either).
    pub fn digest(&self) -> Vec<u8> {
        use sha2::Digest;
        let mut ids: Vec<&str> = self.revoked.iter().map(String::as_str).collect();
        ids.sort_unstable();
        let mut hash = sha2::Sha256::new();
        for id in ids {
            hash.update(id.as_bytes());
            hash.update(b"\n");
        }
        hash.finalize()[..16].to_vec()
    }
}

/// A device's (or the server's) signature on a document's heads: every
/// change by the signer's actor that the heads reach is the signer's own
/// (the server's: every change it reaches was on the server). Changes
/// relayed by another device — exchanged in the hall — carry these, so
/// that the server can tell who wrote them, which the automerge actor
/// alone does not prove.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// The signer's certificate; empty for the server.
    pub certificate: Signed,
    /// Concatenated 32-byte hashes.
    #[serde(with = "serde_bytes")]
    pub heads: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
    /// Opens the certificate's commitment to its user: a laptop that takes
    /// the changes checks the names they sign against it. Not signed (the
    /// commitment in the signed certificate is); only ever sent inside an
    /// exchange between laptops that proved themselves, and to the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserProof>,
}

impl std::fmt::Debug for Attestation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attestation")
            .field("server", &self.certificate.body.is_empty())
            .field("heads", &(self.heads.len() / 32))
            .finish_non_exhaustive()
    }
}

/// Who signed an attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    Server,
    Device(Box<DeviceCertificate>),
}

fn attested(doc_id: &str, heads: &[u8]) -> Vec<u8> {
    [doc_id.as_bytes(), b"\0", heads].concat()
}

/// The signer of `attestation` of `doc_id`, if the signature holds: the
/// server's own, or a device's with a certificate of the server's (valid
/// or not by now: the changes were made while it was, and a revoked
/// device is refused by its own check).
pub fn verify_attestation(
    server_key: &[u8],
    doc_id: &str,
    attestation: &Attestation,
) -> Result<Signer, TrustError> {
    let message = attested(doc_id, &attestation.heads);
    if attestation.certificate.body.is_empty() {
        return if verify(
            server_key,
            ATTESTATION_CONTEXT,
            &message,
            &attestation.signature,
        ) {
            Ok(Signer::Server)
        } else {
            Err(TrustError::BadSignature)
        };
    }
    let certificate = read_certificate(server_key, &attestation.certificate)?;
    if verify(
        &certificate.public_key,
        ATTESTATION_CONTEXT,
        &message,
        &attestation.signature,
    ) {
        Ok(Signer::Device(Box::new(certificate)))
    } else {
        Err(TrustError::BadProof)
    }
}

/// Signed bytes: a CBOR body and the server's (or a device's) signature.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("body", &format_args!("{} bytes", self.body.len()))
            .finish_non_exhaustive()
    }
}

impl Signed {
    /// As stored and sent in JSON: hex of the CBOR of this.
    pub fn to_hex(&self) -> String {
        let mut cbor = Vec::new();
        let _ = ciborium::into_writer(self, &mut cbor);
        hex::encode(cbor)
    }

    pub fn from_hex(text: &str) -> Result<Signed, TrustError> {
        if text.len() > 2 * MAX_SIGNED_BYTES {
            return Err(TrustError::Malformed("too large".into()));
        }
        let bytes = hex::decode(text.trim()).map_err(|e| TrustError::Malformed(e.to_string()))?;
        ciborium::from_reader(bytes.as_slice()).map_err(|e| TrustError::Malformed(e.to_string()))
    }
}

/// Why a certificate, list or proof is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("not readable: {0}")]
    Malformed(String),
    #[error("the signature is not the server's")]
    BadSignature,
    #[error("the certificate is not valid at this time (valid until {0})")]
    Expired(String),
    #[error("the device {0} has been revoked")]
    Revoked(String),
    #[error("the device did not prove it holds the certified key")]
    BadProof,
    #[error("no key: {0}")]
    Key(String),
}

/// An ed25519 key pair: the server's (derived from its `server.key`) or a
/// device's (a random seed kept in its encrypted store).
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn from_seed(seed: &[u8; 32]) -> Result<SigningKey, TrustError> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(|pair| SigningKey { pair })
            .map_err(|e| TrustError::Key(e.to_string()))
    }

    /// A new random seed, to be kept secret.
    pub fn generate_seed() -> Result<[u8; 32], TrustError> {
        use ring::rand::SecureRandom;
        let mut seed = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| TrustError::Key("no randomness from the system".into()))?;
        Ok(seed)
    }

    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    fn sign(&self, context: &[u8], body: &[u8]) -> Vec<u8> {
        self.pair.sign(&[context, body].concat()).as_ref().to_vec()
    }

    /// The server signs a device's certificate.
    pub fn certify(&self, certificate: &DeviceCertificate) -> Signed {
        let body = cbor(certificate);
        Signed {
            signature: self.sign(CERTIFICATE_CONTEXT, &body),
            body,
        }
    }

    /// The server signs its list of revoked devices.
    pub fn sign_revocations(&self, list: &RevocationList) -> Signed {
        let body = cbor(list);
        Signed {
            signature: self.sign(REVOCATIONS_CONTEXT, &body),
            body,
        }
    }

    /// Signs `heads` of `doc_id` under `certificate` (a device's; `None`:
    /// the server's own attestation).
    pub fn attest(&self, certificate: Option<&Signed>, doc_id: &str, heads: &[u8]) -> Attestation {
        Attestation {
            certificate: certificate.cloned().unwrap_or(Signed {
                body: Vec::new(),
                signature: Vec::new(),
            }),
            heads: heads.to_vec(),
            signature: self.sign(ATTESTATION_CONTEXT, &attested(doc_id, heads)),
            user: None,
        }
    }

    /// A device proves it holds its key in one hall session: it signs
    /// what both ends of that TLS session, and only they, derived from it.
    pub fn prove(&self, session_binding: &[u8]) -> Vec<u8> {
        self.sign(HALL_PROOF_CONTEXT, session_binding)
    }
}

fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing plain types to a Vec cannot fail.
    let _ = ciborium::into_writer(value, &mut bytes);
    bytes
}

fn verify(key: &[u8], context: &[u8], body: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, key)
        .verify(&[context, body].concat(), signature)
        .is_ok()
}

fn time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, TrustError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| TrustError::Malformed(format!("{text:?}: {e}")))
}

/// The certificate in `signed`, if the server with `server_key` signed it
/// (whenever it is valid).
pub fn read_certificate(
    server_key: &[u8],
    signed: &Signed,
) -> Result<DeviceCertificate, TrustError> {
    if !verify(
        server_key,
        CERTIFICATE_CONTEXT,
        &signed.body,
        &signed.signature,
    ) {
        return Err(TrustError::BadSignature);
    }
    ciborium::from_reader(signed.body.as_slice()).map_err(|e| TrustError::Malformed(e.to_string()))
}

/// The certificate in `signed`, if the server with `server_key` signed it
/// and it is valid at `now`.
pub fn verify_certificate(
    server_key: &[u8],
    signed: &Signed,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<DeviceCertificate, TrustError> {
    let certificate = read_certificate(server_key, signed)?;
    if now < time(&certificate.issued_at)? - chrono::Duration::minutes(10)
        || now > time(&certificate.valid_until)?
    {
        return Err(TrustError::Expired(certificate.valid_until));
    }
    Ok(certificate)
}

/// The revocation list in `signed`, if the server with `server_key` signed it.
pub fn verify_revocations(
    server_key: &[u8],
    signed: &Signed,
) -> Result<RevocationList, TrustError> {
    if !verify(
        server_key,
        REVOCATIONS_CONTEXT,
        &signed.body,
        &signed.signature,
    ) {
        return Err(TrustError::BadSignature);
    }
    let list: RevocationList = ciborium::from_reader(signed.body.as_slice())
        .map_err(|e| TrustError::Malformed(e.to_string()))?;
    time(&list.issued_at)?;
    Ok(list)
}

/// Whether `proof` shows that the holder of `certificate`'s key signed
/// `session_binding`.
pub fn verify_proof(
    certificate: &DeviceCertificate,
    session_binding: &[u8],
    proof: &[u8],
) -> Result<(), TrustError> {
    if verify(
        &certificate.public_key,
        HALL_PROOF_CONTEXT,
        session_binding,
        proof,
    ) {
        Ok(())
    } else {
        Err(TrustError::BadProof)
    }
}

/// Of two lists, the later one (both verified).
pub fn newer(a: RevocationList, b: RevocationList) -> RevocationList {
    match (time(&a.issued_at), time(&b.issued_at)) {
        (Ok(ta), Ok(tb)) if tb > ta => b,
        _ => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc)
    }

    fn certificate(public_key: &[u8]) -> DeviceCertificate {
        DeviceCertificate {
            device_id: "dev-1".into(),
            name: "Laptop 1".into(),
            user_commitment: user().commitment(),
            role: Role::Caseworker,
            department: "buergerbuero".into(),
            prefix: "ANS".into(),
            actor: Some("00".repeat(16)),
            public_key: public_key.to_vec(),
            issued_at: "2026-12-01T10:00:00Z".into(),
            valid_until: "2026-12-31T10:00:00Z".into(),
        }
    }

    fn user() -> UserProof {
        UserProof {
            user: "Anna Schmidt".into(),
            nonce: vec![7; 32],
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_seed(&SigningKey::generate_seed().expect("seed")).expect("key")
    }

    #[test]
    fn a_certificate_is_accepted_only_under_its_servers_key_and_in_its_time() {
        let server = key();
        let device = key();
        let signed = server.certify(&certificate(device.public_key()));
        let read = verify_certificate(server.public_key(), &signed, now()).expect("valid");
        assert!(user().opens(&read));
        let other = UserProof {
            user: "Jens Müller".into(),
            ..user()
        };
        assert!(!other.opens(&read));
        // Signed by another key: a forged certificate.
        let forged = key().certify(&certificate(device.public_key()));
        assert_eq!(
            verify_certificate(server.public_key(), &forged, now()),
            Err(TrustError::BadSignature)
        );
        // One byte of the body changed.
        let mut tampered = signed.clone();
        tampered.body[10] ^= 1;
        assert_eq!(
            verify_certificate(server.public_key(), &tampered, now()),
            Err(TrustError::BadSignature)
        );
        let later = now() + chrono::Duration::days(40);
        assert!(matches!(
            verify_certificate(server.public_key(), &signed, later),
            Err(TrustError::Expired(_))
        ));
        // Round trip through the hex form kept in the store.
        let again = Signed::from_hex(&signed.to_hex()).expect("hex");
        assert_eq!(again, signed);
    }

    #[test]
    fn a_signature_made_for_one_purpose_is_not_valid_for_another() {
        let server = key();
        let list = RevocationList {
            issued_at: "2026-12-02T09:00:00Z".into(),
            revoked: vec!["dev-9".into()],
        };
        let signed = server.sign_revocations(&list);
        assert_eq!(
            verify_revocations(server.public_key(), &signed),
            Ok(list.clone())
        );
        // The list's bytes presented as a certificate.
        assert!(verify_certificate(server.public_key(), &signed, now()).is_err());
        // A device's session proof over the bytes of a certificate body.
        let device = key();
        let cert = certificate(device.public_key());
        let proof = device.prove(b"session-binding");
        assert_eq!(verify_proof(&cert, b"session-binding", &proof), Ok(()));
        assert_eq!(
            verify_proof(&cert, b"another session", &proof),
            Err(TrustError::BadProof)
        );
        let other = certificate(key().public_key());
        assert_eq!(
            verify_proof(&other, b"session-binding", &proof),
            Err(TrustError::BadProof)
        );
    }

    #[test]
    fn an_attestation_names_its_signer_only_for_its_document_and_heads() {
        let server = key();
        let device = key();
        let signed = server.certify(&certificate(device.public_key()));
        let heads = vec![7u8; 32];
        let by_device = device.attest(Some(&signed), "doc-1", &heads);
        assert!(matches!(
            verify_attestation(server.public_key(), "doc-1", &by_device),
            Ok(Signer::Device(c)) if c.device_id == "dev-1"
        ));
        assert_eq!(
            verify_attestation(server.public_key(), "doc-2", &by_device),
            Err(TrustError::BadProof)
        );
        let mut moved = by_device.clone();
        moved.heads = vec![8u8; 32];
        assert!(verify_attestation(server.public_key(), "doc-1", &moved).is_err());
        // A device cannot pass its own signature off as the server's.
        let mut as_server = by_device.clone();
        as_server.certificate.body.clear();
        assert!(verify_attestation(server.public_key(), "doc-1", &as_server).is_err());
        let by_server = server.attest(None, "doc-1", &heads);
        assert_eq!(
            verify_attestation(server.public_key(), "doc-1", &by_server),
            Ok(Signer::Server)
        );
        // A certificate from another server.
        let foreign = key().certify(&certificate(device.public_key()));
        let forged = device.attest(Some(&foreign), "doc-1", &heads);
        assert!(verify_attestation(server.public_key(), "doc-1", &forged).is_err());
    }

    #[test]
    fn of_two_revocation_lists_the_later_one_holds() {
        let old = RevocationList {
            issued_at: "2026-12-01T09:00:00Z".into(),
            revoked: vec![],
        };
        let new = RevocationList {
            issued_at: "2026-12-02T09:00:00Z".into(),
            revoked: vec!["dev-2".into()],
        };
        assert_eq!(newer(old.clone(), new.clone()), new);
        assert_eq!(newer(new.clone(), old), new);
    }

    #[test]
    fn hostile_hex_is_refused_not_panicked_on() {
        for text in ["", "zz", "a1", &"ff".repeat(300_000)] {
            assert!(Signed::from_hex(text).is_err(), "{}", text.len());
        }
    }
}
