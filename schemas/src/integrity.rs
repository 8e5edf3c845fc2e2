//! What changes to a document their authors may make — decided by whoever
//! takes them: the sync server for every upload, a laptop for what another
//! laptop brings in the hall. Never by the device that sends them.
//!
//! Every change new to the taker is attributed to the device whose
//! registered actor begins its actor (`Authors` says who that is, and
//! refuses actors nobody registered and revoked devices). A change by
//! another device than the sender is taken only with a signature that
//! reaches it — its author's, or the server's (`trust::Attestation`). What
//! a change does is read from automerge (`diff` between the heads before
//! and after) and held against the permission table of its author's role
//! (`permissions`): identity written once, forwarding and verdicts by the
//! back office only, comments, ratings and editor entries only added,
//! signatures in the author's own name. One refused path refuses the whole
//! document.

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, ChangeHash, ChangeMetadata, ObjId, Prop, ReadDoc, ScalarValue, Value};
use automerge::{Patch, PatchAction};

use crate::Role;
use crate::document::DocumentKind;
use crate::permissions::{
    Part, Segment, answer_part, case_part, catalog_part, feedback_part, office_hour_part,
    path_text, signed_by,
};
use crate::trust::{Attestation, DeviceCertificate, Signer, verify_attestation};
use crate::wire::{RefusalCode, heads_from_bytes};

/// Why a document is refused, with what to tell its sender.
pub type Refusal = (RefusalCode, String);

/// Hex digits of a registered actor: a device's 16 bytes.
pub const ACTOR_HEX: usize = 32;

/// The id under which the server's own changes (the mail status of a
/// forwarding, `mail`) are attributed: they may touch nothing else.
pub const SERVER_AUTHOR: &str = "server";

/// Attestations read from one upload or exchange at most (a document has a
/// handful of authors).
pub const MAX_ATTESTATIONS: usize = 64;

/// Who wrote changes, as far as the check needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// The device id; [`SERVER_AUTHOR`] for the server.
    pub id: String,
    /// The enrolled user: the only name the device may sign with.
    pub user: String,
    pub role: Role,
    /// What the device's case numbers begin with.
    pub prefix: String,
}

impl Author {
    /// The server as the author of its own changes: a role that may least,
    /// and no user, so that it signs nothing.
    pub fn server() -> Author {
        Author {
            id: SERVER_AUTHOR.into(),
            user: String::new(),
            role: Role::Caseworker,
            prefix: String::new(),
        }
    }

    /// The author a device certificate names, with the user a proof
    /// opened (empty if none did: then it signs nothing).
    pub fn certified(certificate: &DeviceCertificate, user: &str) -> Author {
        Author {
            id: certificate.device_id.clone(),
            user: user.to_string(),
            role: certificate.role,
            prefix: certificate.prefix.clone(),
        }
    }
}

/// Who registered an actor.
pub trait Authors {
    type Error;
    /// The author of changes by the registered actor `registered` (its
    /// first [`ACTOR_HEX`] digits), or why they are refused (nobody
    /// registered it; the device was revoked).
    fn author(&mut self, registered: &str) -> Result<Result<Author, Refusal>, Self::Error>;
}

/// A verified `trust::Attestation`: who signed, and the heads signed.
#[derive(Debug, Clone)]
pub struct Attested {
    /// The device id; `None` for the server.
    pub by: Option<String>,
    pub heads: Vec<ChangeHash>,
}

/// The attestations of `doc_id` whose signatures hold under `server_key`
/// (at most [`MAX_ATTESTATIONS`]), each with what signed it.
pub fn verified_attestations<'a>(
    server_key: &[u8],
    doc_id: &str,
    attestations: &'a [Attestation],
) -> Vec<(Attested, Signer, &'a Attestation)> {
    attestations
        .iter()
        .take(MAX_ATTESTATIONS)
        .filter_map(|attestation| {
            let heads = heads_from_bytes(&attestation.heads)?;
            let signer = verify_attestation(server_key, doc_id, attestation).ok()?;
            let by = match &signer {
                Signer::Server => None,
                Signer::Device(certificate) => Some(certificate.device_id.clone()),
            };
            Some((Attested { by, heads }, signer, attestation))
        })
        .collect()
}

