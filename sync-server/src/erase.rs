//! Erasure: a case replaced by its tombstone (doc id, number, when, by
//! whom, why — no personal data). Every stored save and summary of it is
//! deleted in the same transaction, with `secure_delete` zeroing the freed
//! pages; [`crate::storage::Storage::purge`] then empties the write-ahead
//! log. Devices learn of the tombstone at their next sync and delete their
//! copies; an upload of the document is refused from then on (`erased`), so
//! a laptop that edited it offline cannot bring it back.
//!
//! Three ways lead here, all through [`erase`]: a back-office or admin
//! device's order in a sync request, `sprechtag-server case erase`, and
//! retention.

use automerge::ReadDoc;
use sprechtag_schemas::CaseSummary;
use sprechtag_schemas::wire::{EraseOrder, RefusalCode, Rejection, Tombstone};

use sprechtag_schemas::permissions::signed_by;

use crate::audit::{Event, NewEntry};
use crate::integrity::Refusal;
use crate::storage::{Device, Storage, StoredTombstone, SyncTransaction};
use crate::sync::{DocCache, SyncError};

/// Longest reason kept; it goes into the audit trail.
pub const MAX_REASON_CHARS: usize = 500;

/// Who erases.
#[derive(Debug, Clone, Copy)]
pub enum Eraser<'a> {
    /// A back-office or admin device, through sync.
    Device(&'a Device),
    /// An administrator on the server (`sprechtag-server case erase`).
    Administrator,
    /// The retention job: the case's period has passed.
    Retention,
}

impl Eraser<'_> {
    fn name(&self) -> String {
        match self {
            Eraser::Device(device) => format!("{} ({})", device.user, device.prefix),
            Eraser::Administrator => "server administration".into(),
            Eraser::Retention => "retention".into(),
        }
    }
}

/// Erases the case `doc_id` inside `tx`, or says why not. Erasing what is
/// erased already gives its tombstone again (orders are repeated when a
/// response is lost). A document the server never had gets a tombstone
/// too: a copy of it may still be on its way from another laptop.
pub fn erase(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    by: Eraser<'_>,
    doc_id: &str,
    reason: &str,
    now: &str,
    successor: Option<&str>,
) -> Result<Result<Tombstone, Refusal>, SyncError> {
    if !crate::sync::is_document_id(doc_id) {
        return Ok(Err((
            RefusalCode::BadDocumentId,
            format!("{doc_id:?} is not a document id"),
        )));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Ok(Err((
            RefusalCode::ForbiddenChange,
            format!("an erasure needs a reason of 1 to {MAX_REASON_CHARS} characters"),
        )));
    }
    if let Eraser::Device(device) = by
        && !device.role.may_erase()
    {
        return Ok(Err((
            RefusalCode::Forbidden,
            format!("a {} device may not erase cases", device.role),
        )));
    }
    if let Some(tombstone) = tx.tombstone(doc_id)? {
        return Ok(Ok(tombstone.wire()));
    }
    let meta = tx.document_meta(doc_id)?;
    let scope = match by {
        Eraser::Device(device) => device.scope(),
        Eraser::Administrator | Eraser::Retention => None,
    };
    let department = match (&meta, scope) {
        (Some(meta), Some(scope)) if meta.department.as_deref() != Some(scope) => {
            return Ok(Err((
                RefusalCode::Forbidden,
                "the case belongs to another department".into(),
            )));
        }
        (Some(meta), _) => meta.department.clone(),
        (None, scope) => scope.map(str::to_string),
    };
    // Cases, and ideas and complaints (which may name someone); an office
    // hour keeps anonymous figures only, the knowledge base none at all.
    let erasable = [
        sprechtag_schemas::document::DocumentKind::Case.as_str(),
        sprechtag_schemas::document::DocumentKind::Feedback.as_str(),
    ];
    if let Some(meta) = &meta
        && !erasable.contains(&meta.kind.as_str())
    {
        return Ok(Err((
            RefusalCode::Forbidden,
            "only cases and ideas or complaints are erased; an office hour keeps \
             anonymous figures only"
                .into(),
        )));
    }
    let number = match &meta {
        Some(meta) => case_number(tx, cache, doc_id, meta.seq)?,
        None => String::new(),
    };
    let tombstone = StoredTombstone {
        doc_id: doc_id.to_string(),
        number,
        erased_at: now.to_string(),
        erased_by: by.name(),
        reason: reason.to_string(),
        successor: successor.map(str::to_string),
    };
    tx.erase_document(department.as_deref(), &tombstone)?;
    cache.forget(doc_id);
    let entry = NewEntry::new(Event::CaseErased)
        .cases(vec![doc_id.to_string()])
        .detail(serde_json::json!({
            "number": tombstone.number,
            "reason": tombstone.reason,
            "by": tombstone.erased_by,
            "successor": tombstone.successor,
        }));
    tx.append_audit(match by {
        Eraser::Device(device) => entry.device(device),
        Eraser::Administrator | Eraser::Retention => entry,
    })?;
    Ok(Ok(tombstone.wire()))
}

