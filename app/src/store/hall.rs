//! What the hall exchange needs from the store: which documents another
//! laptop may hold (with their heads), the changes it lacks, and taking
//! another laptop's changes — checked like a server's download, but never
//! marked as on the server: what arrives from a peer is uploaded with the
//! next server sync by whichever laptop syncs first.

use automerge::{ChangeHash, ReadDoc};
use rusqlite::Connection;
use rusqlite::TransactionBehavior;
use sprechtag_schemas::document::{self, DocumentKind};
use sprechtag_schemas::integrity::{self, Author, Authors, NewChanges, Provenance, Refusal};
use sprechtag_schemas::trust::{self, DeviceCertificate, RevocationList};
use sprechtag_schemas::wire::{Download, RefusalCode, heads_from_bytes, heads_to_bytes};

use super::attestations;
use super::case_index::FullTextRows;
use super::privacy;
use super::sync_state::{Source, Taken, take_download};
use super::{HallIdentity, Result, Store, StoreError};

/// Most changes of one document by several authors that a laptop checks one
/// by one (each a diff of the document): a day's edits of a case are
/// fifteen; a document that brings more from another laptop is refused and
/// arrives with a server sync.
const MAX_CHECKED_CHANGES: usize = 2_000;

/// A document and the heads one side holds of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Offer {
    pub doc_id: String,
    /// Concatenated 32-byte hashes; empty: the side does not hold it.
    #[serde(with = "serde_bytes")]
    pub heads: Vec<u8>,
}

/// What identifies an offer's content: the first 16 bytes of SHA-256 over
/// its documents and their heads, in id order. Two laptops whose digests
/// agree hold the same documents at the same heads, and have nothing to
/// exchange; a laptop sends its whole offer (48 bytes a document) only
/// when they do not.
pub fn offer_digest(offer: &[Offer]) -> Vec<u8> {
    use sha2::Digest;
    let mut entries: Vec<&Offer> = offer.iter().collect();
    entries.sort_unstable_by(|a, b| a.doc_id.cmp(&b.doc_id));
    let mut hash = sha2::Sha256::new();
    hash.update(b"sprechtag hall offer v1\0");
    for entry in entries {
        let mut heads: Vec<&[u8]> = entry.heads.chunks(32).collect();
        heads.sort_unstable();
        hash.update(entry.doc_id.as_bytes());
        hash.update(u32::try_from(heads.len()).unwrap_or(u32::MAX).to_be_bytes());
        for head in heads {
            hash.update(head);
        }
    }
    hash.finalize()[..16].to_vec()
}

/// Changes of one document for the other laptop.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PeerDoc {
    pub doc_id: String,
    pub kind: String,
    #[serde(with = "serde_bytes")]
    pub changes: Vec<u8>,
    /// The sender's heads after these changes.
    #[serde(with = "serde_bytes")]
    pub heads: Vec<u8>,
    /// Who wrote them: the sender's signature on its heads, and those of
    /// other laptops it took them from; what the receiver shows the server
    /// when it uploads changes that are not its own.
    #[serde(default)]
    pub attestations: Vec<sprechtag_schemas::trust::Attestation>,
}

/// The laptop whose documents are taken, as the exchange proved it: its
/// certificate (checked against the server's key and revocation list) and
/// the user it opened.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub certificate: &'a DeviceCertificate,
    pub user: &'a str,
}

/// The authors a laptop knows in the hall: itself, the sender, and the
/// devices whose signed certificates came with a document's changes.
struct Certified<'a> {
    authors: Vec<(String, Author)>,
    revoked: &'a RevocationList,
}

impl<'a> Certified<'a> {
    fn new(revoked: &'a RevocationList) -> Self {
        Certified {
            authors: Vec::new(),
            revoked,
        }
    }

    /// `user`: the name the exchange or an attestation's proof opened in
    /// the certificate; empty if none did (then the author signs nothing).
    fn add(&mut self, certificate: &DeviceCertificate, user: &str) {
        let Some(actor) = &certificate.actor else {
            return;
        };
        self.authors
            .push((actor.clone(), Author::certified(certificate, user)));
    }
}

