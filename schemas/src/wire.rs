//! Wire types of the sync protocol, version 1 (`POST /v1/sync`), described in
//! `docs/sync-protocol.md`. Bodies are CBOR, compressed with zstd; both
//! directions are bounded in size, so a long backlog travels in several
//! requests, each committed on its own.

use std::io::Read;

use serde::{Deserialize, Serialize};

pub const PROTOCOL_VERSION: u32 = 1;
/// Content type of sync bodies in both directions.
pub const CONTENT_TYPE: &str = "application/vnd.sprechtag.sync+cbor+zstd";
/// Largest compressed request body the server reads.
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// Largest body after decompression (a zip bomb stops here).
pub const MAX_DECODED_BYTES: usize = 32 << 20;
/// Most change bytes a client puts into one request, and a server into one
/// response: about 2 s at 256 kbit/s.
pub const BATCH_BYTES: usize = 64 << 10;
/// Where a client starts, doubling after each committed round: a link cut
/// early in a sync then wastes at most a few KiB.
pub const FIRST_BATCH_BYTES: usize = 8 << 10;
/// The least a response carries (at least one document in any case).
pub const MIN_BATCH_BYTES: usize = 4 << 10;

/// One round of sync: what the device has that the server may lack, and how
/// far it has received the server's changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub protocol: u32,
    /// The server's `cursor` of the last response this device committed.
    pub cursor: u64,
    pub uploads: Vec<Upload>,
    /// How many change bytes the response may carry (0: the server's
    /// default, `BATCH_BYTES`). A client on a bad link asks for less.
    #[serde(default)]
    pub max_response_bytes: u32,
    /// Send case summaries with whole documents (`Download::summary`): the
    /// device indexes new cases without loading them, for some 60 more
    /// compressed bytes per case — worth it unless the link is slow.
    #[serde(default)]
    pub summaries: bool,
    /// Cases this device opened since its last request, for the server's
    /// audit trail ("who looked at this citizen's case"); at most
    /// `MAX_OPENED`, oldest first.
    #[serde(default)]
    pub opened: Vec<Opened>,
    /// Cases this device erases (a back-office or admin device only), at
    /// most `MAX_ERASE` per request. Answered in `SyncResponse::erased`, or
    /// refused in `rejected`.
    #[serde(default)]
    pub erase: Vec<EraseOrder>,
    /// The device starts over (its store was restored from a backup, or
    /// the server's was): the server forgets which heads it believed the
    /// device held, and `cursor` is 0. Uploads then carry whole documents.
    #[serde(default)]
    pub resync: bool,
    /// Certify this device's key and send the server's key and current
    /// revocation list (`SyncResponse::trust`): asked for with the first
    /// round of every sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustRequest>,
}

/// What a device holds of the server's trust, in a few bytes, so that an
/// idle sync carries nothing else: the server answers with what is new.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrustRequest {
    /// The device's public key (ed25519, 32 bytes), when it needs a
    /// certificate: none held, or one that runs out within
    /// `trust::RENEW_DAYS`, or one of another key.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub public_key: Option<Vec<u8>>,
    /// The first bytes of the server key the device holds (empty: none).
    #[serde(default, with = "serde_bytes")]
    pub server_key: Vec<u8>,
    /// `trust::RevocationList::digest` of the list the device holds.
    #[serde(default, with = "serde_bytes")]
    pub revocations: Vec<u8>,
}

/// Bytes of the server key a device names in `TrustRequest::server_key`.
pub const SERVER_KEY_HINT_BYTES: usize = 8;

/// What a device needs to meet other devices without the server
/// (`crate::trust`): its certificate, the key that signed it, and which
/// devices are revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trust {
    /// When the device holds another (it drops what it holds under the
    /// old key and asks again) or gets a certificate.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub server_key: Option<Vec<u8>>,
    /// A new certificate, unless the device holds one for long enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certified>,
    /// A `trust::RevocationList`, signed; unless the device holds this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocations: Option<crate::trust::Signed>,
}

/// A device certificate and what opens its commitment to the user's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certified {
    /// A `trust::DeviceCertificate`, signed.
    pub certificate: crate::trust::Signed,
    /// Shown only to a laptop that proved itself.
    pub user: crate::trust::UserProof,
}

/// Most erasures one request carries; the rest follow.
pub const MAX_ERASE: usize = 100;