/// The number of a stored case: from its summary, else from the document.
fn case_number(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    doc_id: &str,
    seq: crate::storage::Seq,
) -> Result<String, SyncError> {
    if let Some(summary) = tx
        .document_summary(doc_id)?
        .and_then(|bytes| CaseSummary::decode(&bytes))
    {
        return Ok(summary.number);
    }
    let doc = crate::sync::load(tx, cache, doc_id, seq)?;
    Ok(match doc.get(automerge::ROOT, "number") {
        Ok(Some((automerge::Value::Scalar(value), _))) => {
            value.as_str().unwrap_or_default().to_string()
        }
        _ => String::new(),
    })
}

/// The id of the case `id_or_number` names: a document id, a case number
/// or a former number; erased cases are found by their tombstone.
pub fn resolve(
    storage: &dyn Storage,
    id_or_number: &str,
) -> crate::storage::Result<Option<String>> {
    let wanted = id_or_number.trim();
    if let Some(tombstone) = storage
        .tombstones()?
        .into_iter()
        .find(|t| t.doc_id == wanted || (!t.number.is_empty() && t.number == wanted))
    {
        return Ok(Some(tombstone.doc_id));
    }
    Ok(storage
        .case_summaries()?
        .into_iter()
        .find(|(id, bytes)| {
            id == wanted
                || CaseSummary::decode(bytes).is_some_and(|s| {
                    s.number == wanted || s.former_numbers.iter().any(|n| n == wanted)
                })
        })
        .map(|(id, _)| id))
}

/// Erases one case in a transaction of its own and empties the log (the
/// server's `case erase` command).
pub fn erase_one(
    storage: &dyn Storage,
    cache: &DocCache,
    by: Eraser<'_>,
    doc_id: &str,
    reason: &str,
) -> Result<Result<Tombstone, Refusal>, SyncError> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut tx = storage.begin()?;
    let outcome = erase(tx.as_mut(), cache, by, doc_id, reason, &now, None)?;
    tx.commit()?;
    if outcome.is_ok() {
        storage.purge()?;
    }
    Ok(outcome)
}

/// A correction on its way: the predecessor is checked and read before the
/// request's uploads, its successor is taken under the predecessor's
/// number and recorder (`integrity`) and with its comments and verdict as
/// they were (`check_successor`), and the predecessor is erased only once
/// the successor is stored.
#[derive(Debug, Clone)]
pub struct Correction {
    pub predecessor: String,
    pub successor: String,
    pub reason: String,
    /// The predecessor's number, which the successor must carry.
    pub number: String,
    /// Who recorded the visit and when, which the successor keeps.
    pub created_by: String,
    pub created_at: String,
    /// The predecessor's comments and verdict: the successor carries them
    /// over unchanged, signed by others though its author writes them.
    pub comments: Vec<sprechtag_schemas::Comment>,
    pub review: Option<sprechtag_schemas::Review>,
}

impl Correction {
    /// What is wrong with the successor beyond what `integrity` checks: a
    /// comment or verdict signed by someone else than `author` must be one
    /// the predecessor had, unchanged — nobody speaks in another's name by
    /// correcting a case.
    pub fn check_successor(
        &self,
        successor: &sprechtag_schemas::Case,
        author: &Device,
    ) -> Result<(), Refusal> {
        let forged = |why: String| Err((RefusalCode::ForbiddenChange, why));
        if successor.created_at != self.created_at {
            return forged(format!(
                "created_at: a corrected case keeps its predecessor's ({:?})",
                self.created_at
            ));
        }
        let own = |name: &str| signed_by(name, &author.user);
        for comment in &successor.comments {
            if !own(&comment.author) && !self.comments.contains(comment) {
                return forged(format!(
                    "comment {} signed {:?}: not the predecessor's, not by {}",
                    comment.id, comment.author, author.user
                ));
            }
        }
        if let Some(review) = &successor.review
            && !own(&review.by)
            && self.review.as_ref() != Some(review)
        {
            return forged(format!(
                "review signed {:?}: not the predecessor's, not by {}",
                review.by, author.user
            ));
        }
        Ok(())
    }
}