impl Authors for Certified<'_> {
    type Error = std::convert::Infallible;

    fn author(
        &mut self,
        registered: &str,
    ) -> std::result::Result<std::result::Result<Author, Refusal>, Self::Error> {
        let Some((_, author)) = self.authors.iter().find(|(actor, _)| actor == registered) else {
            return Ok(Err((
                RefusalCode::UnknownAuthor,
                format!(
                    "changes by actor {registered}…, which no certificate sent with them names"
                ),
            )));
        };
        if self.revoked.revoked.contains(&author.id) {
            return Ok(Err((
                RefusalCode::ForbiddenChange,
                format!("changes by revoked device {}", author.id),
            )));
        }
        Ok(Ok(author.clone()))
    }
}

/// What taking a peer's documents did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TakenFromPeer {
    pub taken: usize,
    /// Documents refused, with why (erased here, outside this laptop's
    /// scope, unreadable).
    pub refused: Vec<(String, String)>,
}

fn department_of(doc: &impl ReadDoc) -> Option<String> {
    match doc.get(automerge::ROOT, "department") {
        Ok(Some((automerge::Value::Scalar(value), _))) => value.as_str().map(str::to_string),
        _ => None,
    }
}

fn in_scope(kind: DocumentKind, department: Option<&str>, scope: Option<&str>) -> bool {
    kind.is_county_wide() || scope.is_none() || department == scope
}

impl Store {
    /// Every document a laptop whose scope is `scope` (`None`: all) may
    /// hold, with this laptop's heads.
    pub fn hall_offer(&mut self, scope: Option<&str>) -> Result<Vec<Offer>> {
        // A laptop of one department holds that department's documents
        // only (the server sees to it); an admin's are told by the
        // department the case and office-hour indexes hold (every 10 s, so
        // no document is loaded), and other documents one by one.
        let own_scope = self
            .enrolment()?
            .filter(|e| e.role != sprechtag_schemas::Role::Admin)
            .map(|e| e.department);
        let filter = scope.is_some() && own_scope.as_deref() != scope;
        let rows: Vec<(String, String, String, Option<String>, bool)> = self
            .conn
            .prepare(
                "SELECT d.id, d.kind, d.heads, coalesce(c.department, o.department),
                        c.id IS NOT NULL OR o.id IS NOT NULL
                 FROM documents d
                 LEFT JOIN cases c ON c.id = d.id
                 LEFT JOIN office_hours o ON o.id = d.id
                 ORDER BY d.id",
            )?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut offer = Vec::with_capacity(rows.len());
        for (id, kind, heads, indexed_department, indexed) in rows {
            let Some(kind) = DocumentKind::from_name(&kind) else {
                continue;
            };
            if filter && !kind.is_county_wide() {
                let department = if indexed {
                    indexed_department
                } else {
                    // Unreadable here: nothing to offer.
                    match self.read_doc(&id, kind) {
                        Ok(doc) => department_of(&doc),
                        Err(e) if e.is_unreadable_document() => continue,
                        Err(e) => return Err(e),
                    }
                };
                if !in_scope(kind, department.as_deref(), scope) {
                    continue;
                }
            }
            let heads: Vec<ChangeHash> = heads
                .split_whitespace()
                .filter_map(|h| h.parse().ok())
                .collect();
            offer.push(Offer {
                doc_id: id,
                heads: heads_to_bytes(&heads),
            });
        }
        Ok(offer)
    }