/// A case to be erased everywhere, on a person's request or because its
/// retention period has passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EraseOrder {
    pub doc_id: String,
    /// Why, for the audit trail (no personal data: "Antrag nach Art. 17").
    pub reason: String,
    /// A correction (Art. 16): the document that replaces this one, under
    /// the same number and without its history, uploaded in the same
    /// request. The old one is erased only once the new one is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
}

/// What is left of an erased document: no personal data, only what lets
/// every device drop its copy and refuse it for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tombstone {
    pub doc_id: String,
    /// The case number, so that a person asking for it learns it was erased.
    pub number: String,
    /// RFC 3339.
    pub erased_at: String,
    /// A corrected case's new document (same number, history from the
    /// correction on); `None` for an erasure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
}

/// Most case openings one request carries; the rest follow.
pub const MAX_OPENED: usize = 1_000;

/// A case opened on a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    pub doc_id: String,
    /// RFC 3339, as the device's clock said.
    pub at: String,
}

/// Changes of one document, from the heads the server is known to have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upload {
    pub doc_id: String,
    /// An automerge incremental save (`save_after`) or a full save.
    #[serde(with = "serde_bytes")]
    pub changes: Vec<u8>,
    /// The device's heads after these changes, 32 bytes each.
    #[serde(with = "serde_bytes")]
    pub heads: Vec<u8>,
    /// Signatures that tell who wrote changes of other devices than the
    /// uploader (relayed from the hall): the authors', or the server's
    /// own from an earlier download (`Download::attestation`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<crate::trust::Attestation>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub protocol: u32,
    /// Uploaded documents now durable on the server.
    pub accepted: Vec<String>,
    /// Uploaded documents the server refused, with the reason.
    pub rejected: Vec<Rejection>,
    /// Changes of documents in the device's scope that it lacks.
    pub downloads: Vec<Download>,
    /// Commit this with the downloads and send it with the next request.
    pub cursor: u64,
    /// More downloads are waiting: send another request.
    pub more: bool,
    /// Documents erased on the server since the device's cursor (and those
    /// it ordered erased in this request): the device deletes its copies.
    #[serde(default)]
    pub erased: Vec<Tombstone>,
    /// The epoch of the server's history: a random id that changes when
    /// the server is restored from a backup. A device that sees another
    /// epoch than at its last sync starts over (`SyncRequest::resync`).
    #[serde(default)]
    pub epoch: String,
    /// The request's cursor lies beyond the server's newest change (the
    /// server lost changes, e.g. restored by hand): nothing was done; the
    /// device starts over.
    #[serde(default)]
    pub resync: bool,
    /// The server's clock (RFC 3339), the reference for the laptops':
    /// each learns its offset from it (`clock`).
    #[serde(default)]
    pub server_time: String,
    /// The answer to `SyncRequest::trust`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<Trust>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub doc_id: String,
    /// A [`RefusalCode`] as text: a device reads a code of a newer server
    /// as unknown instead of failing on it.
    pub code: String,
    /// The server's explanation, in English, for logs and support.
    pub message: String,
}

/// Why the server refused an uploaded document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalCode {
    /// The document id is not a UUID-like string.
    BadDocumentId,
    /// The heads are not 32-byte hashes.
    BadHeads,
    /// The document belongs to another department than the device.
    Forbidden,
    /// The bytes are no automerge changes the server can read.
    BadChanges,
    /// Neither a case nor an office hour.
    UnknownDocument,
    /// A case became an office hour or the other way round.
    KindChanged,
    /// A new document does not name the device's department.
    WrongDepartment,
    /// The changes do not reach the heads the device sent.
    Incomplete,
    /// A change touches a part of the document its author's role may not
    /// change, rewrites what may only be added, or signs in another name.
    ForbiddenChange,
    /// A change by an actor no enrolled device registered.
    UnknownAuthor,
    /// The document does not have the shape of its kind, or names another id.
    InvalidDocument,
    /// A new case's number does not carry its author's prefix.
    ForeignNumber,
    /// The document was erased: it is never taken again.
    Erased,
}