/// The changes to check: those of `doc` its taker lacked (`before`, its
/// heads before taking them; empty for a document it did not hold).
pub struct NewChanges<'a> {
    pub doc: &'a Automerge,
    pub before: &'a [ChangeHash],
    pub kind: DocumentKind,
    pub new_document: bool,
    /// A corrected case's new document (the server's correction order):
    /// it keeps its predecessor's number and recorder.
    pub successor_of: Option<&'a Predecessor<'a>>,
}

/// What a corrected case's successor keeps.
#[derive(Debug, Clone, Copy)]
pub struct Predecessor<'a> {
    pub number: &'a str,
    pub created_by: &'a str,
}

/// Who sent the changes, and the signatures that came with them.
pub struct Provenance<'a> {
    /// The device the connection authenticated: its own changes need no
    /// signature.
    pub sender: &'a str,
    pub attested: &'a [Attested],
    /// Whether changes a server's attestation reaches are taken as they
    /// are: a laptop does (the server checked them when they came); the
    /// server checks every change new to it.
    pub trust_server: bool,
    /// Most changes checked one by one (each costs a diff of the
    /// document): a laptop refuses a document that brings more from
    /// another laptop (it arrives with a server sync instead); the server
    /// takes any number.
    pub max_checked: Option<usize>,
}

/// The new changes `heads` reach (through their dependencies, among the
/// new changes only: older ones were checked when they came).
fn reached(
    changes: &HashMap<ChangeHash, &ChangeMetadata<'_>>,
    heads: &[ChangeHash],
) -> HashSet<ChangeHash> {
    let mut seen = HashSet::new();
    let mut queue: Vec<ChangeHash> = heads.to_vec();
    while let Some(hash) = queue.pop() {
        let Some(change) = changes.get(&hash) else {
            continue;
        };
        if seen.insert(hash) {
            queue.extend(change.deps.iter().copied());
        }
    }
    seen
}