    /// The changes of `doc_id` that a laptop holding `their_heads` lacks,
    /// with this laptop's signature on its heads (`signer`, the identity
    /// read once per exchange) and the other laptops' it holds; `None`
    /// when it lacks nothing (or this laptop does not hold it).
    pub fn hall_changes(
        &mut self,
        doc_id: &str,
        their_heads: &[u8],
        signer: Option<&HallIdentity>,
    ) -> Result<Option<PeerDoc>> {
        let theirs = heads_from_bytes(their_heads).unwrap_or_default();
        let Some((kind, stored)) = self.kind_and_heads(doc_id)? else {
            return Ok(None);
        };
        if document::same_heads(&stored, &theirs) {
            return Ok(None);
        }
        let mut doc = self.read_doc(doc_id, kind)?;
        let heads = doc.get_heads();
        if document::same_heads(&heads, &theirs) {
            return Ok(None);
        }
        let known: Vec<ChangeHash> = theirs
            .into_iter()
            .filter(|h| doc.get_change_by_hash(h).is_some())
            .collect();
        let changes = if known.is_empty() {
            doc.save_nocompress()
        } else {
            doc.save_after(&known)
        };
        if changes.is_empty() {
            return Ok(None);
        }
        let heads = heads_to_bytes(&heads);
        // The server's (what came from it) and the other laptops' it took
        // with their changes: the receiver checks who wrote what.
        let mut attestations = attestations::to_send(&self.conn, doc_id, true)?;
        if let Some(identity) = signer {
            let mut own = identity
                .key
                .attest(Some(&identity.certificate), doc_id, &heads);
            own.user = Some(identity.user.clone());
            attestations.push(own);
        }
        Ok(Some(PeerDoc {
            doc_id: doc_id.to_string(),
            kind: kind.as_str().to_string(),
            changes,
            heads,
            attestations,
        }))
    }

    /// Of another laptop's offer, what this one lacks: each with the heads
    /// held here (empty for a document not held). Erased ones and ids no
    /// document can have are not asked for; what arrives is checked
    /// against this laptop's scope when it is taken.
    pub fn hall_wants(&mut self, offer: &[Offer]) -> Result<Vec<Offer>> {
        let mut wants = Vec::new();
        for offered in offer {
            let Some(theirs) = heads_from_bytes(&offered.heads) else {
                continue;
            };
            if !document::is_document_id(&offered.doc_id) {
                continue;
            }
            let Some((kind, stored)) = self.kind_and_heads(&offered.doc_id)? else {
                if !privacy::is_erased(&self.conn, &offered.doc_id)? {
                    wants.push(Offer {
                        doc_id: offered.doc_id.clone(),
                        heads: Vec::new(),
                    });
                }
                continue;
            };
            // Their heads among these: nothing to ask for, nothing loaded.
            if theirs.iter().all(|h| stored.contains(h)) {
                continue;
            }
            let mut doc = self.read_doc(&offered.doc_id, kind)?;
            let mine = doc.get_heads();
            if theirs.iter().any(|h| doc.get_change_by_hash(h).is_none()) {
                wants.push(Offer {
                    doc_id: offered.doc_id.clone(),
                    heads: heads_to_bytes(&mine),
                });
            }
        }
        Ok(wants)
    }

