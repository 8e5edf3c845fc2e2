//! What the hall exchange needs from the store: which documents another
//! laptop may hold (with their heads), the changes it lacks, and taking
//! another laptop's changes — checked like a server's download, but never
//! marked as on the server: what arrives from a peer is uploaded with the
//! next server sync by whichever laptop syncs first.

use automerge::{ChangeHash, ReadDoc};
use rusqlite::TransactionBehavior;
use sprechtag_schemas::document::{self, DocumentKind};
use sprechtag_schemas::trust;
use sprechtag_schemas::wire::{Download, heads_from_bytes, heads_to_bytes};

use super::attestations;
use super::case_index::FullTextRows;
use super::documents;
use super::privacy;
use super::sync_state::{Source, Taken, take_download};
use super::{HallIdentity, Result, Store, StoreError};

/// A document and the heads one side holds of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Offer {
    pub doc_id: String,
    /// Concatenated 32-byte hashes; empty: the side does not hold it.
    #[serde(with = "serde_bytes")]
    pub heads: Vec<u8>,
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
        let rows: Vec<(String, String, String)> = self
            .conn
            .prepare("SELECT id, kind, heads FROM documents ORDER BY id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        // A laptop of one department holds that department's documents
        // only (the server sees to it); an admin's are read one by one.
        let own_scope = self
            .enrolment()?
            .filter(|e| e.role != sprechtag_schemas::Role::Admin)
            .map(|e| e.department);
        let mut offer = Vec::with_capacity(rows.len());
        for (id, kind, heads) in rows {
            let Some(kind) = DocumentKind::from_name(&kind) else {
                continue;
            };
            if scope.is_some() && own_scope.as_deref() != scope && !kind.is_county_wide() {
                let doc = self.read_doc(&id, kind)?;
                if !in_scope(kind, department_of(&doc).as_deref(), scope) {
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
        let mut attestations = attestations::of_devices(&self.conn, doc_id)?;
        if let Some(identity) = signer {
            attestations.push(
                identity
                    .key
                    .attest(Some(&identity.certificate), doc_id, &heads),
            );
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
    /// for all) or was erased here is refused, the rest are taken. Nothing
    /// is marked as on the server.
    pub fn take_from_peer(
        &mut self,
        docs: &[PeerDoc],
        scope: Option<&str>,
    ) -> Result<TakenFromPeer> {
        let mut outcome = TakenFromPeer::default();
        // Attestations are kept only if the server signed their certificates.
        let server_key = self.hall_identity()?.map(|identity| identity.server_key);
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
                let kind = DocumentKind::from_name(&doc.kind)
                    .ok_or_else(|| StoreError::Invalid("unknown kind".into()))?;
                let loaded =
                    documents::load_for_edit(&tx, &doc.doc_id, kind, None, self.device.actor())?;
                if in_scope(kind, department_of(&loaded.doc).as_deref(), scope) {
                    Ok(taken)
                } else {
                    Err(StoreError::Invalid(
                        "a document of another department".into(),
                    ))
                }
            });
            match taken {
                Ok(taken) => {
                    for attestation in &doc.attestations {
                        let signer = server_key.as_deref().and_then(|key| {
                            trust::verify_attestation(key, &doc.doc_id, attestation).ok()
                        });
                        if let Some(trust::Signer::Device(certificate)) = signer {
                            attestations::keep(
                                &tx,
                                &doc.doc_id,
                                &certificate.device_id,
                                attestation,
                            )?;
                        }
                    }
                    tx.execute_batch("RELEASE peer")?;
                    full_text.absorb(rows);
                    outcome.taken += 1;
                    if let Taken::Loaded(Some(doc)) = taken {
                        merged.push(*doc);
                    }
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

    /// The kind and heads of `id` as the documents table holds them: what
    /// an exchange compares without loading the document (every 10 s, for
    /// every document of the scope).
    fn kind_and_heads(&self, id: &str) -> Result<Option<(DocumentKind, Vec<ChangeHash>)>> {
        use rusqlite::OptionalExtension;
        let row: Option<(String, String)> = self
            .conn
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
}

/// Another laptop this one exchanged with in the hall, and when last.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HallContact {
    pub device_id: String,
    pub name: String,
    pub user: String,
    /// RFC 3339.
    pub at: String,
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

    use sprechtag_schemas::document;
    use sprechtag_schemas::wire::heads_to_bytes;
    use sprechtag_schemas::{Case, Citizen};

    use super::PeerDoc;
    use crate::store::Store;

    fn peer_case(department: &str, surname: &str) -> PeerDoc {
        let mut case = Case::draft(Citizen {
            surname: surname.into(),
            given_names: "Erika".into(),
            ..Citizen::default()
        });
        case.id = sprechtag_schemas::new_id();
        case.number = "ABC-0001".into();
        case.department = Some(department.into());
        let mut doc =
            document::create(automerge::ActorId::random(), &case, "recorded").expect("document");
        PeerDoc {
            doc_id: case.id,
            kind: "case".into(),
            heads: heads_to_bytes(&doc.get_heads()),
            changes: doc.save_nocompress(),
            attestations: Vec::new(),
        }
    }

    /// Another laptop's documents are taken one by one: what is outside
    /// this laptop's department, not a document, compressed or named with
    /// an id no document has is refused, and the rest is taken.
    #[test]
    fn a_peers_hostile_documents_are_refused_one_by_one_and_the_rest_is_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = Arc::new(crate::catalog::shipped().expect("catalogue"));
        let mut store =
            Store::create(dir.path(), "Leuchtturm-Fischbrötchen-7", catalog).expect("store");
        let good = peer_case("buergerbuero", "Gut");
        let foreign = peer_case("sozialamt", "Fremd");
        let mut garbage = peer_case("buergerbuero", "Kaputt");
        garbage.changes = vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 0, 9, 9];
        let mut compressed = peer_case("buergerbuero", "Gepackt");
        let mut doc = document::load(&compressed.changes).expect("load");
        compressed.changes = doc.save();
        let mut bad_id = peer_case("buergerbuero", "Ohne");
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
        let why = |id: &str| {
            taken
                .refused
                .iter()
                .find(|(refused, _)| refused == id)
                .map(|(_, why)| why.clone())
                .unwrap_or_default()
        };
        assert!(why(&foreign.doc_id).contains("another department"));
        assert!(
            why(&compressed.doc_id).contains("uncompressed"),
            "{}",
            why(&compressed.doc_id)
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
}