/// Checks the new changes of a document: who wrote them, and whether their
/// authors may make them. `Ok(Err(_))`: refused, with why.
pub fn check_changes<A: Authors + ?Sized>(
    new: &NewChanges<'_>,
    provenance: &Provenance<'_>,
    authors: &mut A,
) -> Result<Result<(), Refusal>, A::Error> {
    let doc = new.doc;
    // Their metadata only: rebuilding whole changes from a document's
    // columns took a fifth of the server's time when laptops upload new
    // cases.
    let changes = doc.get_changes_meta(new.before);
    let by_hash: HashMap<ChangeHash, &ChangeMetadata<'_>> =
        changes.iter().map(|change| (change.hash, change)).collect();
    let covered_by = |signer: Option<&str>| {
        let mut covered = HashSet::new();
        for attested in provenance.attested {
            if attested.by.as_deref() == signer {
                covered.extend(reached(&by_hash, &attested.heads));
            }
        }
        covered
    };
    let vouched = if provenance.trust_server {
        covered_by(None)
    } else {
        HashSet::new()
    };
    // A document begins once: a second change without dependencies would
    // be checked as creating it, against nothing (the catalogue, one
    // document by a fixed id, may be begun on two devices before they
    // meet).
    let beginnings = changes.iter().filter(|c| c.deps.is_empty()).count();
    let allowed = usize::from(new.new_document);
    if new.kind != DocumentKind::Catalog && beginnings > allowed {
        return Ok(Err((
            RefusalCode::ForbiddenChange,
            "a change without dependencies in a document that has begun already".into(),
        )));
    }
    // Changes by author device, in the order automerge gives them.
    let mut known: HashMap<String, Author> = HashMap::new();
    let mut by_author: Vec<(String, Vec<&ChangeMetadata<'_>>)> = Vec::new();
    for change in changes.iter().filter(|c| !vouched.contains(&c.hash)) {
        let actor = change.actor.to_hex_string();
        let Some(registered) = actor.get(..ACTOR_HEX) else {
            return Ok(Err(unknown_author(&actor)));
        };
        if !known.contains_key(registered) {
            match authors.author(registered)? {
                Ok(author) => known.insert(registered.to_string(), author),
                Err(refusal) => return Ok(Err(refusal)),
            };
        }
        match by_author.iter_mut().find(|(a, _)| a == registered) {
            Some((_, list)) => list.push(change),
            None => by_author.push((registered.to_string(), vec![change])),
        }
    }
    // Another device's changes, relayed by the sender (exchanged in the
    // hall): its actor alone does not prove who wrote them.
    let server_covered = if provenance.trust_server {
        vouched.clone()
    } else {
        covered_by(None)
    };
    for (registered, list) in &by_author {
        let id = known[registered].id.as_str();
        if id == provenance.sender || id == SERVER_AUTHOR {
            continue;
        }
        let covered = covered_by(Some(id));
        if let Some(change) = list
            .iter()
            .find(|c| !covered.contains(&c.hash) && !server_covered.contains(&c.hash))
        {
            return Ok(Err((
                RefusalCode::ForbiddenChange,
                format!(
                    "change {} by device {id}, sent by {}, without its author's signature",
                    change.hash, provenance.sender
                ),
            )));
        }
    }
    let check = Check {
        doc,
        before: new.before,
        deps: &[],
        kind: new.kind,
        new_document: new.new_document,
        successor_of: new.successor_of,
    };
    if let [(author, list)] = by_author.as_slice()
        && vouched.is_empty()
    {
        // One author (nearly always): what all the changes do together.
        let after: Vec<ChangeHash> = doc.get_heads();
        let patches = doc.diff(new.before, &after);
        return Ok(check.patches(&known[author], author, list, &patches));
    }
    // Several authors (a device passing on another's changes), or some the
    // server vouched for: each change on its own, against what it depended
    // on. What existed is asked both of what the taker held and of the
    // change's dependencies (a change that depends on little sees little);
    // only the change without dependencies creates the document.
    let checked: usize = by_author.iter().map(|(_, list)| list.len()).sum();
    if provenance.max_checked.is_some_and(|max| checked > max) {
        return Ok(Err((
            RefusalCode::InvalidDocument,
            format!("{checked} changes by several authors: too many to check at once"),
        )));
    }
    for (author, list) in &by_author {
        for change in list {
            let check = Check {
                deps: &change.deps,
                new_document: new.new_document && change.deps.is_empty(),
                ..check
            };
            let patches = doc.diff(&change.deps, &[change.hash]);
            if let Err(refusal) = check.patches(&known[author], author, &[*change], &patches) {
                return Ok(Err(refusal));
            }
        }
    }
    Ok(Ok(()))
}

fn unknown_author(actor: &str) -> Refusal {
    (
        RefusalCode::UnknownAuthor,
        format!("changes by actor {actor}, which no enrolled device registered"),
    )
}

#[derive(Clone, Copy)]
struct Check<'a> {
    doc: &'a Automerge,
    /// The taker's heads before the changes.
    before: &'a [ChangeHash],
    /// Checking one change: its dependencies (else empty).
    deps: &'a [ChangeHash],
    kind: DocumentKind,
    new_document: bool,
    /// A corrected case's new document: it keeps its predecessor's number,
    /// recorder and signatures.
    successor_of: Option<&'a Predecessor<'a>>,
}