/// Checks a correction order before the uploads of its request.
pub fn prepare_correction(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    device: &Device,
    order: &EraseOrder,
) -> Result<Result<Correction, Refusal>, SyncError> {
    let Some(successor) = order.successor.as_deref() else {
        return Ok(Err((RefusalCode::ForbiddenChange, "no successor".into())));
    };
    let forbidden = |why: String| Ok(Err((RefusalCode::Forbidden, why)));
    if !device.role.may_erase() {
        return forbidden(format!("a {} device may not correct cases", device.role));
    }
    let reason = order.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Ok(Err((
            RefusalCode::ForbiddenChange,
            format!("a correction needs a reason of 1 to {MAX_REASON_CHARS} characters"),
        )));
    }
    for id in [order.doc_id.as_str(), successor] {
        if !crate::sync::is_document_id(id) {
            return Ok(Err((
                RefusalCode::BadDocumentId,
                format!("{id:?} is not a document id"),
            )));
        }
        if tx.tombstone(id)?.is_some() {
            return Ok(Err((RefusalCode::Erased, format!("{id} was erased"))));
        }
    }
    if tx.document_meta(successor)?.is_some() {
        return forbidden(format!("the successor {successor} exists already"));
    }
    let Some(meta) = tx.document_meta(&order.doc_id)? else {
        return forbidden("the server does not hold the case to correct".into());
    };
    if meta.kind != sprechtag_schemas::document::DocumentKind::Case.as_str() {
        return forbidden("only cases are corrected".into());
    }
    if let Some(scope) = device.scope()
        && meta.department.as_deref() != Some(scope)
    {
        return forbidden("the case belongs to another department".into());
    }
    let doc = crate::sync::load(tx, cache, &order.doc_id, meta.seq)?;
    let case: sprechtag_schemas::Case = match sprechtag_schemas::document::read(doc.as_ref()) {
        Ok(case) => case,
        Err(e) => return Ok(Err((RefusalCode::InvalidDocument, e.to_string()))),
    };
    Ok(Ok(Correction {
        predecessor: order.doc_id.clone(),
        successor: successor.to_string(),
        reason: reason.to_string(),
        number: case.number,
        created_by: case.created_by,
        created_at: case.created_at,
        comments: case.comments,
        review: case.review,
    }))
}

/// What a request's erase orders came to before its uploads.
#[derive(Debug, Default)]
pub struct Taken {
    /// Erased now (or earlier: a repeated order).
    pub erased: Vec<Tombstone>,
    /// Corrections waiting for their successors among the uploads.
    pub corrections: Vec<Correction>,
    pub rejected: Vec<Rejection>,
}

fn rejection(doc_id: &str, (code, message): Refusal) -> Rejection {
    Rejection {
        doc_id: doc_id.to_string(),
        code: code.as_str().to_string(),
        message,
    }
}

/// Carries out a request's plain erasures and prepares its corrections.
pub fn take_orders(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    device: &Device,
    orders: &[EraseOrder],
    now: &str,
) -> Result<Taken, SyncError> {
    let mut taken = Taken::default();
    for order in orders {
        if order.successor.is_some() {
            match prepare_correction(tx, cache, device, order)? {
                Ok(correction) => taken.corrections.push(correction),
                Err(refusal) => taken.rejected.push(rejection(&order.doc_id, refusal)),
            }
            continue;
        }
        let by = Eraser::Device(device);
        match erase(tx, cache, by, &order.doc_id, &order.reason, now, None)? {
            Ok(tombstone) => taken.erased.push(tombstone),
            Err(refusal) => taken.rejected.push(rejection(&order.doc_id, refusal)),
        }
    }
    Ok(taken)
}

/// Erases the predecessors of the corrections whose successors were
/// accepted; a correction whose successor was refused is refused too, and
/// its case stays as it is.
pub fn complete_corrections(
    tx: &mut dyn SyncTransaction,
    cache: &DocCache,
    device: &Device,
    corrections: &[Correction],
    accepted: &[String],
    now: &str,
) -> Result<Taken, SyncError> {
    let mut done = Taken::default();
    for correction in corrections {
        let predecessor = correction.predecessor.as_str();
        if !accepted.contains(&correction.successor) {
            let why = format!(
                "the corrected case {} was not taken; the case stays as it is",
                correction.successor
            );
            done.rejected
                .push(rejection(predecessor, (RefusalCode::ForbiddenChange, why)));
            continue;
        }
        let by = Eraser::Device(device);
        let successor = Some(correction.successor.as_str());
        match erase(
            tx,
            cache,
            by,
            predecessor,
            &correction.reason,
            now,
            successor,
        )? {
            Ok(tombstone) => done.erased.push(tombstone),
            Err(refusal) => done.rejected.push(rejection(predecessor, refusal)),
        }
    }
    Ok(done)
}

/// Adds the tombstone of every upload refused as erased: the device learns
/// why at once (the tombstone may lie beyond this response's budget).
pub fn explain_refusals(
    tx: &mut dyn SyncTransaction,
    rejected: &[Rejection],
    erased: &mut Vec<Tombstone>,
) -> Result<(), SyncError> {
    for refused in rejected {
        if refused.code == RefusalCode::Erased.as_str()
            && !erased.iter().any(|t| t.doc_id == refused.doc_id)
            && let Some(tombstone) = tx.tombstone(&refused.doc_id)?
        {
            erased.push(tombstone.wire());
        }
    }
    Ok(())
}