impl RefusalCode {
    pub const ALL: &'static [RefusalCode] = &[
        RefusalCode::BadDocumentId,
        RefusalCode::BadHeads,
        RefusalCode::Forbidden,
        RefusalCode::BadChanges,
        RefusalCode::UnknownDocument,
        RefusalCode::KindChanged,
        RefusalCode::WrongDepartment,
        RefusalCode::Incomplete,
        RefusalCode::ForbiddenChange,
        RefusalCode::UnknownAuthor,
        RefusalCode::InvalidDocument,
        RefusalCode::ForeignNumber,
        RefusalCode::Erased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::BadDocumentId => "bad_document_id",
            RefusalCode::BadHeads => "bad_heads",
            RefusalCode::Forbidden => "forbidden",
            RefusalCode::BadChanges => "bad_changes",
            RefusalCode::UnknownDocument => "unknown_document",
            RefusalCode::KindChanged => "kind_changed",
            RefusalCode::WrongDepartment => "wrong_department",
            RefusalCode::Incomplete => "incomplete",
            RefusalCode::ForbiddenChange => "forbidden_change",
            RefusalCode::UnknownAuthor => "unknown_author",
            RefusalCode::InvalidDocument => "invalid_document",
            RefusalCode::ForeignNumber => "foreign_number",
            RefusalCode::Erased => "erased",
        }
    }

    /// The code of a [`Rejection`]; `None` for one this build does not know.
    pub fn parse(code: &str) -> Option<RefusalCode> {
        RefusalCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == code)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Download {
    pub doc_id: String,
    /// `case` or `office_hour`.
    pub kind: String,
    #[serde(with = "serde_bytes")]
    pub changes: Vec<u8>,
    /// The server's heads of the document, 32 bytes each.
    #[serde(with = "serde_bytes")]
    pub heads: Vec<u8>,
    /// When `changes` is the whole document of a case (the device held none
    /// of it): the case's summary at `heads` as the server read it
    /// (`CaseSummary::encode`), so that the device can index the case
    /// without loading the document. Absent otherwise; a device that does
    /// not know the summary's layout version reads the document itself.
    #[serde(default, with = "serde_bytes", skip_serializing_if = "Option::is_none")]
    pub summary: Option<Vec<u8>>,
    /// The server's signature on `heads`: everything they reach was on the
    /// server. Sent back with uploads after a restore of the server, whose
    /// lost changes by other devices it then takes again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<crate::trust::Attestation>,
}

/// `POST /v1/enrol`: a one-time code for a device token. `Debug` leaves
/// out the code.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub code: String,
    /// The device's automerge actor (32 hex digits). Every change the
    /// device makes is written by this actor, or by one that begins with
    /// it (a save made beside a synced change); the server takes changes
    /// only from actors it knows.
    #[serde(default)]
    pub actor: Option<String>,
}

impl std::fmt::Debug for EnrolRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolRequest")
            .field("code", &"<redacted>")
            .field("actor", &self.actor)
            .finish()
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub device_id: String,
    /// Sent once; the server keeps only its hash.
    pub token: String,
    pub name: String,
    pub user: String,
    pub role: String,
    pub department: String,
    /// The case-number prefix reserved for this device.
    pub prefix: String,
}

impl std::fmt::Debug for EnrolResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolResponse")
            .field("device_id", &self.device_id)
            .field("token", &"<redacted>")
            .field("role", &self.role)
            .field("department", &self.department)
            .finish_non_exhaustive()
    }
}

/// `GET /v1/cases/{id}/access` (JSON): what the server's audit trail knows
/// of one case — which device received, changed, opened or erased it, and
/// when — for a citizen's access request (Art. 15 GDPR). Back-office and
/// admin devices only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseAccess {
    pub entries: Vec<AccessEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// RFC 3339: the server's time, or the device's for an opening.
    pub at: String,
    /// `received` (a copy was sent to the device), `changed` (the device
    /// uploaded changes), `opened` (opened on the device), `erased`.
    pub what: String,
    /// The enrolled user of the device.
    pub user: String,
    pub device_id: String,
}

/// Every 4xx and 5xx answer of the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// A stable code for programs: `bad_request`, `unauthorized`, `revoked`, ...
    pub error: String,
    /// What happened, for people.
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the body is not zstd-compressed data: {0}")]
    Compression(String),
    #[error("the body is larger than {MAX_DECODED_BYTES} bytes once decompressed")]
    TooLarge,
    #[error("the body is not a valid sync message: {0}")]
    Decode(String),
    #[error("protocol version {0} is not supported; this side speaks {PROTOCOL_VERSION}")]
    Version(u32),
}

