//! Sync with the server: enrol once, then exchange changes in rounds. Each
//! round is one request, committed locally on its own, so a dropped link
//! resumes where it stopped and a replayed round changes nothing.

pub mod core;
mod http;
pub mod worker;

use std::collections::HashSet;

use serde::Serialize;
use sprechtag_schemas::wire::{self, PROTOCOL_VERSION, RefusalCode, SyncRequest, SyncResponse};

use self::core::{Answer, Outcome, Round, Session, Transport, drive};
use http::normalize_server_url;
pub use http::{CA_CERT_ENV, CaCertError, HttpClient, HttpSettings, read_ca_cert, sends_in_clear};

use crate::store::{DocumentLabel, Enrolment, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the server cannot be reached: {0}")]
    Offline(String),
    #[error("the server reported a problem: {0}")]
    Server(String),
    #[error("the device token is not accepted; enrol the device again")]
    Unauthorized,
    #[error("this device has been revoked; ask an administrator")]
    Revoked,
    /// Revoked with the order to delete its data, which is done: the data
    /// dir holds nothing but a note that it was wiped.
    #[error("this device has been revoked and its data were erased")]
    Wiped,
    #[error("the enrolment code is unknown, used or expired")]
    BadCode,
    /// The device's role or department does not allow what it asked.
    #[error("the server refused: {0}")]
    Forbidden(String),
    #[error("too many failed attempts from this address; the server asks to wait {} seconds", .0.as_secs())]
    Throttled(std::time::Duration),
    #[error("the server's answer was not understood: {0}")]
    Protocol(String),
    #[error("this device is not enrolled with a sync server; run `sprechtag enrol`")]
    NotEnrolled,
    #[error(
        "{0} is plain http to another machine: tokens and case data would travel readable; \
         use https, or allow it for this server (`enrol --allow-insecure-http`)"
    )]
    Insecure(String),
    #[error(
        "the server's certificate is not trusted ({0}); check the address, and the CA \
         certificate given at enrolment"
    )]
    Untrusted(String),
    /// A laptop in the hall did not exchange (`by_peer`: the other one
    /// refused this one).
    #[error("{}: {detail}", if *.by_peer { "the other laptop refused" } else { "refused the other laptop" })]
    HallRefused {
        reason: crate::hall::Refusal,
        by_peer: bool,
        detail: String,
    },
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Retrying later cannot help: a person has to act.
    pub fn is_permanent(&self) -> bool {
        !matches!(
            self,
            SyncError::Offline(_) | SyncError::Server(_) | SyncError::Throttled(_)
        )
    }
}

/// What one `sync_now` did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SyncReport {
    pub uploaded: usize,
    pub downloaded: usize,
    pub rejected: Vec<RefusedDocument>,
    pub pending: usize,
    pub round_trips: usize,
    /// Dropped connections retried within this sync.
    pub retries: u32,
    pub bytes_up: usize,
    pub bytes_down: usize,
    /// Downloaded cases indexed from the server's summary, not loaded.
    pub from_summaries: usize,
    /// Downloads this device could not read: kept aside, the rest taken.
    pub set_aside: Vec<String>,
    /// Cases erased on the server whose copies this device deleted.
    pub erased: usize,
    /// Erasures ordered on this device that the server carried out.
    pub erasures_sent: usize,
    /// Corrected cases that took over edits made here to the cases they
    /// replaced, before the correction arrived.
    pub carried_over: usize,
    /// This run started over (the server or this store was restored from
    /// a backup): every document was offered to the server again.
    pub started_over: bool,
    /// How far this laptop's clock is behind the server's (milliseconds;
    /// negative: ahead), as measured in this run.
    pub clock_offset_ms: i64,
    /// This laptop holds a certificate of its key and the server's
    /// revocation list as of this run (for the hall).
    pub certified: bool,
}

impl SyncReport {
    /// Everything was exchanged: nothing refused, nothing left over.
    pub fn complete(&self) -> bool {
        self.rejected.is_empty() && self.pending == 0
    }
}

/// A document the server refused, with what the device knows of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusedDocument {
    pub doc_id: String,
    /// Case number and name, or the office hour; `None` if the device does
    /// not hold the document (it never uploads such).
    pub label: Option<DocumentLabel>,
    /// The server's [`RefusalCode`] as text (a newer server's may be unknown).
    pub code: String,
    /// The server's explanation, in English.
    pub message: String,
}

impl RefusedDocument {
    pub fn code(&self) -> Option<RefusalCode> {
        RefusalCode::parse(&self.code)
    }
}

/// Redeems a one-time code and records the enrolment in the store.
pub fn enrol(store: &mut Store, server_url: &str, code: &str) -> Result<Enrolment, SyncError> {
    enrol_with(store, server_url, code, &HttpSettings::default())
}

