//! Signatures that tell who wrote a document's changes (`trust::
//! Attestation`), kept with the document: another laptop's, taken with its
//! changes in the hall, go to the server with the next upload of that
//! document (the server takes a change by another device than the uploader
//! only with its author's signature); the server's own, from its last
//! download of the document, go back only when the laptop starts over
//! after a restore of the server, which then takes again what it lost.

use automerge::ReadDoc;
use rusqlite::{Connection, params};
use sprechtag_schemas::trust::Attestation;

use super::{Result, StoreError};

/// The signer of the server's own attestations.
pub(super) const SERVER: &str = "server";

fn encode(attestation: &Attestation) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing plain types to a Vec cannot fail.
    let _ = ciborium::into_writer(attestation, &mut bytes);
    bytes
}

/// Keeps `attestation` by `signer` of `doc_id` in place of an older one.
pub(super) fn keep(
    conn: &Connection,
    doc_id: &str,
    signer: &str,
    attestation: &Attestation,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO attestations (doc_id, signer, attestation, sent) VALUES (?1, ?2, ?3, 0)
         ON CONFLICT (doc_id, signer) DO UPDATE SET attestation = excluded.attestation, sent = 0",
    )?
    .execute(params![doc_id, signer, encode(attestation)])?;
    Ok(())
}

/// The attestations of `doc_id` to send: the other laptops' the server has
/// not taken yet, or, when `all`, every one including the server's.
pub(super) fn to_send(conn: &Connection, doc_id: &str, all: bool) -> Result<Vec<Attestation>> {
    let rows: Vec<Vec<u8>> = conn
        .prepare_cached(
            "SELECT attestation FROM attestations
             WHERE doc_id = ?1 AND (?2 OR (sent = 0 AND signer != 'server'))
             ORDER BY signer",
        )?
        .query_map(params![doc_id, all], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    rows.iter()
        .map(|bytes| {
            ciborium::from_reader(bytes.as_slice())
                .map_err(|e| StoreError::Corrupt(format!("an attestation of {doc_id}: {e}")))
        })
        .collect()
}

/// Keeps `attestation` of `doc_id` by `signer` (signing `signed`), which
/// another laptop passed on, in place of the one held if it reaches all
/// that one did — a signer's document only grows, so a later signature
/// reaches all an earlier one did, and an older one (or the same without
/// its user) passed on by another laptop does not replace it. `doc`: the
/// document with the signed changes taken.
pub(super) fn keep_if_later(
    conn: &Connection,
    doc_id: &str,
    signer: &str,
    attestation: &Attestation,
    signed: &[automerge::ChangeHash],
    doc: &automerge::Automerge,
) -> Result<()> {
    use rusqlite::OptionalExtension;
    // Heads this document lacks (another laptop may show any heads once
    // signed): kept nowhere, and not asked of automerge.
    if signed.iter().any(|h| doc.get_change_by_hash(h).is_none()) {
        return Ok(());
    }
    let held: Option<Vec<u8>> = conn
        .prepare_cached("SELECT attestation FROM attestations WHERE doc_id = ?1 AND signer = ?2")?
        .query_row(params![doc_id, signer], |r| r.get(0))
        .optional()?;
    let held: Option<Attestation> =
        held.and_then(|bytes| ciborium::from_reader(bytes.as_slice()).ok());
    let Some(held) = held else {
        return keep(conn, doc_id, signer, attestation);
    };
    if held.heads == attestation.heads && (held.user.is_some() || attestation.user.is_none()) {
        return Ok(());
    }
    let Some(held_heads) = sprechtag_schemas::wire::heads_from_bytes(&held.heads) else {
        return keep(conn, doc_id, signer, attestation);
    };
    // What `signed` does not reach, of the document.
    let beyond: std::collections::HashSet<automerge::ChangeHash> = doc
        .get_changes_meta(signed)
        .iter()
        .map(|c| c.hash)
        .collect();
    if held_heads.iter().all(|h| !beyond.contains(h)) {
        keep(conn, doc_id, signer, attestation)?;
    }
    Ok(())
}

/// The server took an upload of `doc_id` that carried what was unsent.
pub(super) fn sent(conn: &Connection, doc_id: &str) -> Result<()> {
    conn.prepare_cached("UPDATE attestations SET sent = 1 WHERE doc_id = ?1")?
        .execute([doc_id])?;
    Ok(())
}