    /// Takes another laptop's changes, each document on its own: one that
    /// cannot be read, lies outside this laptop's scope (`scope`: `None`
    /// for all), was erased here, or holds a change its author may not
    /// make or did not sign (`schemas::integrity`, as the server checks an
    /// upload) is refused, the rest are taken. Nothing is marked as on the
    /// server.
    pub fn take_from_peer(
        &mut self,
        docs: &[PeerDoc],
        sender: Sender<'_>,
        scope: Option<&str>,
    ) -> Result<TakenFromPeer> {
        let mut outcome = TakenFromPeer::default();
        let Some(identity) = self.hall_identity()? else {
            return Err(StoreError::Invalid(
                "this laptop has no certificate for the hall".into(),
            ));
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut full_text = FullTextRows::default();
        let mut merged = Vec::new();
        for doc in docs {
            let refuse = |why: String| (doc.doc_id.clone(), why);
            // The server would refuse it forever: it would stay pending.
            if !document::is_document_id(&doc.doc_id) {
                outcome.refused.push(refuse("not a document id".into()));
                continue;
            }
            if privacy::is_erased(&tx, &doc.doc_id)? {
                outcome.refused.push(refuse("erased on this laptop".into()));
                continue;
            }
            // Nothing compressed: automerge would inflate without a bound.
            if let Err(e) = document::check_plain_chunks(&doc.changes) {
                outcome.refused.push(refuse(e.to_string()));
                continue;
            }
            let Some(kind) = DocumentKind::from_name(&doc.kind) else {
                outcome
                    .refused
                    .push(refuse("an unknown kind of document".into()));
                continue;
            };
            let attested = integrity::verified_attestations(
                &identity.server_key,
                &doc.doc_id,
                &doc.attestations,
            );
            let mut authors = Certified::new(&identity.revoked);
            authors.add(&identity.own, &identity.user.user);
            authors.add(sender.certificate, sender.user);
            for (_, signer, attestation) in &attested {
                if let trust::Signer::Device(certificate) = signer {
                    let user = attestation
                        .user
                        .as_ref()
                        .filter(|proof| proof.opens(certificate))
                        .map(|proof| proof.user.as_str());
                    authors.add(certificate, user.unwrap_or_default());
                }
            }
            let attested_heads: Vec<integrity::Attested> =
                attested.iter().map(|(heads, _, _)| heads.clone()).collect();
            let before = kind_and_heads(&tx, &doc.doc_id)?
                .map(|(_, heads)| heads)
                .unwrap_or_default();
            let download = Download {
                attestation: None,
                doc_id: doc.doc_id.clone(),
                kind: doc.kind.clone(),
                heads: doc.heads.clone(),
                changes: doc.changes.clone(),
                summary: None,
            };
            tx.execute_batch("SAVEPOINT peer")?;
            let mut rows = FullTextRows::default();
            let taken = take_download(
                &tx,
                self.cache.get(&doc.doc_id),
                self.device.actor(),
                &download,
                &mut rows,
                Source::Peer,
            )
            .and_then(|taken| {
                // Another laptop's changes are always loaded (no summary).
                let Taken::Loaded(mut merged) = taken else {
                    return Err(StoreError::Invalid("taken without loading".into()));
                };
                if !in_scope(kind, department_of(&merged.doc).as_deref(), scope) {
                    return Err(StoreError::Invalid(
                        "a document of another department".into(),
                    ));
                }
                let new = NewChanges {
                    doc: merged.doc.document(),
                    before: &before,
                    kind,
                    new_document: before.is_empty(),
                    successor_of: None,
                };
                let provenance = Provenance {
                    sender: &sender.certificate.device_id,
                    attested: &attested_heads,
                    trust_server: true,
                    max_checked: Some(MAX_CHECKED_CHANGES),
                };
                let Ok(checked) = integrity::check_changes(&new, &provenance, &mut authors);
                if let Err((_, why)) = checked {
                    return Err(StoreError::Invalid(why));
                }
                Ok(merged)
            });
            match taken {
                Ok(mut taken) => {
                    for (attested, signer, attestation) in &attested {
                        let signer = match signer {
                            trust::Signer::Device(certificate) => certificate.device_id.as_str(),
                            trust::Signer::Server => attestations::SERVER,
                        };
                        attestations::keep_if_later(
                            &tx,
                            &doc.doc_id,
                            signer,
                            attestation,
                            &attested.heads,
                            taken.doc.document(),
                        )?;
                    }
                    tx.execute_batch("RELEASE peer")?;
                    full_text.absorb(rows);
                    outcome.taken += 1;
                    merged.extend(taken.into_remembered());
                }
                Err(e) if e.is_unreadable_document() || matches!(e, StoreError::Invalid(_)) => {
                    tx.execute_batch("ROLLBACK TO peer; RELEASE peer")?;
                    outcome.refused.push(refuse(e.to_string()));
                }
                Err(e) => return Err(e),
            }
        }
        full_text.write(&tx)?;
        tx.commit()?;
        let knowledge = docs
            .iter()
            .any(|d| d.kind == "catalog" || d.kind == "answer");
        for (id, doc, version) in merged {
            self.remember(&id, doc, version);
        }
        if knowledge && outcome.taken > 0 {
            self.knowledge_changed()?;
        }
        Ok(outcome)
    }

    fn kind_and_heads(&self, id: &str) -> Result<Option<(DocumentKind, Vec<ChangeHash>)>> {
        kind_and_heads(&self.conn, id)
    }
}

/// The kind and heads of `id` as the documents table holds them: what an
/// exchange compares without loading the document (every 10 s, for every
/// document of the scope).
fn kind_and_heads(conn: &Connection, id: &str) -> Result<Option<(DocumentKind, Vec<ChangeHash>)>> {
    use rusqlite::OptionalExtension;
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT kind, heads FROM documents WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.and_then(|(kind, heads)| {
        let heads = heads
            .split_whitespace()
            .filter_map(|h| h.parse().ok())
            .collect();
        DocumentKind::from_name(&kind).map(|kind| (kind, heads))
    }))
}