/// As [`enrol`], with how the server may be reached (plain http allowed,
/// the county's own CA); both are kept for every later sync.
pub fn enrol_with(
    store: &mut Store,
    server_url: &str,
    code: &str,
    settings: &HttpSettings,
) -> Result<Enrolment, SyncError> {
    let client = HttpClient::with_settings(server_url, settings)?;
    let response = client.enrol(code, &store.device().actor().to_hex_string())?;
    let enrolment = Enrolment {
        server_url: normalize_server_url(server_url).to_string(),
        token: response.token,
        device_id: response.device_id,
        user: response.user,
        role: response
            .role
            .parse()
            .map_err(|e: sprechtag_schemas::UnknownValue| SyncError::Protocol(e.to_string()))?,
        department: response.department,
        allow_insecure_http: settings.allow_insecure_http,
        ca_cert: settings.ca_cert.clone(),
    };
    store.enrol(&enrolment, &response.prefix)?;
    Ok(enrolment)
}

/// Who received, changed, opened and erased the case `doc_id`, as the
/// server's audit trail says (back-office and admin devices).
pub fn case_access(
    store: &Store,
    doc_id: &str,
) -> Result<Vec<sprechtag_schemas::wire::AccessEntry>, SyncError> {
    let enrolment = store.enrolment()?.ok_or(SyncError::NotEnrolled)?;
    let client = HttpClient::with_settings(&enrolment.server_url, &enrolment.http_settings())?;
    Ok(client.case_access(&enrolment.token, doc_id)?.entries)
}

/// Exchanges changes with the server until both sides have everything,
/// with a client made for this one sync (the CLI; the background worker
/// keeps a [`Connection`]).
pub fn sync_now(store: &mut Store) -> Result<SyncReport, SyncError> {
    Connection::default().sync(store)
}

/// The HTTP client of a device, kept from one sync to the next: its pool
/// holds the connection open, and making a client costs more than a small
/// sync. Made anew when the enrolment names another server.
#[derive(Debug, Default)]
pub struct Connection {
    client: Option<HttpClient>,
}

impl Connection {
    /// Exchanges changes with the server until both sides have everything.
    pub fn sync(&mut self, store: &mut Store) -> Result<SyncReport, SyncError> {
        let enrolment = store.enrolment()?.ok_or(SyncError::NotEnrolled)?;
        // Numbers what an enrolment cut short left with the old prefix.
        store.adopt_unsynced_cases()?;
        let client = self.client_for(&enrolment)?;
        let outcome = exchange(store, client, &enrolment.token);
        if let Err(SyncError::Wiped) = outcome {
            store.wipe()?;
            return Err(SyncError::Wiped);
        }
        let error = outcome.as_ref().err().map(ToString::to_string);
        store.record_sync_outcome(error.as_deref())?;
        outcome
    }

    /// A client for the enrolment's server, made only when there is none
    /// for it yet.
    pub fn client_for(&mut self, enrolment: &Enrolment) -> Result<&HttpClient, SyncError> {
        let client = match self.client.take() {
            Some(client) if client.base_url() == normalize_server_url(&enrolment.server_url) => {
                client
            }
            _ => HttpClient::with_settings(&enrolment.server_url, &enrolment.http_settings())?,
        };
        Ok(self.client.insert(client))
    }
}

/// The server's side of a round trip: the device's token on every request.
struct ServerLink<'a> {
    client: &'a HttpClient,
    token: &'a str,
}

impl Transport for ServerLink<'_> {
    fn round_trip(&mut self, body: Vec<u8>) -> Result<Answer, SyncError> {
        self.client.sync(self.token, body)
    }
}

fn exchange(store: &mut Store, client: &HttpClient, token: &str) -> Result<SyncReport, SyncError> {
    let mut session = ServerSession {
        store,
        report: SyncReport::default(),
        refused: HashSet::new(),
        batch: None,
        cursor: 0,
        resync: false,
        trust_asked: false,
        sent_at: chrono::Utc::now(),
        measured_offset: None,
    };
    let mut link = ServerLink { client, token };
    let core = drive(&mut session, &mut link, &mut std::thread::sleep)?;
    let ServerSession {
        store,
        mut report,
        measured_offset,
        ..
    } = session;
    if let Some(offset) = measured_offset {
        store.record_clock_offset(offset)?;
    }
    report.pending = store.pending_count()?;
    report.retries = core.retries();
    Ok(report)
}

/// An exchange with the sync server: uploads what the server lacks,
/// commits what it sends, follows its cursor and epoch.
struct ServerSession<'a> {
    store: &'a mut Store,
    report: SyncReport,
    /// Documents the server refused in this run: not offered again.
    refused: HashSet<String>,
    /// What the request in flight carried.
    batch: Option<crate::store::UploadBatch>,
    cursor: u64,
    resync: bool,
    /// The request in flight asked about the hall's certificate.
    trust_asked: bool,
    sent_at: chrono::DateTime<chrono::Utc>,
    measured_offset: Option<i64>,
}