impl Check<'_> {
    fn patches(
        &self,
        author: &Author,
        registered: &str,
        changes: &[&ChangeMetadata<'_>],
        patches: &[Patch],
    ) -> Result<(), Refusal> {
        let created_here = |obj: &ObjId| match obj {
            ObjId::Root => self.new_document,
            ObjId::Id(counter, actor, _) => changes.iter().any(|change| {
                change.actor.as_ref() == actor
                    && (change.start_op..=change.max_op).contains(counter)
            }),
        };
        for patch in patches {
            let mut path: Vec<Segment> = patch.path.iter().map(|(_, prop)| segment(prop)).collect();
            let (prop, value) = match &patch.action {
                PatchAction::PutMap { key, value, .. } => {
                    (Some(Prop::Map(key.clone())), Some(&value.0))
                }
                PatchAction::PutSeq { index, value, .. } => {
                    (Some(Prop::Seq(*index)), Some(&value.0))
                }
                PatchAction::DeleteMap { key } => (Some(Prop::Map(key.clone())), None),
                PatchAction::Insert { .. }
                | PatchAction::SpliceText { .. }
                | PatchAction::DeleteSeq { .. }
                | PatchAction::Increment { .. }
                | PatchAction::Conflict { .. }
                | PatchAction::Mark { .. } => (None, None),
            };
            if let Some(prop) = &prop {
                path.push(segment(prop));
            }
            // A number written again as a signed integer (documents of
            // earlier releases hold unsigned ones): no change of content.
            if let (PatchAction::PutMap { key, .. }, Some(value)) = (&patch.action, value)
                && self.retyped_number(&patch.obj, key, value)
            {
                continue;
            }
            let planning = self.kind == DocumentKind::OfficeHour
                && path == [Segment::Key("status".into())]
                && value.and_then(text) == Some("planned");
            let part = if planning {
                Part::Plan
            } else {
                self.part(&path)
            };
            let forbidden = |why: &str| {
                Err((
                    RefusalCode::ForbiddenChange,
                    format!(
                        "{}: {why} ({} device {}, {})",
                        display(&path),
                        author.role,
                        author.id,
                        part.name()
                    ),
                ))
            };
            // Writing "nothing" where there was nothing (an empty review or
            // forwarding of a new case or request, an empty answer of a new
            // complaint) changes no part.
            let writes_nothing = value
                .is_some_and(|v| is_null(v) || (self.new_document && text(v) == Some("")))
                && match &prop {
                    Some(Prop::Map(key)) => !self.had_value(&patch.obj, key),
                    _ => false,
                };
            // A new document is written whole by its creator: what
            // identifies it, its department (checked against the device's
            // elsewhere), an office hour's place and day, and an answer as
            // proposed (a caseworker may propose; accepting is the back
            // office's).
            let proposal = self.kind == DocumentKind::Answer
                && part == Part::AnswerReview
                && path == [Segment::Key("status".into())]
                && value.and_then(text) == Some("proposed");
            let creation = self.new_document
                && !planning
                && (proposal
                    || matches!(
                        part,
                        Part::Identity | Part::Department | Part::Plan | Part::Answer
                    ));
            if author.id == SERVER_AUTHOR {
                // The server writes the mail status of forwardings, nothing
                // else; a device cannot pass anything off as the server's.
                if part != Part::Mail {
                    return forbidden("the server's changes touch only the mail status");
                }
                continue;
            }
            if !creation && !writes_nothing && !author.role.may_change(part) {
                return forbidden("not for this role");
            }
            if creation && matches!(self.kind, DocumentKind::Case | DocumentKind::Feedback) {
                self.identity(author, &path, value)?;
            }
            let removes = matches!(
                patch.action,
                PatchAction::DeleteMap { .. } | PatchAction::DeleteSeq { .. }
            );
            if part == Part::Editors && removes {
                return forbidden("editor entries are never removed");
            }
            if part.append_only() {
                let changes_existing = match (&patch.action, path.len()) {
                    (PatchAction::DeleteMap { .. } | PatchAction::DeleteSeq { .. }, _) => true,
                    (PatchAction::PutSeq { .. }, _) => true,
                    // The list or map itself, or one of its entries.
                    (PatchAction::PutMap { key, .. }, 1 | 2) => self.existed(&patch.obj, key),
                    // Inside an entry: only while it is being added.
                    (_, length) => length > 2 && !created_here(&patch.obj),
                };
                if changes_existing {
                    return forbidden("only new entries may be added");
                }
            }
            if let Some(why) = self.signature(author, registered, &path, value) {
                return forbidden(&why);
            }
        }
        Ok(())
    }

    fn part(&self, path: &[Segment]) -> Part {
        match self.kind {
            DocumentKind::Case => case_part(path),
            DocumentKind::OfficeHour => office_hour_part(path),
            DocumentKind::Catalog => catalog_part(path),
            DocumentKind::Answer => answer_part(path),
            DocumentKind::Feedback => feedback_part(path),
        }
    }

    /// What `key` of `obj` held before: at the taker's heads, else at the
    /// checked change's dependencies.
    fn value_before(&self, obj: &ObjId, key: &str) -> Option<Value<'_>> {
        [self.before, self.deps]
            .into_iter()
            .filter(|heads| !heads.is_empty())
            .find_map(|heads| match self.doc.get_at(obj, key, heads) {
                Ok(Some((value, _))) => Some(value),
                _ => None,
            })
    }

    /// Whether `key` of `obj` existed before.
    fn existed(&self, obj: &ObjId, key: &str) -> bool {
        self.value_before(obj, key).is_some()
    }

    /// Whether `value` is the number `key` of `obj` held before, only
    /// stored as the other integer type (`Int` for `Uint` or back).
    fn retyped_number(&self, obj: &ObjId, key: &str, value: &Value<'_>) -> bool {
        let number = |value: &Value<'_>| match value {
            Value::Scalar(scalar) => match scalar.as_ref() {
                ScalarValue::Int(i) => Some((i128::from(*i), true)),
                ScalarValue::Uint(u) => Some((i128::from(*u), false)),
                _ => None,
            },
            Value::Object(_) => None,
        };
        let Some(old) = self.value_before(obj, key) else {
            return false;
        };
        match (number(&old), number(value)) {
            (Some((old, old_signed)), Some((new, new_signed))) => {
                old == new && old_signed != new_signed
            }
            _ => false,
        }
    }

    /// Whether `key` of `obj` held something other than null before (at
    /// the taker's heads or the change's dependencies).
    fn had_value(&self, obj: &ObjId, key: &str) -> bool {
        [self.before, self.deps]
            .into_iter()
            .filter(|heads| !heads.is_empty())
            .any(|heads| {
                matches!(
                    self.doc.get_at(obj, key, heads),
                    Ok(Some((value, _))) if !is_null(&value)
                )
            })
    }

    /// A new case is numbered with its author's prefix and recorded in its
    /// author's name (or in none), exactly as enrolled.
    fn identity(
        &self,
        author: &Author,
        path: &[Segment],
        value: Option<&Value<'_>>,
    ) -> Result<(), Refusal> {
        let [Segment::Key(key)] = path else {
            return Ok(());
        };
        let written = value.and_then(text);
        if let Some(predecessor) = self.successor_of {
            let kept = match key.as_str() {
                "number" => written == Some(predecessor.number),
                "created_by" => written == Some(predecessor.created_by),
                _ => true,
            };
            return if kept {
                Ok(())
            } else {
                Err((
                    RefusalCode::ForbiddenChange,
                    format!(
                        "{key}: a corrected case keeps its predecessor's {key} ({:?}, not {:?})",
                        if key == "number" {
                            predecessor.number
                        } else {
                            predecessor.created_by
                        },
                        written.unwrap_or_default()
                    ),
                ))
            };
        }
        match key.as_str() {
            "number" => {
                let own = written
                    .and_then(|number| number.strip_prefix(author.prefix.as_str()))
                    .is_some_and(|rest| rest.starts_with('-'));
                if own {
                    Ok(())
                } else {
                    Err((
                        RefusalCode::ForeignNumber,
                        format!(
                            "number {:?}: new cases of device {} are numbered {}-…",
                            written.unwrap_or_default(),
                            author.id,
                            author.prefix
                        ),
                    ))
                }
            }
            "created_by" => match written {
                Some(name) if name.is_empty() || name == author.user => Ok(()),
                _ => Err((
                    RefusalCode::ForbiddenChange,
                    format!(
                        "created_by: recorded by {:?}, not by {} (device {})",
                        written.unwrap_or_default(),
                        author.user,
                        author.id
                    ),
                )),
            },
            _ => Ok(()),
        }
    }

    /// What is wrong with a name the author writes into a signature field.
    fn signature(
        &self,
        author: &Author,
        registered: &str,
        path: &[Segment],
        value: Option<&Value<'_>>,
    ) -> Option<String> {
        let key = |i: usize| match path.get(i) {
            Some(Segment::Key(key)) => Some(key.as_str()),
            _ => None,
        };
        let signed = match (self.kind, key(0), path.len()) {
            (DocumentKind::Case, Some("review"), 2) if key(1) == Some("by") => true,
            (DocumentKind::Case, Some("comments"), 3) if key(2) == Some("author") => true,
            (DocumentKind::Answer, Some("written_by" | "checked_by"), 1) => true,
            (DocumentKind::Feedback, Some("closed_by"), 1) => true,
            (DocumentKind::Case, Some("editors"), 2) => {
                let entry = key(1).unwrap_or_default();
                if !entry.starts_with(registered) {
                    return Some(format!("an editor entry for actor {entry}"));
                }
                true
            }
            _ => false,
        };
        if !signed {
            return None;
        }
        // A corrected case carries its predecessor's comments and verdict
        // over: `Correction::check_successor` holds them against those.
        let carried_over =
            self.successor_of.is_some() && path.first() != Some(&Segment::Key("editors".into()));
        match value.and_then(text) {
            Some(_) if carried_over => None,
            Some(name) if signed_by(name, &author.user) => None,
            Some(name) => Some(format!("signed {name:?}, not by {}", author.user)),
            // Cleared (an answer nobody checked yet).
            None if value.is_none_or(is_null) => None,
            None => Some("a signature that is not a name".into()),
        }
    }
}