/// CBOR, then zstd.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut cbor = Vec::new();
    // Writing to a Vec cannot fail for these plain types.
    let _ = ciborium::into_writer(message, &mut cbor);
    zstd::encode_all(cbor.as_slice(), 3).unwrap_or_default()
}

/// The reverse of `encode`, for bytes from anywhere: bounded, never panics.
pub fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, WireError> {
    let decoder = zstd::stream::read::Decoder::new(body)
        .map_err(|e| WireError::Compression(e.to_string()))?;
    let mut cbor = Vec::new();
    decoder
        .take(MAX_DECODED_BYTES as u64 + 1)
        .read_to_end(&mut cbor)
        .map_err(|e| WireError::Compression(e.to_string()))?;
    if cbor.len() > MAX_DECODED_BYTES {
        return Err(WireError::TooLarge);
    }
    ciborium::from_reader(cbor.as_slice()).map_err(|e| WireError::Decode(e.to_string()))
}

impl SyncRequest {
    /// The response budget this request asks for, within the protocol's bounds.
    pub fn response_budget(&self) -> usize {
        match self.max_response_bytes {
            0 => BATCH_BYTES,
            asked => (asked as usize).clamp(MIN_BATCH_BYTES, BATCH_BYTES),
        }
    }

    pub fn decode(body: &[u8]) -> Result<SyncRequest, WireError> {
        let request: SyncRequest = decode(body)?;
        if request.protocol != PROTOCOL_VERSION {
            return Err(WireError::Version(request.protocol));
        }
        Ok(request)
    }
}

/// Heads as concatenated 32-byte hashes, the form on the wire.
pub fn heads_to_bytes(heads: &[automerge::ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

/// Parses concatenated 32-byte hashes; `None` if the length is not a multiple of 32.
pub fn heads_from_bytes(bytes: &[u8]) -> Option<Vec<automerge::ChangeHash>> {
    if !bytes.len().is_multiple_of(32) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(32)
            .map(|chunk| {
                let mut hash = [0u8; 32];
                hash.copy_from_slice(chunk);
                automerge::ChangeHash(hash)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_survives_encoding() {
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: 42,
            max_response_bytes: 0,
            summaries: true,
            uploads: vec![Upload {
                attestations: Vec::new(),
                doc_id: "d".into(),
                changes: vec![1, 2, 3],
                heads: vec![7; 32],
            }],
            opened: Vec::new(),
            erase: Vec::new(),
            resync: false,
            trust: None,
        };
        assert_eq!(
            SyncRequest::decode(&encode(&request)).expect("decode"),
            request
        );
    }

    /// The summary came after the protocol's first release: responses of
    /// servers without it still decode, and clients without it ignore it.
    #[test]
    fn the_optional_summary_keeps_version_1_compatible_both_ways() {
        #[derive(Serialize, Deserialize)]
        struct DownloadBefore {
            doc_id: String,
            kind: String,
            #[serde(with = "serde_bytes")]
            changes: Vec<u8>,
            #[serde(with = "serde_bytes")]
            heads: Vec<u8>,
        }
        let before = DownloadBefore {
            doc_id: "d".into(),
            kind: "case".into(),
            changes: vec![1, 2],
            heads: vec![7; 32],
        };
        let now: Download = decode(&encode(&before)).expect("decodes");
        assert_eq!(now.summary, None);

        let with_summary = Download {
            summary: Some(vec![9, 9]),
            ..now
        };
        let encoded = encode(&with_summary);
        assert_eq!(decode::<Download>(&encoded).expect("decodes"), with_summary);
        let old: DownloadBefore = decode(&encoded).expect("an older client decodes it");
        assert_eq!(old.changes, [1, 2]);
    }

    #[test]
    fn another_protocol_version_is_refused() {
        let request = SyncRequest {
            protocol: 99,
            cursor: 0,
            uploads: vec![],
            max_response_bytes: 0,
            summaries: false,
            opened: Vec::new(),
            erase: Vec::new(),
            resync: false,
            trust: None,
        };
        assert!(matches!(
            SyncRequest::decode(&encode(&request)),
            Err(WireError::Version(99))
        ));
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        let zeros = vec![0u8; MAX_DECODED_BYTES + 10];
        let bomb = zstd::encode_all(zeros.as_slice(), 3).expect("compress");
        assert!(bomb.len() < 100_000);
        assert!(matches!(
            decode::<SyncRequest>(&bomb),
            Err(WireError::TooLarge)
        ));
    }
}