impl Session for ServerSession<'_> {
    fn request(&mut self, round: Round) -> Result<Vec<u8>, SyncError> {
        let batch = self.store.pending_uploads(round.budget, &self.refused)?;
        self.cursor = self.store.sync_cursor()?;
        self.resync = self.store.resync_requested()?;
        // Until an answer of this run settled it: the hall refuses what the
        // server revoked as of the laptop's last sync. What the laptop
        // holds already is not sent again (an idle sync: ~100 bytes more).
        let trust = if self.report.certified {
            None
        } else {
            Some(self.store.trust_request()?)
        };
        self.trust_asked = trust.is_some();
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: self.cursor,
            uploads: batch.uploads.clone(),
            max_response_bytes: u32::try_from(round.budget).unwrap_or(u32::MAX),
            summaries: round.summaries,
            opened: batch.opened.clone(),
            erase: batch.erase.clone(),
            resync: self.resync,
            trust,
        };
        self.batch = Some(batch);
        let body = wire::encode(&request);
        self.report.bytes_up += body.len();
        self.sent_at = chrono::Utc::now();
        Ok(body)
    }

    fn apply(&mut self, answer: Answer) -> Result<Outcome, SyncError> {
        let report = &mut self.report;
        report.bytes_down += answer.body.len();
        report.round_trips += 1;
        let mut outcome = Outcome {
            body_bytes: answer.body.len(),
            transfer: answer.transfer,
            ..Outcome::default()
        };
        let response: SyncResponse =
            wire::decode(&answer.body).map_err(|e| SyncError::Protocol(e.to_string()))?;
        // Only the hall needs it: a certificate this laptop cannot take
        // must not stop the sync of cases (`certified` stays false).
        // Without an answer the server had nothing new.
        if std::mem::take(&mut self.trust_asked) {
            report.certified = match &response.trust {
                Some(trust) => self.store.record_trust(trust).unwrap_or(false),
                None => matches!(self.store.hall_identity(), Ok(Some(_))),
            };
        }
        if let Ok(server_time) = chrono::DateTime::parse_from_rfc3339(&response.server_time) {
            // Against the middle of the round trip.
            let received_at = chrono::Utc::now();
            let middle = self.sent_at + (received_at - self.sent_at) / 2;
            let offset = (server_time.with_timezone(&chrono::Utc) - middle).num_milliseconds();
            report.clock_offset_ms = offset;
            // At once in memory; on disk once, when the run ends.
            sprechtag_schemas::clock::set_offset_ms(offset);
            self.measured_offset = Some(offset);
        }
        // The server lost changes (restored from a backup): it has another
        // epoch, or this device's cursor lies beyond its newest change.
        // Everything is sent again; the server takes what it lacks.
        let known_epoch = self.store.server_epoch()?;
        let new_epoch =
            !response.epoch.is_empty() && known_epoch.is_some_and(|known| known != response.epoch);
        if (response.resync || new_epoch) && !self.resync {
            outcome.start_over = true;
            return Ok(outcome);
        }
        let batch = self
            .batch
            .take()
            .ok_or_else(|| SyncError::Protocol("an answer to no request".into()))?;
        let applied = self.store.apply_sync_response(&batch, &response)?;
        report.uploaded += applied.accepted;
        report.downloaded += applied.downloaded;
        report.from_summaries += applied.from_summaries;
        report.set_aside.extend(applied.set_aside);
        report.erased += applied.erased.len();
        report.erasures_sent += applied.erasures_confirmed.len();
        report.carried_over += applied.carried_over.len();
        for rejection in &response.rejected {
            self.refused.insert(rejection.doc_id.clone());
            // Erased on the server: the copy here is gone too (`erased`).
            if RefusalCode::parse(&rejection.code) == Some(RefusalCode::Erased) {
                continue;
            }
            report.rejected.push(RefusedDocument {
                doc_id: rejection.doc_id.clone(),
                // Only for the message: a failed lookup must not stop the sync.
                label: self.store.document_label(&rejection.doc_id).ok().flatten(),
                code: rejection.code.clone(),
                message: rejection.message.clone(),
            });
        }
        outcome.progressed = applied.accepted > 0
            || applied.downloaded > 0
            || !applied.erasures_confirmed.is_empty()
            || response.cursor != self.cursor;
        outcome.more = response.more;
        outcome.uploads_left = self.store.has_pending_uploads(&self.refused)?;
        Ok(outcome)
    }

    fn start_over(&mut self) -> Result<(), SyncError> {
        self.report.started_over = true;
        self.store.resync()?;
        Ok(())
    }
}