fn is_null(value: &Value<'_>) -> bool {
    matches!(value, Value::Scalar(scalar) if matches!(scalar.as_ref(), ScalarValue::Null))
}

fn text<'a>(value: &'a Value<'_>) -> Option<&'a str> {
    match value {
        Value::Scalar(scalar) => match scalar.as_ref() {
            ScalarValue::Str(text) => Some(text.as_str()),
            _ => None,
        },
        Value::Object(_) => None,
    }
}

fn segment(prop: &Prop) -> Segment {
    match prop {
        Prop::Map(key) => Segment::Key(key.clone()),
        Prop::Seq(index) => Segment::Index(*index),
    }
}

fn display(path: &[Segment]) -> String {
    if path.is_empty() {
        "(the document)".into()
    } else {
        path_text(path)
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, ROOT};

    use super::*;
    use crate::{Case, Citizen};

    /// Devices 1, 2, 3…: actor `[n; 16]`, prefix "P{n}", caseworkers.
    struct Devices;

    impl Authors for Devices {
        type Error = std::convert::Infallible;

        fn author(&mut self, registered: &str) -> Result<Result<Author, Refusal>, Self::Error> {
            let n = hex::decode(registered)
                .ok()
                .and_then(|b| b.first().copied());
            Ok(n.map(|n| Author {
                id: format!("device-{n}"),
                user: format!("user-{n}"),
                role: Role::Caseworker,
                prefix: format!("P{n}"),
            })
            .ok_or_else(|| unknown_author(registered)))
        }
    }

    fn actor(n: u8) -> ActorId {
        ActorId::from([n; 16].as_slice())
    }

    fn case_by(n: u8) -> AutoCommit {
        let mut case = Case::draft(Citizen {
            surname: "Anfang".into(),
            ..Citizen::default()
        });
        case.id = crate::new_id();
        case.number = format!("P{n}-0001");
        case.department = Some("buergerbuero".into());
        crate::document::create(actor(n), &case, "recorded").expect("document")
    }

    fn check(doc: &mut AutoCommit, before: &[ChangeHash], sender: u8) -> Result<(), Refusal> {
        let Ok(checked) = check_changes(
            &NewChanges {
                doc: doc.document(),
                before,
                kind: DocumentKind::Case,
                new_document: before.is_empty(),
                successor_of: None,
            },
            &Provenance {
                sender: &format!("device-{sender}"),
                attested: &[],
                trust_server: false,
                max_checked: None,
            },
            &mut Devices,
        );
        checked
    }

    /// A change that depends on nothing sees an empty document: it would
    /// pass every "did this exist?" — a fresh empty comment list, a verdict
    /// "cleared" — and win by its counter. A document begins once.
    #[test]
    fn a_second_beginning_of_a_document_is_refused() {
        let mut held = case_by(1);
        let before = held.get_heads();
        let mut forged = AutoCommit::new().with_actor(actor(4));
        forged
            .put_object(ROOT, "comments", automerge::ObjType::List)
            .expect("comments");
        forged.put(ROOT, "review", ()).expect("review");
        forged.commit();
        let mut taken = held.fork().with_actor(actor(9));
        taken.merge(&mut forged).expect("merge");
        let refusal = check(&mut taken, &before, 4).expect_err("refused");
        assert!(refusal.1.contains("without dependencies"), "{refusal:?}");

        // A new document: its creation, and nothing begun beside it.
        let mut created = case_by(3);
        assert_eq!(check(&mut created, &[], 3), Ok(()));
        created.merge(&mut forged).expect("merge");
        let refusal = check(&mut created, &[], 3).expect_err("refused");
        assert!(refusal.1.contains("without dependencies"), "{refusal:?}");
    }
}
