//! What an upload may change, decided by the server — never by the device.
//!
//! The check itself (`schemas::integrity`) is shared with the laptops,
//! which hold what another laptop brings in the hall to the same rules;
//! here the authors are the devices the server registered.

use sprechtag_schemas::integrity::{self, Author, Authors, NewChanges, Predecessor, Provenance};
pub use sprechtag_schemas::integrity::{Attested, Refusal, SERVER_AUTHOR};
use sprechtag_schemas::wire::RefusalCode;

use automerge::{Automerge, ChangeHash};
use sprechtag_schemas::document::DocumentKind;

use crate::erase::Correction;
use crate::storage::{Device, StorageError, SyncTransaction};

/// Authors known without asking the storage.
pub struct KnownAuthors<'a> {
    /// The registered part of the server's own actors
    /// (`mail::server_actor`).
    pub server_actor: &'a str,
    /// The device that uploads: authenticated by this request, so enrolled
    /// and not revoked. Nearly every change is its own.
    pub uploader: &'a Device,
    /// Signatures the upload brought (already verified): a change by
    /// another device than the uploader is taken only if its author's, or
    /// the server's own, reaches it.
    pub attested: &'a [Attested],
}

impl From<&Device> for Author {
    fn from(device: &Device) -> Author {
        Author {
            id: device.id.clone(),
            user: device.user.clone(),
            role: device.role,
            prefix: device.prefix.clone(),
        }
    }
}

/// The devices the server registered, looked up by actor.
struct Registered<'a> {
    tx: &'a mut dyn SyncTransaction,
    known: &'a KnownAuthors<'a>,
}

impl Authors for Registered<'_> {
    type Error = StorageError;

    fn author(&mut self, registered: &str) -> Result<Result<Author, Refusal>, StorageError> {
        if registered == self.known.server_actor {
            return Ok(Ok(Author::server()));
        }
        if self.known.uploader.actor.as_deref() == Some(registered) {
            return Ok(Ok(Author::from(self.known.uploader)));
        }
        let Some(device) = self.tx.device_by_actor(registered)? else {
            return Ok(Err((
                RefusalCode::UnknownAuthor,
                format!("changes by actor {registered}…, which no enrolled device registered"),
            )));
        };
        if device.revoked_at.is_some() {
            return Ok(Err((
                RefusalCode::ForbiddenChange,
                format!("changes by revoked device {}", device.id),
            )));
        }
        Ok(Ok(Author::from(&device)))
    }
}

/// Checks the changes of `doc` since `before` (all of them for a document
/// the server does not have yet: `new_document`).
pub fn check_changes(
    tx: &mut dyn SyncTransaction,
    doc: &Automerge,
    before: &[ChangeHash],
    kind: DocumentKind,
    new_document: bool,
    successor_of: Option<&Correction>,
    known: &KnownAuthors<'_>,
) -> Result<Result<(), Refusal>, StorageError> {
    let predecessor = successor_of.map(|correction| Predecessor {
        number: &correction.number,
        created_by: &correction.created_by,
    });
    integrity::check_changes(
        &NewChanges {
            doc,
            before,
            kind,
            new_document,
            successor_of: predecessor.as_ref(),
        },
        &Provenance {
            sender: &known.uploader.id,
            attested: known.attested,
            trust_server: false,
            max_checked: None,
        },
        &mut Registered { tx, known },
    )
}
