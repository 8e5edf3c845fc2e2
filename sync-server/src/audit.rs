//! The audit trail: who enrolled, synced, opened and changed which case,
//! failed enrolments, revocations, administrators' commands.
//!
//! Append-only and tamper-evident: every entry carries the SHA-256 of its
//! own content and of the entry before it, so changing or removing an entry
//! in the middle breaks the chain at that entry (`verify`). (Removing the
//! newest entries is not visible from the chain alone: `verify` prints the
//! last entry's hash, to be written down elsewhere.) It names devices,
//! users and case ids — never what a case holds.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// An administrator registered a device and issued its code.
    CodeIssued,
    /// A device redeemed its code.
    Enrolled,
    /// An enrolment code was wrong, used or expired.
    EnrolmentFailed,
    /// A token was unknown.
    TokenRefused,
    /// An administrator revoked a device.
    Revoked,
    /// A revoked device tried to sync.
    RevokedDeviceRefused,
    /// One sync round: what was taken, refused and sent.
    Sync,
    /// A case was opened on a laptop (recorded there, uploaded with a sync).
    CaseOpened,
    /// An administrator listed devices or read the audit.
    AdminCommand,
    /// A case was erased (by a device, an administrator or retention).
    CaseErased,
    /// A revoked device was told to delete its data.
    WipeDelivered,
    /// The database was restored from a backup (a new epoch).
    Restored,
    /// The mail relay accepted an e-mail to an office or a back office.
    MailSent,
    /// The relay refused an e-mail for good; it is not tried again.
    MailRefused,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::CodeIssued => "code_issued",
            Event::Enrolled => "enrolled",
            Event::EnrolmentFailed => "enrolment_failed",
            Event::TokenRefused => "token_refused",
            Event::Revoked => "revoked",
            Event::RevokedDeviceRefused => "revoked_device_refused",
            Event::Sync => "sync",
            Event::CaseOpened => "case_opened",
            Event::AdminCommand => "admin_command",
            Event::CaseErased => "case_erased",
            Event::WipeDelivered => "wipe_delivered",
            Event::Restored => "restored",
            Event::MailSent => "mail_sent",
            Event::MailRefused => "mail_refused",
        }
    }
}

/// An entry as it is written (the store adds sequence, time and hashes).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub event: Event,
    pub device_id: Option<String>,
    pub user: Option<String>,
    pub case_ids: Vec<String>,
    /// Codes, counts, an address — no personal data of citizens.
    pub detail: serde_json::Value,
}

impl NewEntry {
    pub fn new(event: Event) -> NewEntry {
        NewEntry {
            event,
            device_id: None,
            user: None,
            case_ids: Vec::new(),
            detail: serde_json::Value::Null,
        }
    }

    pub fn device(mut self, device: &crate::storage::Device) -> NewEntry {
        self.device_id = Some(device.id.clone());
        self.user = Some(device.user.clone());
        self
    }

    pub fn cases(mut self, case_ids: Vec<String>) -> NewEntry {
        self.case_ids = case_ids;
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> NewEntry {
        self.detail = detail;
        self
    }
}

/// An entry as it is stored and printed (`sprechtag-server audit`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub seq: u64,
    pub time: String,
    pub event: String,
    pub device_id: Option<String>,
    pub user: Option<String>,
    pub case_ids: Vec<String>,
    pub detail: serde_json::Value,
    /// SHA-256 of the entry before (hex; zeros for the first).
    pub previous: String,
    /// SHA-256 of `previous` and this entry's content (hex).
    pub hash: String,
}

/// What `audit` prints: all, or narrowed.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// RFC 3339 or a day (YYYY-MM-DD): entries at or after it.
    pub since: Option<String>,
    pub device_id: Option<String>,
    pub case_id: Option<String>,
}

/// The hash of the first entry's predecessor.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Entry {
    /// The hash this entry must have, from its content and `previous`.
    pub fn expected_hash(&self) -> String {
        // A JSON array of the fields in a fixed order: unambiguous, and what
        // anyone can recompute from `audit`'s output.
        let content = serde_json::json!([
            self.previous,
            self.seq,
            self.time,
            self.event,
            self.device_id,
            self.user,
            self.case_ids,
            self.detail
        ]);
        hex::encode(Sha256::digest(content.to_string().as_bytes()))
    }

    /// The entry that follows `previous` (hash, sequence number) with this
    /// content, written at `time`.
    pub fn following(previous: Option<(&str, u64)>, time: String, new: NewEntry) -> Entry {
        let (previous, seq) = previous.map_or((GENESIS.to_string(), 1), |(hash, seq)| {
            (hash.to_string(), seq + 1)
        });
        let mut entry = Entry {
            seq,
            time,
            event: new.event.as_str().to_string(),
            device_id: new.device_id,
            user: new.user,
            case_ids: new.case_ids,
            detail: new.detail,
            previous,
            hash: String::new(),
        };
        entry.hash = entry.expected_hash();
        entry
    }
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("entry {0} was changed: its hash does not match its content")]
    Changed(u64),
    #[error("entry {0} does not follow the one before: an entry was removed or inserted")]
    Unlinked(u64),
    #[error("entry {found} follows entry {before}: entries between them were removed")]
    Gap { before: u64, found: u64 },
}

/// Checks a chain given oldest first; the last entry on success.
pub fn verify<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
) -> Result<Option<&'a Entry>, Break> {
    let mut last: Option<&Entry> = None;
    for entry in entries {
        if entry.expected_hash() != entry.hash {
            return Err(Break::Changed(entry.seq));
        }
        match last {
            None if entry.previous != GENESIS && entry.seq == 1 => {
                return Err(Break::Unlinked(entry.seq));
            }
            None if entry.seq != 1 => {
                return Err(Break::Gap {
                    before: 0,
                    found: entry.seq,
                });
            }
            Some(before) if entry.seq != before.seq + 1 => {
                return Err(Break::Gap {
                    before: before.seq,
                    found: entry.seq,
                });
            }
            Some(before) if entry.previous != before.hash => {
                return Err(Break::Unlinked(entry.seq));
            }
            _ => {}
        }
        last = Some(entry);
    }
    Ok(last)
}