/// Another laptop this one exchanged with in the hall, and when last.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HallContact {
    pub device_id: String,
    pub name: String,
    pub user: String,
    /// RFC 3339.
    pub at: String,
    /// Hex of the offer digest of what this laptop held in the other's
    /// scope when the exchange ended (`offer_digest`): unchanged since,
    /// the next exchange starts with the digest alone.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

/// Contacts kept: a hall has a handful of laptops, a county a few dozen.
const MAX_CONTACTS: usize = 50;
const CONTACTS: &str = "hall.contacts";

impl Store {
    /// Remembers an exchange with `device_id` (for the list and the
    /// status bar).
    pub fn record_hall_contact(&mut self, contact: &HallContact) -> Result<()> {
        let mut contacts = self.hall_contacts()?;
        contacts.retain(|c| c.device_id != contact.device_id);
        contacts.insert(0, contact.clone());
        contacts.truncate(MAX_CONTACTS);
        let text =
            serde_json::to_string(&contacts).map_err(|e| StoreError::Invalid(e.to_string()))?;
        super::set_setting(&self.conn, CONTACTS, &text)
    }

    /// The offer digest held when the last exchange with `device_id` ended.
    pub fn hall_digest(&self, device_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .hall_contacts()?
            .into_iter()
            .find(|c| c.device_id == device_id)
            .and_then(|c| hex::decode(c.digest).ok())
            .filter(|digest| !digest.is_empty()))
    }

    /// The laptops this one exchanged with, the latest first.
    pub fn hall_contacts(&self) -> Result<Vec<HallContact>> {
        Ok(super::setting(&self.conn, CONTACTS)?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use automerge::ActorId;
    use sprechtag_schemas::document;
    use sprechtag_schemas::trust::{
        Attestation, DeviceCertificate, RevocationList, Signed, SigningKey, UserProof,
    };
    use sprechtag_schemas::wire::{Certified, Trust, heads_to_bytes};
    use sprechtag_schemas::{Case, Citizen, Review, ReviewState, Role};

    use super::{PeerDoc, Sender};
    use crate::store::Store;

    /// A device as the test's server certified it.
    struct Device {
        key: SigningKey,
        certificate: Signed,
        read: DeviceCertificate,
        user: UserProof,
    }

    impl Device {
        fn new(server: &SigningKey, id: &str, prefix: &str, role: Role) -> Device {
            let key =
                SigningKey::from_seed(&SigningKey::generate_seed().expect("seed")).expect("key");
            let actor = hex::encode(&id.as_bytes()[..16]);
            Device::with_key(server, key, id, prefix, role, &actor)
        }

        fn with_key(
            server: &SigningKey,
            key: SigningKey,
            id: &str,
            prefix: &str,
            role: Role,
            actor: &str,
        ) -> Device {
            let user = UserProof::new(&format!("user of {id}")).expect("user");
            let read = DeviceCertificate {
                device_id: id.into(),
                name: format!("Laptop {id}"),
                user_commitment: user.commitment(),
                role,
                department: "buergerbuero".into(),
                prefix: prefix.into(),
                actor: Some(actor.into()),
                public_key: key.public_key().to_vec(),
                issued_at: "2026-12-01T08:00:00Z".into(),
                valid_until: "2026-12-31T08:00:00Z".into(),
            };
            Device {
                certificate: server.certify(&read),
                key,
                read,
                user,
            }
        }

        fn actor(&self) -> ActorId {
            ActorId::from(hex::decode(self.read.actor.as_deref().unwrap_or_default()).expect("hex"))
        }

        fn sender(&self) -> Sender<'_> {
            Sender {
                certificate: &self.read,
                user: &self.user.user,
            }
        }

        /// Its signature on `doc`'s heads, with its user.
        fn attest(&self, doc: &PeerDoc) -> Attestation {
            let mut attestation = self
                .key
                .attest(Some(&self.certificate), &doc.doc_id, &doc.heads);
            attestation.user = Some(self.user.clone());
            attestation
        }
    }

    fn case_by(department: &str, number: &str, surname: &str) -> Case {
        let mut case = Case::draft(Citizen {
            surname: surname.into(),
            given_names: "Erika".into(),
            ..Citizen::default()
        });
        case.id = sprechtag_schemas::new_id();
        case.number = number.into();
        case.department = Some(department.into());
        case
    }

    fn peer_doc(actor: ActorId, case: &Case) -> PeerDoc {
        let mut doc = document::create(actor, case, "recorded").expect("document");
        PeerDoc {
            doc_id: case.id.clone(),
            kind: "case".into(),
            heads: heads_to_bytes(&doc.get_heads()),
            changes: doc.save_nocompress(),
            attestations: Vec::new(),
        }
    }

    fn peer_case(by: &Device, department: &str, surname: &str) -> PeerDoc {
        let number = format!("{}-0001", by.read.prefix);
        peer_doc(by.actor(), &case_by(department, &number, surname))
    }

    /// A store of a certified caseworker laptop, and the test's server key.
    fn certified_store(dir: &std::path::Path, revoked: &[&str]) -> (Store, SigningKey) {
        let catalog = Arc::new(crate::catalog::shipped().expect("catalogue"));
        let mut store = Store::create(dir, "Leuchtturm-Fischbrötchen-7", catalog).expect("store");
        let server = SigningKey::from_seed(&[9; 32]).expect("server key");
        let own_key = store.signing_key().expect("own key");
        let actor = hex::encode(&store.device.actor().to_bytes()[..16]);
        let own = Device::with_key(&server, own_key, "own", "OWN", Role::Caseworker, &actor);
        let revocations = server.sign_revocations(&RevocationList {
            issued_at: "2026-12-01T08:00:00Z".into(),
            revoked: revoked.iter().map(|id| id.to_string()).collect(),
        });
        store
            .record_trust(&Trust {
                server_key: Some(server.public_key().to_vec()),
                certificate: Some(Certified {
                    certificate: own.certificate,
                    user: own.user,
                }),
                revocations: Some(revocations),
            })
            .expect("trust");
        (store, server)
    }

    fn why(taken: &super::TakenFromPeer, id: &str) -> String {
        taken
            .refused
            .iter()
            .find(|(refused, _)| refused == id)
            .map(|(_, why)| why.clone())
            .unwrap_or_default()
    }

    /// Another laptop's documents are taken one by one: what is outside
    /// this laptop's department, not a document, compressed or named with
    /// an id no document has is refused, and the rest is taken.
    #[test]
    fn a_peers_hostile_documents_are_refused_one_by_one_and_the_rest_is_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, server) = certified_store(dir.path(), &[]);
        let peer = Device::new(&server, "peer-device-0001", "ABC", Role::Caseworker);
        let good = peer_case(&peer, "buergerbuero", "Gut");
        let foreign = peer_case(&peer, "sozialamt", "Fremd");
        let mut garbage = peer_case(&peer, "buergerbuero", "Kaputt");
        garbage.changes = vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 0, 9, 9];
        let mut compressed = peer_case(&peer, "buergerbuero", "Gepackt");
        let mut doc = document::load(&compressed.changes).expect("load");
        compressed.changes = doc.save();
        let mut bad_id = peer_case(&peer, "buergerbuero", "Ohne");
        bad_id.doc_id = "../../etc/passwd".into();
        let taken = store
            .take_from_peer(
                &[
                    good.clone(),
                    foreign.clone(),
                    garbage.clone(),
                    compressed.clone(),
                    bad_id,
                ],
                peer.sender(),
                Some("buergerbuero"),
            )
            .expect("take");
        assert_eq!(taken.taken, 1, "{taken:?}");
        let refused: Vec<&str> = taken.refused.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            refused,
            [
                foreign.doc_id.as_str(),
                garbage.doc_id.as_str(),
                compressed.doc_id.as_str(),
                "../../etc/passwd"
            ]
        );
        assert!(why(&taken, &foreign.doc_id).contains("another department"));
        assert!(
            why(&taken, &compressed.doc_id).contains("uncompressed"),
            "{}",
            why(&taken, &compressed.doc_id)
        );
        assert_eq!(
            store.case(&good.doc_id).expect("taken").citizen.surname,
            "Gut"
        );
        for id in [&foreign.doc_id, &garbage.doc_id, &compressed.doc_id] {
            assert!(store.case(id).is_err(), "{id} must not be stored");
        }
        // Taken from a peer: not on the server as far as this laptop knows,
        // and not its own (it is uploaded whole, never renumbered).
        let marks: Vec<String> = store
            .conn
            .prepare("SELECT synced_heads FROM documents")
            .expect("query")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("marks");
        assert_eq!(marks, ["peer"]);
        assert_eq!(store.pending_count().expect("pending"), 1);
    }

    /// The receiving laptop holds what arrives to the server's rules: the
    /// sender's own changes by its role and prefix, a third laptop's only
    /// with that laptop's signature, nothing by an actor no certificate
    /// names or by a device the server revoked.
    #[test]
    fn a_laptop_takes_only_changes_their_authors_may_make_and_signed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, server) = certified_store(dir.path(), &["revoked-dev-0001"]);
        let peer = Device::new(&server, "peer-device-0001", "ABC", Role::Caseworker);
        let third = Device::new(&server, "third-device-001", "DEF", Role::Caseworker);
        let revoked = Device::new(&server, "revoked-dev-0001", "GHI", Role::Caseworker);
        let other_server = SigningKey::from_seed(&[7; 32]).expect("key");
        let forged = Device::new(&other_server, "forged-dev-00001", "JKL", Role::Backoffice);

        let mut own = peer_case(&peer, "buergerbuero", "Eigen");
        // A signature of the server's on heads this document does not have:
        // it vouches for nothing here, and is not kept.
        own.attestations = vec![server.attest(None, &own.doc_id, &[0x11; 32])];
        // A caseworker's verdict, relayed as if the back office gave it.
        let mut with_verdict = case_by("buergerbuero", "ABC-0002", "Urteil");
        with_verdict.review = Some(Review {
            state: ReviewState::Approved,
            by: "user of peer-device-0001".into(),
            at: "2026-12-01T09:00:00Z".into(),
        });
        let verdict = peer_doc(peer.actor(), &with_verdict);
        // Numbered with another laptop's prefix.
        let foreign_number = peer_doc(
            peer.actor(),
            &case_by("buergerbuero", "DEF-0009", "Fremdnummer"),
        );
        let mut relayed = peer_case(&third, "buergerbuero", "Weitergereicht");
        relayed.attestations = vec![third.attest(&relayed)];
        // Signed once, then changed again by its author: the later change
        // travels without a signature that reaches it.
        let unsigned = {
            use automerge::ReadDoc;
            use automerge::transaction::Transactable;
            let case = case_by("buergerbuero", "DEF-0001", "Unsigniert");
            let mut doc = document::create(third.actor(), &case, "recorded").expect("document");
            let first = PeerDoc {
                doc_id: case.id.clone(),
                kind: "case".into(),
                heads: heads_to_bytes(&doc.get_heads()),
                changes: Vec::new(),
                attestations: Vec::new(),
            };
            let signature = third.attest(&first);
            let Ok(Some((_, citizen))) = doc.get(automerge::ROOT, "citizen") else {
                panic!("a case has a citizen");
            };
            doc.put(&citizen, "surname", "Später").expect("edit");
            PeerDoc {
                heads: heads_to_bytes(&doc.get_heads()),
                changes: doc.save_nocompress(),
                attestations: vec![signature],
                ..first
            }
        };
        let stranger = peer_doc(
            ActorId::random(),
            &case_by("buergerbuero", "ABC-0003", "Fremder"),
        );
        let mut by_revoked = peer_case(&revoked, "buergerbuero", "Widerrufen");
        by_revoked.attestations = vec![revoked.attest(&by_revoked)];
        let mut by_forged = peer_case(&forged, "buergerbuero", "Gefälscht");
        by_forged.attestations = vec![forged.attest(&by_forged)];
        // The server's signature: taken as the server took it.
        let mut vouched = peer_case(&revoked, "buergerbuero", "Vom Server");
        vouched.attestations = vec![server.attest(None, &vouched.doc_id, &vouched.heads)];

        let docs = [
            own.clone(),
            verdict.clone(),
            foreign_number.clone(),
            relayed.clone(),
            unsigned.clone(),
            stranger.clone(),
            by_revoked.clone(),
            by_forged.clone(),
            vouched.clone(),
        ];
        let taken = store
            .take_from_peer(&docs, peer.sender(), Some("buergerbuero"))
            .expect("take");
        let refused: Vec<&str> = taken.refused.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            refused,
            [
                verdict.doc_id.as_str(),
                foreign_number.doc_id.as_str(),
                unsigned.doc_id.as_str(),
                stranger.doc_id.as_str(),
                by_revoked.doc_id.as_str(),
                by_forged.doc_id.as_str(),
            ],
            "{taken:?}"
        );
        assert_eq!(taken.taken, 3, "{taken:?}");
        assert!(why(&taken, &verdict.doc_id).contains("not for this role"));
        assert!(why(&taken, &foreign_number.doc_id).contains("ABC-"));
        assert!(why(&taken, &unsigned.doc_id).contains("without its author's signature"));
        assert!(why(&taken, &stranger.doc_id).contains("no certificate"));
        assert!(why(&taken, &by_revoked.doc_id).contains("revoked"));
        assert!(why(&taken, &by_forged.doc_id).contains("no certificate"));
        for doc in [&own, &relayed, &vouched] {
            assert!(store.case(&doc.doc_id).is_ok(), "{} taken", doc.doc_id);
        }
        for doc in [&verdict, &unsigned, &stranger, &by_revoked, &by_forged] {
            assert!(store.case(&doc.doc_id).is_err(), "{} refused", doc.doc_id);
        }
        // What vouches for the changes is kept for the next laptop, and
        // for the server: the third laptop's signature and the server's.
        let held =
            super::attestations::to_send(&store.conn, &relayed.doc_id, true).expect("attestations");
        assert_eq!(held, relayed.attestations);
        // Passed on again without its user: the signature held keeps it.
        let mut stripped = relayed.clone();
        stripped.attestations[0].user = None;
        store
            .take_from_peer(&[stripped], peer.sender(), Some("buergerbuero"))
            .expect("take again");
        let held =
            super::attestations::to_send(&store.conn, &relayed.doc_id, true).expect("attestations");
        assert_eq!(held, relayed.attestations);
        let held =
            super::attestations::to_send(&store.conn, &own.doc_id, true).expect("attestations");
        assert!(held.is_empty(), "{held:?}");
        let held =
            super::attestations::to_send(&store.conn, &vouched.doc_id, true).expect("attestations");
        assert_eq!(held, vouched.attestations);
    }
}
